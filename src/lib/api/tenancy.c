/*
 * api/tenancy.c: the schema-per-tenant and database-per-tenant modes. A routing memory (the one
 * lm_memory_open() returns in those modes) keeps a cache of tenant memories, one per tenant (the
 * owner id's first segment), opened on first use and closed least recently used first beyond
 * tenant_handles, never while a call uses one (reference counts). Schema mode: the tenant's
 * memory works in its own schema on the routing memory's pools. Database mode: on its own pools,
 * for the database that the URL template or the map file names, created when missing.
 *
 * Concurrency: one mutex guards the cache; opening (connecting, migrating) happens outside it,
 * and a second caller for a tenant that is being opened waits for the first. Between processes,
 * the migration advisory lock (db/migrate.c) and CREATE DATABASE's own uniqueness serialise the
 * first use.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "api/memory.h"
#include "buf.h"
#include "error.h"
#include "hash.h"
#include "validate.h"

#define LM__TENANT_NAME_CUT 24   /* sanitised characters kept of the tenant's segment */
#define LM__SCHEMA_PREFIX_CUT 25 /* characters kept of the routing schema in tenant schemas */

typedef struct tenant {
    char name[64];  /* lm_tenant_name() */
    lm_memory *mem; /* NULL while it is being opened */
    int refs;       /* calls using it */
    uint64_t used;  /* tick of the last use */
} tenant;

typedef struct lm__router {
    lm_tenancy mode;
    lm_memory *base;
    pthread_mutex_t mu;
    pthread_cond_t opened;
    int cap;
    tenant **t;
    int n, alloc;
    uint64_t tick;
    char *url_template; /* database mode: "{owner}" (and "{schema}") substituted */
    char **map_owner;   /* database mode with a map file */
    char **map_url;
    size_t map_n;
    char *migrate; /* migration URL, or NULL */
    lm__tenant_open_fn open_fn; /* api/memory.c's, passed in so no file of api/ needs the */
    void (*close_fn)(lm_memory *); /* other's symbols both ways (scripts/check-deps.sh) */
} lm__router;

static const char *env_nonempty(const char *name)
{
    const char *v = getenv(name);
    return v && v[0] ? v : NULL;
}

static const char *const mode_names[] = {NULL, "shared", "schema", "database"};

const char *lm_tenancy_name(lm_tenancy mode)
{
    return mode >= LM_TENANCY_SHARED && mode <= LM_TENANCY_DATABASE ? mode_names[mode] : NULL;
}

int lm_tenancy_parse(lm_tenancy *out, const char *name)
{
    LM_ASSERT_ARG(out != NULL);
    for (int m = LM_TENANCY_SHARED; m <= LM_TENANCY_DATABASE; m++)
        if (name != NULL && strcmp(name, mode_names[m]) == 0) {
            *out = (lm_tenancy)m;
            return 0;
        }
    lm__error_set_field(LM_EINVAL, "tenancy", "invalid tenancy mode \"%.40s\"", name ? name : "");
    lm__error_hint("Use shared, schema or database.");
    return LM_EINVAL;
}

