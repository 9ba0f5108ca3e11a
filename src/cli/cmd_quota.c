/*
 * cli/cmd_quota.c: `llmemory quota get|set`: an owner's storage limits in force, its own
 * overrides of the configured defaults, and its usage; its rates (adds and searches a minute);
 * and setting those overrides.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

static const char about[] =
    "Show or set one owner's storage quotas: documents, chunks, content bytes and vectors.\n"
    "A limit is a number, \"none\" (no limit even if a default is configured) or \"default\"\n"
    "(follow $LLMEMORY_QUOTA_DOCUMENTS, ..._CHUNKS, ..._BYTES, ..._VECTORS again). A write that\n"
    "would pass a limit fails and writes nothing.\n"
    "Rates (--adds-per-minute, --searches-per-minute) take the same words; they override\n"
    "$LLMEMORY_RATE_ADDS and $LLMEMORY_RATE_SEARCHES (a second) for this owner. A call past its\n"
    "rate is refused (HTTP 429 with Retry-After). Other processes follow within 5 seconds.\n";

static const char *const kinds[4] = {"documents", "chunks", "bytes", "vectors"};

/* CLI_OPT_CALL: a limit into the int64_t at dest. */
static int opt_limit(cli_ctx *ctx, const cli_opt *opt, const char *arg)
{
    int64_t *dest = opt->dest;
    char *end = NULL;
    long long v;
    if (strcmp(arg, "none") == 0) {
        *dest = LM_QUOTA_NONE;
        return 0;
    }
    if (strcmp(arg, "default") == 0) {
        *dest = LM_QUOTA_DEFAULT;
        return 0;
    }
    errno = 0;
    v = strtoll(arg, &end, 10);
    if (errno != 0 || end == arg || *end != '\0' || v < 0)
        return cli_usage(ctx, "invalid --%s \"%s\" (a number, \"none\" or \"default\")",
                         opt->long_name, arg);
    *dest = v;
    return 0;
}

/* CLI_OPT_CALL: a rate a minute into the double at dest (a second), or none/default. */
static int opt_rate(cli_ctx *ctx, const cli_opt *opt, const char *arg)
{
    double *dest = opt->dest;
    char *end = NULL;
    double v;
    if (strcmp(arg, "none") == 0 || strcmp(arg, "default") == 0) {
        *dest = arg[0] == 'n' ? LM_QUOTA_NONE : LM_QUOTA_DEFAULT;
        return 0;
    }
    errno = 0;
    v = strtod(arg, &end);
    if (errno != 0 || end == arg || *end != '\0' || !(v >= 0) || v > 6e10)
        return cli_usage(ctx, "invalid --%s \"%s\" (a number a minute, \"none\" or \"default\")",
                         opt->long_name, arg);
    *dest = v / 60.0;
    return 0;
}

/* A rate a second as "N/min", none or default. */
static void rate_text(char *out, size_t n, double v)
{
    if (v == LM_QUOTA_NONE)
        snprintf(out, n, "none");
    else if (v == LM_QUOTA_DEFAULT)
        snprintf(out, n, "default");
    else
        snprintf(out, n, "%g/min", v * 60.0);
}

static json_t *rate_json(double v)
{
    return v < 0 ? json_null() : json_real(v * 60.0);
}

static void limit_text(char *out, size_t n, int64_t v)
{
    if (v == LM_QUOTA_NONE)
        snprintf(out, n, "none");
    else if (v == LM_QUOTA_DEFAULT)
        snprintf(out, n, "default");
    else
        snprintf(out, n, "%lld", (long long)v);
}

static json_t *limit_json(int64_t v)
{
    return v < 0 ? json_null() : json_integer((json_int_t)v);
}

static int show(lm_memory *mem, const char *owner, int json)
{
    static const char *const rk[2] = {"adds_per_minute", "searches_per_minute"};
    lm_quota_status st;
    lm_rate_status rs;
    json_t *out = NULL;
    int rc = lm_quota_get(&st, mem, owner), bad = 0;
    const int64_t *l = &st.limit.documents, *o = &st.override.documents, *u = &st.usage.documents;
    const double *rl = &rs.limit.adds, *ro = &rs.override.adds;
    if (rc < 0 || (rc = lm_rate_get(&rs, mem, owner)) < 0)
        return cli_fail_lm(rc, NULL);
    if (json) {
        out = json_object();
        bad |= cli_jset(out, "owner_id", cli_jstr(owner));
        for (int i = 0; i < 4; i++) {
            json_t *k = json_object();
            char ov[24];
            limit_text(ov, sizeof(ov), o[i]);
            bad |= cli_jset(k, "limit", limit_json(l[i]));
            bad |= cli_jset(k, "usage", json_integer((json_int_t)u[i]));
            bad |= cli_jset(k, "setting", cli_jstr(ov));
            bad |= cli_jset(out, kinds[i], k);
        }
        for (int i = 0; i < 2; i++) {
            json_t *k = json_object();
            char ov[32];
            rate_text(ov, sizeof(ov), ro[i]);
            bad |= cli_jset(k, "limit", rate_json(rl[i]));
            bad |= cli_jset(k, "setting", cli_jstr(ov));
            bad |= cli_jset(out, rk[i], k);
        }
        if (bad) {
            json_decref(out);
            return cli_oom();
        }
        return cli_json_print(out);
    }
    printf("owner %s\n%-10s %15s %15s  %s\n", owner, "kind", "usage", "limit", "setting");
    for (int i = 0; i < 4; i++) {
        char lt[24], ov[24];
        limit_text(lt, sizeof(lt), l[i]);
        limit_text(ov, sizeof(ov), o[i]);
        printf("%-10s %15lld %15s  %s\n", kinds[i], (long long)u[i], lt, ov);
    }
    for (int i = 0; i < 2; i++) {
        char lt[32], ov[32];
        rate_text(lt, sizeof(lt), rl[i]);
        rate_text(ov, sizeof(ov), ro[i]);
        printf("%-10s %15s %15s  %s\n", i ? "searches" : "adds", "rate", lt, ov);
    }
    return CLI_EXIT_OK;
}

