/*
 * cli/cmd_reembed.c: `llmemory reembed`: switch a memory's vectors to the configured embedder
 * (the installed default model unless LLMEMORY_EMBEDDER says otherwise) through the embedding
 * queue (lm_reembed), and optionally drain the queue.
 */
#include <stdio.h>

#include "cmd.h"

static const char about[] =
    "Switch the memory to the configured embedder ($LLMEMORY_EMBEDDER; by default the\n"
    "installed model " LM_DEFAULT_MODEL ", else the built-in one) and queue every searchable\n"
    "chunk that has no vector of it. A memory whose vectors were made by the built-in embedder\n"
    "keeps it until this command runs, so its vector search never mixes providers. Making a\n"
    "new provider the default queues every owner's chunks; --owner queues (again) one owner's\n"
    "chunks and revives its failed jobs. The queue is drained by --run, by \"llmemory embed\",\n"
    "or by the background worker of \"llmemory serve\"; until a chunk's vector is written,\n"
    "keyword search finds it and vector search does not.\n";

int cli_cmd_reembed(cli_ctx *ctx, int argc, char **argv)
{
    lm_embedder *e = NULL;
    lm_memory *mem = NULL;
    lm_embed_run_result rr = {0, 0, 0, 0};
    lm_embed_queue_stats qs = {0, 0, 0};
    const char *owner = NULL;
    int64_t queued = 0;
    int json = 0, run = 0, nargs, rc, status;
    const cli_opt opts[] = {
        CLI_OWNER(&owner, "only this owner's chunks (default: every owner)"),
        CLI_FLAG(0, "run", &run, "embed the queued chunks now"),
        CLI_JSON(&json, "print the result as JSON"), CLI_END};
    const cli_spec spec = {
        .usage = "llmemory reembed [OPTION]...", .about = about, .opts = opts, .max_args = 0};

    if ((rc = cli_parse(ctx, &spec, argc, argv, &nargs)) != CLI_PARSED)
        return rc;
    if ((rc = lm_embedder_from_env(&e)) < 0)
        return cli_fail_lm(rc, NULL);
    if (e == NULL)
        return cli_usage(ctx, "LLMEMORY_EMBEDDER is \"none\": there is no embedder to switch to");
    if ((status = cli_open_with(ctx, e, &mem)) != 0)
        goto out;
    if ((rc = lm_reembed(mem, owner, &queued)) < 0 ||
        (run && (rc = lm_embed_run(&rr, mem, NULL)) < 0) ||
        (rc = lm_embed_queue_stats_get(&qs, mem)) < 0) {
        status = cli_fail_lm(rc, NULL);
        goto out;
    }
    if (json) {
        json_t *out = json_object();
        int bad = out == NULL;
        bad |= cli_jset(out, "provider_id", cli_jstr(lm_embedder_provider_id(e)));
        bad |= cli_jset(out, "to_embed", json_integer((json_int_t)queued));
        if (run)
            bad |= cli_jset(out, "embedded", json_integer((json_int_t)rr.embedded));
        bad |= cli_jset(out, "pending", json_integer((json_int_t)qs.pending));
        bad |= cli_jset(out, "dead", json_integer((json_int_t)qs.dead));
        if (bad) {
            json_decref(out);
            status = cli_oom();
            goto out;
        }
        status = cli_json_print(out);
        goto out;
    }
    printf("provider %s: %lld chunks to embed\n", lm_embedder_provider_id(e), (long long)queued);
    if (run)
        printf("embedded %lld chunks (%lld to retry, %lld dead)\n", (long long)rr.embedded,
               (long long)rr.failed, (long long)rr.dead);
    printf("queue: %lld pending, %lld dead%s\n", (long long)qs.pending, (long long)qs.dead,
           !run && qs.pending > 0 ? " (run \"llmemory embed\" or \"llmemory serve\")" : "");
    status = cli_finish(CLI_EXIT_OK);
out:
    lm_memory_close(mem);
    lm_embedder_free(e);
    return status;
}
