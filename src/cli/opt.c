/*
 * cli/opt.c: command-line parsing shared by the commands: option tables parsed by one function
 * (cli_parse), which also prints --help from them; integers, metadata (k=v, k:=json), document
 * types, the owner, opening the memory with the global options, and turning paths into ids at
 * origin.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cmd.h"

/* ==== option tables ==== */

static const cli_opt help_opt = {.kind = CLI_OPT_HELP,
                                  .short_name = 'h',
                                  .long_name = "help",
                                  .help = "print this help and exit"};

void cli_strv_dispose(cli_strv *l)
{
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

int cli_strv_push(cli_strv *l, const char *s)
{
    if (l->n + 1 >= l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        const char **v = realloc(l->v, cap * sizeof(*v));
        if (v == NULL)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = s;
    l->v[l->n] = NULL;
    return 0;
}

static int takes_value(const cli_opt *o)
{
    return o->kind != CLI_OPT_FLAG && o->kind != CLI_OPT_HELP;
}

/* The option's name for messages: "--limit", or "-c" when it has no long name. */
static void opt_display(char *out, size_t outlen, const cli_opt *o)
{
    if (o->long_name != NULL)
        snprintf(out, outlen, "--%s", o->long_name);
    else
        snprintf(out, outlen, "-%c", o->short_name);
}

static const cli_opt *find_short(const cli_opt *opts, int c)
{
    for (const cli_opt *o = opts; o->kind != CLI_OPT_END; o++)
        if (o->kind != CLI_OPT_GROUP && o->short_name == c)
            return o;
    return c == help_opt.short_name ? &help_opt : NULL;
}

/* The option named @p name (@p len bytes): an exact match, else the only option whose name
   starts with it. *ambiguous is set when several do. */
static const cli_opt *find_long(const cli_opt *opts, const char *name, size_t len, int *ambiguous)
{
    const cli_opt *prefix = NULL;
    int n_prefix = 0;

    *ambiguous = 0;
    for (const cli_opt *o = opts;; o++) {
        const cli_opt *c = o->kind == CLI_OPT_END ? &help_opt : o;
        if (c->kind != CLI_OPT_GROUP && c->long_name != NULL &&
            strncmp(c->long_name, name, len) == 0) {
            if (c->long_name[len] == '\0')
                return c;
            /* Two spellings of one option (--type, --mode) are not ambiguous. */
            if (prefix == NULL || prefix->dest != c->dest || prefix->kind != c->kind) {
                n_prefix++;
                prefix = c;
            }
        }
        if (o->kind == CLI_OPT_END)
            break;
    }
    *ambiguous = n_prefix > 1;
    return n_prefix == 1 ? prefix : NULL;
}

static int parse_integer(cli_ctx *ctx, const cli_opt *o, const char *arg, long long *out)
{
    char name[128], *end = NULL;
    long long v;

    errno = 0;
    v = strtoll(arg, &end, 10);
    if (arg[0] == '\0' || end == NULL || *end != '\0' || errno != 0 || v < o->min || v > o->max) {
        opt_display(name, sizeof(name), o);
        cli_msg("invalid value \"%s\" for option \"%s\"", arg, name);
        cli_detail("The value must be an integer from %lld to %lld.", o->min, o->max);
        if (ctx->cmd != NULL)
            cli_hint("Try \"llmemory %s --help\".", ctx->cmd);
        return CLI_EXIT_USAGE;
    }
    *out = v;
    return 0;
}

/* Store @p arg (NULL for flags) as @p o says. 0, or an exit status (printed). */
static int apply(cli_ctx *ctx, const cli_opt *o, const char *arg)
{
    long long v;
    int rc = 0;

    switch (o->kind) {
    case CLI_OPT_FLAG:
        *(int *)o->dest = 1;
        break;
    case CLI_OPT_STRING:
        *(const char **)o->dest = arg;
        break;
    case CLI_OPT_INT:
    case CLI_OPT_INT64:
        if ((rc = parse_integer(ctx, o, arg, &v)) != 0)
            return rc;
        if (o->kind == CLI_OPT_INT)
            *(int *)o->dest = (int)v;
        else
            *(int64_t *)o->dest = (int64_t)v;
        break;
    case CLI_OPT_LIST:
        if (cli_strv_push(o->dest, arg) < 0)
            return cli_oom();
        break;
    case CLI_OPT_META: {
        json_t **meta = o->dest;
        if (*meta == NULL && (*meta = json_object()) == NULL)
            return cli_oom();
        if ((rc = cli_parse_meta(ctx, *meta, arg)) != 0)
            return rc;
        break;
    }
    case CLI_OPT_CALL:
        if ((rc = o->fn(ctx, o, arg)) != 0)
            return rc;
        break;
    default:
        break;
    }
    if (o->given != NULL)
        *o->given = 1;
    return 0;
}

/* An unknown short option in @p arg. */
static int unknown_short(cli_ctx *ctx, const cli_spec *spec, int c)
{
    if (!(spec->flags & CLI_TEXT_ARGS))
        return cli_usage(ctx, "unrecognized option \"-%c\"", c);
    cli_msg("unrecognized option \"-%c\"", c);
    cli_hint("Put \"--\" before arguments that start with \"-\", as in \"llmemory %s -- -%c\"; "
             "or try \"llmemory %s --help\".",
             ctx->cmd, c, ctx->cmd);
    return CLI_EXIT_USAGE;
}

int cli_parse(cli_ctx *ctx, const cli_spec *spec, int argc, char **argv, int *nargs)
{
    char name[128];
    int n = 0, rc;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const cli_opt *o;

        if (strcmp(a, "--") == 0) {
            while (++i < argc)
                argv[n++] = argv[i];
            break;
        }
        if (a[0] != '-' || a[1] == '\0') {
            argv[n++] = argv[i]; /* an argument; "-" is standard input */
            continue;
        }
        if (a[1] == '-') {
            const char *nm = a + 2, *eq = strchr(nm, '=');
            size_t len = eq != NULL ? (size_t)(eq - nm) : strlen(nm);
            int ambiguous;

            snprintf(name, sizeof(name), "--%.*s", (int)(len < 100 ? len : 100), nm);
            o = len > 0 ? find_long(spec->opts, nm, len, &ambiguous) : NULL;
            if (o == NULL && len > 0 && ambiguous)
                return cli_usage(ctx, "option \"%s\" is ambiguous", name);
            if (o == NULL)
                return cli_usage(ctx, "unrecognized option \"%s\"", name);
            opt_display(name, sizeof(name), o);
            if (o->kind == CLI_OPT_HELP) {
                if (eq != NULL)
                    return cli_usage(ctx, "option \"%s\" does not take a value", name);
                cli_help_print(stdout, spec);
                return CLI_EXIT_OK;
            }
            if (!takes_value(o)) {
                if (eq != NULL)
                    return cli_usage(ctx, "option \"%s\" does not take a value", name);
                rc = apply(ctx, o, NULL);
            } else if (eq != NULL) {
                rc = apply(ctx, o, eq + 1);
            } else if (i + 1 < argc) {
                rc = apply(ctx, o, argv[++i]);
            } else {
                return cli_usage(ctx, "option \"%s\" requires a value", name);
            }
            if (rc != 0)
                return rc;
            continue;
        }
        /* A cluster of short options: "-c", "-ch", "-oacme", "-o acme". */
        if ((spec->flags & CLI_TEXT_ARGS) && a[2] != '\0' && find_short(spec->opts, a[1]) == NULL) {
            argv[n++] = argv[i]; /* "-draft": text, it cannot be an option */
            continue;
        }
        for (size_t j = 1; a[j] != '\0'; j++) {
            o = find_short(spec->opts, (unsigned char)a[j]);
            if (o == NULL)
                return unknown_short(ctx, spec, (unsigned char)a[j]);
            if (o->kind == CLI_OPT_HELP) {
                cli_help_print(stdout, spec);
                return CLI_EXIT_OK;
            }
            if (!takes_value(o)) {
                if ((rc = apply(ctx, o, NULL)) != 0)
                    return rc;
                continue;
            }
            if (a[j + 1] != '\0') {
                rc = apply(ctx, o, a + j + 1);
            } else if (i + 1 < argc) {
                rc = apply(ctx, o, argv[++i]);
            } else {
                snprintf(name, sizeof(name), "-%c", a[j]);
                return cli_usage(ctx, "option \"%s\" requires a value", name);
            }
            if (rc != 0)
                return rc;
            break;
        }
    }
    argv[n] = NULL;
    if (n < spec->min_args)
        return cli_usage(ctx, "%s", spec->missing != NULL ? spec->missing : "too few arguments");
    if (spec->max_args >= 0 && n > spec->max_args)
        return cli_usage(ctx, "too many arguments");
    *nargs = n;
    return CLI_PARSED;
}

/* "  -o, --owner OWNER" or "      --json" into @p out. */
static void opt_left(char *out, size_t outlen, const cli_opt *o)
{
    int k;

    if (o->short_name != 0)
        k = snprintf(out, outlen, "  -%c%s", o->short_name, o->long_name != NULL ? ", " : "");
    else
        k = snprintf(out, outlen, "      ");
    if (k < 0 || (size_t)k >= outlen)
        return;
    if (o->long_name != NULL)
        k += snprintf(out + k, outlen - (size_t)k, "--%s", o->long_name);
    if (k < 0 || (size_t)k >= outlen)
        return;
    if (o->argname != NULL)
        snprintf(out + k, outlen - (size_t)k, " %s", o->argname);
}

static int shown(const cli_opt *o)
{
    return o->kind != CLI_OPT_GROUP && !(o->flags & CLI_OPT_HIDDEN);
}

/* Widest left column that still leaves room for the help; longer names put the help on the
   next line. */
#define HELP_NAME_COLUMNS 28

static void print_opt(FILE *f, const cli_opt *o, int width)
{
    char left[160];
    const char *h = o->help != NULL ? o->help : "";
    int repeatable = o->kind == CLI_OPT_LIST || o->kind == CLI_OPT_META;
    int len;

    opt_left(left, sizeof(left), o);
    len = (int)strlen(left);
    fputs(left, f);
    if (len + 2 > width) {
        fputc('\n', f);
        len = 0;
    }
    for (;;) {
        size_t n = strcspn(h, "\n");
        fprintf(f, "%*s%.*s", width - len, "", (int)n, h);
        len = 0;
        if (h[n] == '\0')
            break;
        fputc('\n', f);
        h += n + 1;
    }
    fputs(repeatable ? " (repeatable)\n" : "\n", f);
}

void cli_help_options(FILE *f, const cli_opt *opts, int with_help)
{
    char left[160];
    int width = 0;

    for (const cli_opt *o = opts;; o++) {
        const cli_opt *c = o->kind == CLI_OPT_END ? &help_opt : o;
        if (shown(c)) {
            int len;
            opt_left(left, sizeof(left), c);
            len = (int)strlen(left) + 2;
            if (len > width && len <= HELP_NAME_COLUMNS)
                width = len;
        }
        if (o->kind == CLI_OPT_END)
            break;
    }
    for (const cli_opt *o = opts; o->kind != CLI_OPT_END; o++) {
        if (o->kind == CLI_OPT_GROUP)
            fprintf(f, "%s\n", o->help);
        else if (shown(o))
            print_opt(f, o, width);
    }
    if (with_help)
        print_opt(f, &help_opt, width);
}

void cli_help_print(FILE *f, const cli_spec *spec)
{
    const char *u = spec->usage;
    int first = 1;

    /* One "Usage:" line per form. */
    while (*u != '\0') {
        size_t n = strcspn(u, "\n");
        fprintf(f, "%s%.*s\n", first ? "Usage: " : "       ", (int)n, u);
        first = 0;
        u += n;
        if (*u == '\n')
            u++;
    }
    if (spec->about != NULL)
        fprintf(f, "\n%s", spec->about);
    fputs("\n", f);
    if (spec->opts[0].kind != CLI_OPT_GROUP)
        fputs("Options:\n", f);
    cli_help_options(f, spec->opts, 1);
    if (spec->footer != NULL)
        fprintf(f, "\n%s", spec->footer);
}

int cli_opt_doc_type(cli_ctx *ctx, const cli_opt *opt, const char *arg)
{
    return cli_parse_type(ctx, arg, opt->dest);
}

int cli_opt_strategy(cli_ctx *ctx, const cli_opt *opt, const char *arg)
{
    return cli_parse_strategy(ctx, arg, opt->dest);
}

int cli_opt_search_type(cli_ctx *ctx, const cli_opt *opt, const char *arg)
{
    if (lm_search_type_parse(opt->dest, arg) < 0)
        return cli_usage(ctx, "invalid search type \"%s\" (text, vector or hybrid)", arg);
    return 0;
}

int cli_opt_syntax(cli_ctx *ctx, const cli_opt *opt, const char *arg)
{
    if (lm_query_syntax_parse(opt->dest, arg) < 0)
        return cli_usage(ctx, "invalid query syntax \"%s\" (web or plain)", arg);
    return 0;
}

int cli_opt_fraction(cli_ctx *ctx, const cli_opt *opt, const char *arg)
{
    char name[128], *end = NULL;
    double v = strtod(arg, &end);

    if (end == arg || *end != '\0' || !(v >= 0 && v <= 1)) {
        opt_display(name, sizeof(name), opt);
        return cli_usage(ctx, "invalid %s \"%s\" (a number from 0 to 1)", name, arg);
    }
    *(double *)opt->dest = v;
    return 0;
}

int cli_meta_text(json_t *meta, char **out)
{
    *out = NULL;
    if (meta == NULL || json_object_size(meta) == 0)
        return 0;
    if ((*out = cli_json_text(meta)) == NULL)
        return cli_oom();
    return 0;
}

int cli_parse_long(cli_ctx *ctx, const char *opt, const char *arg, long min, long max, long *out)
{
    char *end = NULL;
    long v;

    errno = 0;
    v = strtol(arg, &end, 10);
    if (arg[0] == '\0' || end == NULL || *end != '\0' || errno != 0 || v < min || v > max) {
        cli_msg("invalid value \"%s\" for option \"%s\"", arg, opt);
        cli_detail("The value must be an integer from %ld to %ld.", min, max);
        if (ctx->cmd != NULL)
            cli_hint("Try \"llmemory %s --help\".", ctx->cmd);
        return CLI_EXIT_USAGE;
    }
    *out = v;
    return 0;
}

int cli_parse_meta(cli_ctx *ctx, json_t *obj, const char *arg)
{
    const char *eq = strchr(arg, '=');
    size_t keylen;
    int raw = 0;
    char *key = NULL;
    json_t *value = NULL;
    json_error_t jerr;
    int rc = CLI_EXIT_USAGE;

    if (eq == NULL || eq == arg)
        goto invalid;
    keylen = (size_t)(eq - arg);
    if (keylen > 1 && arg[keylen - 1] == ':') {
        raw = 1; /* k:=json */
        keylen--;
    }
    key = strndup(arg, keylen);
    if (key == NULL) {
        rc = cli_oom();
        goto out;
    }
    if (raw) {
        value = json_loads(eq + 1, JSON_DECODE_ANY, &jerr);
        if (value == NULL) {
            cli_msg("invalid JSON value for metadata key \"%s\": %s", key, jerr.text);
            cli_hint("The KEY:=JSON form takes a JSON value, for example year:=2024 or "
                     "tags:='[\"a\",\"b\"]'.");
            goto out;
        }
    } else {
        value = json_string(eq + 1);
        if (value == NULL) {
            cli_msg("invalid value for metadata key \"%s\"", key);
            cli_detail("Metadata values must be valid UTF-8.");
            goto out;
        }
    }
    if (json_object_set_new(obj, key, value) != 0) {
        value = NULL;
        rc = cli_oom();
        goto out;
    }
    value = NULL;
    rc = 0;
    goto out;

invalid:
    cli_msg("invalid metadata \"%s\"", arg);
    cli_detail("Metadata is given as KEY=VALUE (a string) or KEY:=JSON.");
    if (ctx->cmd != NULL)
        cli_hint("Try \"llmemory %s --help\".", ctx->cmd);
out:
    json_decref(value);
    free(key);
    return rc;
}

int cli_parse_type(cli_ctx *ctx, const char *arg, lm_doc_type *out)
{
    lm_buf names;

    if (lm_doc_type_parse(out, arg) == 0)
        return 0;
    lm_buf_init(&names);
    for (int t = 0; t < LM_DOC_TYPE_COUNT; t++) {
        if (t > 0)
            lm__buf_puts(&names, ", ");
        lm__buf_puts(&names, lm_doc_type_name((lm_doc_type)t));
    }
    cli_msg("invalid document type \"%s\"", arg);
    if (!lm__buf_oom(&names))
        cli_detail("Document types are: %s.", names.ptr);
    if (ctx->cmd != NULL)
        cli_hint("Try \"llmemory %s --help\".", ctx->cmd);
    lm_buf_dispose(&names);
    return CLI_EXIT_USAGE;
}

int cli_parse_strategy(cli_ctx *ctx, const char *arg, lm_chunk_strategy *out)
{
    if (strcmp(arg, "hierarchical") == 0) {
        *out = LM_CHUNK_HIERARCHICAL;
        return 0;
    }
    if (strcmp(arg, "semantic") == 0) {
        *out = LM_CHUNK_SEMANTIC;
        return 0;
    }
    return cli_usage(ctx, "invalid chunking strategy \"%s\" (hierarchical or semantic)", arg);
}

int cli_owner(cli_ctx *ctx, const char *given, const char **out)
{
    const char *env = getenv("LLMEMORY_OWNER");

    (void)ctx;
    if (given != NULL) {
        *out = given;
        return 0;
    }
    if (env != NULL && env[0] != '\0') {
        *out = env;
        return 0;
    }
    cli_msg("no owner given");
    cli_detail("Every document belongs to one owner (tenant).");
    cli_hint("Pass --owner NAME or set LLMEMORY_OWNER.");
    return CLI_EXIT_USAGE;
}

int cli_url_configured(const cli_ctx *ctx, const char **source)
{
    const char *env;

    if (ctx->database_url != NULL) {
        *source = "--database-url";
        return 1;
    }
    env = getenv("LLMEMORY_DATABASE_URL");
    if (env != NULL && env[0] != '\0') {
        *source = "LLMEMORY_DATABASE_URL";
        return 1;
    }
    env = getenv("DATABASE_URL");
    if (env != NULL && env[0] != '\0') {
        *source = "DATABASE_URL";
        return 1;
    }
    *source = NULL;
    return 0;
}

int cli_open(cli_ctx *ctx, lm_memory **out)
{
    return cli_open_with(ctx, NULL, out);
}

int cli_open_with(cli_ctx *ctx, lm_embedder *embedder, lm_memory **out)
{
    lm_memory_opts o;
    lm_db_info info;
    const char *source;
    int rc;

    /* Opening starts the embedded cluster when it is not running, also after "llmemory db
       stop": say so, so that a stopped database does not come back unnoticed. */
    memset(&info, 0, sizeof(info));
    if (!cli_url_configured(ctx, &source) && lm_db_status(&info, ctx->home) == 0 &&
        info.initialized && !info.running)
        cli_msg("note: starting the embedded database in %s (it was not running)", info.home);

    lm_memory_opts_init(&o, LM_MEMORY_OPTS_VERSION);
    o.embedder = embedder;
    o.database_url = ctx->database_url;
    o.home = ctx->home;
    o.schema = ctx->schema;
    o.log_fn = cli_log;
    o.log_payload = NULL;
    o.log_level = ctx->verbose >= 2 ? LM_LOG_DEBUG : ctx->verbose == 1 ? LM_LOG_INFO : LM_LOG_WARN;
    rc = lm_memory_open(out, &o);
    if (rc < 0)
        return cli_fail_lm(rc, NULL);
    return 0;
}

void cli_origin_from_path(lm_buf *out, const char *path)
{
    const char *p = path;

    for (;;) {
        if (p[0] == '.' && p[1] == '/')
            p += 2;
        else if (p[0] == '/')
            p++;
        else
            break;
    }
    for (; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            strchr("_.@|:/-", c) != NULL)
            lm__buf_putc(out, (char)c);
        else
            lm__buf_putc(out, '_');
    }
}
