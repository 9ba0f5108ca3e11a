/*
 * cli/errors.c: how the program reports: the one table from library codes to exit statuses,
 * messages on stderr in PostgreSQL's style ("llmemory: <message>", then "detail:" and "hint:"
 * lines), the library's log sink, and the redrawable progress line they all clear first.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "hash.h"

/* ==== exit statuses ==== */

/* The one table: each exit status, what it means, and the library codes that lead to it. Any
   other negative code exits 1. `llmemory --help` and docs/cli.md print this table. */
static const struct cli_exit_row {
    int status;
    const char *meaning;
    int codes[4]; /* 0-terminated */
} exit_table[] = {
    {CLI_EXIT_OK, "success", {0}},
    {CLI_EXIT_ERROR, "error (including: some file of an ingest failed)", {0}},
    {CLI_EXIT_USAGE, "usage error, or an argument the library rejected", {LM_EINVAL, LM_EPARSE, 0}},
    {CLI_EXIT_NOTFOUND,
     "not found (no such document for this owner, or no such file or directory)",
     {LM_ENOTFOUND, 0}},
    {CLI_EXIT_UNAVAILABLE, "database unavailable (cannot connect or start)", {LM_ECONN, LM_EIO, 0}},
};

int cli_path_status(int err)
{
    return err == ENOENT || err == ENOTDIR ? CLI_EXIT_NOTFOUND : CLI_EXIT_ERROR;
}

int cli_exit_status(int lm_code)
{
    if (lm_code >= 0)
        return CLI_EXIT_OK;
    for (size_t i = 0; i < sizeof(exit_table) / sizeof(exit_table[0]); i++)
        for (size_t j = 0; exit_table[i].codes[j] != 0; j++)
            if (exit_table[i].codes[j] == lm_code)
                return exit_table[i].status;
    return CLI_EXIT_ERROR;
}

void cli_exit_table_print(FILE *f)
{
    for (size_t i = 0; i < sizeof(exit_table) / sizeof(exit_table[0]); i++)
        fprintf(f, "  %d  %s\n", exit_table[i].status, exit_table[i].meaning);
}

/* ==== the status line ==== */

static int status_shown;

void cli_status_line(const char *text)
{
    fprintf(stderr, "\r%s\033[K", text);
    fflush(stderr);
    status_shown = 1;
}

void cli_status_clear(void)
{
    if (!status_shown)
        return;
    fputs("\r\033[K", stderr);
    fflush(stderr);
    status_shown = 0;
}

/* ==== messages ==== */

static void vline(const char *prefix, const char *fmt, va_list ap) CLI_PRINTF(2, 0);

static void vline(const char *prefix, const char *fmt, va_list ap)
{
    cli_status_clear();
    fputs(prefix, stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void cli_msg(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vline("llmemory: ", fmt, ap);
    va_end(ap);
}

void cli_detail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vline("detail: ", fmt, ap);
    va_end(ap);
}

void cli_hint(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vline("hint: ", fmt, ap);
    va_end(ap);
}

int cli_fail_lm(int rc, const char *prefix)
{
    const lm_error *e = lm_error_last();
    const char *msg = e->message;

    /* A code without a message would print "llmemory: " alone; fall back to its description. */
    if (msg == NULL || msg[0] == '\0')
        msg = lm_strerror(rc);
    if (prefix != NULL)
        cli_msg("%s: %s", prefix, msg);
    else
        cli_msg("%s", msg);
    if (e->detail != NULL && e->detail[0] != '\0')
        cli_detail("%s", e->detail);
    if (e->hint != NULL && e->hint[0] != '\0')
        cli_hint("%s", e->hint);
    return cli_exit_status(rc);
}

int cli_check_doc_id(const cli_ctx *ctx, const char *id)
{
    if (lm__uuid_valid(id))
        return 0;
    cli_msg("invalid document_id \"%.60s\"", id);
    cli_detail("A document id is the UUID that \"add\" and \"list\" print.");
    cli_hint("To name a document by its id at origin (its file path or your own key), use "
             "\"llmemory %s --origin %.60s\".",
             ctx->cmd != NULL ? ctx->cmd : "get", id);
    return CLI_EXIT_USAGE;
}

int cli_usage(const cli_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vline("llmemory: ", fmt, ap);
    va_end(ap);
    if (ctx != NULL && ctx->cmd != NULL)
        cli_hint("Try \"llmemory %s --help\".", ctx->cmd);
    else
        cli_hint("Try \"llmemory --help\".");
    return CLI_EXIT_USAGE;
}

int cli_oom(void)
{
    cli_msg("out of memory");
    return CLI_EXIT_ERROR;
}

void cli_log(int level, const char *msg, void *payload)
{
    static const char *const names[] = {"error", "warning", "info", "debug"};
    const char *name = level >= 0 && level <= 3 ? names[level] : "log";

    (void)payload;
    cli_msg("%s: %s", name, msg);
}

int cli_finish(int status)
{
    /* A full disk or a closed pipe must not look like success to a script. */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        int saved = errno;
        cli_msg("could not write to standard output: %s", strerror(saved));
        return status != CLI_EXIT_OK ? status : CLI_EXIT_ERROR;
    }
    return status;
}
