/*
 * cli/cmd_ingest.c: `llmemory ingest DIR`: add every .txt .md .markdown .html .htm .pdf file
 * under DIR (recursively, in sorted order) for one owner; `llmemory ingest --jsonl FILE`: one
 * document per line of JSON. The id at origin is the path relative to DIR (or the line's
 * "id_at_origin"), so ingesting again re-indexes instead of duplicating. Documents go to the
 * library in batches (lm_doc_add_batch: one transaction, COPY); a batch that fails is retried
 * one document at a time, so a document that fails is reported and the rest continue; only
 * errors that would fail every document stop early.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "cmd.h"

static const char about[] =
    "Add every .txt .md .markdown .html .htm and .pdf file under DIR (recursively, in sorted\n"
    "order; hidden files and directories are skipped) to one owner's documents.\n"
    "Each document's id at origin is its path relative to DIR (e.g. handbook/vacation.md),\n"
    "so ingesting again re-indexes.\n"
    "Its name is the title (HTML <title>, markdown \"# Title\" first line), else the file\n"
    "name; its metadata holds \"source_path\". A file that cannot be ingested is reported\n"
    "and the others continue; the exit status is then 1. Other files (other extensions,\n"
    "links to directories, devices) are skipped, each with its reason on standard error and\n"
    "in the summary. A progress bar is drawn on standard error when it is a terminal.\n"
    "With --jsonl, each line is a JSON object {\"id_at_origin\", \"content\", \"name\",\n"
    "\"type\", \"metadata\", \"document_date\"} (the first two required; name defaults to\n"
    "the id, type to text). Documents are added in batches of up to 100 (one transaction\n"
    "each); a batch that fails is retried one document at a time.\n";

typedef struct file_entry {
    char *rel;          /* path relative to DIR */
    char *origin;       /* id at origin derived from rel */
    const char *dup_of; /* rel of an earlier file with the same origin, or NULL */
} file_entry;

typedef struct file_list {
    file_entry *v;
    size_t n, cap;
} file_list;

/* A document read and waiting for its batch. */
typedef struct pending {
    char *label;  /* path relative to DIR, or "line N" */
    char *origin; /* id at origin */
    lm_buf text, name;
    char *meta_text;
    char *date;   /* document date, or NULL */
    lm_doc_type type;
    lm_doc_add_opts opts;
} pending;

/* A batch is sent when it holds this many documents or this many bytes of text. */
#define BATCH_DOCS  100
#define BATCH_BYTES ((size_t)32 * 1024 * 1024)

typedef struct ingest {
    cli_ctx *ctx;
    lm_memory *mem;
    const char *owner;
    const char *dir;
    json_t *base_meta;
    lm_doc_add_opts opts;
    json_t *results; /* per-file JSON results, when --json */
    json_t *skipped_list; /* [{path, reason}] of files not ingested on purpose, when --json */
    int progress;
    size_t ok, failed, skipped;
    long long chunks;
    int fatal; /* exit status of an error that stops the run, or 0 */
    pending batch[BATCH_DOCS];
    size_t n_batch, batch_bytes;
} ingest;

/* ==== collecting files ==== */

static int list_push(file_list *l, const char *rel)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        file_entry *v = realloc(l->v, cap * sizeof(*v));
        if (v == NULL)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n].rel = strdup(rel);
    l->v[l->n].origin = NULL;
    l->v[l->n].dup_of = NULL;
    if (l->v[l->n].rel == NULL)
        return -1;
    l->n++;
    return 0;
}

static void list_free(file_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].rel);
        free(l->v[i].origin);
    }
    free(l->v);
}

static int record_failure(ingest *in,
                          const char *rel,
                          int code,
                          const char *message,
                          const char *detail,
                          const char *hint);

/* Report a file or directory the walk could not read (@p what: "open directory", "read file")
   as a failed file. */
static void walk_failed(ingest *in, const lm_buf *path, size_t root_len, const char *what, int err)
{
    char msg[1024];
    const char *rel = path->size > root_len ? path->ptr + root_len : path->ptr;

    snprintf(msg, sizeof(msg), "could not %s \"%s\": %s", what, path->ptr, strerror(err));
    cli_msg("%s", msg);
    record_failure(in, rel, LM_EIO, msg, "", "");
}

