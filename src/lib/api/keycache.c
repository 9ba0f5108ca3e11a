/*
 * api/keycache.c: the verified-key cache of lm_key_verify() (api/keys.c).
 *
 * Key verification runs before every request of the HTTP server, and its database lookup was
 * about a third of the database's CPU per search (bench/http/cpu.sh). The cache keeps the result
 * of a successful lookup (key id -> principal, stored hash, expiry) so that the next request with
 * the same key needs no round trip. The secret is still checked on every request (SHA-256 of
 * "<key_id>:<secret>" compared in constant time with the stored hash), and so is the expiry (a
 * deadline on the monotonic clock, from the time left that the database computed).
 *
 * Revocation. Every change to a key that matters (revocation, expiry, deletion by an erasure,
 * TRUNCATE) sends NOTIFY llmemory_keys (066_key_notify.sql) at its commit. A thread of the memory
 * LISTENs on a dedicated connection and drops the key as the notification arrives (in
 * milliseconds); this process's own revocations and erasures drop it before they return. The
 * cache is used only while that connection is up: when it is lost the cache is emptied and every
 * verification goes to the database until the thread has connected and listens again. A lookup
 * that raced with an invalidation is not cached: each invalidation moves a generation counter,
 * and a result is stored only when the counter did not move since before its lookup began.
 *
 * Not used through a cluster proxy (src/lib/cluster): notifications of the shards do not reach
 * its clients, so every verification there reads the database.
 *
 * Size: LLMEMORY_KEY_CACHE entries (default 10000; 0 turns the cache off), or
 * lm_key_cache_configure(); the least recently used key goes first.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "api/memory.h"
#include "clock.h"
#include "error.h"
#include "llmemory.h"
#include "llmemory/auth.h"

#define KEYCACHE_DEFAULT 10000
#define KEYCACHE_MAX     1000000
/* The listening connection is checked with a query after this long without traffic, so a
   connection that died silently is noticed (and the cache bypassed) within about this time. */
#define HEARTBEAT_MS 2000
#define RETRY_MS     1000

typedef struct kc_entry {
    lm__keyent e;
    struct kc_entry *hnext;      /* hash chain */
    struct kc_entry *prev, *next; /* recency list, most recent after the head */
} kc_entry;

struct lm__keycache {
    pthread_mutex_t mu;
    size_t cap; /* 0: off */
    size_t n;
    size_t nbuckets; /* power of two */
    kc_entry **buckets;
    kc_entry lru; /* sentinel */
    uint64_t gen; /* moved by every invalidation */
    int listening; /* the listener is connected and LISTENs: the cache may be used */
    int started;
    int wake[2]; /* the listener's stop pipe */
    pthread_t th;
    uint64_t hits, misses;
    lm__db *db; /* for logging and the conninfo */
};

static uint64_t key_hash64(const char *key_id)
{
    /* Key ids are 16 random hex digits: their value is a good hash. */
    uint64_t v = 0;
    for (int i = 0; i < LM_KEY_ID_LEN && key_id[i]; i++) {
        char c = key_id[i];
        v = (v << 4) | (uint64_t)(c >= 'a' ? c - 'a' + 10 : c >= 'A' ? c - 'A' + 10 : c - '0');
    }
    return v * 0x9e3779b97f4a7c15ull;
}

static void unlink_entry(lm__keycache *kc, kc_entry *x)
{
    kc_entry **pp = &kc->buckets[key_hash64(x->e.who.key_id) & (kc->nbuckets - 1)];
    while (*pp != NULL && *pp != x)
        pp = &(*pp)->hnext;
    if (*pp == x)
        *pp = x->hnext;
    x->prev->next = x->next;
    x->next->prev = x->prev;
    kc->n--;
    sodium_memzero(x, sizeof(*x));
    lm__free(x);
}

static kc_entry *find(lm__keycache *kc, const char *key_id)
{
    kc_entry *x = kc->buckets[key_hash64(key_id) & (kc->nbuckets - 1)];
    while (x != NULL && strcmp(x->e.who.key_id, key_id) != 0)
        x = x->hnext;
    return x;
}

/* Empty the cache and move the generation (under kc->mu). */
static void flush_locked(lm__keycache *kc)
{
    while (kc->lru.next != &kc->lru)
        unlink_entry(kc, kc->lru.next);
    kc->gen++;
}

static void forget_locked(lm__keycache *kc, const char *key_id)
{
    kc_entry *x;
    kc->gen++;
    if (kc->buckets != NULL && (x = find(kc, key_id)) != NULL)
        unlink_entry(kc, x);
}

/* ---- the listener ---------------------------------------------------------------------------- */

