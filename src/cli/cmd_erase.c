/*
 * cli/cmd_erase.c: `llmemory erase --yes`: erase every trace of an owner (documents, chunks,
 * vectors, queue entries, keyword statistics, history, vector indexes, API keys) and say how
 * much of each went. Refuses to run without --yes.
 */
#include <stdio.h>

#include "cmd.h"

static const char about[] =
    "Erase every trace of one owner: documents, chunks, vectors, embedding queue entries,\n"
    "keyword statistics and postings, search history, the owner's vector indexes and API keys.\n"
    "Sub-owners (\"acme/x\" of \"acme\") are kept. This cannot be undone; --yes confirms it.\n";

int cli_cmd_erase(cli_ctx *ctx, int argc, char **argv)
{
    const char *owner_opt = NULL, *owner = NULL;
    int yes = 0, json = 0, nargs, rc, bad, status;
    const cli_opt opts[] = {CLI_OWNER(&owner_opt, "owner (tenant); default $LLMEMORY_OWNER"),
                            CLI_FLAG(0, "yes", &yes, "really erase"),
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
    rc = lm_tenant_erase_report(&rep, mem, owner);
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
        if (bad) {
            status = cli_oom();
            goto out;
        }
        status = cli_json_print(out);
        out = NULL;
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
