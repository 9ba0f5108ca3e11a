/*
 * tests/integration/doc_test.c: documents on a real PostgreSQL: upsert identity, atomic
 * re-index, validation before I/O, list/get/delete/stats, NUL stripping.
 */
#include <string.h>

#include "support.h"

static const char *const essay =
    "Photosynthesis converts light energy into chemical energy. Plants capture sunlight with "
    "chlorophyll.\n\nThe Calvin cycle fixes carbon dioxide into sugars. Enzymes such as RuBisCO "
    "drive the reaction.";

TEST(test_doc__add_get_roundtrip)
{
    lm_memory *m = test_memory();
    lm_doc_add_opts o = LM_DOC_ADD_OPTS_INIT;
    o.metadata = "{\"source\":\"biology\",\"year\":2024}";
    o.document_date = "2024-05-01";
    lm_doc_add_result r;
    ASSERT_OK(lm_doc_add(&r, m, "acme", "bio-1", "Photosynthesis", LM_DOC_TEXT, essay,
                         strlen(essay), &o));
    ASSERT_EQ_INT(r.created, 1);
    ASSERT(r.chunk_count >= 1);
    lm_doc *d = NULL;
    ASSERT_OK(lm_doc_get(&d, m, "acme", r.document_id, 1));
    const lm_document *doc = lm_doc_document(d);
    ASSERT_EQ_STR(doc->document_id, r.document_id);
    ASSERT_EQ_STR(doc->owner_id, "acme");
    ASSERT_EQ_STR(doc->id_at_origin, "bio-1");
    ASSERT_EQ_STR(doc->name, "Photosynthesis");
    ASSERT_EQ_INT(doc->type, LM_DOC_TEXT);
    ASSERT(doc->document_date != NULL && strncmp(doc->document_date, "2024-05-01", 10) == 0);
    ASSERT(strstr(doc->metadata, "\"source\": \"biology\"") != NULL);
    ASSERT_EQ_STR(doc->text_config, "english");
    ASSERT_EQ_INT(doc->content_bytes, strlen(essay));
    ASSERT_EQ_INT(lm_doc_chunk_count(d), r.chunk_count);
    ASSERT_EQ_INT(doc->chunk_count, r.chunk_count);
    for (size_t i = 0; i < lm_doc_chunk_count(d); i++) {
        const lm_chunk *c = lm_doc_chunk_at(d, i);
        ASSERT_EQ_INT(c->chunk_index, (int)i);
        ASSERT_EQ_INT(strlen(c->content_hash), 64);
        ASSERT(strstr(essay, c->content) != NULL);
    }
    lm_doc_free(d);
    lm_memory_close(m);
}

TEST(test_doc__upsert_keeps_id_and_replaces_chunks)
{
    lm_memory *m = test_memory();
    char id1[37], id2[37];
    test_add(m, "acme", "doc", "The first version talks about apples.", id1);
    lm_doc_add_result r;
    const char *v2 = "The second version talks about oranges.";
    ASSERT_OK(lm_doc_add(&r, m, "acme", "doc", "renamed", LM_DOC_MARKDOWN, v2, strlen(v2), NULL));
    memcpy(id2, r.document_id, sizeof(id2));
    ASSERT_EQ_STR(id1, id2);
    ASSERT_EQ_INT(r.created, 0);
    lm_doc *d = NULL;
    ASSERT_OK(lm_doc_get(&d, m, "acme", id1, 1));
    ASSERT_EQ_STR(lm_doc_document(d)->name, "renamed");
    ASSERT_EQ_INT(lm_doc_document(d)->type, LM_DOC_MARKDOWN);
    ASSERT(strcmp(lm_doc_document(d)->created_at, lm_doc_document(d)->updated_at) < 0);
    ASSERT_EQ_INT(lm_doc_chunk_count(d), 1);
    ASSERT(strstr(lm_doc_chunk_at(d, 0)->content, "oranges") != NULL);
    lm_doc_free(d);
    lm_results *res = NULL;
    ASSERT_OK(lm_search(&res, m, "acme", "apples", NULL));
    ASSERT_EQ_INT(lm_results_count(res), 0);
    lm_results_free(res);
    ASSERT_OK(lm_search(&res, m, "acme", "oranges", NULL));
    ASSERT_EQ_INT(lm_results_count(res), 1);
    lm_results_free(res);
    lm_doc_page *page = NULL;
    ASSERT_OK(lm_doc_list(&page, m, "acme", NULL));
    ASSERT_EQ_INT(lm_doc_page_total(page), 1);
    lm_doc_page_free(page);
    lm_memory_close(m);
}

