/*
 * cli/remote.c: remote mode. With --url (or $LLMEMORY_URL) the commands add, search, list, get,
 * delete and stats send their already-parsed request to an `llmemory serve` (libcurl) and print
 * the reply exactly as the local command prints its result: the server's JSON has the same
 * shape as --json. Errors come back as {"error":{"code","message","detail","hint"}} and are
 * printed and mapped to exit statuses like library errors. The API key is never printed.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "cmd.h"

/* Largest reply read (a get with chunks of a 10 MiB document is about that, JSON-escaped). */
#define REMOTE_MAX_REPLY         ((size_t)256 * 1024 * 1024)
#define REMOTE_CONNECT_TIMEOUT_S 10L
#define REMOTE_TIMEOUT_S         600L

static const char *env_nonempty(const char *name)
{
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0' ? v : NULL;
}

static const char *remote_url(const cli_ctx *ctx)
{
    return ctx->url != NULL ? ctx->url : env_nonempty("LLMEMORY_URL");
}

int cli_remote_on(const cli_ctx *ctx)
{
    return remote_url(ctx) != NULL;
}

int cli_target_owner(cli_ctx *ctx, const char *given, const char **out)
{
    if (!cli_remote_on(ctx))
        return cli_owner(ctx, given, out);
    *out = given;
    return 0;
}

/* ==== HTTP =================================================================================== */

typedef struct reply {
    lm_buf body;
    int too_big;
} reply;

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    reply *r = userdata;
    size_t n = size * nmemb;

    if (r->body.size + n > REMOTE_MAX_REPLY) {
        r->too_big = 1;
        return 0;
    }
    lm__buf_put(&r->body, ptr, n);
    return lm__buf_oom(&r->body) ? 0 : n;
}

/* Exit status for an error code name of the server. */
static int status_of_code(const char *code, long http_status)
{
    static const int codes[] = {LM_ERROR,     LM_ENOMEM, LM_EINVAL,   LM_ENOTFOUND, LM_EEXISTS,
                                LM_ECONFLICT, LM_ERETRY, LM_ETIMEOUT, LM_ECONN,     LM_EDB,
                                LM_ELIMIT,    LM_EPERM,  LM_EPARSE,   LM_EIO};
    for (size_t i = 0; code != NULL && i < sizeof(codes) / sizeof(codes[0]); i++)
        if (strcmp(lm_errname(codes[i]), code) == 0)
            return cli_exit_status(codes[i]);
    if (http_status == 404)
        return CLI_EXIT_NOTFOUND;
    if (http_status == 503)
        return CLI_EXIT_UNAVAILABLE;
    return CLI_EXIT_ERROR;
}

/* Say that the program at --url is not an llmemory server (it replied with @p status and
   content type @p ctype, in a shape llmemory never uses); exit status 4, as for a server that
   cannot be reached. */
static int not_llmemory(long status, const char *ctype)
{
    /* The URL may carry credentials (user:pass@): describe the reply, not the URL. */
    cli_msg("the server at --url is not an llmemory server");
    cli_detail("It replied with HTTP status %ld and content type \"%.80s\"; llmemory replies with "
               "JSON, and with {\"error\": {\"code\", \"message\"}} on errors.",
               status, ctype != NULL ? ctype : "(none)");
    cli_hint("Check --url or LLMEMORY_URL: another program may be using that port. "
             "\"llmemory serve\" logs the address it listens on.");
    return CLI_EXIT_UNAVAILABLE;
}

/* 1 when @p ctype is JSON ("application/json", with or without parameters). */
static int is_json_type(const char *ctype)
{
    return ctype != NULL && strncasecmp(ctype, "application/json", 16) == 0 &&
           (ctype[16] == '\0' || ctype[16] == ';' || ctype[16] == ' ');
}

/* Print the server's error reply; return its exit status. A reply that is not llmemory's error
   shape comes from some other program on that port. */
static int print_error(long status, const char *ctype, const lm_buf *body)
{
    json_t *v = json_loadb(body->ptr, body->size, 0, NULL);
    json_t *e = json_object_get(v, "error");
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    const char *detail = json_string_value(json_object_get(e, "detail"));
    const char *hint = json_string_value(json_object_get(e, "hint"));
    int rc;

    if (!is_json_type(ctype) || code == NULL || msg == NULL) {
        json_decref(v);
        return not_llmemory(status, ctype);
    }
    if (msg != NULL)
        cli_msg("%s", msg);
    else
        cli_msg("server replied with HTTP status %ld", status);
    if (detail != NULL && detail[0] != '\0')
        cli_detail("%s", detail);
    if (hint != NULL && hint[0] != '\0')
        cli_hint("%s", hint);
    if (status == 401 && (hint == NULL || hint[0] == '\0'))
        cli_hint("Pass the API key with --key or LLMEMORY_API_KEY.");
    rc = status_of_code(code, status);
    json_decref(v);
    return rc;
}

