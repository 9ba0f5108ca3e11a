/*
 * cli/cmd_keys.c: `llmemory keys create|list|revoke`: the API keys of the HTTP API, managed
 * directly in the database (an operator's tool; tenants' admins can use /v1/keys instead). A new
 * key is printed once, alone on standard output so scripts can capture it; only its hash is
 * stored.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"

static const char usage[] = "llmemory keys create --owner OWNER [OPTION]...\n"
                            "llmemory keys list [--owner OWNER [--subtenants]] [--json]\n"
                            "llmemory keys revoke [--owner OWNER] KEY_ID...";

static const char about[] =
    "Manage the API keys of the HTTP API (`llmemory serve`). A key acts for one owner\n"
    "(tenant); the server takes the tenant of every request from it. \"create\" prints the\n"
    "new key once, alone on standard output: store it then, it cannot be shown again.\n"
    "Revoking a key takes effect on the server's next request.\n";

/* --scope */
static int opt_scope(cli_ctx *ctx, const cli_opt *opt, const char *arg)
{
    if (lm_key_scope_parse(opt->dest, arg) < 0)
        return cli_usage(ctx, "invalid scope \"%s\" (read, write or admin)", arg);
    return 0;
}

/* An ISO 8601 expiry from "90d", "12h", "30m", "45s" (into @p buf), or @p arg itself. NULL (and
   a message) for a malformed duration. */
