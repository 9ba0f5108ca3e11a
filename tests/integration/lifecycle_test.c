/*
 * tests/integration/lifecycle_test.c: tenant export and import. A round trip into a new tenant
 * gives the same search results (ids at origin and scores) in text, vector and hybrid search;
 * importing twice changes nothing; truncated, corrupt and foreign streams are rejected with no
 * row written anywhere; an export is one snapshot while the tenant writes; another tenant's data
 * never enters an export and is never touched by an import.
 */
#include <libpq-fe.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

typedef struct {
    char *p;
    size_t n, cap;
} sink;

static int sink_write(const char *data, size_t len, void *payload)
{
    sink *s = payload;
    if (s->n + len + 1 > s->cap) {
        s->cap = (s->n + len + 1) * 2;
        s->p = realloc(s->p, s->cap);
        ASSERT(s->p != NULL);
    }
    memcpy(s->p + s->n, data, len);
    s->n += len;
    s->p[s->n] = '\0';
    return 0;
}

typedef struct {
    const char *p;
    size_t n, pos, step;
} source;

/* Hands out at most @c step bytes a call, so records are split across reads. */
static long source_read(char *buf, size_t cap, void *payload)
{
    source *s = payload;
    size_t k = s->n - s->pos;
    if (k > cap)
        k = cap;
    if (k > s->step)
        k = s->step;
    memcpy(buf, s->p + s->pos, k);
    s->pos += k;
    return (long)k;
}

static int import_text(lm_import_result *r, lm_memory *m, const char *owner, const char *p,
                       size_t n)
{
    source src = {p, n, 0, 777};
    return lm_tenant_import(r, m, owner, NULL, source_read, &src);
}

static void export_to(sink *s, lm_memory *m, const char *owner, int vectors)
{
    lm_export_opts o = LM_EXPORT_OPTS_INIT;
    lm_transfer_counts c;
    o.with_vectors = vectors;
    o.batch = 3; /* several FETCHes even for a small tenant */
    memset(s, 0, sizeof(*s));
    ASSERT_OK(lm_tenant_export(&c, m, owner, &o, sink_write, s));
    ASSERT(s->p != NULL);
}

static const char *const texts[] = {
    "# Ocean\n\nWaves and tides move over the coral reef. Fish hide in the reef.\n\n"
    "## Tides\n\nThe moon pulls the tides twice a day.",
    "Mountain glaciers carve valleys; climbers rope up on the snow.",
    "Bread needs flour, butter and a hot oven. The recipe rests the dough overnight.",
    "Football: the referee gave a goal in the stadium after the match restarted.",
    "Guitar chords carry the melody at the concert; the stage lights dim."};

static void fill(lm_memory *m, const char *owner)
{
    for (int i = 0; i < 5; i++) {
        char origin[16];
        lm_doc_add_opts o = LM_DOC_ADD_OPTS_INIT;
        lm_doc_add_result r;
        snprintf(origin, sizeof(origin), "doc-%d", i);
        o.metadata = i % 2 ? "{\"team\":\"blue\",\"n\":1}" : "{\"team\":\"red\"}";
        o.document_date = i == 0 ? "2024-05-01T10:00:00Z" : NULL;
        ASSERT_OK(lm_doc_add(&r, m, owner, origin, origin, i == 0 ? LM_DOC_MARKDOWN : LM_DOC_TEXT,
                             texts[i], strlen(texts[i]), &o));
    }
}

static void same_results(lm_memory *m, const char *a, const char *b, lm_search_type type,
                         const char *q)
{
    lm_search_opts o = LM_SEARCH_OPTS_INIT;
    lm_results *ra = NULL, *rb = NULL;
    o.type = type;
    o.no_history = 1;
    ASSERT_OK(lm_search(&ra, m, a, q, &o));
    ASSERT_OK(lm_search(&rb, m, b, q, &o));
    ASSERT(lm_results_count(ra) > 0);
    ASSERT_EQ_INT(lm_results_count(ra), lm_results_count(rb));
    for (size_t i = 0; i < lm_results_count(ra); i++) {
        const lm_hit *x = lm_results_at(ra, i), *y = lm_results_at(rb, i);
        ASSERT_EQ_STR(x->id_at_origin, y->id_at_origin);
        ASSERT_EQ_INT(x->chunk_index, y->chunk_index);
        ASSERT_EQ_STR(x->content, y->content);
        if (fabs(x->score - y->score) > 1e-12)
            lm_test_fail(__FILE__, __LINE__, "%s score %.17g != %.17g", q, x->score, y->score);
    }
    lm_results_free(ra);
    lm_results_free(rb);
}

static PGconn *db(void)
{
    PGconn *c = PQconnectdb(getenv("LLMEMORY_TEST_DATABASE_URL"));
    ASSERT(PQstatus(c) == CONNECTION_OK);
    return c;
}