/*
 * One request: @p method on @p path (with its query string), with @p body (JSON text) or none.
 * On a 2xx reply *out receives the parsed JSON and 0 is returned; otherwise the error is printed
 * and its exit status returned. *http_status receives the HTTP status (0 when none came).
 */
static int call(cli_ctx *ctx,
                const char *method,
                const char *path,
                const char *body,
                json_t **out,
                long *http_status)
{
    CURL *h = NULL;
    struct curl_slist *headers = NULL;
    const char *base = remote_url(ctx);
    const char *key = ctx->api_key != NULL ? ctx->api_key : env_nonempty("LLMEMORY_API_KEY");
    lm_buf url = LM_BUF_INIT, auth = LM_BUF_INIT;
    reply rep;
    json_error_t jerr;
    CURLcode cc;
    char *ctype = NULL;
    long status = 0;
    size_t n = strlen(base);
    int rc = CLI_EXIT_ERROR;

    *out = NULL;
    *http_status = 0;
    lm_buf_init(&rep.body);
    rep.too_big = 0;
    while (n > 0 && base[n - 1] == '/')
        n--;
    lm__buf_put(&url, base, n);
    lm__buf_puts(&url, path);
    if (key != NULL) {
        lm__buf_puts(&auth, "Authorization: Bearer ");
        lm__buf_puts(&auth, key);
    }
    if (lm__buf_oom(&url) || lm__buf_oom(&auth)) {
        rc = cli_oom();
        goto out;
    }
    if ((h = curl_easy_init()) == NULL) {
        rc = cli_oom();
        goto out;
    }
    if (key != NULL)
        headers = curl_slist_append(headers, auth.ptr);
    headers = curl_slist_append(headers, "Accept: application/json");
    if (body != NULL)
        headers = curl_slist_append(headers, "Content-Type: application/json");
    /* No 100-continue round trip: the server answers a refused body (413) either way. */
    headers = curl_slist_append(headers, "Expect:");
    curl_easy_setopt(h, CURLOPT_URL, url.ptr);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "llmemory/" LM_VERSION_STRING);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &rep);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, REMOTE_CONNECT_TIMEOUT_S);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, REMOTE_TIMEOUT_S);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (body != NULL) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    }
    cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        if (rep.too_big) {
            cli_msg("reply from the server is too large");
            rc = CLI_EXIT_ERROR;
        } else {
            /* The URL may carry credentials (user:pass@): name the error, not the URL. */
            cli_msg("could not reach the server: %s", curl_easy_strerror(cc));
            cli_hint("Check --url or LLMEMORY_URL, and that `llmemory serve` is running.");
            rc = CLI_EXIT_UNAVAILABLE;
        }
        goto out;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    *http_status = status;
    if (lm__buf_oom(&rep.body)) {
        rc = cli_oom();
        goto out;
    }
    if (curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ctype) != CURLE_OK)
        ctype = NULL;
    if (status < 200 || status >= 300) {
        rc = print_error(status, ctype, &rep.body);
        goto out;
    }
    if (!is_json_type(ctype)) {
        rc = not_llmemory(status, ctype);
        goto out;
    }
    *out = json_loadb(rep.body.ptr, rep.body.size, 0, &jerr);
    if (*out == NULL) {
        cli_msg("could not read the server's reply: %s", jerr.text);
        rc = CLI_EXIT_ERROR;
        goto out;
    }
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        rc = not_llmemory(status, ctype);
        goto out;
    }
    rc = 0;
out:
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);
    /* The header held the key: wipe it before the memory is reused. */
    if (auth.size > 0)
        memset(auth.ptr, 0, auth.size);
    lm_buf_dispose(&auth);
    lm_buf_dispose(&url);
    lm_buf_dispose(&rep.body);
    return rc;
}

/* Append "&name=value" (or "?name=value" first) to @p q, the value URL-encoded; nothing when
   @p value is NULL. 0, or -1 when out of memory. */
