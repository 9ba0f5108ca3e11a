/*
 * api/doc.c: the document entry points: add (upsert + atomic re-index), get, list, delete and
 * statistics (tenant erasure is api/erase.c). Arguments are validated before any I/O; every
 * statement is scoped by owner_id with bound parameters and runs inside a tenant transaction.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "api/memory.h"
#include "buf.h"
#include "chunk/chunk.h"
#include "clock.h"
#include "doctype.h"
#include "error.h"
#include "hash.h"
#include "llmemory.h"
#include "utf8.h"
#include "validate.h"

int lm_doc_add_opts_init(lm_doc_add_opts *opts, unsigned int version)
{
    LM_ASSERT_ARG(opts != NULL);
    if (version != LM_DOC_ADD_OPTS_VERSION)
        return lm__error_set(LM_EINVAL, "unsupported lm_doc_add_opts version %u", version);
    lm_doc_add_opts d = LM_DOC_ADD_OPTS_INIT;
    *opts = d;
    return 0;
}

int lm_doc_list_opts_init(lm_doc_list_opts *opts, unsigned int version)
{
    LM_ASSERT_ARG(opts != NULL);
    if (version != LM_DOC_LIST_OPTS_VERSION)
        return lm__error_set(LM_EINVAL, "unsupported lm_doc_list_opts version %u", version);
    lm_doc_list_opts d = LM_DOC_LIST_OPTS_INIT;
    *opts = d;
    return 0;
}

/* ---- add ---------------------------------------------------------------------------------- */

/* The chunks as one JSON array, inserted with jsonb_to_recordset in a single statement. When
 * @p vecs is given, searchable chunk number j (in order) carries vecs[j * dim ...] as
 * "embedding" (pgvector text). */
static int chunks_json(char **out, const lm__chunk_list *chunks, char (*ids)[37], const float *vecs,
                       int dim)
{
    json_t *arr = json_array();
    lm_buf lit = LM_BUF_INIT;
    size_t j = 0;
    int rc = LM_ENOMEM;
    *out = NULL;
    if (arr == NULL)
        goto out;
    for (size_t i = 0; i < chunks->count; i++) {
        const lm__chunk *c = &chunks->items[i];
        char hash[65];
        lm__sha256_hex(hash, c->content, c->len);
        json_t *meta = NULL;
        if (c->meta_json) {
            meta = json_loads(c->meta_json, 0, NULL);
            if (!json_is_object(meta)) {
                json_decref(meta);
                meta = NULL;
            }
        }
        if (meta == NULL)
            meta = json_object();
        json_t *o = json_object();
        if (meta == NULL || o == NULL) {
            json_decref(meta);
            json_decref(o);
            goto out;
        }
        json_object_set_new(meta, "chunk_type", json_string(c->kind ? c->kind : "text"));
        json_object_set_new(meta, "start_pos", json_integer((json_int_t)c->start));
        json_object_set_new(meta, "end_pos", json_integer((json_int_t)c->end));
        json_object_set_new(o, "chunk_id", json_string(ids[i]));
        json_object_set_new(o, "parent_chunk_id",
                            c->parent >= 0 && (size_t)c->parent < i ? json_string(ids[c->parent])
                                                                    : json_null());
        json_object_set_new(o, "chunk_index", json_integer((json_int_t)i));
        json_object_set_new(o, "chunk_level", json_integer(c->level));
        json_object_set_new(o, "searchable", json_boolean(c->searchable));
        json_object_set_new(o, "content", json_stringn(c->content, c->len));
        json_object_set_new(o, "content_hash", json_string(hash));
        json_object_set_new(o, "token_count", json_integer(c->token_count));
        json_object_set_new(o, "metadata", meta);
        if (vecs != NULL && c->searchable) {
            lm__buf_clear(&lit);
            lm__vector_literal(&lit, vecs + (size_t)dim * j++, dim);
            if (lm__buf_oom(&lit)) {
                json_decref(o);
                goto out;
            }
            json_object_set_new(o, "embedding", json_stringn(lit.ptr, lit.size));
        }
        if (json_array_append_new(arr, o) < 0)
            goto out;
    }
    *out = json_dumps(arr, JSON_COMPACT);
    rc = *out ? 0 : LM_ENOMEM;
out:
    if (rc == LM_ENOMEM)
        lm__error_set_oom();
    lm_buf_dispose(&lit);
    json_decref(arr);
    return rc;
}

/* Embed the searchable chunks (sync mode). On failure the error is logged and cleared and the
 * caller queues the chunks instead: a failed embedding never loses the document. */
static int embed_chunks(float **out, lm_memory *mem, const lm__chunk_list *chunks, size_t n)
{
    const char **texts = NULL;
    size_t *lens = NULL;
    float *v = NULL;
    size_t j = 0;
    int rc = LM_ENOMEM;

    *out = NULL;
    texts = lm__calloc(n, sizeof(*texts));
    lens = lm__calloc(n, sizeof(*lens));
    v = lm__malloc(n * (size_t)mem->vec.dim * sizeof(float));
    if (texts == NULL || lens == NULL || v == NULL)
        goto out;
    for (size_t i = 0; i < chunks->count; i++) {
        if (!chunks->items[i].searchable)
            continue;
        texts[j] = chunks->items[i].content;
        lens[j++] = chunks->items[i].len;
    }
    rc = lm__vector_embed(&mem->vec, v, texts, lens, n);
    if (rc == 0) {
        *out = v;
        v = NULL;
    }
out:
    lm__free(texts);
    lm__free(lens);
    lm__free(v);
    return rc;
}

/* The write of lm_doc_add() as one call of <schema>.lm_add (061_tenant_writes.sql): upsert,
   chunks, vectors or queue entries, and the quota check, in one round trip. A quota refusal
   comes back as SQLSTATE 53400 with the kind as its column: LM_ELIMIT with that field, as
   lm__quota_check() says it. */
