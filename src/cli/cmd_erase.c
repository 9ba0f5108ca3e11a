/*
 * cli/cmd_erase.c: `llmemory erase --yes`: erase everything an owner has (documents, chunks,
 * search statistics and history). Refuses to run without --yes.
 */
#include <stdio.h>

#include "cmd.h"

static const char about[] =
    "Erase everything one owner has: documents, chunks, search statistics and search\n"
    "history. This cannot be undone; --yes confirms it.\n";

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
