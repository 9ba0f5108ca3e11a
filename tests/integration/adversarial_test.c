/*
 * tests/integration/adversarial_test.c: attempts to break tenancy through the library.
 *
 * A seeded, reproducible random walk over 9 tenants (nested: p0, p0/a, p0/a/b, p1/x) that all
 * use the same 8 id_at_origin values: adds, re-adds, deletes (own and other tenants' ids), gets
 * (own and foreign ids), lists, keyword/vector/hybrid searches and sub-tenant searches, checked
 * after every step against an in-memory model: no call returns, counts, changes or deletes
 * another tenant's data, and after every write the searches of another tenant return exactly
 * the same chunks and scores as before it. Every 100 steps all tenants are audited.
 *   LLMEMORY_ADV_STEPS (default 1500 in make check; the long run uses 100000)
 *   LLMEMORY_ADV_SEED  (default 20261206; printed on failure)
 *
 * And a table of hostile values for every parameter of every tenant call, each answered with a
 * clear LM_EINVAL (or, for free text, an ordinary own-tenant result) and no side effect.
 */
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "support.h"

#define N_T 9
#define N_O 8
static const char *const T[N_T] = {"p0", "p1", "p2", "p3", "p4", "p5", "p0/a", "p0/a/b", "p1/x"};
static const char *const WORDS[] = {"apple",  "budget", "cobalt", "delta",  "ember",  "fjord",
                                    "granite", "harbor", "indigo", "juniper", "kernel", "lumen",
                                    "meadow", "nickel", "orchid", "pepper"};
#define N_WORDS (sizeof(WORDS) / sizeof(WORDS[0]))

typedef struct model {
    char id[N_T][N_O][37]; /* "" when absent */
} model;

static uint64_t seed_state;
static unsigned long long seed0;
static uint32_t rnd(void)
{
    seed_state = seed_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(seed_state >> 33);
}

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            char msg_[2048];                                                                        \
            snprintf(msg_, sizeof(msg_), __VA_ARGS__);                                             \
            lm_test_fail(__FILE__, __LINE__, "seed %llu step %ld: %s (%s)", seed0, step, msg_,  \
                         #cond);                                                                   \
        }                                                                                          \
    } while (0)

static long step, n_writes, n_searches;

static int owner_index(const char *owner)
{
    for (int i = 0; i < N_T; i++)
        if (strcmp(T[i], owner) == 0)
            return i;
    return -1;
}

/* Whose document is @p id in the model: tenant index, or -1. */
static int doc_owner(const model *m, const char *id)
{
    for (int t = 0; t < N_T; t++)
        for (int o = 0; o < N_O; o++)
            if (strcmp(m->id[t][o], id) == 0)
                return t;
    return -1;
}

static int doc_count(const model *m, int t)
{
    int n = 0;
    for (int o = 0; o < N_O; o++)
        n += m->id[t][o][0] != '\0';
    return n;
}

/* A tenant's results for a fixed query, as text (chunk ids and exact scores). */
static void snapshot(lm_memory *mem, int t, lm_search_type type, char *out, size_t cap)
{
    lm_search_opts o = LM_SEARCH_OPTS_INIT;
    o.type = type;
    o.no_history = 1;
    o.limit = 20;
    lm_results *r = NULL;
    size_t used = 0;
    ASSERT_OK(lm_search(&r, mem, T[t], "apple budget cobalt delta", &o));
    out[0] = '\0';
    for (size_t i = 0; i < lm_results_count(r) && used + 80 < cap; i++) {
        const lm_hit *h = lm_results_at(r, i);
        used += (size_t)snprintf(out + used, cap - used, "%s %.17g %.17g\n", h->chunk_id, h->score,
                                 h->text_score);
    }
    lm_results_free(r);
}

/* Two snapshots hold the same chunks with the same scores. Scores may differ in the last bits:
 * the SQL keyword path sums a chunk's term weights in the order its plan reads them, and a plan
 * can change when statistics change (autovacuum after another tenant's writes); ranks of chunks
 * whose scores differ only there may swap. Anything else is a change. */
typedef struct snap_line {
    char chunk[37];
    double score, text_score;
} snap_line;

