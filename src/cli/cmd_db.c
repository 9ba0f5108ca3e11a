/*
 * cli/cmd_db.c: `llmemory db status|start|stop`: the embedded PostgreSQL cluster that llmemory
 * runs for itself when no database URL is configured. Does not open the memory.
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"

static void print_info(const lm_db_info *info)
{
    printf("home            %s\n", info->home);
    printf("initialized     %s\n", info->initialized ? "yes" : "no");
    if (info->running)
        printf("running         yes (pid %ld)\n", info->pid);
    else
        printf("running         no\n");
    if (info->socket_dir[0] != '\0')
        printf("socket dir      %s\n", info->socket_dir);
    if (info->conninfo[0] != '\0')
        printf("conninfo        %s\n", info->conninfo);
    if (info->server_version[0] != '\0')
        printf("server version  %s\n", info->server_version);
}

static const char about[] =
    "Manage the embedded database: a private PostgreSQL cluster in the home directory\n"
    "(--home, $LLMEMORY_HOME, else ~/.local/share/llmemory), reached over a unix socket.\n"
    "It is used when no database URL is configured, and keeps running until \"db stop\".\n"
    "\n"
    "  status      show whether it exists and runs (starts nothing)\n"
    "  start       create it if needed and start it\n"
    "  stop        stop it (not running is not an error)\n";

int cli_cmd_db(cli_ctx *ctx, int argc, char **argv)
{
    int json = 0, nargs, rc;
    const cli_opt opts[] = {CLI_JSON(&json, "print the result as JSON"), CLI_END};
    const cli_spec spec = {
        .usage = "llmemory db status|start|stop [--json]",
        .about = about,
        .opts = opts,
        .missing = "no action given (status, start or stop)",
        .min_args = 1,
        .max_args = 1};
    lm_db_info info;
    const char *action, *source = NULL;

    if ((rc = cli_parse(ctx, &spec, argc, argv, &nargs)) != CLI_PARSED)
        return rc;
    action = argv[0];
    memset(&info, 0, sizeof(info));

    if (strcmp(action, "status") == 0) {
        rc = lm_db_status(&info, ctx->home);
    } else if (strcmp(action, "start") == 0) {
        rc = lm_db_start(&info, ctx->home);
    } else if (strcmp(action, "stop") == 0) {
        rc = lm_db_stop(ctx->home);
        if (rc == 0)
            rc = lm_db_status(&info, ctx->home);
    } else {
        return cli_usage(ctx, "unrecognized action \"%s\"", action);
    }
    if (rc < 0)
        return cli_fail_lm(rc, NULL);

    /* Commands use a configured URL over the embedded cluster; say so, since a running
       embedded cluster could suggest otherwise. */
    if (cli_url_configured(ctx, &source))
        cli_msg("note: %s is set, so other commands use that database, not this one", source);
    if (json)
        return cli_json_print(cli_json_db_info(&info));
    if (strcmp(action, "stop") == 0 && !info.running)
        printf("stopped\n");
    print_info(&info);
    return CLI_EXIT_OK;
}