static int doc_add_call(PGresult **out, lm_memory *mem, const char *owner_id, const char *docid,
                        const char *id_at_origin, lm_doc_type type, const char *name,
                        const lm_doc_add_opts *o, const char *cfg, const char *bytes,
                        const char *nchunks, const char *json, int vectors, int queue)
{
    lm_buf sql = LM_BUF_INIT;
    char dim[16], limits[128];
    int rc;
    snprintf(dim, sizeof(dim), "%d", mem->vec.dim);
    snprintf(limits, sizeof(limits), "{%lld,%lld,%lld,%lld}", (long long)mem->quota_default[0],
             (long long)mem->quota_default[1], (long long)mem->quota_default[2],
             (long long)mem->quota_default[3]);
    lm__buf_printf(&sql, "SELECT * FROM %s.lm_add($1, $2::uuid, $3, $4, $5, $6::timestamptz,"
                         " $7::jsonb, $8, $9::bigint, $10::int, $11::jsonb, $12, $13::int,"
                         " $14::boolean, $15::boolean, $16::bigint[], $17::boolean)",
                   mem->db.qschema);
    if (lm__buf_oom(&sql))
        return LM_ENOMEM;
    const char *p[17] = {owner_id, docid, id_at_origin, lm_doc_type_name(type), name,
                         o->document_date, o->metadata, cfg, bytes, nchunks, json,
                         mem->vec.embedder ? mem->vec.provider_id : NULL, dim,
                         vectors ? "true" : "false", queue ? "true" : "false", limits,
                         mem->vec.embedder ? "true" : "false"};
    /* Not prepared: a document's chunks make a parameter of any size, and the call plans in
       no time. */
    PGconn *conn = NULL;
    PGresult *res = NULL;
    const char *kind = NULL, *state = NULL;
    char field[16] = "";
    int quota = 0;
    if ((rc = lm__pool_acquire(&conn, &mem->db.pool)) < 0)
        goto out;
    res = PQexecParams(conn, sql.ptr, 17, NULL, p, NULL, NULL, 0);
    if (res != NULL && PQresultStatus(res) == PGRES_FATAL_ERROR) {
        kind = PQresultErrorField(res, PG_DIAG_COLUMN_NAME);
        state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        quota = state != NULL && strcmp(state, "53400") == 0;
    }
    if (quota && kind != NULL)
        snprintf(field, sizeof(field), "%s", kind);
    rc = lm__db_result(out, conn, res);
    lm__pool_release(&mem->db.pool, conn);
    if (quota) {
        char msg[200], detail[400], hint[200];
        snprintf(msg, sizeof(msg), "%s", lm_error_last()->message);
        /* Through a cluster proxy the column is not relayed: the kind starts the message
           ("<kind> quota exceeded"). */
        if (field[0] == '\0')
            snprintf(field, sizeof(field), "%.*s", (int)strcspn(msg, " "), msg);
        snprintf(detail, sizeof(detail), "%s", lm_error_last()->detail);
        snprintf(hint, sizeof(hint), "%s", lm_error_last()->hint);
        rc = lm__error_set_field(LM_ELIMIT, field, "%s", msg);
        lm__error_detail("%s", detail);
        lm__error_hint("%s", hint);
    }
out:
    lm_buf_dispose(&sql);
    return rc;
}

