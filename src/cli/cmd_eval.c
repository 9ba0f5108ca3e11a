/*
 * cli/cmd_eval.c: `llmemory eval DATASET_DIR`: measure search quality and latency on a test
 * collection in BEIR layout (corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv). Ingests the corpus
 * into one owner, runs every judged query, folds chunk hits into documents (a document ranks by
 * its best chunk) and prints nDCG@10, Recall@100, MRR@10 and the latency distribution; can write
 * or score a TREC run. The metrics themselves are in eval.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cmd.h"
#include "eval.h"
#include "utf8.h"

static const char help[] =
    "Usage: llmemory eval [OPTION]... DATASET_DIR\n"
    "\n"
    "Measure search quality and latency on a test collection in BEIR layout: DATASET_DIR\n"
    "holds corpus.jsonl ({\"_id\", \"title\", \"text\"} per line), queries.jsonl ({\"_id\",\n"
    "\"text\"}) and qrels/SPLIT.tsv (query-id, corpus-id, score).\n"
    "\n"
    "The corpus is ingested into one owner (erased first): one text document per entry, its\n"
    "content the title and the text separated by a blank line, its id at origin the entry's\n"
    "_id. Every query judged in the split is searched once. Results are chunks: a document\n"
    "ranks where its best chunk ranks, with that chunk's score (its other chunks are\n"
    "dropped), and the first DEPTH documents are kept. Metrics follow trec_eval: nDCG@10\n"
    "(gain = judged grade, discount log2(rank + 1), ideal DCG from all judged relevant\n"
    "documents), Recall@100 and MRR@10, averaged over all judged queries; a query with no\n"
    "results scores 0. Ties in score are ordered by document id, descending, as trec_eval\n"
    "does.\n"
    "Latency is the wall time of each search call; the library's own timing is shown too.\n"
    "\n"
    "Options:\n"
    "  -o, --owner OWNER    owner (tenant) to ingest into and search; default \"eval\"\n"
    "      --split NAME     qrels split: qrels/NAME.tsv (default test)\n"
    "      --type TYPE      search type: text (default), vector or hybrid\n"
    "      --depth N        documents kept per query, 1-1000 (default 100)\n"
    "  -k, --k N            chunks retrieved per query (the search limit), 1-1000; default\n"
    "                       three times the depth, at most 1000 (a document may have\n"
    "                       several chunks, so DEPTH chunks would hold fewer documents)\n"
    "      --bm25-k1 X      BM25 k1, in (0, 10] (default: the library's)\n"
    "      --bm25-b X       BM25 b, in (0, 1] (default: the library's)\n"
    "      --alpha A        hybrid weight of the vector leg, 0..1 (default: the library's)\n"
    "      --warmup N       search the first N queries once, untimed and unscored, before\n"
    "                       the measured pass (default 0)\n"
    "      --run FILE       write the ranking as a TREC run (qid Q0 docid rank score tag)\n"
    "      --tag TAG        run tag (default llmemory-TYPE)\n"
    "      --no-ingest      search the owner's documents as they are (ingested earlier\n"
    "                       with --keep); the owner is then never erased\n"
    "      --keep           do not erase the owner at the end\n"
    "      --score-run FILE only score an existing TREC run against the qrels (no database;\n"
    "                       a document listed twice keeps its best score, ties are ordered\n"
    "                       by document id as trec_eval does)\n"
    "      --no-progress    do not draw the progress line\n"
    "      --json           print the results as JSON\n"
    "  -h, --help           print this help and exit\n";

enum {
    OPT_SPLIT = 256,
    OPT_DEPTH,
    OPT_TYPE,
    OPT_BM25_K1,
    OPT_BM25_B,
    OPT_ALPHA,
    OPT_WARMUP,
    OPT_RUN,
    OPT_TAG,
    OPT_NO_INGEST,
    OPT_KEEP,
    OPT_SCORE_RUN,
    OPT_NO_PROGRESS,
    OPT_JSON
};

/* First few per-item failures are printed; the rest are only counted. */
#define EVAL_MAX_REPORTED 5

