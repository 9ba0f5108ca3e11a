/*
 * llmemory/common.h: export macros, version numbers and feature macros shared by every public
 * header. Nothing here allocates or does I/O.
 */
#ifndef LLMEMORY_COMMON_H
#define LLMEMORY_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
#define LM_BEGIN_DECL extern "C" {
#define LM_END_DECL   }
#else
#define LM_BEGIN_DECL
#define LM_END_DECL
#endif

#if defined(__GNUC__)
#define LM_EXTERN __attribute__((visibility("default")))
#else
#define LM_EXTERN
#endif

#define LM_VERSION_MAJOR  0
#define LM_VERSION_MINOR  1
#define LM_VERSION_PATCH  0
#define LM_VERSION_NUMBER (LM_VERSION_MAJOR * 10000 + LM_VERSION_MINOR * 100 + LM_VERSION_PATCH)
#define LM_VERSION_STRING "0.1.0"

/* Feature macros: defined when the library offers the feature. */
#define LM_HAS_EMBEDDED_DB 1 /* private PostgreSQL cluster when no database URL is set */
#define LM_HAS_BM25        1 /* keyword search ranks with per-tenant BM25 */

/* Named limits (bytes unless stated). Violations return LM_EINVAL or LM_ELIMIT. */
#define LM_MAX_OWNER_ID_BYTES      255
#define LM_MAX_ID_AT_ORIGIN_BYTES  255
#define LM_MAX_DOC_NAME_BYTES      500
#define LM_MAX_DOC_BYTES           (10u * 1024u * 1024u) /* default content cap, configurable */
#define LM_MAX_METADATA_BYTES      65536
#define LM_MAX_METADATA_DEPTH      10
#define LM_MAX_QUERY_BYTES         1000
#define LM_MAX_SEARCH_LIMIT        100 /* default upper bound of a search/list limit */
#define LM_MAX_FILTER_ORIGINS      1000
/* Largest search cost: candidates per leg x legs (2 for hybrid) x query variants (1, or 1 +
   max_variants with expansion) + rerank_top_k. The defaults cost a few hundred; candidates=1000
   with 10 variants and a rerank of 1000 (23,000) would hold a connection and a CPU for seconds. */
#define LM_MAX_SEARCH_COST         10000
#define LM_UUID_STRLEN             36

LM_BEGIN_DECL

/** Run-time library version, e.g. "0.1.0". Never NULL. */
LM_EXTERN const char *lm_version(void);

/**
 * A growable, always NUL-terminated string owned by the caller (libgit2's git_buf shape).
 * Initialise with LM_BUF_INIT or lm_buf_init(); release with lm_buf_dispose().
 */
typedef struct lm_buf {
    char *ptr;    /* NUL-terminated text; never NULL after init */
    size_t size;  /* bytes used, excluding the NUL */
    size_t asize; /* bytes allocated; 0 while ptr points at a static empty string */
} lm_buf;

/* Shared empty string that initialised buffers point at (never written). */
LM_EXTERN extern char lm_buf__initbuf[];
#define LM_BUF_INIT {lm_buf__initbuf, 0, 0}

/** Initialise @p buf to the empty string. Cannot fail. */
LM_EXTERN void lm_buf_init(lm_buf *buf);
/** Release @p buf's memory and reset it to the empty string. NULL-safe. */
LM_EXTERN void lm_buf_dispose(lm_buf *buf);

LM_END_DECL

#endif