int lm_doc_add(lm_doc_add_result *out,
               lm_memory *mem,
               const char *owner_id,
               const char *id_at_origin,
               const char *name,
               lm_doc_type type,
               const char *content,
               size_t content_len,
               const lm_doc_add_opts *opts)
{
    LM__ROUTE(mem, owner_id); /* schema and database modes: the tenant's memory */
    lm_doc_add_opts o = LM_DOC_ADD_OPTS_INIT;
    lm__chunk_list chunks = {0};
    lm__tx tx = {0};
    PGresult *res = NULL;
    char *clean = NULL, *json = NULL;
    lm_buf sql = LM_BUF_INIT;
    const char *text = content;
    size_t len = content_len;
    int rc, created = 0;
    double t0 = lm__now_ms();
    char docid[37], bytes[24], nchunks[16];
    const char *cfg = NULL;
    const char *S = mem ? mem->db.qschema : "";
    char(*ids)[37] = NULL;
    float *vecs = NULL;
    size_t n_search = 0;
    int queue = 0;
    lm__usage before;

    if (out)
        memset(out, 0, sizeof(*out));
    LM_ASSERT_ARG(mem != NULL);
    if (opts) {
        if (opts->version != LM_DOC_ADD_OPTS_VERSION)
            return lm__error_set(LM_EINVAL, "unsupported lm_doc_add_opts version %u", opts->version);
        o = *opts;
    }
    if ((rc = lm__validate_owner_id(owner_id)) < 0 ||
        (rc = lm__validate_id_at_origin(id_at_origin, "id_at_origin")) < 0 ||
        (rc = lm__validate_doc_name(name)) < 0)
        return rc;
    if ((int)type < 0 || type >= LM_DOC_TYPE_COUNT)
        return lm__error_set_field(LM_EINVAL, "document_type", "invalid document type %d", (int)type);
    if (content == NULL && content_len > 0)
        return lm__error_set_field(LM_EINVAL, "content", "content must not be NULL");
    if (content_len > mem->max_content_bytes) {
        lm__error_set_field(LM_EINVAL, "content",
                            "content is too large (%zu bytes, the maximum is %zu)", content_len,
                            mem->max_content_bytes);
        lm__error_hint("Raise max_content_bytes in lm_memory_opts, or split the document.");
        return LM_EINVAL;
    }
    if (o.document_date && (rc = lm__validate_timestamp(o.document_date, "document_date")) < 0)
        return rc;
    if ((rc = lm__validate_metadata(o.metadata, "metadata", 1)) < 0)
        return rc;
    cfg = o.text_config ? o.text_config : mem->text_config;
    if ((rc = lm__validate_text_config(cfg)) < 0)
        return rc;
    if (o.strategy != LM_CHUNK_HIERARCHICAL && o.strategy != LM_CHUNK_SEMANTIC)
        return lm__error_set_field(LM_EINVAL, "strategy", "invalid chunking strategy %d",
                                   (int)o.strategy);
    if ((rc = lm__rate_take(mem, LM__RATE_ADDS, owner_id)) < 0)
        return rc;

    /* PostgreSQL text cannot hold NUL bytes: strip them. */
    if (len > 0 && memchr(content, '\0', len) != NULL) {
        clean = lm__malloc(len);
        if (clean == NULL)
            return LM_ENOMEM;
        size_t k = 0;
        for (size_t i = 0; i < len; i++)
            if (content[i] != '\0')
                clean[k++] = content[i];
        text = clean;
        len = k;
    }
    if (!lm__utf8_valid(text ? text : "", len)) {
        rc = lm__error_set_field(LM_EINVAL, "content", "content is not valid UTF-8");
        goto out;
    }
    {
        /* A document with nothing to search would have no chunks: refused, as the CLI does. */
        size_t i = 0;
        while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' ||
                           text[i] == '\r' || text[i] == '\f' || text[i] == '\v'))
            i++;
        if (i == len) {
            rc = lm__error_set_field(LM_EINVAL, "content", "content contains no text");
            goto out;
        }
    }

    if ((rc = lm__chunk_document(&chunks, text ? text : "", len, type, o.strategy)) < 0)
        goto out;
    if ((ids = lm__calloc(chunks.count ? chunks.count : 1, sizeof(*ids))) == NULL) {
        rc = LM_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < chunks.count; i++) {
        lm__uuid_v4(ids[i]);
        n_search += chunks.items[i].searchable != 0;
    }
    if (mem->vec.embedder != NULL && n_search > 0) {
        /* Embedding happens before the transaction: a slow provider must not hold the tenant's
           write lock. */
        if (mem->embed_mode == LM_EMBED_QUEUE) {
            queue = 1;
        } else if ((rc = embed_chunks(&vecs, mem, &chunks, n_search)) < 0) {
            if (rc == LM_ENOMEM)
                goto out;
            lm__db_log(&mem->db, LM_LOG_WARN,
                       "could not embed document \"%s\" (%s); its chunks are queued",
                       id_at_origin, lm_error_last()->message);
            lm__error_clear();
            queue = 1;
        }
    }
    if ((rc = chunks_json(&json, &chunks, ids, vecs, mem->vec.dim)) < 0)
        goto out;

    lm__uuid_v4(docid);
    snprintf(bytes, sizeof(bytes), "%zu", len);
    snprintf(nchunks, sizeof(nchunks), "%zu", chunks.count);

    if (mem->sql_functions) {
        if ((rc = doc_add_call(&res, mem, owner_id, docid, id_at_origin, type, name, &o, cfg, bytes,
                               nchunks, json, vecs != NULL, queue)) < 0)
            goto out;
        snprintf(docid, sizeof(docid), "%s", PQgetvalue(res, 0, 0));
        created = PQgetvalue(res, 0, 1)[0] == 't';
        goto done;
    }
    if ((rc = lm__tx_begin(&tx, &mem->db, owner_id, LM__TX_WRITE)) < 0)
        goto out;
    if ((rc = lm__usage_read(&before, mem, &tx, owner_id)) < 0)
        goto out;
    lm__buf_printf(&sql,
        "INSERT INTO %s.documents AS d (owner_id, document_id, id_at_origin, document_type,"
        " document_name, document_date, metadata, text_config, content_bytes, chunk_count)"
        " VALUES ($1, $2, $3, $4, $5, $6::timestamptz, coalesce($7::jsonb, '{}'), $8::regconfig,"
        " $9, $10)"
        " ON CONFLICT (owner_id, id_at_origin) DO UPDATE SET"
        " document_type = excluded.document_type, document_name = excluded.document_name,"
        " document_date = excluded.document_date, metadata = excluded.metadata,"
        " text_config = excluded.text_config, content_bytes = excluded.content_bytes,"
        " chunk_count = excluded.chunk_count, updated_at = now()"
        " RETURNING document_id, (xmax = 0)",
        S);
    if (lm__buf_oom(&sql)) {
        rc = LM_ENOMEM;
        goto out;
    }
    {
        const char *up[] = {owner_id, docid, id_at_origin, lm_doc_type_name(type), name,
                            o.document_date, o.metadata, cfg, bytes, nchunks};
        if ((rc = lm__db_exec(&res, tx.conn, sql.ptr, 10, up)) < 0)
            goto out;
    }
    snprintf(docid, sizeof(docid), "%s", PQgetvalue(res, 0, 0));
    created = PQgetvalue(res, 0, 1)[0] == 't';
    PQclear(res);
    res = NULL;

    if (!created) {
        const char *del[] = {owner_id, docid};
        lm__buf_clear(&sql);
        lm__buf_printf(&sql, "DELETE FROM %s.chunks WHERE owner_id = $1 AND document_id = $2", S);
        if (lm__buf_oom(&sql)) {
            rc = LM_ENOMEM;
            goto out;
        }
        if ((rc = lm__db_exec(NULL, tx.conn, sql.ptr, 2, del)) < 0)
            goto out;
    }
    if (chunks.count > 0) {
        lm__buf_clear(&sql);
        lm__buf_printf(&sql,
            "INSERT INTO %s.chunks (owner_id, chunk_id, document_id, parent_chunk_id, chunk_index,"
            " chunk_level, searchable, content, content_hash, token_count, metadata,"
            " search_vector, doc_len)"
            " SELECT $1, x.chunk_id, $2, x.parent_chunk_id, x.chunk_index, x.chunk_level,"
            "        x.searchable, x.content, x.content_hash, x.token_count, x.metadata, v.tsv,"
            "        (SELECT coalesce(sum(coalesce(array_length(u.positions, 1), 1)), 0)"
            "           FROM unnest(v.tsv) u)"
            "   FROM jsonb_to_recordset($3::jsonb) AS x(chunk_id uuid, parent_chunk_id uuid,"
            "        chunk_index int, chunk_level int, searchable bool, content text,"
            "        content_hash text, token_count int, metadata jsonb)"
            "  CROSS JOIN LATERAL (SELECT to_tsvector($4::regconfig, x.content) AS tsv) v"
            "  ORDER BY x.chunk_index",
            S);
        if (lm__buf_oom(&sql)) {
            rc = LM_ENOMEM;
            goto out;
        }
        const char *ins[] = {owner_id, docid, json, cfg};
        if ((rc = lm__db_exec(NULL, tx.conn, sql.ptr, 4, ins)) < 0)
            goto out;
    }
    if (vecs != NULL || queue) {
        const char *vp[] = {owner_id, mem->vec.provider_id, json};
        lm__buf_clear(&sql);
        if (vecs != NULL)
            lm__buf_printf(&sql,
                           "INSERT INTO %s (owner_id, provider_id, chunk_id, embedding)"
                           " SELECT $1, $2, x.chunk_id, x.embedding::vector(%d)"
                           "   FROM jsonb_to_recordset($3::jsonb) AS x(chunk_id uuid, embedding text)"
                           "  WHERE x.embedding IS NOT NULL",
                           mem->vec.table, mem->vec.dim);
        else
            lm__buf_printf(&sql,
                           "INSERT INTO %s.embedding_queue (owner_id, provider_id, chunk_id)"
                           " SELECT $1, $2, x.chunk_id"
                           "   FROM jsonb_to_recordset($3::jsonb) AS x(chunk_id uuid, searchable bool)"
                           "  WHERE x.searchable",
                           S);
        if (lm__buf_oom(&sql)) {
            rc = LM_ENOMEM;
            goto out;
        }
        if ((rc = lm__db_exec(NULL, tx.conn, sql.ptr, 3, vp)) < 0)
            goto out;
    }
    /* Quotas: checked after the write, with the writer lock held, so exactly. */
    if ((rc = lm__quota_check(mem, &tx, owner_id, &before)) < 0)
        goto out;
    if ((rc = lm__tx_commit(&tx)) < 0)
        goto out;
