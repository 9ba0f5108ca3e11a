/* tests/unit/search/fuse_test.c: fusion, query expansion and the lexical reranker (no I/O). */
#include <math.h>
#include <string.h>

#include "runner.h"
#include "search/fuse.h"

static void push(lm__cands *c, int64_t no, double s, int vector)
{
    lm__cand x = {no, s, vector ? 0 : s, vector ? 0 : (int)c->n + 1, vector ? s : 0,
                  vector ? (int)c->n + 1 : 0};
    ASSERT_OK(lm__cands_push(c, &x));
}

TEST(test_search_fuse__weighted_rrf)
{
    lm__cands t = {0}, v = {0}, f = {0};
    push(&t, 1, 9.0, 0); /* text ranks: 1, 2, 3 */
    push(&t, 2, 8.0, 0);
    push(&t, 3, 7.0, 0);
    push(&v, 3, 0.9, 1); /* vector ranks: 3, 4 */
    push(&v, 4, 0.8, 1);
    ASSERT_OK(lm__fuse_weighted(&f, &t, &v, 0.5, 60));
    ASSERT_EQ_INT(f.n, 4);
    /* chunk 3: 0.5/63 + 0.5/61 beats chunk 1: 0.5/61 */
    ASSERT_EQ_INT(f.v[0].chunk_no, 3);
    ASSERT(fabs(f.v[0].score - (0.5 / 63 + 0.5 / 61)) < 1e-15);
    ASSERT_EQ_INT(f.v[0].text_rank, 3);
    ASSERT_EQ_INT(f.v[0].vec_rank, 1);
    ASSERT(fabs(f.v[0].text_score - 7.0) < 1e-15);
    ASSERT_EQ_INT(f.v[1].chunk_no, 1);
    /* chunk 4 (0.5/62) and chunk 2 (0.5/62) tie: lower chunk_no first */
    ASSERT_EQ_INT(f.v[2].chunk_no, 2);
    ASSERT_EQ_INT(f.v[3].chunk_no, 4);
    lm__cands_dispose(&f);
    /* alpha 0: a vector-only chunk scores 0 and sorts last */
    ASSERT_OK(lm__fuse_weighted(&f, &t, &v, 0.0, 60));
    ASSERT_EQ_INT(f.v[0].chunk_no, 1);
    ASSERT(f.v[3].score == 0);
    lm__cands_dispose(&f);
    lm__cands_dispose(&t);
    lm__cands_dispose(&v);
}

TEST(test_search_fuse__rrf_across_variants)
{
    lm__cands l[2] = {{0}, {0}}, f = {0};
    push(&l[0], 10, 5, 0);
    push(&l[0], 11, 4, 0);
    push(&l[1], 11, 3, 0);
    push(&l[1], 12, 2, 0);
    ASSERT_OK(lm__fuse_rrf(&f, l, 2, 50));
    ASSERT_EQ_INT(f.n, 3);
    ASSERT_EQ_INT(f.v[0].chunk_no, 11);
    ASSERT(fabs(f.v[0].score - (1.0 / 52 + 1.0 / 51)) < 1e-15);
    ASSERT_EQ_INT(f.v[1].chunk_no, 10);
    lm__cands_dispose(&f);
    lm__cands_dispose(&l[0]);
    lm__cands_dispose(&l[1]);
}

TEST(test_search_fuse__expansion_variants)
{
    char **v = NULL;
    size_t n = 0;
    ASSERT_OK(lm__expand_variants(&v, &n, "How to learn data analysis in Python?", 3));
    ASSERT_EQ_INT(n, 3);
    ASSERT_EQ_STR(v[0], "How to learn data analysis in Python?");
    ASSERT_EQ_STR(v[1], "how learn data analysis python");
    ASSERT_EQ_STR(v[2], "how OR learn OR data OR analysis OR python");
    lm__variants_free(v, n);
    ASSERT_OK(lm__expand_variants(&v, &n, "How to learn data analysis in Python?", 10));
    ASSERT_EQ_INT(n, 4);
    ASSERT_EQ_STR(v[3], "\"How to learn data analysis in Python?\"");
    lm__variants_free(v, n);
    ASSERT_OK(lm__expand_variants(&v, &n, "single", 3));
    ASSERT_EQ_INT(n, 1);
    lm__variants_free(v, n);
}

TEST(test_search_fuse__lexical_score)
{
    double s = lm__lexical_score("python data", "Python data pipelines rely on pandas", NULL);
    ASSERT(fabs(s - 2.0 / log(7.0)) < 1e-12);
    ASSERT(lm__lexical_score("python", "", NULL) == 0);
    ASSERT(lm__lexical_score("!!!", "text", NULL) == 0);
    double m = lm__lexical_score("python", "code", "{\"lang\": \"python\"}");
    ASSERT(fabs(m - 1.0 / log(2.0)) < 1e-12);
}
