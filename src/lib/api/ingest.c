/*
 * api/ingest.c: lm_doc_add_batch(), bulk ingest of one tenant's documents in one transaction.
 *
 * Per batch: validate and chunk every document and embed the searchable chunks (sync mode)
 * before any I/O; then, under the tenant's writer lock, upsert the document rows in one
 * statement, delete the old chunks of re-indexed documents in one statement, stream every chunk
 * (with its vector) into a session staging table with COPY, and move them into the chunks and
 * vector tables with one INSERT ... SELECT each. The chunks table's statement trigger computes
 * the keyword postings and statistics from the whole batch at once (set-based, in the server),
 * so they stay exact. Staging is needed because COPY cannot compute the text search vector and
 * PostgreSQL refuses COPY FROM into tables under row-level security; the temporary table has
 * neither problem, is not WAL-logged, and is emptied at commit.
 */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "api/memory.h"
#include "buf.h"
#include "chunk/chunk.h"
#include "clock.h"
#include "error.h"
#include "hash.h"
#include "llmemory.h"
#include "utf8.h"
#include "validate.h"

/* COPY data is sent to the server in pieces of about this size. */
#define COPY_PIECE (1u << 20)

typedef struct prep_doc {
    const lm_doc_input *in;
    lm_doc_add_opts o;
    const char *cfg;
    char *clean;      /* NUL-stripped copy of the content, or NULL */
    const char *text;
    size_t len;
    lm__chunk_list chunks;
    char (*ids)[37];
    size_t n_search;
    char docid[37];   /* proposed for a new document; the stored one after the upsert */
    int created;
} prep_doc;

static int detail_doc(int rc, size_t i, const lm_doc_input *d)
{
    lm__error_detail("Document %zu of the batch (id at origin \"%.255s\").", i,
                     d->id_at_origin ? d->id_at_origin : "");
    return rc;
}

/* The checks of lm_doc_add(), NUL stripping and chunking, for document @p i. */
static int prepare(prep_doc *p, lm_memory *mem, size_t i)
{
    const lm_doc_input *d = p->in;
    int rc;

    if (d->opts) {
        if (d->opts->version != LM_DOC_ADD_OPTS_VERSION)
            return detail_doc(lm__error_set(LM_EINVAL, "unsupported lm_doc_add_opts version %u",
                                            d->opts->version), i, d);
        p->o = *d->opts;
    }
    if ((rc = lm__validate_id_at_origin(d->id_at_origin, "id_at_origin")) < 0 ||
        (rc = lm__validate_doc_name(d->name)) < 0)
        return detail_doc(rc, i, d);
    if ((int)d->type < 0 || d->type >= LM_DOC_TYPE_COUNT)
        return detail_doc(lm__error_set_field(LM_EINVAL, "document_type",
                                              "invalid document type %d", (int)d->type), i, d);
    if (d->content == NULL && d->content_len > 0)
        return detail_doc(lm__error_set_field(LM_EINVAL, "content", "content must not be NULL"),
                          i, d);
    if (d->content_len > mem->max_content_bytes) {
        lm__error_set_field(LM_EINVAL, "content",
                            "content is too large (%zu bytes, the maximum is %zu)",
                            d->content_len, mem->max_content_bytes);
        lm__error_hint("Raise max_content_bytes in lm_memory_opts, or split the document.");
        return detail_doc(LM_EINVAL, i, d);
    }
    if (p->o.document_date &&
        (rc = lm__validate_timestamp(p->o.document_date, "document_date")) < 0)
        return detail_doc(rc, i, d);
    if ((rc = lm__validate_metadata(p->o.metadata, "metadata", 1)) < 0)
        return detail_doc(rc, i, d);
    p->cfg = p->o.text_config ? p->o.text_config : mem->text_config;
    if ((rc = lm__validate_text_config(p->cfg)) < 0)
        return detail_doc(rc, i, d);
    if (p->o.strategy != LM_CHUNK_HIERARCHICAL && p->o.strategy != LM_CHUNK_SEMANTIC)
        return detail_doc(lm__error_set_field(LM_EINVAL, "strategy",
                                              "invalid chunking strategy %d", (int)p->o.strategy),
                          i, d);

    p->text = d->content ? d->content : "";
    p->len = d->content_len;
    if (p->len > 0 && memchr(p->text, '\0', p->len) != NULL) {
        size_t k = 0;
        if ((p->clean = lm__malloc(p->len)) == NULL)
            return LM_ENOMEM;
        for (size_t j = 0; j < p->len; j++)
            if (p->text[j] != '\0')
                p->clean[k++] = p->text[j];
        p->text = p->clean;
        p->len = k;
    }
    if (!lm__utf8_valid(p->text, p->len))
        return detail_doc(lm__error_set_field(LM_EINVAL, "content", "content is not valid UTF-8"),
                          i, d);
    {
        size_t j = 0;
        while (j < p->len && (p->text[j] == ' ' || p->text[j] == '\t' || p->text[j] == '\n' ||
                              p->text[j] == '\r' || p->text[j] == '\f' || p->text[j] == '\v'))
            j++;
        if (j == p->len)
            return detail_doc(lm__error_set_field(LM_EINVAL, "content",
                                                  "content contains no text"), i, d);
    }
    if ((rc = lm__chunk_document(&p->chunks, p->text, p->len, d->type, p->o.strategy)) < 0)
        return rc;
    if ((p->ids = lm__calloc(p->chunks.count ? p->chunks.count : 1, sizeof(*p->ids))) == NULL)
        return LM_ENOMEM;
    for (size_t j = 0; j < p->chunks.count; j++) {
        lm__uuid_v4(p->ids[j]);
        p->n_search += p->chunks.items[j].searchable != 0;
    }
    lm__uuid_v4(p->docid);
    return 0;
}

