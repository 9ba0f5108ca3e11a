/*
 * cli/cmd_mcp.c: `llmemory mcp`: a Model Context Protocol server on standard input and output
 * (newline-delimited JSON-RPC) for one tenant, the one --owner or $LLMEMORY_OWNER names. The
 * protocol itself is src/mcp; this file only moves lines. Standard output carries nothing but
 * protocol messages; everything else goes to standard error.
 *
 * A reader thread reads the lines while the main thread runs them one at a time, so that a
 * notifications/cancelled for a queued or running request is seen at once: a queued request is
 * then skipped, and a running one is stopped (its database statement is cancelled through an
 * lm_cancel bound to the main thread) and gets no response, as the specification asks. This is
 * the cancellation of both revisions on stdio.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../mcp/mcp.h"
#include "buf.h"
#include "cmd.h"

/* Ids of cancelled requests remembered (oldest forgotten first). */
#define CANCEL_SLOTS 64

typedef struct line {
    struct line *next;
    int too_large; /* the line was longer than MCP_MAX_MESSAGE and was dropped */
    size_t len;
    char text[];
} line;

typedef struct stdio_ctx {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    line *head, *tail;
    int eof;
    char cancelled[CANCEL_SLOTS][MCP_MAX_ID_BYTES];
    int next_cancel;
    lm_cancel *cancel;                /* bound to the main thread, which runs the requests */
    char running[MCP_MAX_ID_BYTES];   /* id of the request running now, "" when none */
} stdio_ctx;