int lm_tenant_name(char out[64], const char *owner_id)
{
    char hex[65];
    size_t seg, k = 0;
    int rc;

    LM_ASSERT_ARG(out != NULL);
    out[0] = '\0';
    if ((rc = lm__validate_owner_id(owner_id)) < 0)
        return rc;
    seg = strcspn(owner_id, "/");
    lm__sha256_hex(hex, owner_id, seg);
    for (size_t i = 0; i < seg && k < LM__TENANT_NAME_CUT; i++) {
        char c = owner_id[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        out[k++] = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ? c : '_';
    }
    snprintf(out + k, 64 - k, "_%.12s", hex);
    return 0;
}

lm_tenancy lm_memory_tenancy(const lm_memory *mem)
{
    return mem != NULL && mem->router != NULL ? mem->router->mode : LM_TENANCY_SHARED;
}

int lm_memory_tenant_count(lm_memory *mem)
{
    int n = 0;
    if (mem == NULL || mem->router == NULL)
        return 0;
    pthread_mutex_lock(&mem->router->mu);
    for (int i = 0; i < mem->router->n; i++)
        n += mem->router->t[i]->mem != NULL;
    pthread_mutex_unlock(&mem->router->mu);
    return n;
}

/* Read the map file: "owner URL" per line, blank lines and # comments skipped. */
static int load_map(lm__router *r, const char *path)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    int lineno = 0, rc = 0;

    if (f == NULL) {
        lm__error_set_field(LM_EINVAL, "tenant_map", "could not open tenant map \"%.200s\"", path);
        return LM_EINVAL;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        char *p = line, *owner, *url, *end;
        lineno++;
        if (strchr(line, '\n') == NULL && !feof(f)) {
            rc = lm__error_set_field(LM_EINVAL, "tenant_map", "line %d of tenant map \"%.200s\" "
                                     "is too long", lineno, path);
            break;
        }
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '#' || *p == '\n' || *p == '\r' || *p == '\0')
            continue;
        owner = p;
        p += strcspn(p, " \t");
        if (*p != '\0')
            *p++ = '\0';
        while (*p == ' ' || *p == '\t')
            p++;
        url = p;
        end = url + strlen(url);
        while (end > url && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' ' ||
                             end[-1] == '\t'))
            *--end = '\0';
        if (url[0] == '\0' || lm__validate_owner_id(owner) < 0 || strchr(owner, '/') != NULL) {
            rc = lm__error_set_field(LM_EINVAL, "tenant_map", "invalid line %d in tenant map "
                                     "\"%.200s\"", lineno, path);
            lm__error_detail("Each line is an owner id without \"/\" and a database URL.");
            break;
        }
        char **o2 = lm__realloc(r->map_owner, (r->map_n + 1) * sizeof(char *));
        if (o2 != NULL)
            r->map_owner = o2;
        char **u2 = lm__realloc(r->map_url, (r->map_n + 1) * sizeof(char *));
        if (u2 != NULL)
            r->map_url = u2;
        if (o2 == NULL || u2 == NULL) {
            rc = LM_ENOMEM;
            break;
        }
        r->map_owner[r->map_n] = lm__strdup(owner);
        r->map_url[r->map_n] = lm__strdup(url);
        r->map_n++;
        if (r->map_owner[r->map_n - 1] == NULL || r->map_url[r->map_n - 1] == NULL) {
            rc = LM_ENOMEM;
            break;
        }
    }
    fclose(f);
    return rc;
}

static void router_free(lm__router *r)
{
    for (size_t i = 0; i < r->map_n; i++) {
        lm__free(r->map_owner[i]);
        lm__free(r->map_url[i]);
    }
    lm__free(r->map_owner);
    lm__free(r->map_url);
    lm__free(r->url_template);
    lm__free(r->migrate);
    lm__free(r->t);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->opened);
    lm__free(r);
}

