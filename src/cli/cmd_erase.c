/*
 * cli/cmd_erase.c: `llmemory erase --yes`: erase every trace of an owner (documents, chunks,
 * vectors, queue entries, keyword statistics, history, vector indexes, API keys) and say how
 * much of each went. Refuses to run without --yes. The owner is invisible at once; --no-wait
 * returns then and leaves the cleanup to a server or to `llmemory erase --resume`, which finishes
 * every pending one.
 */
#include <stdio.h>

#include "cmd.h"

static const char about[] =
    "Erase every trace of one owner: documents, chunks, vectors, embedding queue entries,\n"
    "keyword statistics and postings, search history, the owner's vector indexes and API keys.\n"
    "Sub-owners (\"acme/x\" of \"acme\") are kept. This cannot be undone; --yes confirms it.\n"
    "The owner is invisible to every call at once; its rows then go in small batches.\n"
    "--no-wait returns as soon as it is invisible (a running `llmemory serve`, or\n"
    "`llmemory erase --resume`, finishes the cleanup); the owner id can be used again only\n"
    "when the cleanup has finished. --resume finishes every pending cleanup.\n";

int cli_cmd_erase(cli_ctx *ctx, int argc, char **argv)
{
    const char *owner_opt = NULL, *owner = NULL;
    int yes = 0, json = 0, no_wait = 0, resume = 0, nargs, rc, bad, status;
    const cli_opt opts[] = {CLI_OWNER(&owner_opt, "owner (tenant); default $LLMEMORY_OWNER"),
                            CLI_FLAG(0, "yes", &yes, "really erase"),
                            CLI_FLAG(0, "no-wait", &no_wait,
                                     "return once the owner is invisible; clean up later"),
                            CLI_FLAG(0, "resume", &resume,
                                     "finish every pending erasure cleanup (no owner needed)"),
                            CLI_JSON(&json, "print the result as JSON"), CLI_END};
    const cli_spec spec = {
        .usage = "llmemory erase --yes [OPTION]...",
        .about = about,
        .opts = opts,
        .max_args = 0};
    lm_memory *mem = NULL;
    json_t *out = NULL;
    lm_erase_report rep;
    struct {
        const char *name;
        int64_t v;
    } kinds[] = {{"chunks", 0},  {"vectors", 0},        {"queue_entries", 0},
                 {"postings", 0}, {"terms", 0},          {"history", 0},
                 {"vector_indexes", 0}, {"api_keys", 0}, {"other_rows", 0}};
    int64_t n = 0;

    if ((status = cli_parse(ctx, &spec, argc, argv, &nargs)) != CLI_PARSED)
        return status;
    if (resume) {
        int64_t done = 0;
        if ((status = cli_open(ctx, &mem)) != 0)
            goto out;
        if ((rc = lm_erasure_run(&done, mem)) < 0) {
            status = cli_fail_lm(rc, NULL);
            goto out;
        }
        if (json) {
            out = json_pack("{s:I}", "erasures_finished", (json_int_t)done);
            status = out ? cli_json_print(out) : cli_oom();
            out = NULL;
            goto out;
        }
        printf("%lld pending erasure%s finished\n", (long long)done, done == 1 ? "" : "s");
        status = CLI_EXIT_OK;
        goto out;
    }
    if ((status = cli_owner(ctx, owner_opt, &owner)) != 0)
        return status;
    if (!yes) {
        cli_msg("erase needs confirmation");
        cli_detail("This removes every document and the search history of owner \"%s\".", owner);
        cli_hint("Add --yes to erase.");
        return CLI_EXIT_USAGE;
    }
    if ((status = cli_open(ctx, &mem)) != 0)
        goto out;
    rc = no_wait ? lm_tenant_erase_start(&rep, mem, owner) : lm_tenant_erase_report(&rep, mem, owner);
    if (rc < 0) {
        status = cli_fail_lm(rc, NULL);
        goto out;
    }
    n = rep.documents;
    kinds[0].v = rep.chunks;
    kinds[1].v = rep.vectors;
    kinds[2].v = rep.queue_entries;
    kinds[3].v = rep.postings;
    kinds[4].v = rep.terms;
    kinds[5].v = rep.history;
    kinds[6].v = rep.vector_indexes;
    kinds[7].v = rep.api_keys;
    kinds[8].v = rep.other_rows;
    if (json) {
        json_t *del = json_object();
        out = json_object();
        bad = cli_jset(out, "owner_id", cli_jstr(owner));
        bad |= cli_jset(out, "documents_deleted", json_integer((json_int_t)n));
        bad |= cli_jset(del, "documents", json_integer((json_int_t)n));
        for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
            bad |= cli_jset(del, kinds[i].name, json_integer((json_int_t)kinds[i].v));
        bad |= cli_jset(out, "deleted", del);
        bad |= cli_jset(out, "cleanup", cli_jstr(no_wait ? "pending" : "finished"));
        if (bad) {
            status = cli_oom();
            goto out;
        }
        status = cli_json_print(out);
        out = NULL;
        goto out;
    }
    if (no_wait) {
        printf("erased owner \"%s\": invisible now, %lld document%s and %lld chunk%s left to the "
               "cleanup\n", owner, (long long)n, n == 1 ? "" : "s", (long long)rep.chunks,
               rep.chunks == 1 ? "" : "s");
        printf("  %-15s %lld\n", "api_keys", (long long)rep.api_keys);
        status = CLI_EXIT_OK;
        goto out;
    }
    printf("erased owner \"%s\": %lld document%s deleted\n", owner, (long long)n,
           n == 1 ? "" : "s");
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        printf("  %-15s %lld\n", kinds[i].name, (long long)kinds[i].v);
    status = CLI_EXIT_OK;
out:
    json_decref(out);
    lm_memory_close(mem);
    return status;
}
