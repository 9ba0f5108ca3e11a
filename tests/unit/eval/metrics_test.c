/*
 * tests/unit/eval/metrics_test.c: the metrics of evaluation (src/lib/eval/metrics.c) against values
 * computed by hand: graded nDCG@10 with trec_eval's ideal DCG, Recall@100, MRR@10, queries with
 * no results, trec_eval's tie order, best-chunk aggregation, qrels/run parsing and percentiles.
 */
#include <math.h>
#include <string.h>

#include <llmemory.h>

#include "buf.h"
#include "runner.h"

#define ASSERT_NEAR(a, b)                                                                       \
    do {                                                                                        \
        double lm__x = (a), lm__y = (b);                                                        \
        if (!(fabs(lm__x - lm__y) < 1e-9))                                                      \
            lm_test_fail(__FILE__, __LINE__, "%s == %s: %.12f != %.12f", #a, #b, lm__x, lm__y); \
    } while (0)

static void parse_qrels(lm_eval_qrels *q, const char *text)
{
    int rc = lm_eval_qrels_parse(q, text, strlen(text));
    if (rc != 0)
        lm_test_fail(__FILE__, __LINE__, "lm_eval_qrels_parse: %d %s", rc,
                     lm_error_last()->message);
}

static const lm_eval_qrel_query *query(const lm_eval_qrels *q, const char *id)
{
    long i = lm_eval_qrels_find(q, id);
    ASSERT(i >= 0);
    return &q->q[i];
}

TEST(test_eval__ndcg_graded)
{
    lm_eval_qrels q;
    lm_eval_scores s;
    const char *ranking[] = {"d3", "d4", "d1", "x", "d2"};

    parse_qrels(&q, "query-id\tcorpus-id\tscore\nq1\td1\t3\nq1\td2\t2\nq1\td3\t1\nq1\td4\t0\n");
    lm_eval_query(&s, query(&q, "q1"), ranking, 5);
    /* DCG  = 1/log2(2) + 3/log2(4) + 2/log2(6)          = 3.27370561446908
       IDCG = 3/log2(2) + 2/log2(3) + 1/log2(4)          = 4.76185950714292 */
    ASSERT_NEAR(s.ndcg10, 3.2737056144690833 / 4.7618595071429155);
    ASSERT_NEAR(s.ndcg10, 0.6874847125494647);
    ASSERT_NEAR(s.recall100, 1.0);
    ASSERT_NEAR(s.mrr10, 1.0);
    ASSERT_EQ_INT(s.retrieved, 5);
    lm_eval_qrels_dispose(&q);
}

TEST(test_eval__ideal_counts_unretrieved_relevant)
{
    lm_eval_qrels q;
    lm_eval_scores s;
    const char *ranking[] = {"x", "a", "y"};

    parse_qrels(&q, "q 0 a 1\nq 0 b 1\n");
    lm_eval_query(&s, query(&q, "q"), ranking, 3);
    /* a at rank 2: DCG = 1/log2(3); IDCG = 1 + 1/log2(3). */
    ASSERT_NEAR(s.ndcg10, (1 / log2(3.0)) / (1 + 1 / log2(3.0)));
    ASSERT_NEAR(s.recall100, 0.5);
    ASSERT_NEAR(s.mrr10, 0.5);
    lm_eval_qrels_dispose(&q);
}

TEST(test_eval__ideal_keeps_ten_highest_grades)
{
    lm_eval_qrels q;
    lm_eval_scores s;
    const char *ranking[] = {"h1", "h2"};

    /* Ten grade-1 documents come first in the file, the two grade-2 ones last: the ideal must
       still start with the 2s. */
    parse_qrels(&q, "q\tl0\t1\nq\tl1\t1\nq\tl2\t1\nq\tl3\t1\nq\tl4\t1\nq\tl5\t1\n"
                    "q\tl6\t1\nq\tl7\t1\nq\tl8\t1\nq\tl9\t1\nq\th1\t2\nq\th2\t2\n");
    lm_eval_query(&s, query(&q, "q"), ranking, 2);
    ASSERT_NEAR(s.ndcg10, 0.5282800663700055);
    ASSERT_NEAR(s.recall100, 2.0 / 12.0);
    ASSERT_NEAR(s.mrr10, 1.0);
    lm_eval_qrels_dispose(&q);
}

TEST(test_eval__cutoffs)
{
    lm_eval_qrels q;
    lm_eval_scores s;
    const char *ranking[101];
    char names[101][16];

    for (int i = 0; i < 101; i++) {
        snprintf(names[i], sizeof(names[i]), "n%d", i);
        ranking[i] = names[i];
    }
    /* Relevant at ranks 11 and 101: past nDCG@10 and MRR@10, and the second past Recall@100. */
    parse_qrels(&q, "q\tn10\t1\nq\tn100\t1\n");
    lm_eval_query(&s, query(&q, "q"), ranking, 101);
    ASSERT_NEAR(s.ndcg10, 0);
    ASSERT_NEAR(s.mrr10, 0);
    ASSERT_NEAR(s.recall100, 0.5);
    /* Rank 10 is still inside both cut-offs. */
    ranking[9] = "n10";
    lm_eval_query(&s, query(&q, "q"), ranking, 10);
    ASSERT_NEAR(s.mrr10, 0.1);
    ASSERT_NEAR(s.ndcg10, (1 / log2(11.0)) / (1 + 1 / log2(3.0)));
    lm_eval_qrels_dispose(&q);
}

TEST(test_eval__no_hits_and_no_relevant_score_zero)
{
    lm_eval_qrels q;
    lm_eval_scores s;
    const char *ranking[] = {"a"};

    parse_qrels(&q, "q1\ta\t1\nq2\ta\t0\n");
    lm_eval_query(&s, query(&q, "q1"), NULL, 0);
    ASSERT_NEAR(s.ndcg10, 0);
    ASSERT_NEAR(s.recall100, 0);
    ASSERT_NEAR(s.mrr10, 0);
    lm_eval_query(&s, query(&q, "q2"), ranking, 1); /* judged, nothing relevant */
    ASSERT_NEAR(s.ndcg10, 0);
    ASSERT_NEAR(s.recall100, 0);
    lm_eval_qrels_dispose(&q);
}

TEST(test_eval__average_over_all_judged_queries)
{
    lm_eval_qrels q;
    lm_eval_run run = {0};
    lm_eval_summary sum;
    lm_eval_scores per[3];

    parse_qrels(&q, "q1\ta\t1\nq2\tb\t1\nq3\tc\t1\n");
    ASSERT_OK(lm_eval_run_add(&run, "q1", "a", 2.0)); /* perfect */
    ASSERT_OK(lm_eval_run_add(&run, "q2", "x", 2.0)); /* rank 2 */
    ASSERT_OK(lm_eval_run_add(&run, "q2", "b", 1.0));
    ASSERT_OK(lm_eval_run_add(&run, "q9", "a", 1.0)); /* not judged: ignored */
    /* q3: no results at all, still counted */
    ASSERT_OK(lm_eval_score_run(&sum, per, &q, &run));
    ASSERT_EQ_INT(sum.queries, 3);
    ASSERT_EQ_INT(sum.no_hits, 1);
    ASSERT_EQ_INT(sum.unjudged, 1);
    ASSERT_NEAR(per[0].ndcg10, 1.0);
    ASSERT_NEAR(per[1].ndcg10, 1 / log2(3.0));
    ASSERT_NEAR(per[2].ndcg10, 0);
    ASSERT_NEAR(sum.ndcg10, (1.0 + 1 / log2(3.0)) / 3);
    ASSERT_NEAR(sum.recall100, 2.0 / 3);
    ASSERT_NEAR(sum.mrr10, 1.5 / 3);
    lm_eval_run_dispose(&run);
    lm_eval_qrels_dispose(&q);
}

TEST(test_eval__trec_eval_order)
{
    lm_eval_qrels q;
    lm_eval_run run = {0};
    lm_eval_summary sum;
    size_t first, n;

    parse_qrels(&q, "q\ta\t1\n");
    /* Equal scores: trec_eval puts the larger document id first, whatever the file order or
       the rank column says. A document listed twice keeps its best score. */
    ASSERT_OK(lm_eval_run_add(&run, "q", "a", 1.0));
    ASSERT_OK(lm_eval_run_add(&run, "q", "b", 1.0));
    ASSERT_OK(lm_eval_run_add(&run, "q", "c", 0.5));
    ASSERT_OK(lm_eval_run_add(&run, "q", "c", 3.0));
    ASSERT_OK(lm_eval_score_run(&sum, NULL, &q, &run));
    n = lm_eval_run_range(&run, "q", &first);
    ASSERT_EQ_INT(n, 3);
    ASSERT_EQ_STR(run.v[first].doc_id, "c");
    ASSERT_EQ_STR(run.v[first + 1].doc_id, "b");
    ASSERT_EQ_STR(run.v[first + 2].doc_id, "a");
    ASSERT_NEAR(sum.mrr10, 1.0 / 3);
    ASSERT_EQ_INT(lm_eval_run_range(&run, "nope", &first), 0);
    lm_eval_run_dispose(&run);
    lm_eval_qrels_dispose(&q);
}

TEST(test_eval__best_chunk_aggregation)
{
    lm_eval_run run = {0};
    const char *ids[] = {"d1", "d2", "d1", "d3", "d2", "d4"};
    const double scores[] = {9, 8, 7, 6, 5, 4};

    ASSERT_OK(lm_eval_run_add_ranked(&run, "q", ids, scores, 6, 100));
    ASSERT_EQ_INT(run.n, 4);
    ASSERT_EQ_STR(run.v[0].doc_id, "d1");
    ASSERT_NEAR(run.v[0].score, 9);
    ASSERT_EQ_STR(run.v[1].doc_id, "d2");
    ASSERT_NEAR(run.v[1].score, 8);
    ASSERT_EQ_STR(run.v[2].doc_id, "d3");
    ASSERT_NEAR(run.v[2].score, 6);
    ASSERT_EQ_STR(run.v[3].doc_id, "d4");
    /* The same document in another query is another entry; max_docs caps the documents. */
    ASSERT_OK(lm_eval_run_add_ranked(&run, "r", ids, scores, 6, 2));
    ASSERT_EQ_INT(run.n, 6);
    ASSERT_EQ_STR(run.v[4].doc_id, "d1");
    ASSERT_EQ_STR(run.v[5].doc_id, "d2");
    lm_eval_run_dispose(&run);
}

TEST(test_eval__qrels_parse)
{
    lm_eval_qrels q;
    const lm_eval_qrel_query *x;

    /* Header, CRLF, blank line, TREC 4-column line, a repeated pair (last grade wins), and
       queries in order of first appearance even when interleaved. */
    parse_qrels(&q, "query-id\tcorpus-id\tscore\r\n"
                    "b\td2\t1\r\n"
                    "\n"
                    "a 0 d9 2\n"
                    "b\td1\t1\n"
                    "b\td2\t0\n");
    ASSERT_EQ_INT(q.n, 2);
    ASSERT_EQ_STR(q.q[0].query_id, "b");
    ASSERT_EQ_STR(q.q[1].query_id, "a");
    x = query(&q, "b");
    ASSERT_EQ_INT(x->n, 2);
    ASSERT_EQ_INT(x->n_rel, 1);
    ASSERT_EQ_INT(lm_eval_qrel_grade(x, "d1"), 1);
    ASSERT_EQ_INT(lm_eval_qrel_grade(x, "d2"), 0);
    ASSERT_EQ_INT(lm_eval_qrel_grade(x, "zz"), 0);
    ASSERT_EQ_INT(lm_eval_qrel_grade(query(&q, "a"), "d9"), 2);
    ASSERT_EQ_INT(lm_eval_qrels_find(&q, "c"), -1);
    lm_eval_qrels_dispose(&q);

    ASSERT_EQ_INT(lm_eval_qrels_parse(&q, "q\td\t1\nq\td\tx\n", 12), LM_EPARSE);
    ASSERT(strstr(lm_error_last()->message, "line 2") != NULL);
    ASSERT_EQ_INT(lm_eval_qrels_parse(&q, "q d\n", 4), LM_EPARSE);
    ASSERT_EQ_INT(lm_eval_qrels_parse(&q, "", 0), LM_EPARSE);
    ASSERT_EQ_INT(q.n, 0);
}

TEST(test_eval__run_parse)
{
    lm_eval_run run;
    const char *ok = "1 Q0 31715818 1 13.5 lucene\n1 Q0 14717500 2 1.25e1 lucene\n\n";
    const char *bad = "1 Q0 d 1 nan t\n";

    ASSERT_OK(lm_eval_run_parse(&run, ok, strlen(ok)));
    ASSERT_EQ_INT(run.n, 2);
    ASSERT_EQ_STR(run.v[1].doc_id, "14717500");
    ASSERT_NEAR(run.v[1].score, 12.5);
    lm_eval_run_dispose(&run);
    ASSERT_EQ_INT(lm_eval_run_parse(&run, bad, strlen(bad)), LM_EPARSE);
    ASSERT_EQ_INT(lm_eval_run_parse(&run, "1 Q0 d 1\n", 9), LM_EPARSE);
    ASSERT(strstr(lm_error_last()->message, "line 1") != NULL);
}

TEST(test_eval__latency_percentiles)
{
    double ms[] = {4, 1, 3, 2};
    lm_eval_latency l;

    lm_eval_latency_summarize(&l, ms, 4);
    ASSERT_EQ_INT(l.n, 4);
    ASSERT_NEAR(l.p50, 2.5);
    ASSERT_NEAR(l.p95, 3.85);
    ASSERT_NEAR(l.p99, 3.97);
    ASSERT_NEAR(l.mean, 2.5);
    ASSERT_NEAR(l.max, 4);
    lm_eval_latency_summarize(&l, ms, 1);
    ASSERT_NEAR(l.p50, 1);
    ASSERT_NEAR(l.p99, 1);
    lm_eval_latency_summarize(&l, NULL, 0);
    ASSERT_EQ_INT(l.n, 0);
}

TEST(test_eval__corpus_entry_as_document)
{
    lm_buf content = LM_BUF_INIT, name = LM_BUF_INIT;
    char title[LM_MAX_DOC_NAME_BYTES + 2];

    ASSERT_OK(lm_eval_doc(&content, &name, "42", "A title", "Some text."));
    ASSERT_EQ_STR(content.ptr, "A title\n\nSome text.");
    ASSERT_EQ_STR(name.ptr, "A title");
    lm_eval_doc(&content, &name, "42", "", "Some text.");
    ASSERT_EQ_STR(content.ptr, "Some text.");
    ASSERT_EQ_STR(name.ptr, "42");
    lm_eval_doc(&content, &name, "42", "Only a title", NULL);
    ASSERT_EQ_STR(content.ptr, "Only a title");
    /* 499 ASCII bytes and a 2-byte character: the name stops before the character. */
    memset(title, 'a', LM_MAX_DOC_NAME_BYTES - 1);
    memcpy(title + LM_MAX_DOC_NAME_BYTES - 1, "\xC3\xA9", 3);
    lm_eval_doc(&content, &name, "42", title, "x");
    ASSERT_EQ_INT(name.size, LM_MAX_DOC_NAME_BYTES - 1);
    ASSERT(!lm__buf_oom(&content) && !lm__buf_oom(&name));
    lm_buf_dispose(&content);
    lm_buf_dispose(&name);
}