static const char *conninfo_of(const lm__db *db)
{
    const lm__pool *p = db->admin ? db->admin : &db->pool;
    if (p->shared != NULL)
        p = p->shared;
    return p->conninfo;
}

static PGconn *listen_connect(lm__keycache *kc)
{
    char timeout[16];
    const lm__pool *p = kc->db->admin ? kc->db->admin : &kc->db->pool;
    snprintf(timeout, sizeof(timeout), "%d", p->connect_timeout_s > 0 ? p->connect_timeout_s : 10);
    /* Keepalives: a peer that vanished without closing the socket is noticed by the heartbeat
       query, and these bound how long that query can hang. */
    const char *keys[] = {"dbname",          "connect_timeout",     "application_name",
                          "keepalives",      "keepalives_idle",     "keepalives_interval",
                          "keepalives_count", NULL};
    const char *vals[] = {conninfo_of(kc->db), timeout, "llmemory-keys", "1", "5", "2", "2", NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    PGresult *r;

    if (c == NULL)
        return NULL;
    if (PQstatus(c) != CONNECTION_OK) {
        PQfinish(c);
        return NULL;
    }
    r = PQexec(c, "LISTEN llmemory_keys");
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        PQclear(r);
        PQfinish(c);
        return NULL;
    }
    PQclear(r);
    return c;
}

static void handle_notifies(lm__keycache *kc, PGconn *c)
{
    PGnotify *n;
    while ((n = PQnotifies(c)) != NULL) {
        pthread_mutex_lock(&kc->mu);
        if (n->extra == NULL || strcmp(n->extra, "*") == 0 || strlen(n->extra) != LM_KEY_ID_LEN)
            flush_locked(kc);
        else
            forget_locked(kc, n->extra);
        pthread_mutex_unlock(&kc->mu);
        PQfreemem(n);
    }
}

/* Wait up to @p ms for the stop pipe: 1 when asked to stop. */
static int wait_stop(lm__keycache *kc, int ms)
{
    struct pollfd pf = {kc->wake[0], POLLIN, 0};
    return poll(&pf, 1, ms) > 0;
}

static void *listener_main(void *arg)
{
    lm__keycache *kc = arg;
    PGconn *c = NULL;
    double last_traffic = 0;
    int warned = 0;

    for (;;) {
        if (c == NULL) {
            if ((c = listen_connect(kc)) == NULL) {
                if (!warned)
                    lm__db_log(kc->db, LM_LOG_WARN,
                               "API key cache: cannot listen for key changes; verifying every "
                               "key in the database until the connection is back");
                warned = 1;
                if (wait_stop(kc, RETRY_MS))
                    break;
                continue;
            }
            if (warned)
                lm__db_log(kc->db, LM_LOG_INFO, "API key cache: listening for key changes again");
            warned = 0;
            pthread_mutex_lock(&kc->mu);
            flush_locked(kc); /* whatever changed while nobody listened */
            kc->listening = 1;
            pthread_mutex_unlock(&kc->mu);
            last_traffic = lm__now_ms();
        }
        struct pollfd pf[2] = {{kc->wake[0], POLLIN, 0}, {PQsocket(c), POLLIN, 0}};
        int lost = 0;
        int n = poll(pf, 2, HEARTBEAT_MS / 2);
        if (n < 0 && errno != EINTR)
            lost = 1;
        if (pf[0].revents)
            break;
        if (!lost && n > 0 && pf[1].revents) {
            if (!PQconsumeInput(c))
                lost = 1;
            else
                last_traffic = lm__now_ms();
        } else if (!lost && lm__now_ms() - last_traffic >= HEARTBEAT_MS) {
            PGresult *r = PQexec(c, "SELECT 1");
            lost = PQresultStatus(r) != PGRES_TUPLES_OK;
            PQclear(r);
            last_traffic = lm__now_ms();
        }
        if (!lost)
            handle_notifies(kc, c);
        if (lost || PQstatus(c) != CONNECTION_OK) {
            pthread_mutex_lock(&kc->mu);
            kc->listening = 0;
            flush_locked(kc);
            pthread_mutex_unlock(&kc->mu);
            lm__db_log(kc->db, LM_LOG_WARN,
                       "API key cache: lost the connection that listens for key changes; "
                       "verifying every key in the database until it is back");
            warned = 1;
            PQfinish(c);
            c = NULL;
        }
    }
    pthread_mutex_lock(&kc->mu);
    kc->listening = 0;
    flush_locked(kc);
    pthread_mutex_unlock(&kc->mu);
    if (c != NULL)
        PQfinish(c);
    return NULL;
}

