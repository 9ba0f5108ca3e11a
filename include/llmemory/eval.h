/*
 * llmemory/eval.h: measuring search quality on a test collection, as `llmemory eval` does.
 *
 * Two halves. The scoring half is pure (no I/O, no database): relevance judgments (qrels), TREC
 * runs, the metrics nDCG@10, Recall@100 and MRR@10 with trec_eval's semantics, and latency
 * percentiles. The dataset runner (lm_eval_dataset) reads a collection in BEIR layout, ingests
 * its corpus into one owner, searches every judged query and scores the ranking.
 *
 * Errors: LM_EPARSE (with the line in lm_error_last()->message), LM_ENOMEM, and for the runner
 * LM_EIO and whatever the memory's calls return. Threads: the functions share no state; one run
 * uses its memory like any other caller.
 */
#ifndef LLMEMORY_EVAL_H
#define LLMEMORY_EVAL_H

#include <stddef.h>

#include "common.h"
#include "search.h"
#include "store.h"

LM_BEGIN_DECL

/* Metric cut-offs. Changing them changes what the printed names mean. */
#define LM_EVAL_NDCG_DEPTH   10
#define LM_EVAL_RECALL_DEPTH 100
#define LM_EVAL_MRR_DEPTH    10

/* One judgment: a document judged for a query and its grade (> 0: relevant; the grade is the
   nDCG gain). */
typedef struct lm_eval_judgment {
    char *doc_id;
    int rel;
} lm_eval_judgment;

/* A judged query and its judgments, sorted by document id (strcmp), each document once. */
typedef struct lm_eval_qrel_query {
    char *query_id;
    lm_eval_judgment *docs;
    size_t n;
    size_t n_rel; /* judgments with rel > 0 */
} lm_eval_qrel_query;

/* All judgments of a split, queries in order of first appearance. */
typedef struct lm_eval_qrels {
    lm_eval_qrel_query *q;
    size_t n;
    size_t *by_id; /* indexes into q, in query_id order (strcmp) */
} lm_eval_qrels;

/*
 * Parse qrels text: BEIR's "query-id<TAB>corpus-id<TAB>score" (a first line whose score is not a
 * number is a header and skipped) or TREC's "qid iteration docid rel". Fields are separated by
 * tabs or spaces; blank lines are skipped; a repeated (query, document) pair keeps its last grade.
 * Returns 0; LM_EPARSE with a message naming the line (lm_error_last()); LM_ENOMEM.
 */
LM_EXTERN int lm_eval_qrels_parse(lm_eval_qrels *out, const char *text, size_t len);
LM_EXTERN void lm_eval_qrels_dispose(lm_eval_qrels *qrels);
/* Index of the judged query @p query_id in qrels->q, or -1. */
LM_EXTERN long lm_eval_qrels_find(const lm_eval_qrels *qrels, const char *query_id);
/* Grade of @p doc_id for @p q; 0 when it is not judged. */
LM_EXTERN int lm_eval_qrel_grade(const lm_eval_qrel_query *q, const char *doc_id);

/* One line of a TREC run: a retrieved document and its score. */
typedef struct lm_eval_run_entry {
    char *query_id;
    char *doc_id;
    double score;
} lm_eval_run_entry;

/* A run: the retrieved documents of every query, in any order (lm_eval_run_sort orders them). */
typedef struct lm_eval_run {
    lm_eval_run_entry *v;
    size_t n, cap;
} lm_eval_run;

/* Append one entry (strings are copied). 0 or LM_ENOMEM. */
LM_EXTERN int lm_eval_run_add(lm_eval_run *run, const char *query_id, const char *doc_id, double score);
/*
 * Append one query's ranked hits as documents: the hits are in rank order and several may come
 * from the same document (chunks); a document takes the score of its first, that is best, hit,
 * and at most @p max_docs documents are kept. 0 or LM_ENOMEM.
 */
LM_EXTERN int lm_eval_run_add_ranked(lm_eval_run *run,
                       const char *query_id,
                       const char *const *doc_ids,
                       const double *scores,
                       size_t n,
                       size_t max_docs);
