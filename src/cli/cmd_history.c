/*
 * cli/cmd_history.c: `llmemory history`: an owner's most recent searches, newest first.
 */
#include <stdio.h>

#include "cmd.h"

static const char help[] = "Usage: llmemory history [OPTION]...\n"
                           "\n"
                           "Show one owner's most recent searches, newest first.\n"
                           "\n"
                           "Options:\n"
                           "  -o, --owner OWNER    owner (tenant); default $LLMEMORY_OWNER\n"
                           "  -n, --limit N        number of searches, 1-100 (default 20)\n"
                           "      --json           print the searches as JSON\n"
                           "  -h, --help           print this help and exit\n";

enum { OPT_JSON = 256 };

int cli_cmd_history(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {{"owner", required_argument, NULL, 'o'},
                                             {"limit", required_argument, NULL, 'n'},
                                             {"json", no_argument, NULL, OPT_JSON},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    lm_memory *mem = NULL;
    lm_history *h = NULL;
    json_t *out = NULL, *arr = NULL;
    const char *owner_opt = NULL, *owner = NULL;
    long limit = 20;
    int json = 0, c, rc, bad, status;

    while ((c = cli_getopt(ctx, argc, argv, ":o:n:h", longopts)) != -1) {
        switch (c) {
        case 'o':
            owner_opt = optarg;
            break;
        case 'n':
            if ((status = cli_parse_long(ctx, "--limit", optarg, 1, 100000, &limit)) != 0)
                return status;
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
    if ((status = cli_owner(ctx, owner_opt, &owner)) != 0)
        return status;
    if ((status = cli_open(ctx, &mem)) != 0)
        goto out;
    rc = lm_history_list(&h, mem, owner, (int)limit);
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
