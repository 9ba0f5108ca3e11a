/*
 * cli/eval.h: the scoring half of `llmemory eval`: relevance judgments (qrels), TREC runs, the
 * metrics nDCG@10, Recall@100 and MRR@10 with trec_eval's semantics, and latency percentiles.
 * Everything here is pure (no I/O, no database), so tests/unit/cli/eval_test.c can check it
 * against hand-computed values; reading files and searching live in cmd_eval.c.
 */
#ifndef CLI_EVAL_H
#define CLI_EVAL_H

#include <stddef.h>

#include "llmemory.h"

/* Metric cut-offs. Changing them changes what the printed names mean. */
#define CLI_EVAL_NDCG_DEPTH   10
#define CLI_EVAL_RECALL_DEPTH 100
#define CLI_EVAL_MRR_DEPTH    10

/* One judgment: a document judged for a query and its grade (> 0: relevant; the grade is the
   nDCG gain). */
typedef struct cli_judgment {
    char *doc_id;
    int rel;
} cli_judgment;

/* A judged query and its judgments, sorted by document id (strcmp), each document once. */
typedef struct cli_qrel_query {
    char *query_id;
    cli_judgment *docs;
    size_t n;
    size_t n_rel; /* judgments with rel > 0 */
} cli_qrel_query;

/* All judgments of a split, queries in order of first appearance. */
typedef struct cli_qrels {
    cli_qrel_query *q;
    size_t n;
    size_t *by_id; /* indexes into q, in query_id order (strcmp) */
} cli_qrels;

/*
 * Parse qrels text: BEIR's "query-id<TAB>corpus-id<TAB>score" (a first line whose score is not a
 * number is a header and skipped) or TREC's "qid iteration docid rel". Fields are separated by
 * tabs or spaces; blank lines are skipped; a repeated (query, document) pair keeps its last grade.
 * Returns 0; LM_EPARSE with a message naming the line in @p err; LM_ENOMEM.
 */
int cli_qrels_parse(cli_qrels *out, const char *text, size_t len, char *err, size_t errlen);
void cli_qrels_dispose(cli_qrels *qrels);
/* Index of the judged query @p query_id in qrels->q, or -1. */
long cli_qrels_find(const cli_qrels *qrels, const char *query_id);
/* Grade of @p doc_id for @p q; 0 when it is not judged. */
int cli_qrel_grade(const cli_qrel_query *q, const char *doc_id);

/* One line of a TREC run: a retrieved document and its score. */
typedef struct cli_run_entry {
    char *query_id;
    char *doc_id;
    double score;
} cli_run_entry;

/* A run: the retrieved documents of every query, in any order (cli_run_sort orders them). */
typedef struct cli_run {
    cli_run_entry *v;
    size_t n, cap;
} cli_run;

/* Append one entry (strings are copied). 0 or LM_ENOMEM. */
int cli_run_add(cli_run *run, const char *query_id, const char *doc_id, double score);
/*
 * Append one query's ranked hits as documents: the hits are in rank order and several may come
 * from the same document (chunks); a document takes the score of its first, that is best, hit,
 * and at most @p max_docs documents are kept. 0 or LM_ENOMEM.
 */
int cli_run_add_ranked(cli_run *run,
                       const char *query_id,
                       const char *const *doc_ids,
                       const double *scores,
                       size_t n,
                       size_t max_docs);
/* Parse a TREC run ("qid Q0 docid rank score tag"; rank and tag are read and ignored, as
   trec_eval does). 0; LM_EPARSE with a message naming the line in @p err; LM_ENOMEM. */
int cli_run_parse(cli_run *out, const char *text, size_t len, char *err, size_t errlen);
/*
 * Order the run as trec_eval ranks it: by query id, then score descending, ties broken by
 * document id descending; a document listed twice for one query keeps only its best score.
 * 0 or LM_ENOMEM.
 */
int cli_run_sort(cli_run *run);
/* The range [*first, *first + return) of the sorted @p run that belongs to @p query_id. */
size_t cli_run_range(const cli_run *run, const char *query_id, size_t *first);
void cli_run_dispose(cli_run *run);

/* Metrics of one query. */
typedef struct cli_eval_scores {
    double ndcg10;
    double recall100;
    double mrr10;
    size_t retrieved; /* documents in the ranking */
} cli_eval_scores;

/*
 * Score one ranking (document ids, best first, no duplicates) against query @p q, as trec_eval
 * does: nDCG@10 with gain = grade and discount log2(rank + 1), the ideal DCG taken from all
 * judged documents with grade > 0; Recall@100 = relevant retrieved in the top 100 / all relevant;
 * MRR@10 = 1 / rank of the first relevant document in the top 10, else 0. A query without
 * relevant judgments, or with an empty ranking, scores 0.
 */
void cli_eval_query(cli_eval_scores *out,
                    const cli_qrel_query *q,
                    const char *const *ranking,
                    size_t n);

/* Averages over the judged queries. */
typedef struct cli_eval_summary {
    size_t queries;  /* judged queries: every one counts, retrieved or not */
    size_t no_hits;  /* judged queries the run retrieved nothing for */
    size_t unjudged; /* queries of the run that have no judgments (ignored) */
    double ndcg10, recall100, mrr10;
} cli_eval_summary;

/*
 * Evaluate @p run (sorted with cli_run_sort() first, which this does) against @p qrels:
 * every judged query counts, one without results scoring 0 (trec_eval -c). @p per_query, when not
 * NULL, receives qrels->n scores in qrels order. 0 or LM_ENOMEM.
 */
int cli_eval_run(cli_eval_summary *out,
                 cli_eval_scores *per_query,
                 const cli_qrels *qrels,
                 cli_run *run);

/* Latency distribution in milliseconds. */
typedef struct cli_latency {
    size_t n;
    double mean, p50, p95, p99, max;
} cli_latency;

/* Summarise @p n samples (sorted in place). Percentiles interpolate linearly between the
   closest ranks (numpy's default). All zero when @p n is 0. */
void cli_latency_summarize(cli_latency *out, double *ms, size_t n);

/*
 * A corpus entry as a document: content "title\n\ntext" (one of them alone when the other is
 * empty); name the title cut to LM_MAX_DOC_NAME_BYTES at a character boundary, or @p id when the
 * title is empty. Check lm__buf_oom() on both afterwards.
 */
void cli_eval_doc(
    lm_buf *content, lm_buf *name, const char *id, const char *title, const char *text);

#endif
