/*
 * llmemory/auth.h: API keys, and what a server needs from the library besides data calls
 * (readiness and connection-pool usage).
 *
 * An API key binds a caller to one tenant: its owner_id, optionally narrowed to one id_at_origin,
 * with a scope (read, write or admin) and, when allowed, the owner's sub-tenants
 * ("org-123/..."). A key looks like "lmk_<key_id>_<secret>": the key id (16 hex digits) is public
 * and finds the key's row directly; the secret (64 hex digits, 256 random bits) is shown once by
 * lm_key_create() and never stored: only SHA-256("<key_id>:<secret>") is, and it is compared in
 * constant time. Because the secret is high-entropy, a fast hash is enough (a slow password hash
 * would cost milliseconds on every request and buy nothing). Revocation and expiry are checked on
 * every lm_key_verify(), so they take effect on the next request (with the key cache, a revocation
 * by another process within the milliseconds its notification takes: lm_key_cache_configure()).
 *
 * Threads: every function may be called from several threads on one lm_memory.
 */
#ifndef LLMEMORY_AUTH_H
#define LLMEMORY_AUTH_H

#include "common.h"
#include "store.h"

LM_BEGIN_DECL

#define LM_HAS_API_KEYS 1

#define LM_KEY_ID_LEN     16 /* hex digits of a key id */
#define LM_KEY_SECRET_LEN 64 /* hex digits of a key's secret */
#define LM_KEY_PREFIX     "lmk_"
/* "lmk_" + key id + "_" + secret */
#define LM_KEY_LEN            (4 + LM_KEY_ID_LEN + 1 + LM_KEY_SECRET_LEN)
#define LM_MAX_KEY_NAME_BYTES 200

/** What a key may do. Each scope includes the ones below it. */
typedef enum lm_key_scope {
    LM_SCOPE_READ = 1,  /* get, list, search, statistics */
    LM_SCOPE_WRITE = 2, /* and add, re-index, delete */
    LM_SCOPE_ADMIN = 3  /* and manage the tenant's API keys */
} lm_key_scope;

/** "read", "write" or "admin" ("read" for out-of-range values). */
LM_EXTERN const char *lm_key_scope_name(lm_key_scope scope);
/** Parse a scope name (case-insensitive). @return 0, or LM_EINVAL (field "scope"). */
LM_EXTERN int lm_key_scope_parse(lm_key_scope *out, const char *name);

/** Options of lm_key_create(). NULL means defaults (write scope, no origin, never expires). */
typedef struct lm_key_opts {
    unsigned int version;
    const char *origin;     /* bind the key to this id_at_origin, or NULL */
    lm_key_scope scope;     /* 0: LM_SCOPE_WRITE */
    int allow_subtenants;   /* 1: the key may also act on "<owner_id>/..." */
    const char *expires_at; /* ISO 8601 timestamp in the future, or NULL for never */
    const char *name;       /* label for people (1-200 bytes of UTF-8), or NULL */
} lm_key_opts;

#define LM_KEY_OPTS_VERSION 1
#define LM_KEY_OPTS_INIT                                         \
    {                                                            \
        LM_KEY_OPTS_VERSION, NULL, LM_SCOPE_WRITE, 0, NULL, NULL \
    }
/** Initialise @p opts to defaults. @return 0, or LM_EINVAL for an unsupported @p version. */
LM_EXTERN int lm_key_opts_init(lm_key_opts *opts, unsigned int version);

/** A key just created (caller-allocated). Holds the plaintext key: wipe it with
 *  lm_key_created_dispose() once it has been shown. */
typedef struct lm_key_created {
    char key_id[LM_KEY_ID_LEN + 1];
    char key[LM_KEY_LEN + 1]; /* the whole key; shown once, not stored anywhere */
    char created_at[40];      /* ISO 8601 UTC */
    char expires_at[40];      /* ISO 8601 UTC, or "" for never */
} lm_key_created;

/** Wipe the plaintext key in @p k (sodium_memzero). NULL-safe. */
LM_EXTERN void lm_key_created_dispose(lm_key_created *k);

/**
 * Create an API key for @p owner_id.
 *
 * @param out      receives the key id and the plaintext key (shown once)
 * @param owner_id tenant the key acts for (validated like every owner_id)
 * @param opts     options or NULL
 * @return 0; LM_EINVAL (field names the argument: owner_id, origin, scope, expires_at, name,
 *         including an expiry in the past); LM_ECONN, LM_EDB.
 *
 * Example:
 *     lm_key_created k;
 *     lm_key_opts o = LM_KEY_OPTS_INIT;
 *     o.scope = LM_SCOPE_READ;
 *     if (lm_key_create(&k, mem, "acme", &o) == 0)
 *         printf("%s\n", k.key);    // give it to the client; it cannot be shown again
 *     lm_key_created_dispose(&k);
 */