typedef struct eval_run {
    cli_ctx *ctx;
    const char *dir;
    const char *owner;
    const char *split;
    lm_search_type type;
    long k;     /* chunks per search */
    long depth; /* documents kept per query */
    long warmup;
    double k1, b;
    double alpha; /* < 0: the library's default */
    const char *run_path;
    const char *tag;
    const char *score_path;
    int no_ingest, keep, progress, json;

    lm_memory *mem;
    cli_qrels qrels;
    cli_run run;
    char **texts;          /* query text per judged query (qrels order), NULL when missing */
    size_t missing;        /* judged queries without text */
    size_t truncated;      /* queries cut to LM_MAX_QUERY_BYTES */
    size_t failed_queries; /* queries the library rejected (scored 0) */
    size_t short_queries;  /* queries whose k chunks held fewer than depth documents */
    double *wall_ms, *search_ms;
    size_t n_timed;
    /* ingestion */
    int ingested;
    size_t docs_added, docs_failed, chunks;
    double ingest_s;
} eval_run;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int parse_double(cli_ctx *ctx, const char *opt, const char *arg, double max, double *out)
{
    char *end = NULL;
    double v;

    errno = 0;
    v = strtod(arg, &end);
    if (arg[0] == '\0' || *end != '\0' || errno != 0 || !(v > 0) || v > max) {
        cli_msg("invalid value \"%s\" for option \"%s\"", arg, opt);
        cli_detail("The value must be a number greater than 0 and at most %g.", max);
        cli_hint("Try \"llmemory %s --help\".", ctx->cmd != NULL ? ctx->cmd : "eval");
        return CLI_EXIT_USAGE;
    }
    *out = v;
    return 0;
}

static void progress(const eval_run *ev, const char *what, size_t done, size_t total)
{
    enum { BAR = 20 };
    char line[128], bar[BAR + 1];
    size_t filled = total > 0 ? (done > total ? total : done) * BAR / total : 0;

    if (!ev->progress)
        return;
    for (size_t i = 0; i < BAR; i++)
        bar[i] = i < filled ? '#' : ' ';
    bar[BAR] = '\0';
    if (total > 0)
        snprintf(line, sizeof(line), "%s [%s] %zu/%zu", what, bar, done, total);
    else
        snprintf(line, sizeof(line), "%s %zu", what, done);
    cli_status_line(line);
}

static char *path_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (p != NULL)
        snprintf(p, a + b + 2, "%s/%s", dir, name);
    return p;
}

/* Read and parse qrels/SPLIT.tsv. 0 or an exit status (printed). */
static int load_qrels(eval_run *ev)
{
    lm_buf raw = LM_BUF_INIT, rel = LM_BUF_INIT;
    char *path = NULL, err[256];
    int status = CLI_EXIT_ERROR;

    lm__buf_printf(&rel, "qrels/%s.tsv", ev->split);
    if (lm__buf_oom(&rel) || (path = path_join(ev->dir, rel.ptr)) == NULL) {
        status = cli_oom();
        goto out;
    }
    if (cli_read_file(&raw, path, err, sizeof(err)) < 0) {
        cli_msg("%s", err);
        if (errno == ENOENT)
            cli_hint("DATASET_DIR must hold qrels/%s.tsv (see --split).", ev->split);
        goto out;
    }
    if (cli_qrels_parse(&ev->qrels, raw.ptr, raw.size, err, sizeof(err)) < 0) {
        cli_msg("could not read judgments \"%s\": %s", path, err);
        goto out;
    }
    status = 0;
out:
    free(path);
    lm_buf_dispose(&raw);
    lm_buf_dispose(&rel);
    return status;
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

/* Lines of a file, for the progress bar's total. 0 when it cannot be read. */
static size_t count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    char buf[65536];
    size_t n = 0, got;
    if (f == NULL)
        return 0;
    while ((got = fread(buf, 1, sizeof(buf), f)) > 0)
        for (size_t i = 0; i < got; i++)
            n += buf[i] == '\n';
    fclose(f);
    return n;
}

