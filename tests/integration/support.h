/*
 * tests/integration/support.h: helpers for tests that need PostgreSQL. Each test opens a memory
 * in a schema of its own on the throwaway cluster named by LLMEMORY_TEST_DATABASE_URL (started
 * by tests/run.sh), so tests never depend on each other.
 */
#ifndef LM_TEST_SUPPORT_H
#define LM_TEST_SUPPORT_H

#include <llmemory.h>

#include "runner.h"

/* Open a memory in a fresh schema (fails the test when no database is configured). */
lm_memory *test_memory(void);
/* Same, with options (database_url and schema are filled in). */
lm_memory *test_memory_opts(lm_memory_opts *opts);
/* Name of the schema the last test_memory() call created. */
const char *test_schema(void);
/* Add a text document, failing the test on error; returns its id in @p id_out (37 bytes). */
void test_add(lm_memory *m, const char *owner, const char *origin, const char *content,
              char *id_out);

/* Each of the @p n values @p bad of environment variable @p env makes lm_memory_open() fail with
   LM_EINVAL and a message naming the variable; the variable is unset afterwards. */
void test_env_refused(const char *env, const char *const *bad, size_t n);

#endif
