/*
 * llmemory_prefault.c: llmemory_prefault_buffers(), which maps every page of the shared buffer
 * pool that is in memory into the calling backend's page table.
 *
 * Shared buffers are one shared memory mapping; a process maps its pages into its own page table
 * only when it first touches them, one minor fault per 4 kB page (a little less with the
 * kernel's fault-around). A backend's first vector search of a tenant touches a thousand or more
 * buffers of that tenant's graph and paid 1-2 ms per 1,000 buffers for it on top of a 1.5-2 ms
 * search (bench/RESULTS.md §10), again in every pooled connection. llmemory calls this function
 * once when it opens a connection (db/pool.c), so that cost is paid there, in bulk (about 60 ms
 * per GB of resident buffers), and never again by a search.
 *
 * Only pages that already exist are touched (mincore() tells which): a page of the pool that was
 * never used is left unallocated, so the function never makes the server use more memory; it
 * costs the backend its page table (2 MB per GB mapped). Huge pages (huge_pages with
 * vm.nr_hugepages reserved) make all this unnecessary: one fault maps 2 MB.
 */
#include "postgres.h"

#include <sys/mman.h>
#include <unistd.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"

PG_FUNCTION_INFO_V1(llmemory_prefault_buffers);
Datum llmemory_prefault_buffers(PG_FUNCTION_ARGS);

Datum llmemory_prefault_buffers(PG_FUNCTION_ARGS)
{
    long page = sysconf(_SC_PAGESIZE);
    uintptr_t start, end;
    size_t npages, chunk = 64 * 1024; /* pages asked of mincore() at a time */
    unsigned char *vec;
    int64 mapped = 0;
    volatile char sink = 0;

    if (page <= 0 || BufferBlocks == NULL || NBuffers <= 0)
        PG_RETURN_INT64(0);
    start = (uintptr_t)BufferBlocks & ~(uintptr_t)(page - 1);
    end = (uintptr_t)BufferBlocks + (uintptr_t)NBuffers * BLCKSZ;
    npages = (end - start + (uintptr_t)page - 1) / (uintptr_t)page;
    vec = palloc(chunk);
    for (size_t first = 0; first < npages; first += chunk) {
        size_t n = npages - first < chunk ? npages - first : chunk;
        char *at = (char *)(start + first * (uintptr_t)page);

        CHECK_FOR_INTERRUPTS();
        if (mincore(at, n * (size_t)page, vec) != 0)
            break; /* not supported here: nothing more to do, searches fault as before */
        for (size_t i = 0; i < n; i++)
            if (vec[i] & 1) {
                sink += *(volatile char *)(at + i * (size_t)page);
                mapped++;
            }
    }
    (void)sink;
    pfree(vec);
    PG_RETURN_INT64(mapped);
}