/* Erase the owner and add one document per corpus line. 0 or an exit status (printed). */
static int ingest(eval_run *ev)
{
    FILE *f = NULL;
    char *path = NULL, *line = NULL;
    json_t *doc = NULL;
    lm_buf content = LM_BUF_INIT, name = LM_BUF_INIT;
    size_t cap = 0, lineno = 0, total = 0;
    ssize_t len;
    int64_t erased = 0;
    double t0 = now_s();
    int rc, status = CLI_EXIT_ERROR;

    if ((path = path_join(ev->dir, "corpus.jsonl")) == NULL) {
        status = cli_oom();
        goto out;
    }
    if ((f = fopen(path, "r")) == NULL) {
        cli_msg("could not open file \"%s\": %s", path, strerror(errno));
        goto out;
    }
    if (ev->progress)
        total = count_lines(path);
    /* A fresh owner: what an earlier run left (or anything else the owner had) would change
       both the BM25 statistics and the results. */
    if ((rc = lm_tenant_erase(&erased, ev->mem, ev->owner)) < 0) {
        status = cli_fail_lm(rc, NULL);
        goto out;
    }
    if (erased > 0 && ev->ctx->verbose)
        cli_msg("erased %lld documents of owner \"%s\"", (long long)erased, ev->owner);
    ev->ingested = 1;

    while ((len = getline(&line, &cap, f)) != -1) {
        json_error_t jerr;
        lm_doc_add_result res;
        char num[32];
        const char *id, *title, *text;

        lineno++;
        if (strspn(line, " \t\r\n") == (size_t)len)
            continue;
        json_decref(doc);
        doc = json_loadb(line, (size_t)len, 0, &jerr);
        if (doc == NULL || !json_is_object(doc)) {
            cli_msg("could not read \"%s\" line %zu: %s", path, lineno,
                    doc == NULL ? jerr.text : "not a JSON object");
            goto out;
        }
        id = jfield(doc, "_id", num, sizeof(num));
        if (id == NULL) {
            cli_msg("could not read \"%s\" line %zu: no \"_id\"", path, lineno);
            goto out;
        }
        title = jfield(doc, "title", NULL, 0);
        text = jfield(doc, "text", NULL, 0);
        cli_eval_doc(&content, &name, id, title, text);
        if (lm__buf_oom(&content) || lm__buf_oom(&name)) {
            status = cli_oom();
            goto out;
        }
        rc = lm_doc_add(&res, ev->mem, ev->owner, id, name.ptr, LM_DOC_TEXT, content.ptr,
                        content.size, NULL);
        if (rc == LM_EINVAL || rc == LM_ELIMIT) {
            /* This entry only (an id outside the allowed characters, empty content...): the
               others still make a meaningful run, and the count is reported. */
            if (ev->docs_failed++ < EVAL_MAX_REPORTED)
                cli_fail_lm(rc, "skipped a corpus entry");
            continue;
        }
        if (rc < 0) {
            status = cli_fail_lm(rc, NULL);
            goto out;
        }
        ev->docs_added++;
        ev->chunks += (size_t)res.chunk_count;
        if (lineno % 25 == 0)
            progress(ev, "ingesting", lineno, total);
    }
    if (ferror(f)) {
        cli_msg("could not read file \"%s\": %s", path, strerror(errno));
        goto out;
    }
    cli_status_clear();
    if (ev->docs_failed > EVAL_MAX_REPORTED)
        cli_msg("%zu more corpus entries skipped", ev->docs_failed - EVAL_MAX_REPORTED);
    if (ev->docs_added == 0) {
        cli_msg("no documents in \"%s\"", path);
        goto out;
    }
    ev->ingest_s = now_s() - t0;
    status = 0;
out:
    cli_status_clear();
    json_decref(doc);
    free(line);
    free(path);
    if (f != NULL)
        fclose(f);
    lm_buf_dispose(&content);
    lm_buf_dispose(&name);
    return status;
}

