/*
 * tests/integration/eval_test.c: the dataset runner of llmemory/eval.h on a real PostgreSQL:
 * a small BEIR collection written to a temporary directory, ingested, searched and scored; the
 * owner erased at the end (or kept); broken collections refused before anything is ingested;
 * another tenant's documents neither searched nor erased.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support.h"

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        lm_test_fail(__FILE__, __LINE__, "could not write %s", path);
    fputs(text, f);
    fclose(f);
}

/* Three documents, three queries each matching one document by a distinctive word. */
static char *collection(void)
{
    static char dir[64];
    snprintf(dir, sizeof(dir), "/tmp/lm-eval-test.XXXXXX");
    if (mkdtemp(dir) == NULL)
        lm_test_fail(__FILE__, __LINE__, "mkdtemp failed");
    char qrels[96];
    snprintf(qrels, sizeof(qrels), "%s/qrels", dir);
    if (mkdir(qrels, 0755) != 0)
        lm_test_fail(__FILE__, __LINE__, "mkdir failed");
    write_file(dir, "corpus.jsonl",
               "{\"_id\": \"d1\", \"title\": \"Volcanoes\", \"text\": \"Magma rises through the "
               "crust and erupts as lava.\"}\n"
               "{\"_id\": \"d2\", \"title\": \"Glaciers\", \"text\": \"Ice sheets carve valleys "
               "as they move downhill.\"}\n"
               "\n"
               "{\"_id\": 3, \"title\": \"\", \"text\": \"Coral reefs shelter fish in warm "
               "shallow seas.\"}\n");
    write_file(dir, "queries.jsonl",
               "{\"_id\": \"q1\", \"text\": \"lava magma\"}\n"
               "{\"_id\": \"q2\", \"text\": \"glaciers carving valleys\"}\n"
               "{\"_id\": \"q3\", \"text\": \"coral reef fish\"}\n"
               "{\"_id\": \"q4\", \"text\": \"not judged\"}\n");
    write_file(dir, "qrels/test.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t2\nq3\t3\t1\n");
    return dir;
}

static void remove_collection(const char *dir)
{
    char path[512];
    const char *names[] = {"corpus.jsonl", "queries.jsonl", "qrels/test.tsv", "qrels", ""};
    for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        remove(path);
    }
}

static long long documents(lm_memory *m, const char *owner)
{
    lm_stats st;
    ASSERT_OK(lm_stats_get(&st, m, owner));
    return st.document_count;
}

static int notices;
static void count_notice(const char *message, void *payload)
{
    (void)message;
    (void)payload;
    notices++;
}

TEST(test_eval__dataset_runs_scores_and_erases)
{
    lm_memory_opts mo = LM_MEMORY_OPTS_INIT;
    mo.no_embedder = 1;
    lm_memory *m = test_memory_opts(&mo);
    char *dir = collection();
    lm_eval_opts o = LM_EVAL_OPTS_INIT;
    lm_eval_result *r = NULL;

    ASSERT_EQ_INT(o.syntax, LM_QUERY_PLAIN); /* test collections are natural language */
    o.owner_id = "bench";
    o.depth = 10;
    ASSERT_OK(lm_eval_dataset(&r, m, dir, &o));
    ASSERT(r != NULL);
    ASSERT_EQ_INT(r->summary.queries, 3);
    ASSERT_EQ_INT(r->docs_added, 3);
    ASSERT_EQ_INT(r->docs_skipped, 0);
    ASSERT_EQ_INT(r->ingested, 1);
    ASSERT_EQ_INT(r->k, 30);
    ASSERT_EQ_INT(r->depth, 10);
    /* Each query finds its one relevant document first. */
    ASSERT(r->summary.ndcg10 > 0.999 && r->summary.mrr10 > 0.999 && r->summary.recall100 > 0.999);
    ASSERT_EQ_INT(r->latency.n, 3);
    size_t first;
    ASSERT(lm_eval_run_range(&r->run, "q3", &first) >= 1);
    ASSERT_EQ_STR(r->run.v[first].doc_id, "3");
    /* The run file round-trips to the same metrics. */
    char run_path[128];
    snprintf(run_path, sizeof(run_path), "%s/run.txt", dir);
    ASSERT_OK(lm_eval_run_write(&r->run, &r->qrels, run_path, NULL));
    FILE *f = fopen(run_path, "r");
    char text[4096];
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    ASSERT(strstr(text, "q1 Q0 d1 1 ") != NULL && strstr(text, " llmemory\n") != NULL);
    lm_eval_run run = {0};
    lm_eval_summary s;
    ASSERT_OK(lm_eval_run_parse(&run, text, n));
    ASSERT_OK(lm_eval_score_run(&s, NULL, &r->qrels, &run));
    ASSERT(s.ndcg10 == r->summary.ndcg10 && s.mrr10 == r->summary.mrr10);
    lm_eval_run_dispose(&run);
    remove(run_path);
    lm_eval_result_free(r);
    /* Not kept: the owner is gone. */
    ASSERT_EQ_INT(documents(m, "bench"), 0);

    /* Kept, then searched again without ingesting. */
    o.keep = 1;
    ASSERT_OK(lm_eval_dataset(&r, m, dir, &o));
    lm_eval_result_free(r);
    ASSERT_EQ_INT(documents(m, "bench"), 3);
    o.no_ingest = 1;
    o.keep = 0;
    ASSERT_OK(lm_eval_dataset(&r, m, dir, &o));
    ASSERT_EQ_INT(r->ingested, 0);
    ASSERT(r->summary.ndcg10 > 0.999);
    lm_eval_result_free(r);
    ASSERT_EQ_INT(documents(m, "bench"), 3); /* no_ingest never erases */

    remove_collection(dir);
    lm_memory_close(m);
}