/* Lines printed for skipped files before the rest are only counted (--json lists them all). */
#define MAX_SKIP_LINES 10

/* Note a file the walk passes over on purpose (@p reason: why), on standard error and in the
   JSON summary. 0, or -1 when out of memory. */
static int skip(ingest *in, const char *rel, const char *reason)
{
    json_t *r;
    int bad;

    in->skipped++;
    if (in->skipped <= MAX_SKIP_LINES || in->ctx->verbose > 0)
        cli_msg("skipped \"%s\": %s", rel, reason);
    if (in->skipped_list == NULL)
        return 0;
    r = json_object();
    bad = cli_jset(r, "path", cli_jstr(rel));
    bad |= cli_jset(r, "reason", cli_jstr(reason));
    bad |= json_array_append_new(in->skipped_list, r);
    return bad ? -1 : 0;
}

/* Why a file named @p name that is not ingested was passed over. */
static const char *unsupported(const char *name, char *buf, size_t len)
{
    const char *dot = strrchr(name, '.');

    if (dot == NULL || dot == name)
        return "no file name extension (ingest reads .txt .md .markdown .html .htm .pdf)";
    snprintf(buf, len,
             "unsupported file type \"%s\" (ingest reads .txt .md .markdown .html .htm .pdf)", dot);
    return buf;
}

/* Walk the directory DIR/rel, appending regular files of a known format to @p l and reporting
   the others as skipped. Symbolic links to files are followed; links to directories are not,
   so a link loop cannot recurse. */
static int walk(ingest *in, file_list *l, lm_buf *path, size_t root_len)
{
    DIR *d = opendir(path->ptr);
    struct dirent *e;
    size_t len = path->size;
    int rc = 0;

    if (d == NULL) {
        walk_failed(in, path, root_len, "open directory", errno);
        return 0;
    }
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        if (e->d_name[0] == '.')
            continue; /* ".", "..", and hidden files */
        lm__buf_truncate(path, len);
        if (len > 0 && path->ptr[len - 1] != '/')
            lm__buf_putc(path, '/');
        lm__buf_puts(path, e->d_name);
        if (lm__buf_oom(path)) {
            rc = -1;
            break;
        }
        if (lstat(path->ptr, &st) != 0) {
            walk_failed(in, path, root_len, "read file", errno);
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            if ((rc = walk(in, l, path, root_len)) < 0)
                break;
            continue;
        }
        if (S_ISLNK(st.st_mode)) {
            const char *why = NULL;
            if (stat(path->ptr, &st) != 0)
                why = "broken symbolic link";
            else if (S_ISDIR(st.st_mode))
                why = "symbolic link to a directory (not followed)";
            if (why != NULL) {
                if ((rc = skip(in, path->ptr + root_len, why)) < 0)
                    break;
                continue;
            }
        }
        if (!S_ISREG(st.st_mode) || cli_format_of_path(e->d_name) == CLI_FORMAT_NONE) {
            char why[200];
            rc = skip(in, path->ptr + root_len,
                      !S_ISREG(st.st_mode) ? "not a regular file"
                                           : unsupported(e->d_name, why, sizeof(why)));
            if (rc < 0)
                break;
            continue;
        }
        if (list_push(l, path->ptr + root_len) < 0) {
            rc = -1;
            break;
        }
    }
    closedir(d);
    lm__buf_truncate(path, len);
    return rc;
}

static int cmp_rel(const void *a, const void *b)
{
    return strcmp(((const file_entry *)a)->rel, ((const file_entry *)b)->rel);
}

static int cmp_origin_ptr(const void *a, const void *b)
{
    const file_entry *x = *(const file_entry *const *)a, *y = *(const file_entry *const *)b;
    int c = strcmp(x->origin, y->origin);
    return c != 0 ? c : strcmp(x->rel, y->rel);
}

