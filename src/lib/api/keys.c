/*
 * api/keys.c: API keys (create, verify, list, revoke) and the server-support calls of
 * llmemory/auth.h (readiness, pool usage). Keys are stored in <schema>.api_keys with only a
 * SHA-256 of their secret; the plaintext exists once, in lm_key_created, for the caller to show.
 * Key statements are single autocommit statements on a pooled connection: keys are not tenant
 * data, so no tenant transaction (and no tenant advisory lock) is involved.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "api/memory.h"
#include "buf.h"
#include "clock.h"
#include "db/migrations.h"
#include "error.h"
#include "hash.h"
#include "llmemory.h"
#include "llmemory/auth.h"
#include "utf8.h"
#include "validate.h"

static const char *const scope_names[] = {NULL, "read", "write", "admin"};

const char *lm_key_scope_name(lm_key_scope scope)
{
    if ((int)scope < LM_SCOPE_READ || scope > LM_SCOPE_ADMIN)
        return "read";
    return scope_names[scope];
}

int lm_key_scope_parse(lm_key_scope *out, const char *name)
{
    LM_ASSERT_ARG(out != NULL);
    for (int i = LM_SCOPE_READ; name != NULL && i <= LM_SCOPE_ADMIN; i++) {
        if (strcasecmp(name, scope_names[i]) == 0) {
            *out = (lm_key_scope)i;
            return 0;
        }
    }
    lm__error_set_field(LM_EINVAL, "scope", "invalid scope \"%.60s\"", name ? name : "");
    lm__error_hint("Use read, write or admin.");
    return LM_EINVAL;
}

int lm_key_opts_init(lm_key_opts *opts, unsigned int version)
{
    LM_ASSERT_ARG(opts != NULL);
    if (version != LM_KEY_OPTS_VERSION)
        return lm__error_set(LM_EINVAL, "unsupported lm_key_opts version %u", version);
    lm_key_opts d = LM_KEY_OPTS_INIT;
    *opts = d;
    return 0;
}

void lm_key_created_dispose(lm_key_created *k)
{
    if (k == NULL)
        return;
    sodium_memzero(k, sizeof(*k));
}

int lm_owner_covers(const char *owner_id, const char *tenant)
{
    size_t n;

    if (owner_id == NULL || tenant == NULL)
        return 0;
    /* Validation must not leave an error behind: this is a predicate. */
    if (lm__validate_owner_id(owner_id) < 0 || lm__validate_owner_id(tenant) < 0) {
        lm__error_clear();
        return 0;
    }
    n = strlen(owner_id);
    if (strcmp(owner_id, tenant) == 0)
        return 1;
    /* Segments are never empty, "." or "..", so a plain prefix test on "<owner>/" is exact. */
    return strncmp(owner_id, tenant, n) == 0 && tenant[n] == '/';
}

/* ---- helpers --------------------------------------------------------------------------------- */

static void hex(char *out, const unsigned char *data, size_t len)
{
    sodium_bin2hex(out, len * 2 + 1, data, len);
}

/* SHA-256 of "<key_id>:<secret>", hex. Binding the id in means a stored hash is only ever valid
   for its own row. */
static void key_hash(char out[65], const char *key_id, const char *secret)
{
    char buf[LM_KEY_ID_LEN + 1 + LM_KEY_SECRET_LEN + 1];
    snprintf(buf, sizeof(buf), "%s:%s", key_id, secret);
    lm__sha256_hex(out, buf, strlen(buf));
    sodium_memzero(buf, sizeof(buf));
}

static int is_lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

static int validate_key_id(const char *key_id)
{
    if (key_id == NULL || strlen(key_id) != LM_KEY_ID_LEN || !is_lower_hex(key_id, LM_KEY_ID_LEN)) {
        lm__error_set_field(LM_EINVAL, "key_id", "invalid key id \"%.40s\"", key_id ? key_id : "");
        lm__error_detail("A key id is %d lower-case hexadecimal digits.", LM_KEY_ID_LEN);
        return LM_EINVAL;
    }
    return 0;
}