/* Rows that belong to @p owner in every table of the test's schema that has an owner_id column,
 * found from the catalog (so a table added later is counted too), except the audit log, which
 * records failed imports and keeps the erasure record by design (audit_rows() counts it). */
static long long owner_rows(const char *owner)
{
    PGconn *c = db();
    const char *p[2] = {test_schema(), owner};
    PGresult *r = PQexecParams(c,
        "SELECT table_name FROM information_schema.columns"
        " WHERE table_schema = $1 AND column_name = 'owner_id' AND table_name <> 'audit_log'"
        " ORDER BY 1",
        1, NULL, p, NULL, NULL, 0);
    ASSERT(PQresultStatus(r) == PGRES_TUPLES_OK);
    ASSERT(PQntuples(r) >= 8);
    long long total = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        char sql[256];
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\".\"%s\" WHERE owner_id = $1",
                 test_schema(), PQgetvalue(r, i, 0));
        PGresult *n = PQexecParams(c, sql, 1, NULL, p + 1, NULL, NULL, 0);
        ASSERT(PQresultStatus(n) == PGRES_TUPLES_OK);
        total += strtoll(PQgetvalue(n, 0, 0), NULL, 10);
        PQclear(n);
    }
    PQclear(r);
    PQfinish(c);
    return total;
}

/* The owner's audit records of @p action (all actions when NULL). */
static long long audit_rows(const char *owner, const char *action)
{
    PGconn *c = db();
    char sql[256];
    const char *p[2] = {owner, action};
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM \"%s\".audit_log WHERE owner_id = $1"
             " AND ($2::text IS NULL OR action = $2)",
             test_schema());
    PGresult *r = PQexecParams(c, sql, 2, NULL, p, NULL, NULL, 0);
    ASSERT(PQresultStatus(r) == PGRES_TUPLES_OK);
    long long n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    PQfinish(c);
    return n;
}

TEST(test_lifecycle__round_trip_same_results)
{
    lm_memory *m = test_memory();
    sink s;
    lm_import_result r;
    lm_stats a, b;
    fill(m, "src");
    export_to(&s, m, "src", 1);
    ASSERT(strncmp(s.p, "{\"type\":\"header\",\"format\":\"llmemory-export\",\"version\":1", 54) == 0);
    ASSERT(strstr(s.p, "\"type\":\"trailer\"") != NULL);
    ASSERT(strstr(s.p, "\"embedding\" : [") != NULL);
    ASSERT_OK(import_text(&r, m, "dst", s.p, s.n));
    ASSERT_EQ_INT(r.counts.documents, 5);
    ASSERT_EQ_INT(r.documents_created, 5);
    ASSERT(r.counts.chunks >= 5);
    ASSERT(r.vectors_reused > 0);
    ASSERT_EQ_INT(r.vectors_reused, r.counts.vectors);
    ASSERT_EQ_INT(r.chunks_queued, 0);
    ASSERT_OK(lm_stats_get(&a, m, "src"));
    ASSERT_OK(lm_stats_get(&b, m, "dst"));
    ASSERT_EQ_INT(a.document_count, b.document_count);
    ASSERT_EQ_INT(a.chunk_count, b.chunk_count);
    ASSERT_EQ_INT(a.total_bytes, b.total_bytes);
    ASSERT_EQ_STR(a.first_created, b.first_created);
    const char *queries[] = {"reef tides", "oven bread recipe", "referee goal", "moon"};
    for (int i = 0; i < 4; i++) {
        same_results(m, "src", "dst", LM_SEARCH_TEXT, queries[i]);
        same_results(m, "src", "dst", LM_SEARCH_VECTOR, queries[i]);
        same_results(m, "src", "dst", LM_SEARCH_HYBRID, queries[i]);
    }
    /* The document fields came along. */
    lm_doc *d = NULL;
    ASSERT_OK(lm_doc_get_by_origin(&d, m, "dst", "doc-1", 1));
    ASSERT(strstr(lm_doc_document(d)->metadata, "blue") != NULL);
    lm_doc_free(d);
    ASSERT_OK(lm_doc_get_by_origin(&d, m, "dst", "doc-0", 1));
    ASSERT(strncmp(lm_doc_document(d)->document_date, "2024-05-01T10:00:00", 19) == 0);
    ASSERT_EQ_STR(lm_doc_type_name(lm_doc_document(d)->type), "markdown");
    lm_doc_free(d);
    free(s.p);
    lm_memory_close(m);
}

