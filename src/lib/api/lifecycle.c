/*
 * api/lifecycle.c: tenant export and import as a JSON Lines stream (format in
 * include/llmemory/lifecycle.h, fields in docs/operations.md).
 *
 * Export reads one snapshot (REPEATABLE READ, READ ONLY) through server-side cursors, a batch
 * at a time, and hands whole lines to the caller's sink; a SHA-256 of every byte before the
 * trailer goes in the trailer. Import validates every record in C as it arrives and stages it
 * in temporary tables inside one transaction; only when the trailer has matched the counts and
 * the checksum, and the staged rows their cross references, does it take the tenant's writer
 * lock and write the documents, in the same transaction. So a bad stream writes nothing.
 */
#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "api/memory.h"
#include "buf.h"
#include "error.h"
#include "hash.h"
#include "llmemory.h"
#include "validate.h"

/* Bytes of output gathered before the sink is called. */
#define LM__EXPORT_FLUSH_BYTES ((size_t)64 * 1024)
/* Rows per FETCH by default, and the most a caller may ask for. */
#define LM__EXPORT_BATCH_DEFAULT 500
#define LM__EXPORT_BATCH_MAX     10000
/* Longest import record by default (a chunk's content is far smaller). */
#define LM__IMPORT_LINE_DEFAULT ((size_t)64 * 1024 * 1024)
/* Staged rows per INSERT, and the bytes of JSON that also end a batch. */
#define LM__IMPORT_BATCH_ROWS  500
#define LM__IMPORT_BATCH_BYTES ((size_t)4 * 1024 * 1024)

int lm_export_opts_init(lm_export_opts *opts, unsigned int version)
{
    LM_ASSERT_ARG(opts != NULL);
    if (version != LM_EXPORT_OPTS_VERSION)
        return lm__error_set(LM_EINVAL, "unsupported lm_export_opts version %u", version);
    lm_export_opts d = LM_EXPORT_OPTS_INIT;
    *opts = d;
    return 0;
}

int lm_import_opts_init(lm_import_opts *opts, unsigned int version)
{
    LM_ASSERT_ARG(opts != NULL);
    if (version != LM_IMPORT_OPTS_VERSION)
        return lm__error_set(LM_EINVAL, "unsupported lm_import_opts version %u", version);
    lm_import_opts d = LM_IMPORT_OPTS_INIT;
    *opts = d;
    return 0;
}

static void sha_hex(char out[65], crypto_hash_sha256_state *st)
{
    static const char hexdig[] = "0123456789abcdef";
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(st, h);
    for (size_t i = 0; i < sizeof(h); i++) {
        out[2 * i] = hexdig[h[i] >> 4];
        out[2 * i + 1] = hexdig[h[i] & 15];
    }
    out[64] = '\0';
}

/* ---- export ---------------------------------------------------------------------------------- */

typedef struct exporter {
    lm_write_cb write;
    void *payload;
    lm_buf out;
    crypto_hash_sha256_state sha;
} exporter;

static int ex_flush(exporter *ex)
{
    int rc = 0;
    if (ex->out.size > 0) {
        rc = ex->write(ex->out.ptr, ex->out.size, ex->payload);
        if (rc > 0)
            rc = 0;
        if (rc < 0 && lm_error_last()->code == LM_OK)
            lm__error_set(rc, "the export's output failed");
    }
    lm__buf_clear(&ex->out);
    return rc;
}

/* One record line; @p hashed: it counts towards the trailer's checksum. */
static int ex_line(exporter *ex, const char *line, size_t len, int hashed)
{
    lm__buf_put(&ex->out, line, len);
    lm__buf_putc(&ex->out, '\n');
    if (lm__buf_oom(&ex->out))
        return LM_ENOMEM;
    if (hashed) {
        crypto_hash_sha256_update(&ex->sha, (const unsigned char *)line, len);
        crypto_hash_sha256_update(&ex->sha, (const unsigned char *)"\n", 1);
    }
    return ex->out.size >= LM__EXPORT_FLUSH_BYTES ? ex_flush(ex) : 0;
}

static int ex_json(exporter *ex, json_t *obj, int hashed)
{
    char *s = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    int rc;
    if (s == NULL) {
        lm__error_set_oom();
        return LM_ENOMEM;
    }
    rc = ex_line(ex, s, strlen(s), hashed);
    free(s);
    return rc;
}

/* {"documents":..,"chunks":..,"vectors":..} text into @p out. */
static void counts_text(char *out, size_t n, const lm_transfer_counts *c)
{
    snprintf(out, n, "{\"documents\": %lld, \"chunks\": %lld, \"vectors\": %lld}",
             (long long)c->documents, (long long)c->chunks, (long long)c->vectors);
}

/* {"error": message} of the last error, JSON-escaped, into @p out. */
static void error_text(char *out, size_t n)
{
    json_t *o = json_pack("{s:s}", "error", lm_error_last()->message);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL; /* jansson's allocator */
    snprintf(out, n, "%s", s ? s : "{}");
    free(s);
    json_decref(o);
}

