/*
 * http/ratelimit.c: a token bucket per tenant (optional; off unless --rate-limit is given). The
 * table is a fixed array of hash chains under one mutex: the critical section is a few
 * arithmetic operations, far below a request's database work. Buckets that have refilled
 * completely are equivalent to fresh ones, so they are dropped when the table grows large.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define N_CHAINS    1024
#define MAX_BUCKETS 100000

typedef struct bucket {
    struct bucket *next;
    double tokens;
    double last_ms;
    char tenant[]; /* NUL-terminated */
} bucket;

struct srv_ratelimit {
    pthread_mutex_t mu;
    double rate, burst;
    size_t count;
    bucket *chains[N_CHAINS];
};

int srv_ratelimit_new(srv_ratelimit **out, double rate, double burst)
{
    srv_ratelimit *rl;

    *out = NULL;
    if (rate <= 0)
        return 0;
    rl = calloc(1, sizeof(*rl));
    if (rl == NULL)
        return -1;
    pthread_mutex_init(&rl->mu, NULL);
    rl->rate = rate;
    rl->burst = burst > 0 ? burst : (2 * rate < 1 ? 1 : 2 * rate);
    *out = rl;
    return 0;
}

void srv_ratelimit_free(srv_ratelimit *rl)
{
    if (rl == NULL)
        return;
    for (size_t i = 0; i < N_CHAINS; i++) {
        for (bucket *b = rl->chains[i], *next; b != NULL; b = next) {
            next = b->next;
            free(b);
        }
    }
    pthread_mutex_destroy(&rl->mu);
    free(rl);
}

static uint32_t hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

static void refill(const srv_ratelimit *rl, bucket *b, double now)
{
    b->tokens += (now - b->last_ms) / 1000.0 * rl->rate;
    if (b->tokens > rl->burst)
        b->tokens = rl->burst;
    b->last_ms = now;
}

/* Drop every bucket that is full again (called with the mutex held). */
static void prune(srv_ratelimit *rl, double now)
{
    for (size_t i = 0; i < N_CHAINS; i++) {
        bucket **pp = &rl->chains[i];
        while (*pp != NULL) {
            bucket *b = *pp;
            refill(rl, b, now);
            if (b->tokens >= rl->burst) {
                *pp = b->next;
                free(b);
                rl->count--;
            } else {
                pp = &b->next;
            }
        }
    }
}

double srv_ratelimit_take(srv_ratelimit *rl, const char *tenant)
{
    double now = srv_now_ms(), wait = 0;
    uint32_t h = hash(tenant) % N_CHAINS;
    bucket *b;

    if (rl == NULL)
        return 0;
    pthread_mutex_lock(&rl->mu);
    for (b = rl->chains[h]; b != NULL; b = b->next)
        if (strcmp(b->tenant, tenant) == 0)
            break;
    if (b == NULL) {
        size_t n = strlen(tenant);
        if (rl->count >= MAX_BUCKETS)
            prune(rl, now);
        b = malloc(sizeof(*b) + n + 1);
        if (b == NULL) {
            /* Out of memory: let the request through rather than fail it. */
            pthread_mutex_unlock(&rl->mu);
            return 0;
        }
        memcpy(b->tenant, tenant, n + 1);
        b->tokens = rl->burst;
        b->last_ms = now;
        b->next = rl->chains[h];
        rl->chains[h] = b;
        rl->count++;
    }
    refill(rl, b, now);
    if (b->tokens >= 1) {
        b->tokens -= 1;
    } else {
        wait = (1 - b->tokens) / rl->rate;
    }
    pthread_mutex_unlock(&rl->mu);
    return wait;
}