static int cmp_origin(const void *a, const void *b)
{
    const prep_doc *x = *(const prep_doc *const *)a, *y = *(const prep_doc *const *)b;
    return strcmp(x->in->id_at_origin, y->in->id_at_origin);
}

/* Refuse an id at origin given twice: the upsert could not say which one wins. */
static int check_unique(prep_doc *p, size_t n)
{
    prep_doc **v;
    int rc = 0;
    if (n < 2)
        return 0;
    if ((v = lm__malloc(n * sizeof(*v))) == NULL)
        return LM_ENOMEM;
    for (size_t i = 0; i < n; i++)
        v[i] = &p[i];
    qsort(v, n, sizeof(*v), cmp_origin);
    for (size_t i = 1; i < n && rc == 0; i++)
        if (strcmp(v[i]->in->id_at_origin, v[i - 1]->in->id_at_origin) == 0) {
            size_t a = (size_t)(v[i - 1] - p), b = (size_t)(v[i] - p);
            rc = lm__error_set_field(LM_EINVAL, "id_at_origin",
                                     "id at origin \"%s\" appears twice in the batch "
                                     "(documents %zu and %zu)",
                                     v[i]->in->id_at_origin, a < b ? a : b, a < b ? b : a);
            lm__error_hint("Give each document of a batch its own id at origin.");
        }
    lm__free(v);
    return rc;
}

/* Embed every searchable chunk of the batch at once (sync mode). */
static int embed_all(float **out, lm_memory *mem, const prep_doc *p, size_t n, size_t n_search)
{
    const char **texts = lm__calloc(n_search, sizeof(*texts));
    size_t *lens = lm__calloc(n_search, sizeof(*lens));
    float *v = lm__malloc(n_search * (size_t)mem->vec.dim * sizeof(float));
    size_t k = 0;
    int rc = LM_ENOMEM;

    *out = NULL;
    if (texts == NULL || lens == NULL || v == NULL)
        goto out;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < p[i].chunks.count; j++)
            if (p[i].chunks.items[j].searchable) {
                texts[k] = p[i].chunks.items[j].content;
                lens[k++] = p[i].chunks.items[j].len;
            }
    if ((rc = lm__vector_embed(&mem->vec, v, texts, lens, n_search)) == 0) {
        *out = v;
        v = NULL;
    }
out:
    lm__free(texts);
    lm__free(lens);
    lm__free(v);
    return rc;
}

