/*
 * tests/integration/ingest_test.c: lm_doc_add_batch(). A batch leaves exactly what the same
 * documents added one by one leave (chunks, keyword statistics and postings, vectors, usage);
 * it is all or nothing (bad input, duplicate ids, quotas); another tenant's documents are never
 * touched.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "support.h"

static PGconn *sql_conn(void)
{
    PGconn *c = PQconnectdb(getenv("LLMEMORY_TEST_DATABASE_URL"));
    ASSERT(PQstatus(c) == CONNECTION_OK);
    return c;
}

/* The text of one value: the first column of the first row of @p fmt (%s: the schema). */
static char *value(PGconn *c, const char *fmt, const char *owner)
{
    char sql[1024];
    static char out[8192];
    const char *p[1] = {owner};
    size_t o = 0;
    /* Each "%s" of fmt is the schema. */
    for (const char *f = fmt; *f && o + 64 < sizeof(sql); f++) {
        if (f[0] == '%' && f[1] == 's') {
            o += (size_t)snprintf(sql + o, sizeof(sql) - o, "%s", test_schema());
            f++;
        } else {
            sql[o++] = *f;
        }
    }
    sql[o] = '\0';
    PGresult *r = PQexecParams(c, sql, 1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fprintf(stderr, "%s: %s", sql, PQerrorMessage(c));
    ASSERT(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1);
    snprintf(out, sizeof(out), "%s", PQgetisnull(r, 0, 0) ? "NULL" : PQgetvalue(r, 0, 0));
    PQclear(r);
    return out;
}

/* Everything the keyword index, the vectors and the usage counters hold for @p owner, as one
   text (document ids and chunk numbers left out: they differ between two tenants). */
static void fingerprint(char *out, size_t cap, PGconn *c, const char *owner)
{
    static const char *const q[] = {
        "SELECT chunk_count || '/' || total_len FROM %s.tenant_stats WHERE owner_id = $1",
        "SELECT md5(string_agg(lexeme || ':' || df, ',' ORDER BY lexeme COLLATE \"C\"))"
        " FROM %s.term_stats WHERE owner_id = $1",
        "SELECT md5(string_agg(p.lexeme || ':' || c.content_hash || ':' || p.tf || ':'"
        " || p.doc_len, ',' ORDER BY p.lexeme COLLATE \"C\", c.content_hash, p.tf)) FROM %s.postings p"
        " JOIN %s.chunks c ON c.owner_id = p.owner_id AND c.chunk_no = p.chunk_no"
        " WHERE p.owner_id = $1",
        "SELECT md5(string_agg(d.id_at_origin || ':' || c.chunk_index || ':' || c.chunk_level"
        " || ':' || c.searchable || ':' || c.content_hash || ':' || c.token_count || ':'"
        " || c.metadata::text || ':' || c.doc_len || ':' || (c.parent_chunk_id IS NULL),"
        " ',' ORDER BY d.id_at_origin, c.chunk_index))"
        " FROM %s.chunks c JOIN %s.documents d USING (owner_id, document_id)"
        " WHERE c.owner_id = $1",
        "SELECT md5(string_agg(id_at_origin || ':' || document_type || ':' || document_name"
        " || ':' || metadata::text || ':' || content_bytes || ':' || chunk_count, ','"
        " ORDER BY id_at_origin)) FROM %s.documents WHERE owner_id = $1",
        "SELECT documents || '/' || chunks || '/' || bytes FROM %s.tenant_usage"
        " WHERE owner_id = $1",
        "SELECT count(*) || '/' || md5(string_agg(c.content_hash || v.embedding::text, ','"
        " ORDER BY c.content_hash, v.embedding::text)) FROM %s.vectors_384 v"
        " JOIN %s.chunks c USING (owner_id, chunk_id) WHERE v.owner_id = $1",
    };
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
        o += (size_t)snprintf(out + o, cap - o, "%s|", value(c, q[i], owner));
    }
}