static void push(stdio_ctx *c, const char *text, size_t len, int too_large)
{
    line *l = malloc(sizeof(*l) + len + 1);

    if (l == NULL) {
        cli_msg("out of memory reading a message");
        return;
    }
    l->next = NULL;
    l->too_large = too_large;
    l->len = len;
    memcpy(l->text, text, len);
    l->text[len] = '\0';
    pthread_mutex_lock(&c->mu);
    if (c->tail != NULL)
        c->tail->next = l;
    else
        c->head = l;
    c->tail = l;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static int any_cancelled(stdio_ctx *c)
{
    int any;

    pthread_mutex_lock(&c->mu);
    any = c->next_cancel != 0 || c->cancelled[0][0] != '\0';
    pthread_mutex_unlock(&c->mu);
    return any;
}

static int is_cancelled(stdio_ctx *c, const char *id)
{
    int hit = 0;

    if (id[0] == '\0')
        return 0;
    pthread_mutex_lock(&c->mu);
    for (int i = 0; i < CANCEL_SLOTS && !hit; i++)
        hit = strcmp(c->cancelled[i], id) == 0;
    pthread_mutex_unlock(&c->mu);
    return hit;
}

/* One complete line from the client. Cancellations are recorded here, on the reader's thread. */
static void on_line(stdio_ctx *c, mcp_outcome *peek, const char *text, size_t len)
{
    while (len > 0 && (text[len - 1] == '\r' || text[len - 1] == ' ' || text[len - 1] == '\t'))
        len--;
    if (len == 0)
        return;
    if (memmem(text, len, "notifications/cancelled", 23) != NULL) {
        mcp_peek(peek, text, len);
        if (peek->kind == MCP_MSG_NOTIFICATION && peek->cancel_id[0] != '\0') {
            pthread_mutex_lock(&c->mu);
            memcpy(c->cancelled[c->next_cancel], peek->cancel_id, MCP_MAX_ID_BYTES);
            c->next_cancel = (c->next_cancel + 1) % CANCEL_SLOTS;
            /* Stop the running request's statement now (under the lock: the main thread cannot
               move on to the next request meanwhile). */
            if (strcmp(c->running, peek->cancel_id) == 0)
                lm_cancel_fire(c->cancel);
            pthread_mutex_unlock(&c->mu);
        }
    }
    push(c, text, len, 0);
}

static void *reader(void *arg)
{
    stdio_ctx *c = arg;
    lm_buf pending = LM_BUF_INIT;
    mcp_outcome peek;
    char chunk[65536];
    int skipping = 0; /* inside a line that is too long */
    ssize_t n;

    mcp_outcome_init(&peek);
    for (;;) {
        n = read(STDIN_FILENO, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        for (ssize_t i = 0; i < n;) {
            char *nl = memchr(chunk + i, '\n', (size_t)(n - i));
            size_t take = nl != NULL ? (size_t)(nl - (chunk + i)) : (size_t)(n - i);

            if (!skipping)
                lm__buf_put(&pending, chunk + i, take);
            if (!skipping && (pending.size > MCP_MAX_MESSAGE || lm__buf_oom(&pending))) {
                skipping = 1;
                lm__buf_clear(&pending);
                lm_buf_dispose(&pending);
                lm_buf_init(&pending);
            }
            i += (ssize_t)take;
            if (nl == NULL)
                break;
            i++; /* the newline */
            if (skipping)
                push(c, "", 0, 1);
            else
                on_line(c, &peek, pending.ptr != NULL ? pending.ptr : "", pending.size);
            skipping = 0;
            lm__buf_clear(&pending);
        }
    }
    if (!skipping && pending.size > 0)
        on_line(c, &peek, pending.ptr, pending.size);
    lm_buf_dispose(&pending);
    mcp_outcome_dispose(&peek);
    pthread_mutex_lock(&c->mu);
    c->eof = 1;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

static line *pop(stdio_ctx *c)
{
    line *l;

    pthread_mutex_lock(&c->mu);
    while (c->head == NULL && !c->eof)
        pthread_cond_wait(&c->cv, &c->mu);
    l = c->head;
    if (l != NULL) {
        c->head = l->next;
        if (c->head == NULL)
            c->tail = NULL;
    }
    pthread_mutex_unlock(&c->mu);
    return l;
}

/* mcp_caller.on_request: the request @p id runs now; one cancelled already does not start. */
static void on_request(void *payload, const char *id)
{
    stdio_ctx *c = payload;
    int hit = 0;

    pthread_mutex_lock(&c->mu);
    snprintf(c->running, sizeof(c->running), "%s", id);
    for (int i = 0; i < CANCEL_SLOTS && !hit && id[0] != '\0'; i++)
        hit = strcmp(c->cancelled[i], id) == 0;
    if (hit)
        lm_cancel_fire(c->cancel);
    pthread_mutex_unlock(&c->mu);
}

/* The request ended: nothing more to cancel until the next one. */
static void request_done(stdio_ctx *c)
{
    pthread_mutex_lock(&c->mu);
    c->running[0] = '\0';
    pthread_mutex_unlock(&c->mu);
    lm_cancel_reset(c->cancel);
}

/* Write one message and a newline; -1 when standard output is gone. */
static int send_line(const lm_buf *b)
{
    if (b->size == 0)
        return 0;
    if (fwrite(b->ptr, 1, b->size, stdout) != b->size || fputc('\n', stdout) == EOF ||
        fflush(stdout) != 0)
        return -1;
    return 0;
}

/* The remember tool's "file": read and extract it as `llmemory add` does. */
static int load_file(void *payload,
                     const char *path,
                     lm_buf *text,
                     lm_buf *title,
                     lm_doc_type *type,
                     char *err,
                     size_t errlen)
{
    cli_format format = cli_format_of_path(path);

    (void)payload;
    if (format == CLI_FORMAT_NONE) {
        snprintf(err, errlen, "file \"%.200s\" is not a .txt, .md, .html or .pdf file", path);
        return -1;
    }
    if (cli_load(text, title, path, format, err, errlen) != 0)
        return -1;
    *type = cli_format_doc_type(format);
    return 0;
}

int cli_cmd_mcp(cli_ctx *ctx, int argc, char **argv)
{
    const char *owner_opt = NULL, *owner = NULL;
    int read_only = 0, nargs, status;
    const cli_opt opts[] = {
        CLI_OWNER(&owner_opt, "the tenant whose memory the tools use; default $LLMEMORY_OWNER"),
        CLI_FLAG(0, "read-only", &read_only, "refuse the tools that change the memory (remember,"
                                             "\nforget)"),
        CLI_END};
    const cli_spec spec = {
        .usage = "llmemory mcp [OPTION]...",
        .about = "Serve one owner's memory to an AI agent over the Model Context Protocol, on\n"
                 "standard input and output (newline-delimited JSON-RPC), as desktop MCP clients\n"
                 "start it. Standard output carries only protocol messages; diagnostics go to\n"
                 "standard error. Tools: remember, search, list, get, forget, stats. See\n"
                 "docs/mcp.md; `llmemory serve` offers the same at /mcp over HTTP.\n",
        .opts = opts,
        .max_args = 0};
    /* Static: after a write error the reader thread is left running until the process exits. */
    static stdio_ctx c;
    pthread_t th;
    mcp_session session;
    mcp_outcome o;
    mcp_caller who;
    lm_memory *mem = NULL;
    line *l;
    sigset_t all, old;

    if ((status = cli_parse(ctx, &spec, argc, argv, &nargs)) != CLI_PARSED)
        return status;
    if (cli_remote_on(ctx)) {
        cli_msg("mcp does not work in remote mode");
        cli_hint("A server offers MCP itself at /mcp: point the MCP client at %s/mcp.", ctx->url);
        return CLI_EXIT_USAGE;
    }
    if ((status = cli_owner(ctx, owner_opt, &owner)) != 0)
        return status;
    if (mcp_init() < 0) {
        cli_msg("could not load the MCP definitions");
        return CLI_EXIT_ERROR;
    }
    if ((status = cli_open(ctx, &mem)) != 0)
        return status;

    memset(&c, 0, sizeof(c));
    if (lm_cancel_new(&c.cancel) < 0) {
        cli_msg("out of memory");
        lm_memory_close(mem);
        return CLI_EXIT_ERROR;
    }
    pthread_mutex_init(&c.mu, NULL);
    pthread_cond_init(&c.cv, NULL);
    /* The reader gets no signals: SIGINT and SIGTERM end the process as usual. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    if (pthread_create(&th, NULL, reader, &c) != 0) {
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        cli_msg("could not start the reader thread");
        lm_memory_close(mem);
        return CLI_EXIT_ERROR;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    signal(SIGPIPE, SIG_IGN);

    mcp_session_init(&session);
    mcp_outcome_init(&o);
    who = (mcp_caller){.mem = mem,
                       .tenant = owner,
                       .can_write = !read_only,
                       .load = load_file,
                       .transport = "stdio",
                       .on_request = on_request,
                       .hook_payload = &c};
    lm_cancel_bind(c.cancel);
    if (ctx->verbose)
        cli_msg("mcp: serving owner \"%s\" on standard input and output", owner);
    status = CLI_EXIT_OK;
    while ((l = pop(&c)) != NULL) {
        int skip = 0;

        if (l->too_large) {
            o.error_code = MCP_INVALID_REQUEST;
            mcp_error_reply(&o.reply, NULL, MCP_INVALID_REQUEST,
                            "message is too large: at most 16 MiB per line");
        } else {
            /* A request cancelled while it waited is not run at all. */
            if (any_cancelled(&c)) {
                mcp_peek(&o, l->text, l->len);
                skip = o.kind == MCP_MSG_REQUEST && is_cancelled(&c, o.id);
            }
            if (!skip) {
                mcp_handle(&o, &session, &who, l->text, l->len);
                request_done(&c);
            }
            /* ... and one cancelled while it ran gets no response. */
            skip = skip || is_cancelled(&c, o.id);
        }
        free(l);
        if (ctx->verbose && o.error_code != 0)
            cli_msg("mcp: answered error %d", o.error_code);
        if (!skip && send_line(&o.reply) < 0) {
            cli_msg("could not write to standard output: %s", strerror(errno));
            status = CLI_EXIT_ERROR;
            break;
        }
    }
    mcp_outcome_dispose(&o);
    if (status == CLI_EXIT_OK)
        pthread_join(th, NULL);
    else
        pthread_detach(th);
    /* With standard output gone the reader may still block on input: exit without it. */
    if (status == CLI_EXIT_OK) {
        while ((l = pop(&c)) != NULL)
            free(l);
        pthread_mutex_destroy(&c.mu);
        pthread_cond_destroy(&c.cv);
    }
    lm_cancel_bind(NULL);
    lm_memory_close(mem);
    if (status == CLI_EXIT_OK)
        lm_cancel_free(c.cancel);
    return status;
}