/* The document rows as one JSON array for jsonb_to_recordset. */
static int docs_json(char **out, const prep_doc *p, size_t n)
{
    json_t *arr = json_array();
    int bad = arr == NULL;
    for (size_t i = 0; i < n && !bad; i++) {
        const prep_doc *d = &p[i];
        json_t *o = json_object();
        json_t *meta = d->o.metadata ? json_loads(d->o.metadata, 0, NULL) : json_object();
        bad = o == NULL || meta == NULL;
        bad |= json_object_set_new(o, "document_id", json_string(d->docid));
        bad |= json_object_set_new(o, "id_at_origin", json_string(d->in->id_at_origin));
        bad |= json_object_set_new(o, "document_type", json_string(lm_doc_type_name(d->in->type)));
        bad |= json_object_set_new(o, "document_name", json_string(d->in->name));
        bad |= json_object_set_new(o, "document_date",
                                   d->o.document_date ? json_string(d->o.document_date)
                                                      : json_null());
        bad |= json_object_set_new(o, "metadata", meta);
        bad |= json_object_set_new(o, "text_config", json_string(d->cfg));
        bad |= json_object_set_new(o, "content_bytes", json_integer((json_int_t)d->len));
        bad |= json_object_set_new(o, "chunk_count", json_integer((json_int_t)d->chunks.count));
        bad |= json_array_append_new(arr, o);
    }
    *out = bad ? NULL : json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    if (*out == NULL)
        return lm__error_set_oom(), LM_ENOMEM;
    return 0;
}

/* Fields of COPY's binary format: a 32-bit length (-1: NULL), then the value, big-endian. */
static void put_u16(lm_buf *b, unsigned v)
{
    char x[2] = {(char)(v >> 8), (char)v};
    lm__buf_put(b, x, 2);
}

static void put_u32(lm_buf *b, uint32_t v)
{
    char x[4] = {(char)(v >> 24), (char)(v >> 16), (char)(v >> 8), (char)v};
    lm__buf_put(b, x, 4);
}

static void field_null(lm_buf *b)
{
    put_u32(b, UINT32_MAX);
}

static void field_bytes(lm_buf *b, const char *s, size_t len)
{
    put_u32(b, (uint32_t)len);
    lm__buf_put(b, s, len);
}

static void field_i64(lm_buf *b, int64_t v)
{
    put_u32(b, 8);
    put_u32(b, (uint32_t)((uint64_t)v >> 32));
    put_u32(b, (uint32_t)v);
}

static void field_i32(lm_buf *b, int32_t v)
{
    put_u32(b, 4);
    put_u32(b, (uint32_t)v);
}

static void field_bool(lm_buf *b, int v)
{
    put_u32(b, 1);
    lm__buf_putc(b, v ? 1 : 0);
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c - 'A' + 10;
}

/* A uuid from its canonical text (the library's own ids and the server's). */
static void field_uuid(lm_buf *b, const char *s)
{
    char u[16];
    int n = 0;
    for (const char *p = s; *p && n < 16; p++) {
        if (*p == '-')
            continue;
        u[n++] = (char)(hexval(p[0]) << 4 | hexval(p[1]));
        p++;
    }
    field_bytes(b, u, 16);
}

/* pgvector's binary form: dimension and a reserved word (16 bits each), then the floats. */
static void field_vector(lm_buf *b, const float *v, int dim)
{
    put_u32(b, 4 + 4 * (uint32_t)dim);
    put_u16(b, (unsigned)dim);
    put_u16(b, 0);
    for (int i = 0; i < dim; i++) {
        uint32_t x;
        memcpy(&x, &v[i], 4);
        put_u32(b, x);
    }
}

/* The chunk's metadata as jsonb's binary form (version 1, then the text): its own (JSON object
 * text or NULL) with its type and position, as lm_doc_add() stores it. 0 or LM_ENOMEM. */
static int field_chunk_meta(lm_buf *b, const lm__chunk *c)
{
    const char *kind = c->kind ? c->kind : "text"; /* the chunker's static names: no escaping */
    char text[160];
    int n;
    if (c->meta_json) {
        /* Merge with jansson: the chunker's object may hold other keys. */
        json_t *m = json_loads(c->meta_json, 0, NULL);
        if (json_is_object(m)) {
            char *s;
            json_object_set_new(m, "chunk_type", json_string(kind));
            json_object_set_new(m, "start_pos", json_integer((json_int_t)c->start));
            json_object_set_new(m, "end_pos", json_integer((json_int_t)c->end));
            s = json_dumps(m, JSON_COMPACT);
            json_decref(m);
            if (s == NULL)
                return lm__error_set_oom(), LM_ENOMEM;
            put_u32(b, (uint32_t)strlen(s) + 1);
            lm__buf_putc(b, 1);
            lm__buf_puts(b, s);
            free(s); /* jansson's allocator */
            return 0;
        }
        json_decref(m);
    }
    n = snprintf(text, sizeof(text),
                 "{\"chunk_type\": \"%s\", \"start_pos\": %zu, \"end_pos\": %zu}", kind,
                 c->start, c->end);
    put_u32(b, (uint32_t)n + 1);
    lm__buf_putc(b, 1);
    lm__buf_put(b, text, (size_t)n);
    return 0;
}