TEST(test_lifecycle__import_is_idempotent)
{
    lm_memory *m = test_memory();
    sink s, s2;
    lm_import_result r;
    lm_stats a, b;
    fill(m, "src");
    export_to(&s, m, "src", 1);
    ASSERT_OK(import_text(&r, m, "dst", s.p, s.n));
    ASSERT_OK(lm_stats_get(&a, m, "dst"));
    long long rows = owner_rows("dst");
    ASSERT_OK(import_text(&r, m, "dst", s.p, s.n));
    ASSERT_EQ_INT(r.documents_created, 0);
    ASSERT_OK(lm_stats_get(&b, m, "dst"));
    ASSERT_EQ_INT(a.document_count, b.document_count);
    ASSERT_EQ_INT(a.chunk_count, b.chunk_count);
    ASSERT_EQ_INT(owner_rows("dst"), rows);
    same_results(m, "src", "dst", LM_SEARCH_TEXT, "reef tides");
    same_results(m, "src", "dst", LM_SEARCH_HYBRID, "glacier snow");
    /* Into the tenant it came from: nothing changes, ids are kept. */
    ASSERT_OK(import_text(&r, m, "src", s.p, s.n));
    ASSERT_EQ_INT(r.documents_created, 0);
    export_to(&s2, m, "src", 1);
    /* Same documents and chunks, ids and times included: only the header's export time (and so
       the checksum) may differ. */
    ASSERT_EQ_INT(s.n, s2.n);
    *strstr(s.p, "{\"type\":\"trailer\"") = '\0';
    *strstr(s2.p, "{\"type\":\"trailer\"") = '\0';
    ASSERT_EQ_STR(strchr(s.p, '\n'), strchr(s2.p, '\n'));
    free(s.p);
    free(s2.p);
    lm_memory_close(m);
}

static void expect_rejected(lm_memory *m, const char *p, size_t n, const char *what)
{
    lm_import_result r;
    int rc = import_text(&r, m, "victim", p, n);
    if (rc != LM_EPARSE)
        lm_test_fail(__FILE__, __LINE__, "%s: expected LM_EPARSE, got %d %s", what, rc,
                     lm_error_last()->message);
    ASSERT(lm_error_last()->message[0] != '\0');
    ASSERT_EQ_INT(owner_rows("victim"), 0);
    /* ... and each rejection is in the audit log, as a failure. */
    ASSERT(audit_rows("victim", "tenant.import") > 0);
}

TEST(test_lifecycle__bad_streams_write_nothing)
{
    lm_memory *m = test_memory();
    sink s;
    fill(m, "src");
    export_to(&s, m, "src", 1);
    char *copy = malloc(s.n + 64);
    ASSERT(copy != NULL);

    /* Truncated: everywhere from the middle of the header to just before the trailer's end. */
    const char *trailer = strstr(s.p, "{\"type\":\"trailer\"");
    size_t cuts[] = {0, 10, s.n / 3, s.n / 2, (size_t)(trailer - s.p), (size_t)(trailer - s.p) + 5,
                     s.n - 3};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        expect_rejected(m, s.p, cuts[i], "truncated");
        if (cuts[i] == (size_t)(trailer - s.p))
            ASSERT(strstr(lm_error_last()->message, "truncated") != NULL);
    }

    /* Corrupt: one byte of one chunk's content changed (still valid JSON). */
    memcpy(copy, s.p, s.n + 1);
    char *c = strstr(copy, "Mountain");
    ASSERT(c != NULL);
    c[0] = 'X';
    expect_rejected(m, copy, s.n, "corrupt");
    ASSERT(strstr(lm_error_last()->message, "checksum") != NULL);

    /* A record that is not JSON. */
    memcpy(copy, s.p, s.n + 1);
    c = strstr(copy, "{\"type\" : \"chunk\"");
    ASSERT(c != NULL);
    c[0] = '[';
    expect_rejected(m, copy, s.n, "not json");

    /* Foreign version. */
    memcpy(copy, s.p, s.n + 1);
    c = strstr(copy, "\"version\":1");
    ASSERT(c != NULL);
    c[10] = '7';
    expect_rejected(m, copy, s.n, "version");
    ASSERT(strstr(lm_error_last()->message, "unsupported export format version 7") != NULL);

    /* Not an export at all; empty. */
    expect_rejected(m, "{\"hello\":1}\n", 12, "foreign");
    expect_rejected(m, "", 0, "empty");

    /* Records after the trailer. */
    memcpy(copy, s.p, s.n + 1);
    memcpy(copy + s.n, "{\"type\":\"chunk\"}\n", 17);
    expect_rejected(m, copy, s.n + 17, "after trailer");

    /* A shape error deep in the stream, after batches were staged: still nothing written. */
    memcpy(copy, s.p, s.n + 1);
    c = strstr(copy, "\"searchable\" : true");
    ASSERT(c != NULL);
    memcpy(c, "\"searchable\" : 1   ", 19);
    expect_rejected(m, copy, s.n, "shape");
    ASSERT(strstr(lm_error_last()->message, "searchable") != NULL);

    /* A bad stream into a tenant that has data leaves that data as it was. */
    long long before = owner_rows("src");
    lm_import_result r;
    ASSERT_ERR(import_text(&r, m, "src", s.p, s.n / 2), LM_EPARSE);
    ASSERT_EQ_INT(owner_rows("src"), before);
    free(copy);
    free(s.p);
    lm_memory_close(m);
}