static const char *texts[] = {
    "Employees get 25 vacation days a year.\n\nVacation must be approved by the manager.",
    "The cafeteria opens at 8 am.\tBreakfast is served until 10.",
    "Backslashes \\ and\r\nnewlines survive COPY: C:\\temp\\file and a line\nbreak.",
    "# Handbook\n\nSecurity badges are required.\n\n## Travel\n\nBook trains, not planes.",
    "From: a@example.com\nTo: b@example.com\nSubject: launch\n\nThe launch is on Monday.\n",
};
static const lm_doc_type types[] = {LM_DOC_TEXT, LM_DOC_TEXT, LM_DOC_TEXT, LM_DOC_MARKDOWN,
                                    LM_DOC_EMAIL};
#define NT ((int)(sizeof(texts) / sizeof(texts[0])))

static void fill(lm_doc_input *d, char (*origin)[16], lm_doc_add_opts *o, int n, int variant)
{
    for (int i = 0; i < n; i++) {
        snprintf(origin[i], 16, "doc-%d", i);
        lm_doc_add_opts_init(&o[i], LM_DOC_ADD_OPTS_VERSION);
        o[i].metadata = i % 2 ? "{\"team\": \"ops\"}" : NULL;
        const char *t = texts[(i + variant) % NT];
        d[i] = (lm_doc_input){origin[i], origin[i], types[(i + variant) % NT], t, strlen(t),
                              &o[i]};
    }
}

TEST(test_ingest__batch_leaves_what_single_adds_leave)
{
    lm_memory *m = test_memory();
    PGconn *c = sql_conn();
    char origin[NT][16], a[4096], b[4096];
    lm_doc_add_opts o[NT];
    lm_doc_input d[NT];
    lm_doc_add_result res[NT];
    size_t bad = 99;

    for (int round = 0; round < 2; round++) {
        /* Round 1 re-indexes every document with another text (and adds nothing new). */
        fill(d, origin, o, NT, round);
        for (int i = 0; i < NT; i++) {
            lm_doc_add_result r;
            ASSERT_OK(lm_doc_add(&r, m, "single", d[i].id_at_origin, d[i].name, d[i].type,
                                 d[i].content, d[i].content_len, d[i].opts));
        }
        ASSERT_OK(lm_doc_add_batch(res, &bad, m, "batch", d, NT));
        ASSERT_EQ_INT((int)bad, NT);
        for (int i = 0; i < NT; i++) {
            ASSERT_EQ_INT(res[i].created, round == 0);
            ASSERT(res[i].chunk_count > 0);
            ASSERT_EQ_INT(res[i].embedded, res[i].chunk_count > 0 ? res[i].embedded : 0);
            lm_doc *doc = NULL;
            ASSERT_OK(lm_doc_get(&doc, m, "batch", res[i].document_id, 1));
            ASSERT_EQ_STR(lm_doc_document(doc)->id_at_origin, d[i].id_at_origin);
            ASSERT_EQ_INT((int)lm_doc_chunk_count(doc), res[i].chunk_count);
            lm_doc_free(doc);
        }
        fingerprint(a, sizeof(a), c, "single");
        fingerprint(b, sizeof(b), c, "batch");
        ASSERT_EQ_STR(b, a);
    }
    /* The same keyword results and scores. */
    lm_search_opts so = LM_SEARCH_OPTS_INIT;
    so.type = LM_SEARCH_TEXT;
    so.no_history = 1;
    lm_results *r1 = NULL, *r2 = NULL;
    ASSERT_OK(lm_search(&r1, m, "single", "vacation launch badges", &so));
    ASSERT_OK(lm_search(&r2, m, "batch", "vacation launch badges", &so));
    ASSERT(lm_results_count(r1) > 0);
    ASSERT_EQ_INT((int)lm_results_count(r2), (int)lm_results_count(r1));
    for (size_t i = 0; i < lm_results_count(r1); i++) {
        ASSERT_EQ_STR(lm_results_at(r2, i)->content, lm_results_at(r1, i)->content);
        ASSERT(lm_results_at(r2, i)->score == lm_results_at(r1, i)->score);
    }
    lm_results_free(r1);
    lm_results_free(r2);
    PQfinish(c);
    lm_memory_close(m);
}

