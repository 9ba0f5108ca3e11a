/*
 * cli/cmd_embed.c: `llmemory embed`: drain the embedding queue (chunks added in queue mode, chunks
 * whose embedding failed, or everything after the default provider changed), or show its state.
 */
#include <stdio.h>

#include "cmd.h"

static const char about[] =
    "Embed the chunks waiting in the embedding queue with the configured provider\n"
    "($LLMEMORY_EMBEDDER; the built-in embedder by default), for every owner. Jobs are\n"
    "claimed under a lease, so several workers may run at once and a worker that dies\n"
    "leaves its jobs to the others when the lease expires.\n";

int cli_cmd_embed(cli_ctx *ctx, int argc, char **argv)
{
    lm_embed_run_opts ro;
    int json = 0, status_only = 0, nargs, rc, bad, status;
    const cli_opt opts[] = {
        CLI_INT(0, "batch", "N", &ro.batch_size, 1, 10000, "jobs per batch (default 64)"),
        CLI_INT(0, "max-batches", "N", &ro.max_batches, 1, 1000000000,
                "stop after N batches (default: until no job is ready)"),
        CLI_INT(0, "lease", "S", &ro.lease_s, 1, 86400,
                "lease of a claimed batch in seconds (default 60)"),
        CLI_INT(0, "attempts", "N", &ro.max_attempts, 1, 1000,
                "attempts before a job is marked dead (default 5)"),
        CLI_FLAG(0, "status", &status_only, "only show the queue's counts"),
        CLI_JSON(&json, "print the result as JSON"),
        CLI_END};
    const cli_spec spec = {
        .usage = "llmemory embed [OPTION]...",
        .about = about,
        .opts = opts,
        .max_args = 0};
    lm_memory *mem = NULL;
    lm_embed_run_result rr = {0, 0, 0, 0};
    lm_embed_queue_stats qs = {0, 0, 0};
    json_t *out = NULL;

    lm_embed_run_opts_init(&ro, LM_EMBED_RUN_OPTS_VERSION);
    if ((status = cli_parse(ctx, &spec, argc, argv, &nargs)) != CLI_PARSED)
        return status;
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