static int validate_key_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0)
        return lm__error_set_field(LM_EINVAL, "name", "key name must not be empty");
    if (n > LM_MAX_KEY_NAME_BYTES)
        return lm__error_set_field(LM_EINVAL, "name",
                                   "key name is too long (%zu bytes, the maximum is %d)", n,
                                   LM_MAX_KEY_NAME_BYTES);
    if (!lm__utf8_valid(name, n))
        return lm__error_set_field(LM_EINVAL, "name", "key name is not valid UTF-8");
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] < 0x20)
            return lm__error_set_field(LM_EINVAL, "name", "key name contains a control character");
    return 0;
}

/* Run one statement on a pooled connection (autocommit). */
static int exec1(PGresult **out, lm_memory *mem, const char *sql, int n, const char *const *params)
{
    PGconn *conn = NULL;
    int rc;

    if (out != NULL)
        *out = NULL;
    if ((rc = lm__db_admin_acquire(&conn, &mem->db)) < 0)
        return rc;
    rc = lm__db_exec(out, conn, sql, n, params);
    lm__db_admin_release(&mem->db, conn);
    return rc;
}

/* ---- create ---------------------------------------------------------------------------------- */

int lm_key_create(lm_key_created *out,
                  lm_memory *mem,
                  const char *owner_id,
                  const lm_key_opts *opts)
{
    lm_key_opts o = LM_KEY_OPTS_INIT;
    PGresult *res = NULL;
    lm_buf sql = LM_BUF_INIT;
    unsigned char idbin[LM_KEY_ID_LEN / 2], secbin[LM_KEY_SECRET_LEN / 2];
    char key_id[LM_KEY_ID_LEN + 1], secret[LM_KEY_SECRET_LEN + 1], hash[65];
    int rc;

    LM_ASSERT_ARG(out != NULL);
    memset(out, 0, sizeof(*out));
    LM_ASSERT_ARG(mem != NULL);
    if (opts != NULL) {
        if (opts->version != LM_KEY_OPTS_VERSION)
            return lm__error_set(LM_EINVAL, "unsupported lm_key_opts version %u", opts->version);
        o = *opts;
    }
    if (o.scope == 0)
        o.scope = LM_SCOPE_WRITE;
    if ((rc = lm__validate_owner_id(owner_id)) < 0)
        return rc;
    if (o.origin != NULL && (rc = lm__validate_id_at_origin(o.origin, "origin")) < 0)
        return rc;
    if ((int)o.scope < LM_SCOPE_READ || o.scope > LM_SCOPE_ADMIN)
        return lm__error_set_field(LM_EINVAL, "scope", "invalid scope %d", (int)o.scope);
    if (o.expires_at != NULL && (rc = lm__validate_timestamp(o.expires_at, "expires_at")) < 0)
        return rc;
    if (o.name != NULL && (rc = validate_key_name(o.name)) < 0)
        return rc;

    if (mem->sql_functions) /* 067_keys_audit_functions.sql: routed to the owner's shard */
        lm__buf_printf(&sql,
                       "SELECT * FROM %s.lm_key_create($2, $1, $3, $4, $5::boolean, $6, $7,"
                       " $8::timestamptz)",
                       mem->db.qschema);
    else
        lm__buf_printf(&sql,
                       "INSERT INTO %s.api_keys (key_id, owner_id, origin, scope, allow_subtenants,"
                       " name, hash, expires_at)"
                       " SELECT $1, $2, $3, $4, $5::boolean, $6, $7, $8::timestamptz"
                       "  WHERE $8::timestamptz IS NULL OR $8::timestamptz > now()"
                       " RETURNING " TS("created_at") ", coalesce(" TS("expires_at") ", '')",
                       mem->db.qschema);
    if (lm__buf_oom(&sql)) {
        rc = LM_ENOMEM;
        goto out;
    }
    /* A key id collision (2^-64 per pair) is retried with fresh randomness; anything else is
       reported. */
    for (int attempt = 0; attempt < 3; attempt++) {
        randombytes_buf(idbin, sizeof(idbin));
        randombytes_buf(secbin, sizeof(secbin));
        hex(key_id, idbin, sizeof(idbin));
        hex(secret, secbin, sizeof(secbin));
        key_hash(hash, key_id, secret);
        const char *params[] = {key_id,
                                owner_id,
                                o.origin,
                                lm_key_scope_name(o.scope),
                                o.allow_subtenants ? "true" : "false",
                                o.name,
                                hash,
                                o.expires_at};
        rc = exec1(&res, mem, sql.ptr, 8, params);
        if (rc != LM_EEXISTS)
            break;
    }
    if (rc < 0)
        goto out;
    if (PQntuples(res) == 0) {
        rc = lm__error_set_field(LM_EINVAL, "expires_at", "expiry \"%s\" is not in the future",
                                 o.expires_at);
        goto out;
    }
    snprintf(out->key_id, sizeof(out->key_id), "%s", key_id);
    snprintf(out->key, sizeof(out->key), LM_KEY_PREFIX "%s_%s", key_id, secret);
    snprintf(out->created_at, sizeof(out->created_at), "%s", PQgetvalue(res, 0, 0));
    snprintf(out->expires_at, sizeof(out->expires_at), "%s", PQgetvalue(res, 0, 1));
    lm__db_log(&mem->db, LM_LOG_INFO, "created API key %s for owner \"%s\" (%s)", key_id, owner_id,
               lm_key_scope_name(o.scope));
    {
        char detail[160];
        snprintf(detail, sizeof(detail), "{\"key_id\": \"%s\", \"scope\": \"%s\"}", key_id,
                 lm_key_scope_name(o.scope));
        lm__audit(mem, owner_id, "key.create", "success", detail);
    }
out:
    sodium_memzero(secret, sizeof(secret));
    sodium_memzero(secbin, sizeof(secbin));
    PQclear(res);
    lm_buf_dispose(&sql);
    return rc;
}