TEST(test_doc__failed_reindex_leaves_old_document)
{
    lm_memory *m = test_memory();
    char id[37];
    test_add(m, "acme", "doc", "Glaciers carve valleys over millennia.", id);
    /* A text search configuration that does not exist fails inside the transaction, after the
       upsert and the delete of the old chunks: everything must roll back. */
    lm_doc_add_opts o = LM_DOC_ADD_OPTS_INIT;
    o.text_config = "no_such_config";
    const char *v2 = "Volcanoes build islands.";
    int rc = lm_doc_add(NULL, m, "acme", "doc", "new name", LM_DOC_TEXT, v2, strlen(v2), &o);
    ASSERT(rc < 0);
    lm_results *res = NULL;
    ASSERT_OK(lm_search(&res, m, "acme", "glaciers valleys", NULL));
    ASSERT_EQ_INT(lm_results_count(res), 1);
    ASSERT_EQ_STR(lm_results_at(res, 0)->document_id, id);
    lm_results_free(res);
    lm_doc *d = NULL;
    ASSERT_OK(lm_doc_get(&d, m, "acme", id, 0));
    ASSERT_EQ_STR(lm_doc_document(d)->name, "doc");
    lm_doc_free(d);
    lm_memory_close(m);
}

/* A schema-qualified text search configuration whose schema does not exist is the caller's
   error (422 over HTTP), like an unknown configuration, not a database failure (found by the
   OpenAPI fuzz of the server), and nothing is written. */
TEST(test_doc__text_config_in_a_missing_schema_is_invalid)
{
    lm_memory *m = test_memory();
    lm_doc_add_opts o = LM_DOC_ADD_OPTS_INIT;
    lm_search_opts so = LM_SEARCH_OPTS_INIT;
    lm_results *res = NULL;
    lm_stats st;

    o.text_config = "no_such_schema.english";
    ASSERT_ERR(lm_doc_add(NULL, m, "acme", "doc", "n", LM_DOC_TEXT, "text", 4, &o), LM_EINVAL);
    ASSERT(strstr(lm_error_last()->message, "no_such_schema") != NULL);
    so.text_config = "no_such_schema.english";
    ASSERT_ERR(lm_search(&res, m, "acme", "text", &so), LM_EINVAL);
    ASSERT_OK(lm_stats_get(&st, m, "acme"));
    ASSERT_EQ_INT(st.document_count, 0);
    lm_memory_close(m);
}

TEST(test_doc__nul_bytes_stripped)
{
    lm_memory *m = test_memory();
    const char raw[] = "nul\0 bytes\0 vanish";
    lm_doc_add_result r;
    ASSERT_OK(lm_doc_add(&r, m, "acme", "nul", "nul", LM_DOC_TEXT, raw, sizeof(raw) - 1, NULL));
    lm_doc *d = NULL;
    ASSERT_OK(lm_doc_get(&d, m, "acme", r.document_id, 1));
    ASSERT_EQ_STR(lm_doc_chunk_at(d, 0)->content, "nul bytes vanish");
    ASSERT_EQ_INT(lm_doc_document(d)->content_bytes, strlen("nul bytes vanish"));
    lm_doc_free(d);
    lm_memory_close(m);
}