static int add_param(lm_buf *q, const char *name, const char *value)
{
    char *enc;

    if (value == NULL)
        return 0;
    enc = curl_easy_escape(NULL, value, 0);
    if (enc == NULL)
        return -1;
    lm__buf_putc(q, strchr(q->ptr, '?') != NULL ? '&' : '?');
    lm__buf_puts(q, name);
    lm__buf_putc(q, '=');
    lm__buf_puts(q, enc);
    curl_free(enc);
    return lm__buf_oom(q) ? -1 : 0;
}

/* JSON text of @p v (compact) for a request body; NULL when out of memory. */
static char *body_text(json_t *v)
{
    return v != NULL ? json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
}

/* Set @p key to the JSON text @p text (an object from the options), when given. */
static int set_json_text(json_t *o, const char *key, const char *text)
{
    json_t *v;
    if (text == NULL)
        return 0;
    v = json_loads(text, 0, NULL);
    if (v == NULL)
        v = json_string(text); /* the server reports it as invalid */
    return cli_jset(o, key, v);
}

static const char *jstr(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s != NULL ? s : "";
}

static long long jint(json_t *o, const char *key)
{
    return (long long)json_integer_value(json_object_get(o, key));
}

/* ==== commands =============================================================================== */

int cli_remote_add(cli_ctx *ctx,
                   const char *owner,
                   const char *origin,
                   const char *name,
                   lm_doc_type type,
                   const char *text,
                   size_t len,
                   const lm_doc_add_opts *opts,
                   int json)
{
    json_t *req = json_object(), *res = NULL, *content = json_stringn(text, len);
    char *body = NULL;
    long http = 0;
    int bad, status;

    if (content == NULL && text != NULL) {
        /* What the library would say: the JSON request cannot carry it either. */
        json_decref(req);
        cli_msg("content is not valid UTF-8");
        return CLI_EXIT_USAGE;
    }
    bad = owner != NULL ? cli_jset(req, "owner_id", cli_jstr(owner)) : 0;
    bad |= cli_jset(req, "id_at_origin", cli_jstr(origin));
    bad |= cli_jset(req, "name", cli_jstr(name));
    bad |= cli_jset(req, "type", cli_jstr(lm_doc_type_name(type)));
    bad |= cli_jset(req, "content", content);
    if (opts->document_date != NULL)
        bad |= cli_jset(req, "document_date", cli_jstr(opts->document_date));
    bad |= set_json_text(req, "metadata", opts->metadata);
    if (opts->text_config != NULL)
        bad |= cli_jset(req, "text_config", cli_jstr(opts->text_config));
    if (opts->strategy == LM_CHUNK_SEMANTIC)
        bad |= cli_jset(req, "chunking_strategy", json_string("semantic"));
    if (bad || (body = body_text(req)) == NULL) {
        status = cli_oom();
        goto out;
    }
    if ((status = call(ctx, "POST", "/v1/documents", body, &res, &http)) != 0)
        goto out;
    if (json) {
        status = cli_json_print(json_incref(res));
        goto out;
    }
    printf("%s %s \"%s\" (%s, %lld chunk%s)\n",
           json_is_true(json_object_get(res, "created")) ? "added" : "re-indexed",
           jstr(res, "document_id"), jstr(res, "id_at_origin"), jstr(res, "type"),
           jint(res, "chunk_count"), jint(res, "chunk_count") == 1 ? "" : "s");
    status = CLI_EXIT_OK;
out:
    free(body);
    json_decref(req);
    json_decref(res);
    return status;
}