static int copy_flush(PGconn *conn, lm_buf *b)
{
    if (lm__buf_oom(b))
        return lm__error_set_oom(), LM_ENOMEM;
    if (b->size > 0 && PQputCopyData(conn, b->ptr, (int)b->size) != 1)
        return lm__db_error(conn, NULL);
    lm__buf_clear(b);
    return 0;
}

/* End the COPY (aborting it with @p why when not NULL) and collect its result. */
static int copy_end(PGconn *conn, const char *why)
{
    int rc = 0;
    PGresult *res;
    if (PQputCopyEnd(conn, why) != 1)
        rc = lm__db_error(conn, NULL);
    while ((res = PQgetResult(conn)) != NULL) {
        if (rc == 0 && why == NULL)
            rc = lm__db_result(NULL, conn, res);
        else
            PQclear(res);
    }
    return rc;
}

/* Stream every chunk of the batch (and its vector, when @p vecs) into the staging table, in
 * COPY's binary format: no number formatting in the client and no parsing in the server. */
static int copy_chunks(PGconn *conn, const prep_doc *p, size_t n, const float *vecs, int dim)
{
    static const char header[19] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0";
    lm_buf b = LM_BUF_INIT;
    PGresult *res = PQexec(conn, "COPY pg_temp.lm__ingest_chunks FROM STDIN (FORMAT binary)");
    size_t k = 0;
    int64_t ord = 0;
    int rc;

    if (PQresultStatus(res) != PGRES_COPY_IN) {
        if ((rc = lm__db_result(NULL, conn, res)) < 0)
            return rc;
        return lm__error_set(LM_EDB, "COPY did not start");
    }
    PQclear(res);
    lm__buf_put(&b, header, sizeof(header));
    for (size_t i = 0; i < n; i++) {
        const prep_doc *d = &p[i];
        for (size_t j = 0; j < d->chunks.count; j++) {
            const lm__chunk *c = &d->chunks.items[j];
            char hash[65];
            lm__sha256_hex(hash, c->content, c->len);
            put_u16(&b, 13);
            field_i64(&b, ord++);
            field_uuid(&b, d->ids[j]);
            field_uuid(&b, d->docid);
            if (c->parent >= 0 && (size_t)c->parent < j)
                field_uuid(&b, d->ids[c->parent]);
            else
                field_null(&b);
            field_i32(&b, (int32_t)j);
            field_i32(&b, c->level);
            field_bool(&b, c->searchable);
            field_bytes(&b, c->content, c->len);
            field_bytes(&b, hash, 64);
            field_i32(&b, c->token_count);
            if ((rc = field_chunk_meta(&b, c)) < 0)
                goto fail;
            field_bytes(&b, d->cfg, strlen(d->cfg));
            if (vecs != NULL && c->searchable)
                field_vector(&b, vecs + (size_t)dim * k++, dim);
            else
                field_null(&b);
            if (b.size >= COPY_PIECE && (rc = copy_flush(conn, &b)) < 0)
                goto fail;
        }
    }
    put_u16(&b, 0xffff);
    if ((rc = copy_flush(conn, &b)) < 0)
        goto fail;
    lm_buf_dispose(&b);
    return copy_end(conn, NULL);
fail:
    lm_buf_dispose(&b);
    copy_end(conn, "llmemory: batch abandoned");
    return rc;
}

static int exec_sql(lm__tx *tx, lm_buf *sql, int n, const char *const *params, PGresult **out)
{
    if (lm__buf_oom(sql))
        return lm__error_set_oom(), LM_ENOMEM;
    return lm__db_exec(out, tx->conn, sql->ptr, n, params);
}