/* Derive each file's id at origin; mark files whose id an earlier file already has (paths that
   differ only in characters an id cannot hold) so they fail instead of overwriting it. */
static int assign_origins(file_list *l)
{
    file_entry **byorigin = NULL;
    lm_buf b;

    lm_buf_init(&b);
    for (size_t i = 0; i < l->n; i++) {
        lm__buf_clear(&b);
        cli_origin_from_path(&b, l->v[i].rel);
        if (lm__buf_oom(&b) || (l->v[i].origin = strdup(b.ptr)) == NULL) {
            lm_buf_dispose(&b);
            return -1;
        }
    }
    lm_buf_dispose(&b);
    if (l->n < 2)
        return 0;
    byorigin = malloc(l->n * sizeof(*byorigin));
    if (byorigin == NULL)
        return -1;
    for (size_t i = 0; i < l->n; i++)
        byorigin[i] = &l->v[i];
    qsort(byorigin, l->n, sizeof(*byorigin), cmp_origin_ptr);
    for (size_t i = 1; i < l->n; i++)
        if (strcmp(byorigin[i]->origin, byorigin[i - 1]->origin) == 0)
            byorigin[i]->dup_of =
                byorigin[i - 1]->dup_of != NULL ? byorigin[i - 1]->dup_of : byorigin[i - 1]->rel;
    free(byorigin);
    return 0;
}

/* ==== progress ==== */

static int term_columns(void)
{
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
        return ws.ws_col;
    return 80;
}

/* "[#####     ] 12/40 handbook/vacation.md", fitted to the terminal's width. */
static void draw_progress(size_t done, size_t total, const char *rel)
{
    enum { BAR = 20 };
    char line[1024], bar[BAR + 1];
    size_t filled = total > 0 ? done * BAR / total : BAR;
    int cols = term_columns(), n;
    size_t room, rlen = strlen(rel);

    for (size_t i = 0; i < BAR; i++)
        bar[i] = i < filled ? '#' : ' ';
    bar[BAR] = '\0';
    n = snprintf(line, sizeof(line), "[%s] %zu/%zu ", bar, done, total);
    if (n < 0 || (size_t)n >= sizeof(line))
        return;
    /* Keep the end of a long path: that is the part that differs from file to file. */
    room = (size_t)cols - 1 > (size_t)n ? (size_t)cols - 1 - (size_t)n : 0;
    if (room > sizeof(line) - (size_t)n - 1)
        room = sizeof(line) - (size_t)n - 1;
    if (rlen > room) {
        const char *p = rel + rlen - (room > 3 ? room - 3 : 0);
        while ((*p & 0xC0) == 0x80)
            p++; /* not inside a UTF-8 sequence */
        snprintf(line + n, sizeof(line) - (size_t)n, "%s%s", room > 3 ? "..." : "", p);
    } else {
        snprintf(line + n, sizeof(line) - (size_t)n, "%s", rel);
    }
    cli_status_line(line);
}

/* ==== one file ==== */

static int record_failure(ingest *in,
                          const char *rel,
                          int code,
                          const char *message,
                          const char *detail,
                          const char *hint)
{
    json_t *r, *e;
    int bad;

    in->failed++;
    if (in->results == NULL)
        return 0;
    r = json_object();
    e = json_object();
    bad = cli_jset(r, "path", cli_jstr(rel));
    bad |= cli_jset(r, "ok", json_false());
    bad |= cli_jset(e, "code", cli_jstr(lm_errname(code)));
    bad |= cli_jset(e, "message", cli_jstr(message));
    bad |= cli_jset(e, "detail", cli_jstr_or_null(detail));
    bad |= cli_jset(e, "hint", cli_jstr_or_null(hint));
    bad |= cli_jset(r, "error", e);
    bad |= json_array_append_new(in->results, r);
    return bad ? -1 : 0;
}

/* Errors that every following file would hit too: stop instead of repeating them. */
static int is_fatal(int rc)
{
    const lm_error *e = lm_error_last();

    if (rc == LM_ECONN || rc == LM_EIO || rc == LM_ENOMEM)
        return 1;
    return rc == LM_EINVAL && e->field != NULL &&
           (strcmp(e->field, "owner_id") == 0 || strcmp(e->field, "text_config") == 0 ||
            strcmp(e->field, "strategy") == 0);
}