/* Stop the listener (kc->mu not held). */
static void listener_stop(lm__keycache *kc)
{
    pthread_mutex_lock(&kc->mu);
    int started = kc->started;
    kc->started = 0;
    pthread_mutex_unlock(&kc->mu);
    if (!started)
        return;
    ssize_t w;
    do
        w = write(kc->wake[1], "x", 1);
    while (w < 0 && errno == EINTR);
    pthread_join(kc->th, NULL);
    close(kc->wake[0]);
    close(kc->wake[1]);
}

/* ---- set-up ---------------------------------------------------------------------------------- */

/* Size the table for @p cap entries, emptied (kc->mu held, listener stopped). */
static int resize_locked(lm__keycache *kc, size_t cap)
{
    size_t nb = 16;
    flush_locked(kc);
    lm__free(kc->buckets);
    kc->buckets = NULL;
    kc->nbuckets = 0;
    kc->cap = 0;
    if (cap == 0)
        return 0;
    while (nb < cap)
        nb <<= 1;
    if ((kc->buckets = lm__calloc(nb, sizeof(*kc->buckets))) == NULL)
        return LM_ENOMEM;
    kc->nbuckets = nb;
    kc->cap = cap;
    return 0;
}

int lm__keycache_init(lm_memory *mem)
{
    lm__keycache *kc;
    const char *env = getenv("LLMEMORY_KEY_CACHE");
    long cap = KEYCACHE_DEFAULT;

    if (env != NULL && env[0] != '\0') {
        char *end;
        errno = 0;
        cap = strtol(env, &end, 10);
        if (strcmp(env, "off") == 0)
            cap = 0;
        else if (errno != 0 || *end != '\0' || cap < 0 || cap > KEYCACHE_MAX) {
            lm__error_set_field(LM_EINVAL, "LLMEMORY_KEY_CACHE",
                                "invalid value \"%.40s\" for LLMEMORY_KEY_CACHE", env);
            lm__error_hint("Give the number of API keys to cache (0 to %d), or off.",
                           KEYCACHE_MAX);
            return LM_EINVAL;
        }
    }
    if ((kc = lm__calloc(1, sizeof(*kc))) == NULL)
        return LM_ENOMEM;
    pthread_mutex_init(&kc->mu, NULL);
    kc->lru.next = kc->lru.prev = &kc->lru;
    kc->db = &mem->db;
    if (resize_locked(kc, (size_t)cap) < 0) {
        pthread_mutex_destroy(&kc->mu);
        lm__free(kc);
        return LM_ENOMEM;
    }
    mem->keycache = kc;
    return 0;
}

void lm__keycache_dispose(lm_memory *mem)
{
    lm__keycache *kc = mem->keycache;
    if (kc == NULL)
        return;
    listener_stop(kc);
    pthread_mutex_lock(&kc->mu);
    (void)resize_locked(kc, 0);
    pthread_mutex_unlock(&kc->mu);
    pthread_mutex_destroy(&kc->mu);
    lm__free(kc);
    mem->keycache = NULL;
}

int lm_key_cache_configure(lm_memory *mem, long entries)
{
    lm__keycache *kc;
    int rc;

    LM_ASSERT_ARG(mem != NULL);
    if (entries < 0 || entries > KEYCACHE_MAX) {
        lm__error_set_field(LM_EINVAL, "key_cache", "invalid API key cache size %ld", entries);
        lm__error_hint("Give the number of API keys to cache (0 to %d); 0 turns the cache off.",
                       KEYCACHE_MAX);
        return LM_EINVAL;
    }
    if ((kc = mem->keycache) == NULL)
        return lm__error_set(LM_EINVAL, "this memory has no API key cache");
    listener_stop(kc); /* started again on the next verification */
    pthread_mutex_lock(&kc->mu);
    rc = resize_locked(kc, (size_t)entries);
    pthread_mutex_unlock(&kc->mu);
    return rc;
}

void lm_key_cache_stats(lm_key_cache_info *out, lm_memory *mem)
{
    lm__keycache *kc;

    if (out == NULL)
        return;
    memset(out, 0, sizeof(*out));
    if (mem == NULL || (kc = mem->keycache) == NULL)
        return;
    pthread_mutex_lock(&kc->mu);
    out->capacity = kc->cap;
    out->entries = kc->n;
    out->hits = kc->hits;
    out->misses = kc->misses;
    out->active = kc->cap > 0 && kc->listening && !mem->db.proxy;
    pthread_mutex_unlock(&kc->mu);
}

/* ---- use ------------------------------------------------------------------------------------- */