done:
    if (out) {
        snprintf(out->document_id, sizeof(out->document_id), "%s", docid);
        out->created = created;
        out->chunk_count = (int)chunks.count;
        out->embedded = vecs != NULL ? (int)n_search : 0;
        out->queued = queue ? (int)n_search : 0;
        out->elapsed_ms = lm__now_ms() - t0;
    }
    if (vecs != NULL)
        lm__vindex_bg_request(&mem->vindex_bg, owner_id); /* off the request path */
    lm__autopack_note(mem, (int64_t)n_search);
    lm__db_log(&mem->db, LM_LOG_DEBUG, "%s document %s (%zu chunks)",
               created ? "added" : "re-indexed", docid, chunks.count);
out:
    lm__tx_end(&tx);
    PQclear(res);
    free(json); /* allocated by jansson */
    lm__free(clean);
    lm__free(ids);
    lm__free(vecs);
    lm_buf_dispose(&sql);
    lm__chunk_list_dispose(&chunks);
    return rc;
}

/* ---- documents as read back ---------------------------------------------------------------- */

#define DOC_COLUMNS                                                                                \
    "document_id, owner_id, id_at_origin, document_type, document_name, " TS("document_date")     \
    ", metadata::text, text_config::text, " TS("created_at") ", " TS("updated_at")                \
    ", chunk_count, content_bytes"

/* Fill @p d from row @p r of a DOC_COLUMNS result; strings point into @p res. */
static void doc_from_row(lm_document *d, const PGresult *res, int r)
{
    snprintf(d->document_id, sizeof(d->document_id), "%s", PQgetvalue(res, r, 0));
    d->owner_id = PQgetvalue(res, r, 1);
    d->id_at_origin = PQgetvalue(res, r, 2);
    d->type = lm__doc_type_from_text(PQgetvalue(res, r, 3));
    d->name = PQgetvalue(res, r, 4);
    d->document_date = PQgetisnull(res, r, 5) ? NULL : PQgetvalue(res, r, 5);
    d->metadata = PQgetvalue(res, r, 6);
    d->text_config = PQgetvalue(res, r, 7);
    d->created_at = PQgetvalue(res, r, 8);
    d->updated_at = PQgetvalue(res, r, 9);
    d->chunk_count = strtoll(PQgetvalue(res, r, 10), NULL, 10);
    d->content_bytes = strtoll(PQgetvalue(res, r, 11), NULL, 10);
}

struct lm_doc {
    PGresult *doc_res;
    PGresult *chunk_res;
    lm_document doc;
    lm_chunk *chunks;
    size_t n_chunks;
};

/* The chunk columns of row @p r from column @p c0 on (chunk_id, parent, index, level,
   searchable, tokens, content, hash, metadata); strings point into @p res. */
static void chunk_from_row(lm_chunk *c, const PGresult *res, int r, int c0)
{
    snprintf(c->chunk_id, sizeof(c->chunk_id), "%s", PQgetvalue(res, r, c0));
    snprintf(c->parent_chunk_id, sizeof(c->parent_chunk_id), "%s", PQgetvalue(res, r, c0 + 1));
    c->chunk_index = (int)strtol(PQgetvalue(res, r, c0 + 2), NULL, 10);
    c->chunk_level = (int)strtol(PQgetvalue(res, r, c0 + 3), NULL, 10);
    c->searchable = PQgetvalue(res, r, c0 + 4)[0] == 't';
    c->token_count = (int)strtol(PQgetvalue(res, r, c0 + 5), NULL, 10);
    c->content = PQgetvalue(res, r, c0 + 6);
    c->content_hash = PQgetvalue(res, r, c0 + 7);
    c->metadata = PQgetvalue(res, r, c0 + 8);
}

/* doc_get() as one call of <schema>.lm_get (060_tenant_functions.sql): the document's row
   first, then its chunks. */
