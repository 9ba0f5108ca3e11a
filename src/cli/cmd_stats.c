/*
 * cli/cmd_stats.c: `llmemory stats`: an owner's document and chunk counts, bytes, documents per
 * type, and when the first and last documents were added; with --all, every owner's usage for
 * an operator, sorted by any column, with the owners near a quota flagged (--near-quota PCT:
 * only those at PCT % of a limit or more). One owner's statistics include its searches and adds
 * per day (the usage meter, last 7 days).
 */
#include <stdio.h>

#include "cmd.h"

static json_t *limit_json(int64_t v)
{
    return v < 0 ? json_null() : json_integer((json_int_t)v);
}

static int stats_all(cli_ctx *ctx, const char *sort_name, int limit, int near, int json)
{
    lm_usage_sort sort = LM_USAGE_SORT_OWNER;
    lm_usage_list *l = NULL;
    lm_memory *mem = NULL;
    json_t *out = NULL, *arr = NULL;
    int rc, status, bad = 0;

    if (sort_name != NULL && lm_usage_sort_parse(&sort, sort_name) < 0) {
        cli_fail_lm(LM_EINVAL, NULL);
        return CLI_EXIT_USAGE;
    }
    if ((status = cli_open(ctx, &mem)) != 0)
        goto out;
    if ((rc = near > 0 ? lm_usage_list_near(&l, mem, sort, limit, near)
                       : lm_usage_list_get(&l, mem, sort, limit)) < 0) {
        status = cli_fail_lm(rc, NULL);
        goto out;
    }
    if (json) {
        out = json_object();
        arr = json_array();
        for (size_t i = 0; i < lm_usage_list_count(l); i++) {
            const lm_usage_row *r = lm_usage_list_at(l, i);
            json_t *o = json_object();
            bad |= cli_jset(o, "owner_id", cli_jstr(r->owner_id));
            bad |= cli_jset(o, "documents", json_integer((json_int_t)r->usage.documents));
            bad |= cli_jset(o, "chunks", json_integer((json_int_t)r->usage.chunks));
            bad |= cli_jset(o, "bytes", json_integer((json_int_t)r->usage.bytes));
            bad |= cli_jset(o, "vectors", json_integer((json_int_t)r->usage.vectors));
            bad |= cli_jset(o, "searches_today", json_integer((json_int_t)r->searches_today));
            bad |= cli_jset(o, "adds_today", json_integer((json_int_t)r->adds_today));
            bad |= cli_jset(o, "limit_documents", limit_json(r->limit.documents));
            bad |= cli_jset(o, "limit_chunks", limit_json(r->limit.chunks));
            bad |= cli_jset(o, "limit_bytes", limit_json(r->limit.bytes));
            bad |= cli_jset(o, "limit_vectors", limit_json(r->limit.vectors));
            bad |= cli_jset(o, "near_limit", cli_jstr_or_null(r->near_limit));
            bad |= json_array_append_new(arr, o) < 0;
        }
        bad |= cli_jset(out, "count", json_integer((json_int_t)lm_usage_list_count(l)));
        bad |= cli_jset(out, "owners", arr);
        arr = NULL;
        if (bad) {
            status = cli_oom();
            goto out;
        }
        status = cli_json_print(out);
        out = NULL;
        goto out;
    }
    printf("%-24s %10s %10s %12s %10s %9s %9s  %s\n", "owner", "documents", "chunks", "bytes",
           "vectors", "searches", "adds", "alert");
    for (size_t i = 0; i < lm_usage_list_count(l); i++) {
        const lm_usage_row *r = lm_usage_list_at(l, i);
        printf("%-24s %10lld %10lld %12lld %10lld %9lld %9lld  %s%s\n", r->owner_id,
               (long long)r->usage.documents, (long long)r->usage.chunks,
               (long long)r->usage.bytes, (long long)r->usage.vectors,
               (long long)r->searches_today, (long long)r->adds_today,
               r->near_limit ? "near the limit of " : "", r->near_limit ? r->near_limit : "");
    }
    if (lm_usage_list_count(l) == 0)
        printf("(no owners)\n");
    status = CLI_EXIT_OK;
out:
    json_decref(arr);
    json_decref(out);
    lm_usage_list_free(l);
    lm_memory_close(mem);
    return status;
}

