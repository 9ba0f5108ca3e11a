/*
 * cli/cmd_optimize.c: `llmemory optimize`: maintenance after bulk loads (lm_memory_optimize()):
 * packs the BM25 postings index and vacuums and analyzes the search tables, for every tenant.
 */
#include <stdio.h>

#include "cmd.h"

static const char about[] =
    "Rebuild the keyword-search postings index without blocking reads or writes (REINDEX\n"
    "INDEX CONCURRENTLY), then VACUUM (ANALYZE) the search tables. Run it after bulk loads:\n"
    "trigger-built postings leave the index about half full, and keyword search on large\n"
    "tenants reads posting lists page by page. Results never change. Covers every owner.\n";

int cli_cmd_optimize(cli_ctx *ctx, int argc, char **argv)
{
    int json = 0, nargs, rc, status;
    const cli_opt opts[] = {CLI_JSON(&json, "print what was done as JSON"), CLI_END};
    const cli_spec spec = {
        .usage = "llmemory optimize [--json]",
        .about = about,
        .opts = opts,
        .max_args = 0};
    lm_memory *mem = NULL;
    lm_optimize_report rep;
    json_t *out;

    if ((status = cli_parse(ctx, &spec, argc, argv, &nargs)) != CLI_PARSED)
        return status;
    if (cli_remote_on(ctx))
        return cli_usage(ctx, "\"optimize\" works on the database, not with --url");
    if ((status = cli_open(ctx, &mem)) != 0)
        goto out;
    if ((rc = lm_memory_optimize(mem, &rep)) < 0) {
        status = cli_fail_lm(rc, NULL);
        goto out;
    }
    if (json) {
        out = json_object();
        if (out == NULL ||
            cli_jset(out, "postings_pages_before", json_integer(rep.postings_pages_before)) ||
            cli_jset(out, "postings_pages_after", json_integer(rep.postings_pages_after)) ||
            cli_jset(out, "elapsed_ms", json_real(rep.elapsed_ms))) {
            json_decref(out);
            status = cli_oom();
            goto out;
        }
        status = cli_json_print(out);
        goto out;
    }
    printf("postings index  %lld pages before, %lld after\n", rep.postings_pages_before,
           rep.postings_pages_after);
    printf("vacuumed and analyzed the search tables in %.0f ms\n", rep.elapsed_ms);
    status = CLI_EXIT_OK;
out:
    lm_memory_close(mem);
    return status;
}