/* Parse a TREC run ("qid Q0 docid rank score tag"; rank and tag are read and ignored, as
   trec_eval does). 0; LM_EPARSE with a message naming the line (lm_error_last()); LM_ENOMEM. */
LM_EXTERN int lm_eval_run_parse(lm_eval_run *out, const char *text, size_t len);
/*
 * Order the run as trec_eval ranks it: by query id, then score descending, ties broken by
 * document id descending; a document listed twice for one query keeps only its best score.
 * 0 or LM_ENOMEM.
 */
LM_EXTERN int lm_eval_run_sort(lm_eval_run *run);
/* The range [*first, *first + return) of the sorted @p run that belongs to @p query_id. */
LM_EXTERN size_t lm_eval_run_range(const lm_eval_run *run, const char *query_id, size_t *first);
LM_EXTERN void lm_eval_run_dispose(lm_eval_run *run);

/* Metrics of one query. */
typedef struct lm_eval_scores {
    double ndcg10;
    double recall100;
    double mrr10;
    size_t retrieved; /* documents in the ranking */
} lm_eval_scores;

/*
 * Score one ranking (document ids, best first, no duplicates) against query @p q, as trec_eval
 * does: nDCG@10 with gain = grade and discount log2(rank + 1), the ideal DCG taken from all
 * judged documents with grade > 0; Recall@100 = relevant retrieved in the top 100 / all relevant;
 * MRR@10 = 1 / rank of the first relevant document in the top 10, else 0. A query without
 * relevant judgments, or with an empty ranking, scores 0.
 */
LM_EXTERN void lm_eval_query(lm_eval_scores *out,
                    const lm_eval_qrel_query *q,
                    const char *const *ranking,
                    size_t n);

/* Averages over the judged queries. */
typedef struct lm_eval_summary {
    size_t queries;  /* judged queries: every one counts, retrieved or not */
    size_t no_hits;  /* judged queries the run retrieved nothing for */
    size_t unjudged; /* queries of the run that have no judgments (ignored) */
    double ndcg10, recall100, mrr10;
} lm_eval_summary;

/*
 * Evaluate @p run (sorted with lm_eval_run_sort() first, which this does) against @p qrels:
 * every judged query counts, one without results scoring 0 (trec_eval -c). @p per_query, when not
 * NULL, receives qrels->n scores in qrels order. 0 or LM_ENOMEM.
 */
LM_EXTERN int lm_eval_score_run(lm_eval_summary *out,
                 lm_eval_scores *per_query,
                 const lm_eval_qrels *qrels,
                 lm_eval_run *run);

/* Latency distribution in milliseconds. */
typedef struct lm_eval_latency {
    size_t n;
    double mean, p50, p95, p99, max;
} lm_eval_latency;

/* Summarise @p n samples (sorted in place). Percentiles interpolate linearly between the
   closest ranks (numpy's default). All zero when @p n is 0. */
LM_EXTERN void lm_eval_latency_summarize(lm_eval_latency *out, double *ms, size_t n);

/*
 * A corpus entry as a document: content "title\n\ntext" (one of them alone when the other is
 * empty); name the title cut to LM_MAX_DOC_NAME_BYTES at a character boundary, or @p id when the
 * title is empty. @return 0 or LM_ENOMEM.
 */
LM_EXTERN int lm_eval_doc(
    lm_buf *content, lm_buf *name, const char *id, const char *title, const char *text);

/* ==== the dataset runner ===================================================================== */

/* Progress of a run: @p phase is "ingesting" or "searching"; @p total is 0 when unknown. */
typedef void (*lm_eval_progress_cb)(const char *phase, size_t done, size_t total, void *payload);
/* A remark about one item that does not stop the run (a corpus entry skipped, a query rejected
   or missing): one line, without a trailing newline. */
typedef void (*lm_eval_notice_cb)(const char *message, void *payload);