TEST(test_doc__validation_before_io)
{
    /* Every malformed argument is refused with the field named, and nothing is written. */
    lm_memory *m = test_memory();
    const char *c = "content";
    ASSERT_ERR(lm_doc_add(NULL, m, "", "x", "n", LM_DOC_TEXT, c, 7, NULL), LM_EINVAL);
    ASSERT_EQ_STR(lm_error_last()->field, "owner_id");
    ASSERT_ERR(lm_doc_add(NULL, m, "acme", "", "n", LM_DOC_TEXT, c, 7, NULL), LM_EINVAL);
    ASSERT_EQ_STR(lm_error_last()->field, "id_at_origin");
    ASSERT_ERR(lm_doc_add(NULL, m, "acme", "x", "", LM_DOC_TEXT, c, 7, NULL), LM_EINVAL);
    ASSERT_EQ_STR(lm_error_last()->field, "document_name");
    ASSERT_ERR(lm_doc_add(NULL, m, "acme", "x", "n", (lm_doc_type)99, c, 7, NULL), LM_EINVAL);
    ASSERT_EQ_STR(lm_error_last()->field, "document_type");
    lm_doc_add_opts o = LM_DOC_ADD_OPTS_INIT;
    o.metadata = "[1,2]";
    ASSERT_ERR(lm_doc_add(NULL, m, "acme", "x", "n", LM_DOC_TEXT, c, 7, &o), LM_EINVAL);
    ASSERT_EQ_STR(lm_error_last()->field, "metadata");
    o.metadata = "{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":{\"i\":{\"j\":{\"k\":1}}}}}}}}}}}";
    ASSERT_ERR(lm_doc_add(NULL, m, "acme", "x", "n", LM_DOC_TEXT, c, 7, &o), LM_EINVAL);
    o.metadata = "{\"a\":1";
    ASSERT_ERR(lm_doc_add(NULL, m, "acme", "x", "n", LM_DOC_TEXT, c, 7, &o), LM_EINVAL);
    o.metadata = NULL;
    o.document_date = "2024-02-30";
    ASSERT_ERR(lm_doc_add(NULL, m, "acme", "x", "n", LM_DOC_TEXT, c, 7, &o), LM_EINVAL);
    ASSERT_EQ_STR(lm_error_last()->field, "document_date");
    ASSERT_ERR(lm_doc_add(NULL, m, "acme", "x", "n", LM_DOC_TEXT, "\xff\xfe", 2, NULL), LM_EINVAL);
    ASSERT_EQ_STR(lm_error_last()->field, "content");
    lm_memory_close(m);

    lm_memory_opts mo = LM_MEMORY_OPTS_INIT;
    mo.max_content_bytes = 16;
    m = test_memory_opts(&mo);
    const char *big = "this content is longer than sixteen bytes";
    ASSERT_ERR(lm_doc_add(NULL, m, "acme", "x", "n", LM_DOC_TEXT, big, strlen(big), NULL), LM_EINVAL);
    ASSERT_EQ_STR(lm_error_last()->field, "content");
    lm_stats st;
    ASSERT_OK(lm_stats_get(&st, m, "acme"));
    ASSERT_EQ_INT(st.document_count, 0);
    lm_memory_close(m);
}

TEST(test_doc__owner_and_origin_rules)
{
    lm_memory *m = test_memory();
    const char *good_owners[] = {"acme", "org-123/workspace-456", "a.b_c-d", "A/B/C"};
    for (size_t i = 0; i < sizeof(good_owners) / sizeof(*good_owners); i++)
        test_add(m, good_owners[i], "auth0|abc", "hello world", NULL);
    char long_owner[257];
    memset(long_owner, 'a', 256);
    long_owner[256] = '\0';
    const char *bad_owners[] = {"*", "%", "' OR 1=1 --", "a/../b", "a//b", "/a", "a/", "..",
                                "a b", "ünï", long_owner, ""};
    for (size_t i = 0; i < sizeof(bad_owners) / sizeof(*bad_owners); i++) {
        ASSERT_ERR(lm_doc_add(NULL, m, bad_owners[i], "x", "n", LM_DOC_TEXT, "c", 1, NULL), LM_EINVAL);
        ASSERT_EQ_STR(lm_error_last()->field, "owner_id");
        lm_results *r = NULL;
        ASSERT_ERR(lm_search(&r, m, bad_owners[i], "hello", NULL), LM_EINVAL);
        lm_stats st;
        ASSERT_ERR(lm_stats_get(&st, m, bad_owners[i]), LM_EINVAL);
    }
    long_owner[255] = '\0';
    test_add(m, long_owner, "x", "hello", NULL);
    /* An embedded NUL ends the C string: "ac\0me" is the tenant "ac", never "acme". */
    const char nul_owner[] = "ac\0me";
    lm_stats st;
    ASSERT_OK(lm_stats_get(&st, m, nul_owner));
    ASSERT_EQ_INT(st.document_count, 0);
    ASSERT_ERR(lm_doc_add(NULL, m, "acme", "has space", "n", LM_DOC_TEXT, "c", 1, NULL), LM_EINVAL);
    ASSERT_EQ_STR(lm_error_last()->field, "id_at_origin");
    ASSERT_OK(lm_doc_add(NULL, m, "acme", "user@example.com:42", "n", LM_DOC_TEXT, "c", 1, NULL));
    lm_memory_close(m);
}

TEST(test_doc__list_order_filters_and_total)
{
    lm_memory *m = test_memory();
    const char *names[] = {"charlie", "alpha", "bravo", "delta"};
    for (int i = 0; i < 4; i++) {
        lm_doc_add_opts o = LM_DOC_ADD_OPTS_INIT;
        o.metadata = i % 2 ? "{\"team\":\"red\"}" : "{\"team\":\"blue\"}";
        char origin[16];
        snprintf(origin, sizeof(origin), "o%d", i);
        ASSERT_OK(lm_doc_add(NULL, m, "acme", origin, names[i], i == 3 ? LM_DOC_MARKDOWN : LM_DOC_TEXT,
                             "some words here", 15, &o));
    }
    lm_doc_list_opts lo = LM_DOC_LIST_OPTS_INIT;
    lo.order_by = LM_ORDER_DOCUMENT_NAME;
    lo.ascending = 1;
    lo.limit = 2;
    lm_doc_page *p = NULL;
    ASSERT_OK(lm_doc_list(&p, m, "acme", &lo));
    ASSERT_EQ_INT(lm_doc_page_total(p), 4);
    ASSERT_EQ_INT(lm_doc_page_count(p), 2);
    ASSERT_EQ_STR(lm_doc_page_at(p, 0)->name, "alpha");
    ASSERT_EQ_STR(lm_doc_page_at(p, 1)->name, "bravo");
    ASSERT(lm_doc_page_at(p, 2) == NULL);
    lm_doc_page_free(p);
    lo.offset = 2;
    ASSERT_OK(lm_doc_list(&p, m, "acme", &lo));
    ASSERT_EQ_STR(lm_doc_page_at(p, 0)->name, "charlie");
    ASSERT_EQ_STR(lm_doc_page_at(p, 1)->name, "delta");
    lm_doc_page_free(p);
    lo.offset = 100;
    ASSERT_OK(lm_doc_list(&p, m, "acme", &lo));
    ASSERT_EQ_INT(lm_doc_page_count(p), 0);
    ASSERT_EQ_INT(lm_doc_page_total(p), 4);
    lm_doc_page_free(p);
    lo.offset = 0;
    lo.limit = 10;
    lo.metadata_filter = "{\"team\":\"red\"}";
    ASSERT_OK(lm_doc_list(&p, m, "acme", &lo));
    ASSERT_EQ_INT(lm_doc_page_total(p), 2);
    lm_doc_page_free(p);
    lo.metadata_filter = NULL;
    lo.has_type = 1;
    lo.type = LM_DOC_MARKDOWN;
    ASSERT_OK(lm_doc_list(&p, m, "acme", &lo));
    ASSERT_EQ_INT(lm_doc_page_total(p), 1);
    ASSERT_EQ_STR(lm_doc_page_at(p, 0)->name, "delta");
    lm_doc_page_free(p);
    lo.has_type = 0;
    lo.order_by = LM_ORDER_CREATED_AT;
    lo.ascending = 0;
    ASSERT_OK(lm_doc_list(&p, m, "acme", &lo));
    ASSERT_EQ_STR(lm_doc_page_at(p, 0)->name, "delta");
    lm_doc_page_free(p);
    lo.limit = 101;
    ASSERT_ERR(lm_doc_list(&p, m, "acme", &lo), LM_EINVAL);
    ASSERT_EQ_STR(lm_error_last()->field, "limit");
    lo.limit = 5;
    lo.offset = -1;
    ASSERT_ERR(lm_doc_list(&p, m, "acme", &lo), LM_EINVAL);
    ASSERT_EQ_STR(lm_error_last()->field, "offset");
    lm_memory_close(m);
}

TEST(test_doc__delete_by_ids_and_filter)
{
    lm_memory *m = test_memory();
    char a[37], b[37], c[37];
    test_add(m, "acme", "a", "alpha text", a);
    test_add(m, "acme", "b", "bravo text", b);
    lm_doc_add_opts o = LM_DOC_ADD_OPTS_INIT;
    o.metadata = "{\"tag\":\"old\"}";
    lm_doc_add_result r;
    ASSERT_OK(lm_doc_add(&r, m, "acme", "c", "c", LM_DOC_TEXT, "charlie text", 12, &o));
    memcpy(c, r.document_id, 37);
    lm_id_list *ids = NULL;
    const char *del[] = {a, "00000000-0000-4000-8000-000000000000"};
    ASSERT_OK(lm_doc_delete(&ids, m, "acme", del, 2, NULL));
    ASSERT_EQ_INT(lm_id_list_count(ids), 1);
    ASSERT_EQ_STR(lm_id_list_at(ids, 0), a);
    lm_id_list_free(ids);
    ASSERT_OK(lm_doc_delete(&ids, m, "acme", NULL, 0, "{\"tag\":\"old\"}"));
    ASSERT_EQ_INT(lm_id_list_count(ids), 1);
    ASSERT_EQ_STR(lm_id_list_at(ids, 0), c);
    lm_id_list_free(ids);
    ASSERT_ERR(lm_doc_delete(&ids, m, "acme", NULL, 0, "{}"), LM_EINVAL);
    ASSERT_ERR(lm_doc_delete(&ids, m, "acme", NULL, 0, NULL), LM_EINVAL);
    const char *bad[] = {"not-a-uuid"};
    ASSERT_ERR(lm_doc_delete(&ids, m, "acme", bad, 1, NULL), LM_EINVAL);
    lm_doc *d = NULL;
    ASSERT_ERR(lm_doc_get(&d, m, "acme", a, 0), LM_ENOTFOUND);
    ASSERT_OK(lm_doc_get(&d, m, "acme", b, 0));
    lm_doc_free(d);
    lm_results *res = NULL;
    ASSERT_OK(lm_search(&res, m, "acme", "alpha charlie bravo", NULL));
    ASSERT_EQ_INT(lm_results_count(res), 1);
    lm_results_free(res);
    lm_memory_close(m);
}

TEST(test_doc__delete_at_origin_skips_other_origins)
{
    lm_memory *m = test_memory();
    char a[37], b[37], other[37];
    lm_doc_add_result r;
    test_add(m, "acme", "mail", "alpha text", a);
    test_add(m, "acme", "wiki", "bravo text", b);
    test_add(m, "globex", "mail", "alpha text", other);
    lm_id_list *ids = NULL;
    /* b is another origin's, other is another tenant's: both skipped like a missing id. */
    const char *del[] = {a, b, other, "00000000-0000-4000-8000-000000000000"};
    ASSERT_OK(lm_doc_delete_at_origin(&ids, m, "acme", "mail", del, 4));
    ASSERT_EQ_INT(lm_id_list_count(ids), 1);
    ASSERT_EQ_STR(lm_id_list_at(ids, 0), a);
    lm_id_list_free(ids);
    lm_doc *d = NULL;
    ASSERT_OK(lm_doc_get(&d, m, "acme", b, 0));
    lm_doc_free(d);
    ASSERT_OK(lm_doc_get(&d, m, "globex", other, 0));
    lm_doc_free(d);
    ASSERT_ERR(lm_doc_delete_at_origin(&ids, m, "acme", "mail", NULL, 0), LM_EINVAL);
    ASSERT_ERR(lm_doc_delete_at_origin(&ids, m, "acme", "", del, 1), LM_EINVAL);
    const char *bad[] = {"not-a-uuid"};
    ASSERT_ERR(lm_doc_delete_at_origin(&ids, m, "acme", "mail", bad, 1), LM_EINVAL);

    /* 10,000 ids in one statement: 20 documents of the origin and 20 of another among them. */
    static char many[10000][37];
    const char *mp[10000];
    for (int i = 0; i < 10000; i++) {
        snprintf(many[i], sizeof(many[i]), "00000000-0000-4000-8000-%012d", i);
        mp[i] = many[i];
    }
    for (int i = 0; i < 40; i++) {
        char origin[16];
        snprintf(origin, sizeof(origin), "o%d-%d", i % 2, i);
        ASSERT_OK(lm_doc_add(&r, m, "acme", origin, "n", LM_DOC_TEXT, "x y", 3, NULL));
        memcpy(many[i * 250], r.document_id, 37);
    }
    ASSERT_OK(lm_doc_delete_at_origin(&ids, m, "acme", "o0-0", mp, 10000));
    ASSERT_EQ_INT(lm_id_list_count(ids), 1);
    ASSERT_EQ_STR(lm_id_list_at(ids, 0), many[0]);
    lm_id_list_free(ids);
    ASSERT_OK(lm_doc_delete_at_origin(&ids, m, "acme", "o1-1", mp, 10000));
    ASSERT_EQ_INT(lm_id_list_count(ids), 1);
    ASSERT_EQ_STR(lm_id_list_at(ids, 0), many[250]);
    lm_id_list_free(ids);
    lm_memory_close(m);
}

/* BC instants are refused (they would come back with no sign and the wrong year); year 1 and
   year 9999 round-trip with their own year. */
TEST(test_doc__dates_stay_within_years_1_to_9999)
{
    lm_memory *m = test_memory();
    lm_doc_add_opts o = LM_DOC_ADD_OPTS_INIT;
    lm_doc_add_result r;
    lm_doc *d = NULL;
    o.document_date = "0001-01-01T00:30:00+01:00";
    ASSERT_ERR(lm_doc_add(&r, m, "acme", "bc", "n", LM_DOC_TEXT, "x", 1, &o), LM_EINVAL);
    ASSERT_EQ_STR(lm_error_last()->field, "document_date");
    o.document_date = "9999-12-31T23:30:00-01:00";
    ASSERT_ERR(lm_doc_add(&r, m, "acme", "ad10000", "n", LM_DOC_TEXT, "x", 1, &o), LM_EINVAL);
    o.document_date = "0001-01-01T01:30:00+01:00";
    ASSERT_OK(lm_doc_add(&r, m, "acme", "y1", "n", LM_DOC_TEXT, "x", 1, &o));
    ASSERT_OK(lm_doc_get(&d, m, "acme", r.document_id, 0));
    ASSERT_EQ_STR(lm_doc_document(d)->document_date, "0001-01-01T00:30:00.000000Z");
    lm_doc_free(d);
    o.document_date = "9999-12-31T23:59:59Z";
    ASSERT_OK(lm_doc_add(&r, m, "acme", "y9999", "n", LM_DOC_TEXT, "x", 1, &o));
    ASSERT_OK(lm_doc_get(&d, m, "acme", r.document_id, 0));
    ASSERT_EQ_STR(lm_doc_document(d)->document_date, "9999-12-31T23:59:59.000000Z");
    lm_doc_free(d);
    lm_memory_close(m);
}

TEST(test_doc__stats)
{
    lm_memory *m = test_memory();
    lm_stats st;
    ASSERT_OK(lm_stats_get(&st, m, "acme"));
    ASSERT_EQ_INT(st.document_count, 0);
    ASSERT_EQ_STR(st.first_created, "");
    test_add(m, "acme", "a", "alpha text", NULL);
    test_add(m, "acme", "b", "bravo text here", NULL);
    ASSERT_OK(lm_doc_add(NULL, m, "acme", "c", "c", LM_DOC_EMAIL, "From: a@b\n\nHi there.", 20, NULL));
    ASSERT_OK(lm_stats_get(&st, m, "acme"));
    ASSERT_EQ_INT(st.document_count, 3);
    ASSERT_EQ_INT(st.total_bytes, 10 + 15 + 20);
    ASSERT(st.chunk_count >= 3);
    ASSERT_EQ_INT(st.by_type[LM_DOC_TEXT], 2);
    ASSERT_EQ_INT(st.by_type[LM_DOC_EMAIL], 1);
    ASSERT(st.first_created[0] != '\0' && strcmp(st.first_created, st.last_created) <= 0);
    lm_memory_close(m);
}

TEST(test_doc__type_names)
{
    lm_doc_type t;
    ASSERT_OK(lm_doc_type_parse(&t, "Legal_Document"));
    ASSERT_EQ_INT(t, LM_DOC_LEGAL_DOCUMENT);
    ASSERT_EQ_STR(lm_doc_type_name(LM_DOC_BUSINESS_REPORT), "business_report");
    ASSERT_ERR(lm_doc_type_parse(&t, "general"), LM_EINVAL);
    int n = 0;
    for (int i = 0; i < LM_DOC_TYPE_COUNT; i++)
        n += lm_doc_type_parse(&t, lm_doc_type_name((lm_doc_type)i)) == 0 && t == (lm_doc_type)i;
    ASSERT_EQ_INT(n, 14);
}

TEST(test_doc__blank_content_is_refused)
{
    lm_memory *m = test_memory();
    static const char *const blanks[] = {"", "   ", "\n\t \r\n", "\0\0 "};
    static const size_t lens[] = {0, 3, 5, 3};
    for (size_t i = 0; i < 4; i++) {
        lm_doc_add_result r;
        ASSERT_EQ_INT(lm_doc_add(&r, m, "blank-owner", "b", "b", LM_DOC_TEXT, blanks[i], lens[i],
                                 NULL),
                      LM_EINVAL);
        ASSERT_EQ_STR(lm_error_last()->field, "content");
    }
    lm_stats st;
    ASSERT_OK(lm_stats_get(&st, m, "blank-owner"));
    ASSERT_EQ_INT((int)st.document_count, 0);
    lm_memory_close(m);
}
