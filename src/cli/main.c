/*
 * cli/main.c: entry point of the `llmemory` program. Takes the global options (wherever they
 * appear), finds the command in the command table and runs it. Commands live in cmd_<verb>.c;
 * how errors map to exit statuses is in errors.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

static const struct cli_command {
    const char *name;
    cli_cmd_fn run;
    const char *summary;
} commands[] = {
    {"init", cli_cmd_init, "create the database and schema if needed; show where data lives"},
    {"add", cli_cmd_add, "add (or re-index) one document from a file or standard input"},
    {"ingest", cli_cmd_ingest, "add every .txt .md .html .pdf file under a directory"},
    {"search", cli_cmd_search, "search an owner's documents"},
    {"list", cli_cmd_list, "list an owner's documents"},
    {"get", cli_cmd_get, "show one document, optionally with its chunks"},
    {"delete", cli_cmd_delete, "delete documents by id or by metadata"},
    {"stats", cli_cmd_stats, "show an owner's statistics"},
    {"history", cli_cmd_history, "show an owner's recent searches"},
    {"erase", cli_cmd_erase, "erase everything an owner has"},
    {"export", cli_cmd_export, "write everything an owner has as JSON Lines"},
    {"import", cli_cmd_import, "restore an export into an owner"},
    {"quota", cli_cmd_quota, "show or set an owner's storage quotas"},
    {"audit", cli_cmd_audit, "show an owner's audit log"},
    {"db", cli_cmd_db, "status, start or stop the embedded database"},
    {"cluster", cli_cmd_cluster, "spread tenants over shards behind a proxy; move tenants online"},
    {"optimize", cli_cmd_optimize, "pack the keyword index and vacuum after bulk loads"},
    {"embed", cli_cmd_embed, "embed the chunks waiting in the embedding queue"},
    {"reembed", cli_cmd_reembed, "switch stored vectors to the configured embedder"},
    {"models", cli_cmd_models, "list, locate and verify installed embedding models"},
    {"eval", cli_cmd_eval, "measure search quality and latency on a BEIR test collection"},
    {"serve", cli_cmd_serve, "run the HTTP API server"},
    {"keys", cli_cmd_keys, "create, list and revoke API keys of the HTTP API"},
    {"mcp", cli_cmd_mcp, "serve an owner's memory to AI agents (MCP over stdio)"},
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void print_main_help(FILE *f)
{
    fputs("llmemory: a multi-tenant document memory on PostgreSQL.\n"
          "\n"
          "Usage:\n"
          "  llmemory [GLOBAL OPTION]... COMMAND [OPTION]... [ARG]...\n"
          "\n"
          "Commands:\n",
          f);
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-8s  %s\n", commands[i].name, commands[i].summary);
    fputs("\n"
          "Global options (before or after the command):\n"
          "  --database-url URL  PostgreSQL URL or conninfo; default $LLMEMORY_DATABASE_URL,\n"
          "                      then $DATABASE_URL, else the embedded database\n"
          "  --home DIR          directory of the embedded database; default $LLMEMORY_HOME,\n"
          "                      else ~/.local/share/llmemory (/var/lib/llmemory for root)\n"
          "  --schema NAME       schema of llmemory's tables; default $LLMEMORY_SCHEMA, else\n"
          "                      \"llmemory\"\n"
          "  --url URL           send add, search, list, get, delete and stats to the\n"
          "                      `llmemory serve` at URL; default $LLMEMORY_URL\n"
          "  --key KEY           API key (or token) for --url; default $LLMEMORY_API_KEY\n"
          "  -v, --verbose       log to standard error (twice: debug messages)\n"
          "  --version           print the version and exit\n"
          "  -h, --help          print this help and exit\n"
          "\n"
          "Environment:\n"
          "  LLMEMORY_OWNER      owner (tenant) when a command is given no --owner\n"
          "                      (not used with --url: the key names the owner)\n"
          "\n"
          "Exit status:\n",
          f);
    cli_exit_table_print(f);
    fputs("\n"
          "Run \"llmemory COMMAND --help\" for the options of a command.\n",
          f);
}

static const struct cli_command *find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

/* Value of a global option at argv[*i], as "--opt VALUE" or "--opt=VALUE"; advances *i.
   0 when argv[*i] is not @p opt, 1 when it is, -1 (printed) when the value is missing. */
