/*
 * cli/cmd_erase.c: `llmemory erase --yes`: erase everything an owner has (documents, chunks,
 * search statistics and history). Refuses to run without --yes.
 */
#include <stdio.h>

#include "cmd.h"

static const char help[] =
    "Usage: llmemory erase --yes [OPTION]...\n"
    "\n"
    "Erase everything one owner has: documents, chunks, search statistics and search\n"
    "history. This cannot be undone; --yes confirms it.\n"
    "\n"
    "Options:\n"
    "  -o, --owner OWNER    owner (tenant); default $LLMEMORY_OWNER\n"
    "      --yes            really erase\n"
    "      --json           print the result as JSON\n"
    "  -h, --help           print this help and exit\n";

enum { OPT_YES = 256, OPT_JSON };

int cli_cmd_erase(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {{"owner", required_argument, NULL, 'o'},
                                             {"yes", no_argument, NULL, OPT_YES},
                                             {"json", no_argument, NULL, OPT_JSON},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    lm_memory *mem = NULL;
    json_t *out = NULL;
    const char *owner_opt = NULL, *owner = NULL;
    int64_t n = 0;
    int yes = 0, json = 0, c, rc, bad, status;

    while ((c = cli_getopt(ctx, argc, argv, ":o:h", longopts)) != -1) {
        switch (c) {
        case 'o':
            owner_opt = optarg;
            break;
        case OPT_YES:
            yes = 1;
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
    if (!yes) {
        cli_msg("erase needs confirmation");
        cli_detail("This removes every document and the search history of owner \"%s\".", owner);
        cli_hint("Add --yes to erase.");
        return CLI_EXIT_USAGE;
    }
    if ((status = cli_open(ctx, &mem)) != 0)
        goto out;
    rc = lm_tenant_erase(&n, mem, owner);
    if (rc < 0) {
        status = cli_fail_lm(rc, NULL);
        goto out;
    }
    if (json) {
        out = json_object();
        bad = cli_jset(out, "owner_id", cli_jstr(owner));
        bad |= cli_jset(out, "documents_deleted", json_integer((json_int_t)n));
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
    status = CLI_EXIT_OK;
out:
    json_decref(out);
    lm_memory_close(mem);
    return status;
}