/* The database part of a batch, inside @p tx (tenant lock held). */
static int write_batch(lm_memory *mem, lm__tx *tx, const char *owner_id, prep_doc *p, size_t n,
                       const char *docs, const float *vecs, int queue)
{
    const char *S = mem->db.qschema;
    lm_buf sql = LM_BUF_INIT, ids = LM_BUF_INIT;
    PGresult *res = NULL;
    int rc;

    /* The session's staging table: created once per connection, emptied by every commit. */
    lm__buf_printf(&sql,
                   "CREATE TEMP TABLE IF NOT EXISTS lm__ingest_chunks (ord bigint, chunk_id uuid,"
                   " document_id uuid, parent_chunk_id uuid, chunk_index int, chunk_level int,"
                   " searchable bool, content text, content_hash text, token_count int,"
                   " metadata jsonb, cfg text, embedding vector)"
                   " WITH (toast_tuple_target = 8160) ON COMMIT DELETE ROWS");
    if ((rc = exec_sql(tx, &sql, 0, NULL, NULL)) < 0)
        goto out;

    lm__buf_clear(&sql);
    lm__buf_printf(&sql,
        "INSERT INTO %s.documents AS d (owner_id, document_id, id_at_origin, document_type,"
        " document_name, document_date, metadata, text_config, content_bytes, chunk_count)"
        " SELECT $1, x.document_id, x.id_at_origin, x.document_type, x.document_name,"
        "        x.document_date::timestamptz, x.metadata, x.text_config::regconfig,"
        "        x.content_bytes, x.chunk_count"
        "   FROM jsonb_to_recordset($2::jsonb) AS x(document_id uuid, id_at_origin text,"
        "        document_type text, document_name text, document_date text, metadata jsonb,"
        "        text_config text, content_bytes bigint, chunk_count int)"
        "  ORDER BY x.id_at_origin"
        " ON CONFLICT (owner_id, id_at_origin) DO UPDATE SET"
        " document_type = excluded.document_type, document_name = excluded.document_name,"
        " document_date = excluded.document_date, metadata = excluded.metadata,"
        " text_config = excluded.text_config, content_bytes = excluded.content_bytes,"
        " chunk_count = excluded.chunk_count, updated_at = now()"
        " RETURNING id_at_origin, document_id, (xmax = 0)",
        S);
    {
        const char *pp[] = {owner_id, docs};
        if ((rc = exec_sql(tx, &sql, 2, pp, &res)) < 0)
            goto out;
    }
    if ((size_t)PQntuples(res) != n) {
        rc = lm__error_set(LM_EDB, "the document upsert returned %d rows for %zu documents",
                           PQntuples(res), n);
        goto out;
    }
    {
        /* Match the returned rows to the batch by id at origin (both sorted). */
        prep_doc **v = lm__malloc(n * sizeof(*v));
        int any = 0;
        if (v == NULL) {
            rc = LM_ENOMEM;
            goto out;
        }
        for (size_t i = 0; i < n; i++)
            v[i] = &p[i];
        qsort(v, n, sizeof(*v), cmp_origin);
        lm__buf_putc(&ids, '{');
        for (int r = 0; r < PQntuples(res); r++) {
            const char *origin = PQgetvalue(res, r, 0);
            size_t lo = 0, hi = n;
            while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (strcmp(v[mid]->in->id_at_origin, origin) < 0)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            if (lo == n || strcmp(v[lo]->in->id_at_origin, origin) != 0)
                continue;
            snprintf(v[lo]->docid, sizeof(v[lo]->docid), "%s", PQgetvalue(res, r, 1));
            v[lo]->created = PQgetvalue(res, r, 2)[0] == 't';
            if (!v[lo]->created) {
                lm__buf_printf(&ids, "%s%s", any ? "," : "", v[lo]->docid);
                any = 1;
            }
        }
        lm__buf_putc(&ids, '}');
        lm__free(v);
        PQclear(res);
        res = NULL;
        if (any) {
            const char *pp[] = {owner_id, ids.ptr};
            lm__buf_clear(&sql);
            lm__buf_printf(&sql,
                           "DELETE FROM %s.chunks WHERE owner_id = $1"
                           " AND document_id = ANY ($2::uuid[])",
                           S);
            if (lm__buf_oom(&ids)) {
                rc = LM_ENOMEM;
                goto out;
            }
            if ((rc = exec_sql(tx, &sql, 2, pp, NULL)) < 0)
                goto out;
        }
    }

    if ((rc = copy_chunks(tx->conn, p, n, vecs, mem->vec.dim)) < 0)
        goto out;
    lm__buf_clear(&sql);
    lm__buf_printf(&sql,
        "INSERT INTO %s.chunks (owner_id, chunk_id, document_id, parent_chunk_id, chunk_index,"
        " chunk_level, searchable, content, content_hash, token_count, metadata,"
        " search_vector, doc_len)"
        " SELECT $1, x.chunk_id, x.document_id, x.parent_chunk_id, x.chunk_index, x.chunk_level,"
        "        x.searchable, x.content, x.content_hash, x.token_count, x.metadata, v.tsv,"
        "        (SELECT coalesce(sum(coalesce(array_length(u.positions, 1), 1)), 0)"
        "           FROM unnest(v.tsv) u)"
        "   FROM pg_temp.lm__ingest_chunks x"
        "  CROSS JOIN LATERAL (SELECT to_tsvector(x.cfg::regconfig, x.content) AS tsv) v"
        "  ORDER BY x.ord",
        S);
    {
        const char *pp[] = {owner_id};
        if ((rc = exec_sql(tx, &sql, 1, pp, NULL)) < 0)
            goto out;
    }
    if (vecs != NULL || queue) {
        const char *pp[] = {owner_id, mem->vec.provider_id};
        lm__buf_clear(&sql);
        if (vecs != NULL)
            lm__buf_printf(&sql,
                           "INSERT INTO %s (owner_id, provider_id, chunk_id, embedding)"
                           " SELECT $1, $2, x.chunk_id, x.embedding::vector(%d)"
                           "   FROM pg_temp.lm__ingest_chunks x WHERE x.embedding IS NOT NULL",
                           mem->vec.table, mem->vec.dim);
        else
            lm__buf_printf(&sql,
                           "INSERT INTO %s.embedding_queue (owner_id, provider_id, chunk_id)"
                           " SELECT $1, $2, x.chunk_id FROM pg_temp.lm__ingest_chunks x"
                           "  WHERE x.searchable",
                           S);
        if ((rc = exec_sql(tx, &sql, 2, pp, NULL)) < 0)
            goto out;
    }
out:
    PQclear(res);
    lm_buf_dispose(&sql);
    lm_buf_dispose(&ids);
    return rc;
}