static void pending_free(pending *p)
{
    free(p->label);
    free(p->origin);
    free(p->meta_text);
    free(p->date);
    lm_buf_dispose(&p->text);
    lm_buf_dispose(&p->name);
    memset(p, 0, sizeof(*p));
}

static int record_ok(ingest *in, const pending *p, const lm_doc_add_result *res)
{
    json_t *r;
    int bad;

    in->ok++;
    in->chunks += res->chunk_count;
    if (in->ctx->verbose > 0)
        cli_msg("%s \"%s\" (%d chunk%s)", res->created ? "added" : "re-indexed", p->label,
                res->chunk_count, res->chunk_count == 1 ? "" : "s");
    if (in->results == NULL)
        return 0;
    r = json_object();
    bad = cli_jset(r, "path", cli_jstr(p->label));
    bad |= cli_jset(r, "ok", json_true());
    bad |= cli_jset(r, "document_id", cli_jstr(res->document_id));
    bad |= cli_jset(r, "id_at_origin", cli_jstr(p->origin));
    bad |= cli_jset(r, "name", cli_jstr(p->name.ptr));
    bad |= cli_jset(r, "type", cli_jstr(lm_doc_type_name(p->type)));
    bad |= cli_jset(r, "created", json_boolean(res->created));
    bad |= cli_jset(r, "chunk_count", json_integer(res->chunk_count));
    bad |= json_array_append_new(in->results, r);
    return bad ? -1 : 0;
}

/* A library error for document @p p: stop the run when every document would hit it, else
   report it and go on. */
static int library_failure(ingest *in, const pending *p, int rc)
{
    const lm_error *e = lm_error_last();
    char prefix[600];
    snprintf(prefix, sizeof(prefix), "could not ingest \"%s\"", p->label);
    int status = cli_fail_lm(rc, prefix);
    if (is_fatal(rc)) {
        in->fatal = status;
        in->failed++;
        return 0;
    }
    return record_failure(in, p->label, rc, e->message, e->detail, e->hint);
}

/* Send the waiting documents as one batch; when the batch fails (and the error is not one that
   every document would hit), add them one by one so that only the bad ones fail. */
static int flush(ingest *in)
{
    lm_doc_input docs[BATCH_DOCS];
    lm_doc_add_result res[BATCH_DOCS];
    size_t n = in->n_batch, bad = 0;
    int rc = 0;

    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        pending *p = &in->batch[i];
        docs[i] = (lm_doc_input){p->origin, p->name.ptr, p->type, p->text.ptr, p->text.size,
                                 &p->opts};
    }
    rc = lm_doc_add_batch(res, &bad, in->mem, in->owner, docs, n);
    if (rc == 0) {
        for (size_t i = 0; i < n && rc == 0; i++)
            rc = record_ok(in, &in->batch[i], &res[i]);
    } else if (is_fatal(rc) || rc == LM_ENOMEM) {
        rc = rc == LM_ENOMEM ? -1 : library_failure(in, &in->batch[bad < n ? bad : 0], rc);
        /* The rest of the batch counts as not attempted. */
    } else {
        rc = 0;
        for (size_t i = 0; i < n && rc == 0 && in->fatal == 0; i++) {
            int r = lm_doc_add(&res[i], in->mem, in->owner, docs[i].id_at_origin, docs[i].name,
                               docs[i].type, docs[i].content, docs[i].content_len, docs[i].opts);
            rc = r == 0 ? record_ok(in, &in->batch[i], &res[i])
                        : r == LM_ENOMEM ? -1 : library_failure(in, &in->batch[i], r);
        }
    }
    for (size_t i = 0; i < n; i++)
        pending_free(&in->batch[i]);
    in->n_batch = 0;
    in->batch_bytes = 0;
    return rc;
}