static int take_value(const char *opt, int argc, char **argv, int *i, const char **out)
{
    const char *a = argv[*i];
    size_t n = strlen(opt);

    if (strncmp(a, opt, n) != 0)
        return 0;
    if (a[n] == '=') {
        *out = a + n + 1;
        return 1;
    }
    if (a[n] != '\0')
        return 0;
    if (*i + 1 >= argc) {
        cli_msg("option \"%s\" requires a value", opt);
        cli_hint("Try \"llmemory --help\".");
        return -1;
    }
    *out = argv[++*i];
    return 1;
}

/* Consume a global option at argv[*i]: 1 when consumed, 0 when it is not one, -1 on error. */
static int global_option(cli_ctx *ctx, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    int r;

    if ((r = take_value("--database-url", argc, argv, i, &ctx->database_url)) != 0)
        return r;
    if ((r = take_value("--home", argc, argv, i, &ctx->home)) != 0)
        return r;
    if ((r = take_value("--schema", argc, argv, i, &ctx->schema)) != 0)
        return r;
    if ((r = take_value("--url", argc, argv, i, &ctx->url)) != 0)
        return r;
    if ((r = take_value("--key", argc, argv, i, &ctx->api_key)) != 0)
        return r;
    if (strcmp(a, "--verbose") == 0) {
        ctx->verbose++;
        return 1;
    }
    /* -v, -vv, -vvv */
    if (a[0] == '-' && a[1] == 'v') {
        size_t n = strspn(a + 1, "v");
        if (a[1 + n] == '\0') {
            ctx->verbose += (int)n;
            return 1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    cli_ctx ctx = {NULL, NULL, NULL, 0, NULL, NULL, NULL};
    char **args = NULL;
    int nargs = 0, status;
    int options_done = 0;
    const struct cli_command *cmd = NULL;
    const char *name = NULL;

    /* The command's own argv: everything but the global options, which may come before or
       after the command (but not after "--"). */
    args = calloc((size_t)argc + 1, sizeof(*args));
    if (args == NULL)
        return cli_oom();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int r;

        if (!options_done) {
            if (strcmp(a, "--") == 0 && name != NULL) {
                options_done = 1;
                args[nargs++] = argv[i];
                continue;
            }
            r = global_option(&ctx, argc, argv, &i);
            if (r < 0) {
                status = CLI_EXIT_USAGE;
                goto out;
            }
            if (r > 0)
                continue;
            if (name == NULL) {
                if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
                    print_main_help(stdout);
                    status = cli_finish(CLI_EXIT_OK);
                    goto out;
                }
                if (strcmp(a, "--version") == 0) {
                    printf("llmemory %s (libllmemory %s)\n", LM_VERSION_STRING, lm_version());
                    status = cli_finish(CLI_EXIT_OK);
                    goto out;
                }
                if (a[0] == '-' && a[1] != '\0') {
                    status = cli_usage(NULL, "unrecognized option \"%s\"", a);
                    goto out;
                }
                name = a;
            }
        }
        args[nargs++] = argv[i];
    }
    args[nargs] = NULL;

    if (name == NULL) {
        cli_msg("no command given");
        cli_hint("Try \"llmemory --help\" for the list of commands.");
        status = CLI_EXIT_USAGE;
        goto out;
    }
    if (strcmp(name, "help") == 0) {
        /* "llmemory help [COMMAND]" is "llmemory [COMMAND] --help". */
        if (nargs < 2) {
            print_main_help(stdout);
            status = cli_finish(CLI_EXIT_OK);
            goto out;
        }
        name = args[1];
        cmd = find_command(name);
        if (cmd != NULL) {
            static char help_opt[] = "--help";
            char *help_argv[3];
            help_argv[0] = args[1];
            help_argv[1] = help_opt;
            help_argv[2] = NULL;
            ctx.cmd = cmd->name;
            status = cli_finish(cmd->run(&ctx, 2, help_argv));
            goto out;
        }
    }
    cmd = find_command(name);
    if (cmd == NULL) {
        cli_msg("unrecognized command \"%s\"", name);
        cli_hint("Try \"llmemory --help\" for the list of commands.");
        status = CLI_EXIT_USAGE;
        goto out;
    }
    ctx.cmd = cmd->name;
    {
        /* Audit records of this run name the local user. */
        const char *user = getenv("USER");
        char actor[96];
        snprintf(actor, sizeof(actor), "cli:%s", user && user[0] ? user : "unknown");
        lm_audit_context_set(actor, "local");
    }
    status = cli_finish(cmd->run(&ctx, nargs, args));
out:
    free(args);
    return status;
}
