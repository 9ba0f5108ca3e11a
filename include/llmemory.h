/*
 * llmemory.h: the one header users include. libllmemory is a multi-tenant document memory for LLM
 * applications: documents are stored in PostgreSQL, split into chunks and searched by keywords
 * (BM25) for one tenant at a time.
 *
 * Quick start:
 *
 *     #include <llmemory.h>
 *
 *     lm_memory *mem = NULL;
 *     lm_results *res = NULL;
 *     if (lm_memory_open(&mem, NULL) < 0)          // embedded database unless a URL is set
 *         die(lm_error_last()->message);
 *     const char *text = "Employees get 25 vacation days a year.";
 *     if (lm_doc_add(NULL, mem, "acme", "policy-1", "Vacation policy", LM_DOC_TEXT,
 *                    text, strlen(text), NULL) < 0)
 *         die(lm_error_last()->message);
 *     if (lm_search(&res, mem, "acme", "vacation days", NULL) == 0)
 *         for (size_t i = 0; i < lm_results_count(res); i++)
 *             printf("%s\n", lm_results_at(res, i)->content);
 *     lm_results_free(res);
 *     lm_memory_close(mem);
 *
 * Caveats:
 * - Every data call takes the tenant (owner_id) explicitly. Where the tenant comes from is the
 *   caller's business: derive it from authentication, never from untrusted input.
 * - Errors: functions return 0 or a negative LM_E* code; the details are in lm_error_last(),
 *   which is thread-local and valid only until the next failing call on the same thread.
 * - Objects returned through `**out` are owned by the caller and freed with their _free
 *   function; pointers returned by accessors are borrowed from their parent object.
 * - An lm_memory may be shared by threads (it holds a connection pool); lm_memory_close() must
 *   not race with other calls.
 * - The embedded database (no URL configured) is a private PostgreSQL cluster in a directory; it
 *   keeps running after the process exits, until `llmemory db stop` or lm_db_stop().
 */
#ifndef LLMEMORY_H
#define LLMEMORY_H

#include "llmemory/common.h"
#include "llmemory/error.h"
#include "llmemory/store.h"
#include "llmemory/doc.h"
#include "llmemory/search.h"
#include "llmemory/auth.h"
#include "llmemory/embed.h"
#include "llmemory/models.h"
#include "llmemory/queue.h"
#include "llmemory/eval.h"
#include "llmemory/lifecycle.h"
#include "llmemory/ingest.h"
#include "llmemory/cluster.h"

#endif