int lm__router_init(lm_memory *mem, const lm_memory_opts *opts, lm__tenant_open_fn open_fn,
                    void (*close_fn)(lm_memory *))
{
    lm_memory_opts o = LM_MEMORY_OPTS_INIT;
    lm_tenancy mode = LM_TENANCY_SHARED;
    const char *env, *url, *map, *mig;
    lm__router *r;
    long cap = 64;
    int rc;

    if (opts != NULL)
        o = *opts;
    if (o.tenancy != LM_TENANCY_DEFAULT) {
        if (lm_tenancy_name((lm_tenancy)o.tenancy) == NULL)
            return lm__error_set_field(LM_EINVAL, "tenancy", "invalid tenancy mode %d", o.tenancy);
        mode = (lm_tenancy)o.tenancy;
    } else if ((env = env_nonempty("LLMEMORY_TENANCY")) != NULL &&
               (rc = lm_tenancy_parse(&mode, env)) < 0) {
        return rc;
    }
    if (mode == LM_TENANCY_SHARED)
        return 0;
    if (o.tenant_handles < 0)
        return lm__error_set_field(LM_EINVAL, "tenant_handles", "tenant_handles must not be "
                                   "negative");
    if (o.tenant_handles > 0) {
        cap = o.tenant_handles;
    } else if ((env = env_nonempty("LLMEMORY_TENANT_HANDLES")) != NULL) {
        char *end = NULL;
        cap = strtol(env, &end, 10);
        if (*end != '\0' || cap < 1 || cap > 100000) {
            lm__error_set_field(LM_EINVAL, "tenant_handles", "invalid LLMEMORY_TENANT_HANDLES "
                                "\"%.40s\"", env);
            lm__error_hint("Give the number of tenant memories kept open, 1 to 100000.");
            return LM_EINVAL;
        }
    }
    url = o.tenant_url ? o.tenant_url : env_nonempty("LLMEMORY_TENANT_URL");
    map = o.tenant_map ? o.tenant_map : env_nonempty("LLMEMORY_TENANT_MAP");
    mig = o.migrate_url ? o.migrate_url : env_nonempty("LLMEMORY_MIGRATE_URL");
    if (mode == LM_TENANCY_DATABASE) {
        if ((url == NULL) == (map == NULL)) {
            lm__error_set_field(LM_EINVAL, "tenant_url", "the database tenancy mode needs %s",
                                url ? "a tenant URL or a tenant map, not both"
                                    : "a tenant URL template or a tenant map");
            lm__error_hint("Set LLMEMORY_TENANT_URL (e.g. postgresql:///tenant_{owner}) or "
                           "LLMEMORY_TENANT_MAP (a file of \"owner URL\" lines).");
            return LM_EINVAL;
        }
        if (url != NULL && strstr(url, "{owner}") == NULL) {
            lm__error_set_field(LM_EINVAL, "tenant_url", "tenant URL template has no {owner}");
            lm__error_detail("Every tenant would share one database.");
            return LM_EINVAL;
        }
    }
    if ((r = lm__calloc(1, sizeof(*r))) == NULL)
        return LM_ENOMEM;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->opened, NULL);
    r->mode = mode;
    r->base = mem;
    r->open_fn = open_fn;
    r->close_fn = close_fn;
    r->cap = (int)cap;
    rc = 0;
    if (mode == LM_TENANCY_DATABASE && url != NULL && (r->url_template = lm__strdup(url)) == NULL)
        rc = LM_ENOMEM;
    if (rc == 0 && mode == LM_TENANCY_DATABASE && map != NULL)
        rc = load_map(r, map);
    if (rc == 0 && mig != NULL && (r->migrate = lm__strdup(mig)) == NULL)
        rc = LM_ENOMEM;
    if (rc < 0) {
        router_free(r);
        return rc;
    }
    mem->router = r;
    lm__db_log(&mem->db, LM_LOG_INFO, "tenancy: %s mode, up to %d tenant memories open",
               lm_tenancy_name(mode), r->cap);
    return 0;
}

/* Replace every "{owner}" with @p name and "{schema}" with the routing memory's schema. */
static void expand_template(lm_buf *out, const char *tpl, const char *name, const char *schema)
{
    for (const char *p = tpl; *p != '\0';) {
        if (strncmp(p, "{owner}", 7) == 0) {
            lm__buf_puts(out, name);
            p += 7;
        } else if (strncmp(p, "{schema}", 8) == 0) {
            lm__buf_puts(out, schema);
            p += 8;
        } else {
            lm__buf_putc(out, *p++);
        }
    }
}