typedef struct {
    lm_memory *m;
    int added;
} writer_during;

/* Adds a document to the tenant being exported, once the export's snapshot is taken. */
static void write_meanwhile(int64_t done, int64_t total, void *payload)
{
    writer_during *w = payload;
    (void)done;
    (void)total;
    if (w->added++ == 0)
        test_add(w->m, "src", "late", "A late document about volcanoes and lava.", NULL);
}

TEST(test_lifecycle__export_is_one_snapshot)
{
    lm_memory *m = test_memory();
    writer_during w = {m, 0};
    lm_export_opts o = LM_EXPORT_OPTS_INIT;
    lm_transfer_counts c;
    lm_import_result r;
    lm_stats st;
    sink s = {0};
    fill(m, "src");
    o.progress = write_meanwhile;
    o.progress_payload = &w;
    o.batch = 2;
    ASSERT_OK(lm_tenant_export(&c, m, "src", &o, sink_write, &s));
    ASSERT(w.added > 1);
    ASSERT_EQ_INT(c.documents, 5);
    ASSERT(strstr(s.p, "volcanoes") == NULL);
    ASSERT_OK(lm_stats_get(&st, m, "src"));
    ASSERT_EQ_INT(st.document_count, 6);
    ASSERT_OK(import_text(&r, m, "dst", s.p, s.n));
    ASSERT_EQ_INT(r.counts.documents, 5);
    free(s.p);
    lm_memory_close(m);
}

TEST(test_lifecycle__without_vectors_the_queue_embeds)
{
    lm_memory *m = test_memory();
    sink s;
    lm_import_result r;
    lm_embed_run_result er;
    fill(m, "src");
    export_to(&s, m, "src", 0);
    ASSERT(strstr(s.p, "\"embedding\"") == NULL);
    ASSERT_OK(import_text(&r, m, "dst", s.p, s.n));
    ASSERT_EQ_INT(r.vectors_reused, 0);
    ASSERT(r.chunks_queued > 0);
    ASSERT_OK(lm_embed_run(&er, m, NULL));
    same_results(m, "src", "dst", LM_SEARCH_VECTOR, "reef tides");
    same_results(m, "src", "dst", LM_SEARCH_HYBRID, "oven bread");
    free(s.p);
    lm_memory_close(m);
}

TEST(test_lifecycle__cross_tenant)
{
    lm_memory *m = test_memory();
    sink s, e;
    lm_import_result r;
    lm_transfer_counts c;
    fill(m, "alpha");
    test_add(m, "beta", "doc-1", "Beta's private note about pineapples.", NULL);
    test_add(m, "alpha/sub", "doc-9", "A sub-tenant note about mangoes.", NULL);
    long long beta = owner_rows("beta");
    export_to(&s, m, "alpha", 1);
    ASSERT(strstr(s.p, "pineapples") == NULL);
    ASSERT(strstr(s.p, "mangoes") == NULL);
    /* Importing alpha's export into beta replaces beta's doc-1 only (same origin), nothing of
       alpha changes, and an unknown tenant exports an empty stream. */
    ASSERT_OK(import_text(&r, m, "gamma", s.p, s.n));
    ASSERT_EQ_INT(owner_rows("beta"), beta);
    memset(&e, 0, sizeof(e));
    ASSERT_OK(lm_tenant_export(&c, m, "nobody", NULL, sink_write, &e));
    ASSERT_EQ_INT(c.documents, 0);
    ASSERT_EQ_INT(c.chunks, 0);
    ASSERT_OK(import_text(&r, m, "nobody2", e.p, e.n));
    ASSERT_EQ_INT(r.counts.documents, 0);
    ASSERT_EQ_INT(owner_rows("nobody2"), 0);
    ASSERT_ERR(lm_tenant_export(&c, m, "' OR 1=1 --", NULL, sink_write, &e), LM_EINVAL);
    ASSERT_ERR(import_text(&r, m, "' OR 1=1 --", s.p, s.n), LM_EINVAL);
    free(s.p);
    free(e.p);
    lm_memory_close(m);
}

static int failing_write(const char *data, size_t len, void *payload)
{
    (void)data;
    (void)len;
    (void)payload;
    return LM_EIO;
}

TEST(test_lifecycle__sink_error_stops_export)
{
    lm_memory *m = test_memory();
    lm_transfer_counts c;
    fill(m, "src");
    ASSERT_ERR(lm_tenant_export(&c, m, "src", NULL, failing_write, NULL), LM_EIO);
    lm_memory_close(m);
}

