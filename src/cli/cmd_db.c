/*
 * cli/cmd_db.c: `llmemory db status|start|stop`: the embedded PostgreSQL cluster that llmemory
 * runs for itself when no database URL is configured. Does not open the memory.
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"

static const char help[] =
    "Usage: llmemory db status|start|stop [--json]\n"
    "\n"
    "Manage the embedded database: a private PostgreSQL cluster in the home directory\n"
    "(--home, $LLMEMORY_HOME, else ~/.local/share/llmemory), reached over a unix socket.\n"
    "It is used when no database URL is configured, and keeps running until \"db stop\".\n"
    "\n"
    "  status      show whether it exists and runs (starts nothing)\n"
    "  start       create it if needed and start it\n"
    "  stop        stop it (not running is not an error)\n"
    "\n"
    "Options:\n"
    "  --json      print the result as JSON\n"
    "  -h, --help  print this help and exit\n";

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

int cli_cmd_db(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    lm_db_info info;
    const char *action, *source = NULL;
    int json = 0, c, rc;

    while ((c = cli_getopt(ctx, argc, argv, ":h", longopts)) != -1) {
        switch (c) {
        case 'j':
            json = 1;
            break;
        case 'h':
            return cli_help(help);
        default:
            return CLI_EXIT_USAGE;
        }
    }
    if (optind >= argc)
        return cli_usage(ctx, "no action given (status, start or stop)");
    if (optind + 1 < argc)
        return cli_usage(ctx, "too many arguments");
    action = argv[optind];
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