/** Options of lm_eval_dataset(). Initialise with lm_eval_opts_init() or LM_EVAL_OPTS_INIT. */
typedef struct lm_eval_opts {
    unsigned int version;
    const char *owner_id;  /* owner to ingest into and search; NULL: "eval" */
    const char *split;     /* qrels/SPLIT.tsv; NULL: "test" */
    lm_search_type type;   /* default LM_SEARCH_TEXT */
    int k;                 /* chunks per search (the search limit); 0: 3 * depth, at most 1000;
                              above 100 the memory must allow it (lm_memory_opts.max_limit) */
    int depth;             /* documents kept per query, 1..1000; 0: 100 */
    int warmup;            /* queries searched once, untimed and unscored, first */
    double alpha;          /* hybrid weight of the vector leg; < 0: the search default for the
                              memory's embedder (see lm_search_opts.alpha) */
    int no_ingest;         /* 1: search the owner as it is (ingested earlier with keep) */
    int keep;              /* 1: do not erase the owner at the end */
    lm_query_syntax syntax; /* how queries are read; default LM_QUERY_PLAIN: test collections
                              hold natural-language text, as the BEIR toolkits read it */
    lm_eval_progress_cb progress;
    lm_eval_notice_cb notice;
    void *payload;         /* passed to progress and notice */
} lm_eval_opts;

#define LM_EVAL_OPTS_VERSION 1
#define LM_EVAL_OPTS_INIT                                                                          \
    {LM_EVAL_OPTS_VERSION, NULL, NULL, LM_SEARCH_TEXT, 0, 0, 0, -1.0, 0, 0, LM_QUERY_PLAIN,      \
     NULL, NULL, NULL}
/** Initialise @p opts to defaults. @return 0, or LM_EINVAL for an unsupported @p version. */
LM_EXTERN int lm_eval_opts_init(lm_eval_opts *opts, unsigned int version);

/** What a run measured. Release with lm_eval_result_free(). */
typedef struct lm_eval_result {
    lm_eval_summary summary;   /* the metrics, averaged over the judged queries */
    lm_eval_qrels qrels;       /* the split's judgments */
    lm_eval_run run;           /* the ranking, sorted as trec_eval orders it */
    lm_eval_latency latency;   /* wall time of each search call, ms */
    lm_eval_latency search_ms; /* the library's own timing of each search, ms */
    int k, depth;              /* as used (defaults resolved) */
    size_t queries_missing;    /* judged queries without a text in queries.jsonl (score 0) */
    size_t queries_truncated;  /* queries cut to LM_MAX_QUERY_BYTES */
    size_t queries_rejected;   /* queries the library refused (score 0) */
    size_t queries_short;      /* queries whose k chunks held fewer than depth documents */
    int ingested;              /* 1: the corpus was ingested by this run */
    size_t docs_added, docs_skipped, chunks;
    double ingest_s;
} lm_eval_result;

/**
 * Evaluate search on the collection in @p dir (BEIR layout: corpus.jsonl with {"_id", "title",
 * "text"} per line, queries.jsonl with {"_id", "text"}, qrels/SPLIT.tsv). Unless no_ingest, the
 * owner is erased and one text document per corpus entry is added (content "title\n\ntext", id
 * at origin the entry's _id; an entry the library refuses is skipped and counted). Every judged
 * query is searched once; a document ranks where its best chunk ranks and the first depth
 * documents are kept. Unless keep (or no_ingest), the owner is erased at the end, also when the
 * run fails after ingesting. @return 0; LM_EINVAL (options), LM_EIO / LM_EPARSE (files),
 * LM_ENOMEM, or what the memory's calls return. *out is NULL on error.
 */
LM_EXTERN int lm_eval_dataset(lm_eval_result **out,
                              lm_memory *mem,
                              const char *dir,
                              const lm_eval_opts *opts);
/** NULL-safe. */
LM_EXTERN void lm_eval_result_free(lm_eval_result *result);

/**
 * Write the sorted @p run as a TREC run file ("qid Q0 docid rank score tag"), queries in the
 * order of @p qrels; @p tag NULL: "llmemory". @return 0 or LM_EIO.
 */
LM_EXTERN int lm_eval_run_write(const lm_eval_run *run,
                                const lm_eval_qrels *qrels,
                                const char *path,
                                const char *tag);

LM_END_DECL

#endif