/* ---- erasure ---------------------------------------------------------------------------------- */

static void results_text(char *out, size_t cap, lm_memory *m, const char *owner, lm_search_type t,
                         const char *q)
{
    lm_search_opts o = LM_SEARCH_OPTS_INIT;
    lm_results *res = NULL;
    size_t k = 0;
    o.type = t;
    o.no_history = 1;
    ASSERT_OK(lm_search(&res, m, owner, q, &o));
    out[0] = '\0';
    for (size_t i = 0; i < lm_results_count(res) && k + 100 < cap; i++) {
        const lm_hit *h = lm_results_at(res, i);
        k += (size_t)snprintf(out + k, cap - k, "%s/%d/%.17g;", h->id_at_origin, h->chunk_index,
                              h->score);
    }
    lm_results_free(res);
}

TEST(test_lifecycle__erase_leaves_nothing)
{
    lm_memory_opts mo = LM_MEMORY_OPTS_INIT;
    lm_memory *m;
    lm_erase_report rep;
    lm_key_created key;
    lm_results *res = NULL;
    lm_import_result r;
    sink s;
    char before[3][4096], after[4096];
    mo.vector_index_threshold = 4; /* both tenants get their own HNSW index */
    m = test_memory_opts(&mo);
    fill(m, "victim");
    fill(m, "bystander");
    /* Queue entries (an import without vectors queues its chunks), history, keys. */
    test_add(m, "src", "q1", "Queued chunk about lighthouses and ferries.", NULL);
    export_to(&s, m, "src", 0);
    ASSERT_OK(import_text(&r, m, "victim", s.p, s.n));
    ASSERT(r.chunks_queued > 0);
    ASSERT_OK(lm_search(&res, m, "victim", "reef", NULL));
    lm_results_free(res);
    ASSERT_OK(lm_search(&res, m, "bystander", "reef", NULL));
    lm_results_free(res);
    ASSERT_OK(lm_key_create(&key, m, "victim", NULL));
    lm_key_created_dispose(&key);
    ASSERT_OK(lm_key_create(&key, m, "bystander", NULL));
    lm_key_created_dispose(&key);
    test_add(m, "victim/sub", "s1", "A sub-tenant keeps its own data.", NULL);
    /* The tenants' vector indexes are built in the background (at a lower CPU priority): count
       the bystander's rows once they are there. */
    lm_memory_wait_index_builds(m);

    const char *q = "reef tides bread";
    results_text(before[0], sizeof(before[0]), m, "bystander", LM_SEARCH_TEXT, q);
    results_text(before[1], sizeof(before[1]), m, "bystander", LM_SEARCH_VECTOR, q);
    results_text(before[2], sizeof(before[2]), m, "bystander", LM_SEARCH_HYBRID, q);
    long long by_rows = owner_rows("bystander"), sub_rows = owner_rows("victim/sub");
    ASSERT(owner_rows("victim") > 0);

    ASSERT_OK(lm_tenant_erase_report(&rep, m, "victim"));
    ASSERT_EQ_INT(rep.documents, 6);
    ASSERT(rep.chunks >= 6);
    ASSERT(rep.vectors >= 5);
    ASSERT(rep.queue_entries >= 1);
    ASSERT(rep.postings > 0);
    ASSERT(rep.terms > 0);
    ASSERT_EQ_INT(rep.history, 1);
    ASSERT_EQ_INT(rep.vector_indexes, 1);
    ASSERT_EQ_INT(rep.api_keys, 1);
    /* Every table with an owner_id, from the catalog: nothing of the victim is left but the
       erasure record in the audit log. */
    ASSERT_EQ_INT(owner_rows("victim"), 0);
    ASSERT_EQ_INT(audit_rows("victim", NULL), 1);
    ASSERT_EQ_INT(audit_rows("victim", "tenant.erase"), 1);
    ASSERT(audit_rows("bystander", "key.create") == 1);
    {
        PGconn *c = db();
        const char *p[1] = {test_schema()};
        PGresult *x = PQexecParams(c, "SELECT count(*) FROM pg_indexes WHERE schemaname = $1"
                                      " AND indexdef LIKE '%victim%'",
                                   1, NULL, p, NULL, NULL, 0);
        ASSERT(PQresultStatus(x) == PGRES_TUPLES_OK);
        ASSERT_EQ_STR(PQgetvalue(x, 0, 0), "0");
        PQclear(x);
        PQfinish(c);
    }
    /* The others are untouched, and search exactly as before. */
    ASSERT_EQ_INT(owner_rows("bystander"), by_rows);
    ASSERT_EQ_INT(owner_rows("victim/sub"), sub_rows);
    results_text(after, sizeof(after), m, "bystander", LM_SEARCH_TEXT, q);
    ASSERT_EQ_STR(after, before[0]);
    results_text(after, sizeof(after), m, "bystander", LM_SEARCH_VECTOR, q);
    ASSERT_EQ_STR(after, before[1]);
    results_text(after, sizeof(after), m, "bystander", LM_SEARCH_HYBRID, q);
    ASSERT_EQ_STR(after, before[2]);
    /* Erasing again finds nothing; an invalid owner is refused. */
    ASSERT_OK(lm_tenant_erase_report(&rep, m, "victim"));
    ASSERT_EQ_INT(rep.documents + rep.chunks + rep.api_keys, 0);
    ASSERT_EQ_INT(rep.other_rows, 1); /* the first erasure record, replaced by the second */
    ASSERT_EQ_INT(audit_rows("victim", NULL), 1);
    ASSERT_ERR(lm_tenant_erase_report(&rep, m, "' OR 1=1 --"), LM_EINVAL);
    free(s.p);
    lm_memory_close(m);
}