TEST(test_ingest__bad_input_writes_nothing)
{
    lm_memory *m = test_memory();
    PGconn *c = sql_conn();
    char origin[NT][16];
    lm_doc_add_opts o[NT];
    lm_doc_input d[NT];
    size_t bad = 0;

    fill(d, origin, o, NT, 0);
    d[2].content = "bad \xff utf-8";
    d[2].content_len = strlen(d[2].content);
    ASSERT_ERR(lm_doc_add_batch(NULL, &bad, m, "acme", d, NT), LM_EINVAL);
    ASSERT_EQ_INT((int)bad, 2);
    ASSERT_EQ_STR(lm_error_last()->field, "content");
    ASSERT(strstr(lm_error_last()->detail, "Document 2") != NULL);

    fill(d, origin, o, NT, 0);
    d[3].id_at_origin = "doc-1";
    ASSERT_ERR(lm_doc_add_batch(NULL, &bad, m, "acme", d, NT), LM_EINVAL);
    ASSERT_EQ_STR(lm_error_last()->field, "id_at_origin");
    ASSERT(strstr(lm_error_last()->message, "documents 1 and 3") != NULL);

    fill(d, origin, o, NT, 0);
    o[4].metadata = "[1]";
    ASSERT_ERR(lm_doc_add_batch(NULL, &bad, m, "acme", d, NT), LM_EINVAL);
    ASSERT_EQ_INT((int)bad, 4);
    ASSERT_ERR(lm_doc_add_batch(NULL, &bad, m, "bad owner!", d, NT), LM_EINVAL);
    ASSERT_EQ_INT((int)bad, NT);
    ASSERT_ERR(lm_doc_add_batch(NULL, &bad, m, "acme", d, 0), LM_EINVAL);
    ASSERT_ERR(lm_doc_add_batch(NULL, &bad, m, "acme", NULL, 3), LM_EINVAL);

    /* A text search configuration the server does not know fails inside the transaction: the
       documents written before it in the same batch go too. */
    fill(d, origin, o, NT, 0);
    o[3].text_config = "klingon";
    ASSERT(lm_doc_add_batch(NULL, &bad, m, "acme", d, NT) < 0);
    ASSERT_EQ_STR(value(c, "SELECT count(*) FROM %s.documents WHERE owner_id = $1", "acme"), "0");
    ASSERT_EQ_STR(value(c, "SELECT count(*) FROM %s.chunks WHERE owner_id = $1", "acme"), "0");
    ASSERT_EQ_STR(value(c, "SELECT count(*) FROM %s.postings WHERE owner_id = $1", "acme"), "0");
    ASSERT_EQ_STR(value(c, "SELECT count(*) FROM %s.tenant_stats WHERE owner_id = $1"
                           " AND chunk_count > 0", "acme"), "0");
    /* The staging table of the failed batch's connection is empty for the next one. */
    fill(d, origin, o, NT, 0);
    ASSERT_OK(lm_doc_add_batch(NULL, &bad, m, "acme", d, NT));
    ASSERT_EQ_STR(value(c, "SELECT count(*) FROM %s.documents WHERE owner_id = $1", "acme"), "5");
    PQfinish(c);
    lm_memory_close(m);
}

