/*
 * llmemory_bm25_build.c: llmemory_bm25_build_id(), the build id of this module: a SHA-256 over the
 * extension's sources (pgext/build-id.sh), compiled in by the Makefile. llmemory compares it with
 * the id of its own tree before it uses the extension, so a module built from another tree
 * (another version) is never used by mistake; scripts/deps.sh finds the same id in the installed
 * module file (the string "llmemory_bm25 build <id>") to decide whether to reinstall.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#ifndef LLMEMORY_BM25_BUILD_ID
#error "LLMEMORY_BM25_BUILD_ID is set by pgext/Makefile (from build-id.sh)"
#endif

/* Kept whole in the module file, where scripts/deps.sh looks for it. */
static const char build_stamp[] = "llmemory_bm25 build " LLMEMORY_BM25_BUILD_ID;

PG_FUNCTION_INFO_V1(llmemory_bm25_build_id);
Datum llmemory_bm25_build_id(PG_FUNCTION_ARGS);

Datum llmemory_bm25_build_id(PG_FUNCTION_ARGS)
{
    PG_RETURN_TEXT_P(cstring_to_text(build_stamp + sizeof("llmemory_bm25 build ") - 1));
}