/* Queue @p p (taken over) for the next batch. */
static int enqueue(ingest *in, pending *p)
{
    in->batch[in->n_batch++] = *p;
    in->batch_bytes += p->text.size;
    memset(p, 0, sizeof(*p));
    if (in->n_batch == BATCH_DOCS || in->batch_bytes >= BATCH_BYTES)
        return flush(in);
    return 0;
}

static int ingest_one(ingest *in, const file_entry *f)
{
    lm_buf path, title;
    json_t *meta = NULL;
    pending p;
    char err[1024], prefix[600];
    const char *base = strrchr(f->rel, '/') != NULL ? strrchr(f->rel, '/') + 1 : f->rel;
    cli_format format = cli_format_of_path(f->rel);
    int rc, bad;

    memset(&p, 0, sizeof(p));
    lm_buf_init(&path);
    lm_buf_init(&title);
    lm_buf_init(&p.text);
    lm_buf_init(&p.name);
    snprintf(prefix, sizeof(prefix), "could not ingest \"%s\"", f->rel);

    if (f->dup_of != NULL) {
        snprintf(err, sizeof(err), "its id at origin \"%s\" is already used by \"%s\"", f->origin,
                 f->dup_of);
        cli_msg("%s: %s", prefix, err);
        cli_hint("Rename one of the files.");
        rc = record_failure(in, f->rel, LM_EEXISTS, err, "", "Rename one of the files.");
        goto out;
    }

    lm__buf_puts(&path, in->dir);
    if (path.size > 0 && path.ptr[path.size - 1] != '/')
        lm__buf_putc(&path, '/');
    lm__buf_puts(&path, f->rel);
    if (lm__buf_oom(&path)) {
        rc = -1;
        goto out;
    }
    rc = cli_load(&p.text, &title, path.ptr, format, err, sizeof(err));
    if (rc == LM_ENOMEM) {
        rc = -1;
        goto out;
    }
    if (rc < 0) {
        cli_msg("%s: %s", prefix, err);
        rc = record_failure(in, f->rel, rc, err, "", "");
        goto out;
    }
    cli_put_capped(&p.name, title.size > 0 ? title.ptr : base, LM_MAX_DOC_NAME_BYTES);

    meta = json_object();
    bad = cli_jset(meta, "source_path", cli_jstr(f->rel));
    bad |= json_object_update(meta, in->base_meta);
    p.type = cli_format_doc_type(format);
    p.opts = in->opts;
    p.label = strdup(f->rel);
    p.origin = strdup(f->origin);
    if (bad || lm__buf_oom(&p.name) || p.label == NULL || p.origin == NULL ||
        (p.meta_text = cli_json_text(meta)) == NULL) {
        rc = -1;
        goto out;
    }
    p.opts.metadata = p.meta_text;
    rc = enqueue(in, &p);
out:
    json_decref(meta);
    pending_free(&p);
    lm_buf_dispose(&path);
    lm_buf_dispose(&title);
    return rc;
}

/* ==== JSON Lines ==== */

/* One line of --jsonl input: {"id_at_origin", "content", "name"?, "type"?, "metadata"?,
   "document_date"?}. A line that is not such an object fails alone. */