int cli_cmd_quota(cli_ctx *ctx, int argc, char **argv)
{
    const char *owner_opt = NULL, *owner = NULL, *sub;
    int json = 0, nargs, rc, status, given[4] = {0, 0, 0, 0}, rgiven[2] = {0, 0};
    lm_quota_status cur;
    lm_rate_status rcur;
    int64_t v[4] = {0, 0, 0, 0};
    double rv[2] = {0, 0};
    const cli_opt opts[] = {
        CLI_OWNER(&owner_opt, "owner (tenant); default $LLMEMORY_OWNER"),
        CLI_JSON(&json, "print the quotas as JSON"),
        CLI_GROUP("Limits (set):"),
        CLI_CALL(0, "documents", "N", &v[0], &given[0], opt_limit, "most documents"),
        CLI_CALL(0, "chunks", "N", &v[1], &given[1], opt_limit, "most chunks"),
        CLI_CALL(0, "bytes", "N", &v[2], &given[2], opt_limit, "most content bytes"),
        CLI_CALL(0, "vectors", "N", &v[3], &given[3], opt_limit, "most vectors"),
        CLI_GROUP("Rates (set):"),
        CLI_CALL(0, "adds-per-minute", "N", &rv[0], &rgiven[0], opt_rate,
                 "most document adds a minute"),
        CLI_CALL(0, "searches-per-minute", "N", &rv[1], &rgiven[1], opt_rate,
                 "most searches a minute"),
        CLI_END};
    const cli_spec spec = {.usage = "llmemory quota get [OPTION]...\n"
                                    "llmemory quota set [OPTION]... --documents N ...",
                           .about = about,
                           .opts = opts,
                           .min_args = 1,
                           .missing = "no subcommand given (get or set)",
                           .max_args = 1};
    lm_memory *mem = NULL;

    if ((status = cli_parse(ctx, &spec, argc, argv, &nargs)) != CLI_PARSED)
        return status;
    sub = argv[0];
    if (strcmp(sub, "get") != 0 && strcmp(sub, "set") != 0)
        return cli_usage(ctx, "unrecognized subcommand \"%s\" (get or set)", sub);
    if (strcmp(sub, "set") == 0 && !given[0] && !given[1] && !given[2] && !given[3] &&
        !rgiven[0] && !rgiven[1])
        return cli_usage(ctx, "quota set needs at least one of --documents, --chunks, --bytes, "
                              "--vectors, --adds-per-minute and --searches-per-minute");
    if ((status = cli_owner(ctx, owner_opt, &owner)) != 0)
        return status;
    if (cli_remote_on(ctx))
        return cli_usage(ctx, "\"quota\" works on the database, not with --url");
    if ((status = cli_open(ctx, &mem)) != 0)
        goto out;
    if (strcmp(sub, "set") == 0) {
        /* Limits not named keep their current setting. */
        if ((rc = lm_quota_get(&cur, mem, owner)) < 0) {
            status = cli_fail_lm(rc, NULL);
            goto out;
        }
        lm_quota q = cur.override;
        int64_t *qv = &q.documents;
        for (int i = 0; i < 4; i++)
            if (given[i])
                qv[i] = v[i];
        if ((given[0] || given[1] || given[2] || given[3]) &&
            (rc = lm_quota_set(mem, owner, &q)) < 0) {
            status = cli_fail_lm(rc, NULL);
            goto out;
        }
        if (rgiven[0] || rgiven[1]) {
            if ((rc = lm_rate_get(&rcur, mem, owner)) < 0) {
                status = cli_fail_lm(rc, NULL);
                goto out;
            }
            lm_rates r = rcur.override;
            if (rgiven[0])
                r.adds = rv[0];
            if (rgiven[1])
                r.searches = rv[1];
            if ((rc = lm_rate_set(mem, owner, &r)) < 0) {
                status = cli_fail_lm(rc, NULL);
                goto out;
            }
        }
    }
    status = show(mem, owner, json);
out:
    lm_memory_close(mem);
    return status;
}