/* ---- verify ---------------------------------------------------------------------------------- */

/* The key lookup of lm_key_verify() in one round trip: one prepared call of
   <schema>.lm__key_lookup (065_key_lookup.sql), which reads the key under the maintenance policy
   and leaves the setting as it found it, on a connection of the tables' owner (the admin pool).
   Key verification runs before every request of the HTTP server: the SET/RESET round trips
   around a plain SELECT were most of its database time per search (bench/http/cpu.sh). @p ttl:
   lm__key_lookup_ttl (066_key_notify.sql) instead, which adds the seconds left before expiry
   (column 8) for the key cache. */
static int verify_lookup(PGresult **out, lm_memory *mem, const char *key_id, int ttl)
{
    lm__pool *p = mem->db.admin ? mem->db.admin : &mem->db.pool;
    const char *params[1] = {key_id};
    lm_buf sql = LM_BUF_INIT;
    PGconn *conn = NULL;
    int rc;

    *out = NULL;
    lm__buf_printf(&sql, "SELECT * FROM %s.%s($1)", mem->db.qschema,
                   ttl ? "lm__key_lookup_ttl" : "lm__key_lookup");
    if (lm__buf_oom(&sql))
        return LM_ENOMEM;
    if ((rc = lm__pool_acquire(&conn, p)) == 0) {
        rc = lm__db_exec_prepared(out, conn, ttl ? LM__STMT_KEY_LOOKUP_TTL : LM__STMT_KEY_LOOKUP,
                                  sql.ptr, 1, params);
        lm__pool_release(p, conn); /* discarded unless idle and healthy */
    }
    lm_buf_dispose(&sql);
    return rc;
}

/* Through a cluster proxy the key is on one shard, and nothing in the key says which (a move
   would leave it pointing at the old shard). The shards are asked directly, in order, until one
   holds it (api/shards.c): a shard that is down then fails only the keys it might hold, where
   the proxy's lm_all_key_lookup (run on all shards by PL/Proxy) failed every key of every
   tenant. A key found on no shard while one could not be asked fails with that shard's error,
   not as invalid. @p shard_out: the shard's memory, where the key's use is recorded. */
typedef struct {
    const char *key_id;
    PGresult *res;
    lm_memory *shard;
} proxy_lookup;