static int doc_get_call(lm_doc *d, lm_memory *mem, const char *owner_id, int by_origin,
                        const char *key, int with_chunks)
{
    lm_buf sql = LM_BUF_INIT;
    int rc;
    lm__buf_printf(&sql, "SELECT * FROM %s.lm_get($1, $2::uuid, $3, $4::boolean)",
                   mem->db.qschema);
    if (lm__buf_oom(&sql))
        return LM_ENOMEM;
    const char *p[4] = {owner_id, by_origin ? NULL : key, by_origin ? key : NULL,
                        with_chunks ? "true" : "false"};
    rc = lm__db_call(&d->doc_res, &mem->db, LM__STMT_FN_GET, sql.ptr, 4, p);
    lm_buf_dispose(&sql);
    if (rc < 0)
        return rc;
    int n = PQntuples(d->doc_res);
    if (n == 0)
        return by_origin ? lm__error_set(LM_ENOTFOUND,
                                         "document with id at origin \"%s\" does not exist", key)
                         : lm__error_set(LM_ENOTFOUND, "document \"%s\" does not exist", key);
    doc_from_row(&d->doc, d->doc_res, 0);
    if (with_chunks) {
        if ((d->chunks = lm__calloc((size_t)n, sizeof(lm_chunk))) == NULL)
            return LM_ENOMEM;
        for (int r = 1; r < n; r++)
            chunk_from_row(&d->chunks[r - 1], d->doc_res, r, 12);
        d->n_chunks = (size_t)n - 1;
    }
    return 0;
}

/* lm_doc_get() and lm_doc_get_by_origin(): the tenant's document whose @p key_column (a trusted
   column name) is @p key. */
static int doc_get(lm_doc **out, lm_memory *mem, const char *owner_id, const char *key_column,
                   const char *key, int with_chunks)
{
    lm_doc *d = NULL;
    lm__tx tx = {0};
    lm_buf sql = LM_BUF_INIT;
    const char *params[2] = {owner_id, key};
    int by_origin = strcmp(key_column, "id_at_origin") == 0;
    int rc;

    if ((d = lm__calloc(1, sizeof(*d))) == NULL)
        return LM_ENOMEM;
    if (mem->sql_functions) {
        rc = doc_get_call(d, mem, owner_id, by_origin, key, with_chunks);
        goto out;
    }
    if ((rc = lm__tx_begin(&tx, &mem->db, owner_id, LM__TX_READ)) < 0)
        goto out;
    lm__buf_printf(&sql, "SELECT " DOC_COLUMNS " FROM %s.documents"
                         " WHERE owner_id = $1 AND %s = $2", mem->db.qschema, key_column);
    if (lm__buf_oom(&sql)) {
        rc = LM_ENOMEM;
        goto out;
    }
    if ((rc = lm__db_exec(&d->doc_res, tx.conn, sql.ptr, 2, params)) < 0)
        goto out;
    if (PQntuples(d->doc_res) == 0) {
        rc = by_origin ? lm__error_set(LM_ENOTFOUND,
                                       "document with id at origin \"%s\" does not exist", key)
                       : lm__error_set(LM_ENOTFOUND, "document \"%s\" does not exist", key);
        goto out;
    }
    doc_from_row(&d->doc, d->doc_res, 0);
    /* The chunks are selected by document_id whichever key found the document. */
    params[1] = d->doc.document_id;
    if (with_chunks) {
        lm__buf_clear(&sql);
        lm__buf_printf(&sql,
                       "SELECT chunk_id, coalesce(parent_chunk_id::text, ''), chunk_index,"
                       " chunk_level, searchable, token_count, content, content_hash,"
                       " metadata::text FROM %s.chunks WHERE owner_id = $1 AND document_id = $2"
                       " ORDER BY chunk_index",
                       mem->db.qschema);
        if (lm__buf_oom(&sql)) {
            rc = LM_ENOMEM;
            goto out;
        }
        if ((rc = lm__db_exec(&d->chunk_res, tx.conn, sql.ptr, 2, params)) < 0)
            goto out;
        int n = PQntuples(d->chunk_res);
        if ((d->chunks = lm__calloc((size_t)(n ? n : 1), sizeof(lm_chunk))) == NULL) {
            rc = LM_ENOMEM;
            goto out;
        }
        for (int r = 0; r < n; r++)
            chunk_from_row(&d->chunks[r], d->chunk_res, r, 0);
        d->n_chunks = (size_t)n;
    }
    rc = lm__tx_commit(&tx);
out:
    lm__tx_end(&tx);
    lm_buf_dispose(&sql);
    if (rc < 0)
        lm_doc_free(d);
    else
        *out = d;
    return rc;
}

int lm_doc_get(lm_doc **out, lm_memory *mem, const char *owner_id, const char *document_id,
               int with_chunks)
{
    LM__ROUTE(mem, owner_id); /* schema and database modes: the tenant's memory */
    int rc;

    LM_ASSERT_ARG(out != NULL);
    *out = NULL;
    LM_ASSERT_ARG(mem != NULL);
    if ((rc = lm__validate_owner_id(owner_id)) < 0 ||
        (rc = lm__validate_uuid(document_id, "document_id")) < 0)
        return rc;
    return doc_get(out, mem, owner_id, "document_id", document_id, with_chunks);
}

int lm_doc_get_by_origin(lm_doc **out, lm_memory *mem, const char *owner_id,
                         const char *id_at_origin, int with_chunks)
{
    LM__ROUTE(mem, owner_id); /* schema and database modes: the tenant's memory */
    int rc;

    LM_ASSERT_ARG(out != NULL);
    *out = NULL;
    LM_ASSERT_ARG(mem != NULL);
    if ((rc = lm__validate_owner_id(owner_id)) < 0 ||
        (rc = lm__validate_id_at_origin(id_at_origin, "id_at_origin")) < 0)
        return rc;
    return doc_get(out, mem, owner_id, "id_at_origin", id_at_origin, with_chunks);
}

const lm_document *lm_doc_document(const lm_doc *doc)
{
    return doc ? &doc->doc : NULL;
}

size_t lm_doc_chunk_count(const lm_doc *doc)
{
    return doc ? doc->n_chunks : 0;
}