static int snap_cmp(const void *a, const void *b)
{
    return strcmp(((const snap_line *)a)->chunk, ((const snap_line *)b)->chunk);
}

static size_t snap_parse(const char *text, snap_line *out, size_t cap)
{
    size_t n = 0;
    while (*text && n < cap) {
        if (sscanf(text, "%36s %lf %lf", out[n].chunk, &out[n].score, &out[n].text_score) == 3)
            n++;
        text = strchr(text, '\n');
        if (text == NULL)
            break;
        text++;
    }
    qsort(out, n, sizeof(*out), snap_cmp);
    return n;
}

static int close_enough(double a, double b)
{
    double m = a < 0 ? -a : a;
    double d = a - b;
    return (d < 0 ? -d : d) <= 1e-9 * (m > 1 ? m : 1);
}

static int same_results(const char *a, const char *b)
{
    static snap_line x[64], y[64];
    if (strcmp(a, b) == 0)
        return 1;
    size_t nx = snap_parse(a, x, 64), ny = snap_parse(b, y, 64);
    if (nx != ny)
        return 0;
    for (size_t i = 0; i < nx; i++)
        if (strcmp(x[i].chunk, y[i].chunk) != 0 || !close_enough(x[i].score, y[i].score) ||
            !close_enough(x[i].text_score, y[i].text_score))
            return 0;
    return 1;
}

/* Every hit of @p r belongs to a tenant in @p allowed (by the model), and says so. */
static void check_hits(const model *m, const lm_results *r, int t, int subtree)
{
    for (size_t i = 0; i < lm_results_count(r); i++) {
        const lm_hit *h = lm_results_at(r, i);
        int owner = doc_owner(m, h->document_id);
        CHECK(owner >= 0, "hit of a document the model does not have: %s", h->document_id);
        CHECK(strcmp(h->owner_id, T[owner]) == 0, "hit owner %s, document of %s", h->owner_id,
              T[owner]);
        if (!subtree) {
            CHECK(owner == t, "tenant %s got a hit of %s", T[t], T[owner]);
        } else {
            size_t n = strlen(T[t]);
            CHECK(owner == t || (strncmp(T[owner], T[t], n) == 0 && T[owner][n] == '/'),
                  "subtree search of %s got a hit of %s", T[t], T[owner]);
        }
    }
}

static void audit(lm_memory *mem, const model *m)
{
    for (int t = 0; t < N_T; t++) {
        lm_doc_list_opts lo = LM_DOC_LIST_OPTS_INIT;
        lo.limit = 100;
        lm_doc_page *p = NULL;
        ASSERT_OK(lm_doc_list(&p, mem, T[t], &lo));
        CHECK(lm_doc_page_total(p) == doc_count(m, t), "%s lists %lld documents, model %d", T[t],
              (long long)lm_doc_page_total(p), doc_count(m, t));
        for (size_t i = 0; i < lm_doc_page_count(p); i++) {
            const lm_document *d = lm_doc_page_at(p, i);
            CHECK(doc_owner(m, d->document_id) == t, "%s lists %s", T[t], d->document_id);
            CHECK(strcmp(d->owner_id, T[t]) == 0, "listed owner %s", d->owner_id);
        }
        lm_doc_page_free(p);
        lm_stats st;
        ASSERT_OK(lm_stats_get(&st, mem, T[t]));
        CHECK(st.document_count == doc_count(m, t), "%s counts %lld", T[t],
              (long long)st.document_count);
    }
}

/* A random document id of a tenant other than @p t, or NULL. */
static const char *foreign_id(const model *m, int t)
{
    int start = (int)(rnd() % (N_T * N_O));
    for (int k = 0; k < N_T * N_O; k++) {
        int i = (start + k) % (N_T * N_O);
        if (i / N_O != t && m->id[i / N_O][i % N_O][0])
            return m->id[i / N_O][i % N_O];
    }
    return NULL;
}