static int proxy_lookup_one(lm_memory *shard, void *arg)
{
    proxy_lookup *l = arg;
    PGresult *res = NULL;
    int rc = verify_lookup(&res, shard, l->key_id, 0);
    if (rc < 0)
        return rc;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return 0;
    }
    l->res = res;
    l->shard = shard;
    return 1;
}

static int verify_lookup_proxy(PGresult **out, lm_memory **shard_out, lm_memory *mem,
                               const char *key_id)
{
    proxy_lookup l = {key_id, NULL, NULL};
    int rc = lm__shards_find(mem, proxy_lookup_one, &l);
    *out = l.res;
    *shard_out = l.shard;
    if (rc < 0) {
        PQclear(l.res);
        *out = NULL;
        return rc;
    }
    return 0; /* *out NULL: on no shard */
}

static int refuse(const char *msg)
{
    lm__error_set(LM_EPERM, "%s", msg);
    return LM_EPERM;
}

/* Record the key's last use. Best effort: a failure must not fail the request. */
static void record_use(lm_memory *mem, const char *key_id)
{
    PGresult *u = NULL;
    lm_buf upd = LM_BUF_INIT;
    /* Best effort: a failure to record last use must not fail the request. */
    if (mem->sql_functions)
        lm__buf_printf(&upd, "SELECT %s.lm_all_key_touch($1)", mem->db.qschema);
    else
        lm__buf_printf(&upd, "UPDATE %s.api_keys SET last_used_at = now() WHERE key_id = $1",
                       mem->db.qschema);
    if (!lm__buf_oom(&upd)) {
        const char *params[] = {key_id};
        if (exec1(&u, mem, upd.ptr, 1, params) < 0)
            lm__db_log(&mem->db, LM_LOG_WARN, "could not record the use of API key %s: %s",
                       key_id, lm_error_last()->message);
    }
    PQclear(u);
    lm_buf_dispose(&upd);
    lm__error_clear();
}