int cli_remote_search(
    cli_ctx *ctx, const char *owner, const char *query, const lm_search_opts *opts, int json)
{
    json_t *req = json_object(), *res = NULL, *hits;
    char *body = NULL;
    lm_buf line = LM_BUF_INIT;
    long http = 0;
    size_t i;
    json_t *h;
    int bad, status;

    bad = owner != NULL ? cli_jset(req, "owner_id", cli_jstr(owner)) : 0;
    bad |= cli_jset(req, "query", cli_jstr(query));
    bad |= cli_jset(req, "type", cli_jstr(lm_search_type_name(opts->type)));
    bad |= cli_jset(req, "limit", json_integer(opts->limit));
    if (opts->id_at_origin != NULL)
        bad |= cli_jset(req, "id_at_origin", cli_jstr(opts->id_at_origin));
    if (opts->n_id_at_origins > 0) {
        json_t *arr = json_array();
        for (size_t k = 0; k < opts->n_id_at_origins && arr != NULL; k++)
            bad |= json_array_append_new(arr, cli_jstr(opts->id_at_origins[k])) != 0;
        bad |= cli_jset(req, "id_at_origins", arr);
    }
    bad |= set_json_text(req, "metadata", opts->metadata_filter);
    if (opts->has_type)
        bad |= cli_jset(req, "document_type", cli_jstr(lm_doc_type_name(opts->doc_type)));
    if (opts->date_from != NULL)
        bad |= cli_jset(req, "date_from", cli_jstr(opts->date_from));
    if (opts->date_to != NULL)
        bad |= cli_jset(req, "date_to", cli_jstr(opts->date_to));
    if (opts->text_config != NULL)
        bad |= cli_jset(req, "text_config", cli_jstr(opts->text_config));
    if (opts->no_history)
        bad |= cli_jset(req, "no_history", json_true());
    if (opts->alpha >= 0)
        bad |= cli_jset(req, "alpha", json_real(opts->alpha));
    if (opts->rrf_k > 0)
        bad |= cli_jset(req, "rrf_k", json_integer(opts->rrf_k));
    if (opts->candidates > 0)
        bad |= cli_jset(req, "candidates", json_integer(opts->candidates));
    if (opts->with_documents)
        bad |= cli_jset(req, "with_documents", json_true());
    if (opts->include_parent_context)
        bad |= cli_jset(req, "parent_context", json_true());
    if (opts->context_window > 0)
        bad |= cli_jset(req, "context_window", json_integer(opts->context_window));
    if (opts->expand)
        bad |= cli_jset(req, "expand", json_true());
    if (opts->max_variants > 0)
        bad |= cli_jset(req, "max_variants", json_integer(opts->max_variants));
    if (opts->rerank)
        bad |= cli_jset(req, "rerank", json_true());
    if (opts->rerank_top_k > 0)
        bad |= cli_jset(req, "rerank_top_k", json_integer(opts->rerank_top_k));
    if (opts->syntax != LM_QUERY_WEB)
        bad |= cli_jset(req, "syntax", cli_jstr(lm_query_syntax_name(opts->syntax)));
    if (bad || (body = body_text(req)) == NULL) {
        status = cli_oom();
        goto out;
    }
    if ((status = call(ctx, "POST", "/v1/search", body, &res, &http)) != 0)
        goto out;
    if (json) {
        status = cli_json_print(json_incref(res));
        goto out;
    }
    hits = json_object_get(res, "results");
    if (json_array_size(hits) == 0)
        printf("no results\n");
    for (i = 0; i < json_array_size(hits) && (h = json_array_get(hits, i)) != NULL; i++) {
        const cli_hit_scores sc = {json_number_value(json_object_get(h, "score")),
                                   opts->type == LM_SEARCH_HYBRID,
                                   jint(h, "text_rank"),
                                   jint(h, "vector_rank"),
                                   json_number_value(json_object_get(h, "text_score")),
                                   json_number_value(json_object_get(h, "vector_score"))};
        cli_print_hit_head(i + 1, jstr(h, "document_name"), jstr(h, "id_at_origin"), &sc);
        if (json_object_get(h, "document_metadata") != NULL) {
            /* ", " and ": " separators: the form PostgreSQL prints jsonb in locally. */
            char *dm = json_dumps(json_object_get(h, "document_metadata"), JSON_PRESERVE_ORDER);
            printf("   document: %s %s\n", jstr(h, "document_type"), dm != NULL ? dm : "");
            free(dm);
        }
        lm__buf_clear(&line);
        cli_excerpt(&line, jstr(h, "content"), CLI_EXCERPT_BYTES);
        if (!lm__buf_oom(&line))
            printf("   %s\n", line.ptr);
    }
    status = CLI_EXIT_OK;
out:
    lm_buf_dispose(&line);
    free(body);
    json_decref(req);
    json_decref(res);
    return status;
}

