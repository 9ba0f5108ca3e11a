/* tests/unit/search/vector_mem_test.c: maintenance memory for a tenant's graph build (no I/O). */
#include "runner.h"
#include "search/vector.h"

TEST(test_search_vector__build_mem_fits_the_graph)
{
    /* Small tenants: the floor. */
    ASSERT_EQ_INT(lm__vector_build_mem_kb(0, 384, 1, 16), LM__VINDEX_BUILD_MEM_MIN_KB);
    ASSERT_EQ_INT(lm__vector_build_mem_kb(-5, 384, 1, 16), LM__VINDEX_BUILD_MEM_MIN_KB);
    ASSERT_EQ_INT(lm__vector_build_mem_kb(501, 384, 1, 16), LM__VINDEX_BUILD_MEM_MIN_KB);
    /* A 100,000-vector tenant at 384-d in half precision needs more than the old fixed 64 MB:
       at least its values and lowest-layer neighbour lists (768 + 512 bytes a node). */
    long kb = lm__vector_build_mem_kb(100000, 384, 1, 16);
    ASSERT(kb > LM__VINDEX_BUILD_MEM_MIN_KB);
    ASSERT(kb * 1024L >= 100000L * (768 + 512));
    ASSERT(kb <= 256L * 1024);
    /* Full precision and a larger m need more; more rows need more. */
    ASSERT(lm__vector_build_mem_kb(100000, 384, 0, 16) > kb);
    ASSERT(lm__vector_build_mem_kb(100000, 384, 1, 32) > kb);
    ASSERT(lm__vector_build_mem_kb(200000, 384, 1, 16) > kb);
    /* 1,536-d in half precision: 3 kB a value. */
    ASSERT(lm__vector_build_mem_kb(50000, 1536, 1, 16) * 1024L >= 50000L * (3072 + 512));
    /* The ceiling, however large the tenant. */
    ASSERT_EQ_INT(lm__vector_build_mem_kb(100000000L, 1536, 0, 48), LM__VINDEX_BUILD_MEM_MAX_KB);
}