static json_t *counts_json(const lm_transfer_counts *c)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    if (json_object_set_new(o, "documents", json_integer((json_int_t)c->documents)) < 0 ||
        json_object_set_new(o, "chunks", json_integer((json_int_t)c->chunks)) < 0 ||
        json_object_set_new(o, "vectors", json_integer((json_int_t)c->vectors)) < 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Declare @p name over @p sql, then FETCH it in batches, one line per row (column 0). */
static int ex_cursor(exporter *ex, lm__tx *tx, const char *name, const char *sql, int n_params,
                     const char *const *params, int batch, int64_t *done, int64_t total,
                     const lm_export_opts *o)
{
    lm_buf q = LM_BUF_INIT;
    PGresult *res = NULL;
    int rc;
    char fetch[96];

    lm__buf_printf(&q, "DECLARE %s NO SCROLL CURSOR FOR %s", name, sql);
    if (lm__buf_oom(&q)) {
        rc = LM_ENOMEM;
        goto out;
    }
    if ((rc = lm__db_exec(NULL, tx->conn, q.ptr, n_params, params)) < 0)
        goto out;
    snprintf(fetch, sizeof(fetch), "FETCH %d FROM %s", batch, name);
    for (;;) {
        if ((rc = lm__db_exec(&res, tx->conn, fetch, 0, NULL)) < 0)
            goto out;
        int n = PQntuples(res);
        for (int r = 0; r < n; r++)
            if ((rc = ex_line(ex, PQgetvalue(res, r, 0), (size_t)PQgetlength(res, r, 0), 1)) < 0)
                goto out;
        PQclear(res);
        res = NULL;
        *done += n;
        if (o->progress && n > 0)
            o->progress(*done, total, o->progress_payload);
        if (n < batch)
            break;
    }
    lm__buf_clear(&q);
    lm__buf_printf(&q, "CLOSE %s", name);
    rc = lm__buf_oom(&q) ? LM_ENOMEM : lm__db_exec(NULL, tx->conn, q.ptr, 0, NULL);
out:
    PQclear(res);
    lm_buf_dispose(&q);
    return rc;
}

/* The export's records through the page functions of 069_lifecycle_functions.sql (routed to the
   tenant's shard by a cluster proxy): @p part 0 documents, 1 chunks, @p batch rows a call, each
   page's stamp compared with the header's @p stamp: a tenant written to meanwhile fails the
   export retryably (a page-by-page export holds no snapshot). */
static int ex_pages(exporter *ex, lm_memory *mem, const char *owner_id, int part, int vectors,
                    const char *stamp, int batch, int64_t *done, int64_t total,
                    const lm_export_opts *o)
{
    lm_buf sql = LM_BUF_INIT;
    char lim[16], dim[16], after_ts[64] = "", after_id[64] = "", after_no[32] = "0";
    int rc = 0;
    snprintf(lim, sizeof(lim), "%d", batch);
    snprintf(dim, sizeof(dim), "%d", mem->vec.dim);
    if (part == 0)
        lm__buf_printf(&sql,
                       "SELECT line, stamp, key_ts, key_id FROM %s.lm_export_documents($1, $2,"
                       " $3::uuid, $4::int, $5, $6::int, $7::boolean)",
                       mem->db.qschema);
    else
        lm__buf_printf(&sql,
                       "SELECT line, stamp, key_no FROM %s.lm_export_chunks($1, $2::bigint,"
                       " $3::int, $4, $5::int, $6::boolean)",
                       mem->db.qschema);
    if (lm__buf_oom(&sql)) {
        lm_buf_dispose(&sql);
        return LM_ENOMEM;
    }
    for (;;) {
        PGresult *res = NULL;
        const char *pd[7] = {owner_id, after_ts[0] ? after_ts : NULL, after_id[0] ? after_id : NULL,
                             lim, mem->vec.provider_id, dim, vectors ? "true" : "false"};
        const char *pc[6] = {owner_id, after_no, lim, mem->vec.provider_id, dim,
                             vectors ? "true" : "false"};
        if ((rc = lm__db_call(&res, &mem->db, LM__STMT_FN_EXPORT, sql.ptr, part ? 6 : 7,
                              part ? pc : pd)) < 0)
            break;
        int n = PQntuples(res);
        for (int r = 0; r < n && rc == 0; r++) {
            if (strcmp(PQgetvalue(res, r, 1), stamp) != 0) {
                rc = lm__error_set(LM_ERETRY, "the tenant changed during the export");
                lm__error_detail("Through a cluster proxy an export reads a page at a time; a "
                                 "write between two pages would make it inconsistent.");
                lm__error_hint("Run the export again.");
                break;
            }
            rc = ex_line(ex, PQgetvalue(res, r, 0), (size_t)PQgetlength(res, r, 0), 1);
        }
        if (rc == 0 && n > 0) {
            if (part == 0) {
                snprintf(after_ts, sizeof(after_ts), "%s", PQgetvalue(res, n - 1, 2));
                snprintf(after_id, sizeof(after_id), "%s", PQgetvalue(res, n - 1, 3));
            } else {
                snprintf(after_no, sizeof(after_no), "%s", PQgetvalue(res, n - 1, 2));
            }
        }
        PQclear(res);
        if (rc < 0)
            break;
        *done += n;
        if (o->progress && n > 0)
            o->progress(*done, total, o->progress_payload);
        if (n < batch)
            break;
    }
    lm_buf_dispose(&sql);
    return rc;
}

int lm_tenant_export(lm_transfer_counts *out, lm_memory *mem, const char *owner_id,
                     const lm_export_opts *opts, lm_write_cb write, void *payload)
{
    LM__ROUTE(mem, owner_id); /* schema and database modes: the tenant's memory */
    lm_export_opts o = LM_EXPORT_OPTS_INIT;
    exporter ex;
    lm__tx tx = {0};
    PGresult *res = NULL;
    lm_buf sql = LM_BUF_INIT;
    json_t *hdr = NULL, *trl = NULL;
    lm_transfer_counts c = {0, 0, 0};
    int64_t done = 0;
    int rc, vectors;
    char hex[65];
    const char *S = mem ? mem->db.qschema : "";

    if (out)
        memset(out, 0, sizeof(*out));
    memset(&ex, 0, sizeof(ex));
    lm_buf_init(&ex.out);
    ex.write = write;
    ex.payload = payload;
    LM_ASSERT_ARG(mem != NULL);
    LM_ASSERT_ARG(write != NULL);
    if (opts) {
        if (opts->version != LM_EXPORT_OPTS_VERSION)
            return lm__error_set(LM_EINVAL, "unsupported lm_export_opts version %u", opts->version);
        o = *opts;
    }
    if ((rc = lm__validate_owner_id(owner_id)) < 0)
        return rc;
    if (o.batch < 0 || o.batch > LM__EXPORT_BATCH_MAX)
        return lm__error_set_field(LM_EINVAL, "batch", "batch must be between 0 and %d",
                                   LM__EXPORT_BATCH_MAX);
    if (o.batch == 0)
        o.batch = LM__EXPORT_BATCH_DEFAULT;
    /* Vectors of the memory's provider only: those are what a search of this memory uses. */
    vectors = o.with_vectors && mem->vec.embedder != NULL;
    crypto_hash_sha256_init(&ex.sha);
    const char *params[2] = {owner_id, mem->vec.provider_id};
    char stamp[160] = "";

    if (mem->db.proxy) {
        /* Through a cluster proxy, which holds no snapshot across calls (one server keeps the
           cursor over one snapshot below): the counts, time and stamp of the tenant from
           069's lm_export_head, then its records a page at a time. */
        char dim[16];
        snprintf(dim, sizeof(dim), "%d", mem->vec.dim);
        const char *hp[4] = {owner_id, mem->vec.provider_id, dim, vectors ? "true" : "false"};
        lm__buf_printf(&sql, "SELECT * FROM %s.lm_export_head($1, $2, $3::int, $4::boolean)", S);
        if (lm__buf_oom(&sql)) {
            rc = LM_ENOMEM;
            goto out;
        }
        if ((rc = lm__db_call(&res, &mem->db, LM__STMT_FN_EXPORT, sql.ptr, 4, hp)) < 0)
            goto out;
        snprintf(stamp, sizeof(stamp), "%s", PQgetvalue(res, 0, 4));
        goto counted;
    }
    if ((rc = lm__tx_begin(&tx, &mem->db, owner_id, LM__TX_SNAPSHOT)) < 0)
        goto out;
    lm__buf_printf(&sql,
                   "SELECT (SELECT count(*) FROM %s.documents WHERE owner_id = $1),"
                   " (SELECT count(*) FROM %s.chunks WHERE owner_id = $1), ",
                   S, S);
    if (vectors)
        lm__buf_printf(&sql, "(SELECT count(*) FROM %s v WHERE v.owner_id = $1 AND"
                             " v.provider_id = $2), ",
                       mem->vec.table);
    else
        lm__buf_puts(&sql, "0, ");
    lm__buf_puts(&sql, TS("now()"));
    if (lm__buf_oom(&sql)) {
        rc = LM_ENOMEM;
        goto out;
    }
    if ((rc = lm__db_exec(&res, tx.conn, sql.ptr, vectors ? 2 : 1, params)) < 0)
        goto out;
counted:
    c.documents = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    c.chunks = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    c.vectors = strtoll(PQgetvalue(res, 0, 2), NULL, 10);

    hdr = json_object();
    if (hdr == NULL || json_object_set_new(hdr, "type", json_string("header")) < 0 ||
        json_object_set_new(hdr, "format", json_string(LM_EXPORT_FORMAT)) < 0 ||
        json_object_set_new(hdr, "version", json_integer(LM_EXPORT_VERSION)) < 0 ||
        json_object_set_new(hdr, "owner_id", json_string(owner_id)) < 0 ||
        json_object_set_new(hdr, "provider_id", mem->vec.embedder
                                                    ? json_string(mem->vec.provider_id)
                                                    : json_null()) < 0 ||
        json_object_set_new(hdr, "dimension",
                            json_integer(mem->vec.embedder ? mem->vec.dim : 0)) < 0 ||
        json_object_set_new(hdr, "vectors", json_boolean(vectors)) < 0 ||
        json_object_set_new(hdr, "exported_at", json_string(PQgetvalue(res, 0, 3))) < 0 ||
        json_object_set_new(hdr, "counts", counts_json(&c)) < 0) {
        rc = LM_ENOMEM;
        lm__error_set_oom();
        goto out;
    }
    if ((rc = ex_json(&ex, hdr, 1)) < 0)
        goto out;
    if (o.progress)
        o.progress(0, c.documents + c.chunks, o.progress_payload);
    if (mem->db.proxy) {
        if ((rc = ex_pages(&ex, mem, owner_id, 0, vectors, stamp, o.batch, &done,
                           c.documents + c.chunks, &o)) < 0 ||
            (rc = ex_pages(&ex, mem, owner_id, 1, vectors, stamp, o.batch, &done,
                           c.documents + c.chunks, &o)) < 0)
            goto out;
        goto trailer;
    }

    lm__buf_clear(&sql);
    lm__buf_printf(&sql,
        "SELECT json_build_object('type', 'document', 'document_id', document_id,"
        " 'id_at_origin', id_at_origin, 'document_type', document_type,"
        " 'document_name', document_name, 'document_date', " TS("document_date") ","
        " 'metadata', metadata, 'text_config', text_config::text,"
        " 'content_bytes', content_bytes, 'chunk_count', chunk_count,"
        " 'created_at', " TS("created_at") ", 'updated_at', " TS("updated_at") ")::text"
        " FROM %s.documents WHERE owner_id = $1 ORDER BY created_at, document_id",
        S);
    if (lm__buf_oom(&sql)) {
        rc = LM_ENOMEM;
        goto out;
    }
    if ((rc = ex_cursor(&ex, &tx, "lm_export_documents", sql.ptr, 1, params, o.batch, &done,
                        c.documents + c.chunks, &o)) < 0)
        goto out;

    /* Chunks in insertion order (chunk_no), so an import numbers them in the same order. */
    lm__buf_clear(&sql);
    lm__buf_puts(&sql,
        "SELECT json_build_object('type', 'chunk', 'chunk_id', c.chunk_id,"
        " 'document_id', c.document_id, 'parent_chunk_id', c.parent_chunk_id,"
        " 'chunk_index', c.chunk_index, 'chunk_level', c.chunk_level,"
        " 'searchable', c.searchable, 'content', c.content, 'content_hash', c.content_hash,"
        " 'token_count', c.token_count, 'metadata', c.metadata");
    if (vectors)
        lm__buf_printf(&sql, ", 'embedding', v.embedding::real[])::text FROM %s.chunks c"
                             " LEFT JOIN %s v ON v.owner_id = c.owner_id AND v.provider_id = $2"
                             " AND v.chunk_id = c.chunk_id",
                       S, mem->vec.table);
    else
        lm__buf_printf(&sql, ")::text FROM %s.chunks c", S);
    lm__buf_puts(&sql, " WHERE c.owner_id = $1 ORDER BY c.chunk_no");
    if (lm__buf_oom(&sql)) {
        rc = LM_ENOMEM;
        goto out;
    }
    if ((rc = ex_cursor(&ex, &tx, "lm_export_chunks", sql.ptr, vectors ? 2 : 1, params, o.batch,
                        &done, c.documents + c.chunks, &o)) < 0)
        goto out;
    if ((rc = lm__tx_commit(&tx)) < 0)
        goto out;
trailer:
    sha_hex(hex, &ex.sha);
    trl = json_object();
    if (trl == NULL || json_object_set_new(trl, "type", json_string("trailer")) < 0 ||
        json_object_set_new(trl, "counts", counts_json(&c)) < 0 ||
        json_object_set_new(trl, "sha256", json_string(hex)) < 0) {
        rc = LM_ENOMEM;
        lm__error_set_oom();
        goto out;
    }
    if ((rc = ex_json(&ex, trl, 0)) < 0 || (rc = ex_flush(&ex)) < 0)
        goto out;
    if (out)
        *out = c;
out:
    lm__tx_end(&tx);
    {
        char detail[512];
        if (rc == 0)
            counts_text(detail, sizeof(detail), &c);
        else
            error_text(detail, sizeof(detail));
        lm__audit(mem, owner_id, "tenant.export", rc == 0 ? "success" : "failure", detail);
    }
    PQclear(res);
    json_decref(hdr);
    json_decref(trl);
    lm_buf_dispose(&sql);
    lm_buf_dispose(&ex.out);
    return rc;
}

/* ---- import ---------------------------------------------------------------------------------- */

typedef struct reader {
    lm_read_cb read;
    void *payload;
    char *buf;
    size_t cap, len, pos;
    size_t max_line;
    int eof;
    int64_t lineno;
} reader;

/* Next line (without its '\n') into *line / *len; 0 at the end of the stream, 1 with a line. */
static int next_line(reader *r, const char **line, size_t *len)
{
    for (;;) {
        char *nl = r->len > r->pos ? memchr(r->buf + r->pos, '\n', r->len - r->pos) : NULL;
        if (nl != NULL || (r->eof && r->len > r->pos)) {
            size_t n = nl ? (size_t)(nl - (r->buf + r->pos)) : r->len - r->pos;
            *line = r->buf + r->pos;
            *len = n;
            r->pos += n + (nl != NULL);
            r->lineno++;
            return 1;
        }
        if (r->eof)
            return 0;
        if (r->pos > 0) {
            memmove(r->buf, r->buf + r->pos, r->len - r->pos);
            r->len -= r->pos;
            r->pos = 0;
        }
        if (r->len == r->cap) {
            if (r->cap > r->max_line)
                return lm__error_set(LM_EPARSE, "line %lld of the import is too long (over %zu bytes)",
                                     (long long)r->lineno + 1, r->max_line);
            size_t ncap = r->cap ? r->cap * 2 : 65536;
            char *nb = lm__realloc(r->buf, ncap);
            if (nb == NULL)
                return LM_ENOMEM;
            r->buf = nb;
            r->cap = ncap;
        }
        long got = r->read(r->buf + r->len, r->cap - r->len, r->payload);
        if (got < 0) {
            if (lm_error_last()->code == LM_OK)
                lm__error_set((int)got, "the import's input failed");
            return (int)got;
        }
        if (got == 0)
            r->eof = 1;
        r->len += (size_t)got;
    }
}

typedef struct stage {
    lm_buf rows; /* "[rec,rec,...]" */
    int n;
    int64_t seq;
} stage;

typedef struct importer {
    lm_memory *mem;
    lm__tx tx;
    const char *owner_id;
    stage docs, chunks;
    int64_t lineno;
    char import_id[37]; /* the function path (069): the staged import's id; "" otherwise */
} importer;

/* Turn the last error (a library validation, a data exception of the server) into LM_EPARSE,
 * keeping its message and hint and saying where in the stream it was. */
static int as_parse_error(int64_t lineno, const char *where)
{
    char msg[256], hint[256];
    snprintf(msg, sizeof(msg), "%s", lm_error_last()->message);
    snprintf(hint, sizeof(hint), "%s", lm_error_last()->hint);
    lm__error_set(LM_EPARSE, "%s", msg);
    lm__error_detail("%s line %lld of the import.", where, (long long)lineno);
    if (hint[0] != '\0')
        lm__error_hint("%s", hint);
    return LM_EPARSE;
}

static int bad(const importer *im, const char *fmt, const char *what)
{
    lm__error_set(LM_EPARSE, "invalid record on line %lld of the import: %s %s",
                  (long long)im->lineno, what, fmt);
    return LM_EPARSE;
}

static int want_str(const importer *im, json_t *o, const char *k, int nullable, const char **out)
{
    json_t *v = json_object_get(o, k);
    *out = NULL;
    if (nullable && (v == NULL || json_is_null(v)))
        return 0;
    if (!json_is_string(v))
        return bad(im, nullable ? "must be a string or null" : "must be a string", k);
    *out = json_string_value(v);
    return 0;
}

static int want_int(const importer *im, json_t *o, const char *k, json_int_t *out)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > INT32_MAX)
        return bad(im, "must be a non-negative integer", k);
    *out = json_integer_value(v);
    return 0;
}