/* Background erasure: the mark makes the tenant invisible to every call at once (reads find
 * nothing, writes and its keys are refused) while its rows are still there; a cleanup cut short
 * (the memory closed, as by a crash) resumes in another memory from the mark, and only then is
 * the owner id free again. The cleanup is held back by taking its per-tenant lock. */
TEST(test_lifecycle__erase_start_invisible_at_once_then_resumes)
{
    lm_memory_opts mo = LM_MEMORY_OPTS_INIT;
    lm_memory *m, *m2;
    lm_erase_report rep;
    lm_key_created key;
    lm_principal who;
    lm_results *res = NULL;
    lm_stats st;
    lm_doc_add_result ar;
    int64_t n = -1;
    char before[4096], after[4096];
    mo.vector_index_threshold = 4;
    m = test_memory_opts(&mo);
    fill(m, "victim");
    fill(m, "bystander");
    ASSERT_OK(lm_key_create(&key, m, "victim", NULL));
    lm_memory_wait_index_builds(m);
    results_text(before, sizeof(before), m, "bystander", LM_SEARCH_HYBRID, "reef tides bread");
    long long rows = owner_rows("victim");
    ASSERT(rows > 20);

    PGconn *hold = db();
    const char *hp[1] = {"victim"};
    PGresult *x = PQexecParams(hold, "SELECT pg_advisory_lock(hashtextextended($1, 1280114693))",
                               1, NULL, hp, NULL, NULL, 0);
    ASSERT(PQresultStatus(x) == PGRES_TUPLES_OK);
    PQclear(x);

    ASSERT_OK(lm_tenant_erase_start(&rep, m, "victim"));
    ASSERT_EQ_INT(rep.documents, 5);
    ASSERT_EQ_INT(rep.api_keys, 1);
    ASSERT_OK(lm_erasure_pending(&n, m));
    ASSERT_EQ_INT(n, 1);
    /* Still stored, invisible to every call: */
    ASSERT(owner_rows("victim") >= rows - 1);
    for (int t = 0; t < 3; t++) {
        lm_search_opts so = LM_SEARCH_OPTS_INIT;
        so.type = t == 0 ? LM_SEARCH_TEXT : t == 1 ? LM_SEARCH_VECTOR : LM_SEARCH_HYBRID;
        ASSERT_OK(lm_search(&res, m, "victim", "reef tides bread", &so));
        ASSERT_EQ_INT(lm_results_count(res), 0);
        lm_results_free(res);
    }
    ASSERT_OK(lm_stats_get(&st, m, "victim"));
    ASSERT_EQ_INT(st.document_count, 0);
    ASSERT_EQ_INT(st.chunk_count, 0);
    {
        lm_doc *d = NULL;
        ASSERT_ERR(lm_doc_get_by_origin(&d, m, "victim", "doc-1", 0), LM_ENOTFOUND);
    }
    {
        sink s;
        export_to(&s, m, "victim", 1);
        ASSERT(strstr(s.p, "\"type\":\"document\"") == NULL);
        free(s.p);
    }
    ASSERT_ERR(lm_key_verify(&who, m, key.key), LM_EPERM);
    ASSERT_ERR(lm_doc_add(&ar, m, "victim", "late", "late", LM_DOC_TEXT, "Late write.", 11, NULL),
               LM_ECONFLICT);
    /* A sub-tenant and another tenant go on as before. */
    test_add(m, "victim/sub", "s1", "A sub-tenant keeps working.", NULL);
    results_text(after, sizeof(after), m, "bystander", LM_SEARCH_HYBRID, "reef tides bread");
    ASSERT_EQ_STR(after, before);

    /* "Crash": the memory goes before any cleanup; another one resumes it. */
    lm_memory_close(m);
    ASSERT(owner_rows("victim") >= rows - 1);
    x = PQexecParams(hold, "SELECT pg_advisory_unlock(hashtextextended($1, 1280114693))", 1, NULL,
                     hp, NULL, NULL, 0);
    PQclear(x);
    PQfinish(hold);
    mo.schema = test_schema();
    ASSERT_OK(lm_memory_open(&m2, &mo));
    ASSERT_OK(lm_erasure_resume(&n, m2));
    ASSERT_EQ_INT(n, 1);
    lm_erasure_wait(m2);
    ASSERT_OK(lm_erasure_pending(&n, m2));
    ASSERT_EQ_INT(n, 0);
    ASSERT_EQ_INT(owner_rows("victim"), 0);
    ASSERT_EQ_INT(audit_rows("victim", NULL), 1);
    {
        lm_audit_page *p = NULL;
        ASSERT_OK(lm_audit_list(&p, m2, "victim", 10));
        ASSERT_EQ_INT(lm_audit_page_count(p), 1);
        const lm_audit_entry *e = lm_audit_page_at(p, 0);
        ASSERT_EQ_STR(e->action, "tenant.erase");
        ASSERT(strstr(e->detail, "\"state\": \"finished\"") != NULL);
        ASSERT(strstr(e->detail, "\"documents\": 5") != NULL);
        ASSERT(strstr(e->detail, "\"postings\": ") != NULL);
        lm_audit_page_free(p);
    }
    results_text(after, sizeof(after), m2, "bystander", LM_SEARCH_HYBRID, "reef tides bread");
    ASSERT_EQ_STR(after, before);
    /* Free again: the owner id starts afresh. */
    test_add(m2, "victim", "new", "A new life about reefs.", NULL);
    ASSERT_OK(lm_stats_get(&st, m2, "victim"));
    ASSERT_EQ_INT(st.document_count, 1);
    lm_key_created_dispose(&key);
    lm_memory_close(m2);
}

