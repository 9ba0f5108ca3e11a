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
    lm_eval_opts o;
    long k, depth, warmup;
    double k1, b;
    const char *run_path;
    const char *tag;
    const char *score_path;
    int progress, json;
    lm_memory *mem;
} eval_run;

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
        printf("search       owner \"%s\", type %s, %d chunks -> %d documents per query",
               ev->o.owner_id, type, r->k, r->depth);
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
    lm_eval_result *res = NULL;
    int c, rc, no_progress = 0, status = CLI_EXIT_USAGE;

    memset(&ev, 0, sizeof(ev));
    ev.ctx = ctx;
    lm_eval_opts_init(&ev.o, LM_EVAL_OPTS_VERSION);
    ev.o.owner_id = "eval";
    ev.o.split = "test";
    ev.depth = 100;

    while ((c = cli_getopt(ctx, argc, argv, ":o:k:h", longopts)) != -1) {
        switch (c) {
        case 'o':
            ev.o.owner_id = optarg;
            break;
        case OPT_SPLIT:
            /* The split names a file under qrels/: keep it a plain name. */
            if (optarg[0] == '\0' || strchr(optarg, '/') != NULL || strcmp(optarg, "..") == 0) {
                status = cli_usage(ctx, "invalid split \"%s\"", optarg);
                goto out;
            }
            ev.o.split = optarg;
            break;
        case OPT_TYPE:
            if (lm_search_type_parse(&ev.o.type, optarg) < 0) {
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
            ev.o.alpha = strtod(optarg, &end);
            if (end == optarg || *end != '\0' || !(ev.o.alpha >= 0 && ev.o.alpha <= 1)) {
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
            ev.o.no_ingest = 1;
            break;
        case OPT_KEEP:
            ev.o.keep = 1;
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
    ev.o.k = (int)ev.k;
    ev.o.depth = (int)ev.depth;
    ev.o.warmup = (int)ev.warmup;
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