/* Reading the counts object of the header or trailer. */
static int want_counts(const importer *im, json_t *o, lm_transfer_counts *c)
{
    json_t *v = json_object_get(o, "counts");
    json_t *d, *ch, *ve;
    if (!json_is_object(v))
        return bad(im, "must be an object", "counts");
    d = json_object_get(v, "documents");
    ch = json_object_get(v, "chunks");
    ve = json_object_get(v, "vectors");
    if (!json_is_integer(d) || !json_is_integer(ch) || !json_is_integer(ve) ||
        json_integer_value(d) < 0 || json_integer_value(ch) < 0 || json_integer_value(ve) < 0)
        return bad(im, "must hold non-negative integers documents, chunks and vectors", "counts");
    c->documents = json_integer_value(d);
    c->chunks = json_integer_value(ch);
    c->vectors = json_integer_value(ve);
    return 0;
}

static int check_document(const importer *im, json_t *o)
{
    const char *s;
    json_int_t n;
    int rc, ok = 0;
    if ((rc = want_str(im, o, "document_id", 0, &s)) < 0)
        return rc;
    if (!lm__uuid_valid(s))
        return bad(im, "must be a UUID", "document_id");
    if ((rc = want_str(im, o, "id_at_origin", 0, &s)) < 0 ||
        (rc = lm__validate_id_at_origin(s, "id_at_origin")) < 0)
        goto field;
    if ((rc = want_str(im, o, "document_name", 0, &s)) < 0 || (rc = lm__validate_doc_name(s)) < 0)
        goto field;
    if ((rc = want_str(im, o, "document_type", 0, &s)) < 0)
        return rc;
    for (int t = 0; t < LM_DOC_TYPE_COUNT; t++)
        ok |= strcmp(s, lm_doc_type_name((lm_doc_type)t)) == 0;
    if (!ok)
        return bad(im, "is not a document type", "document_type");
    if ((rc = want_str(im, o, "document_date", 1, &s)) < 0 ||
        (s && (rc = lm__validate_timestamp(s, "document_date")) < 0))
        goto field;
    if ((rc = want_str(im, o, "created_at", 0, &s)) < 0 ||
        (rc = lm__validate_timestamp(s, "created_at")) < 0 ||
        (rc = want_str(im, o, "updated_at", 0, &s)) < 0 ||
        (rc = lm__validate_timestamp(s, "updated_at")) < 0)
        goto field;
    if ((rc = want_str(im, o, "text_config", 0, &s)) < 0 ||
        (rc = lm__validate_text_config(s)) < 0)
        goto field;
    if (!json_is_object(json_object_get(o, "metadata")))
        return bad(im, "must be an object", "metadata");
    return want_int(im, o, "content_bytes", &n);
field:
    /* A library validation message: keep it, say where. */
    return rc == LM_EPARSE ? rc : as_parse_error(im->lineno, "On");
}