/* ---- audit log ------------------------------------------------------------------------------- */

TEST(test_lifecycle__audit_log)
{
    lm_memory *m = test_memory();
    lm_key_created key;
    lm_quota q = {5, LM_QUOTA_DEFAULT, LM_QUOTA_DEFAULT, LM_QUOTA_DEFAULT};
    lm_audit_page *p = NULL;
    lm_import_result r;
    sink s;
    fill(m, "acme");
    lm_audit_context_set("cli:alice", "10.0.0.7");
    ASSERT_OK(lm_key_create(&key, m, "acme", NULL));
    ASSERT_OK(lm_key_revoke(m, "acme", 0, key.key_id));
    lm_key_created_dispose(&key);
    ASSERT_OK(lm_quota_set(m, "acme", &q));
    export_to(&s, m, "acme", 0);
    ASSERT_OK(import_text(&r, m, "acme", s.p, s.n));
    ASSERT_ERR(import_text(&r, m, "acme", s.p, s.n / 2), LM_EPARSE);
    lm_audit_context_set(NULL, NULL);
    ASSERT_OK(lm_key_create(&key, m, "globex", NULL));
    lm_key_created_dispose(&key);

    ASSERT_OK(lm_audit_list(&p, m, "acme", 100));
    ASSERT_EQ_INT(lm_audit_page_count(p), 6);
    const char *want[] = {"tenant.import", "tenant.import", "tenant.export", "quota.set",
                          "key.revoke", "key.create"};
    for (size_t i = 0; i < 6; i++) {
        const lm_audit_entry *e = lm_audit_page_at(p, i);
        ASSERT_EQ_STR(e->action, want[i]);
        ASSERT_EQ_STR(e->actor, "cli:alice");
        ASSERT_EQ_STR(e->source, "10.0.0.7");
        ASSERT(e->at[0] == '2');
    }
    ASSERT_EQ_STR(lm_audit_page_at(p, 0)->outcome, "failure");
    ASSERT(strstr(lm_audit_page_at(p, 0)->detail, "truncated") != NULL ||
           strstr(lm_audit_page_at(p, 0)->detail, "JSON") != NULL);
    ASSERT_EQ_STR(lm_audit_page_at(p, 1)->outcome, "success");
    ASSERT(strstr(lm_audit_page_at(p, 3)->detail, "\"documents\": 5") != NULL);
    lm_audit_page_free(p);
    /* Another tenant's records are not in acme's list, and the other way round. */
    ASSERT_OK(lm_audit_list(&p, m, "globex", 100));
    ASSERT_EQ_INT(lm_audit_page_count(p), 1);
    ASSERT_EQ_STR(lm_audit_page_at(p, 0)->actor, "library");
    ASSERT(lm_audit_page_at(p, 0)->source == NULL);
    lm_audit_page_free(p);
    ASSERT_OK(lm_audit_list(&p, m, "nobody", 100));
    ASSERT_EQ_INT(lm_audit_page_count(p), 0);
    lm_audit_page_free(p);
    ASSERT_ERR(lm_audit_list(&p, m, "acme", 0), LM_EINVAL);
    /* Append-only, even for the schema's owner. */
    {
        PGconn *c = db();
        char sql[200];
        snprintf(sql, sizeof(sql), "UPDATE \"%s\".audit_log SET actor = 'mallory'", test_schema());
        PGresult *x = PQexec(c, sql);
        ASSERT(PQresultStatus(x) == PGRES_FATAL_ERROR);
        ASSERT(strstr(PQresultErrorMessage(x), "append-only") != NULL);
        PQclear(x);
        snprintf(sql, sizeof(sql), "DELETE FROM \"%s\".audit_log", test_schema());
        x = PQexec(c, sql);
        ASSERT(PQresultStatus(x) == PGRES_FATAL_ERROR);
        PQclear(x);
        PQfinish(c);
    }
    free(s.p);
    lm_memory_close(m);
}

