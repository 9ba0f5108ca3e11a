/*
 * cli/cmd_cluster.c: `llmemory cluster init|add-shard|sync|status|shard-of|move-tenant|rebalance`:
 * sharded mode (llmemory/cluster.h, docs/cluster.md). The work is the library's.
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"

static const char about[] =
    "Spread tenants over several PostgreSQL databases (shards) behind one proxy database that\n"
    "routes every tenant operation to the tenant's shard (PL/Proxy). Applications then use the\n"
    "proxy's URL as their database URL.\n"
    "\n"
    "  init --proxy URL --shard URL...   migrate the shards and make the proxy\n"
    "  add-shard --proxy URL --shard URL add an empty shard\n"
    "  sync --proxy URL                  after an upgrade: migrate the shards, regenerate routing\n"
    "  status --proxy URL                the shards and their sizes\n"
    "  shard-of OWNER --proxy URL        the shard an owner's operations run on\n"
    "  move-tenant OWNER --to N --proxy URL\n"
    "                                    move an owner online (shards need wal_level=logical)\n"
    "  rebalance --proxy URL [--dry-run] even out the shards' chunk counts\n";

static int print_move(const char *owner, int from, int to, int64_t chunks, void *payload)
{
    printf("%s %s: shard %d -> %d (%lld chunks)\n", *(int *)payload ? "would move" : "moving",
           owner, from, to, (long long)chunks);
    fflush(stdout);
    return 0;
}

int cli_cmd_cluster(cli_ctx *ctx, int argc, char **argv)
{
    const char *proxy = NULL;
    cli_strv shards = {0};
    int json = 0, to = -1, dry = 0, max_moves = 0, timeout_s = 0, nargs, rc;
    const cli_opt opts[] = {
        CLI_STRING(0, "proxy", "URL", &proxy, "the proxy database"),
        CLI_LIST(0, "shard", "URL", &shards, "a shard database"),
        CLI_INT(0, "to", "N", &to, 0, 1023, "move-tenant: the target shard"),
        CLI_INT(0, "timeout", "SECONDS", &timeout_s, 1, 86400,
                "move-tenant: longest copy (default 3600)"),
        CLI_INT(0, "max-moves", "N", &max_moves, 1, 100000, "rebalance: most moves (default 100)"),
        CLI_FLAG(0, "dry-run", &dry, "rebalance: print the moves only"),
        CLI_JSON(&json, "print the result as JSON"),
        CLI_END};
    const cli_spec spec = {
        .usage = "llmemory cluster ACTION [OWNER] --proxy URL [OPTION]...",
        .about = about,
        .opts = opts,
        .missing = "no action given (init, add-shard, sync, status, shard-of, move-tenant, "
                   "rebalance)",
        .min_args = 1,
        .max_args = 2};
    if ((rc = cli_parse(ctx, &spec, argc, argv, &nargs)) != CLI_PARSED)
        return rc;
    const char *action = argv[0], *owner = nargs > 1 ? argv[1] : NULL;
    const char *schema = ctx->schema;
    int needs_owner = strcmp(action, "move-tenant") == 0 || strcmp(action, "shard-of") == 0;
    rc = CLI_EXIT_OK;
    if (proxy == NULL) {
        rc = cli_usage(ctx, "--proxy URL is required");
        goto out;
    }
    if (needs_owner != (owner != NULL)) {
        rc = cli_usage(ctx, needs_owner ? "%s needs an OWNER" : "%s takes no OWNER", action);
        goto out;
    }
    if (strcmp(action, "init") == 0) {
        if (shards.n == 0) {
            rc = cli_usage(ctx, "init needs at least one --shard URL");
            goto out;
        }
        if ((rc = lm_cluster_init(proxy, shards.v, shards.n, schema)) < 0) {
            rc = cli_fail_lm(rc, NULL);
            goto out;
        }
        printf("cluster ready: %zu shards behind the proxy\n", shards.n);
    } else if (strcmp(action, "add-shard") == 0) {
        int no = -1;
        if (shards.n != 1) {
            rc = cli_usage(ctx, "add-shard needs exactly one --shard URL");
            goto out;
        }
        if ((rc = lm_cluster_add_shard(proxy, shards.v[0], schema, &no)) < 0) {
            rc = cli_fail_lm(rc, NULL);
            goto out;
        }
        printf("added shard %d\n", no);
    } else if (strcmp(action, "sync") == 0) {
        int routed = 0;
        if ((rc = lm_cluster_sync(proxy, schema, &routed)) < 0) {
            rc = cli_fail_lm(rc, NULL);
            goto out;
        }
        printf("%d tenant operations routed\n", routed);
    } else if (strcmp(action, "shard-of") == 0) {
        int no = -1;
        if ((rc = lm_cluster_shard_of(proxy, schema, owner, &no)) < 0) {
            rc = cli_fail_lm(rc, NULL);
            goto out;
        }
        printf("%d\n", no);
    } else if (strcmp(action, "status") == 0) {
        lm_cluster_shard *v = NULL;
        size_t n = 0;
        if ((rc = lm_cluster_status(proxy, schema, &v, &n)) < 0) {
            rc = cli_fail_lm(rc, NULL);
            goto out;
        }
        if (json) {
            json_t *a = json_array();
            for (size_t i = 0; a && i < n; i++)
                json_array_append_new(
                    a, json_pack("{s:i, s:b, s:b, s:I, s:I, s:I, s:I, s:I, s:s}", "shard",
                                 v[i].shard_no, "reachable", v[i].reachable, "in_hash",
                                 v[i].in_hash, "tenants", (json_int_t)v[i].tenants, "documents",
                                 (json_int_t)v[i].documents, "chunks", (json_int_t)v[i].chunks,
                                 "bytes", (json_int_t)v[i].bytes, "placed",
                                 (json_int_t)v[i].placed, "conninfo", v[i].conninfo));
            lm_cluster_status_free(v);
            rc = cli_json_print(a);
            goto out;
        }
        printf("%-5s %-9s %-4s %8s %10s %10s %8s  %s\n", "shard", "reachable", "hash", "tenants",
               "documents", "chunks", "placed", "conninfo");
        for (size_t i = 0; i < n; i++)
            printf("%-5d %-9s %-4s %8lld %10lld %10lld %8lld  %s\n", v[i].shard_no,
                   v[i].reachable ? "yes" : "NO", v[i].in_hash ? "yes" : "no",
                   (long long)v[i].tenants, (long long)v[i].documents, (long long)v[i].chunks,
                   (long long)v[i].placed, v[i].conninfo);
        lm_cluster_status_free(v);
    } else if (strcmp(action, "move-tenant") == 0) {
        lm_cluster_move_report r;
        if (to < 0) {
            rc = cli_usage(ctx, "move-tenant needs --to N");
            goto out;
        }
        rc = lm_cluster_move_tenant(proxy, schema, owner, to, timeout_s, &r);
        if (rc < 0) {
            rc = cli_fail_lm(rc, NULL);
            goto out;
        }
        if (json) {
            rc = cli_json_print(json_pack("{s:i, s:i, s:I, s:f, s:f, s:f, s:f, s:f}", "from",
                                          r.from_shard, "to", r.to_shard, "rows",
                                          (json_int_t)r.rows, "copy_ms", r.copy_ms, "index_ms",
                                          r.index_ms, "pause_ms", r.pause_ms, "cleanup_ms",
                                          r.cleanup_ms, "total_ms", r.total_ms));
            goto out;
        }
        if (r.from_shard == r.to_shard)
            printf("%s is on shard %d already\n", owner, to);
        else
            printf("moved %s: shard %d -> %d, %lld rows; copy %.0f ms, indexes %.0f ms, write "
                   "pause %.1f ms, clean-up %.0f ms\n",
                   owner, r.from_shard, r.to_shard, (long long)r.rows, r.copy_ms, r.index_ms,
                   r.pause_ms, r.cleanup_ms);
    } else if (strcmp(action, "rebalance") == 0) {
        int moved = 0;
        if ((rc = lm_cluster_rebalance(proxy, schema, max_moves, dry, print_move, &dry, &moved)) <
            0) {
            rc = cli_fail_lm(rc, NULL);
            goto out;
        }
        printf("%d tenants %s\n", moved, dry ? "would move" : "moved");
    } else {
        rc = cli_usage(ctx, "unrecognized action \"%s\"", action);
    }
out:
    cli_strv_dispose(&shards);
    return rc < 0 ? CLI_EXIT_ERROR : rc;
}