TEST(test_ingest__quota_refuses_the_whole_batch)
{
    lm_memory *m = test_memory();
    PGconn *c = sql_conn();
    char origin[NT][16];
    lm_doc_add_opts o[NT];
    lm_doc_input d[NT];
    lm_quota q = {3, LM_QUOTA_DEFAULT, LM_QUOTA_DEFAULT, LM_QUOTA_DEFAULT};
    size_t bad = 0;

    ASSERT_OK(lm_quota_set(m, "acme", &q));
    fill(d, origin, o, NT, 0);
    ASSERT_ERR(lm_doc_add_batch(NULL, &bad, m, "acme", d, NT), LM_ELIMIT);
    ASSERT_EQ_INT((int)bad, NT);
    ASSERT_EQ_STR(lm_error_last()->field, "documents");
    ASSERT_EQ_STR(value(c, "SELECT count(*) FROM %s.chunks WHERE owner_id = $1", "acme"), "0");
    ASSERT_EQ_STR(value(c, "SELECT coalesce(max(documents), 0) FROM %s.tenant_usage"
                           " WHERE owner_id = $1", "acme"), "0");
    ASSERT_OK(lm_doc_add_batch(NULL, &bad, m, "acme", d, 3));
    /* Re-indexing the same three stays within the limit. */
    fill(d, origin, o, 3, 1);
    ASSERT_OK(lm_doc_add_batch(NULL, &bad, m, "acme", d, 3));
    ASSERT_EQ_STR(value(c, "SELECT documents FROM %s.tenant_usage WHERE owner_id = $1", "acme"),
                  "3");
    /* Another tenant has its own (default, unlimited) quota. */
    fill(d, origin, o, NT, 0);
    ASSERT_OK(lm_doc_add_batch(NULL, &bad, m, "other", d, NT));
    PQfinish(c);
    lm_memory_close(m);
}

TEST(test_ingest__other_tenants_documents_untouched)
{
    lm_memory *m = test_memory();
    PGconn *c = sql_conn();
    char alpha_id[37], before[4096], after[4096];
    const char *t = "Beta's own text about the launch code.";
    lm_doc_input d[1] = {{"secret", "Secret", LM_DOC_TEXT, t, strlen(t), NULL}};
    lm_doc_add_result r;
    lm_doc *doc = NULL;

    test_add(m, "alpha", "secret", "Alpha's launch code is 1234.", alpha_id);
    fingerprint(before, sizeof(before), c, "alpha");
    /* The same id at origin in another tenant is another document. */
    ASSERT_OK(lm_doc_add_batch(&r, NULL, m, "beta", d, 1));
    ASSERT_EQ_INT(r.created, 1);
    ASSERT(strcmp(r.document_id, alpha_id) != 0);
    fingerprint(after, sizeof(after), c, "alpha");
    ASSERT_EQ_STR(after, before);
    ASSERT_ERR(lm_doc_get(&doc, m, "beta", alpha_id, 0), LM_ENOTFOUND);
    ASSERT_OK(lm_doc_get(&doc, m, "alpha", alpha_id, 1));
    ASSERT(strstr(lm_doc_chunk_at(doc, 0)->content, "1234") != NULL);
    lm_doc_free(doc);
    /* Beta's keyword search finds only beta's chunk. */
    lm_search_opts so = LM_SEARCH_OPTS_INIT;
    so.type = LM_SEARCH_TEXT;
    so.no_history = 1;
    lm_results *res = NULL;
    ASSERT_OK(lm_search(&res, m, "beta", "launch code", &so));
    ASSERT_EQ_INT((int)lm_results_count(res), 1);
    ASSERT(strstr(lm_results_at(res, 0)->content, "Beta") != NULL);
    lm_results_free(res);
    PQfinish(c);
    lm_memory_close(m);
}