/* Authentication failures: recorded with who (key id), what (reason), when, from where, in the
 * key's tenant's log (never another's) or the server's; a flood writes a bounded number of
 * records that still account for every failure ("failures"). */
static long long audit_sum(lm_audit_page *p, long long *records)
{
    long long total = 0;
    *records = 0;
    for (size_t i = 0; i < lm_audit_page_count(p); i++) {
        const lm_audit_entry *e = lm_audit_page_at(p, i);
        const char *r = strstr(e->detail, "\"failures\": ");
        if (strcmp(e->action, "auth.failure") != 0 || r == NULL)
            continue;
        (*records)++;
        total += strtoll(r + 12, NULL, 10);
    }
    return total;
}

TEST(test_lifecycle__auth_failures_audited_and_bounded)
{
    lm_memory_opts mo = LM_MEMORY_OPTS_INIT;
    lm_memory *m = test_memory_opts(&mo);
    lm_key_created key;
    lm_audit_page *p = NULL;
    long long recs = 0;
    ASSERT_OK(lm_key_create(&key, m, "acme", NULL));
    test_add(m, "globex", "g", "Globex keeps its own log.", NULL);
    for (int i = 0; i < 100; i++)
        lm_audit_auth_failure(m, "key", key.key_id, "invalid", "10.0.0.1");
    ASSERT_OK(lm_audit_list(&p, m, "acme", 100));
    ASSERT_EQ_INT(audit_sum(p, &recs), 1); /* the first at once, the rest counted */
    ASSERT_EQ_INT(recs, 1);
    {
        const lm_audit_entry *e = lm_audit_page_at(p, 0);
        char want[64];
        snprintf(want, sizeof(want), "\"key_id\": \"%s\"", key.key_id);
        ASSERT_EQ_STR(e->action, "auth.failure");
        ASSERT_EQ_STR(e->outcome, "failure");
        ASSERT_EQ_STR(e->source, "10.0.0.1");
        ASSERT(strstr(e->actor, key.key_id) != NULL);
        ASSERT(strstr(e->detail, want) != NULL);
        ASSERT(strstr(e->detail, "\"reason\": \"invalid\"") != NULL);
        ASSERT(strstr(e->detail, key.key) == NULL || strlen(key.key) == 0);
    }
    lm_audit_page_free(p);
    /* Another tenant sees none of it. */
    ASSERT_OK(lm_audit_list(&p, m, "globex", 100));
    ASSERT_EQ_INT(audit_sum(p, &recs), 0);
    lm_audit_page_free(p);
    /* A flood from 200 addresses with unknown keys and no credential: bounded records. */
    for (int a = 0; a < 200; a++) {
        char src[32];
        snprintf(src, sizeof(src), "192.0.2.%d", a);
        for (int i = 0; i < 5; i++)
            lm_audit_auth_failure(m, i % 2 ? "key" : NULL, i % 2 ? "00000000000000ff" : NULL,
                                  i % 2 ? "invalid" : "missing", src);
    }
    ASSERT_OK(lm_audit_list_server(&p, m, 10000));
    audit_sum(p, &recs);
    ASSERT(recs > 0 && recs <= 130);
    lm_audit_page_free(p);
    /* At close every count not yet reported gets its record: nothing is lost. */
    lm_memory_close(m);
    mo.schema = test_schema();
    ASSERT_OK(lm_memory_open(&m, &mo));
    ASSERT_OK(lm_audit_list_server(&p, m, 10000));
    ASSERT_EQ_INT(audit_sum(p, &recs), 1000);
    ASSERT(recs <= 300);
    lm_audit_page_free(p);
    ASSERT_OK(lm_audit_list(&p, m, "acme", 100));
    ASSERT_EQ_INT(audit_sum(p, &recs), 100);
    ASSERT_EQ_INT(recs, 2);
    lm_audit_page_free(p);
    ASSERT_ERR(lm_audit_list(&p, m, NULL, 10), LM_EINVAL);
    lm_key_created_dispose(&key);
    lm_memory_close(m);
}
