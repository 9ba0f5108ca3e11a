/*
 * eval/dataset.c: the dataset runner of llmemory/eval.h: read a BEIR collection, ingest its
 * corpus into one owner, search every judged query through the public API and score the ranking
 * with metrics.c. Uses the library only through llmemory.h (it sits above api), so it measures
 * exactly what any caller gets.
 */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "clock.h"
#include "error.h"
#include "llmemory.h"
#include "utf8.h"
#include "validate.h"

/* Skipped entries and rejected queries named one by one; the rest are counted. */
#define MAX_REPORTED 5

typedef struct runner {
    lm_memory *mem;
    const char *dir;
    lm_eval_opts o;
    lm_eval_result *r;
    char **texts; /* query text per judged query (qrels order), NULL when missing */
    double *wall_ms, *search_ms;
    size_t n_timed;
} runner;

int lm_eval_opts_init(lm_eval_opts *opts, unsigned int version)
{
    static const lm_eval_opts defaults = LM_EVAL_OPTS_INIT;
    LM_ASSERT_ARG(opts != NULL);
    if (version != LM_EVAL_OPTS_VERSION)
        return lm__error_set(LM_EINVAL, "unsupported lm_eval_opts version %u", version);
    *opts = defaults;
    return 0;
}

static void notice(const runner *ev, const char *fmt, ...) LM__PRINTF(2, 3);

static void notice(const runner *ev, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    if (ev->o.notice == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ev->o.notice(msg, ev->o.payload);
}

static void progress(const runner *ev, const char *phase, size_t done, size_t total)
{
    if (ev->o.progress != NULL)
        ev->o.progress(phase, done, total, ev->o.payload);
}

/* DIR/NAME in @p out. 0 or LM_ENOMEM. */
static int path_in(lm_buf *out, const char *dir, const char *name)
{
    lm__buf_clear(out);
    lm__buf_printf(out, "%s/%s", dir, name);
    if (lm__buf_oom(out)) {
        lm__error_set_oom();
        return LM_ENOMEM;
    }
    return 0;
}

static int open_failed(const char *path)
{
    int e = errno;
    lm__error_set(LM_EIO, "could not open file \"%s\": %s", path, strerror(e));
    return LM_EIO;
}

/* Read @p path whole into @p out. 0, LM_EIO or LM_ENOMEM. */
static int read_file(lm_buf *out, const char *path)
{
    FILE *f = fopen(path, "rb");
    char chunk[65536];
    size_t got;

    if (f == NULL)
        return open_failed(path);
    lm__buf_clear(out);
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
        lm__buf_put(out, chunk, got);
    if (ferror(f)) {
        int e = errno;
        fclose(f);
        lm__error_set(LM_EIO, "could not read file \"%s\": %s", path, strerror(e));
        return LM_EIO;
    }
    fclose(f);
    if (lm__buf_oom(out)) {
        lm__error_set_oom();
        return LM_ENOMEM;
    }
    return 0;
}

/* The next line of @p f (newline included) in @p line. 1, 0 at the end, or LM_EIO / LM_ENOMEM. */
static int read_line(FILE *f, lm_buf *line, const char *path)
{
    char chunk[8192];

    lm__buf_clear(line);
    while (fgets(chunk, sizeof(chunk), f) != NULL) {
        size_t n = strlen(chunk);
        lm__buf_put(line, chunk, n);
        if (n > 0 && chunk[n - 1] == '\n')
            break;
    }
    if (ferror(f)) {
        lm__error_set(LM_EIO, "could not read file \"%s\": %s", path, strerror(errno));
        return LM_EIO;
    }
    if (lm__buf_oom(line)) {
        lm__error_set_oom();
        return LM_ENOMEM;
    }
    return line->size > 0;
}

/* Lines of a file, for the progress total. 0 when it cannot be read. */
static size_t count_lines(const char *path)
{
    FILE *f = fopen(path, "rb");
    char chunk[65536];
    size_t n = 0, got;
    if (f == NULL)
        return 0;
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
        for (size_t i = 0; i < got; i++)
            n += chunk[i] == '\n';
    fclose(f);
    return n;
}

/* A string member of a JSON object; integers are accepted as ids. NULL when absent. */
static const char *jfield(json_t *obj, const char *key, char *num, size_t numlen)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v) && num != NULL) {
        snprintf(num, numlen, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return num;
    }
    return NULL;
}

/* One JSON object per non-blank line: *out (a new reference), 0 for a blank line, 1 for an
   object, or LM_EPARSE naming the line. */
