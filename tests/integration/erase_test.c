/*
 * tests/integration/erase_test.c: deleting many chunks at once (a tenant erase, an evaluation's
 * clean-up) does work linear in their postings. The statistics trigger once joined the deleted
 * chunks to their postings on (owner, chunk) and then filtered each posting against every lexeme
 * of its chunk: postings x lexemes per chunk, minutes for a test collection (about 100 times the
 * postings here). The plan of the trigger's statements is read with auto_explain (nested
 * statements, analyzed), so the check counts rows instead of timing them.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

/* Deterministic text of @p words distinct-ish words (a small LCG over a 3,000-word vocabulary). */
static char *words_text(unsigned *seed, int words)
{
    size_t cap = (size_t)words * 12 + 1, len = 0;
    char *s = malloc(cap);
    for (int i = 0; i < words && s != NULL; i++) {
        *seed = *seed * 1103515245u + 12345u;
        unsigned w = (*seed >> 8) % 3000;
        len += (size_t)snprintf(s + len, cap - len, "%sw%c%c%u", i ? " " : "",
                                'a' + (char)(w % 26), 'a' + (char)(w / 26 % 26), w);
    }
    return s;
}

static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static void collect_notice(void *arg, const char *message)
{
    FILE *f = arg;
    fputs(message, f);
}

/* Largest "Rows Removed by Join Filter" in @p text (0 when none). */
static long long max_join_filter(const char *text)
{
    long long most = 0;
    const char *key = "Rows Removed by Join Filter: ";
    for (const char *p = strstr(text, key); p != NULL; p = strstr(p + 1, key)) {
        long long n = strtoll(p + strlen(key), NULL, 10);
        if (n > most)
            most = n;
    }
    return most;
}

static long long count(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    long long n = PQresultStatus(r) == PGRES_TUPLES_OK ? strtoll(PQgetvalue(r, 0, 0), NULL, 10)
                                                       : -1;
    if (n < 0)
        fprintf(stderr, "%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    return n;
}

TEST(test_erase__chunk_delete_is_linear_in_postings)
{
    lm_test_timeout(180);
    lm_memory_opts o = LM_MEMORY_OPTS_INIT;
    o.no_embedder = 1;
    lm_memory *m = test_memory_opts(&o);
    char sql[512], origin[32];
    unsigned seed = 7;

    /* 60 documents of 300 words: hundreds of lexemes per chunk, as in a real collection. */
    for (int i = 0; i < 60; i++) {
        char *text = words_text(&seed, 300);
        ASSERT(text != NULL);
        snprintf(origin, sizeof(origin), "doc-%d", i);
        test_add(m, "big", origin, text, NULL);
        free(text);
    }
    test_add(m, "other", "kept", "the other tenant keeps its postings", NULL);

    PGconn *c = PQconnectdb(getenv("LLMEMORY_TEST_DATABASE_URL"));
    ASSERT(PQstatus(c) == CONNECTION_OK);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\".postings WHERE owner_id = 'big'",
             test_schema());
    long long postings = count(c, sql);
    ASSERT(postings > 10000);
    /* Statistics as autovacuum leaves them after a bulk load. */
    snprintf(sql, sizeof(sql), "ANALYZE \"%s\".postings, \"%s\".chunks", test_schema(),
             test_schema());
    PGresult *r = PQexec(c, sql);
    ASSERT(PQresultStatus(r) == PGRES_COMMAND_OK);
    PQclear(r);

    char *log = NULL;
    size_t log_len = 0;
    FILE *notices = open_memstream(&log, &log_len);
    ASSERT(notices != NULL);
    PQsetNoticeProcessor(c, collect_notice, notices);
    r = PQexec(c, "LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0;"
                            " SET auto_explain.log_analyze = on; SET auto_explain.log_timing = off;"
                            " SET auto_explain.log_nested_statements = on;"
                            " SET auto_explain.log_level = notice; SET client_min_messages = notice");
    ASSERT(PQresultStatus(r) == PGRES_COMMAND_OK);
    PQclear(r);
    snprintf(sql, sizeof(sql), "DELETE FROM \"%s\".chunks WHERE owner_id = 'big'", test_schema());
    r = PQexec(c, sql);
    ASSERT(PQresultStatus(r) == PGRES_COMMAND_OK);
    PQclear(r);
    PQsetNoticeProcessor(c, ignore_notice, NULL);
    fclose(notices);

    /* The trigger ran and its plan was logged, and no join compared more rows than there were
       postings (the old plan compared postings x lexemes per chunk: about 250 times more). */
    ASSERT(log != NULL && strstr(log, ".postings p") != NULL);
    long long filtered = max_join_filter(log);
    if (filtered > postings)
        lm_test_fail(__FILE__, __LINE__, "a join of the chunk delete filtered %lld rows for %lld "
                     "postings", filtered, postings);
    free(log);
    /* Every posting of the deleted chunks went, none of the other tenant's did. */
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\".postings WHERE owner_id = 'big'",
             test_schema());
    ASSERT_EQ_INT(count(c, sql), 0);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\".postings WHERE owner_id = 'other'",
             test_schema());
    ASSERT(count(c, sql) > 0);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\".term_stats WHERE owner_id = 'big'",
             test_schema());
    ASSERT_EQ_INT(count(c, sql), 0);
    PQfinish(c);

    /* The public erase agrees: the documents go too, the other tenant stays searchable. */
    int64_t n = 0;
    ASSERT_OK(lm_tenant_erase(&n, m, "big"));
    ASSERT_EQ_INT(n, 60);
    lm_memory_close(m);
}
