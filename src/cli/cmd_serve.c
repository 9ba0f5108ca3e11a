/*
 * cli/cmd_serve.c: `llmemory serve`: parse the server's options into an srv_config and run the
 * HTTP API server (src/http) until SIGTERM or SIGINT. The JWT secret is read from a file or the
 * environment, never from the command line (where any user could read it in ps).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../http/http.h"
#include "buf.h"
#include "cmd.h"

/* --max-body and the like: "12M", "512K", "1G" or bytes, up to opt->max, into the size_t at
   opt->dest. 0 or 2 (printed). */
static int opt_size(cli_ctx *ctx, const cli_opt *o, const char *arg)
{
    char *end = NULL;
    unsigned long long v, mult = 1, max = (unsigned long long)o->max;

    (void)ctx;
    errno = 0;
    v = strtoull(arg, &end, 10);
    if (end != NULL && end != arg && end[0] != '\0' && end[1] == '\0') {
        switch (end[0]) {
        case 'k':
        case 'K':
            mult = 1024ULL;
            end++;
            break;
        case 'm':
        case 'M':
            mult = 1024ULL * 1024;
            end++;
            break;
        case 'g':
        case 'G':
            mult = 1024ULL * 1024 * 1024;
            end++;
            break;
        default:
            break;
        }
    }
    if (arg[0] == '-' || end == arg || *end != '\0' || errno != 0 || v == 0 || v > max / mult) {
        cli_msg("invalid value \"%s\" for option \"--%s\"", arg, o->long_name);
        cli_detail("The value must be a size from 1 to %llu bytes, optionally with K, M or G.",
                   max);
        cli_hint("Try \"llmemory serve --help\".");
        return CLI_EXIT_USAGE;
    }
    *(size_t *)o->dest = (size_t)(v * mult);
    return 0;
}

/* --rate-limit, --rate-burst: a number above 0 into the double at opt->dest. */
static int opt_rate(cli_ctx *ctx, const cli_opt *o, const char *arg)
{
    char *end = NULL;
    double v = strtod(arg, &end);

    if (end == arg || *end != '\0' || !(v > 0 && v <= 1e6))
        return cli_usage(ctx, "invalid value \"%s\" for option \"--%s\" (a number above 0)", arg,
                         o->long_name);
    *(double *)o->dest = v;
    return 0;
}

#define SIZE_OPT(l, d, mx, h)                                                                  \
    {.kind = CLI_OPT_CALL, .long_name = (l), .argname = "SIZE", .dest = (d),                    \
     .max = (long long)(mx), .fn = opt_size, .help = (h)}

/* The whole of a small file, without trailing newlines, into @p out. 0, or 3 (no such file) or 1
   (printed). */
static int read_secret(const char *path, lm_buf *out)
{
    char err[512];
    lm_buf data = LM_BUF_INIT;
    int rc = cli_read_file(&data, path, err, sizeof(err));

    if (rc < 0) {
        cli_msg("%s", err);
        return rc == LM_ENOTFOUND ? CLI_EXIT_NOTFOUND : CLI_EXIT_ERROR;
    }
    while (data.size > 0 && (data.ptr[data.size - 1] == '\n' || data.ptr[data.size - 1] == '\r'))
        lm__buf_truncate(&data, data.size - 1);
    *out = data;
    return 0;
}

/* The command line that starts this server's embedding worker process: this program, the
   database's global options, and "serve --embed-worker-fd N" (srv_embed_worker_run). */
typedef struct worker_cmd {
    const char *argv[16];
    char fd[16];
} worker_cmd;

