/*
 * llmemory/lifecycle.h: a tenant's whole data set in and out: export as a JSON Lines stream and
 * import of such a stream into the same or another tenant.
 *
 * The stream (format "llmemory-export", version 1) is one JSON object per line:
 *   {"type":"header","format":"llmemory-export","version":1,"owner_id":...,"provider_id":...,
 *    "dimension":...,"vectors":true|false,"exported_at":...,"counts":{"documents":N,
 *    "chunks":N,"vectors":N}}
 *   {"type":"document",...}   one per document
 *   {"type":"chunk",...}      one per chunk (with "embedding":[...] when vectors are exported)
 *   {"type":"trailer","counts":{...},"sha256":"<hex SHA-256 of every byte before this line>"}
 * docs/operations.md describes every field.
 *
 * Threads: both calls may run on one lm_memory from several threads (each takes a connection
 * from the pool for its whole run). The callbacks run on the calling thread.
 */
#ifndef LLMEMORY_LIFECYCLE_H
#define LLMEMORY_LIFECYCLE_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "store.h"

LM_BEGIN_DECL

/** Format name and version written in the header of an export. */
#define LM_EXPORT_FORMAT  "llmemory-export"
#define LM_EXPORT_VERSION 1

/** Receives @p len bytes of the stream (whole lines). Return 0 to go on, a negative LM_E* code
 *  (e.g. LM_EIO when the output failed) to stop: the call then returns that code. */
typedef int (*lm_write_cb)(const char *data, size_t len, void *payload);
/** Fills up to @p cap bytes of @p buf. Returns the number of bytes read, 0 at the end of the
 *  stream, or a negative LM_E* code (the call then returns it). */
typedef long (*lm_read_cb)(char *buf, size_t cap, void *payload);
/** Progress: @p done of @p total records (documents plus chunks; total is -1 while unknown). */
typedef void (*lm_progress_cb)(int64_t done, int64_t total, void *payload);

/** Records of an export or import. */
typedef struct lm_transfer_counts {
    int64_t documents;
    int64_t chunks;
    int64_t vectors; /* chunks that carried a stored vector */
} lm_transfer_counts;

/** Options of lm_tenant_export(). NULL means defaults. */
typedef struct lm_export_opts {
    unsigned int version;
    int with_vectors;          /* 1: each chunk carries its vector of the current provider */
    int batch;                 /* rows fetched from the server at a time; 0: 500 */
    lm_progress_cb progress;   /* or NULL */
    void *progress_payload;
} lm_export_opts;

#define LM_EXPORT_OPTS_VERSION 1
#define LM_EXPORT_OPTS_INIT    {LM_EXPORT_OPTS_VERSION, 0, 0, NULL, NULL}
/** Initialise @p opts to defaults. @return 0, or LM_EINVAL for an unsupported @p version. */
LM_EXTERN int lm_export_opts_init(lm_export_opts *opts, unsigned int version);

/**
 * Stream everything @p owner_id has (documents, chunks, metadata and optionally vectors) to
 * @p write as JSON Lines.
 *
 * The whole stream is one consistent snapshot (a REPEATABLE READ, READ ONLY transaction), so
 * writes that happen meanwhile are either entirely in it or not at all; rows are fetched in
 * batches through a server-side cursor, so memory stays constant whatever the tenant's size.
 * An unknown tenant exports an empty (but valid) stream.
 *
 * @param out     receives the counts written; may be NULL
 * @param write   the sink (required); @p payload is passed to it
 * @return 0; LM_EINVAL before any I/O; the sink's own code; LM_ECONN, LM_EDB.
 */
LM_EXTERN int lm_tenant_export(lm_transfer_counts *out,
                               lm_memory *mem,
                               const char *owner_id,
                               const lm_export_opts *opts,
                               lm_write_cb write,
                               void *payload);

/** Options of lm_tenant_import(). NULL means defaults. */
typedef struct lm_import_opts {
    unsigned int version;
    size_t max_line_bytes;     /* longest record accepted; 0: 64 MiB */
    lm_progress_cb progress;   /* or NULL */
    void *progress_payload;
} lm_import_opts;

#define LM_IMPORT_OPTS_VERSION 1
#define LM_IMPORT_OPTS_INIT    {LM_IMPORT_OPTS_VERSION, 0, NULL, NULL}
/** Initialise @p opts to defaults. @return 0, or LM_EINVAL for an unsupported @p version. */
LM_EXTERN int lm_import_opts_init(lm_import_opts *opts, unsigned int version);