/* The batch in one transaction on @p wm's database (@p mem itself, or on a cluster proxy the
 * tenant's shard): the usage before, the rows, the quota check (@p mem's limits), commit. */
static int write_tx(lm_memory *mem, lm_memory *wm, const char *owner_id, prep_doc *p, size_t n,
                    const char *docs, const float *vecs, int queue)
{
    lm__tx tx = {0};
    lm__usage before;
    int rc;
    if ((rc = lm__tx_begin(&tx, &wm->db, owner_id, LM__TX_WRITE)) == 0 &&
        (rc = lm__usage_read(&before, wm, &tx, owner_id)) == 0 &&
        (rc = write_batch(wm, &tx, owner_id, p, n, docs, vecs, queue)) == 0 &&
        (rc = lm__quota_check(mem, &tx, owner_id, &before)) == 0)
        rc = lm__tx_commit(&tx);
    lm__tx_end(&tx);
    return rc;
}

/* Tries of a batch refused by a moving tenant's fence, and the wait between them. */
#define ROUTED_TRIES 40
#define ROUTED_WAIT_MS 50

/* On a cluster proxy (docs/cluster.md): COPY cannot pass through PL/Proxy, so the batch is
 * written on the tenant's shard directly (api/shards.c), the same transaction as on one server.
 * The placement is read from the proxy for every try. A batch that reaches the old shard of a
 * moving tenant once it is fenced fails there with 40001 (LM_ERETRY) and writes nothing; it is
 * tried again, on the shard the placement then names, for up to about 2 s (a move pauses writes
 * for well under that); after that LM_ERETRY goes to the caller. */
