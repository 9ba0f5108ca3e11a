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

static const char help[] =
    "Usage: llmemory serve [OPTION]...\n"
    "\n"
    "Run the HTTP API server. Every request carries an API key (see \"llmemory keys\") or, when\n"
    "configured, a JWT, and acts on the credential's tenant only. Logs go to standard error\n"
    "as key=value lines, with one access line per request. SIGTERM or SIGINT stops the server\n"
    "gracefully: no new connections, and requests in flight finish.\n"
    "\n"
    "Listening:\n"
    "      --listen ADDR        IPv4 or IPv6 address (default 127.0.0.1)\n"
    "  -p, --port N             TCP port (default 8080; 0 picks a free one, which is logged)\n"
    "      --unix PATH          listen on a unix socket instead of TCP\n"
    "      --port-file FILE     write the port to FILE once listening\n"
    "Capacity and limits:\n"
    "      --threads N          worker threads (default: 4 x CPUs, from 8 to 64)\n"
    "      --pool-size N        database connections (default: the number of threads)\n"
    "      --max-body SIZE      largest request body (default 12M; K, M, G suffixes)\n"
    "      --max-content SIZE   largest document content (default 10M)\n"
    "      --max-header SIZE    memory per connection for request headers (default 32K)\n"
    "      --timeout SECONDS    close idle connections after this long (default 30)\n"
    "      --max-connections N  connections at once (default 1024)\n"
    "      --drain SECONDS      on shutdown, wait this long for requests (default 30)\n"
    "      --rate-limit N       requests per second per tenant (default: no limit)\n"
    "      --rate-burst N       requests a tenant may send at once (default 2 x rate)\n"
    "Embedding:\n"
    "      --sync-embed         embed a document's chunks before its add returns; by default\n"
    "                           an add returns once the document is stored and keyword-\n"
    "                           searchable, and a background thread embeds its chunks (vector\n"
    "                           search finds them moments later)\n"
    "JWT bearer tokens (optional; API keys always work):\n"
    "      --jwt-secret-file F  HS256 with the shared secret in F (at least 32 bytes);\n"
    "                           or set LLMEMORY_JWT_SECRET\n"
    "      --jwt-public-key F   RS256 with the RSA public key in F (PEM)\n"
    "      --jwt-tenant-claim C claim holding the tenant (default owner_id)\n"
    "      --jwt-scope-claim C  claim holding read, write or admin (default scope)\n"
    "      --jwt-default-scope S  scope of tokens without one (default read)\n"
    "      --jwt-origin-claim C claim binding a token to one id_at_origin (default: none)\n"
    "      --jwt-issuer ISS     required iss claim\n"
    "      --jwt-audience AUD   required aud claim\n"
    "      --jwt-leeway SECONDS clock skew allowed for exp and nbf (default 60)\n"
    "Logging:\n"
    "      --access-log FILE    append access lines to FILE (\"-\": standard error, the\n"
    "                           default; \"off\": none)\n"
    "  -h, --help               print this help and exit\n"
    "\n"
    "The database is chosen by the global options (--database-url, --home, --schema).\n";

enum {
    OPT_LISTEN = 256,
    OPT_UNIX,
    OPT_PORT_FILE,
    OPT_THREADS,
    OPT_POOL,
    OPT_MAX_BODY,
    OPT_MAX_CONTENT,
    OPT_MAX_HEADER,
    OPT_TIMEOUT,
    OPT_MAX_CONN,
    OPT_DRAIN,
    OPT_RATE,
    OPT_BURST,
    OPT_JWT_SECRET_FILE,
    OPT_JWT_PUBKEY,
    OPT_JWT_TENANT,
    OPT_JWT_SCOPE,
    OPT_JWT_DEFAULT_SCOPE,
    OPT_JWT_ORIGIN,
    OPT_JWT_ISSUER,
    OPT_JWT_AUDIENCE,
    OPT_JWT_LEEWAY,
    OPT_ACCESS_LOG,
    OPT_SYNC_EMBED
};