/** What lm_tenant_import() did (caller-allocated). */
typedef struct lm_import_result {
    lm_transfer_counts counts;  /* records read */
    int64_t documents_created;  /* documents new to the tenant (the rest replaced one) */
    int64_t vectors_reused;     /* stored vectors taken over (same provider and dimension) */
    int64_t chunks_queued;      /* searchable chunks left to the embedding queue */
} lm_import_result;

/**
 * Read an export stream from @p read and restore it into @p owner_id (the same tenant or
 * another one).
 *
 * The whole stream is validated (format and version, the shape of every record, the counts of
 * the header and trailer, the checksum, references between records) while it is staged inside
 * one transaction; only then are the documents written, in the same transaction. A truncated,
 * corrupt or foreign file therefore changes nothing. Documents are matched by id_at_origin:
 * importing the same stream twice leaves the tenant as after the first time. Stored vectors are
 * taken over when the stream's provider id and dimension are the memory's; otherwise the
 * searchable chunks go to the embedding queue (when the memory has an embedder).
 *
 * @param out  receives what was done; may be NULL
 * @return 0; LM_EINVAL before any I/O; LM_EPARSE for a malformed, truncated or inconsistent
 *         stream (the message names the line); the reader's own code; LM_ECONN, LM_EDB.
 */
LM_EXTERN int lm_tenant_import(lm_import_result *out,
                               lm_memory *mem,
                               const char *owner_id,
                               const lm_import_opts *opts,
                               lm_read_cb read,
                               void *payload);

/* ---- quotas ---------------------------------------------------------------------------------- */

/** A limit that follows the configured default (lm_memory_opts.quota_*), and no limit at all. */
#define LM_QUOTA_DEFAULT (-2)
#define LM_QUOTA_NONE    (-1)

/** Storage limits (or usage) of a tenant, per kind. */
typedef struct lm_quota {
    int64_t documents;
    int64_t chunks;
    int64_t bytes;   /* content bytes of the documents */
    int64_t vectors; /* one per searchable chunk for the memory's embedder (0 without one) */
} lm_quota;

/** A tenant's quota state (caller-allocated). */
typedef struct lm_quota_status {
    lm_quota limit;    /* in force: the override, else the default; LM_QUOTA_NONE for none */
    lm_quota override; /* the tenant's own setting, LM_QUOTA_DEFAULT where it has none */
    lm_quota usage;
} lm_quota_status;

/**
 * Set the tenant's storage limits. Each field: a limit >= 0, LM_QUOTA_NONE (no limit even when
 * a default is configured) or LM_QUOTA_DEFAULT (follow the default again). Lowering a limit
 * below the usage removes nothing; further additions then fail until usage drops.
 *
 * A write that would take a kind of usage past its limit fails with LM_ELIMIT (field
 * "documents", "chunks", "bytes" or "vectors"; the detail gives the limit and the usage) and
 * writes nothing. Writers of one tenant are serialised, so the limit is exact however many
 * write at once. Re-adding a document that makes it no larger always succeeds.
 * @return 0; LM_EINVAL; LM_ECONN, LM_EDB.
 */
LM_EXTERN int lm_quota_set(lm_memory *mem, const char *owner_id, const lm_quota *limits);
/** The tenant's limits in force, its overrides and its usage. @return 0; LM_EINVAL; LM_ECONN,
 *  LM_EDB. */
LM_EXTERN int lm_quota_get(lm_quota_status *out, lm_memory *mem, const char *owner_id);

/**
 * Seconds until the calling thread's last call refused by a rate limit (LM_ELIMIT with field
 * "rate_adds" or "rate_searches") may be retried; 0 when the last refusal was not a rate.
 * Rates (lm_memory_opts.rate_adds, rate_searches) are token buckets per tenant, kept in the
 * lm_memory (per process, not across servers).
 */
LM_EXTERN double lm_rate_retry_after(void);

/** Per-tenant rates, in operations a second: a rate >= 0 (0 refuses every call),
 *  LM_QUOTA_NONE (no limit even when a default is configured) or LM_QUOTA_DEFAULT (follow the
 *  configured lm_memory_opts.rate_adds / rate_searches). */
typedef struct lm_rates {
    double adds;
    double searches;
} lm_rates;