int lm_key_verify(lm_principal *out, lm_memory *mem, const char *key)
{
    PGresult *res = NULL;
    char key_id[LM_KEY_ID_LEN + 1], secret[LM_KEY_SECRET_LEN + 1], hash[65];
    const char *stored;
    size_t plen = strlen(LM_KEY_PREFIX);
    lm__keyent ent;
    lm_memory *use_mem = mem; /* where the key's use is recorded: through a proxy, its shard */
    uint64_t gen = 0;
    int rc, cached, use;

    LM_ASSERT_ARG(out != NULL);
    memset(out, 0, sizeof(*out));
    LM_ASSERT_ARG(mem != NULL);
    memset(secret, 0, sizeof(secret));
    memset(&ent, 0, sizeof(ent));
    if (key == NULL || strlen(key) != LM_KEY_LEN || strncmp(key, LM_KEY_PREFIX, plen) != 0 ||
        key[plen + LM_KEY_ID_LEN] != '_' || !is_lower_hex(key + plen, LM_KEY_ID_LEN) ||
        !is_lower_hex(key + plen + LM_KEY_ID_LEN + 1, LM_KEY_SECRET_LEN)) {
        rc = refuse("invalid API key");
        lm__error_detail("An API key looks like lmk_<16 hex digits>_<64 hex digits>.");
        return rc;
    }
    memcpy(key_id, key + plen, LM_KEY_ID_LEN);
    key_id[LM_KEY_ID_LEN] = '\0';
    memcpy(secret, key + plen + LM_KEY_ID_LEN + 1, LM_KEY_SECRET_LEN);
    secret[LM_KEY_SECRET_LEN] = '\0';
    key_hash(hash, key_id, secret);

    /* A cached key (api/keycache.c): the secret and the expiry are checked all the same. */
    cached = lm__keycache_begin(mem, &gen);
    if (cached && lm__keycache_get(&ent, mem, key_id, &use)) {
        if (sodium_memcmp(hash, ent.hash, 64) != 0) {
            rc = refuse("invalid API key");
            goto out;
        }
        *out = ent.who;
        if (use)
            record_use(mem, key_id);
        rc = 0;
        goto out;
    }

    rc = mem->db.proxy ? verify_lookup_proxy(&res, &use_mem, mem, key_id)
                       : verify_lookup(&res, mem, key_id, cached);
    if (rc < 0)
        goto out;
    if (res == NULL || PQntuples(res) != 1) {
        rc = refuse("invalid API key");
        goto out;
    }
    stored = PQgetvalue(res, 0, 4);
    if (strlen(stored) != 64 || sodium_memcmp(hash, stored, 64) != 0) {
        rc = refuse("invalid API key");
        goto out;
    }
    /* Only a holder of the secret learns that a key was revoked or expired. */
    if (PQgetvalue(res, 0, 5)[0] == 't') {
        rc = refuse("API key has been revoked");
        goto out;
    }
    if (PQgetvalue(res, 0, 6)[0] == 't') {
        rc = refuse("API key has expired");
        goto out;
    }
    snprintf(out->key_id, sizeof(out->key_id), "%s", key_id);
    snprintf(out->owner_id, sizeof(out->owner_id), "%s", PQgetvalue(res, 0, 0));
    snprintf(out->origin, sizeof(out->origin), "%s", PQgetvalue(res, 0, 1));
    if (lm_key_scope_parse(&out->scope, PQgetvalue(res, 0, 2)) < 0) {
        memset(out, 0, sizeof(*out));
        rc = lm__error_set(LM_EDB, "API key \"%s\" has an invalid scope", key_id);
        goto out;
    }
    out->allow_subtenants = PQgetvalue(res, 0, 3)[0] == 't';
    if (PQgetvalue(res, 0, 7)[0] == 't')
        record_use(use_mem, key_id);
    if (cached) {
        double now = lm__now_ms();
        ent.who = *out;
        memcpy(ent.hash, stored, 65);
        ent.used_ms = now; /* recorded above, or less than a minute ago */
        if (!PQgetisnull(res, 0, 8)) {
            double left_s = strtod(PQgetvalue(res, 0, 8), NULL);
            ent.expires_ms = now + (left_s > 0 ? left_s * 1000.0 : 0.0);
        }
        lm__keycache_put(mem, gen, &ent);
    }
    rc = 0;
out:
    sodium_memzero(secret, sizeof(secret));
    sodium_memzero(hash, sizeof(hash));
    sodium_memzero(&ent, sizeof(ent));
    PQclear(res);
    return rc;
}

/* ---- list ------------------------------------------------------------------------------------ */

struct lm_keys {
    PGresult *res;
    lm_key_info *items;
    size_t n;
};

static const char *nullable(const PGresult *res, int r, int c)
{
    return PQgetisnull(res, r, c) ? NULL : PQgetvalue(res, r, c);
}