LM_EXTERN int
lm_key_create(lm_key_created *out, lm_memory *mem, const char *owner_id, const lm_key_opts *opts);

/** Who a verified key speaks for (caller-allocated). */
typedef struct lm_principal {
    char key_id[LM_KEY_ID_LEN + 1];
    char owner_id[LM_MAX_OWNER_ID_BYTES + 1];
    char origin[LM_MAX_ID_AT_ORIGIN_BYTES + 1]; /* "" when the key is not bound to an origin */
    lm_key_scope scope;
    int allow_subtenants;
} lm_principal;

/**
 * Check a presented key: well formed, known, secret matching (constant time), not revoked, not
 * expired. Records the key's last use (at most once a minute, so verification stays a read).
 *
 * @param out receives the principal on success; zeroed on failure
 * @param key the key as presented ("lmk_...")
 * @return 0; LM_EPERM for every refusal ("invalid API key" for a malformed, unknown or wrong key,
 *         alike so they cannot be told apart; "API key has been revoked"; "API key has expired");
 *         LM_ECONN, LM_EDB when the database fails.
 */
LM_EXTERN int lm_key_verify(lm_principal *out, lm_memory *mem, const char *key);

/** One stored key, without its secret. Strings are borrowed from the lm_keys that holds it. */
typedef struct lm_key_info {
    const char *key_id;
    const char *owner_id;
    const char *origin; /* NULL when not bound to an origin */
    lm_key_scope scope;
    int allow_subtenants;
    const char *name;         /* NULL when the key has no label */
    const char *created_at;   /* ISO 8601 UTC */
    const char *expires_at;   /* NULL: never */
    const char *revoked_at;   /* NULL: not revoked */
    const char *last_used_at; /* NULL: never used (updated at most once a minute) */
} lm_key_info;

typedef struct lm_keys lm_keys;

/**
 * The keys of @p owner_id (and of its sub-tenants "<owner_id>/..." when @p with_subtenants), or
 * of every owner when @p owner_id is NULL; oldest first.
 * @param out receives the list, freed with lm_keys_free()
 * @return 0; LM_EINVAL; LM_ECONN, LM_EDB.
 */
LM_EXTERN int lm_key_list(lm_keys **out, lm_memory *mem, const char *owner_id, int with_subtenants);
LM_EXTERN size_t lm_keys_count(const lm_keys *keys);
/** Key @p i, or NULL when out of range. Borrowed from @p keys. */
LM_EXTERN const lm_key_info *lm_keys_at(const lm_keys *keys, size_t i);
/** Release @p keys. NULL-safe. */
LM_EXTERN void lm_keys_free(lm_keys *keys);

/**
 * Revoke a key: every later lm_key_verify() of it fails. Revoking a revoked key changes nothing.
 * @param owner_id when not NULL, the key must belong to this owner (or, with
 *                 @p with_subtenants, to one of its sub-tenants); another owner's key is
 *                 reported exactly like a missing one
 * @return 0; LM_ENOTFOUND; LM_EINVAL (malformed key id or owner); LM_ECONN, LM_EDB.
 */
LM_EXTERN int
lm_key_revoke(lm_memory *mem, const char *owner_id, int with_subtenants, const char *key_id);

/**
 * The verified-key cache of lm_key_verify(). A successful verification is remembered (key id,
 * owner, scope, origin, expiry and the stored hash, never the secret), so the next request with
 * the same key needs no database round trip; the secret is still compared (constant time) and
 * the expiry checked on every call. Revocation, expiry changes and erasure reach the cache at once
 * in this process and, from other processes, by NOTIFY on a dedicated listening connection
 * (milliseconds); while that connection is down the cache is emptied and not used. Never used
 * through a cluster proxy. Least recently used keys go first beyond the size.
 *
 * Set the size (entries; 0 turns the cache off). The default is $LLMEMORY_KEY_CACHE, else 10000.
 * @return 0; LM_EINVAL (negative or above 1000000); LM_ENOMEM.
 */
LM_EXTERN int lm_key_cache_configure(lm_memory *mem, long entries);

/** What the cache holds and did (lm_key_cache_stats()). */
typedef struct lm_key_cache_info {
    size_t capacity;  /* 0: off */
    size_t entries;
    uint64_t hits;    /* verifications answered from the cache */
    uint64_t misses;  /* verifications that read the database while the cache was usable */
    int active;       /* 1: on, and listening for key changes (else every key is read) */
} lm_key_cache_info;
LM_EXTERN void lm_key_cache_stats(lm_key_cache_info *out, lm_memory *mem);

/**
 * 1 when @p tenant is @p owner_id itself or one of its sub-tenants ("<owner_id>/..."), else 0.
 * Pure string rule, no I/O; both must be valid owner ids (else 0).
 */
LM_EXTERN int lm_owner_covers(const char *owner_id, const char *tenant);



LM_END_DECL

#endif