static int check_chunk(const importer *im, json_t *o, int dim, int64_t *vectors)
{
    const char *s;
    json_int_t n;
    json_t *v;
    int rc;
    if ((rc = want_str(im, o, "chunk_id", 0, &s)) < 0)
        return rc;
    if (!lm__uuid_valid(s))
        return bad(im, "must be a UUID", "chunk_id");
    if ((rc = want_str(im, o, "document_id", 0, &s)) < 0)
        return rc;
    if (!lm__uuid_valid(s))
        return bad(im, "must be a UUID", "document_id");
    if ((rc = want_str(im, o, "parent_chunk_id", 1, &s)) < 0)
        return rc;
    if (s && !lm__uuid_valid(s))
        return bad(im, "must be a UUID or null", "parent_chunk_id");
    if ((rc = want_int(im, o, "chunk_index", &n)) < 0 ||
        (rc = want_int(im, o, "chunk_level", &n)) < 0 ||
        (rc = want_int(im, o, "token_count", &n)) < 0)
        return rc;
    if (!json_is_boolean(json_object_get(o, "searchable")))
        return bad(im, "must be true or false", "searchable");
    if ((rc = want_str(im, o, "content", 0, &s)) < 0 || (rc = want_str(im, o, "content_hash", 0, &s)) < 0)
        return rc;
    if (!json_is_object(json_object_get(o, "metadata")))
        return bad(im, "must be an object", "metadata");
    v = json_object_get(o, "embedding");
    if (v != NULL && !json_is_null(v)) {
        size_t i;
        json_t *x;
        if (!json_is_array(v) || dim <= 0 || json_array_size(v) != (size_t)dim)
            return bad(im, "must be an array of as many numbers as the header's dimension",
                       "embedding");
        json_array_foreach(v, i, x) if (!json_is_number(x)) return bad(im, "must hold numbers only",
                                                                         "embedding");
        ++*vectors;
    }
    return 0;
}