/* Texts of the judged queries from queries.jsonl. 0 or an exit status (printed). */
static int load_queries(eval_run *ev)
{
    FILE *f = NULL;
    char *path = NULL, *line = NULL;
    json_t *q = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t len;
    int status = CLI_EXIT_ERROR;

    ev->texts = calloc(ev->qrels.n ? ev->qrels.n : 1, sizeof(*ev->texts));
    if (ev->texts == NULL || (path = path_join(ev->dir, "queries.jsonl")) == NULL) {
        status = cli_oom();
        goto out;
    }
    if ((f = fopen(path, "r")) == NULL) {
        cli_msg("could not open file \"%s\": %s", path, strerror(errno));
        goto out;
    }
    while ((len = getline(&line, &cap, f)) != -1) {
        json_error_t jerr;
        char num[32];
        const char *id, *text;
        long i;

        lineno++;
        if (strspn(line, " \t\r\n") == (size_t)len)
            continue;
        json_decref(q);
        q = json_loadb(line, (size_t)len, 0, &jerr);
        if (q == NULL || !json_is_object(q)) {
            cli_msg("could not read \"%s\" line %zu: %s", path, lineno,
                    q == NULL ? jerr.text : "not a JSON object");
            goto out;
        }
        id = jfield(q, "_id", num, sizeof(num));
        text = jfield(q, "text", NULL, 0);
        if (id == NULL || text == NULL) {
            cli_msg("could not read \"%s\" line %zu: no \"_id\" or \"text\"", path, lineno);
            goto out;
        }
        if ((i = cli_qrels_find(&ev->qrels, id)) < 0 || ev->texts[i] != NULL)
            continue; /* not judged in this split */
        if ((ev->texts[i] = strdup(text)) == NULL) {
            status = cli_oom();
            goto out;
        }
    }
    if (ferror(f)) {
        cli_msg("could not read file \"%s\": %s", path, strerror(errno));
        goto out;
    }
    for (size_t i = 0; i < ev->qrels.n; i++)
        ev->missing += ev->texts[i] == NULL;
    if (ev->missing == ev->qrels.n) {
        cli_msg("none of the %zu judged queries is in \"%s\"", ev->qrels.n, path);
        goto out;
    }
    if (ev->missing > 0)
        cli_msg("%zu of the %zu judged queries are not in \"%s\"; they score 0", ev->missing,
                ev->qrels.n, path);
    status = 0;
out:
    json_decref(q);
    free(line);
    free(path);
    if (f != NULL)
        fclose(f);
    return status;
}

/*
 * Search query @p i; when @p measure, time it and add its documents to the run. Returns 0, -1 when
 * the library rejected this query (counted, scored 0), or an exit status (printed).
 */
