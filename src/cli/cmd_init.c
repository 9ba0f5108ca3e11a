/*
 * cli/cmd_init.c: `llmemory init`: open the memory once, which creates the embedded cluster
 * (when no database URL is configured), the schema and pending migrations, and say where the
 * data lives.
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"

static const char about[] =
    "Prepare the database: create and start the embedded cluster when no database URL is\n"
    "configured, create the schema and apply pending migrations. Safe to run again.\n"
    "Then show where the data lives.\n";

int cli_cmd_init(cli_ctx *ctx, int argc, char **argv)
{
    int json = 0, nargs, embedded, rc, status;
    const cli_opt opts[] = {CLI_JSON(&json, "print the result as JSON"), CLI_END};
    const cli_spec spec = {
        .usage = "llmemory init [--json]",
        .about = about,
        .opts = opts,
        .max_args = 0};
    lm_memory *mem = NULL;
    json_t *out = NULL;
    lm_db_info info;
    const char *source = NULL;

    if ((status = cli_parse(ctx, &spec, argc, argv, &nargs)) != CLI_PARSED)
        return status;
    memset(&info, 0, sizeof(info));

    status = cli_open(ctx, &mem);
    if (status != 0)
        goto out;
    embedded = !cli_url_configured(ctx, &source);
    if (embedded) {
        rc = lm_db_status(&info, ctx->home);
        if (rc < 0) {
            status = cli_fail_lm(rc, NULL);
            goto out;
        }
    }

    if (json) {
        out = json_object();
        int bad = cli_jset(out, "schema", cli_jstr(lm_memory_schema(mem)));
        bad |= cli_jset(out, "database", cli_jstr(embedded ? "embedded" : "external"));
        bad |= cli_jset(out, "database_url_from", cli_jstr(source));
        bad |= cli_jset(out, "embedded", embedded ? cli_json_db_info(&info) : json_null());
        if (bad) {
            status = cli_oom();
            goto out;
        }
        status = cli_json_print(out);
        out = NULL;
        goto out;
    }
    printf("llmemory is ready.\n");
    if (embedded) {
        printf("  database  embedded PostgreSQL %s in %s\n",
               info.server_version[0] != '\0' ? info.server_version : "cluster", info.home);
        if (info.running)
            printf("  server    running, pid %ld, socket in %s\n", info.pid, info.socket_dir);
        else
            printf("  server    not running\n");
    } else {
        printf("  database  the one named by %s\n", source);
    }
    printf("  schema    %s\n", lm_memory_schema(mem));
    status = CLI_EXIT_OK;
out:
    json_decref(out);
    lm_memory_close(mem);
    return status;
}