const lm_chunk *lm_doc_chunk_at(const lm_doc *doc, size_t i)
{
    return doc && i < doc->n_chunks ? &doc->chunks[i] : NULL;
}

void lm_doc_free(lm_doc *doc)
{
    if (doc == NULL)
        return;
    PQclear(doc->doc_res);
    PQclear(doc->chunk_res);
    lm__free(doc->chunks);
    lm__free(doc);
}

/* ---- list ---------------------------------------------------------------------------------- */

struct lm_doc_page {
    PGresult *res;
    lm_document *docs;
    size_t n;
    int64_t total;
};

int lm_doc_list(lm_doc_page **out, lm_memory *mem, const char *owner_id,
                const lm_doc_list_opts *opts)
{
    LM__ROUTE(mem, owner_id); /* schema and database modes: the tenant's memory */
    lm_doc_list_opts o = LM_DOC_LIST_OPTS_INIT;
    lm_doc_page *l = NULL;
    lm__tx tx = {0};
    PGresult *cnt = NULL;
    lm_buf where = LM_BUF_INIT, sql = LM_BUF_INIT;
    int rc;

    LM_ASSERT_ARG(out != NULL);
    *out = NULL;
    LM_ASSERT_ARG(mem != NULL);
    if (opts) {
        if (opts->version != LM_DOC_LIST_OPTS_VERSION)
            return lm__error_set(LM_EINVAL, "unsupported lm_doc_list_opts version %u", opts->version);
        o = *opts;
    }
    if ((rc = lm__validate_owner_id(owner_id)) < 0)
        return rc;
    if (o.limit < 0 || o.limit > mem->max_limit)
        return lm__error_set_field(LM_EINVAL, "limit", "limit must be between 0 and %d",
                                   mem->max_limit);
    if (o.offset < 0)
        return lm__error_set_field(LM_EINVAL, "offset", "offset must not be negative");
    static const char *const order_cols[] = {"created_at", "updated_at", "document_name"};
    if ((int)o.order_by < 0 || o.order_by > LM_ORDER_DOCUMENT_NAME)
        return lm__error_set_field(LM_EINVAL, "order_by", "invalid sort order %d", (int)o.order_by);
    if (o.has_type && ((int)o.type < 0 || o.type >= LM_DOC_TYPE_COUNT))
        return lm__error_set_field(LM_EINVAL, "document_type", "invalid document type %d",
                                   (int)o.type);
    if ((rc = lm__validate_metadata(o.metadata_filter, "metadata_filter", 1)) < 0)
        return rc;

    char limit[16], offset[24];
    snprintf(limit, sizeof(limit), "%d", o.limit);
    snprintf(offset, sizeof(offset), "%lld", (long long)o.offset);
    const char *params[5] = {owner_id, NULL, NULL, NULL, NULL};
    int n = 1;
    /* With sub-tenants, the subtree_read policy (022_subtree_read.sql) shows them to this
       transaction only; the condition here says the same. */
    lm__buf_printf(&where,
                   o.include_subtenants
                       ? " FROM %s.documents WHERE (owner_id = $1 OR starts_with(owner_id, $1 || '/'))"
                       : " FROM %s.documents WHERE owner_id = $1",
                   mem->db.qschema);
    if (o.has_type) {
        params[n++] = lm_doc_type_name(o.type);
        lm__buf_printf(&where, " AND document_type = $%d", n);
    }
    if (o.metadata_filter) {
        params[n++] = o.metadata_filter;
        lm__buf_printf(&where, " AND metadata @> $%d::jsonb", n);
    }
    const char *dir = o.ascending ? "ASC" : "DESC";
    lm__buf_printf(&sql, "SELECT " DOC_COLUMNS "%s ORDER BY %s %s, document_id %s"
                         " LIMIT $%d OFFSET $%d",
                   where.ptr, order_cols[o.order_by], dir, dir, n + 1, n + 2);
    if (lm__buf_oom(&where) || lm__buf_oom(&sql)) {
        rc = LM_ENOMEM;
        goto out;
    }
    params[n] = limit;
    params[n + 1] = offset;
    if ((l = lm__calloc(1, sizeof(*l))) == NULL) {
        rc = LM_ENOMEM;
        goto out;
    }
    if (mem->sql_functions) {
        /* One call of <schema>.lm_list (060_tenant_functions.sql): the page, each row with
           the total; a page past the end is one row with the total only. */
        lm__buf_clear(&sql);
        lm__buf_printf(&sql, "SELECT * FROM %s.lm_list($1, $2::int, $3::bigint, $4, $5::boolean,"
                             " $6::boolean, $7, $8::jsonb)", mem->db.qschema);
        if (lm__buf_oom(&sql)) {
            rc = LM_ENOMEM;
            goto out;
        }
        const char *fp[8] = {owner_id, limit, offset, order_cols[o.order_by],
                             o.ascending ? "true" : "false", o.include_subtenants ? "true" : "false",
                             o.has_type ? lm_doc_type_name(o.type) : NULL, o.metadata_filter};
        if ((rc = lm__db_call(&l->res, &mem->db, LM__STMT_FN_LIST, sql.ptr, 8, fp)) < 0)
            goto out;
        l->n = (size_t)PQntuples(l->res);
        if (l->n > 0)
            l->total = strtoll(PQgetvalue(l->res, 0, 12), NULL, 10);
        if (l->n == 1 && PQgetisnull(l->res, 0, 0))
            l->n = 0;
    } else {
        if ((rc = lm__tx_begin(&tx, &mem->db, owner_id, LM__TX_READ)) < 0)
            goto out;
        if (o.include_subtenants &&
            (rc = lm__db_exec(NULL, tx.conn, "SELECT set_config('llmemory.owner_scope', $1, true)",
                              1, params)) < 0)
            goto out;
        if ((rc = lm__db_exec(&l->res, tx.conn, sql.ptr, n + 2, params)) < 0)
            goto out;
        lm__buf_clear(&sql);
        lm__buf_printf(&sql, "SELECT count(*)%s", where.ptr);
        if (lm__buf_oom(&sql)) {
            rc = LM_ENOMEM;
            goto out;
        }
        if ((rc = lm__db_exec(&cnt, tx.conn, sql.ptr, n, params)) < 0)
            goto out;
        if ((rc = lm__tx_commit(&tx)) < 0)
            goto out;
        l->total = strtoll(PQgetvalue(cnt, 0, 0), NULL, 10);
        l->n = (size_t)PQntuples(l->res);
    }
    if ((l->docs = lm__calloc(l->n ? l->n : 1, sizeof(lm_document))) == NULL) {
        rc = LM_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < l->n; i++)
        doc_from_row(&l->docs[i], l->res, (int)i);
out:
    lm__tx_end(&tx);
    PQclear(cnt);
    lm_buf_dispose(&where);
    lm_buf_dispose(&sql);
    if (rc < 0)
        lm_doc_page_free(l);
    else
        *out = l;
    return rc;
}

