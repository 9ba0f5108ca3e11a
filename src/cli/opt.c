/*
 * cli/opt.c: command-line parsing shared by the commands: getopt_long with messages in the
 * house style, integers, metadata (k=v, k:=json), document types, the owner, opening the memory
 * with the global options, and turning paths into ids at origin.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cmd.h"

/* Option text as typed, without any "=value", for messages. */
static void option_name(char *out, size_t outlen, const char *arg)
{
    size_t n = strcspn(arg, "=");
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, arg, n);
    out[n] = '\0';
}

int cli_getopt(
    cli_ctx *ctx, int argc, char **argv, const char *shortopts, const struct option *longopts)
{
    static char **scanning;
    char name[128];
    const char *arg;
    int c;

    if (argv != scanning) {
        /* glibc restarts its scan, including its internal state, when optind is 0. */
        optind = 0;
        scanning = argv;
    }
    opterr = 0;
    c = getopt_long(argc, argv, shortopts, longopts, NULL);
    if (c != '?' && c != ':')
        return c;

    arg = optind >= 1 && optind <= argc ? argv[optind - 1] : "";
    if (c == ':') {
        option_name(name, sizeof(name), arg);
        cli_usage(ctx, "option \"%s\" requires a value", name);
    } else if (strncmp(arg, "--", 2) == 0 && strchr(arg, '=') != NULL && optopt != 0) {
        option_name(name, sizeof(name), arg);
        cli_usage(ctx, "option \"%s\" does not take a value", name);
    } else if (optopt > 0 && optopt < 128 && strncmp(arg, "--", 2) != 0) {
        cli_usage(ctx, "unrecognized option \"-%c\"", optopt);
    } else {
        option_name(name, sizeof(name), arg);
        cli_usage(ctx, "unrecognized option \"%s\"", name);
    }
    return CLI_OPT_FAIL;
}

int cli_help(const char *help)
{
    fputs(help, stdout);
    return CLI_EXIT_OK;
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
    int rc;

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