/** A tenant's rates (caller-allocated). */
typedef struct lm_rate_status {
    lm_rates limit;    /* in force; LM_QUOTA_NONE for none */
    lm_rates override; /* the tenant's own, LM_QUOTA_DEFAULT where it has none */
} lm_rate_status;

/**
 * Set the tenant's rate overrides (audited as "quota.set"). Other processes follow within about
 * 5 seconds, this one at once. @return 0; LM_EINVAL; LM_ECONFLICT (tenant being erased);
 * LM_ECONN, LM_EDB.
 */
LM_EXTERN int lm_rate_set(lm_memory *mem, const char *owner_id, const lm_rates *rates);
/** The tenant's rates in force and its overrides. @return 0; LM_EINVAL; LM_ECONN, LM_EDB. */
LM_EXTERN int lm_rate_get(lm_rate_status *out, lm_memory *mem, const char *owner_id);

/* ---- usage metering ---------------------------------------------------------------------------- */

/** Calls of one tenant on one UTC day. */
typedef struct lm_usage_day {
    char day[11];     /* "YYYY-MM-DD" */
    int64_t searches; /* searches admitted (lm_search, also over HTTP and MCP) */
    int64_t adds;     /* document adds admitted */
} lm_usage_day;

/**
 * The tenant's searches and adds per day over the last @p max_days days (1..366): one entry
 * per day, today (UTC) first, zeros for days without calls; @p out holds @p max_days entries.
 * Calls are counted in memory and written at most about once a second in one statement per
 * process (this call writes this process's first); a crash loses at most that second.
 * @return 0; LM_EINVAL; LM_ECONN, LM_EDB.
 */
LM_EXTERN int lm_usage_days(lm_usage_day *out, int max_days, int *n_out, lm_memory *mem,
                            const char *owner_id);

/* ---- usage of every tenant (operators) ----------------------------------------------------------- */

/** Order of lm_usage_list_get(): largest first, ties by owner_id. */
typedef enum lm_usage_sort {
    LM_USAGE_SORT_OWNER = 0, /* owner_id ascending */
    LM_USAGE_SORT_DOCUMENTS,
    LM_USAGE_SORT_CHUNKS,
    LM_USAGE_SORT_BYTES,
    LM_USAGE_SORT_VECTORS,
    LM_USAGE_SORT_SEARCHES_TODAY,
    LM_USAGE_SORT_ADDS_TODAY
} lm_usage_sort;
/** Parse "owner", "documents", "chunks", "bytes", "vectors", "searches", "adds".
 *  @return 0 or LM_EINVAL (field "sort"). */
LM_EXTERN int lm_usage_sort_parse(lm_usage_sort *out, const char *name);

/** One tenant's usage. Strings are borrowed from the list. */
typedef struct lm_usage_row {
    const char *owner_id;
    lm_quota usage;
    lm_quota limit;         /* in force; LM_QUOTA_NONE for none */
    int64_t searches_today; /* searches since midnight UTC (lm_usage_days) */
    int64_t adds_today;     /* document adds since midnight UTC (lm_usage_days) */
    const char *near_limit; /* "documents", ... when a usage is at 90% of its limit or more;
                               the first such kind; NULL when none */
} lm_usage_row;

typedef struct lm_usage_list lm_usage_list;
/**
 * Usage of every tenant that has stored anything, for an operator (this reads across
 * tenants: never expose it to a tenant). @p limit rows at most (1..100000).
 * @return 0; LM_EINVAL; LM_ECONN, LM_EDB.
 */
LM_EXTERN int lm_usage_list_get(lm_usage_list **out, lm_memory *mem, lm_usage_sort sort, int limit);
/** lm_usage_list_get() of only the tenants whose usage of some kind is at @p percent % of its
 *  limit or more (1..1000; near_limit then names the first such kind). @return 0; LM_EINVAL;
 *  LM_ECONN, LM_EDB. */
LM_EXTERN int lm_usage_list_near(lm_usage_list **out, lm_memory *mem, lm_usage_sort sort,
                                 int limit, int percent);
LM_EXTERN size_t lm_usage_list_count(const lm_usage_list *list);
/** Row @p i, or NULL when out of range. Borrowed from @p list. */
LM_EXTERN const lm_usage_row *lm_usage_list_at(const lm_usage_list *list, size_t i);
/** Release @p list. NULL-safe. */
LM_EXTERN void lm_usage_list_free(lm_usage_list *list);