int cli_remote_list(cli_ctx *ctx, const char *owner, const lm_doc_list_opts *opts, int json)
{
    static const char *const orders[] = {"created_at", "updated_at", "name"};
    lm_buf path = LM_BUF_INIT;
    json_t *res = NULL, *docs, *d;
    char num[32];
    long http = 0;
    size_t i;
    long long total, count, offset;
    int status, bad;

    lm__buf_puts(&path, "/v1/documents");
    bad = add_param(&path, "owner_id", owner);
    snprintf(num, sizeof(num), "%d", opts->limit);
    bad |= add_param(&path, "limit", num);
    snprintf(num, sizeof(num), "%lld", (long long)opts->offset);
    bad |= add_param(&path, "offset", num);
    bad |= add_param(&path, "order_by",
                     orders[opts->order_by <= LM_ORDER_DOCUMENT_NAME ? opts->order_by : 0]);
    bad |= add_param(&path, "order", opts->ascending ? "asc" : "desc");
    if (opts->has_type)
        bad |= add_param(&path, "type", lm_doc_type_name(opts->type));
    bad |= add_param(&path, "metadata", opts->metadata_filter);
    if (bad || lm__buf_oom(&path)) {
        status = cli_oom();
        goto out;
    }
    if ((status = call(ctx, "GET", path.ptr, NULL, &res, &http)) != 0)
        goto out;
    if (json) {
        status = cli_json_print(json_incref(res));
        goto out;
    }
    docs = json_object_get(res, "documents");
    for (i = 0; i < json_array_size(docs) && (d = json_array_get(docs, i)) != NULL; i++) {
        char tbuf[20];
        printf("%s  %-8s  %s  %s  \"%s\"\n", jstr(d, "document_id"), jstr(d, "type"),
               cli_short_time(tbuf, jstr(d, opts->order_by == LM_ORDER_UPDATED_AT ? "updated_at"
                                                                                  : "created_at")),
               jstr(d, "id_at_origin"), jstr(d, "name"));
    }
    total = jint(res, "total");
    count = jint(res, "count");
    offset = jint(res, "offset");
    if (count == 0)
        printf("%lld document%s (none on this page)\n", total, total == 1 ? "" : "s");
    else
        printf("documents %lld-%lld of %lld\n", offset + 1, offset + count, total);
    status = CLI_EXIT_OK;
out:
    lm_buf_dispose(&path);
    json_decref(res);
    return status;
}

/* The human form of `get`, as cmd_get.c prints a document. */
static void print_document(json_t *d)
{
    char *meta = json_dumps(json_object_get(d, "metadata"), JSON_COMPACT | JSON_PRESERVE_ORDER);
    const char *date = json_string_value(json_object_get(d, "document_date"));

    printf("document_id    %s\n", jstr(d, "document_id"));
    printf("owner_id       %s\n", jstr(d, "owner_id"));
    printf("id_at_origin   %s\n", jstr(d, "id_at_origin"));
    printf("name           %s\n", jstr(d, "name"));
    printf("type           %s\n", jstr(d, "type"));
    printf("document_date  %s\n", date != NULL ? date : "(none)");
    printf("metadata       %s\n", meta != NULL ? meta : "{}");
    printf("text_config    %s\n", jstr(d, "text_config"));
    printf("created_at     %s\n", jstr(d, "created_at"));
    printf("updated_at     %s\n", jstr(d, "updated_at"));
    printf("chunk_count    %lld\n", jint(d, "chunk_count"));
    printf("content_bytes  %lld\n", jint(d, "content_bytes"));
    free(meta);
}

int cli_remote_get(cli_ctx *ctx, const char *owner, const char *id, int with_chunks, int json)
{
    lm_buf path = LM_BUF_INIT;
    json_t *res = NULL, *chunks, *c;
    char *enc = NULL;
    long http = 0;
    size_t i;
    int status;

    enc = curl_easy_escape(NULL, id, 0);
    if (enc == NULL) {
        status = cli_oom();
        goto out;
    }
    lm__buf_puts(&path, "/v1/documents/");
    lm__buf_puts(&path, enc);
    if (add_param(&path, "owner_id", owner) < 0 ||
        add_param(&path, "chunks", with_chunks ? "true" : "false") < 0 || lm__buf_oom(&path)) {
        status = cli_oom();
        goto out;
    }
    if ((status = call(ctx, "GET", path.ptr, NULL, &res, &http)) != 0)
        goto out;
    if (json) {
        status = cli_json_print(json_incref(res));
        goto out;
    }
    print_document(res);
    chunks = json_object_get(res, "chunks");
    for (i = 0; i < json_array_size(chunks) && (c = json_array_get(chunks, i)) != NULL; i++) {
        printf("\n--- chunk %lld (level %lld, %lld tokens%s) %s ---\n", jint(c, "chunk_index"),
               jint(c, "chunk_level"), jint(c, "token_count"),
               json_is_true(json_object_get(c, "searchable")) ? "" : ", not searchable",
               jstr(c, "chunk_id"));
        printf("%s\n", jstr(c, "content"));
    }
    status = CLI_EXIT_OK;
out:
    curl_free(enc);
    lm_buf_dispose(&path);
    json_decref(res);
    return status;
}