static int write_routed(lm_memory *mem, const char *owner_id, prep_doc *p, size_t n,
                        const char *docs, const float *vecs, int queue)
{
    for (int t = 1;; t++) {
        lm_memory *sm = NULL;
        int rc = lm__shards_memory(mem, owner_id, &sm);
        if (rc == 0)
            rc = write_tx(mem, sm, owner_id, p, n, docs, vecs, queue);
        if (rc != LM_ERETRY || t == ROUTED_TRIES)
            return rc;
        lm__error_clear();
        struct timespec ts = {0, ROUTED_WAIT_MS * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
    }
}

int lm_doc_add_batch(lm_doc_add_result *results,
                     size_t *failed,
                     lm_memory *mem,
                     const char *owner_id,
                     const lm_doc_input *docs,
                     size_t n_docs)
{
    prep_doc *p = NULL;
    char *json = NULL;
    float *vecs = NULL;
    size_t n_search = 0, n_chunks = 0, bad = n_docs;
    int rc, queue = 0;
    double t0 = lm__now_ms();

    if (failed)
        *failed = n_docs;
    LM__ROUTE(mem, owner_id); /* schema and database modes: the tenant's memory */
    LM_ASSERT_ARG(mem != NULL);
    if ((rc = lm__validate_owner_id(owner_id)) < 0)
        return rc;
    if (n_docs == 0 || n_docs > LM_DOC_BATCH_MAX || docs == NULL)
        return lm__error_set_field(LM_EINVAL, "docs",
                                   "a batch holds 1 to %d documents (%zu given)",
                                   LM_DOC_BATCH_MAX, docs == NULL ? (size_t)0 : n_docs);
    if (results)
        memset(results, 0, n_docs * sizeof(*results));
    if ((p = lm__calloc(n_docs, sizeof(*p))) == NULL)
        return LM_ENOMEM;
    for (size_t i = 0; i < n_docs; i++) {
        lm_doc_add_opts d = LM_DOC_ADD_OPTS_INIT;
        p[i].in = &docs[i];
        p[i].o = d;
    }
    for (size_t i = 0; i < n_docs; i++) {
        if ((rc = prepare(&p[i], mem, i)) < 0) {
            bad = rc == LM_ENOMEM ? n_docs : i;
            goto out;
        }
        n_search += p[i].n_search;
        n_chunks += p[i].chunks.count;
    }
    if ((rc = check_unique(p, n_docs)) < 0)
        goto out;
    /* Rate: every document of the batch counts as one add. */
    for (size_t i = 0; i < n_docs; i++)
        if ((rc = lm__rate_take(mem, LM__RATE_ADDS, owner_id)) < 0)
            goto out;
    if (mem->vec.embedder != NULL && n_search > 0) {
        /* Before the transaction, as lm_doc_add(): a slow provider must not hold the lock. */
        if (mem->embed_mode == LM_EMBED_QUEUE) {
            queue = 1;
        } else if ((rc = embed_all(&vecs, mem, p, n_docs, n_search)) < 0) {
            if (rc == LM_ENOMEM)
                goto out;
            lm__db_log(&mem->db, LM_LOG_WARN,
                       "could not embed a batch of %zu documents (%s); their chunks are queued",
                       n_docs, lm_error_last()->message);
            lm__error_clear();
            queue = 1;
        }
    }
    if ((rc = docs_json(&json, p, n_docs)) < 0)
        goto out;
    if ((rc = mem->db.proxy ? write_routed(mem, owner_id, p, n_docs, json, vecs, queue)
                            : write_tx(mem, mem, owner_id, p, n_docs, json, vecs, queue)) < 0)
        goto out;
    if (results) {
        double ms = lm__now_ms() - t0;
        for (size_t i = 0; i < n_docs; i++) {
            snprintf(results[i].document_id, sizeof(results[i].document_id), "%s", p[i].docid);
            results[i].created = p[i].created;
            results[i].chunk_count = (int)p[i].chunks.count;
            results[i].embedded = vecs != NULL ? (int)p[i].n_search : 0;
            results[i].queued = queue ? (int)p[i].n_search : 0;
            results[i].elapsed_ms = ms;
        }
    }
    if (vecs != NULL)
        lm__vindex_bg_request(&mem->vindex_bg, owner_id); /* off the request path */
    lm__autopack_note(mem, (int64_t)n_search);
    lm__db_log(&mem->db, LM_LOG_DEBUG, "added a batch of %zu documents (%zu chunks)", n_docs,
               n_chunks);
out:
    if (rc < 0 && failed)
        *failed = bad;
    free(json); /* allocated by jansson */
    lm__free(vecs);
    for (size_t i = 0; p != NULL && i < n_docs; i++) {
        lm__free(p[i].clean);
        lm__free(p[i].ids);
        lm__chunk_list_dispose(&p[i].chunks);
    }
    lm__free(p);
    return rc;
}
