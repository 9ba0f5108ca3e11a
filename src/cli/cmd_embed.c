/*
 * cli/cmd_embed.c: `llmemory embed`: drain the embedding queue (chunks added in queue mode, chunks
 * whose embedding failed, or everything after the default provider changed), or show its state.
 */
#include <stdio.h>

#include "cmd.h"

static const char help[] =
    "Usage: llmemory embed [OPTION]...\n"
    "\n"
    "Embed the chunks waiting in the embedding queue with the configured provider\n"
    "($LLMEMORY_EMBEDDER; the built-in embedder by default), for every owner. Jobs are\n"
    "claimed under a lease, so several workers may run at once and a worker that dies\n"
    "leaves its jobs to the others when the lease expires.\n"
    "\n"
    "Options:\n"
    "      --batch N        jobs per batch (default 64)\n"
    "      --max-batches N  stop after N batches (default: until no job is ready)\n"
    "      --lease S        lease of a claimed batch in seconds (default 60)\n"
    "      --attempts N     attempts before a job is marked dead (default 5)\n"
    "      --status         only show the queue's counts\n"
    "      --json           print the result as JSON\n"
    "  -h, --help           print this help and exit\n";

enum { OPT_BATCH = 256, OPT_MAX_BATCHES, OPT_LEASE, OPT_ATTEMPTS, OPT_STATUS, OPT_JSON };

int cli_cmd_embed(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {{"batch", required_argument, NULL, OPT_BATCH},
                                             {"max-batches", required_argument, NULL, OPT_MAX_BATCHES},
                                             {"lease", required_argument, NULL, OPT_LEASE},
                                             {"attempts", required_argument, NULL, OPT_ATTEMPTS},
                                             {"status", no_argument, NULL, OPT_STATUS},
                                             {"json", no_argument, NULL, OPT_JSON},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    lm_memory *mem = NULL;
    lm_embed_run_opts ro;
    lm_embed_run_result rr = {0, 0, 0, 0};
    lm_embed_queue_stats qs = {0, 0, 0};
    json_t *out = NULL;
    long v;
    int json = 0, status_only = 0, c, rc, bad, status;

    lm_embed_run_opts_init(&ro, LM_EMBED_RUN_OPTS_VERSION);
    while ((c = cli_getopt(ctx, argc, argv, ":h", longopts)) != -1) {
        switch (c) {
        case OPT_BATCH:
            if ((status = cli_parse_long(ctx, "--batch", optarg, 1, 10000, &v)) != 0)
                return status;
            ro.batch_size = (int)v;
            break;
        case OPT_MAX_BATCHES:
            if ((status = cli_parse_long(ctx, "--max-batches", optarg, 1, 1000000000, &v)) != 0)
                return status;
            ro.max_batches = (int)v;
            break;
        case OPT_LEASE:
            if ((status = cli_parse_long(ctx, "--lease", optarg, 1, 86400, &v)) != 0)
                return status;
            ro.lease_s = (int)v;
            break;
        case OPT_ATTEMPTS:
            if ((status = cli_parse_long(ctx, "--attempts", optarg, 1, 1000, &v)) != 0)
                return status;
            ro.max_attempts = (int)v;
            break;
        case OPT_STATUS:
            status_only = 1;
            break;
        case OPT_JSON:
            json = 1;
            break;
        case 'h':
            return cli_help(help);
        default:
            return CLI_EXIT_USAGE;
        }
    }
    if (optind < argc)
        return cli_usage(ctx, "too many arguments");
    if ((status = cli_open(ctx, &mem)) != 0)
        goto out;
    if (!status_only && (rc = lm_embed_run(&rr, mem, &ro)) < 0) {
        status = cli_fail_lm(rc, NULL);
        goto out;
    }
    if ((rc = lm_embed_queue_stats_get(&qs, mem)) < 0) {
        status = cli_fail_lm(rc, NULL);
        goto out;
    }
    if (json) {
        out = json_object();
        bad = 0;
        if (!status_only) {
            bad |= cli_jset(out, "claimed", json_integer((json_int_t)rr.claimed));
            bad |= cli_jset(out, "embedded", json_integer((json_int_t)rr.embedded));
            bad |= cli_jset(out, "failed", json_integer((json_int_t)rr.failed));
            bad |= cli_jset(out, "dead", json_integer((json_int_t)rr.dead));
        }
        bad |= cli_jset(out, "pending", json_integer((json_int_t)qs.pending));
        bad |= cli_jset(out, "processing", json_integer((json_int_t)qs.processing));
        bad |= cli_jset(out, "dead_total", json_integer((json_int_t)qs.dead));
        if (bad) {
            status = cli_oom();
            goto out;
        }
        status = cli_json_print(out);
        out = NULL;
        goto out;
    }
    if (!status_only)
        printf("embedded %lld chunks (%lld claimed, %lld to retry, %lld dead)\n",
               (long long)rr.embedded, (long long)rr.claimed, (long long)rr.failed,
               (long long)rr.dead);
    printf("queue: %lld pending, %lld processing, %lld dead\n", (long long)qs.pending,
           (long long)qs.processing, (long long)qs.dead);
    status = CLI_EXIT_OK;
out:
    json_decref(out);
    lm_memory_close(mem);
    return status;
}