static void random_walk(long steps)
{
    static model mdl;
    static char before[2][8192], after[2][8192];
    const char *s = getenv("LLMEMORY_ADV_SEED");
    seed0 = s ? strtoull(s, NULL, 10) : 20261206ULL;
    seed_state = seed0;
    memset(&mdl, 0, sizeof(mdl));
    lm_memory *mem = test_memory();
    for (step = 0; step < steps; step++) {
        int t = (int)(rnd() % N_T), op = (int)(rnd() % 100);
        int w = (t + 1 + (int)(rnd() % (N_T - 1))) % N_T; /* a watcher, never t */
        int writes = op < 55;
        n_writes += writes;
        n_searches += op >= 70 && op < 95;
        if (writes) {
            snapshot(mem, w, LM_SEARCH_TEXT, before[0], sizeof(before[0]));
            snapshot(mem, w, step % 10 == 0 ? LM_SEARCH_HYBRID : LM_SEARCH_VECTOR, before[1],
                     sizeof(before[1]));
        }
        if (op < 40) { /* add or re-add */
            int o = (int)(rnd() % N_O);
            char origin[16], text[512];
            size_t used = 0;
            snprintf(origin, sizeof(origin), "o%d", o);
            int words = 3 + (int)(rnd() % 12);
            for (int i = 0; i < words; i++)
                used += (size_t)snprintf(text + used, sizeof(text) - used, "%s ",
                                         WORDS[rnd() % N_WORDS]);
            lm_doc_add_result r;
            ASSERT_OK(lm_doc_add(&r, mem, T[t], origin, origin, LM_DOC_TEXT, text, used, NULL));
            if (mdl.id[t][o][0]) {
                CHECK(!r.created && strcmp(r.document_id, mdl.id[t][o]) == 0,
                      "re-add of %s/%s made %s", T[t], origin, r.document_id);
            } else {
                CHECK(r.created && doc_owner(&mdl, r.document_id) < 0, "add of %s/%s", T[t],
                      origin);
                memcpy(mdl.id[t][o], r.document_id, 37);
            }
        } else if (op < 55) { /* delete: own, or another tenant's id */
            const char *id = NULL;
            int own = rnd() % 2, o = (int)(rnd() % N_O);
            if (own && mdl.id[t][o][0])
                id = mdl.id[t][o];
            else
                id = foreign_id(&mdl, t), own = 0;
            if (id != NULL) {
                char copy[37];
                memcpy(copy, id, 37);
                const char *ids[] = {copy};
                lm_id_list *out = NULL;
                ASSERT_OK(lm_doc_delete(&out, mem, T[t], ids, 1, NULL));
                CHECK(lm_id_list_count(out) == (size_t)own, "%s deleting %s %s: %zu deleted",
                      T[t], own ? "its" : "a foreign", copy, lm_id_list_count(out));
                lm_id_list_free(out);
                if (own)
                    mdl.id[t][o][0] = '\0';
            }
        } else if (op < 70) { /* get */
            const char *id = foreign_id(&mdl, t);
            lm_doc *d = NULL;
            if (id != NULL)
                CHECK(lm_doc_get(&d, mem, T[t], id, 1) == LM_ENOTFOUND, "%s got foreign %s", T[t],
                      id);
            int o = (int)(rnd() % N_O);
            if (mdl.id[t][o][0]) {
                ASSERT_OK(lm_doc_get(&d, mem, T[t], mdl.id[t][o], 1));
                CHECK(strcmp(lm_doc_document(d)->owner_id, T[t]) == 0, "owner of get");
                lm_doc_free(d);
            }
        } else if (op < 95) { /* search */
            static const lm_search_type types[] = {LM_SEARCH_TEXT, LM_SEARCH_VECTOR,
                                                   LM_SEARCH_HYBRID};
            lm_search_opts so = LM_SEARCH_OPTS_INIT;
            so.type = types[rnd() % 3];
            so.no_history = rnd() % 2;
            so.limit = 50;
            so.include_subtenants = op >= 88;
            lm_results *r = NULL;
            ASSERT_OK(lm_search(&r, mem, T[t], WORDS[rnd() % N_WORDS], &so));
            check_hits(&mdl, r, t, so.include_subtenants);
            lm_results_free(r);
        } else { /* list, of the tenant or of its subtree */
            lm_doc_list_opts lo = LM_DOC_LIST_OPTS_INIT;
            lo.limit = 100;
            lo.include_subtenants = (int)(rnd() % 2);
            lm_doc_page *p = NULL;
            ASSERT_OK(lm_doc_list(&p, mem, T[t], &lo));
            int expect = 0;
            size_t n = strlen(T[t]);
            for (int u = 0; u < N_T; u++)
                if (u == t || (lo.include_subtenants && strncmp(T[u], T[t], n) == 0 &&
                               T[u][n] == '/'))
                    expect += doc_count(&mdl, u);
            CHECK(lm_doc_page_total(p) == expect, "%s list total %lld, model %d", T[t],
                  (long long)lm_doc_page_total(p), expect);
            for (size_t i = 0; i < lm_doc_page_count(p); i++) {
                const lm_document *d = lm_doc_page_at(p, i);
                int u = doc_owner(&mdl, d->document_id);
                CHECK(u == t || (lo.include_subtenants && u >= 0 &&
                                 strncmp(T[u], T[t], n) == 0 && T[u][n] == '/'),
                      "%s lists a document of %s", T[t], u >= 0 ? T[u] : "nobody");
                CHECK(u >= 0 && strcmp(d->owner_id, T[u]) == 0, "listed owner %s", d->owner_id);
            }
            lm_doc_page_free(p);
        }
        if (writes) {
            snapshot(mem, w, LM_SEARCH_TEXT, after[0], sizeof(after[0]));
            snapshot(mem, w, step % 10 == 0 ? LM_SEARCH_HYBRID : LM_SEARCH_VECTOR, after[1],
                     sizeof(after[1]));
            CHECK(same_results(before[0], after[0]),
                  "keyword results of %s changed when %s wrote:\n%.600s\n---\n%.600s", T[w], T[t],
                  before[0], after[0]);
            CHECK(same_results(before[1], after[1]), "vector results of %s changed when %s wrote",
                  T[w], T[t]);
        }
        if (step % 100 == 99)
            audit(mem, &mdl);
    }
    audit(mem, &mdl);
    int docs = 0;
    for (int t = 0; t < N_T; t++)
        docs += doc_count(&mdl, t);
    printf("# seed %llu: %ld steps (%ld writes, %ld searches), %d documents at the end\n", seed0,
           steps, n_writes, n_searches, docs);
    lm_memory_close(mem);
}