int lm_key_list(lm_keys **out, lm_memory *mem, const char *owner_id, int with_subtenants)
{
    lm_keys *k = NULL;
    lm_buf sql = LM_BUF_INIT;
    int rc, n;

    LM_ASSERT_ARG(out != NULL);
    *out = NULL;
    LM_ASSERT_ARG(mem != NULL);
    if (owner_id != NULL && (rc = lm__validate_owner_id(owner_id)) < 0)
        return rc;
    if ((k = lm__calloc(1, sizeof(*k))) == NULL)
        return LM_ENOMEM;
    if (mem->sql_functions) /* 067: one owner on its shard, or every shard's keys */
        lm__buf_printf(&sql,
                       "SELECT key_id, owner_id, origin, scope, allow_subtenants, name,"
                       " created_at, expires_at, revoked_at, last_used_at FROM %s.%s"
                       " ORDER BY created, key_id",
                       mem->db.qschema,
                       owner_id == NULL ? "lm_all_key_list()"
                       : !with_subtenants ? "lm_key_list($1, false)"
                       /* 073: a sub-tenant may be on another shard than its parent */
                       : mem->db.proxy ? "lm_all_key_list_tree($1)"
                                       : "lm_key_list($1, true)");
    else
        lm__buf_printf(
            &sql,
            "SELECT key_id, owner_id, origin, scope, allow_subtenants, name, " TS(
                "created_at") ", " TS("expires_at") ", " TS("revoked_at") ", " TS(
                "last_used_at") " FROM %s.api_keys",
            mem->db.qschema);
    if (!mem->sql_functions && owner_id != NULL)
        lm__buf_puts(&sql, with_subtenants
                               ? " WHERE owner_id = $1 OR starts_with(owner_id, $1 || '/')"
                               : " WHERE owner_id = $1");
    if (!mem->sql_functions)
        lm__buf_puts(&sql, " ORDER BY created_at, key_id");
    if (lm__buf_oom(&sql)) {
        rc = LM_ENOMEM;
        goto out;
    }
    {
        const char *params[] = {owner_id};
        if ((rc = exec1(&k->res, mem, sql.ptr, owner_id ? 1 : 0, owner_id ? params : NULL)) < 0)
            goto out;
    }
    n = PQntuples(k->res);
    if ((k->items = lm__calloc((size_t)(n ? n : 1), sizeof(*k->items))) == NULL) {
        rc = LM_ENOMEM;
        goto out;
    }
    for (int r = 0; r < n; r++) {
        lm_key_info *i = &k->items[r];
        i->key_id = PQgetvalue(k->res, r, 0);
        i->owner_id = PQgetvalue(k->res, r, 1);
        i->origin = nullable(k->res, r, 2);
        if (lm_key_scope_parse(&i->scope, PQgetvalue(k->res, r, 3)) < 0) {
            lm__error_clear();
            i->scope = LM_SCOPE_READ;
        }
        i->allow_subtenants = PQgetvalue(k->res, r, 4)[0] == 't';
        i->name = nullable(k->res, r, 5);
        i->created_at = PQgetvalue(k->res, r, 6);
        i->expires_at = nullable(k->res, r, 7);
        i->revoked_at = nullable(k->res, r, 8);
        i->last_used_at = nullable(k->res, r, 9);
    }
    k->n = (size_t)n;
    *out = k;
    k = NULL;
out:
    lm_keys_free(k);
    lm_buf_dispose(&sql);
    return rc;
}

size_t lm_keys_count(const lm_keys *keys)
{
    return keys ? keys->n : 0;
}

const lm_key_info *lm_keys_at(const lm_keys *keys, size_t i)
{
    return keys && i < keys->n ? &keys->items[i] : NULL;
}

void lm_keys_free(lm_keys *keys)
{
    if (keys == NULL)
        return;
    PQclear(keys->res);
    lm__free(keys->items);
    lm__free(keys);
}

/* ---- revoke ---------------------------------------------------------------------------------- */

int lm_key_revoke(lm_memory *mem, const char *owner_id, int with_subtenants, const char *key_id)
{
    PGresult *res = NULL;
    lm_buf sql = LM_BUF_INIT;
    int rc;

    LM_ASSERT_ARG(mem != NULL);
    if ((rc = validate_key_id(key_id)) < 0)
        return rc;
    if (owner_id != NULL && (rc = lm__validate_owner_id(owner_id)) < 0)
        return rc;
    /* coalesce keeps the first revocation time when a key is revoked again. */
    if (mem->sql_functions) /* 067: on the owner's shard, or on every shard */
        lm__buf_printf(&sql, "SELECT * FROM %s.%s", mem->db.qschema,
                       owner_id == NULL ? "lm_all_key_revoke($1)"
                       : !with_subtenants ? "lm_key_revoke($2, false, $1)"
                       : mem->db.proxy    ? "lm_all_key_revoke_tree($2, $1)" /* 073 */
                                          : "lm_key_revoke($2, true, $1)");
    else
        lm__buf_printf(&sql,
                       "UPDATE %s.api_keys SET revoked_at = coalesce(revoked_at, now())"
                       " WHERE key_id = $1",
                       mem->db.qschema);
    if (!mem->sql_functions && owner_id != NULL)
        lm__buf_puts(&sql, with_subtenants
                               ? " AND (owner_id = $2 OR starts_with(owner_id, $2 || '/'))"
                               : " AND owner_id = $2");
    if (!mem->sql_functions)
        lm__buf_puts(&sql, " RETURNING key_id, owner_id");
    if (lm__buf_oom(&sql)) {
        rc = LM_ENOMEM;
        goto out;
    }
    {
        const char *params[] = {key_id, owner_id};
        if ((rc = exec1(&res, mem, sql.ptr, owner_id ? 2 : 1, params)) < 0)
            goto out;
    }
    if (PQntuples(res) == 0) {
        rc = lm__error_set(LM_ENOTFOUND, "API key \"%s\" does not exist", key_id);
        goto out;
    }
    /* This process's cache drops it now; others' on the notification (066_key_notify.sql). */
    lm__keycache_forget(mem, key_id);
    lm__db_log(&mem->db, LM_LOG_INFO, "revoked API key %s", key_id);
    {
        char detail[96];
        snprintf(detail, sizeof(detail), "{\"key_id\": \"%s\"}", key_id);
        lm__audit(mem, PQgetvalue(res, 0, 1), "key.revoke", "success", detail);
    }
out:
    PQclear(res);
    lm_buf_dispose(&sql);
    return rc;
}