static const char *const stage_cols[2] = {
    /* documents */
    "document_id uuid, id_at_origin text, document_type text, document_name text,"
    " document_date timestamptz, metadata jsonb, text_config regconfig, content_bytes bigint,"
    " created_at timestamptz, updated_at timestamptz",
    /* chunks */
    "chunk_id uuid, document_id uuid, parent_chunk_id uuid, chunk_index integer,"
    " chunk_level integer, searchable boolean, content text, content_hash text,"
    " token_count integer, metadata jsonb, embedding jsonb"};
static const char *const stage_names[2] = {"lm_import_documents", "lm_import_chunks"};
static const char *const stage_keys[2] = {
    "PRIMARY KEY (document_id), UNIQUE (id_at_origin)", "PRIMARY KEY (chunk_id)"};
static const char *const stage_lists[2] = {
    "document_id, id_at_origin, document_type, document_name, document_date, metadata,"
    " text_config, content_bytes, created_at, updated_at",
    "chunk_id, document_id, parent_chunk_id, chunk_index, chunk_level, searchable, content,"
    " content_hash, token_count, metadata, embedding"};

static int stage_flush(importer *im, int which)
{
    stage *st = which ? &im->chunks : &im->docs;
    lm_buf sql = LM_BUF_INIT;
    const char *params[2] = {NULL, NULL};
    char seq[24];
    int rc;
    if (st->n == 0)
        return 0;
    lm__buf_putc(&st->rows, ']');
    snprintf(seq, sizeof(seq), "%lld", (long long)st->seq);
    if (im->import_id[0] != '\0') {
        /* 069: staged on the tenant's shard until the stream has been read and checked */
        const char *p[5] = {im->owner_id, im->import_id, which ? "1" : "0", seq, st->rows.ptr};
        lm__buf_printf(&sql,
                       "SELECT %s.lm_import_stage($1, $2::uuid, $3::smallint, $4::bigint,"
                       " $5::jsonb)",
                       im->mem->db.qschema);
        if (lm__buf_oom(&sql) || lm__buf_oom(&st->rows)) {
            rc = LM_ENOMEM;
            goto out;
        }
        if ((rc = lm__db_call(NULL, &im->mem->db, LM__STMT_FN_IMPORT, sql.ptr, 5, p)) < 0 &&
            lm_error_last()->sqlstate[0] == '2' && lm_error_last()->sqlstate[1] == '2')
            rc = as_parse_error(im->lineno + 1, "In the records before");
        st->seq += st->n;
        st->n = 0;
        lm__buf_clear(&st->rows);
        goto out;
    }
    lm__buf_printf(&sql,
                   "INSERT INTO pg_temp.%s (seq, %s) SELECT $2::bigint + t.o, r.*"
                   " FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS t(e, o)"
                   " CROSS JOIN LATERAL jsonb_to_record(t.e) AS r(%s)",
                   stage_names[which], stage_lists[which], stage_cols[which]);
    if (lm__buf_oom(&sql) || lm__buf_oom(&st->rows)) {
        rc = LM_ENOMEM;
        goto out;
    }
    params[0] = st->rows.ptr;
    params[1] = seq;
    rc = lm__db_exec(NULL, im->tx.conn, sql.ptr, 2, params);
    if (rc < 0 && strcmp(lm_error_last()->sqlstate, "23505") == 0) {
        lm__error_set(LM_EPARSE, "the import holds the same %s twice",
                      which ? "chunk_id" : "document_id or id_at_origin");
        rc = LM_EPARSE;
    } else if (rc < 0 && lm_error_last()->sqlstate[0] == '2' && lm_error_last()->sqlstate[1] == '2') {
        /* Data exceptions (a bad value the checks above let through): the stream is bad. */
        rc = as_parse_error(im->lineno + 1, "In the records before");
    }
    st->seq += st->n;
    st->n = 0;
    lm__buf_clear(&st->rows);
out:
    lm_buf_dispose(&sql);
    return rc;
}

static int stage_add(importer *im, int which, const char *line, size_t len)
{
    stage *st = which ? &im->chunks : &im->docs;
    lm__buf_putc(&st->rows, st->n ? ',' : '[');
    lm__buf_put(&st->rows, line, len);
    if (lm__buf_oom(&st->rows))
        return LM_ENOMEM;
    st->n++;
    if (st->n >= LM__IMPORT_BATCH_ROWS || st->rows.size >= LM__IMPORT_BATCH_BYTES)
        return stage_flush(im, which);
    return 0;
}

/* One statement on the import's transaction. */
static int im_exec(PGresult **res, importer *im, const char *sql, int n, const char *const *p)
{
    return lm__db_exec(res, im->tx.conn, sql, n, p);
}

/* After the stream: cross-record checks on the staged rows. */
static int stage_verify(importer *im)
{
    PGresult *res = NULL;
    int rc = im_exec(&res, im,
        "SELECT (SELECT count(*) FROM pg_temp.lm_import_chunks c WHERE NOT EXISTS"
        "         (SELECT 1 FROM pg_temp.lm_import_documents d WHERE d.document_id = c.document_id)),"
        " (SELECT count(*) FROM pg_temp.lm_import_chunks c WHERE c.parent_chunk_id IS NOT NULL"
        "    AND NOT EXISTS (SELECT 1 FROM pg_temp.lm_import_chunks p"
        "                     WHERE p.chunk_id = c.parent_chunk_id AND p.document_id = c.document_id)),"
        " (SELECT count(*) FROM pg_temp.lm_import_chunks c"
        "   WHERE c.content_hash <> encode(sha256(convert_to(c.content, 'UTF8')), 'hex'))",
        0, NULL);
    if (rc < 0)
        return rc;
    if (strcmp(PQgetvalue(res, 0, 0), "0") != 0)
        rc = lm__error_set(LM_EPARSE, "%s chunks of the import belong to no document of it",
                           PQgetvalue(res, 0, 0));
    else if (strcmp(PQgetvalue(res, 0, 1), "0") != 0)
        rc = lm__error_set(LM_EPARSE, "%s chunks of the import name a parent not in their document",
                           PQgetvalue(res, 0, 1));
    else if (strcmp(PQgetvalue(res, 0, 2), "0") != 0)
        rc = lm__error_set(LM_EPARSE, "%s chunks of the import do not match their content_hash",
                           PQgetvalue(res, 0, 2));
    PQclear(res);
    return rc;
}