int lm__keycache_begin(lm_memory *mem, uint64_t *gen)
{
    lm__keycache *kc = mem->keycache;
    int usable;

    if (kc == NULL || mem->db.proxy)
        return 0;
    pthread_mutex_lock(&kc->mu);
    if (kc->cap == 0) {
        pthread_mutex_unlock(&kc->mu);
        return 0;
    }
    if (!kc->started) {
        /* The first verification starts the listener; it is used once it listens. */
        if (pipe(kc->wake) == 0) {
            (void)fcntl(kc->wake[0], F_SETFD, FD_CLOEXEC);
            (void)fcntl(kc->wake[1], F_SETFD, FD_CLOEXEC);
            if (pthread_create(&kc->th, NULL, listener_main, kc) == 0) {
                kc->started = 1;
            } else {
                close(kc->wake[0]);
                close(kc->wake[1]);
            }
        }
        if (!kc->started) {
            /* Without a listener there is no cache: not worth failing a request for. */
            kc->cap = 0;
            lm__db_log(&mem->db, LM_LOG_WARN, "API key cache: could not start its thread; off");
        }
    }
    usable = kc->listening;
    *gen = kc->gen;
    pthread_mutex_unlock(&kc->mu);
    return usable;
}

int lm__keycache_get(lm__keyent *out, lm_memory *mem, const char *key_id, int *record_use)
{
    lm__keycache *kc = mem->keycache;
    kc_entry *x;
    double now = lm__now_ms();

    *record_use = 0;
    pthread_mutex_lock(&kc->mu);
    if (!kc->listening || kc->buckets == NULL || (x = find(kc, key_id)) == NULL) {
        kc->misses++;
        pthread_mutex_unlock(&kc->mu);
        return 0;
    }
    if (x->e.expires_ms > 0 && now >= x->e.expires_ms) {
        /* Expired: the database reports it (and a holder of the secret learns why). */
        unlink_entry(kc, x);
        kc->misses++;
        pthread_mutex_unlock(&kc->mu);
        return 0;
    }
    /* Most recently used first. */
    x->prev->next = x->next;
    x->next->prev = x->prev;
    x->next = kc->lru.next;
    x->prev = &kc->lru;
    kc->lru.next->prev = x;
    kc->lru.next = x;
    if (now - x->e.used_ms >= LM__KEY_USE_RESOLUTION_MS) {
        x->e.used_ms = now;
        *record_use = 1;
    }
    *out = x->e;
    kc->hits++;
    pthread_mutex_unlock(&kc->mu);
    return 1;
}

void lm__keycache_put(lm_memory *mem, uint64_t gen, const lm__keyent *e)
{
    lm__keycache *kc = mem->keycache;
    kc_entry *x;

    if (kc == NULL)
        return;
    pthread_mutex_lock(&kc->mu);
    /* Not when an invalidation came after the lookup began: the result may predate it. */
    if (kc->cap == 0 || !kc->listening || gen != kc->gen) {
        pthread_mutex_unlock(&kc->mu);
        return;
    }
    if ((x = find(kc, e->who.key_id)) != NULL) {
        x->e = *e;
        pthread_mutex_unlock(&kc->mu);
        return;
    }
    while (kc->n >= kc->cap)
        unlink_entry(kc, kc->lru.prev);
    if ((x = lm__calloc(1, sizeof(*x))) == NULL) {
        lm__error_clear(); /* a cache that cannot grow is no failure */
        pthread_mutex_unlock(&kc->mu);
        return;
    }
    x->e = *e;
    size_t b = key_hash64(e->who.key_id) & (kc->nbuckets - 1);
    x->hnext = kc->buckets[b];
    kc->buckets[b] = x;
    x->next = kc->lru.next;
    x->prev = &kc->lru;
    kc->lru.next->prev = x;
    kc->lru.next = x;
    kc->n++;
    pthread_mutex_unlock(&kc->mu);
}

void lm__keycache_forget(lm_memory *mem, const char *key_id)
{
    lm__keycache *kc = mem->keycache;
    if (kc == NULL)
        return;
    pthread_mutex_lock(&kc->mu);
    forget_locked(kc, key_id);
    pthread_mutex_unlock(&kc->mu);
}

void lm__keycache_forget_owner(lm_memory *mem, const char *owner_id)
{
    lm__keycache *kc = mem->keycache;
    if (kc == NULL)
        return;
    pthread_mutex_lock(&kc->mu);
    kc->gen++;
    for (kc_entry *x = kc->lru.next, *nx; x != &kc->lru; x = nx) {
        nx = x->next;
        if (strcmp(x->e.who.owner_id, owner_id) == 0)
            unlink_entry(kc, x);
    }
    pthread_mutex_unlock(&kc->mu);
}
