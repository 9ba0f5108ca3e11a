/*
 * cli/cmd_eval.c: `llmemory eval DATASET_DIR`: the command line of the library's evaluation
 * (llmemory/eval.h): parse the options, open the memory with the BM25 parameters asked for, run
 * lm_eval_dataset() (or score an existing run file) and print the results as text or JSON.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "cmd.h"

static const char about[] =
    "Measure search quality and latency on a test collection in BEIR layout: DATASET_DIR\n"
    "holds corpus.jsonl ({\"_id\", \"title\", \"text\"} per line), queries.jsonl ({\"_id\",\n"
    "\"text\"}) and qrels/SPLIT.tsv (query-id, corpus-id, score).\n"
    "\n"
    "The corpus is ingested into one owner (erased first): one text document per entry, its\n"
    "content the title and the text separated by a blank line, its id at origin the entry's\n"
    "_id. Every query judged in the split is searched once, as plain text by default (its\n"
    "words OR-ed; quotes and a leading \"-\" are not operators, as in the BEIR toolkits).\n"
    "Results are chunks: a document ranks where its best chunk ranks, with that chunk's\n"
    "score (its other chunks are dropped), and the first DEPTH documents are kept. Metrics\n"
    "follow trec_eval: nDCG@10 (gain = judged grade, discount log2(rank + 1), ideal DCG\n"
    "from all judged relevant documents), Recall@100 and MRR@10, averaged over all judged\n"
    "queries; a query with no results scores 0. Ties in score are ordered by document id,\n"
    "descending, as trec_eval does.\n"
    "Latency is the wall time of each search call; the library's own timing is shown too.\n";

typedef struct eval_run {
    cli_ctx *ctx;
    const char *dir;
    lm_eval_opts o;
    double k1, b;
    const char *run_path;
    const char *tag;
    const char *score_path;
    int progress, json;
    lm_memory *mem;
} eval_run;

/* --bm25-k1 and --bm25-b: a number greater than 0 and at most opt->max. */
static int opt_positive(cli_ctx *ctx, const cli_opt *opt, const char *arg)
{
    char *end = NULL;
    double v;

    errno = 0;
    v = strtod(arg, &end);
    if (arg[0] == '\0' || *end != '\0' || errno != 0 || !(v > 0) || v > (double)opt->max) {
        cli_msg("invalid value \"%s\" for option \"--%s\"", arg, opt->long_name);
        cli_detail("The value must be a number greater than 0 and at most %lld.", opt->max);
        cli_hint("Try \"llmemory %s --help\".", ctx->cmd != NULL ? ctx->cmd : "eval");
        return CLI_EXIT_USAGE;
    }
    *(double *)opt->dest = v;
    return 0;
}

/* --split: it names a file under qrels/, so a plain name. */
static int opt_split(cli_ctx *ctx, const cli_opt *opt, const char *arg)
{
    if (arg[0] == '\0' || strchr(arg, '/') != NULL || strcmp(arg, "..") == 0)
        return cli_usage(ctx, "invalid split \"%s\"", arg);
    *(const char **)opt->dest = arg;
    return 0;
}

/* --tag: one word of the run file. */
static int opt_tag(cli_ctx *ctx, const cli_opt *opt, const char *arg)
{
    if (arg[0] == '\0' || strpbrk(arg, " \t\n") != NULL)
        return cli_usage(ctx, "invalid run tag \"%s\" (no spaces)", arg);
    *(const char **)opt->dest = arg;
    return 0;
}

static void progress(const char *what, size_t done, size_t total, void *payload)
{
    enum { BAR = 20 };
    char line[128], bar[BAR + 1];
    size_t filled = total > 0 ? (done > total ? total : done) * BAR / total : 0;

    (void)payload;
    for (size_t i = 0; i < BAR; i++)
        bar[i] = i < filled ? '#' : ' ';
    bar[BAR] = '\0';
    if (total > 0)
        snprintf(line, sizeof(line), "%s [%s] %zu/%zu", what, bar, done, total);
    else
        snprintf(line, sizeof(line), "%s %zu", what, done);
    cli_status_line(line);
}

static void notice(const char *message, void *payload)
{
    (void)payload;
    cli_status_clear();
    cli_msg("%s", message);
}