/* "12M", "512K", "1G" or bytes, up to @p max. 0 or 2 (printed). */
static int parse_size(cli_ctx *ctx, const char *opt, const char *arg, size_t max, size_t *out)
{
    char *end = NULL;
    unsigned long long v, mult = 1;

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
        cli_msg("invalid value \"%s\" for option \"%s\"", arg, opt);
        cli_detail("The value must be a size from 1 to %zu bytes, optionally with K, M or G.", max);
        cli_hint("Try \"llmemory serve --help\".");
        return CLI_EXIT_USAGE;
    }
    *out = (size_t)(v * mult);
    return 0;
}

static int parse_rate(cli_ctx *ctx, const char *opt, const char *arg, double *out)
{
    char *end = NULL;
    double v = strtod(arg, &end);

    if (end == arg || *end != '\0' || !(v > 0 && v <= 1e6))
        return cli_usage(ctx, "invalid value \"%s\" for option \"%s\" (a number above 0)", arg,
                         opt);
    *out = v;
    return 0;
}

/* The whole of a small file, without trailing newlines, into @p out. 0 or 1 (printed). */
static int read_secret(const char *path, lm_buf *out)
{
    char err[512];
    lm_buf data = LM_BUF_INIT;

    if (cli_read_file(&data, path, err, sizeof(err)) < 0) {
        cli_msg("%s", err);
        return CLI_EXIT_ERROR;
    }
    while (data.size > 0 && (data.ptr[data.size - 1] == '\n' || data.ptr[data.size - 1] == '\r'))
        lm__buf_truncate(&data, data.size - 1);
    *out = data;
    return 0;
}