/* Open the memory of tenant @p name (owner id @p owner_id) in database mode. */
static int open_database(lm_memory **out, lm__router *r, const char *name, const char *owner_id)
{
    lm_memory *base = r->base;
    lm_buf url = LM_BUF_INIT, mig = LM_BUF_INIT;
    char dbname[256];
    size_t seg = strcspn(owner_id, "/");
    int rc;

    if (r->url_template != NULL) {
        expand_template(&url, r->url_template, name, base->db.schema);
    } else {
        for (size_t i = 0; i < r->map_n; i++)
            if (strlen(r->map_owner[i]) == seg && strncmp(r->map_owner[i], owner_id, seg) == 0)
                lm__buf_puts(&url, r->map_url[i]);
        if (url.size == 0) {
            rc = lm__error_set_field(LM_EINVAL, "owner_id", "tenant \"%.*s\" has no database in "
                                     "the tenant map", (int)(seg > 80 ? 80 : seg), owner_id);
            lm__error_hint("Add a line \"%.*s URL\" to the file LLMEMORY_TENANT_MAP names.",
                           (int)(seg > 80 ? 80 : seg), owner_id);
            goto out;
        }
    }
    if (lm__buf_oom(&url)) {
        rc = LM_ENOMEM;
        goto out;
    }
    if ((rc = lm__conninfo_dbname(dbname, sizeof(dbname), url.ptr)) < 0)
        goto out;
    if (dbname[0] == '\0' || strlen(dbname) > 63) {
        rc = lm__error_set_field(LM_EINVAL, "tenant_url", "tenant database name \"%.80s\" is %s",
                                 dbname, dbname[0] ? "longer than 63 bytes" : "empty");
        lm__error_detail("PostgreSQL would cut it, and two tenants could share a database.");
        goto out;
    }
    if (r->migrate != NULL && (rc = lm__conninfo_with_dbname(&mig, r->migrate, dbname)) < 0)
        goto out;
    rc = r->open_fn(out, base, base->db.schema, url.ptr,
                                r->migrate != NULL ? mig.ptr : NULL);
    if (rc == LM_ECONN) {
        /* Perhaps the database does not exist yet: create it through the owner's URL (else the
           routing memory's), any database of the cluster serving for CREATE DATABASE. */
        lm__error_saved first;
        int made;
        lm__error_save(&first);
        made = lm__db_create_database(r->migrate ? r->migrate : base->db.pool.conninfo, dbname,
                                      base->db.pool.connect_timeout_s);
        if (made == 1) {
            lm__error_restore(&first); /* it exists: the tenant URL itself is at fault */
        } else if (made == 0) {
            lm__db_log(&base->db, LM_LOG_INFO, "created database %s for a tenant", dbname);
            rc = r->open_fn(out, base, base->db.schema, url.ptr,
                                        r->migrate != NULL ? mig.ptr : NULL);
        } else {
            rc = made;
        }
    }
out:
    lm_buf_dispose(&url);
    lm_buf_dispose(&mig);
    return rc;
}

static int open_tenant(lm_memory **out, lm__router *r, const char *name, const char *owner_id)
{
    char schema[LM__SCHEMA_PREFIX_CUT + 1 + 64];

    if (r->mode == LM_TENANCY_DATABASE)
        return open_database(out, r, name, owner_id);
    /* 25 + 1 + 37 bytes at most: a valid identifier (lm__db_set_schema checks it again). */
    snprintf(schema, sizeof(schema), "%.*s_%s", LM__SCHEMA_PREFIX_CUT, r->base->db.schema, name);
    return r->open_fn(out, r->base, schema, NULL, NULL);
}

/* Close @p victims (memories taken out of the cache), keeping the caller's error record. */
static void close_all(lm__router *r, lm_memory **victims, int n)
{
    lm__error_saved saved;
    if (n == 0)
        return;
    lm__error_save(&saved);
    for (int i = 0; i < n; i++)
        r->close_fn(victims[i]);
    lm__error_restore(&saved);
}

/* Under the mutex: take least recently used idle tenants out until at most cap are open (one
   in use is never taken). Returns how many went into @p victims, to close after unlocking. */
static int evict(lm__router *r, lm_memory **victims, int max)
{
    int n = 0;
    while (n < max) {
        int open = 0, lru = -1;
        for (int i = 0; i < r->n; i++) {
            tenant *t = r->t[i];
            if (t->mem == NULL)
                continue;
            open++;
            if (t->refs == 0 && (lru < 0 || t->used < r->t[lru]->used))
                lru = i;
        }
        if (open <= r->cap || lru < 0)
            break;
        victims[n++] = r->t[lru]->mem;
        lm__free(r->t[lru]);
        r->t[lru] = r->t[--r->n];
    }
    return n;
}