TEST(test_eval__other_tenants_untouched)
{
    lm_memory_opts mo = LM_MEMORY_OPTS_INIT;
    mo.no_embedder = 1;
    lm_memory *m = test_memory_opts(&mo);
    char *dir = collection();
    lm_eval_opts o = LM_EVAL_OPTS_INIT;
    lm_eval_result *r = NULL;

    /* Another tenant holds documents with the collection's ids and words. */
    test_add(m, "tenant-b", "d1", "lava magma lava magma volcano", NULL);
    test_add(m, "tenant-b", "d9", "glaciers carving valleys coral reef fish", NULL);
    /* An owner without documents cannot be searched as it is; tenant-b's do not count. */
    o.owner_id = "tenant-a";
    o.depth = 10;
    o.no_ingest = 1;
    ASSERT_ERR(lm_eval_dataset(&r, m, dir, &o), LM_ENOTFOUND);
    ASSERT(r == NULL);
    o.no_ingest = 0;
    ASSERT_OK(lm_eval_dataset(&r, m, dir, &o));
    /* d9 exists only in tenant-b: never retrieved. */
    for (size_t i = 0; i < r->run.n; i++)
        ASSERT(strcmp(r->run.v[i].doc_id, "d9") != 0);
    ASSERT(r->summary.ndcg10 > 0.999);
    lm_eval_result_free(r);
    ASSERT_EQ_INT(documents(m, "tenant-a"), 0);
    ASSERT_EQ_INT(documents(m, "tenant-b"), 2);
    remove_collection(dir);
    lm_memory_close(m);
}

TEST(test_eval__broken_collection_refused_before_ingest)
{
    lm_memory_opts mo = LM_MEMORY_OPTS_INIT;
    mo.no_embedder = 1;
    lm_memory *m = test_memory_opts(&mo);
    char *dir = collection();
    lm_eval_opts o = LM_EVAL_OPTS_INIT;
    lm_eval_result *r = NULL;

    o.owner_id = "broken";
    o.keep = 1;
    /* queries.jsonl with a bad line: refused, nothing ingested. */
    write_file(dir, "queries.jsonl", "{\"_id\": \"q1\", \"text\": \"lava\"}\nnot json\n");
    ASSERT_ERR(lm_eval_dataset(&r, m, dir, &o), LM_EPARSE);
    ASSERT(strstr(lm_error_last()->message, "line 2") != NULL);
    ASSERT_EQ_INT(documents(m, "broken"), 0);
    /* A missing split names the file. */
    o.split = "dev";
    ASSERT_ERR(lm_eval_dataset(&r, m, dir, &o), LM_EIO);
    ASSERT(strstr(lm_error_last()->message, "qrels/dev.tsv") != NULL);
    o.split = "../x";
    ASSERT_ERR(lm_eval_dataset(&r, m, dir, &o), LM_EINVAL);
    o.split = NULL;
    o.depth = 5000;
    ASSERT_ERR(lm_eval_dataset(&r, m, dir, &o), LM_EINVAL);
    ASSERT_EQ_STR(lm_error_last()->field, "depth");
    /* A corpus entry the library refuses is skipped and reported; the run goes on. */
    o.depth = 10;
    o.keep = 0;
    write_file(dir, "queries.jsonl", "{\"_id\": \"q1\", \"text\": \"lava\"}\n");
    write_file(dir, "corpus.jsonl",
               "{\"_id\": \"d1\", \"title\": \"V\", \"text\": \"lava\"}\n"
               "{\"_id\": \"bad id with spaces\", \"text\": \"x\"}\n");
    o.notice = count_notice;
    notices = 0;
    ASSERT_OK(lm_eval_dataset(&r, m, dir, &o));
    ASSERT_EQ_INT(r->docs_added, 1);
    ASSERT_EQ_INT(r->docs_skipped, 1);
    ASSERT_EQ_INT(r->queries_missing, 2);
    ASSERT(notices >= 2); /* the skipped entry, the missing queries */
    lm_eval_result_free(r);
    remove_collection(dir);
    lm_memory_close(m);
}