size_t lm_doc_page_count(const lm_doc_page *list)
{
    return list ? list->n : 0;
}

int64_t lm_doc_page_total(const lm_doc_page *list)
{
    return list ? list->total : 0;
}

const lm_document *lm_doc_page_at(const lm_doc_page *list, size_t i)
{
    return list && i < list->n ? &list->docs[i] : NULL;
}

void lm_doc_page_free(lm_doc_page *list)
{
    if (list == NULL)
        return;
    PQclear(list->res);
    lm__free(list->docs);
    lm__free(list);
}

/* ---- delete -------------------------------------------------------------------------------- */

struct lm_id_list {
    PGresult *res;
};

size_t lm_id_list_count(const lm_id_list *ids)
{
    return ids && ids->res ? (size_t)PQntuples(ids->res) : 0;
}

const char *lm_id_list_at(const lm_id_list *ids, size_t i)
{
    return i < lm_id_list_count(ids) ? PQgetvalue(ids->res, (int)i, 0) : NULL;
}

void lm_id_list_free(lm_id_list *ids)
{
    if (ids == NULL)
        return;
    PQclear(ids->res);
    lm__free(ids);
}

/* lm_doc_delete, and (with @p id_at_origin) lm_doc_delete_at_origin: one statement, one
   transaction, whatever the number of ids. */
static int doc_delete(lm_id_list **out, lm_memory *mem, const char *owner_id,
                      const char *id_at_origin, const char *const *document_ids, size_t n_ids,
                      const char *metadata_filter)
{
    LM__ROUTE(mem, owner_id); /* schema and database modes: the tenant's memory */
    lm_id_list *ids = NULL;
    lm__tx tx = {0};
    lm_buf sql = LM_BUF_INIT, arr = LM_BUF_INIT;
    const char *params[3] = {owner_id, NULL, id_at_origin};
    const char *p = NULL;
    int rc;

    if (out)
        *out = NULL;
    LM_ASSERT_ARG(mem != NULL);
    if ((rc = lm__validate_owner_id(owner_id)) < 0)
        return rc;
    if (id_at_origin != NULL &&
        (rc = lm__validate_id_at_origin(id_at_origin, "id_at_origin")) < 0)
        return rc;
    if (n_ids == 0 && metadata_filter == NULL)
        return lm__error_set_field(LM_EINVAL, "document_ids",
                                   "either document ids or a metadata filter must be given");
    if (n_ids > 0) {
        LM_ASSERT_ARG(document_ids != NULL);
        if (n_ids > 10000)
            return lm__error_set_field(LM_EINVAL, "document_ids",
                                       "too many document ids (%zu, the maximum is 10000)", n_ids);
        lm__buf_putc(&arr, '{');
        for (size_t i = 0; i < n_ids; i++) {
            if ((rc = lm__validate_uuid(document_ids[i], "document_id")) < 0)
                goto out;
            lm__buf_printf(&arr, "%s%s", i ? "," : "", document_ids[i]);
        }
        lm__buf_putc(&arr, '}');
        lm__buf_printf(&sql, "DELETE FROM %s.documents WHERE owner_id = $1"
                             " AND document_id = ANY($2::uuid[])%s RETURNING document_id",
                       mem->db.qschema, id_at_origin != NULL ? " AND id_at_origin = $3" : "");
    } else {
        if ((rc = lm__validate_metadata(metadata_filter, "metadata_filter", 0)) < 0)
            goto out;
        /* "{}" would match every document: refuse it rather than fail open. */
        p = metadata_filter + 1;
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
            p++;
        if (*p == '}') {
            rc = lm__error_set_field(LM_EINVAL, "metadata_filter",
                                     "metadata filter for delete must not be empty");
            lm__error_hint("Use lm_tenant_erase() to delete everything a tenant has.");
            goto out;
        }
        lm__buf_puts(&arr, metadata_filter);
        lm__buf_printf(&sql, "DELETE FROM %s.documents WHERE owner_id = $1"
                             " AND metadata @> $2::jsonb RETURNING document_id",
                       mem->db.qschema);
    }
    if (lm__buf_oom(&sql) || lm__buf_oom(&arr)) {
        rc = LM_ENOMEM;
        goto out;
    }
    if ((ids = lm__calloc(1, sizeof(*ids))) == NULL) {
        rc = LM_ENOMEM;
        goto out;
    }
    params[1] = arr.ptr;
    if (mem->sql_functions && id_at_origin == NULL) {
        /* One call of <schema>.lm_delete (061_tenant_writes.sql). */
        const char *fp[3] = {owner_id, n_ids > 0 ? arr.ptr : NULL, n_ids > 0 ? NULL : arr.ptr};
        lm__buf_clear(&sql);
        lm__buf_printf(&sql, "SELECT * FROM %s.lm_delete($1, $2::uuid[], $3::jsonb)",
                       mem->db.qschema);
        rc = lm__buf_oom(&sql) ? LM_ENOMEM
                               : lm__db_call(&ids->res, &mem->db, LM__STMT_FN_DELETE, sql.ptr, 3, fp);
        goto out;
    }
    if (mem->sql_functions && n_ids > 0) {
        /* Bound to an origin: one call of <schema>.lm_delete_at_origin (069). */
        lm__buf_clear(&sql);
        lm__buf_printf(&sql, "SELECT * FROM %s.lm_delete_at_origin($1, $2::uuid[], $3)",
                       mem->db.qschema);
        rc = lm__buf_oom(&sql)
                 ? LM_ENOMEM
                 : lm__db_call(&ids->res, &mem->db, LM__STMT_FN_DELETE, sql.ptr, 3, params);
        goto out;
    }
    if ((rc = lm__tx_begin(&tx, &mem->db, owner_id, LM__TX_WRITE)) < 0)
        goto out;
    if ((rc = lm__db_exec(&ids->res, tx.conn, sql.ptr, id_at_origin != NULL ? 3 : 2, params)) <
        0)
        goto out;
    rc = lm__tx_commit(&tx);
out:
    lm__tx_end(&tx);
    lm_buf_dispose(&sql);
    lm_buf_dispose(&arr);
    if (rc < 0 || out == NULL)
        lm_id_list_free(ids);
    else
        *out = ids;
    return rc;
}