/* Write the staged rows into the tenant (the writer lock is held). */
static int stage_apply(importer *im, int reuse, lm_import_result *r)
{
    lm_memory *mem = im->mem;
    const char *S = mem->db.qschema;
    const char *p[2] = {im->owner_id, mem->vec.provider_id};
    lm_buf sql = LM_BUF_INIT;
    PGresult *res = NULL;
    int rc = LM_ENOMEM;

#define RUN(n, out_res)                                                                            \
    do {                                                                                           \
        if (lm__buf_oom(&sql)) {                                                                   \
            rc = LM_ENOMEM;                                                                        \
            goto out;                                                                              \
        }                                                                                          \
        if ((rc = im_exec(out_res, im, sql.ptr, n, p)) < 0)                                        \
            goto out;                                                                              \
        lm__buf_clear(&sql);                                                                       \
    } while (0)

    /* The tenant's own document of the same origin keeps its id; otherwise the exported id,
       unless the tenant already uses it for another document. */
    lm__buf_printf(&sql,
        "UPDATE pg_temp.lm_import_documents s SET new_id = coalesce("
        " (SELECT d.document_id FROM %s.documents d WHERE d.owner_id = $1"
        "     AND d.id_at_origin = s.id_at_origin),"
        " CASE WHEN EXISTS (SELECT 1 FROM %s.documents d WHERE d.owner_id = $1"
        "     AND d.document_id = s.document_id) THEN gen_random_uuid() ELSE s.document_id END),"
        " existed = EXISTS (SELECT 1 FROM %s.documents d WHERE d.owner_id = $1"
        "     AND d.id_at_origin = s.id_at_origin)",
        S, S, S);
    RUN(1, NULL);
    lm__buf_printf(&sql,
                   "DELETE FROM %s.chunks WHERE owner_id = $1 AND document_id IN"
                   " (SELECT new_id FROM pg_temp.lm_import_documents WHERE existed)",
                   S);
    RUN(1, NULL);
    lm__buf_printf(&sql,
                   "UPDATE pg_temp.lm_import_chunks s SET new_id = CASE WHEN EXISTS"
                   " (SELECT 1 FROM %s.chunks c WHERE c.owner_id = $1 AND c.chunk_id = s.chunk_id)"
                   " THEN gen_random_uuid() ELSE s.chunk_id END",
                   S);
    RUN(1, NULL);
    lm__buf_printf(&sql,
        "WITH n AS (SELECT document_id, count(*) AS k FROM pg_temp.lm_import_chunks"
        "            GROUP BY document_id)"
        " INSERT INTO %s.documents AS d (owner_id, document_id, id_at_origin, document_type,"
        " document_name, document_date, metadata, text_config, content_bytes, chunk_count,"
        " created_at, updated_at)"
        " SELECT $1, s.new_id, s.id_at_origin, s.document_type, s.document_name, s.document_date,"
        "        s.metadata, s.text_config, s.content_bytes, coalesce(n.k, 0), s.created_at,"
        "        s.updated_at"
        "   FROM pg_temp.lm_import_documents s LEFT JOIN n ON n.document_id = s.document_id"
        "  ORDER BY s.seq"
        " ON CONFLICT (owner_id, id_at_origin) DO UPDATE SET"
        " document_type = excluded.document_type, document_name = excluded.document_name,"
        " document_date = excluded.document_date, metadata = excluded.metadata,"
        " text_config = excluded.text_config, content_bytes = excluded.content_bytes,"
        " chunk_count = excluded.chunk_count, created_at = excluded.created_at,"
        " updated_at = excluded.updated_at",
        S);
    RUN(1, NULL);
    /* Same text analysis as lm_doc_add(): the statistics, and so the scores, come out equal. */
    lm__buf_printf(&sql,
        "INSERT INTO %s.chunks (owner_id, chunk_id, document_id, parent_chunk_id, chunk_index,"
        " chunk_level, searchable, content, content_hash, token_count, metadata, search_vector,"
        " doc_len)"
        " SELECT $1, c.new_id, d.new_id, pc.new_id, c.chunk_index, c.chunk_level, c.searchable,"
        "        c.content, c.content_hash, c.token_count, c.metadata, v.tsv,"
        "        (SELECT coalesce(sum(coalesce(array_length(u.positions, 1), 1)), 0)"
        "           FROM unnest(v.tsv) u)"
        "   FROM pg_temp.lm_import_chunks c"
        "   JOIN pg_temp.lm_import_documents d ON d.document_id = c.document_id"
        "   LEFT JOIN pg_temp.lm_import_chunks pc ON pc.chunk_id = c.parent_chunk_id"
        "  CROSS JOIN LATERAL (SELECT to_tsvector(d.text_config, c.content) AS tsv) v"
        "  ORDER BY c.seq",
        S);
    RUN(1, NULL);
    if (reuse) {
        lm__buf_printf(&sql,
                       "WITH i AS (INSERT INTO %s (owner_id, provider_id, chunk_id, embedding)"
                       " SELECT $1, $2, c.new_id, (c.embedding::text)::vector(%d)"
                       "   FROM pg_temp.lm_import_chunks c"
                       "  WHERE c.searchable AND c.embedding IS NOT NULL"
                       "    AND jsonb_typeof(c.embedding) = 'array' RETURNING 1)"
                       " SELECT count(*) FROM i",
                       mem->vec.table, mem->vec.dim);
        RUN(2, &res);
        r->vectors_reused = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        PQclear(res);
        res = NULL;
    }
    if (mem->vec.embedder != NULL) {
        lm__buf_printf(&sql,
                       "WITH i AS (INSERT INTO %s.embedding_queue (owner_id, provider_id, chunk_id)"
                       " SELECT $1, $2, c.new_id FROM pg_temp.lm_import_chunks c"
                       "  WHERE c.searchable AND (%s OR c.embedding IS NULL"
                       "    OR jsonb_typeof(c.embedding) <> 'array') RETURNING 1)"
                       " SELECT count(*) FROM i",
                       S, reuse ? "false" : "true");
        RUN(2, &res);
        r->chunks_queued = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        PQclear(res);
        res = NULL;
    }
    lm__buf_puts(&sql, "SELECT count(*) FROM pg_temp.lm_import_documents WHERE NOT existed");
    RUN(0, &res);
    r->documents_created = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
#undef RUN
out:
    PQclear(res);
    lm_buf_dispose(&sql);
    return rc;
}

/* The staged import applied by one call of lm_import_apply (069): the checks of stage_verify,
   the writes of stage_apply, the quotas and the audit record, in one transaction on the
   tenant's shard. */