TEST(test_ingest__queue_mode_queues_every_searchable_chunk)
{
    lm_memory_opts mo = LM_MEMORY_OPTS_INIT;
    mo.embed_mode = LM_EMBED_QUEUE;
    lm_memory *m = test_memory_opts(&mo);
    PGconn *c = sql_conn();
    char origin[NT][16];
    lm_doc_add_opts o[NT];
    lm_doc_input d[NT];
    lm_doc_add_result res[NT];
    int queued = 0;

    fill(d, origin, o, NT, 0);
    ASSERT_OK(lm_doc_add_batch(res, NULL, m, "acme", d, NT));
    for (int i = 0; i < NT; i++) {
        ASSERT_EQ_INT(res[i].embedded, 0);
        queued += res[i].queued;
    }
    char want[16];
    snprintf(want, sizeof(want), "%d", queued);
    ASSERT(queued > 0);
    ASSERT_EQ_STR(value(c, "SELECT count(*) FROM %s.embedding_queue WHERE owner_id = $1", "acme"),
                  want);
    ASSERT_EQ_STR(value(c, "SELECT count(*) FROM %s.chunks WHERE owner_id = $1 AND searchable",
                        "acme"), want);
    PQfinish(c);
    lm_memory_close(m);
}

/* The postings index's identity: it changes when the index is rebuilt. */
static void postings_index(char *out, size_t cap, PGconn *c)
{
    snprintf(out, cap, "%s",
             value(c, "SELECT '%s.postings_pkey'::regclass::oid || '/'"
                      " || pg_relation_filenode('%s.postings_pkey') || left($1, 0)", "x"));
}

static void add_rounds(lm_memory *m, int rounds)
{
    char origin[NT][16];
    lm_doc_add_opts o[NT];
    lm_doc_input d[NT];
    for (int r = 0; r < rounds; r++) {
        fill(d, origin, o, NT, r);
        for (int i = 0; i < NT; i++)
            snprintf(origin[i], 16, "r%d-%d", r % 100, i % 100);
        ASSERT_OK(lm_doc_add_batch(NULL, NULL, m, "acme", d, NT));
    }
}

TEST(test_ingest__keyword_index_packed_automatically)
{
    char before[64], now[64];
    lm_memory_opts mo = LM_MEMORY_OPTS_INIT;
    setenv("LLMEMORY_AUTO_OPTIMIZE", "20", 1);
    lm_memory *m = test_memory_opts(&mo);
    unsetenv("LLMEMORY_AUTO_OPTIMIZE");
    PGconn *c = sql_conn();
    postings_index(before, sizeof(before), c);
    /* Over 20 searchable chunks, more than half of the schema's: the memory packs. */
    add_rounds(m, 4);
    int changed = 0;
    for (int i = 0; i < 600 && !changed; i++) {
        postings_index(now, sizeof(now), c);
        changed = strcmp(now, before) != 0;
        if (!changed) {
            struct timespec ts = {0, 100000000};
            nanosleep(&ts, NULL);
        }
    }
    ASSERT(changed);
    /* Searches and writes go on over the rebuilt index. */
    lm_search_opts so = LM_SEARCH_OPTS_INIT;
    so.type = LM_SEARCH_TEXT;
    so.no_history = 1;
    lm_results *res = NULL;
    ASSERT_OK(lm_search(&res, m, "acme", "vacation badges", &so));
    ASSERT(lm_results_count(res) > 0);
    lm_results_free(res);
    add_rounds(m, 1);
    lm_memory_close(m);
    PQfinish(c);
}

TEST(test_ingest__automatic_packing_off_or_below_threshold)
{
    static const char *const env[2] = {"off", NULL};
    for (int k = 0; k < 2; k++) {
        char before[64], now[64];
        lm_memory_opts mo = LM_MEMORY_OPTS_INIT;
        if (env[k])
            setenv("LLMEMORY_AUTO_OPTIMIZE", env[k], 1);
        else
            unsetenv("LLMEMORY_AUTO_OPTIMIZE"); /* default: 50,000 chunks */
        lm_memory *m = test_memory_opts(&mo);
        unsetenv("LLMEMORY_AUTO_OPTIMIZE");
        PGconn *c = sql_conn();
        postings_index(before, sizeof(before), c);
        add_rounds(m, 4);
        lm_memory_close(m); /* would wait for a packing under way */
        postings_index(now, sizeof(now), c);
        ASSERT_EQ_STR(now, before);
        PQfinish(c);
    }
}