static void worker_argv(worker_cmd *w, const cli_ctx *ctx)
{
    int n = 0;
    w->argv[n++] = "llmemory";
    if (ctx->database_url != NULL) {
        w->argv[n++] = "--database-url";
        w->argv[n++] = ctx->database_url;
    }
    if (ctx->home != NULL) {
        w->argv[n++] = "--home";
        w->argv[n++] = ctx->home;
    }
    if (ctx->schema != NULL) {
        w->argv[n++] = "--schema";
        w->argv[n++] = ctx->schema;
    }
    if (ctx->verbose > 0)
        w->argv[n++] = "-v";
    snprintf(w->fd, sizeof(w->fd), "%d", SRV_EMBED_WORKER_FD);
    w->argv[n++] = "serve";
    w->argv[n++] = "--embed-worker-fd";
    w->argv[n++] = w->fd;
    w->argv[n] = NULL;
}

static const char about[] =
    "Run the HTTP API server. Every request carries an API key (see \"llmemory keys\") or, when\n"
    "configured, a JWT, and acts on the credential's tenant only. Logs go to standard error\n"
    "as key=value lines, with one access line per request. SIGTERM or SIGINT stops the server\n"
    "gracefully: no new connections, and requests in flight finish.\n";

int cli_cmd_serve(cli_ctx *ctx, int argc, char **argv)
{
    srv_config cfg;
    worker_cmd wcmd;
    const char *secret_file = NULL, *operator_file = NULL, *env, *embed_worker = NULL;
    int nargs, status = CLI_EXIT_USAGE, worker_fd = -1;
    const cli_opt opts[] = {
        CLI_GROUP("Listening:"),
        CLI_STRING(0, "listen", "ADDR", &cfg.address, "IPv4 or IPv6 address (default 127.0.0.1)"),
        CLI_INT('p', "port", "N", &cfg.port, 0, 65535,
                "TCP port (default 8080; 0 picks a free one, which is logged)"),
        CLI_STRING(0, "unix", "PATH", &cfg.unix_path, "listen on a unix socket instead of TCP"),
        CLI_STRING(0, "port-file", "FILE", &cfg.port_file, "write the port to FILE once listening"),
        CLI_GROUP("Capacity and limits:"),
        CLI_INT(0, "threads", "N", &cfg.threads, 1, 1024,
                "worker threads (default: 4 x CPUs, from 8 to 64)"),
        CLI_INT(0, "pool-size", "N", &cfg.pool_size, 1, 1024,
                "database connections (default: the number of threads)"),
        SIZE_OPT("max-body", &cfg.max_body, SRV_MAX_MAX_BODY,
                 "largest request body (default 12M; K, M, G suffixes)"),
        SIZE_OPT("max-content", &cfg.max_content, SRV_MAX_MAX_BODY,
                 "largest document content (default 10M)"),
        SIZE_OPT("max-header", &cfg.max_header, (size_t)16 * 1024 * 1024,
                 "memory per connection for request headers (default 32K)"),
        CLI_INT(0, "timeout", "SECONDS", &cfg.timeout_s, 1, 86400,
                "close idle connections after this long (default 30)"),
        CLI_INT(0, "max-connections", "N", &cfg.max_connections, 1, 1000000,
                "connections at once (default 1024)"),
        CLI_INT(0, "max-connections-per-address", "N", &cfg.max_per_address, 1, 1000000,
                "connections at once from one client address\n"
                "(default: max-connections / 8, at least 16)"),
        CLI_INT(0, "head-timeout", "SECONDS", &cfg.head_timeout_s, 1, 86400,
                "deadline for a request's head, however slowly it\n"
                "trickles in (default 10)"),
        CLI_INT(0, "body-timeout", "SECONDS", &cfg.body_timeout_s, 1, 86400,
                "deadline for a request's body (default 60)"),
        CLI_INT(0, "tenant-requests", "N", &cfg.tenant_requests, 1, 1024,
                "requests one tenant runs at once (default: half the\n"
                "threads); more wait without holding a worker"),
        CLI_INT(0, "tenant-queue", "N", &cfg.tenant_queue, 1, 1000000,
                "requests of one tenant that may wait; beyond, 429\n"
                "(default 64)"),
        CLI_INT(0, "search-slot-cost", "N", &cfg.search_slot_cost, 1, 1000000,
                "a search of this estimated cost takes one of its\n"
                "tenant's request slots; costlier ones take more, up\n"
                "to all of them (default 1000; see docs/http.md)"),
        CLI_INT(0, "search-slots", "N", &cfg.search_slots, 1, 1000000,
                "slots all tenants' searches hold at once; more wait,\n"
                "the tenant holding least first (default: half the\n"
                "threads, at least --tenant-requests); searches over\n"
                "one slot run at a lower CPU priority, the nice set\n"
                "by LLMEMORY_BACKGROUND_NICE (default 10, 0: off)"),
        CLI_INT(0, "drain", "SECONDS", &cfg.drain_s, 1, 86400,
                "on shutdown, wait this long for requests (default 30)"),
        CLI_CALL(0, "rate-limit", "N", &cfg.rate_limit, NULL, opt_rate,
                 "requests per second per tenant (default: no limit)"),
        CLI_CALL(0, "rate-burst", "N", &cfg.rate_burst, NULL, opt_rate,
                 "requests a tenant may send at once (default 2 x rate)"),
        CLI_CALL(0, "public-rate-limit", "N", &cfg.public_rate, NULL, opt_rate,
                 "requests per second per client address to /healthz,\n"
                 "/readyz and /metrics (default 20; beyond, a late 429)"),
        CLI_GROUP("Operator:"),
        CLI_STRING(0, "operator-token-file", "F", &operator_file,
                   "the token in F (\"Authorization: Bearer TOKEN\") gives the\n"
                   "full /metrics; or set LLMEMORY_OPERATOR_TOKEN. Without it,\n"
                   "/metrics shows nothing about tenants' activity"),
        CLI_INT(0, "key-cache", "N", &cfg.key_cache, 0, 1000000,
                "verified API keys kept in memory, so a request with a known\n"
                "key needs no database lookup (its secret and expiry are still\n"
                "checked; revocation reaches the cache by NOTIFY); 0: off\n"
                "(default LLMEMORY_KEY_CACHE, else 10000)"),
        CLI_GROUP("Embedding:"),
        CLI_FLAG(0, "sync-embed", &cfg.sync_embed,
                 "embed a document's chunks before its add returns; by default\n"
                 "an add returns once the document is stored and keyword-\n"
                 "searchable, and a background worker embeds its chunks (vector\n"
                 "search finds them moments later)"),
        CLI_STRING(0, "embed-worker", "MODE", &embed_worker,
                   "where the background worker embeds: \"process\" (default), a\n"
                   "process of its own at the background CPU priority, weighed\n"
                   "apart from the server's requests; or \"thread\", a thread of\n"
                   "the server (one copy of the model in memory)"),
        {.kind = CLI_OPT_INT, .long_name = "embed-worker-fd", .argname = "N", .dest = &worker_fd,
         .min = 0, .max = 1023, .help = "run as the embedding worker process of a server",
         .flags = CLI_OPT_HIDDEN},
        CLI_GROUP("JWT bearer tokens (optional; API keys always work):"),
        CLI_STRING(0, "jwt-secret-file", "F", &secret_file,
                   "HS256 with the shared secret in F (at least 32 bytes);\n"
                   "or set LLMEMORY_JWT_SECRET"),
        CLI_STRING(0, "jwt-public-key", "F", &cfg.jwt_public_key,
                   "RS256 with the RSA public key in F (PEM)"),
        CLI_STRING(0, "jwt-tenant-claim", "C", &cfg.jwt_tenant_claim,
                   "claim holding the tenant (default owner_id)"),
        CLI_STRING(0, "jwt-scope-claim", "C", &cfg.jwt_scope_claim,
                   "claim holding read, write or admin (default scope)"),
        CLI_STRING(0, "jwt-default-scope", "S", &cfg.jwt_default_scope,
                   "scope of tokens without one (default read)"),
        CLI_STRING(0, "jwt-origin-claim", "C", &cfg.jwt_origin_claim,
                   "claim binding a token to one id_at_origin (default: none)"),
        CLI_STRING(0, "jwt-issuer", "ISS", &cfg.jwt_issuer, "required iss claim"),
        CLI_STRING(0, "jwt-audience", "AUD", &cfg.jwt_audience, "required aud claim"),
        CLI_INT(0, "jwt-leeway", "SECONDS", &cfg.jwt_leeway_s, 0, 3600,
                "clock skew allowed for exp and nbf (default 60)"),
        CLI_GROUP("Logging:"),
        CLI_STRING(0, "access-log", "FILE", &cfg.access_log,
                   "append access lines to FILE (\"-\": standard error, the\n"
                   "default; \"off\": none)"),
        CLI_END};
    const cli_spec spec = {
        .usage = "llmemory serve [OPTION]...",
        .about = about,
        .opts = opts,
        .footer =
            "The database is chosen by the global options (--database-url, --home, --schema).\n",
        .max_args = 0};
    lm_buf secret = LM_BUF_INIT, operator_token = LM_BUF_INIT;

    memset(&cfg, 0, sizeof(cfg));
    cfg.port = SRV_DEFAULT_PORT;
    cfg.jwt_leeway_s = -1;
    cfg.key_cache = -1;
    if ((status = cli_parse(ctx, &spec, argc, argv, &nargs)) != CLI_PARSED)
        goto out;
    if (cli_remote_on(ctx)) {
        status = cli_usage(ctx, "cannot serve in remote mode (--url or LLMEMORY_URL is set)");
        goto out;
    }
    if (secret_file != NULL) {
        if ((status = read_secret(secret_file, &secret)) != 0)
            goto out;
        cfg.jwt_secret = secret.ptr;
    } else if ((env = getenv("LLMEMORY_JWT_SECRET")) != NULL && env[0] != '\0') {
        cfg.jwt_secret = env;
    }
    if (operator_file != NULL) {
        if ((status = read_secret(operator_file, &operator_token)) != 0)
            goto out;
        cfg.operator_token = operator_token.ptr;
    } else if ((env = getenv("LLMEMORY_OPERATOR_TOKEN")) != NULL && env[0] != '\0') {
        cfg.operator_token = env;
    }
    if (cfg.operator_token != NULL && strlen(cfg.operator_token) < 16) {
        status = cli_usage(ctx, "the operator token must have at least 16 characters");
        goto out;
    }
    cfg.database_url = ctx->database_url;
    cfg.home = ctx->home;
    cfg.schema = ctx->schema;
    cfg.verbose = ctx->verbose;
    if (worker_fd >= 0) {
        status = srv_embed_worker_run(&cfg, worker_fd);
        goto out;
    }
    if (embed_worker != NULL && strcmp(embed_worker, "process") != 0 &&
        strcmp(embed_worker, "thread") != 0) {
        cli_msg("invalid value \"%s\" for option \"--embed-worker\"", embed_worker);
        cli_detail("The value must be process or thread.");
        cli_hint("Try \"llmemory serve --help\".");
        status = CLI_EXIT_USAGE;
        goto out;
    }
#if defined(__linux__)
    /* The worker process runs this very program (/proc/self/exe, even if the file was replaced
       since), so it is always the server's own version. */
    if (embed_worker == NULL || strcmp(embed_worker, "process") == 0) {
        worker_argv(&wcmd, ctx);
        cfg.embed_worker_path = "/proc/self/exe";
        cfg.embed_worker_argv = wcmd.argv;
    }
#else
    (void)wcmd;
#endif
    status = srv_run(&cfg);
out:
    if (secret.size > 0)
        memset(secret.ptr, 0, secret.size);
    lm_buf_dispose(&secret);
    if (operator_token.size > 0)
        memset(operator_token.ptr, 0, operator_token.size);
    lm_buf_dispose(&operator_token);
    return status;
}