static int json_line(json_t **out, const lm_buf *line, const char *path, size_t lineno)
{
    json_error_t jerr;

    *out = NULL;
    if (strspn(line->ptr, " \t\r\n") == line->size)
        return 0;
    *out = json_loadb(line->ptr, line->size, 0, &jerr);
    if (*out == NULL || !json_is_object(*out)) {
        lm__error_set(LM_EPARSE, "could not read \"%s\" line %zu: %s", path, lineno,
                      *out == NULL ? jerr.text : "not a JSON object");
        json_decref(*out);
        *out = NULL;
        return LM_EPARSE;
    }
    return 1;
}

static int load_qrels(runner *ev)
{
    lm_buf rel = LM_BUF_INIT, path = LM_BUF_INIT, raw = LM_BUF_INIT;
    int rc;

    lm__buf_printf(&rel, "qrels/%s.tsv", ev->o.split);
    if (lm__buf_oom(&rel)) {
        lm__error_set_oom();
        rc = LM_ENOMEM;
        goto out;
    }
    if ((rc = path_in(&path, ev->dir, rel.ptr)) < 0)
        goto out;
    if ((rc = read_file(&raw, path.ptr)) < 0) {
        if (rc == LM_EIO && errno == ENOENT)
            lm__error_hint("A BEIR collection holds corpus.jsonl, queries.jsonl and "
                           "qrels/SPLIT.tsv (here split \"%s\").", ev->o.split);
        goto out;
    }
    if ((rc = lm_eval_qrels_parse(&ev->r->qrels, raw.ptr, raw.size)) < 0) {
        if (rc == LM_EPARSE) {
            char msg[512];
            snprintf(msg, sizeof(msg), "%s", lm_error_last()->message);
            lm__error_set(LM_EPARSE, "could not read judgments \"%s\": %s", path.ptr, msg);
        }
        goto out;
    }
out:
    lm_buf_dispose(&rel);
    lm_buf_dispose(&path);
    lm_buf_dispose(&raw);
    return rc;
}

/* Erase the owner and add one document per corpus line. */
static int ingest(runner *ev)
{
    lm_buf path = LM_BUF_INIT, line = LM_BUF_INIT, content = LM_BUF_INIT, name = LM_BUF_INIT;
    lm_eval_result *r = ev->r;
    FILE *f = NULL;
    json_t *doc = NULL;
    size_t lineno = 0, total = 0;
    double t0 = lm__now_ms();
    int rc;

    if ((rc = path_in(&path, ev->dir, "corpus.jsonl")) < 0)
        goto out;
    if ((f = fopen(path.ptr, "rb")) == NULL) {
        rc = open_failed(path.ptr);
        goto out;
    }
    if (ev->o.progress != NULL)
        total = count_lines(path.ptr);
    /* A fresh owner: what an earlier run left (or anything else the owner had) would change
       both the BM25 statistics and the results. */
    if ((rc = lm_tenant_erase(NULL, ev->mem, ev->o.owner_id)) < 0)
        goto out;
    r->ingested = 1;

    while ((rc = read_line(f, &line, path.ptr)) > 0) {
        lm_doc_add_result res;
        char num[32];
        const char *id;

        lineno++;
        json_decref(doc);
        if ((rc = json_line(&doc, &line, path.ptr, lineno)) < 0)
            goto out;
        if (rc == 0)
            continue;
        if ((id = jfield(doc, "_id", num, sizeof(num))) == NULL) {
            rc = lm__error_set(LM_EPARSE, "could not read \"%s\" line %zu: no \"_id\"", path.ptr,
                               lineno);
            goto out;
        }
        if ((rc = lm_eval_doc(&content, &name, id, jfield(doc, "title", NULL, 0),
                              jfield(doc, "text", NULL, 0))) < 0)
            goto out;
        rc = lm_doc_add(&res, ev->mem, ev->o.owner_id, id, name.ptr, LM_DOC_TEXT, content.ptr,
                        content.size, NULL);
        if (rc == LM_EINVAL || rc == LM_ELIMIT) {
            /* This entry only (an id outside the allowed characters, empty content...): the
               others still make a meaningful run, and the count is reported. */
            if (r->docs_skipped++ < MAX_REPORTED)
                notice(ev, "skipped a corpus entry: %s", lm_error_last()->message);
            continue;
        }
        if (rc < 0)
            goto out;
        r->docs_added++;
        r->chunks += (size_t)res.chunk_count;
        if (lineno % 25 == 0)
            progress(ev, "ingesting", lineno, total);
    }
    if (rc < 0)
        goto out;
    if (r->docs_skipped > MAX_REPORTED)
        notice(ev, "%zu more corpus entries skipped", r->docs_skipped - MAX_REPORTED);
    if (r->docs_added == 0) {
        rc = lm__error_set(LM_EPARSE, "no documents in \"%s\"", path.ptr);
        goto out;
    }
    r->ingest_s = (lm__now_ms() - t0) / 1e3;
    rc = 0;
out:
    json_decref(doc);
    if (f != NULL)
        fclose(f);
    lm_buf_dispose(&path);
    lm_buf_dispose(&line);
    lm_buf_dispose(&content);
    lm_buf_dispose(&name);
    return rc;
}

