/*
 * http/http.h: the HTTP API server behind `llmemory serve`: its configuration and its one entry
 * point. The CLI parses the command line into an srv_config and calls srv_run(); everything
 * else about the server is internal to src/http (see internal.h).
 */
#ifndef LM_HTTP_HTTP_H
#define LM_HTTP_HTTP_H

#include <stddef.h>

/* Defaults and limits (bytes unless stated). */
#define SRV_DEFAULT_ADDRESS         "127.0.0.1"
#define SRV_DEFAULT_PORT            8080
#define SRV_DEFAULT_MAX_BODY        ((size_t)12 * 1024 * 1024)
#define SRV_MAX_MAX_BODY            ((size_t)256 * 1024 * 1024)
#define SRV_DEFAULT_MAX_HEADER      ((size_t)32 * 1024) /* MHD per-connection memory */
#define SRV_DEFAULT_TIMEOUT_S       30                  /* idle connection timeout */
#define SRV_DEFAULT_MAX_CONNECTIONS 1024
#define SRV_DEFAULT_HEAD_TIMEOUT_S  10 /* deadline for a request head, from connection open */
#define SRV_DEFAULT_BODY_TIMEOUT_S  60 /* deadline for a request body, from the end of its head */
#define SRV_DEFAULT_DRAIN_S         30
/* A search of this estimated cost takes one of its tenant's request slots (lm_search_cost():
   the defaults cost 50-100, LM_MAX_SEARCH_COST 10,000). */
#define SRV_DEFAULT_SEARCH_SLOT_COST 1000
#define SRV_DEFAULT_JWT_LEEWAY_S    60
#define SRV_MAX_TOKEN_BYTES         8192 /* Authorization header value */
#define SRV_DEFAULT_PUBLIC_RATE     20.0 /* public endpoints: requests/s per client address */

typedef struct srv_config {
    /* Database (as the CLI's global options; NULL: the library's defaults). */
    const char *database_url;
    const char *home;
    const char *schema;

    /* Listening. */
    const char *address;   /* NULL: SRV_DEFAULT_ADDRESS; IPv4 or IPv6 literal */
    int port;              /* 0: pick a free port (logged, and written to port_file) */
    const char *unix_path; /* listen on this unix socket instead of TCP, or NULL */
    const char *port_file; /* write the bound port here once listening, or NULL */

    /* Capacity. */
    int threads;         /* worker threads; 0: 4 x CPUs, from 8 to 64 */
    int pool_size;       /* database connections; 0: threads */
    size_t max_body;     /* 0: SRV_DEFAULT_MAX_BODY */
    size_t max_content;  /* largest document content; 0: the library's default */
    size_t max_header;   /* 0: SRV_DEFAULT_MAX_HEADER */
    int timeout_s;       /* 0: SRV_DEFAULT_TIMEOUT_S */
    int max_connections; /* 0: SRV_DEFAULT_MAX_CONNECTIONS */
    int max_per_address; /* connections from one client address; 0: max_connections / 8 (>= 16) */
    int head_timeout_s;  /* 0: SRV_DEFAULT_HEAD_TIMEOUT_S */
    int body_timeout_s;  /* 0: SRV_DEFAULT_BODY_TIMEOUT_S */
    int tenant_requests; /* requests one tenant runs at once; 0: threads / 2 (at least 1) */
    int tenant_queue;    /* more of its requests that wait (then 429); 0: 64 */
    int search_slot_cost; /* estimated search cost (lm_search_cost()) that takes one of the
                             tenant's request slots; 0: SRV_DEFAULT_SEARCH_SLOT_COST */
    int search_slots;    /* slots all tenants' searches hold at once; 0: threads / 2, at least
                            tenant_requests */
    int drain_s;         /* graceful shutdown waits this long for requests; 0: default */
    double rate_limit;   /* requests per second per tenant; 0: off */
    double public_rate;  /* /healthz, /readyz, /metrics per client address and second; 0: default */
    double rate_burst;   /* bucket size; 0: 2 x rate_limit (at least 1) */

    /* Operator token: "Authorization: Bearer TOKEN" on /metrics gives the full metrics (request
       counts, latencies, pool, queue); without it /metrics shows only what says nothing about
       any tenant's activity. NULL: nobody gets the full metrics. */
    const char *operator_token;

    /* JWT bearer tokens (optional; API keys always work). */
    const char *jwt_secret;        /* HS256 shared secret (at least 32 bytes), or NULL */
    const char *jwt_public_key;    /* RS256 public key file (PEM), or NULL */
    const char *jwt_tenant_claim;  /* NULL: "owner_id" */
    const char *jwt_scope_claim;   /* NULL: "scope" */
    const char *jwt_origin_claim;  /* NULL: tokens are not bound to an origin */
    const char *jwt_default_scope; /* scope when the token has none; NULL: "read" */
    const char *jwt_issuer;        /* required "iss", or NULL */
    const char *jwt_audience;      /* required "aud" member, or NULL */
    int jwt_leeway_s;              /* clock skew allowed for exp/nbf; < 0: default */

    /* Embedding: 0 (default): adds only queue their chunks and a background worker embeds them;
       1: adds embed before they return (the library's synchronous mode). */
    int sync_embed;
    /* The background embedding worker's own process: the program (embed_worker_path) and its
       arguments (embed_worker_argv, NULL-terminated) that start one, i.e. a program that calls
       srv_embed_worker_run() with the server's database settings and the pipe passed as
       descriptor SRV_EMBED_WORKER_FD. It is started in a session of its own, so that under the
       kernel's autogroup its CPU time is weighed apart from the server's requests (an
       embedding backlog in the server's group doubled another tenant's search p95 beside a
       noisy one: bench/abuse/RESULTS.md). NULL: the worker is a thread of the server. */
    const char *embed_worker_path;
    const char *const *embed_worker_argv;

    /* Verified API keys cached (lm_key_cache_configure()); 0: off; < 0: the library's default
       ($LLMEMORY_KEY_CACHE, else 10000). */
    int key_cache;

    /* Logging. */
    const char *access_log; /* file for access lines; NULL or "-": standard error; "off" */
    int verbose;            /* 0: info; 1+: debug (library messages too) */
} srv_config;

/* Run the server until SIGTERM or SIGINT, then drain and stop. Logs to standard error.
   Returns a CLI exit status: 0 after a clean shutdown, 1 on a runtime error, 2 for a bad
   configuration, 4 when the database cannot be reached at start. */
int srv_run(const srv_config *cfg);

/* The descriptor on which an embedding worker process gets its pipe from the server. */
#define SRV_EMBED_WORKER_FD 3

/* Run as a server's embedding worker process (see srv_config.embed_worker_argv): open the
   memory of @p cfg (its database settings and verbosity), lower this process's CPU priority
   (lm_process_background), and drain the embedding queue, one batch at a time, until
   @p wake_fd reaches its end (the server stopped or died). A byte on @p wake_fd means new chunks
   were queued; otherwise the queue is looked at twice a second. Logs to standard error in the
   server's format. Returns a CLI exit status (0 when the pipe closed). */
int srv_embed_worker_run(const srv_config *cfg, int wake_fd);

#endif
