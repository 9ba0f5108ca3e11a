/*
 * cli/cmd_history.c: `llmemory history`: an owner's most recent searches, newest first.
 */
#include <stdio.h>

#include "cmd.h"

int cli_cmd_history(cli_ctx *ctx, int argc, char **argv)
{
    const char *owner_opt = NULL, *owner = NULL;
    int limit = 20, json = 0, nargs, rc, bad, status;
    const cli_opt opts[] = {
        CLI_OWNER(&owner_opt, "owner (tenant); default $LLMEMORY_OWNER"),
        CLI_INT('n', "limit", "N", &limit, 1, 100000, "number of searches, 1-100 (default 20)"),
        CLI_JSON(&json, "print the searches as JSON"), CLI_END};
    const cli_spec spec = {.usage = "llmemory history [OPTION]...",
                           .about = "Show one owner's most recent searches, newest first.\n",
                           .opts = opts,
                           .max_args = 0};
    lm_memory *mem = NULL;
    lm_history *h = NULL;
    json_t *out = NULL, *arr = NULL;

    if ((status = cli_parse(ctx, &spec, argc, argv, &nargs)) != CLI_PARSED)
        return status;
    if ((status = cli_owner(ctx, owner_opt, &owner)) != 0)
        return status;
    if ((status = cli_open(ctx, &mem)) != 0)
        goto out;
    rc = lm_history_list(&h, mem, owner, limit);
    if (rc < 0) {
        status = cli_fail_lm(rc, NULL);
        goto out;
    }

    if (json) {
        out = json_object();
        arr = json_array();
        bad = cli_jset(out, "owner_id", cli_jstr(owner));
        bad |= cli_jset(out, "count", json_integer((json_int_t)lm_history_count(h)));
        for (size_t i = 0; i < lm_history_count(h) && !bad; i++) {
            const lm_history_entry *e = lm_history_at(h, i);
            json_t *o = json_object();
            bad |= cli_jset(o, "search_id", cli_jstr(e->search_id));
            bad |= cli_jset(o, "query", cli_jstr(e->query));
            bad |= cli_jset(o, "type", cli_jstr(lm_search_type_name(e->type)));
            bad |= cli_jset(o, "filters", cli_jparse(e->filters != NULL ? e->filters : "{}"));
            bad |= cli_jset(o, "result_count", json_integer(e->result_count));
            bad |= cli_jset(o, "latency_ms", cli_jreal(e->latency_ms));
            bad |= cli_jset(o, "created_at", cli_jstr(e->created_at));
            bad |= json_array_append_new(arr, o);
        }
        bad |= cli_jset(out, "searches", arr);
        arr = NULL;
        if (bad) {
            status = cli_oom();
            goto out;
        }
        status = cli_json_print(out);
        out = NULL;
        goto out;
    }
    if (lm_history_count(h) == 0)
        printf("no searches\n");
    for (size_t i = 0; i < lm_history_count(h); i++) {
        const lm_history_entry *e = lm_history_at(h, i);
        char tbuf[20];
        printf("%s  %-6s  %3d result%s  %8.1f ms  %s\n", cli_short_time(tbuf, e->created_at),
               lm_search_type_name(e->type), e->result_count, e->result_count == 1 ? " " : "s",
               e->latency_ms, e->query);
    }
    status = CLI_EXIT_OK;
out:
    json_decref(arr);
    json_decref(out);
    lm_history_free(h);
    lm_memory_close(mem);
    return status;
}