/* Texts of the judged queries from queries.jsonl. */
static int load_queries(runner *ev)
{
    lm_buf path = LM_BUF_INIT, line = LM_BUF_INIT;
    lm_eval_qrels *qrels = &ev->r->qrels;
    FILE *f = NULL;
    json_t *q = NULL;
    size_t lineno = 0;
    int rc;

    if ((ev->texts = lm__calloc(qrels->n ? qrels->n : 1, sizeof(*ev->texts))) == NULL) {
        rc = LM_ENOMEM;
        goto out;
    }
    if ((rc = path_in(&path, ev->dir, "queries.jsonl")) < 0)
        goto out;
    if ((f = fopen(path.ptr, "rb")) == NULL) {
        rc = open_failed(path.ptr);
        goto out;
    }
    while ((rc = read_line(f, &line, path.ptr)) > 0) {
        char num[32];
        const char *id, *text;
        long i;

        lineno++;
        json_decref(q);
        if ((rc = json_line(&q, &line, path.ptr, lineno)) < 0)
            goto out;
        if (rc == 0)
            continue;
        id = jfield(q, "_id", num, sizeof(num));
        text = jfield(q, "text", NULL, 0);
        if (id == NULL || text == NULL) {
            rc = lm__error_set(LM_EPARSE, "could not read \"%s\" line %zu: no \"_id\" or \"text\"",
                               path.ptr, lineno);
            goto out;
        }
        if ((i = lm_eval_qrels_find(qrels, id)) < 0 || ev->texts[i] != NULL)
            continue; /* not judged in this split */
        if ((ev->texts[i] = lm__strdup(text)) == NULL) {
            rc = LM_ENOMEM;
            goto out;
        }
    }
    if (rc < 0)
        goto out;
    for (size_t i = 0; i < qrels->n; i++)
        ev->r->queries_missing += ev->texts[i] == NULL;
    if (ev->r->queries_missing == qrels->n) {
        rc = lm__error_set(LM_EPARSE, "none of the %zu judged queries is in \"%s\"", qrels->n,
                           path.ptr);
        goto out;
    }
    if (ev->r->queries_missing > 0)
        notice(ev, "%zu of the %zu judged queries are not in \"%s\"; they score 0",
               ev->r->queries_missing, qrels->n, path.ptr);
    rc = 0;
out:
    json_decref(q);
    if (f != NULL)
        fclose(f);
    lm_buf_dispose(&path);
    lm_buf_dispose(&line);
    return rc;
}

/* Search query @p i; when @p measure, time it and add its documents to the run. 0, 1 when the
   library rejected this query (counted, scored 0), or an error. */