TEST(test_adversarial__random_walk_never_crosses_tenants)
{
    const char *s = getenv("LLMEMORY_ADV_STEPS");
    long steps = s ? strtol(s, NULL, 10) : 1500;
    lm_test_timeout(steps > 1500 ? (unsigned)(steps / 5 + 600) : 600);
    random_walk(steps);
    (void)owner_index;
}

/* ---- hostile inputs ------------------------------------------------------------------------- */

static char long_value[70000];
static char deep_json[20100];

static const char *const HOSTILE[] = {
    "",
    "' OR '1'='1",
    "x'; DROP TABLE documents; --",
    "%",
    "_",
    "*",
    "p0/%",
    "../p1",
    "p0/../p1",
    "p0/",
    "/p0",
    "p0//a",
    "p0\\a",
    "\xff\xfe",
    "caf\xc3",
    "a\x01" "b",
    "a\nb",
    "\xe2\x80\xae" "evil",
    "99999999999999999999999999",
    "-1",
    "00000000-0000-0000-0000-000000000000",
    "{\"a\":",
};

TEST(test_adversarial__hostile_inputs_are_refused_without_side_effects)
{
    lm_test_timeout(300);
    memset(long_value, 'a', sizeof(long_value) - 1);
    for (size_t i = 0; i < 10000; i++) {
        deep_json[i] = i % 2 ? '{' : '[';
        deep_json[20000 - 1 - i] = i % 2 ? '}' : ']';
    }
    deep_json[10000] = '1';
    for (size_t i = 10001; i < 20000; i++)
        if (deep_json[i] == '\0')
            deep_json[i] = ' ';
    lm_memory *mem = test_memory();
    char p0doc[37], p1doc[37];
    test_add(mem, "p0", "o1", "apple budget in p0", p0doc);
    test_add(mem, "p1", "o1", "apple budget in p1", p1doc);
    const size_t n = sizeof(HOSTILE) / sizeof(HOSTILE[0]);
    const char *values[sizeof(HOSTILE) / sizeof(HOSTILE[0]) + 2];
    memcpy(values, HOSTILE, sizeof(HOSTILE));
    values[n] = long_value;
    values[n + 1] = deep_json;
    lm_results *r = NULL;
    lm_doc *d = NULL;
    lm_doc_page *p = NULL;
    lm_id_list *ids = NULL;
    lm_doc_add_result ar;

    for (size_t i = 0; i < n + 2; i++) {
        const char *v = values[i];
        /* owner_id of every call: refused; a value that is a well-formed tenant id ("_",
           "-1", digits) names an empty tenant that sees nothing of p0's. */
        int valid_owner = lm_search(&r, mem, v, "apple", NULL) == 0;
        const char *one[] = {p0doc};
        lm_stats st;
        int64_t erased = 0;
        if (!valid_owner) {
            ASSERT_EQ_STR(lm_error_last()->field, "owner_id");
            ASSERT_ERR(lm_doc_add(&ar, mem, v, "o1", "n", LM_DOC_TEXT, "x", 1, NULL), LM_EINVAL);
            ASSERT_EQ_STR(lm_error_last()->field, "owner_id");
            ASSERT_ERR(lm_doc_get(&d, mem, v, p0doc, 0), LM_EINVAL);
            ASSERT_ERR(lm_doc_list(&p, mem, v, NULL), LM_EINVAL);
            ASSERT_ERR(lm_doc_delete(&ids, mem, v, one, 1, NULL), LM_EINVAL);
            ASSERT_ERR(lm_stats_get(&st, mem, v), LM_EINVAL);
            ASSERT_ERR(lm_tenant_erase(&erased, mem, v), LM_EINVAL);
        } else {
            ASSERT_EQ_INT(lm_results_count(r), 0);
            lm_results_free(r);
            ASSERT_ERR(lm_doc_get(&d, mem, v, p0doc, 0), LM_ENOTFOUND);
            ASSERT_OK(lm_doc_list(&p, mem, v, NULL));
            ASSERT_EQ_INT(lm_doc_page_total(p), 0);
            lm_doc_page_free(p);
            ASSERT_OK(lm_doc_delete(&ids, mem, v, one, 1, NULL));
            ASSERT_EQ_INT(lm_id_list_count(ids), 0);
            lm_id_list_free(ids);
            ASSERT_OK(lm_stats_get(&st, mem, v));
            ASSERT_EQ_INT(st.document_count, 0);
            ASSERT_OK(lm_tenant_erase(&erased, mem, v));
            ASSERT_EQ_INT(erased, 0);
        }

        /* document ids: refused, or simply not found; never another tenant's. */
        int rc = lm_doc_get(&d, mem, "p0", v, 0);
        ASSERT(rc == LM_EINVAL || rc == LM_ENOTFOUND);
        const char *bad[] = {v};
        rc = lm_doc_delete(&ids, mem, "p0", bad, 1, NULL);
        if (rc == 0) {
            ASSERT_EQ_INT(lm_id_list_count(ids), 0);
            lm_id_list_free(ids);
        } else {
            ASSERT_EQ_INT(rc, LM_EINVAL);
        }

        /* id_at_origin and name of an add: refused, or stored as the tenant's own text. */
        rc = lm_doc_add(&ar, mem, "p2", v, "n", LM_DOC_TEXT, "hostile origin", 14, NULL);
        ASSERT(rc == LM_EINVAL || rc == 0);
        rc = lm_doc_add(&ar, mem, "p2", "named", v, LM_DOC_TEXT, "hostile name", 12, NULL);
        ASSERT(rc == LM_EINVAL || rc == 0);
        /* content: refused (invalid UTF-8, too long) or stored for p2 only. */
        rc = lm_doc_add(&ar, mem, "p2", "content", "n", LM_DOC_TEXT, v, strlen(v), NULL);
        ASSERT(rc == LM_EINVAL || rc == 0);

        /* query text: refused, or a search of p0's own rows. */
        rc = lm_search(&r, mem, "p0", v, NULL);
        ASSERT(rc == LM_EINVAL || rc == 0);
        if (rc == 0) {
            for (size_t k = 0; k < lm_results_count(r); k++)
                ASSERT_EQ_STR(lm_results_at(r, k)->owner_id, "p0");
            lm_results_free(r);
        }
        /* metadata filters and the other string options: refused or own rows only. */
        lm_search_opts so = LM_SEARCH_OPTS_INIT;
        so.metadata_filter = v;
        rc = lm_search(&r, mem, "p0", "apple", &so);
        ASSERT(rc == LM_EINVAL || rc == 0);
        if (rc == 0)
            lm_results_free(r);
        so = (lm_search_opts)LM_SEARCH_OPTS_INIT;
        so.id_at_origin = v;
        rc = lm_search(&r, mem, "p0", "apple", &so);
        ASSERT(rc == LM_EINVAL || rc == 0);
        if (rc == 0) {
            ASSERT_EQ_INT(lm_results_count(r), 0);
            lm_results_free(r);
        }
        so = (lm_search_opts)LM_SEARCH_OPTS_INIT;
        so.date_from = v;
        ASSERT_ERR(lm_search(&r, mem, "p0", "apple", &so), LM_EINVAL);
        so = (lm_search_opts)LM_SEARCH_OPTS_INIT;
        so.text_config = v;
        ASSERT_ERR(lm_search(&r, mem, "p0", "apple", &so), LM_EINVAL);
        lm_doc_list_opts lo = LM_DOC_LIST_OPTS_INIT;
        lo.metadata_filter = v;
        rc = lm_doc_list(&p, mem, "p0", &lo);
        ASSERT(rc == LM_EINVAL || rc == 0);
        if (rc == 0) {
            ASSERT(lm_doc_page_total(p) <= 1);
            lm_doc_page_free(p);
        }
        rc = lm_doc_delete(&ids, mem, "p0", NULL, 0, v);
        if (rc == 0) {
            ASSERT_EQ_INT(lm_id_list_count(ids), 0); /* p0's document has metadata {} */
            lm_id_list_free(ids);
        } else {
            ASSERT_EQ_INT(rc, LM_EINVAL);
        }
    }
    /* Numbers out of range. */
    lm_search_opts so = LM_SEARCH_OPTS_INIT;
    int limits[] = {0, -1, INT_MAX, INT_MIN};
    for (size_t i = 0; i < 4; i++) {
        so.limit = limits[i];
        ASSERT_ERR(lm_search(&r, mem, "p0", "apple", &so), LM_EINVAL);
    }
    so = (lm_search_opts)LM_SEARCH_OPTS_INIT;
    so.type = (lm_search_type)99;
    ASSERT_ERR(lm_search(&r, mem, "p0", "apple", &so), LM_EINVAL);
    lm_doc_list_opts lo = LM_DOC_LIST_OPTS_INIT;
    lo.offset = -1;
    ASSERT_ERR(lm_doc_list(&p, mem, "p0", &lo), LM_EINVAL);
    lo = (lm_doc_list_opts)LM_DOC_LIST_OPTS_INIT;
    lo.limit = INT_MAX;
    ASSERT_ERR(lm_doc_list(&p, mem, "p0", &lo), LM_EINVAL);

    /* No side effect on p0 and p1: their documents are where they were. */
    ASSERT_OK(lm_doc_get(&d, mem, "p0", p0doc, 0));
    lm_doc_free(d);
    ASSERT_OK(lm_doc_get(&d, mem, "p1", p1doc, 0));
    lm_doc_free(d);
    ASSERT_OK(lm_doc_list(&p, mem, "p0", NULL));
    ASSERT_EQ_INT(lm_doc_page_total(p), 1);
    lm_doc_page_free(p);
    ASSERT_OK(lm_doc_list(&p, mem, "p1", NULL));
    ASSERT_EQ_INT(lm_doc_page_total(p), 1);
    lm_doc_page_free(p);
    lm_memory_close(mem);
}
