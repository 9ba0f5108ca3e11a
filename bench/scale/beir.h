/*
 * bench/scale/beir.h: what the benches over a BEIR collection (SciFact) share: reading a file,
 * and loading the corpus into one tenant with lm_doc_add_batch(). Each exits on failure.
 */
#ifndef BENCH_SCALE_BEIR_H
#define BENCH_SCALE_BEIR_H

#include <stddef.h>

#include "llmemory.h"

/* The whole file at @p path, NUL-terminated; its length in *len. */
char *beir_slurp(const char *path, size_t *len);

/* Load DIR/corpus.jsonl into @p owner's documents, in batches of 200, unless the tenant has
   documents already; then wait for its vector index builds. Prints what it did. */
void beir_load(lm_memory *mem, const char *owner, const char *dir);

#endif