static int search_one(runner *ev, size_t i, int measure)
{
    lm_eval_result *r = ev->r;
    const lm_eval_qrel_query *qq = &r->qrels.q[i];
    const char *text = ev->texts[i];
    lm_search_opts opts;
    lm_results *res = NULL;
    const char **ids = NULL;
    double *scores = NULL;
    char *cut = NULL;
    size_t len = strlen(text), n, before;
    double t0, t1;
    int rc;

    lm_search_opts_init(&opts, LM_SEARCH_OPTS_VERSION);
    opts.type = ev->o.type;
    opts.limit = r->k;
    opts.alpha = ev->o.alpha;
    opts.no_history = 1;
    opts.syntax = ev->o.syntax;
    if (len > LM_MAX_QUERY_BYTES) {
        /* Long queries (whole arguments, in some collections) are cut rather than failed. */
        if ((cut = lm__strndup(text, lm__utf8_floor(text, len, LM_MAX_QUERY_BYTES))) == NULL) {
            rc = LM_ENOMEM;
            goto out;
        }
        text = cut;
        if (measure)
            r->queries_truncated++;
    }
    t0 = lm__now_ms();
    rc = lm_search(&res, ev->mem, ev->o.owner_id, text, &opts);
    t1 = lm__now_ms();
    if (rc == LM_EINVAL && strcmp(lm_error_last()->field, "query") == 0) {
        if (measure && r->queries_rejected++ < MAX_REPORTED)
            notice(ev, "query \"%s\" scores 0: %s", qq->query_id, lm_error_last()->message);
        rc = 1;
        goto out;
    }
    if (rc < 0 || !measure)
        goto out;
    ev->wall_ms[ev->n_timed] = t1 - t0;
    ev->search_ms[ev->n_timed] = lm_results_elapsed_ms(res);
    ev->n_timed++;

    n = lm_results_count(res);
    ids = lm__calloc(n ? n : 1, sizeof(*ids));
    scores = lm__calloc(n ? n : 1, sizeof(*scores));
    if (ids == NULL || scores == NULL) {
        rc = LM_ENOMEM;
        goto out;
    }
    for (size_t j = 0; j < n; j++) {
        const lm_hit *h = lm_results_at(res, j);
        char num[32];
        ids[j] = h->id_at_origin != NULL ? h->id_at_origin : "";
        /* The score as the run file will print it, so that scoring the file later orders ties
           exactly as this run does. */
        snprintf(num, sizeof(num), "%.9g", h->score);
        scores[j] = strtod(num, NULL);
    }
    before = r->run.n;
    if ((rc = lm_eval_run_add_ranked(&r->run, qq->query_id, ids, scores, n, (size_t)r->depth)) < 0)
        goto out;
    /* Fewer documents than asked for while the search hit its limit: more chunks would have
       brought more documents, and Recall@100 is measured on a short list. */
    if (n == (size_t)r->k && r->run.n - before < (size_t)r->depth)
        r->queries_short++;
out:
    lm__free(ids);
    lm__free(scores);
    lm__free(cut);
    lm_results_free(res);
    return rc;
}

static int search_all(runner *ev)
{
    lm_eval_result *r = ev->r;
    size_t total = r->qrels.n - r->queries_missing, done = 0;
    int rc;

    ev->wall_ms = lm__calloc(total ? total : 1, sizeof(*ev->wall_ms));
    ev->search_ms = lm__calloc(total ? total : 1, sizeof(*ev->search_ms));
    if (ev->wall_ms == NULL || ev->search_ms == NULL)
        return LM_ENOMEM;
    /* Warm-up: first searches pay for cold caches and fresh connections; keep them out of the
       latency figures when asked to. */
    for (size_t i = 0, w = 0; i < r->qrels.n && w < (size_t)ev->o.warmup; i++) {
        if (ev->texts[i] == NULL)
            continue;
        if ((rc = search_one(ev, i, 0)) < 0)
            return rc;
        w++;
    }
    for (size_t i = 0; i < r->qrels.n; i++) {
        if (ev->texts[i] == NULL)
            continue;
        if ((rc = search_one(ev, i, 1)) < 0)
            return rc;
        if (++done % 10 == 0)
            progress(ev, "searching", done, total);
    }
    if (r->queries_rejected > MAX_REPORTED)
        notice(ev, "%zu more queries score 0", r->queries_rejected - MAX_REPORTED);
    lm_eval_latency_summarize(&r->latency, ev->wall_ms, ev->n_timed);
    lm_eval_latency_summarize(&r->search_ms, ev->search_ms, ev->n_timed);
    return 0;
}

static int check_opts(lm_eval_opts *o)
{
    if (o->owner_id == NULL)
        o->owner_id = "eval";
    if (o->split == NULL)
        o->split = "test";
    if (o->depth == 0)
        o->depth = 100;
    if (o->depth < 1 || o->depth > 1000)
        return lm__error_set_field(LM_EINVAL, "depth", "depth %d is out of range (1..1000)",
                                   o->depth);
    if (o->k == 0)
        o->k = o->depth * 3 > 1000 ? 1000 : o->depth * 3;
    if (o->k < 1 || o->k > 1000)
        return lm__error_set_field(LM_EINVAL, "k", "k %d is out of range (1..1000)", o->k);
    if (o->warmup < 0)
        return lm__error_set_field(LM_EINVAL, "warmup", "warmup must not be negative");
    if (o->alpha > 1)
        return lm__error_set_field(LM_EINVAL, "alpha", "alpha %g is out of range (0..1)",
                                   o->alpha);
    if (strchr(o->split, '/') != NULL || o->split[0] == '\0' || o->split[0] == '.')
        return lm__error_set_field(LM_EINVAL, "split", "invalid split name \"%.60s\"", o->split);
    return lm__validate_owner_id(o->owner_id);
}