static int ingest_line(ingest *in, const char *line, size_t len, long lineno)
{
    json_error_t jerr;
    json_t *o = json_loadb(line, len, 0, &jerr), *meta = NULL, *v;
    pending p;
    char label[64], err[512];
    const char *origin, *content, *name, *type_name, *date;
    lm_doc_type type = LM_DOC_TEXT;
    int rc = 0, bad;

    memset(&p, 0, sizeof(p));
    lm_buf_init(&p.text);
    lm_buf_init(&p.name);
    snprintf(label, sizeof(label), "line %ld", lineno);
    err[0] = '\0';
    if (o == NULL)
        snprintf(err, sizeof(err), "invalid JSON: %s", jerr.text);
    else if (!json_is_object(o))
        snprintf(err, sizeof(err), "a line must hold a JSON object");
    if (err[0] == '\0') {
        origin = json_string_value(json_object_get(o, "id_at_origin"));
        content = json_string_value(json_object_get(o, "content"));
        name = json_string_value(json_object_get(o, "name"));
        type_name = json_string_value(json_object_get(o, "type"));
        date = json_string_value(json_object_get(o, "document_date"));
        v = json_object_get(o, "metadata");
        if (origin == NULL)
            snprintf(err, sizeof(err), "\"id_at_origin\" (a string) is missing");
        else if (content == NULL)
            snprintf(err, sizeof(err), "\"content\" (a string) is missing");
        else if (v != NULL && !json_is_object(v))
            snprintf(err, sizeof(err), "\"metadata\" must be a JSON object");
        else if (type_name != NULL && lm_doc_type_parse(&type, type_name) < 0)
            snprintf(err, sizeof(err), "unknown document type \"%.100s\"", type_name);
    }
    if (err[0] != '\0') {
        cli_msg("could not ingest %s: %s", label, err);
        rc = record_failure(in, label, LM_EINVAL, err, "", "");
        goto out;
    }
    meta = json_object();
    bad = meta == NULL || json_object_update(meta, in->base_meta) < 0;
    if (v != NULL)
        bad |= json_object_update(meta, v) < 0;
    lm__buf_put(&p.text, content, json_string_length(json_object_get(o, "content")));
    cli_put_capped(&p.name, name != NULL ? name : origin, LM_MAX_DOC_NAME_BYTES);
    p.type = type;
    p.opts = in->opts;
    p.label = strdup(label);
    p.origin = strdup(origin);
    p.date = date != NULL ? strdup(date) : NULL;
    if (bad || lm__buf_oom(&p.text) || lm__buf_oom(&p.name) || p.label == NULL ||
        p.origin == NULL || (date != NULL && p.date == NULL) ||
        (p.meta_text = cli_json_text(meta)) == NULL) {
        rc = -1;
        goto out;
    }
    p.opts.metadata = p.meta_text;
    p.opts.document_date = p.date;
    rc = enqueue(in, &p);
out:
    json_decref(o);
    json_decref(meta);
    pending_free(&p);
    return rc;
}

/* Every line of @p path ("-": standard input); blank lines are skipped. */
static int ingest_jsonl(ingest *in, const char *path, size_t *lines)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long lineno = 0;
    int rc = 0;

    if (f == NULL) {
        int e = errno;
        cli_msg("could not open file \"%s\": %s", path, strerror(e));
        return cli_path_status(e);
    }
    while (rc == 0 && in->fatal == 0 && (n = getline(&line, &cap, f)) >= 0) {
        size_t k = (size_t)n;
        lineno++;
        while (k > 0 && (line[k - 1] == '\n' || line[k - 1] == '\r' || line[k - 1] == ' '))
            k--;
        if (k == 0)
            continue;
        (*lines)++;
        if (in->progress && *lines % 100 == 0) {
            char msg[64];
            snprintf(msg, sizeof(msg), "%zu documents", *lines);
            cli_status_line(msg);
        }
        if (ingest_line(in, line, k, lineno) < 0)
            rc = -1;
    }
    if (rc == 0 && ferror(f)) {
        int e = errno;
        cli_msg("could not read file \"%s\": %s", path, strerror(e));
        rc = CLI_EXIT_ERROR;
    }
    free(line);
    if (f != stdin)
        fclose(f);
    return rc < 0 ? cli_oom() : rc;
}

/* ==== the command ==== */