/** How many tenants are near their storage quotas, per kind (documents, chunks, bytes,
 *  vectors, in lm_quota's order): counts only, never names, so a metric built from them has a
 *  fixed number of series whatever the number of tenants. */
typedef struct lm_quota_alerts {
    int64_t tenants;   /* tenants with a usage row */
    int64_t at_80[4];  /* at 80% of the kind's limit or more */
    int64_t at_95[4];  /* at 95% or more */
    int64_t at_100[4]; /* at the limit */
    double age_s;      /* how old the counts are */
} lm_quota_alerts;

/**
 * The near-quota counts (one query over every tenant's usage row, for operators), computed at
 * most once per @p max_age_s seconds and cached in the memory; @p max_age_s < 0 answers from the
 * cache only (LM_ENOTFOUND when nothing was computed yet) and never touches the database.
 * @return 0; LM_ENOTFOUND; LM_ECONN, LM_EDB.
 */
LM_EXTERN int lm_quota_alerts_get(lm_quota_alerts *out, lm_memory *mem, int max_age_s);

/* ---- audit log -------------------------------------------------------------------------------- */

/**
 * Who acts, and from where, for the audit records the calling thread's next calls write
 * (keys created and revoked, erasure, export, import, quota changes). @p actor: "cli:USER",
 * "key:KEY_ID", ...; @p source: a client address, or NULL. Both are copied (at most 127 bytes);
 * NULL @p actor means "library". Thread-local, like lm_error_last().
 */
LM_EXTERN void lm_audit_context_set(const char *actor, const char *source);

/** One audit record. Strings are borrowed from the page. */
typedef struct lm_audit_entry {
    int64_t audit_id;
    const char *at;      /* ISO 8601 UTC */
    const char *actor;
    const char *action;  /* "key.create", "key.revoke", "tenant.erase", "tenant.export",
                            "tenant.import", "quota.set", "auth.failure" */
    const char *source;  /* or NULL */
    const char *outcome; /* "success" or "failure" */
    const char *detail;  /* JSON object text */
} lm_audit_entry;

typedef struct lm_audit_page lm_audit_page;
/**
 * The tenant's audit records, newest first, at most @p limit (1..10000). Append-only: the
 * records cannot be changed or deleted except by the tenant's erasure, after which only the
 * erasure record remains. Another tenant's records are never returned.
 * @return 0; LM_EINVAL; LM_ECONN, LM_EDB.
 */
LM_EXTERN int lm_audit_list(lm_audit_page **out, lm_memory *mem, const char *owner_id, int limit);
/** The server's own records (authentication failures no tenant can be named for: no credential,
 *  an unknown key, a bad token), newest first; for operators. @return 0; LM_EINVAL; LM_ECONN,
 *  LM_EDB. */
LM_EXTERN int lm_audit_list_server(lm_audit_page **out, lm_memory *mem, int limit);

/**
 * Record a refused authentication ("auth.failure", outcome "failure"): who (@p key_id, the 16
 * hex digits of the presented key when it has them, else NULL), what (@p credential "key",
 * "jwt" or NULL for none; @p reason, e.g. "invalid", "revoked", "expired", "missing"), when, and
 * from where (@p source, a client address). The record goes to the audit log of the key's tenant
 * when the key id is known, else to the server's (lm_audit_list_server()). Never pass the
 * credential itself.
 *
 * Bounded: the first failure of a kind (key id, reason, source) is written at once and the
 * rest of that minute only counted and reported by the kind's next record (or when the memory
 * closes): "failures" in a record's detail says how many failures it stands for. Past 128 kinds
 * a minute, failures are counted into one "flood" record a minute. A flood therefore writes a bounded number of records per minute. Errors are logged,
 * never returned.
 */
LM_EXTERN void lm_audit_auth_failure(lm_memory *mem, const char *credential, const char *key_id,
                                     const char *reason, const char *source);
LM_EXTERN size_t lm_audit_page_count(const lm_audit_page *page);
/** Record @p i, or NULL when out of range. Borrowed from @p page. */
LM_EXTERN const lm_audit_entry *lm_audit_page_at(const lm_audit_page *page, size_t i);
LM_EXTERN void lm_audit_page_free(lm_audit_page *page);

LM_END_DECL

#endif