static json_t *json_latency(const lm_eval_latency *l)
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

/* Print the results; @p r is NULL when only a run file was scored (@p s then holds its
   metrics). */
static int report(eval_run *ev, const lm_eval_result *r, const lm_eval_summary *s)
{
    const char *type = lm_search_type_name(ev->o.type);

    if (ev->json) {
        json_t *o = json_object();
        int bad = o == NULL;
        bad |= cli_jset(o, "dataset", cli_jstr(ev->dir));
        bad |= cli_jset(o, "split", cli_jstr(ev->o.split));
        if (r == NULL) {
            bad |= cli_jset(o, "run", cli_jstr(ev->score_path));
        } else {
            bad |= cli_jset(o, "owner_id", cli_jstr(ev->o.owner_id));
            bad |= cli_jset(o, "type", cli_jstr(type));
            bad |= cli_jset(o, "syntax", cli_jstr(lm_query_syntax_name(ev->o.syntax)));
            bad |= cli_jset(o, "k", json_integer(r->k));
            bad |= cli_jset(o, "depth", json_integer(r->depth));
            bad |= cli_jset(o, "queries_short", json_integer((json_int_t)r->queries_short));
            bad |= cli_jset(o, "queries_rejected", json_integer((json_int_t)r->queries_rejected));
            bad |= cli_jset(o, "queries_truncated", json_integer((json_int_t)r->queries_truncated));
            bad |= cli_jset(o, "bm25_k1", ev->k1 > 0 ? cli_jreal(ev->k1) : json_null());
            bad |= cli_jset(o, "bm25_b", ev->b > 0 ? cli_jreal(ev->b) : json_null());
            bad |= cli_jset(o, "alpha", ev->o.alpha >= 0 ? cli_jreal(ev->o.alpha) : json_null());
            if (r->ingested) {
                json_t *in = json_object();
                bad |= in == NULL;
                bad |= cli_jset(in, "documents", json_integer((json_int_t)r->docs_added));
                bad |= cli_jset(in, "skipped", json_integer((json_int_t)r->docs_skipped));
                bad |= cli_jset(in, "chunks", json_integer((json_int_t)r->chunks));
                bad |= cli_jset(in, "seconds", cli_jreal(r->ingest_s));
                bad |= cli_jset(o, "ingest", in);
            }
        }
        bad |= cli_jset(o, "queries", json_integer((json_int_t)s->queries));
        bad |= cli_jset(o, "queries_no_hits", json_integer((json_int_t)s->no_hits));
        bad |= cli_jset(o, "queries_unjudged", json_integer((json_int_t)s->unjudged));
        bad |= cli_jset(o, "ndcg_at_10", cli_jreal(s->ndcg10));
        bad |= cli_jset(o, "recall_at_100", cli_jreal(s->recall100));
        bad |= cli_jset(o, "mrr_at_10", cli_jreal(s->mrr10));
        if (r != NULL) {
            bad |= cli_jset(o, "latency_ms", json_latency(&r->latency));
            bad |= cli_jset(o, "search_ms", json_latency(&r->search_ms));
        }
        if (bad) {
            json_decref(o);
            return cli_oom();
        }
        return cli_json_print(o);
    }
    printf("dataset      %s (split %s, %zu judged queries)\n", ev->dir, ev->o.split, s->queries);
    if (r == NULL) {
        printf("run          %s\n", ev->score_path);
    } else {
        if (r->ingested)
            printf("ingested     %zu documents, %zu chunks in %.1f s (%zu skipped)\n",
                   r->docs_added, r->chunks, r->ingest_s, r->docs_skipped);
        printf("search       owner \"%s\", type %s, %s queries, %d chunks -> %d documents per "
               "query",
               ev->o.owner_id, type, lm_query_syntax_name(ev->o.syntax), r->k, r->depth);
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
    if (r != NULL) {
        const lm_eval_latency *wall = &r->latency, *srv = &r->search_ms;
        printf("latency ms   p50 %.2f  p95 %.2f  p99 %.2f  mean %.2f  max %.2f  (search call)\n",
               wall->p50, wall->p95, wall->p99, wall->mean, wall->max);
        printf("search ms    p50 %.2f  p95 %.2f  p99 %.2f  mean %.2f  max %.2f  (library, SQL)\n",
               srv->p50, srv->p95, srv->p99, srv->mean, srv->max);
        if (r->queries_short > 0)
            printf("short        %zu queries got fewer than %d documents from %d chunks (raise "
                   "--k)\n",
                   r->queries_short, r->depth, r->k);
        if (r->queries_rejected > 0)
            printf("rejected     %zu queries the library refused (they score 0)\n",
                   r->queries_rejected);
        if (r->queries_truncated > 0)
            printf("truncated    %zu queries cut to %d bytes\n", r->queries_truncated,
                   LM_MAX_QUERY_BYTES);
    }
    if (ev->run_path != NULL)
        printf("run file     %s\n", ev->run_path);
    return 0;
}

/* An error of the evaluation: the message, and exit status 1 for a problem with the collection
   or the run file (as for any file the CLI reads); the library's mapping otherwise. */
static int eval_failed(int rc)
{
    int status = cli_fail_lm(rc, NULL);
    return rc == LM_EIO || rc == LM_EPARSE || rc == LM_ENOTFOUND ? CLI_EXIT_ERROR : status;
}

/* --score-run: no database. */
static int score_file(eval_run *ev)
{
    lm_buf raw = LM_BUF_INIT, path = LM_BUF_INIT;
    lm_eval_qrels qrels = {0};
    lm_eval_run run = {0};
    lm_eval_summary s;
    char err[256];
    int rc, status = CLI_EXIT_ERROR;

    /* The judgments first, as the runner reads them (qrels/SPLIT.tsv). */
    lm__buf_printf(&path, "%s/qrels/%s.tsv", ev->dir, ev->o.split);
    if (lm__buf_oom(&path)) {
        status = cli_oom();
        goto out;
    }
    if (cli_read_file(&raw, path.ptr, err, sizeof(err)) < 0) {
        cli_msg("%s", err);
        if (errno == ENOENT)
            cli_hint("DATASET_DIR must hold qrels/%s.tsv (see --split).", ev->o.split);
        goto out;
    }
    if ((rc = lm_eval_qrels_parse(&qrels, raw.ptr, raw.size)) < 0) {
        if (rc == LM_ENOMEM) {
            status = cli_oom();
            goto out;
        }
        cli_msg("could not read judgments \"%s\": %s", path.ptr, lm_error_last()->message);
        goto out;
    }
    lm_buf_dispose(&raw); /* cli_read_file appends */
    if (cli_read_file(&raw, ev->score_path, err, sizeof(err)) < 0) {
        cli_msg("%s", err);
        goto out;
    }
    if ((rc = lm_eval_run_parse(&run, raw.ptr, raw.size)) < 0) {
        if (rc == LM_ENOMEM) {
            status = cli_oom();
            goto out;
        }
        cli_msg("could not read run \"%s\": %s", ev->score_path, lm_error_last()->message);
        goto out;
    }
    if (lm_eval_score_run(&s, NULL, &qrels, &run) < 0) {
        status = cli_oom();
        goto out;
    }
    status = report(ev, NULL, &s);
out:
    lm_buf_dispose(&raw);
    lm_buf_dispose(&path);
    lm_eval_run_dispose(&run);
    lm_eval_qrels_dispose(&qrels);
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
    o.max_limit = ev->o.k > LM_MAX_SEARCH_LIMIT ? ev->o.k : 0;
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
    eval_run ev;
    lm_eval_result *res = NULL;
    int rc, nargs, no_progress = 0, status = CLI_EXIT_USAGE;

    memset(&ev, 0, sizeof(ev));
    ev.ctx = ctx;
    lm_eval_opts_init(&ev.o, LM_EVAL_OPTS_VERSION);
    ev.o.owner_id = "eval";
    ev.o.split = "test";
    ev.o.depth = 100;

    const cli_opt table[] = {
        CLI_OWNER(&ev.o.owner_id, "owner (tenant) to ingest into and search; default \"eval\""),
        CLI_CALL(0, "split", "NAME", &ev.o.split, NULL, opt_split,
                 "qrels split: qrels/NAME.tsv (default test)"),
        CLI_CALL(0, "type", "TYPE", &ev.o.type, NULL, cli_opt_search_type,
                 "search type: text (default), vector or hybrid"),
        CLI_CALL(0, "syntax", "KIND", &ev.o.syntax, NULL, cli_opt_syntax,
                 "how queries are read: plain (default: words OR-ed, no\n"
                 "operators) or web (\"phrases\", -exclusions, as search does)"),
        CLI_INT(0, "depth", "N", &ev.o.depth, 1, 1000, "documents kept per query, 1-1000 (default 100)"),
        CLI_INT('k', "k", "N", &ev.o.k, 1, 1000,
                "chunks retrieved per query (the search limit), 1-1000; default\n"
                "three times the depth, at most 1000 (a document may have\n"
                "several chunks, so DEPTH chunks would hold fewer documents)"),
        {.kind = CLI_OPT_CALL, .long_name = "bm25-k1", .argname = "X", .dest = &ev.k1, .max = 10,
         .fn = opt_positive, .help = "BM25 k1, in (0, 10] (default: the library's)"},
        {.kind = CLI_OPT_CALL, .long_name = "bm25-b", .argname = "X", .dest = &ev.b, .max = 1,
         .fn = opt_positive, .help = "BM25 b, in (0, 1] (default: the library's)"},
        CLI_CALL(0, "alpha", "A", &ev.o.alpha, NULL, cli_opt_fraction,
                 "hybrid weight of the vector leg, 0..1 (default: the library's)"),
        CLI_INT(0, "warmup", "N", &ev.o.warmup, 0, 100000,
                "search the first N queries once, untimed and unscored, before\n"
                "the measured pass (default 0)"),
        CLI_STRING(0, "run", "FILE", &ev.run_path,
                   "write the ranking as a TREC run (qid Q0 docid rank score tag)"),
        CLI_CALL(0, "tag", "TAG", &ev.tag, NULL, opt_tag, "run tag (default llmemory-TYPE)"),
        CLI_FLAG(0, "no-ingest", &ev.o.no_ingest,
                 "search the owner's documents as they are (ingested earlier\n"
                 "with --keep); the owner is then never erased"),
        CLI_FLAG(0, "keep", &ev.o.keep, "do not erase the owner at the end"),
        CLI_STRING(0, "score-run", "FILE", &ev.score_path,
                   "only score an existing TREC run against the qrels (no database;\n"
                   "a document listed twice keeps its best score, ties are ordered\n"
                   "by document id as trec_eval does)"),
        CLI_FLAG(0, "no-progress", &no_progress, "do not draw the progress line"),
        CLI_JSON(&ev.json, "print the results as JSON"),
        CLI_END};
    const cli_spec spec = {.usage = "llmemory eval [OPTION]... DATASET_DIR",
                           .about = about,
                           .opts = table,
                           .missing = "no dataset directory given",
                           .min_args = 1,
                           .max_args = 1};

    if ((status = cli_parse(ctx, &spec, argc, argv, &nargs)) != CLI_PARSED)
        goto out;
    ev.dir = argv[0];
    if (ev.o.k == 0)
        ev.o.k = ev.o.depth * 3 < 1000 ? ev.o.depth * 3 : 1000;
    ev.progress = !no_progress && isatty(STDERR_FILENO);
    ev.o.progress = ev.progress ? progress : NULL;
    ev.o.notice = notice;
    if (ev.score_path != NULL && ev.run_path != NULL) {
        status = cli_usage(ctx, "options \"--score-run\" and \"--run\" cannot be combined");
        goto out;
    }
    if (ev.score_path != NULL) {
        status = score_file(&ev);
        goto out;
    }
    if ((status = open_memory(&ev)) != 0)
        goto out;
    rc = lm_eval_dataset(&res, ev.mem, ev.dir, &ev.o);
    cli_status_clear();
    if (rc < 0) {
        status = eval_failed(rc);
        goto out;
    }
    if (ev.run_path != NULL) {
        char deftag[64];
        snprintf(deftag, sizeof(deftag), "llmemory-%s", lm_search_type_name(ev.o.type));
        if ((rc = lm_eval_run_write(&res->run, &res->qrels, ev.run_path,
                                    ev.tag != NULL ? ev.tag : deftag)) < 0) {
            status = eval_failed(rc);
            goto out;
        }
    }
    status = report(&ev, res, &res->summary);
out:
    lm_eval_result_free(res);
    lm_memory_close(ev.mem);
    return status;
}