static int in_array(json_t *arr, const char *id)
{
    size_t i;
    json_t *v;
    for (i = 0; i < json_array_size(arr) && (v = json_array_get(arr, i)) != NULL; i++) {
        const char *s = json_string_value(v);
        if (s != NULL && strcasecmp(s, id) == 0)
            return 1;
    }
    return 0;
}

int cli_remote_delete(cli_ctx *ctx,
                      const char *owner,
                      const char *const *ids,
                      size_t n_ids,
                      const char *metadata,
                      int json)
{
    json_t *req = json_object(), *res = NULL, *deleted, *missing;
    char *body = NULL;
    long http = 0;
    size_t i;
    json_t *v;
    int bad, status, rc;

    bad = owner != NULL ? cli_jset(req, "owner_id", cli_jstr(owner)) : 0;
    if (n_ids > 0) {
        json_t *arr = json_array();
        for (size_t k = 0; k < n_ids && arr != NULL; k++)
            bad |= json_array_append_new(arr, cli_jstr(ids[k])) != 0;
        bad |= cli_jset(req, "document_ids", arr);
    } else {
        bad |= set_json_text(req, "metadata", metadata);
    }
    if (bad || (body = body_text(req)) == NULL) {
        status = cli_oom();
        goto out;
    }
    if ((status = call(ctx, "POST", "/v1/documents/delete", body, &res, &http)) != 0)
        goto out;
    deleted = json_object_get(res, "deleted");
    missing = json_object_get(res, "not_found");
    status = json_array_size(missing) > 0 ? CLI_EXIT_NOTFOUND : CLI_EXIT_OK;
    if (json) {
        rc = cli_json_print(json_incref(res));
        if (rc != 0)
            status = rc;
    } else {
        for (i = 0; i < json_array_size(deleted) && (v = json_array_get(deleted, i)) != NULL; i++)
            printf("deleted %s\n", json_string_value(v));
        printf("%zu document%s deleted\n", json_array_size(deleted),
               json_array_size(deleted) == 1 ? "" : "s");
    }
    for (size_t k = 0; k < n_ids; k++)
        if (!in_array(deleted, ids[k]))
            cli_msg("document \"%s\" does not exist", ids[k]);
out:
    free(body);
    json_decref(req);
    json_decref(res);
    return status;
}

int cli_remote_stats(cli_ctx *ctx, const char *owner, int json)
{
    lm_buf path = LM_BUF_INIT;
    json_t *res = NULL, *by_type;
    long http = 0;
    int status, c = 0;

    lm__buf_puts(&path, "/v1/statistics");
    if (add_param(&path, "owner_id", owner) < 0 || lm__buf_oom(&path)) {
        status = cli_oom();
        goto out;
    }
    if ((status = call(ctx, "GET", path.ptr, NULL, &res, &http)) != 0)
        goto out;
    if (json) {
        status = cli_json_print(json_incref(res));
        goto out;
    }
    printf("owner          %s\n", jstr(res, "owner_id"));
    printf("documents      %lld\n", jint(res, "document_count"));
    printf("chunks         %lld\n", jint(res, "chunk_count"));
    printf("bytes          %lld\n", jint(res, "total_bytes"));
    printf("by type       ");
    by_type = json_object_get(res, "by_type");
    /* In lm_doc_type order, as the local command prints them. */
    for (int t = 0; t < LM_DOC_TYPE_COUNT; t++) {
        const char *name = lm_doc_type_name((lm_doc_type)t);
        long long n = jint(by_type, name);
        if (n == 0)
            continue;
        printf("%s %s %lld", c++ ? "," : "", name, n);
    }
    printf("%s\n", c ? "" : " (none)");
    if (json_string_value(json_object_get(res, "first_created")) != NULL) {
        printf("first added    %s\n", jstr(res, "first_created"));
        printf("last added     %s\n", jstr(res, "last_created"));
    }
    {
        json_t *u = json_object_get(res, "usage"), *days = json_object_get(u, "days");
        printf("searches today %lld\n", jint(u, "searches_today"));
        printf("adds today     %lld\n", jint(u, "adds_today"));
        for (size_t i = 1; i < json_array_size(days); i++) {
            json_t *d = json_array_get(days, i);
            printf("  %s   %lld searches, %lld adds\n", jstr(d, "day"), jint(d, "searches"),
                   jint(d, "adds"));
        }
    }
    status = CLI_EXIT_OK;
out:
    lm_buf_dispose(&path);
    json_decref(res);
    return status;
}