static const char *expiry(cli_ctx *ctx, const char *arg, char *buf, size_t len)
{
    char *end = NULL;
    long n;
    long long secs;
    time_t t;
    struct tm tm;

    if (arg[0] < '0' || arg[0] > '9')
        return arg;
    n = strtol(arg, &end, 10);
    if (end == NULL || end[0] == '\0' || end[1] != '\0' || strchr("dhms", end[0]) == NULL)
        return arg; /* not a duration: the library checks it as a timestamp */
    if (n <= 0 || n > 100000) {
        cli_usage(ctx, "invalid duration \"%s\" for option \"--expires\"", arg);
        return NULL;
    }
    secs = end[0] == 'd' ? n * 86400LL : end[0] == 'h' ? n * 3600LL : end[0] == 'm' ? n * 60LL : n;
    t = time(NULL) + (time_t)secs;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

/* --expires: the expiry (in a buffer that lives as long as the program) into the
   const char * at opt->dest. */
static int opt_expires(cli_ctx *ctx, const cli_opt *opt, const char *arg)
{
    static char when[40];
    const char *v = expiry(ctx, arg, when, sizeof(when));

    if (v == NULL)
        return CLI_EXIT_USAGE;
    *(const char **)opt->dest = v;
    return 0;
}

/* The options of each subcommand; "keys --help" prints all three. */
typedef struct keys_args {
    lm_key_opts o;
    const char *owner;
    int json, sub;
} keys_args;

static void create_table(cli_opt *t, keys_args *k)
{
    const cli_opt v[] = {
        CLI_OWNER(&k->owner, "owner the key acts for (required)"),
        CLI_STRING(0, "origin", "ID", &k->o.origin,
                   "bind the key to documents with this id at origin"),
        CLI_CALL(0, "scope", "SCOPE", &k->o.scope, NULL, opt_scope,
                 "read (get, list, search, statistics), write (also add and\n"
                 "delete; the default) or admin (also manage the owner's keys)"),
        CLI_FLAG(0, "subtenants", &k->o.allow_subtenants,
                 "the key may also act on sub-tenants OWNER/..."),
        CLI_CALL(0, "expires", "WHEN", &k->o.expires_at, NULL, opt_expires,
                 "expiry: an ISO 8601 timestamp, or a duration from now such as\n"
                 "90d, 12h, 30m or 45s (default: never)"),
        CLI_STRING(0, "name", "NAME", &k->o.name, "a label for people"),
        CLI_JSON(&k->json, "print the key and its settings as JSON"),
        CLI_END};
    memcpy(t, v, sizeof(v));
}
#define CREATE_OPTS 8

static void list_table(cli_opt *t, keys_args *k)
{
    const cli_opt v[] = {CLI_OWNER(&k->owner, "only this owner's keys (default: every owner's)"),
                         CLI_FLAG(0, "subtenants", &k->sub, "and those of its sub-tenants"),
                         CLI_JSON(&k->json, "print the keys as JSON"), CLI_END};
    memcpy(t, v, sizeof(v));
}
#define LIST_OPTS 4

static void revoke_table(cli_opt *t, keys_args *k)
{
    const cli_opt v[] = {CLI_OWNER(&k->owner, "only if the key belongs to this owner"), CLI_END};
    memcpy(t, v, sizeof(v));
}
#define REVOKE_OPTS 2

static int do_create(cli_ctx *ctx, int argc, char **argv)
{
    keys_args ka;
    cli_opt opts[CREATE_OPTS];
    const cli_spec spec = {.usage = usage, .about = about, .opts = opts, .max_args = 0};
    lm_memory *mem = NULL;
    lm_key_created k;
    json_t *out = NULL;
    const char *owner;
    int nargs, rc, bad, status = CLI_EXIT_USAGE;

    memset(&ka, 0, sizeof(ka));
    lm_key_opts_init(&ka.o, LM_KEY_OPTS_VERSION);
    memset(&k, 0, sizeof(k));
    create_table(opts, &ka);
    if ((status = cli_parse(ctx, &spec, argc, argv, &nargs)) != CLI_PARSED)
        return status;
    owner = ka.owner;
    if (owner == NULL)
        return cli_usage(ctx, "option \"--owner\" is required");
    if ((status = cli_open(ctx, &mem)) != 0)
        goto out;
    rc = lm_key_create(&k, mem, owner, &ka.o);
    if (rc < 0) {
        status = cli_fail_lm(rc, NULL);
        goto out;
    }
    if (ka.json) {
        out = json_object();
        bad = cli_jset(out, "key_id", cli_jstr(k.key_id));
        bad |= cli_jset(out, "key", cli_jstr(k.key));
        bad |= cli_jset(out, "owner_id", cli_jstr(owner));
        bad |= cli_jset(out, "origin", cli_jstr(ka.o.origin));
        bad |= cli_jset(out, "scope", cli_jstr(lm_key_scope_name(ka.o.scope)));
        bad |= cli_jset(out, "allow_subtenants", json_boolean(ka.o.allow_subtenants));
        bad |= cli_jset(out, "name", cli_jstr(ka.o.name));
        bad |= cli_jset(out, "created_at", cli_jstr(k.created_at));
        bad |= cli_jset(out, "expires_at", cli_jstr_or_null(k.expires_at));
        if (bad) {
            status = cli_oom();
            goto out;
        }
        status = cli_json_print(out);
        out = NULL;
        goto out;
    }
    printf("%s\n", k.key);
    cli_msg("created key %s for owner \"%s\" (scope %s%s, expires %s)", k.key_id, owner,
            lm_key_scope_name(ka.o.scope), ka.o.allow_subtenants ? ", with sub-tenants" : "",
            k.expires_at[0] ? k.expires_at : "never");
    cli_hint("Store the key now: it cannot be shown again.");
    status = CLI_EXIT_OK;
out:
    lm_key_created_dispose(&k);
    json_decref(out);
    lm_memory_close(mem);
    return status;
}

/* "active", "revoked" or "expired" (ISO 8601 UTC strings compare in time order). */
static const char *key_state(const lm_key_info *k, const char *now)
{
    if (k->revoked_at != NULL)
        return "revoked";
    if (k->expires_at != NULL && strcmp(k->expires_at, now) <= 0)
        return "expired";
    return "active";
}

static int do_list(cli_ctx *ctx, int argc, char **argv)
{
    keys_args ka;
    cli_opt opts[LIST_OPTS];
    const cli_spec spec = {.usage = usage, .about = about, .opts = opts, .max_args = 0};
    lm_memory *mem = NULL;
    lm_keys *keys = NULL;
    json_t *out = NULL, *arr = NULL;
    const char *owner;
    char now[40], tbuf[2][20];
    time_t t = time(NULL);
    struct tm tm;
    int json, sub, nargs, rc, bad, status;

    memset(&ka, 0, sizeof(ka));
    list_table(opts, &ka);
    if ((status = cli_parse(ctx, &spec, argc, argv, &nargs)) != CLI_PARSED)
        return status;
    owner = ka.owner;
    json = ka.json;
    sub = ka.sub;
    if (sub && owner == NULL)
        return cli_usage(ctx, "option \"--subtenants\" needs \"--owner\"");
    if ((status = cli_open(ctx, &mem)) != 0)
        goto out;
    rc = lm_key_list(&keys, mem, owner, sub);
    if (rc < 0) {
        status = cli_fail_lm(rc, NULL);
        goto out;
    }
    gmtime_r(&t, &tm);
    strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%S.000000Z", &tm);
    if (json) {
        out = json_object();
        arr = json_array();
        bad = cli_jset(out, "count", json_integer((json_int_t)lm_keys_count(keys)));
        for (size_t i = 0; i < lm_keys_count(keys) && arr != NULL && !bad; i++) {
            const lm_key_info *k = lm_keys_at(keys, i);
            json_t *o = json_object();
            bad |= cli_jset(o, "key_id", cli_jstr(k->key_id));
            bad |= cli_jset(o, "owner_id", cli_jstr(k->owner_id));
            bad |= cli_jset(o, "origin", cli_jstr(k->origin));
            bad |= cli_jset(o, "scope", cli_jstr(lm_key_scope_name(k->scope)));
            bad |= cli_jset(o, "allow_subtenants", json_boolean(k->allow_subtenants));
            bad |= cli_jset(o, "name", cli_jstr(k->name));
            bad |= cli_jset(o, "state", cli_jstr(key_state(k, now)));
            bad |= cli_jset(o, "created_at", cli_jstr(k->created_at));
            bad |= cli_jset(o, "expires_at", cli_jstr(k->expires_at));
            bad |= cli_jset(o, "revoked_at", cli_jstr(k->revoked_at));
            bad |= cli_jset(o, "last_used_at", cli_jstr(k->last_used_at));
            bad |= json_array_append_new(arr, o) != 0;
        }
        bad |= cli_jset(out, "keys", arr);
        arr = NULL;
        if (bad) {
            status = cli_oom();
            goto out;
        }
        status = cli_json_print(out);
        out = NULL;
        goto out;
    }
    for (size_t i = 0; i < lm_keys_count(keys); i++) {
        const lm_key_info *k = lm_keys_at(keys, i);
        printf("%s  %-7s  %-5s  created %s  last used %s  %s%s", k->key_id, key_state(k, now),
               lm_key_scope_name(k->scope), cli_short_time(tbuf[0], k->created_at),
               k->last_used_at ? cli_short_time(tbuf[1], k->last_used_at) : "never", k->owner_id,
               k->allow_subtenants ? "/..." : "");
        if (k->origin != NULL)
            printf("  origin %s", k->origin);
        if (k->name != NULL)
            printf("  \"%s\"", k->name);
        printf("\n");
    }
    printf("%zu key%s\n", lm_keys_count(keys), lm_keys_count(keys) == 1 ? "" : "s");
    status = CLI_EXIT_OK;
out:
    json_decref(arr);
    json_decref(out);
    lm_keys_free(keys);
    lm_memory_close(mem);
    return status;
}

static int do_revoke(cli_ctx *ctx, int argc, char **argv)
{
    keys_args ka;
    cli_opt opts[REVOKE_OPTS];
    const cli_spec spec = {.usage = usage,
                           .about = about,
                           .opts = opts,
                           .missing = "no key id given",
                           .min_args = 1,
                           .max_args = -1};
    lm_memory *mem = NULL;
    const char *owner;
    int nargs, rc, status;

    memset(&ka, 0, sizeof(ka));
    revoke_table(opts, &ka);
    if ((status = cli_parse(ctx, &spec, argc, argv, &nargs)) != CLI_PARSED)
        return status;
    owner = ka.owner;
    if ((status = cli_open(ctx, &mem)) != 0)
        goto out;
    for (int i = 0; i < nargs; i++) {
        rc = lm_key_revoke(mem, owner, 0, argv[i]);
        if (rc < 0) {
            int s = cli_fail_lm(rc, NULL);
            if (status == CLI_EXIT_OK)
                status = s;
            continue;
        }
        printf("revoked %s\n", argv[i]);
    }
out:
    lm_memory_close(mem);
    return status;
}

/* "keys --help": the usage, then the options of each subcommand. */
static int help_all(void)
{
    keys_args ka;
    cli_opt c[CREATE_OPTS], l[LIST_OPTS], r[REVOKE_OPTS];

    memset(&ka, 0, sizeof(ka));
    create_table(c, &ka);
    list_table(l, &ka);
    revoke_table(r, &ka);
    c[CREATE_OPTS - 1] = (cli_opt)CLI_GROUP("Options of list:");
    l[LIST_OPTS - 1] = (cli_opt)CLI_GROUP("Options of revoke:");
    {
        cli_opt all[CREATE_OPTS + LIST_OPTS + REVOKE_OPTS + 1];
        const cli_spec spec = {.usage = usage, .about = about, .opts = all};
        size_t n = 0;
        all[n++] = (cli_opt)CLI_GROUP("Options of create:");
        memcpy(all + n, c, sizeof(c));
        n += CREATE_OPTS;
        memcpy(all + n, l, sizeof(l));
        n += LIST_OPTS;
        memcpy(all + n, r, sizeof(r));
        cli_help_print(stdout, &spec);
    }
    return CLI_EXIT_OK;
}

int cli_cmd_keys(cli_ctx *ctx, int argc, char **argv)
{
    const char *sub;

    if (argc < 2)
        return cli_usage(ctx, "no subcommand given (create, list or revoke)");
    sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0)
        return help_all();
    if (cli_remote_on(ctx))
        return cli_usage(ctx, "\"keys\" works on the database, not with --url");
    if (strcmp(sub, "create") == 0)
        return do_create(ctx, argc - 1, argv + 1);
    if (strcmp(sub, "list") == 0)
        return do_list(ctx, argc - 1, argv + 1);
    if (strcmp(sub, "revoke") == 0)
        return do_revoke(ctx, argc - 1, argv + 1);
    return cli_usage(ctx, "unrecognized subcommand \"%s\" (create, list or revoke)", sub);
}