int cli_cmd_stats(cli_ctx *ctx, int argc, char **argv)
{
    const char *owner_opt = NULL, *owner = NULL;
    const char *sort = NULL;
    int json = 0, nargs, all = 0, limit = 100, near = 0;
    const cli_opt opts[] = {
        CLI_OWNER(&owner_opt, "owner (tenant); default $LLMEMORY_OWNER"),
        CLI_JSON(&json, "print the statistics as JSON"),
        CLI_GROUP("Every owner (operators):"),
        CLI_FLAG(0, "all", &all, "every owner's usage, searches and adds today, quota alerts"),
        CLI_STRING(0, "sort", "COLUMN", &sort,
                   "owner, documents, chunks, bytes, vectors, searches or adds\n"
                   "(largest first; default owner)"),
        CLI_INT(0, "limit", "N", &limit, 1, 100000, "at most N owners (default 100)"),
        CLI_INT(0, "near-quota", "PCT", &near, 1, 1000,
                "only owners at PCT % of some quota or more (e.g. 80)"),
        CLI_END};
    const cli_spec spec = {.usage = "llmemory stats [OPTION]...\nllmemory stats --all [--sort COLUMN] [--limit N]",
                           .about = "Show one owner's statistics.\n",
                           .opts = opts,
                           .max_args = 0};
    lm_memory *mem = NULL;
    json_t *out = NULL, *by_type = NULL;
    lm_stats st;
    lm_usage_day days[7];
    int c, rc, bad, status, ndays = 0;

    if ((status = cli_parse(ctx, &spec, argc, argv, &nargs)) != CLI_PARSED)
        return status;
    if (all) {
        if (owner_opt != NULL)
            return cli_usage(ctx, "--all and --owner cannot be combined");
        if (cli_remote_on(ctx))
            return cli_usage(ctx, "--all works on the database, not with --url");
        return stats_all(ctx, sort, limit, near, json);
    }
    if (sort != NULL || near > 0)
        return cli_usage(ctx, "--sort and --near-quota need --all");
    if ((status = cli_target_owner(ctx, owner_opt, &owner)) != 0)
        return status;
    if (cli_remote_on(ctx))
        return cli_remote_stats(ctx, owner, json);
    if ((status = cli_open(ctx, &mem)) != 0)
        goto out;
    rc = lm_stats_get(&st, mem, owner);
    if (rc == 0)
        rc = lm_usage_days(days, 7, &ndays, mem, owner);
    if (rc < 0) {
        status = cli_fail_lm(rc, NULL);
        goto out;
    }

    if (json) {
        out = json_object();
        by_type = json_object();
        bad = cli_jset(out, "owner_id", cli_jstr(owner));
        bad |= cli_jset(out, "document_count", json_integer((json_int_t)st.document_count));
        bad |= cli_jset(out, "chunk_count", json_integer((json_int_t)st.chunk_count));
        bad |= cli_jset(out, "total_bytes", json_integer((json_int_t)st.total_bytes));
        for (int t = 0; t < LM_DOC_TYPE_COUNT; t++)
            bad |= cli_jset(by_type, lm_doc_type_name((lm_doc_type)t),
                            json_integer((json_int_t)st.by_type[t]));
        bad |= cli_jset(out, "by_type", by_type);
        by_type = NULL;
        bad |= cli_jset(out, "first_created", cli_jstr_or_null(st.first_created));
        bad |= cli_jset(out, "last_created", cli_jstr_or_null(st.last_created));
        {
            json_t *u = json_object(), *arr = json_array();
            bad |= u == NULL || arr == NULL;
            bad |= cli_jset(u, "searches_today", json_integer(ndays ? (json_int_t)days[0].searches : 0));
            bad |= cli_jset(u, "adds_today", json_integer(ndays ? (json_int_t)days[0].adds : 0));
            for (int i = 0; i < ndays; i++)
                bad |= json_array_append_new(arr, json_pack("{s:s,s:I,s:I}", "day", days[i].day,
                                                             "searches", (json_int_t)days[i].searches,
                                                             "adds", (json_int_t)days[i].adds)) < 0;
            bad |= cli_jset(u, "days", arr);
            bad |= cli_jset(out, "usage", u);
        }
        if (bad) {
            status = cli_oom();
            goto out;
        }
        status = cli_json_print(out);
        out = NULL;
        goto out;
    }
    printf("owner          %s\n", owner);
    printf("documents      %lld\n", (long long)st.document_count);
    printf("chunks         %lld\n", (long long)st.chunk_count);
    printf("bytes          %lld\n", (long long)st.total_bytes);
    printf("by type       ");
    c = 0;
    for (int t = 0; t < LM_DOC_TYPE_COUNT; t++) {
        if (st.by_type[t] == 0)
            continue;
        printf("%s %s %lld", c++ ? "," : "", lm_doc_type_name((lm_doc_type)t),
               (long long)st.by_type[t]);
    }
    printf("%s\n", c ? "" : " (none)");
    if (st.first_created[0] != '\0') {
        printf("first added    %s\n", st.first_created);
        printf("last added     %s\n", st.last_created);
    }
    {
        printf("searches today %lld\n", ndays ? (long long)days[0].searches : 0LL);
        printf("adds today     %lld\n", ndays ? (long long)days[0].adds : 0LL);
        for (int i = 1; i < ndays; i++)
            printf("  %s   %lld searches, %lld adds\n", days[i].day, (long long)days[i].searches,
                   (long long)days[i].adds);
    }
    status = CLI_EXIT_OK;
out:
    json_decref(by_type);
    json_decref(out);
    lm_memory_close(mem);
    return status;
}