int lm_eval_dataset(lm_eval_result **out, lm_memory *mem, const char *dir, const lm_eval_opts *opts)
{
    runner ev;
    int rc;

    LM_ASSERT_ARG(out != NULL);
    *out = NULL;
    LM_ASSERT_ARG(mem != NULL);
    LM_ASSERT_ARG(dir != NULL);
    memset(&ev, 0, sizeof(ev));
    ev.mem = mem;
    ev.dir = dir;
    if (opts != NULL)
        ev.o = *opts;
    else
        lm_eval_opts_init(&ev.o, LM_EVAL_OPTS_VERSION);
    if ((rc = check_opts(&ev.o)) < 0)
        return rc;
    if ((ev.r = lm__calloc(1, sizeof(*ev.r))) == NULL)
        return LM_ENOMEM;
    ev.r->k = ev.o.k;
    ev.r->depth = ev.o.depth;

    /* The collection's files are read before anything is ingested, so a broken collection
       costs no ingest. */
    if ((rc = load_qrels(&ev)) < 0 || (rc = load_queries(&ev)) < 0)
        goto out;
    if (ev.o.no_ingest) {
        lm_stats st;
        if ((rc = lm_stats_get(&st, mem, ev.o.owner_id)) < 0)
            goto out;
        if (st.document_count == 0) {
            rc = lm__error_set(LM_ENOTFOUND, "owner \"%s\" has no documents", ev.o.owner_id);
            lm__error_hint("Ingest the collection first (a run that keeps its owner).");
            goto out;
        }
    } else if ((rc = ingest(&ev)) < 0) {
        goto out;
    }
    if ((rc = search_all(&ev)) < 0)
        goto out;
    rc = lm_eval_score_run(&ev.r->summary, NULL, &ev.r->qrels, &ev.r->run);
out:
    if (ev.r->ingested && !ev.o.keep) {
        /* The run's owner goes, also after a failure; the run's own error is the one
           reported. */
        const lm_error *e = lm_error_last();
        char msg[512], detail[512], hint[512];
        snprintf(msg, sizeof(msg), "%s", e->message);
        snprintf(detail, sizeof(detail), "%s", e->detail);
        snprintf(hint, sizeof(hint), "%s", e->hint);
        int erc = lm_tenant_erase(NULL, mem, ev.o.owner_id);
        if (rc == 0) {
            rc = erc;
        } else {
            lm__error_set(rc, "%s", msg);
            if (detail[0] != '\0')
                lm__error_detail("%s", detail);
            if (hint[0] != '\0')
                lm__error_hint("%s", hint);
        }
    }
    if (ev.texts != NULL)
        for (size_t i = 0; i < ev.r->qrels.n; i++)
            lm__free(ev.texts[i]);
    lm__free(ev.texts);
    lm__free(ev.wall_ms);
    lm__free(ev.search_ms);
    if (rc < 0) {
        lm_eval_result_free(ev.r);
        return rc;
    }
    *out = ev.r;
    return 0;
}

void lm_eval_result_free(lm_eval_result *result)
{
    if (result == NULL)
        return;
    lm_eval_qrels_dispose(&result->qrels);
    lm_eval_run_dispose(&result->run);
    lm__free(result);
}

int lm_eval_run_write(const lm_eval_run *run,
                      const lm_eval_qrels *qrels,
                      const char *path,
                      const char *tag)
{
    FILE *f;

    LM_ASSERT_ARG(run != NULL && qrels != NULL && path != NULL);
    if ((f = fopen(path, "w")) == NULL)
        return open_failed(path);
    if (tag == NULL)
        tag = "llmemory";
    for (size_t i = 0; i < qrels->n; i++) {
        size_t first, n = lm_eval_run_range(run, qrels->q[i].query_id, &first);
        for (size_t j = 0; j < n; j++) {
            const lm_eval_run_entry *e = &run->v[first + j];
            fprintf(f, "%s Q0 %s %zu %.9g %s\n", e->query_id, e->doc_id, j + 1, e->score, tag);
        }
    }
    if (fclose(f) != 0) {
        lm__error_set(LM_EIO, "could not write file \"%s\": %s", path, strerror(errno));
        return LM_EIO;
    }
    return 0;
}