int lm_doc_delete(lm_id_list **out, lm_memory *mem, const char *owner_id,
                  const char *const *document_ids, size_t n_ids, const char *metadata_filter)
{
    return doc_delete(out, mem, owner_id, NULL, document_ids, n_ids, metadata_filter);
}

int lm_doc_delete_at_origin(lm_id_list **out, lm_memory *mem, const char *owner_id,
                            const char *id_at_origin, const char *const *document_ids,
                            size_t n_ids)
{
    if (out)
        *out = NULL;
    if (n_ids == 0)
        return lm__error_set_field(LM_EINVAL, "document_ids", "no document ids given");
    return doc_delete(out, mem, owner_id, id_at_origin, document_ids, n_ids, NULL);
}

/* ---- statistics -------------------------------------------------------------------- */

int lm_stats_get(lm_stats *out, lm_memory *mem, const char *owner_id)
{
    LM__ROUTE(mem, owner_id); /* schema and database modes: the tenant's memory */
    lm__tx tx = {0};
    PGresult *tot = NULL, *by = NULL;
    lm_buf sql = LM_BUF_INIT;
    const char *params[] = {owner_id};
    int rc;

    LM_ASSERT_ARG(out != NULL);
    memset(out, 0, sizeof(*out));
    LM_ASSERT_ARG(mem != NULL);
    if ((rc = lm__validate_owner_id(owner_id)) < 0)
        return rc;
    if (mem->sql_functions) {
        /* One call of <schema>.lm_stats (062_tenant_stats.sql): the totals on every row, one
           row per document type. */
        lm__buf_printf(&sql, "SELECT * FROM %s.lm_stats($1)", mem->db.qschema);
        rc = lm__buf_oom(&sql) ? LM_ENOMEM
                               : lm__db_call(&tot, &mem->db, LM__STMT_FN_STATS, sql.ptr, 1, params);
        if (rc < 0)
            goto out;
        out->document_count = strtoll(PQgetvalue(tot, 0, 0), NULL, 10);
        out->chunk_count = strtoll(PQgetvalue(tot, 0, 1), NULL, 10);
        out->total_bytes = strtoll(PQgetvalue(tot, 0, 2), NULL, 10);
        snprintf(out->first_created, sizeof(out->first_created), "%s", PQgetvalue(tot, 0, 3));
        snprintf(out->last_created, sizeof(out->last_created), "%s", PQgetvalue(tot, 0, 4));
        for (int r = 0; r < PQntuples(tot); r++)
            if (!PQgetisnull(tot, r, 5))
                out->by_type[lm__doc_type_from_text(PQgetvalue(tot, r, 5))] +=
                    strtoll(PQgetvalue(tot, r, 6), NULL, 10);
        goto out;
    }
    if ((rc = lm__tx_begin(&tx, &mem->db, owner_id, LM__TX_READ)) < 0)
        goto out;
    lm__buf_printf(&sql, "SELECT count(*), coalesce(sum(chunk_count), 0),"
                         " coalesce(sum(content_bytes), 0), " TS("min(created_at)") ", "
                         TS("max(created_at)") " FROM %s.documents WHERE owner_id = $1",
                   mem->db.qschema);
    if (lm__buf_oom(&sql)) {
        rc = LM_ENOMEM;
        goto out;
    }
    if ((rc = lm__db_exec(&tot, tx.conn, sql.ptr, 1, params)) < 0)
        goto out;
    lm__buf_clear(&sql);
    lm__buf_printf(&sql, "SELECT document_type, count(*) FROM %s.documents WHERE owner_id = $1"
                         " GROUP BY document_type",
                   mem->db.qschema);
    if (lm__buf_oom(&sql)) {
        rc = LM_ENOMEM;
        goto out;
    }
    if ((rc = lm__db_exec(&by, tx.conn, sql.ptr, 1, params)) < 0)
        goto out;
    if ((rc = lm__tx_commit(&tx)) < 0)
        goto out;
    out->document_count = strtoll(PQgetvalue(tot, 0, 0), NULL, 10);
    out->chunk_count = strtoll(PQgetvalue(tot, 0, 1), NULL, 10);
    out->total_bytes = strtoll(PQgetvalue(tot, 0, 2), NULL, 10);
    snprintf(out->first_created, sizeof(out->first_created), "%s", PQgetvalue(tot, 0, 3));
    snprintf(out->last_created, sizeof(out->last_created), "%s", PQgetvalue(tot, 0, 4));
    for (int r = 0; r < PQntuples(by); r++)
        out->by_type[lm__doc_type_from_text(PQgetvalue(by, r, 0))] += strtoll(PQgetvalue(by, r, 1), NULL, 10);
out:
    lm__tx_end(&tx);
    PQclear(tot);
    PQclear(by);
    lm_buf_dispose(&sql);
    return rc;
}

