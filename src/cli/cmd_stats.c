/*
 * cli/cmd_stats.c: `llmemory stats`: an owner's document and chunk counts, bytes, documents per
 * type, and when the first and last documents were added.
 */
#include <stdio.h>

#include "cmd.h"

int cli_cmd_stats(cli_ctx *ctx, int argc, char **argv)
{
    const char *owner_opt = NULL, *owner = NULL;
    int json = 0, nargs;
    const cli_opt opts[] = {CLI_OWNER(&owner_opt, "owner (tenant); default $LLMEMORY_OWNER"),
                            CLI_JSON(&json, "print the statistics as JSON"), CLI_END};
    const cli_spec spec = {.usage = "llmemory stats [OPTION]...",
                           .about = "Show one owner's statistics.\n",
                           .opts = opts,
                           .max_args = 0};
    lm_memory *mem = NULL;
    json_t *out = NULL, *by_type = NULL;
    lm_stats st;
    int c, rc, bad, status;

    if ((status = cli_parse(ctx, &spec, argc, argv, &nargs)) != CLI_PARSED)
        return status;
    if ((status = cli_target_owner(ctx, owner_opt, &owner)) != 0)
        return status;
    if (cli_remote_on(ctx))
        return cli_remote_stats(ctx, owner, json);
    if ((status = cli_open(ctx, &mem)) != 0)
        goto out;
    rc = lm_stats_get(&st, mem, owner);
    if (rc < 0) {
        status = cli_fail_lm(rc, NULL);
        goto out;
    }

    if (json) {
        out = json_object();
        by_type = json_object();
        bad = cli_jset(out, "owner_id", cli_jstr(owner));
        bad |= cli_jset(out, "document_count", json_integer((json_int_t)st.document_count));
        bad |= cli_jset(out, "chunk_count", json_integer((json_int_t)st.chunk_count));
        bad |= cli_jset(out, "total_bytes", json_integer((json_int_t)st.total_bytes));
        for (int t = 0; t < LM_DOC_TYPE_COUNT; t++)
            bad |= cli_jset(by_type, lm_doc_type_name((lm_doc_type)t),
                            json_integer((json_int_t)st.by_type[t]));
        bad |= cli_jset(out, "by_type", by_type);
        by_type = NULL;
        bad |= cli_jset(out, "first_created", cli_jstr_or_null(st.first_created));
        bad |= cli_jset(out, "last_created", cli_jstr_or_null(st.last_created));
        if (bad) {
            status = cli_oom();
            goto out;
        }
        status = cli_json_print(out);
        out = NULL;
        goto out;
    }
    printf("owner          %s\n", owner);
    printf("documents      %lld\n", (long long)st.document_count);
    printf("chunks         %lld\n", (long long)st.chunk_count);
    printf("bytes          %lld\n", (long long)st.total_bytes);
    printf("by type       ");
    c = 0;
    for (int t = 0; t < LM_DOC_TYPE_COUNT; t++) {
        if (st.by_type[t] == 0)
            continue;
        printf("%s %s %lld", c++ ? "," : "", lm_doc_type_name((lm_doc_type)t),
               (long long)st.by_type[t]);
    }
    printf("%s\n", c ? "" : " (none)");
    if (st.first_created[0] != '\0') {
        printf("first added    %s\n", st.first_created);
        printf("last added     %s\n", st.last_created);
    }
    status = CLI_EXIT_OK;
out:
    json_decref(by_type);
    json_decref(out);
    lm_memory_close(mem);
    return status;
}