int lm_memory_tenant(lm_memory **out, lm_memory *mem, const char *owner_id)
{
    lm__router *r;
    tenant *t = NULL;
    char name[64];
    lm_memory *victims[4];
    int rc, n_victims;

    LM_ASSERT_ARG(out != NULL && mem != NULL);
    *out = NULL;
    if ((rc = lm__validate_owner_id(owner_id)) < 0)
        return rc;
    if ((r = mem->router) == NULL) {
        *out = mem;
        return 0;
    }
    lm_tenant_name(name, owner_id);
    pthread_mutex_lock(&r->mu);
    for (;;) {
        t = NULL;
        for (int i = 0; i < r->n && t == NULL; i++)
            if (strcmp(r->t[i]->name, name) == 0)
                t = r->t[i];
        if (t == NULL || t->mem != NULL)
            break;
        pthread_cond_wait(&r->opened, &r->mu); /* another call is opening it */
    }
    if (t != NULL) {
        t->refs++;
        t->used = ++r->tick;
        *out = t->mem;
        pthread_mutex_unlock(&r->mu);
        return 0;
    }
    if (r->n == r->alloc) {
        int na = r->alloc ? 2 * r->alloc : 16;
        tenant **nt = lm__realloc(r->t, (size_t)na * sizeof(*nt));
        if (nt == NULL) {
            pthread_mutex_unlock(&r->mu);
            return LM_ENOMEM;
        }
        r->t = nt;
        r->alloc = na;
    }
    if ((t = lm__calloc(1, sizeof(*t))) == NULL) {
        pthread_mutex_unlock(&r->mu);
        return LM_ENOMEM;
    }
    snprintf(t->name, sizeof(t->name), "%s", name);
    t->refs = 1;
    r->t[r->n++] = t;
    pthread_mutex_unlock(&r->mu);

    lm_memory *m = NULL;
    rc = open_tenant(&m, r, name, owner_id);

    pthread_mutex_lock(&r->mu);
    if (rc < 0) {
        for (int i = 0; i < r->n; i++)
            if (r->t[i] == t) {
                r->t[i] = r->t[--r->n];
                break;
            }
        lm__free(t);
        pthread_cond_broadcast(&r->opened);
        pthread_mutex_unlock(&r->mu);
        return rc;
    }
    t->mem = m;
    t->used = ++r->tick;
    n_victims = evict(r, victims, 4);
    pthread_cond_broadcast(&r->opened);
    pthread_mutex_unlock(&r->mu);
    close_all(r, victims, n_victims);
    *out = m;
    return 0;
}

void lm_memory_tenant_release(lm_memory *mem, lm_memory *tenant_mem)
{
    lm__router *r;
    lm_memory *victims[4];
    int n_victims;

    if (mem == NULL || tenant_mem == NULL || tenant_mem == mem || (r = mem->router) == NULL)
        return;
    pthread_mutex_lock(&r->mu);
    for (int i = 0; i < r->n; i++)
        if (r->t[i]->mem == tenant_mem) {
            r->t[i]->refs--;
            r->t[i]->used = ++r->tick;
            break;
        }
    n_victims = evict(r, victims, 4);
    pthread_mutex_unlock(&r->mu);
    close_all(r, victims, n_victims);
}

int lm__router_each(lm_memory *mem, int (*fn)(lm_memory *tenant, void *arg), void *arg)
{
    lm__router *r = mem->router;
    lm_memory **snap = NULL;
    int n = 0, rc = 0;

    if (r == NULL)
        return 0;
    pthread_mutex_lock(&r->mu);
    if (r->n > 0 && (snap = lm__calloc((size_t)r->n, sizeof(*snap))) == NULL) {
        pthread_mutex_unlock(&r->mu);
        return LM_ENOMEM;
    }
    for (int i = 0; i < r->n; i++)
        if (r->t[i]->mem != NULL) {
            r->t[i]->refs++; /* not closed while fn runs */
            snap[n++] = r->t[i]->mem;
        }
    pthread_mutex_unlock(&r->mu);
    for (int i = 0; i < n; i++) {
        if (rc == 0)
            rc = fn(snap[i], arg);
        lm_memory_tenant_release(mem, snap[i]);
    }
    lm__free(snap);
    return rc;
}

void lm__router_dispose(lm_memory *mem)
{
    lm__router *r = mem->router;
    if (r == NULL)
        return;
    for (int i = 0; i < r->n; i++) {
        r->close_fn(r->t[i]->mem);
        lm__free(r->t[i]);
    }
    mem->router = NULL;
    router_free(r);
}

int lm__route(lm__routed *rt, lm_memory **mem, const char *owner_id)
{
    lm_memory *t = NULL;
    int rc;

    if (*mem == NULL || (*mem)->router == NULL || owner_id == NULL)
        return 0;
    if (lm__validate_owner_id(owner_id) < 0) {
        lm__error_clear(); /* the call itself reports the invalid owner id */
        return 0;
    }
    if ((rc = lm_memory_tenant(&t, *mem, owner_id)) < 0)
        return rc;
    rt->base = *mem;
    rt->tenant = t;
    *mem = t;
    return 0;
}

void lm__route_end(lm__routed *rt)
{
    if (rt->base != NULL)
        lm_memory_tenant_release(rt->base, rt->tenant);
    rt->base = rt->tenant = NULL;
}