/* ---- readiness and pool usage ---------------------------------------------------------------- */

int lm_memory_ready(lm_memory *mem)
{
    PGresult *res = NULL;
    lm_buf sql = LM_BUF_INIT;
    int rc;

    LM_ASSERT_ARG(mem != NULL);
    if (mem->sql_functions) {
        /* 067: the names this database (through a proxy: any shard) has not applied */
        lm_buf names = LM_BUF_INIT;
        lm__buf_putc(&names, '{');
        for (size_t i = 0; i < lm__migration_count; i++)
            lm__buf_printf(&names, "%s\"%s\"", i ? "," : "", lm__migrations[i].name);
        lm__buf_putc(&names, '}');
        lm__buf_printf(&sql, "SELECT * FROM %s.lm_all_migrations_missing($1::text[])",
                       mem->db.qschema);
        const char *params[1] = {names.ptr};
        rc = lm__buf_oom(&sql) || lm__buf_oom(&names) ? LM_ENOMEM
                                                      : exec1(&res, mem, sql.ptr, 1, params);
        lm_buf_dispose(&names);
        if (rc == 0 && PQntuples(res) > 0)
            rc = lm__error_set(LM_EDB, "migration \"%s\" has not been applied",
                               PQgetvalue(res, 0, 0));
        else if (rc < 0 && rc != LM_ECONN && rc != LM_ENOMEM)
            rc = lm__error_set(LM_EDB, "schema \"%s\" is not migrated", mem->db.schema);
        goto out;
    }
    lm__buf_printf(&sql, "SELECT filename FROM %s.schema_migrations", mem->db.qschema);
    if (lm__buf_oom(&sql)) {
        rc = LM_ENOMEM;
        goto out;
    }
    if ((rc = exec1(&res, mem, sql.ptr, 0, NULL)) < 0) {
        /* A missing schema or table is a missing migration, not a connection problem. */
        if (rc != LM_ECONN && rc != LM_ENOMEM)
            rc = lm__error_set(LM_EDB, "schema \"%s\" is not migrated", mem->db.schema);
        goto out;
    }
    for (size_t i = 0; i < lm__migration_count; i++) {
        int found = 0;
        for (int r = 0; r < PQntuples(res) && !found; r++)
            found = strcmp(PQgetvalue(res, r, 0), lm__migrations[i].name) == 0;
        if (!found) {
            rc = lm__error_set(LM_EDB, "migration \"%s\" has not been applied",
                               lm__migrations[i].name);
            goto out;
        }
    }
out:
    PQclear(res);
    lm_buf_dispose(&sql);
    return rc;
}

void lm_memory_pool_usage(lm_pool_usage *out, lm_memory *mem)
{
    lm__pool *p;

    if (out == NULL)
        return;
    memset(out, 0, sizeof(*out));
    if (mem == NULL)
        return;
    p = mem->db.pool.shared ? mem->db.pool.shared : &mem->db.pool;
    pthread_mutex_lock(&p->mu);
    out->size = p->size;
    out->open = p->open;
    out->in_use = p->open - p->n_idle;
    pthread_mutex_unlock(&p->mu);
}