static int search_one(eval_run *ev, size_t i, int measure)
{
    const cli_qrel_query *qq = &ev->qrels.q[i];
    const char *text = ev->texts[i];
    lm_search_opts opts;
    lm_results *res = NULL;
    const char **ids = NULL;
    double *scores = NULL;
    char *cut = NULL;
    size_t len = strlen(text), n, before;
    double t0, t1;
    int rc, status = CLI_EXIT_ERROR;

    lm_search_opts_init(&opts, LM_SEARCH_OPTS_VERSION);
    opts.type = ev->type;
    opts.limit = (int)ev->k;
    opts.alpha = ev->alpha;
    opts.no_history = 1;
    if (len > LM_MAX_QUERY_BYTES) {
        /* Long queries (whole arguments, in some collections) are cut rather than failed. */
        size_t keep = lm__utf8_floor(text, len, LM_MAX_QUERY_BYTES);
        if ((cut = strndup(text, keep)) == NULL) {
            status = cli_oom();
            goto out;
        }
        text = cut;
        if (measure)
            ev->truncated++;
    }
    t0 = now_s();
    rc = lm_search(&res, ev->mem, ev->owner, text, &opts);
    t1 = now_s();
    if (rc == LM_EINVAL && strcmp(lm_error_last()->field, "query") == 0) {
        if (measure && ev->failed_queries++ < EVAL_MAX_REPORTED) {
            cli_msg("query \"%s\" scores 0: %s", qq->query_id, lm_error_last()->message);
        }
        status = -1;
        goto out;
    }
    if (rc < 0) {
        status = cli_fail_lm(rc, NULL);
        goto out;
    }
    if (!measure) {
        status = 0;
        goto out;
    }
    ev->wall_ms[ev->n_timed] = (t1 - t0) * 1e3;
    ev->search_ms[ev->n_timed] = lm_results_elapsed_ms(res);
    ev->n_timed++;

    n = lm_results_count(res);
    ids = calloc(n ? n : 1, sizeof(*ids));
    scores = calloc(n ? n : 1, sizeof(*scores));
    if (ids == NULL || scores == NULL) {
        status = cli_oom();
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
    before = ev->run.n;
    if (cli_run_add_ranked(&ev->run, qq->query_id, ids, scores, n, (size_t)ev->depth) < 0) {
        status = cli_oom();
        goto out;
    }
    /* Fewer documents than asked for while the search hit its limit: more chunks would have
       brought more documents, and Recall@100 is measured on a short list. */
    if (n == (size_t)ev->k && ev->run.n - before < (size_t)ev->depth)
        ev->short_queries++;
    status = 0;
out:
    free(ids);
    free(scores);
    free(cut);
    lm_results_free(res);
    return status;
}

static int search_all(eval_run *ev)
{
    size_t total = ev->qrels.n - ev->missing, done = 0;
    int status;

    ev->wall_ms = calloc(total ? total : 1, sizeof(*ev->wall_ms));
    ev->search_ms = calloc(total ? total : 1, sizeof(*ev->search_ms));
    if (ev->wall_ms == NULL || ev->search_ms == NULL)
        return cli_oom();
    /* Warm-up: first searches pay for cold caches and fresh connections; keep them out of the
       latency figures when asked to. */
    for (size_t i = 0, w = 0; i < ev->qrels.n && w < (size_t)ev->warmup; i++) {
        if (ev->texts[i] == NULL)
            continue;
        if ((status = search_one(ev, i, 0)) > 0)
            return status;
        w++;
    }
    for (size_t i = 0; i < ev->qrels.n; i++) {
        if (ev->texts[i] == NULL)
            continue;
        if ((status = search_one(ev, i, 1)) > 0)
            return status;
        if (++done % 10 == 0)
            progress(ev, "searching", done, total);
    }
    cli_status_clear();
    if (ev->failed_queries > EVAL_MAX_REPORTED)
        cli_msg("%zu more queries score 0", ev->failed_queries - EVAL_MAX_REPORTED);
    return 0;
}

/* Write the sorted run in qrels order (queries without judgments follow). */
static int write_run(eval_run *ev)
{
    FILE *f = fopen(ev->run_path, "w");
    const char *tag = ev->tag;
    char deftag[64];

    if (f == NULL) {
        cli_msg("could not open file \"%s\": %s", ev->run_path, strerror(errno));
        return CLI_EXIT_ERROR;
    }
    if (tag == NULL) {
        snprintf(deftag, sizeof(deftag), "llmemory-%s", lm_search_type_name(ev->type));
        tag = deftag;
    }
    for (size_t i = 0; i < ev->qrels.n; i++) {
        size_t first, n = cli_run_range(&ev->run, ev->qrels.q[i].query_id, &first);
        for (size_t j = 0; j < n; j++) {
            const cli_run_entry *e = &ev->run.v[first + j];
            fprintf(f, "%s Q0 %s %zu %.9g %s\n", e->query_id, e->doc_id, j + 1, e->score, tag);
        }
    }
    if (fclose(f) != 0) {
        cli_msg("could not write file \"%s\": %s", ev->run_path, strerror(errno));
        return CLI_EXIT_ERROR;
    }
    return 0;
}

static json_t *json_latency(const cli_latency *l)
{
    json_t *o = json_object();
    int bad = o == NULL;
    bad |= cli_jset(o, "p50", cli_jreal(l->p50));
    bad |= cli_jset(o, "p95", cli_jreal(l->p95));
    bad |= cli_jset(o, "p99", cli_jreal(l->p99));
    bad |= cli_jset(o, "mean", cli_jreal(l->mean));
    bad |= cli_jset(o, "max", cli_jreal(l->max));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int report(eval_run *ev, const cli_eval_summary *s)
{
    cli_latency wall, srv;
    const char *type = lm_search_type_name(ev->type);

    cli_latency_summarize(&wall, ev->wall_ms, ev->n_timed);
    cli_latency_summarize(&srv, ev->search_ms, ev->n_timed);
    if (ev->json) {
        json_t *o = json_object();
        int bad = o == NULL;
        bad |= cli_jset(o, "dataset", cli_jstr(ev->dir));
        bad |= cli_jset(o, "split", cli_jstr(ev->split));
        if (ev->score_path != NULL) {
            bad |= cli_jset(o, "run", cli_jstr(ev->score_path));
        } else {
            bad |= cli_jset(o, "owner_id", cli_jstr(ev->owner));
            bad |= cli_jset(o, "type", cli_jstr(type));
            bad |= cli_jset(o, "k", json_integer(ev->k));
            bad |= cli_jset(o, "depth", json_integer(ev->depth));
            bad |= cli_jset(o, "queries_short", json_integer((json_int_t)ev->short_queries));
            bad |= cli_jset(o, "queries_rejected", json_integer((json_int_t)ev->failed_queries));
            bad |= cli_jset(o, "queries_truncated", json_integer((json_int_t)ev->truncated));
            bad |= cli_jset(o, "bm25_k1", ev->k1 > 0 ? cli_jreal(ev->k1) : json_null());
            bad |= cli_jset(o, "bm25_b", ev->b > 0 ? cli_jreal(ev->b) : json_null());
            bad |= cli_jset(o, "alpha", ev->alpha >= 0 ? cli_jreal(ev->alpha) : json_null());
            if (ev->ingested) {
                json_t *in = json_object();
                bad |= in == NULL;
                bad |= cli_jset(in, "documents", json_integer((json_int_t)ev->docs_added));
                bad |= cli_jset(in, "skipped", json_integer((json_int_t)ev->docs_failed));
                bad |= cli_jset(in, "chunks", json_integer((json_int_t)ev->chunks));
                bad |= cli_jset(in, "seconds", cli_jreal(ev->ingest_s));
                bad |= cli_jset(o, "ingest", in);
            }
        }
        bad |= cli_jset(o, "queries", json_integer((json_int_t)s->queries));
        bad |= cli_jset(o, "queries_no_hits", json_integer((json_int_t)s->no_hits));
        bad |= cli_jset(o, "queries_unjudged", json_integer((json_int_t)s->unjudged));
        bad |= cli_jset(o, "ndcg_at_10", cli_jreal(s->ndcg10));
        bad |= cli_jset(o, "recall_at_100", cli_jreal(s->recall100));
        bad |= cli_jset(o, "mrr_at_10", cli_jreal(s->mrr10));
        if (ev->score_path == NULL) {
            bad |= cli_jset(o, "latency_ms", json_latency(&wall));
            bad |= cli_jset(o, "search_ms", json_latency(&srv));
        }
        if (bad) {
            json_decref(o);
            return cli_oom();
        }
        return cli_json_print(o);
    }
    printf("dataset      %s (split %s, %zu judged queries)\n", ev->dir, ev->split, s->queries);
    if (ev->score_path != NULL) {
        printf("run          %s\n", ev->score_path);
    } else {
        if (ev->ingested)
            printf("ingested     %zu documents, %zu chunks in %.1f s (%zu skipped)\n",
                   ev->docs_added, ev->chunks, ev->ingest_s, ev->docs_failed);
        printf("search       owner \"%s\", type %s, %ld chunks -> %ld documents per query",
               ev->owner, type, ev->k, ev->depth);
        if (ev->k1 > 0 || ev->b > 0) {
            printf(", BM25");
            if (ev->k1 > 0)
                printf(" k1 %g", ev->k1);
            if (ev->b > 0)
                printf(" b %g", ev->b);
        }
        printf("\n");
    }
    printf("nDCG@10      %.4f\n", s->ndcg10);
    printf("Recall@100   %.4f\n", s->recall100);
    printf("MRR@10       %.4f\n", s->mrr10);
    printf("no results   %zu of %zu queries\n", s->no_hits, s->queries);
    if (s->unjudged > 0)
        printf("unjudged     %zu queries of the run have no judgments (ignored)\n", s->unjudged);
    if (ev->score_path == NULL) {
        printf("latency ms   p50 %.2f  p95 %.2f  p99 %.2f  mean %.2f  max %.2f  (search call)\n",
               wall.p50, wall.p95, wall.p99, wall.mean, wall.max);
        printf("search ms    p50 %.2f  p95 %.2f  p99 %.2f  mean %.2f  max %.2f  (library, SQL)\n",
               srv.p50, srv.p95, srv.p99, srv.mean, srv.max);
        if (ev->short_queries > 0)
            printf("short        %zu queries got fewer than %ld documents from %ld chunks (raise "
                   "--k)\n",
                   ev->short_queries, ev->depth, ev->k);
        if (ev->failed_queries > 0)
            printf("rejected     %zu queries the library refused (they score 0)\n",
                   ev->failed_queries);
        if (ev->truncated > 0)
            printf("truncated    %zu queries cut to %d bytes\n", ev->truncated, LM_MAX_QUERY_BYTES);
    }
    if (ev->run_path != NULL)
        printf("run file     %s\n", ev->run_path);
    return 0;
}

/* --score-run: no database. */
static int score_file(eval_run *ev)
{
    lm_buf raw = LM_BUF_INIT;
    cli_eval_summary s;
    char err[256];
    int status = CLI_EXIT_ERROR;

    if (cli_read_file(&raw, ev->score_path, err, sizeof(err)) < 0) {
        cli_msg("%s", err);
        goto out;
    }
    if (cli_run_parse(&ev->run, raw.ptr, raw.size, err, sizeof(err)) < 0) {
        cli_msg("could not read run \"%s\": %s", ev->score_path, err);
        goto out;
    }
    if (cli_eval_run(&s, NULL, &ev->qrels, &ev->run) < 0) {
        status = cli_oom();
        goto out;
    }
    status = report(ev, &s);
out:
    lm_buf_dispose(&raw);
    return status;
}

static int open_memory(eval_run *ev)
{
    lm_memory_opts o;
    int rc;

    lm_memory_opts_init(&o, LM_MEMORY_OPTS_VERSION);
    o.database_url = ev->ctx->database_url;
    o.home = ev->ctx->home;
    o.schema = ev->ctx->schema;
    o.disable_history = 1;
    o.bm25_k1 = ev->k1;
    o.bm25_b = ev->b;
    o.max_limit = ev->k > LM_MAX_SEARCH_LIMIT ? (int)ev->k : 0;
    o.log_fn = cli_log;
    o.log_payload = NULL;
    o.log_level = ev->ctx->verbose >= 2   ? LM_LOG_DEBUG
                  : ev->ctx->verbose == 1 ? LM_LOG_INFO
                                          : LM_LOG_WARN;
    if ((rc = lm_memory_open(&ev->mem, &o)) < 0)
        return cli_fail_lm(rc, NULL);
    return 0;
}

int cli_cmd_eval(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {{"owner", required_argument, NULL, 'o'},
                                             {"split", required_argument, NULL, OPT_SPLIT},
                                             {"type", required_argument, NULL, OPT_TYPE},
                                             {"k", required_argument, NULL, 'k'},
                                             {"depth", required_argument, NULL, OPT_DEPTH},
                                             {"bm25-k1", required_argument, NULL, OPT_BM25_K1},
                                             {"bm25-b", required_argument, NULL, OPT_BM25_B},
                                             {"alpha", required_argument, NULL, OPT_ALPHA},
                                             {"warmup", required_argument, NULL, OPT_WARMUP},
                                             {"run", required_argument, NULL, OPT_RUN},
                                             {"tag", required_argument, NULL, OPT_TAG},
                                             {"no-ingest", no_argument, NULL, OPT_NO_INGEST},
                                             {"keep", no_argument, NULL, OPT_KEEP},
                                             {"score-run", required_argument, NULL, OPT_SCORE_RUN},
                                             {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
                                             {"json", no_argument, NULL, OPT_JSON},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    eval_run ev;
    cli_eval_summary s;
    int c, rc, no_progress = 0, status = CLI_EXIT_USAGE;

    memset(&ev, 0, sizeof(ev));
    ev.ctx = ctx;
    ev.owner = "eval";
    ev.split = "test";
    ev.type = LM_SEARCH_TEXT;
    ev.depth = 100;
    ev.alpha = -1;

    while ((c = cli_getopt(ctx, argc, argv, ":o:k:h", longopts)) != -1) {
        switch (c) {
        case 'o':
            ev.owner = optarg;
            break;
        case OPT_SPLIT:
            /* The split names a file under qrels/: keep it a plain name. */
            if (optarg[0] == '\0' || strchr(optarg, '/') != NULL || strcmp(optarg, "..") == 0) {
                status = cli_usage(ctx, "invalid split \"%s\"", optarg);
                goto out;
            }
            ev.split = optarg;
            break;
        case OPT_TYPE:
            if (lm_search_type_parse(&ev.type, optarg) < 0) {
                status =
                    cli_usage(ctx, "invalid search type \"%s\" (text, vector or hybrid)", optarg);
                goto out;
            }
            break;
        case 'k':
            if ((status = cli_parse_long(ctx, "--k", optarg, 1, 1000, &ev.k)) != 0)
                goto out;
            break;
        case OPT_DEPTH:
            if ((status = cli_parse_long(ctx, "--depth", optarg, 1, 1000, &ev.depth)) != 0)
                goto out;
            break;
        case OPT_BM25_K1:
            if ((status = parse_double(ctx, "--bm25-k1", optarg, 10, &ev.k1)) != 0)
                goto out;
            break;
        case OPT_BM25_B:
            if ((status = parse_double(ctx, "--bm25-b", optarg, 1, &ev.b)) != 0)
                goto out;
            break;
        case OPT_ALPHA: {
            char *end = NULL;
            ev.alpha = strtod(optarg, &end);
            if (end == optarg || *end != '\0' || !(ev.alpha >= 0 && ev.alpha <= 1)) {
                status = cli_usage(ctx, "invalid --alpha \"%s\" (a number from 0 to 1)", optarg);
                goto out;
            }
            break;
        }
        case OPT_WARMUP:
            if ((status = cli_parse_long(ctx, "--warmup", optarg, 0, 100000, &ev.warmup)) != 0)
                goto out;
            break;
        case OPT_RUN:
            ev.run_path = optarg;
            break;
        case OPT_TAG:
            if (optarg[0] == '\0' || strpbrk(optarg, " \t\n") != NULL) {
                status = cli_usage(ctx, "invalid run tag \"%s\" (no spaces)", optarg);
                goto out;
            }
            ev.tag = optarg;
            break;
        case OPT_NO_INGEST:
            ev.no_ingest = 1;
            break;
        case OPT_KEEP:
            ev.keep = 1;
            break;
        case OPT_SCORE_RUN:
            ev.score_path = optarg;
            break;
        case OPT_NO_PROGRESS:
            no_progress = 1;
            break;
        case OPT_JSON:
            ev.json = 1;
            break;
        case 'h':
            status = cli_help(help);
            goto out;
        default:
            status = CLI_EXIT_USAGE;
            goto out;
        }
    }
    if (optind >= argc) {
        status = cli_usage(ctx, "no dataset directory given");
        goto out;
    }
    if (optind + 1 < argc) {
        status = cli_usage(ctx, "too many arguments");
        goto out;
    }
    ev.dir = argv[optind];
    if (ev.k == 0)
        ev.k = ev.depth * 3 < 1000 ? ev.depth * 3 : 1000;
    ev.progress = !no_progress && isatty(STDERR_FILENO);
    if (ev.score_path != NULL && ev.run_path != NULL) {
        status = cli_usage(ctx, "options \"--score-run\" and \"--run\" cannot be combined");
        goto out;
    }

    if ((status = load_qrels(&ev)) != 0)
        goto out;
    if (ev.score_path != NULL) {
        status = score_file(&ev);
        goto out;
    }
    if ((status = load_queries(&ev)) != 0)
        goto out;
    if ((status = open_memory(&ev)) != 0)
        goto out;
    if (ev.no_ingest) {
        lm_stats st;
        if ((rc = lm_stats_get(&st, ev.mem, ev.owner)) < 0) {
            status = cli_fail_lm(rc, NULL);
            goto out;
        }
        if (st.document_count == 0) {
            cli_msg("owner \"%s\" has no documents", ev.owner);
            cli_hint("Run without --no-ingest (and with --keep) first.");
            status = CLI_EXIT_ERROR;
            goto out;
        }
    } else if ((status = ingest(&ev)) != 0) {
        goto out;
    }
    if ((status = search_all(&ev)) != 0)
        goto out;
    if (cli_eval_run(&s, NULL, &ev.qrels, &ev.run) < 0) {
        status = cli_oom();
        goto out;
    }
    if (ev.run_path != NULL && (status = write_run(&ev)) != 0)
        goto out;
    status = report(&ev, &s);
out:
    /* The owner goes only when this run filled it, whatever happened after. */
    if (ev.mem != NULL && ev.ingested && !ev.keep) {
        rc = lm_tenant_erase(NULL, ev.mem, ev.owner);
        if (rc < 0 && status == 0)
            status = cli_fail_lm(rc, "could not erase the evaluation owner");
    }
    lm_memory_close(ev.mem);
    if (ev.texts != NULL)
        for (size_t i = 0; i < ev.qrels.n; i++)
            free(ev.texts[i]);
    free(ev.texts);
    free(ev.wall_ms);
    free(ev.search_ms);
    cli_run_dispose(&ev.run);
    cli_qrels_dispose(&ev.qrels);
    return status;
}