static int apply_call(importer *im, int reuse, const lm_transfer_counts *seen, lm_import_result *r)
{
    lm_memory *mem = im->mem;
    lm_buf sql = LM_BUF_INIT;
    char dim[16], limits[128], detail[512];
    PGconn *conn = NULL;
    PGresult *res = NULL;
    int rc, quota = 0, parse = 0;
    snprintf(dim, sizeof(dim), "%d", mem->vec.dim);
    snprintf(limits, sizeof(limits), "{%lld,%lld,%lld,%lld}", (long long)mem->quota_default[0],
             (long long)mem->quota_default[1], (long long)mem->quota_default[2],
             (long long)mem->quota_default[3]);
    counts_text(detail, sizeof(detail), seen);
    const char *p[11] = {im->owner_id, im->import_id, mem->vec.embedder ? mem->vec.provider_id : NULL,
                         dim, reuse ? "true" : "false", mem->vec.embedder ? "true" : "false",
                         limits, mem->vec.embedder ? "true" : "false", lm__audit_actor(),
                         lm__audit_source(), detail};
    lm__buf_printf(&sql,
                   "SELECT * FROM %s.lm_import_apply($1, $2::uuid, $3, $4::int, $5::boolean,"
                   " $6::boolean, $7::bigint[], $8::boolean, $9, $10, $11::jsonb)",
                   mem->db.qschema);
    if (lm__buf_oom(&sql)) {
        lm_buf_dispose(&sql);
        return LM_ENOMEM;
    }
    if ((rc = lm__pool_acquire(&conn, &mem->db.pool)) < 0)
        goto out;
    res = PQexecParams(conn, sql.ptr, 11, NULL, p, NULL, NULL, 0);
    if (res != NULL && PQresultStatus(res) == PGRES_FATAL_ERROR) {
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        quota = state != NULL && strcmp(state, "53400") == 0;
        parse = state != NULL && strcmp(state, "22P04") == 0;
    }
    rc = lm__db_result(&res, conn, res);
    lm__pool_release(&mem->db.pool, conn);
    if (rc == 0) {
        r->documents_created = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        r->vectors_reused = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
        r->chunks_queued = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
    } else if (quota || parse) {
        /* As lm__quota_check() and stage_verify() say it: the kind ("<kind> quota exceeded")
           as the field, or the stream's fault. */
        char msg[256], det[400], hint[200], field[16];
        snprintf(msg, sizeof(msg), "%s", lm_error_last()->message);
        snprintf(det, sizeof(det), "%s", lm_error_last()->detail ? lm_error_last()->detail : "");
        snprintf(hint, sizeof(hint), "%s", lm_error_last()->hint ? lm_error_last()->hint : "");
        snprintf(field, sizeof(field), "%.*s", (int)strcspn(msg, " "), msg);
        rc = quota ? lm__error_set_field(LM_ELIMIT, field, "%s", msg)
                   : lm__error_set(LM_EPARSE, "%s", msg);
        if (det[0])
            lm__error_detail("%s", det);
        if (hint[0])
            lm__error_hint("%s", hint);
    }
out:
    PQclear(res);
    lm_buf_dispose(&sql);
    return rc;
}

int lm_tenant_import(lm_import_result *out, lm_memory *mem, const char *owner_id,
                     const lm_import_opts *opts, lm_read_cb read, void *payload)
{
    LM__ROUTE(mem, owner_id); /* schema and database modes: the tenant's memory */
    lm_import_opts o = LM_IMPORT_OPTS_INIT;
    importer im;
    reader rd;
    lm_import_result res;
    lm_transfer_counts hc = {0, 0, 0}, tc = {0, 0, 0}, seen = {0, 0, 0};
    crypto_hash_sha256_state sha;
    json_t *rec = NULL;
    lm_buf sql = LM_BUF_INIT;
    const char *line = NULL;
    size_t len = 0;
    char hex[65], hprovider[128] = "";
    int rc, hdim = 0, have_trailer = 0, reuse;
    int64_t done = 0;
    lm__usage before;

    if (out)
        memset(out, 0, sizeof(*out));
    memset(&im, 0, sizeof(im));
    memset(&rd, 0, sizeof(rd));
    memset(&res, 0, sizeof(res));
    LM_ASSERT_ARG(mem != NULL);
    LM_ASSERT_ARG(read != NULL);
    if (opts) {
        if (opts->version != LM_IMPORT_OPTS_VERSION)
            return lm__error_set(LM_EINVAL, "unsupported lm_import_opts version %u", opts->version);
        o = *opts;
    }
    if ((rc = lm__validate_owner_id(owner_id)) < 0)
        return rc;
    im.mem = mem;
    im.owner_id = owner_id;
    lm_buf_init(&im.docs.rows);
    lm_buf_init(&im.chunks.rows);
    rd.read = read;
    rd.payload = payload;
    rd.max_line = o.max_line_bytes ? o.max_line_bytes : LM__IMPORT_LINE_DEFAULT;
    crypto_hash_sha256_init(&sha);

    if (mem->sql_functions) {
        /* 069: staged rows under a fresh id on the tenant's shard, applied at the end */
        unsigned char u[16];
        randombytes_buf(u, sizeof(u));
        u[6] = (unsigned char)((u[6] & 0x0f) | 0x40);
        u[8] = (unsigned char)((u[8] & 0x3f) | 0x80);
        for (int i = 0, j = 0; i < 16; i++) {
            if (i == 4 || i == 6 || i == 8 || i == 10)
                im.import_id[j++] = '-';
            j += snprintf(im.import_id + j, sizeof(im.import_id) - (size_t)j, "%02x", u[i]);
        }
    }
    /* Staging needs no lock: the tenant's writers are only held up for the final writes. */
    if (!mem->sql_functions && (rc = lm__tx_begin(&im.tx, &mem->db, owner_id, LM__TX_READ)) < 0)
        goto out;
    for (int w = 0; w < 2 && !mem->sql_functions; w++) {
        lm__buf_clear(&sql);
        lm__buf_printf(&sql,
                       "CREATE TEMPORARY TABLE %s (seq bigint NOT NULL, %s, new_id uuid,%s %s)"
                       " ON COMMIT DROP",
                       stage_names[w], stage_cols[w], w ? "" : " existed boolean,", stage_keys[w]);
        if (lm__buf_oom(&sql)) {
            rc = LM_ENOMEM;
            goto out;
        }
        if ((rc = lm__db_exec(NULL, im.tx.conn, sql.ptr, 0, NULL)) < 0)
            goto out;
    }

    while ((rc = next_line(&rd, &line, &len)) == 1) {
        json_error_t jerr;
        const char *type;
        im.lineno = rd.lineno;
        if (have_trailer) {
            if (len == 0)
                continue;
            rc = lm__error_set(LM_EPARSE, "the import goes on after its trailer (line %lld)",
                               (long long)rd.lineno);
            goto out;
        }
        json_decref(rec);
        rec = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!json_is_object(rec)) {
            rc = lm__error_set(LM_EPARSE, "line %lld of the import is not a JSON object%s%s",
                               (long long)rd.lineno, rec ? "" : ": ", rec ? "" : jerr.text);
            if (rd.lineno == 1)
                lm__error_hint("An import reads what llmemory export wrote.");
            goto out;
        }
        type = json_string_value(json_object_get(rec, "type"));
        if (rd.lineno == 1) {
            const char *fmt = json_string_value(json_object_get(rec, "format"));
            json_t *ver = json_object_get(rec, "version");
            json_t *prov = json_object_get(rec, "provider_id");
            json_t *dim = json_object_get(rec, "dimension");
            if (type == NULL || strcmp(type, "header") != 0 || fmt == NULL ||
                strcmp(fmt, LM_EXPORT_FORMAT) != 0) {
                rc = lm__error_set(LM_EPARSE, "the import is not an llmemory export (line 1 is"
                                              " not its header)");
                lm__error_hint("An import reads what llmemory export wrote.");
                goto out;
            }
            if (!json_is_integer(ver) || json_integer_value(ver) != LM_EXPORT_VERSION) {
                if (json_is_integer(ver))
                    rc = lm__error_set(LM_EPARSE, "unsupported export format version %lld",
                                       (long long)json_integer_value(ver));
                else
                    rc = lm__error_set(LM_EPARSE, "the export's format version is not an integer");
                lm__error_hint("This version of llmemory reads format version %d.",
                               LM_EXPORT_VERSION);
                goto out;
            }
            if ((prov != NULL && !json_is_null(prov) && !json_is_string(prov)) ||
                !json_is_integer(dim) || json_integer_value(dim) < 0 ||
                json_integer_value(dim) > 100000) {
                rc = bad(&im, "must be a string or null, and a non-negative integer",
                         "provider_id and dimension");
                goto out;
            }
            if ((rc = want_counts(&im, rec, &hc)) < 0)
                goto out;
            snprintf(hprovider, sizeof(hprovider), "%s",
                     json_is_string(prov) ? json_string_value(prov) : "");
            hdim = (int)json_integer_value(dim);
        } else if (type != NULL && strcmp(type, "document") == 0) {
            if ((rc = check_document(&im, rec)) < 0 || (rc = stage_add(&im, 0, line, len)) < 0)
                goto out;
            seen.documents++;
        } else if (type != NULL && strcmp(type, "chunk") == 0) {
            if ((rc = check_chunk(&im, rec, hdim, &seen.vectors)) < 0 ||
                (rc = stage_add(&im, 1, line, len)) < 0)
                goto out;
            seen.chunks++;
        } else if (type != NULL && strcmp(type, "trailer") == 0) {
            const char *sum = json_string_value(json_object_get(rec, "sha256"));
            if ((rc = want_counts(&im, rec, &tc)) < 0)
                goto out;
            sha_hex(hex, &sha);
            if (sum == NULL || strcmp(sum, hex) != 0) {
                rc = lm__error_set(LM_EPARSE, "checksum mismatch: the import is corrupt");
                lm__error_detail("The trailer says sha256 %.64s; the records before it hash to %s.",
                                 sum ? sum : "(missing)", hex);
                goto out;
            }
            have_trailer = 1;
            continue;
        } else {
            rc = bad(&im, "is missing or unknown", "type");
            goto out;
        }
        crypto_hash_sha256_update(&sha, (const unsigned char *)line, len);
        crypto_hash_sha256_update(&sha, (const unsigned char *)"\n", 1);
        if (o.progress && rd.lineno > 1)
            o.progress(++done, hc.documents + hc.chunks, o.progress_payload);
    }
    if (rc < 0)
        goto out;
    if (rd.lineno == 0) {
        rc = lm__error_set(LM_EPARSE, "the import is empty");
        lm__error_hint("An import reads what llmemory export wrote.");
        goto out;
    }
    if (!have_trailer) {
        rc = lm__error_set(LM_EPARSE, "the import is truncated: it ends without a trailer record");
        lm__error_detail("%lld lines were read.", (long long)rd.lineno);
        goto out;
    }
    if (seen.documents != hc.documents || seen.chunks != hc.chunks || seen.vectors != hc.vectors ||
        memcmp(&hc, &tc, sizeof(hc)) != 0) {
        rc = lm__error_set(LM_EPARSE, "the import's counts do not match its records");
        lm__error_detail("Header: %lld documents, %lld chunks, %lld vectors; trailer: %lld, %lld,"
                         " %lld; records: %lld, %lld, %lld.",
                         (long long)hc.documents, (long long)hc.chunks, (long long)hc.vectors,
                         (long long)tc.documents, (long long)tc.chunks, (long long)tc.vectors,
                         (long long)seen.documents, (long long)seen.chunks,
                         (long long)seen.vectors);
        goto out;
    }
    if ((rc = stage_flush(&im, 0)) < 0 || (rc = stage_flush(&im, 1)) < 0)
        goto out;
    reuse = mem->vec.embedder != NULL && hprovider[0] != '\0' &&
            strcmp(hprovider, mem->vec.provider_id) == 0 && hdim == mem->vec.dim;
    if (im.import_id[0] != '\0') {
        if ((rc = apply_call(&im, reuse, &seen, &res)) < 0)
            goto out;
        im.import_id[0] = '\0'; /* applied: nothing left staged */
        goto applied;
    }
    if ((rc = stage_verify(&im)) < 0)
        goto out;
    if ((rc = lm__tx_lock(&im.tx, owner_id)) < 0 ||
        (rc = lm__usage_read(&before, mem, &im.tx, owner_id)) < 0 ||
        (rc = stage_apply(&im, reuse, &res)) < 0 ||
        (rc = lm__quota_check(mem, &im.tx, owner_id, &before)) < 0)
        goto out;
    {
        char detail[512];
        counts_text(detail, sizeof(detail), &seen);
        if ((rc = lm__audit_in_tx(mem, &im.tx, owner_id, "tenant.import", "success", detail)) < 0)
            goto out;
    }
    if ((rc = lm__tx_commit(&im.tx)) < 0)
        goto out;