int cli_cmd_ingest(cli_ctx *ctx, int argc, char **argv)
{
    ingest in;
    const char *owner_opt = NULL, *jsonl = NULL;
    int json = 0, no_progress = 0, nargs, bad, status = CLI_EXIT_USAGE;
    const cli_opt table[] = {
        CLI_OWNER(&owner_opt, "owner (tenant) of the documents; default $LLMEMORY_OWNER"),
        CLI_META(&in.base_meta, "metadata for every document; KEY:=JSON gives a JSON\n"
                                "value"),
        CLI_STRING(0, "config", "NAME", &in.opts.text_config,
                   "text search configuration (default: the memory's, \"english\")"),
        CLI_CALL(0, "strategy", "NAME", &in.opts.strategy, NULL, cli_opt_strategy,
                 "chunking: hierarchical (default) or semantic"),
        CLI_STRING(0, "jsonl", "FILE", &jsonl,
                   "read documents from FILE (\"-\": standard input), one JSON\n"
                   "object a line, instead of a directory"),
        CLI_FLAG(0, "no-progress", &no_progress, "do not draw the progress bar"),
        CLI_JSON(&json, "print a summary with per-file results as JSON"),
        CLI_END};
    const cli_spec spec = {.usage = "llmemory ingest [OPTION]... DIR\n"
                                    "   or: llmemory ingest [OPTION]... --jsonl FILE",
                           .about = about,
                           .opts = table,
                           .missing = "no directory given",
                           .min_args = 0,
                           .max_args = 1};
    file_list files = {NULL, 0, 0};
    lm_buf path;
    json_t *out = NULL;
    struct stat st;
    size_t root_len, attempted = 0;

    memset(&in, 0, sizeof(in));
    in.ctx = ctx;
    lm_buf_init(&path);
    lm_doc_add_opts_init(&in.opts, LM_DOC_ADD_OPTS_VERSION);
    if ((status = cli_parse(ctx, &spec, argc, argv, &nargs)) != CLI_PARSED)
        goto out;
    if (in.base_meta == NULL && (in.base_meta = json_object()) == NULL) {
        status = cli_oom();
        goto out;
    }
    if ((jsonl != NULL) == (nargs == 1)) {
        cli_msg(jsonl != NULL ? "give either DIR or --jsonl FILE, not both"
                              : "no directory given");
        cli_hint("Try \"llmemory ingest --help\".");
        status = CLI_EXIT_USAGE;
        goto out;
    }
    if ((status = cli_owner(ctx, owner_opt, &in.owner)) != 0)
        goto out;
    if (jsonl != NULL) {
        size_t lines = 0;
        if (json && (in.results = json_array()) == NULL) {
            status = cli_oom();
            goto out;
        }
        if ((status = cli_open(ctx, &in.mem)) != 0)
            goto out;
        in.progress = !no_progress && isatty(STDERR_FILENO);
        status = ingest_jsonl(&in, jsonl, &lines);
        if (status == 0 && in.fatal == 0 && flush(&in) < 0)
            status = cli_oom();
        if (in.progress)
            cli_status_clear();
        if (status != 0)
            goto out;
        if (in.fatal != 0)
            cli_msg("stopped after %zu documents", in.ok + in.failed);
        if (json) {
            out = json_object();
            bad = cli_jset(out, "owner_id", cli_jstr(in.owner));
            bad |= cli_jset(out, "file", cli_jstr(jsonl));
            bad |= cli_jset(out, "documents", json_integer((json_int_t)lines));
            bad |= cli_jset(out, "ingested", json_integer((json_int_t)in.ok));
            bad |= cli_jset(out, "failed", json_integer((json_int_t)in.failed));
            bad |= cli_jset(out, "chunks", json_integer(in.chunks));
            bad |= cli_jset(out, "results", json_incref(in.results));
            if (bad) {
                status = cli_oom();
                goto out;
            }
            status = cli_json_print(out);
            out = NULL;
            if (status != 0)
                goto out;
        } else {
            printf("ingested %zu document%s (%lld chunk%s), %zu failed\n", in.ok,
                   in.ok == 1 ? "" : "s", in.chunks, in.chunks == 1 ? "" : "s", in.failed);
        }
        status = in.fatal != 0 ? in.fatal : in.failed > 0 ? CLI_EXIT_ERROR : CLI_EXIT_OK;
        goto out;
    }
    in.dir = argv[0];
    if (stat(in.dir, &st) != 0) {
        int e = errno;
        cli_msg("could not open directory \"%s\": %s", in.dir, strerror(e));
        status = cli_path_status(e);
        goto out;
    }
    if (!S_ISDIR(st.st_mode)) {
        cli_msg("\"%s\" is not a directory", in.dir);
        cli_hint("Use \"llmemory add\" for a single file.");
        status = CLI_EXIT_USAGE;
        goto out;
    }
    if (json && ((in.results = json_array()) == NULL || (in.skipped_list = json_array()) == NULL)) {
        status = cli_oom();
        goto out;
    }

    /* Collect first, then sort: the order (and so the output) does not depend on the file
       system's directory order. */
    lm__buf_puts(&path, in.dir);
    /* Paths below DIR are DIR + "/" + rel; rel starts after that slash. */
    root_len = path.size > 0 && path.ptr[path.size - 1] == '/' ? path.size : path.size + 1;
    if (lm__buf_oom(&path) || walk(&in, &files, &path, root_len) < 0) {
        status = cli_oom();
        goto out;
    }
    if (files.n > 1)
        qsort(files.v, files.n, sizeof(files.v[0]), cmp_rel);
    if (assign_origins(&files) < 0) {
        status = cli_oom();
        goto out;
    }
    if (in.skipped > MAX_SKIP_LINES && ctx->verbose == 0)
        cli_msg("skipped %zu more files (-v or --json lists them)", in.skipped - MAX_SKIP_LINES);
    if (files.n == 0 && in.failed == 0)
        cli_msg("no .txt, .md, .markdown, .html, .htm or .pdf files in \"%s\"", in.dir);

    if (files.n > 0 && (status = cli_open(ctx, &in.mem)) != 0)
        goto out;
    in.progress = !no_progress && isatty(STDERR_FILENO);
    for (size_t i = 0; i < files.n && in.fatal == 0; i++, attempted++) {
        if (in.progress)
            draw_progress(i, files.n, files.v[i].rel);
        if (ingest_one(&in, &files.v[i]) < 0) {
            status = cli_oom();
            goto out;
        }
    }
    if (in.fatal == 0 && flush(&in) < 0) {
        status = cli_oom();
        goto out;
    }
    if (in.progress) {
        if (in.fatal == 0 && files.n > 0)
            draw_progress(files.n, files.n, "");
        cli_status_clear();
    }
    if (in.fatal != 0) {
        size_t left;
        attempted = in.ok + in.failed;
        left = files.n > attempted ? files.n - attempted : 0;
        cli_msg("stopped after %zu of %zu files", attempted, files.n);
        if (left > 0)
            cli_detail("%zu file%s not attempted.", left, left == 1 ? " was" : "s were");
    }

    if (json) {
        out = json_object();
        bad = cli_jset(out, "owner_id", cli_jstr(in.owner));
        bad |= cli_jset(out, "directory", cli_jstr(in.dir));
        bad |= cli_jset(out, "files", json_integer((json_int_t)files.n));
        bad |= cli_jset(out, "ingested", json_integer((json_int_t)in.ok));
        bad |= cli_jset(out, "failed", json_integer((json_int_t)in.failed));
        bad |= cli_jset(out, "skipped", json_integer((json_int_t)in.skipped));
        bad |= cli_jset(out, "chunks", json_integer(in.chunks));
        bad |= cli_jset(out, "results", json_incref(in.results));
        bad |= cli_jset(out, "skipped_files", json_incref(in.skipped_list));
        if (bad) {
            status = cli_oom();
            goto out;
        }
        status = cli_json_print(out);
        out = NULL;
        if (status != 0)
            goto out;
    } else {
        printf("ingested %zu file%s (%lld chunk%s), %zu failed, %zu skipped\n", in.ok,
               in.ok == 1 ? "" : "s", in.chunks, in.chunks == 1 ? "" : "s", in.failed, in.skipped);
    }
    status = in.fatal != 0 ? in.fatal : in.failed > 0 ? CLI_EXIT_ERROR : CLI_EXIT_OK;
out:
    if (in.progress)
        cli_status_clear();
    json_decref(out);
    json_decref(in.results);
    json_decref(in.skipped_list);
    json_decref(in.base_meta);
    list_free(&files);
    lm_buf_dispose(&path);
    for (size_t i = 0; i < in.n_batch; i++)
        pending_free(&in.batch[i]);
    lm_memory_close(in.mem);
    return status;
}