int cli_cmd_serve(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"port", required_argument, NULL, 'p'},
        {"unix", required_argument, NULL, OPT_UNIX},
        {"port-file", required_argument, NULL, OPT_PORT_FILE},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"pool-size", required_argument, NULL, OPT_POOL},
        {"max-body", required_argument, NULL, OPT_MAX_BODY},
        {"max-content", required_argument, NULL, OPT_MAX_CONTENT},
        {"max-header", required_argument, NULL, OPT_MAX_HEADER},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"max-connections", required_argument, NULL, OPT_MAX_CONN},
        {"drain", required_argument, NULL, OPT_DRAIN},
        {"sync-embed", no_argument, NULL, OPT_SYNC_EMBED},
        {"rate-limit", required_argument, NULL, OPT_RATE},
        {"rate-burst", required_argument, NULL, OPT_BURST},
        {"jwt-secret-file", required_argument, NULL, OPT_JWT_SECRET_FILE},
        {"jwt-public-key", required_argument, NULL, OPT_JWT_PUBKEY},
        {"jwt-tenant-claim", required_argument, NULL, OPT_JWT_TENANT},
        {"jwt-scope-claim", required_argument, NULL, OPT_JWT_SCOPE},
        {"jwt-default-scope", required_argument, NULL, OPT_JWT_DEFAULT_SCOPE},
        {"jwt-origin-claim", required_argument, NULL, OPT_JWT_ORIGIN},
        {"jwt-issuer", required_argument, NULL, OPT_JWT_ISSUER},
        {"jwt-audience", required_argument, NULL, OPT_JWT_AUDIENCE},
        {"jwt-leeway", required_argument, NULL, OPT_JWT_LEEWAY},
        {"access-log", required_argument, NULL, OPT_ACCESS_LOG},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    srv_config cfg;
    lm_buf secret = LM_BUF_INIT;
    const char *secret_file = NULL, *env;
    long v;
    int c, status = CLI_EXIT_USAGE;

    memset(&cfg, 0, sizeof(cfg));
    cfg.port = SRV_DEFAULT_PORT;
    cfg.jwt_leeway_s = -1;
    while ((c = cli_getopt(ctx, argc, argv, ":p:h", longopts)) != -1) {
        switch (c) {
        case OPT_LISTEN:
            cfg.address = optarg;
            break;
        case 'p':
            if ((status = cli_parse_long(ctx, "--port", optarg, 0, 65535, &v)) != 0)
                goto out;
            cfg.port = (int)v;
            break;
        case OPT_UNIX:
            cfg.unix_path = optarg;
            break;
        case OPT_PORT_FILE:
            cfg.port_file = optarg;
            break;
        case OPT_THREADS:
            if ((status = cli_parse_long(ctx, "--threads", optarg, 1, 1024, &v)) != 0)
                goto out;
            cfg.threads = (int)v;
            break;
        case OPT_POOL:
            if ((status = cli_parse_long(ctx, "--pool-size", optarg, 1, 1024, &v)) != 0)
                goto out;
            cfg.pool_size = (int)v;
            break;
        case OPT_MAX_BODY:
            if ((status = parse_size(ctx, "--max-body", optarg, SRV_MAX_MAX_BODY, &cfg.max_body)) !=
                0)
                goto out;
            break;
        case OPT_MAX_CONTENT:
            if ((status = parse_size(ctx, "--max-content", optarg, SRV_MAX_MAX_BODY,
                                     &cfg.max_content)) != 0)
                goto out;
            break;
        case OPT_MAX_HEADER:
            if ((status = parse_size(ctx, "--max-header", optarg, (size_t)16 * 1024 * 1024,
                                     &cfg.max_header)) != 0)
                goto out;
            break;
        case OPT_TIMEOUT:
            if ((status = cli_parse_long(ctx, "--timeout", optarg, 1, 86400, &v)) != 0)
                goto out;
            cfg.timeout_s = (int)v;
            break;
        case OPT_MAX_CONN:
            if ((status = cli_parse_long(ctx, "--max-connections", optarg, 1, 1000000, &v)) != 0)
                goto out;
            cfg.max_connections = (int)v;
            break;
        case OPT_SYNC_EMBED:
            cfg.sync_embed = 1;
            break;
        case OPT_DRAIN:
            if ((status = cli_parse_long(ctx, "--drain", optarg, 1, 86400, &v)) != 0)
                goto out;
            cfg.drain_s = (int)v;
            break;
        case OPT_RATE:
            if ((status = parse_rate(ctx, "--rate-limit", optarg, &cfg.rate_limit)) != 0)
                goto out;
            break;
        case OPT_BURST:
            if ((status = parse_rate(ctx, "--rate-burst", optarg, &cfg.rate_burst)) != 0)
                goto out;
            break;
        case OPT_JWT_SECRET_FILE:
            secret_file = optarg;
            break;
        case OPT_JWT_PUBKEY:
            cfg.jwt_public_key = optarg;
            break;
        case OPT_JWT_TENANT:
            cfg.jwt_tenant_claim = optarg;
            break;
        case OPT_JWT_SCOPE:
            cfg.jwt_scope_claim = optarg;
            break;
        case OPT_JWT_DEFAULT_SCOPE:
            cfg.jwt_default_scope = optarg;
            break;
        case OPT_JWT_ORIGIN:
            cfg.jwt_origin_claim = optarg;
            break;
        case OPT_JWT_ISSUER:
            cfg.jwt_issuer = optarg;
            break;
        case OPT_JWT_AUDIENCE:
            cfg.jwt_audience = optarg;
            break;
        case OPT_JWT_LEEWAY:
            if ((status = cli_parse_long(ctx, "--jwt-leeway", optarg, 0, 3600, &v)) != 0)
                goto out;
            cfg.jwt_leeway_s = (int)v;
            break;
        case OPT_ACCESS_LOG:
            cfg.access_log = optarg;
            break;
        case 'h':
            status = cli_help(help);
            goto out;
        default:
            status = CLI_EXIT_USAGE;
            goto out;
        }
    }
    if (optind < argc) {
        status = cli_usage(ctx, "too many arguments");
        goto out;
    }
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
    cfg.database_url = ctx->database_url;
    cfg.home = ctx->home;
    cfg.schema = ctx->schema;
    cfg.verbose = ctx->verbose;
    status = srv_run(&cfg);
out:
    if (secret.size > 0)
        memset(secret.ptr, 0, secret.size);
    lm_buf_dispose(&secret);
    return status;
}