applied:
    res.counts = seen;
    if (mem->vec.embedder != NULL && res.vectors_reused > 0)
        lm__vector_maybe_index(&mem->db, &mem->vec, owner_id);
    if (out)
        *out = res;
out:
    lm__tx_end(&im.tx);
    if (rc < 0 && im.import_id[0] != '\0') {
        /* What was staged goes (best effort: the next import removes it after a day). */
        lm_buf d = LM_BUF_INIT;
        lm_error e = *lm_error_last();
        char msg[512], det[512], hint[256], field[64], state[6];
        snprintf(msg, sizeof(msg), "%s", e.message ? e.message : "");
        snprintf(det, sizeof(det), "%s", e.detail ? e.detail : "");
        snprintf(hint, sizeof(hint), "%s", e.hint ? e.hint : "");
        snprintf(field, sizeof(field), "%s", e.field ? e.field : "");
        memcpy(state, e.sqlstate, sizeof(state));
        const char *p[2] = {owner_id, im.import_id};
        lm__buf_printf(&d, "SELECT %s.lm_import_discard($1, $2::uuid)", mem->db.qschema);
        if (!lm__buf_oom(&d))
            (void)lm__db_call(NULL, &mem->db, LM__STMT_FN_IMPORT, d.ptr, 2, p);
        lm_buf_dispose(&d);
        /* the import's own error stays the one reported */
        if (field[0] != '\0')
            lm__error_set_field(e.code, field, "%s", msg);
        else
            lm__error_set(e.code, "%s", msg);
        if (det[0] != '\0')
            lm__error_detail("%s", det);
        if (hint[0] != '\0')
            lm__error_hint("%s", hint);
        if (state[0] != '\0')
            lm__error_sqlstate(state);
    }
    if (rc < 0) {
        char detail[512];
        error_text(detail, sizeof(detail));
        lm__audit(mem, owner_id, "tenant.import", "failure", detail);
    }
    json_decref(rec);
    lm__free(rd.buf);
    lm_buf_dispose(&im.docs.rows);
    lm_buf_dispose(&im.chunks.rows);
    lm_buf_dispose(&sql);
    return rc;
}
