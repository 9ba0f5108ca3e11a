/*
 * cli/json.c: --json output. The library's structs become JSON objects whose keys mirror the C
 * field names, so scripts can rely on them; metadata (JSON text from the library) is embedded as
 * a JSON value, not as a string. Also the one-line excerpts of human output.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cmd.h"
#include "utf8.h"

json_t *cli_jstr(const char *s)
{
    json_t *v;
    lm_buf fixed;

    if (s == NULL)
        return json_null();
    v = json_string(s);
    if (v != NULL)
        return v;
    /* Not UTF-8 (a file name, say): replace each bad byte with U+FFFD rather than drop the
       value, so the output stays valid JSON and still says roughly what it was. */
    lm_buf_init(&fixed);
    lm__utf8_repair(&fixed, s, strlen(s));
    v = lm__buf_oom(&fixed) ? NULL : json_stringn(fixed.ptr, fixed.size);
    lm_buf_dispose(&fixed);
    return v;
}

json_t *cli_jstr_or_null(const char *s)
{
    if (s == NULL || s[0] == '\0')
        return json_null();
    return cli_jstr(s);
}

json_t *cli_jreal(double v)
{
    if (isnan(v) || isinf(v))
        return json_null();
    return json_real(v);
}

json_t *cli_jparse(const char *text)
{
    json_t *v;
    json_error_t err;

    if (text == NULL)
        return json_null();
    v = json_loads(text, JSON_DECODE_ANY, &err);
    if (v != NULL)
        return v;
    return cli_jstr(text);
}

int cli_jset(json_t *obj, const char *key, json_t *value)
{
    if (obj == NULL || value == NULL) {
        json_decref(value);
        return -1;
    }
    return json_object_set_new(obj, key, value) == 0 ? 0 : -1;
}

/* Return @p obj, or release it and return NULL when any set failed. */
static json_t *finish(json_t *obj, int failed)
{
    if (failed) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

json_t *cli_json_document(const lm_document *d)
{
    json_t *o = json_object();
    int bad = 0;

    bad |= cli_jset(o, "document_id", cli_jstr(d->document_id));
    bad |= cli_jset(o, "owner_id", cli_jstr(d->owner_id));
    bad |= cli_jset(o, "id_at_origin", cli_jstr(d->id_at_origin));
    bad |= cli_jset(o, "name", cli_jstr(d->name));
    bad |= cli_jset(o, "type", cli_jstr(lm_doc_type_name(d->type)));
    bad |= cli_jset(o, "document_date", cli_jstr_or_null(d->document_date));
    bad |= cli_jset(o, "metadata", cli_jparse(d->metadata != NULL ? d->metadata : "{}"));
    bad |= cli_jset(o, "text_config", cli_jstr(d->text_config));
    bad |= cli_jset(o, "created_at", cli_jstr(d->created_at));
    bad |= cli_jset(o, "updated_at", cli_jstr(d->updated_at));
    bad |= cli_jset(o, "chunk_count", json_integer((json_int_t)d->chunk_count));
    bad |= cli_jset(o, "content_bytes", json_integer((json_int_t)d->content_bytes));
    return finish(o, bad);
}

json_t *cli_json_chunk(const lm_chunk *c)
{
    json_t *o = json_object();
    int bad = 0;

    bad |= cli_jset(o, "chunk_id", cli_jstr(c->chunk_id));
    bad |= cli_jset(o, "parent_chunk_id", cli_jstr_or_null(c->parent_chunk_id));
    bad |= cli_jset(o, "chunk_index", json_integer(c->chunk_index));
    bad |= cli_jset(o, "chunk_level", json_integer(c->chunk_level));
    bad |= cli_jset(o, "searchable", json_boolean(c->searchable));
    bad |= cli_jset(o, "token_count", json_integer(c->token_count));
    bad |= cli_jset(o, "content", cli_jstr(c->content));
    bad |= cli_jset(o, "content_hash", cli_jstr(c->content_hash));
    bad |= cli_jset(o, "metadata", cli_jparse(c->metadata != NULL ? c->metadata : "{}"));
    return finish(o, bad);
}

json_t *cli_json_hit(const lm_hit *h)
{
    json_t *o = json_object();
    int bad = 0;

    bad |= cli_jset(o, "rank", json_integer(h->rank));
    bad |= cli_jset(o, "score", cli_jreal(h->score));
    bad |= cli_jset(o, "text_score", cli_jreal(h->text_score));
    bad |= cli_jset(o, "text_rank", json_integer(h->text_rank));
    bad |= cli_jset(o, "vector_score", cli_jreal(h->vector_score));
    bad |= cli_jset(o, "vector_rank", json_integer(h->vector_rank));
    bad |= cli_jset(o, "chunk_id", cli_jstr(h->chunk_id));
    bad |= cli_jset(o, "document_id", cli_jstr(h->document_id));
    bad |= cli_jset(o, "id_at_origin", cli_jstr(h->id_at_origin));
    bad |= cli_jset(o, "document_name", cli_jstr(h->document_name));
    bad |= cli_jset(o, "document_type", cli_jstr(lm_doc_type_name(h->document_type)));
    bad |= cli_jset(o, "chunk_index", json_integer(h->chunk_index));
    bad |= cli_jset(o, "chunk_level", json_integer(h->chunk_level));
    bad |= cli_jset(o, "content", cli_jstr(h->content));
    bad |= cli_jset(o, "metadata", cli_jparse(h->metadata != NULL ? h->metadata : "{}"));
    if (h->document_metadata != NULL)
        bad |= cli_jset(o, "document_metadata", cli_jparse(h->document_metadata));
    if (h->n_context > 0) {
        json_t *ctx = json_array();
        for (size_t i = 0; i < h->n_context && ctx != NULL; i++)
            bad |= json_array_append_new(ctx, cli_json_chunk(&h->context[i])) != 0;
        bad |= cli_jset(o, "parent_context", ctx);
    }
    return finish(o, bad);
}

json_t *cli_json_db_info(const lm_db_info *info)
{
    json_t *o = json_object();
    int bad = 0;

    bad |= cli_jset(o, "initialized", json_boolean(info->initialized));
    bad |= cli_jset(o, "running", json_boolean(info->running));
    bad |= cli_jset(o, "pid", info->pid > 0 ? json_integer(info->pid) : json_null());
    bad |= cli_jset(o, "home", cli_jstr(info->home));
    bad |= cli_jset(o, "socket_dir", cli_jstr_or_null(info->socket_dir));
    bad |= cli_jset(o, "conninfo", cli_jstr_or_null(info->conninfo));
    bad |= cli_jset(o, "server_version", cli_jstr_or_null(info->server_version));
    return finish(o, bad);
}

int cli_json_print(json_t *value)
{
    int rc;

    if (value == NULL)
        return cli_oom();
    rc = json_dumpf(value, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    json_decref(value);
    if (rc != 0)
        return cli_oom();
    fputc('\n', stdout);
    return CLI_EXIT_OK;
}

char *cli_json_text(const json_t *value)
{
    return json_dumps(value, JSON_COMPACT | JSON_PRESERVE_ORDER);
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

void cli_excerpt(lm_buf *out, const char *text, size_t max)
{
    size_t start = out->size, cut;
    int pending_space = 0, truncated = 0;

    if (text == NULL)
        return;
    for (const char *p = text; *p != '\0'; p++) {
        if (is_space(*p)) {
            pending_space = out->size > start;
            continue;
        }
        if (out->size - start >= max) {
            truncated = 1;
            break;
        }
        if (pending_space)
            lm__buf_putc(out, ' ');
        pending_space = 0;
        lm__buf_putc(out, *p);
        if (lm__buf_oom(out))
            return;
    }
    if (!truncated)
        return;
    /* Cut at a character boundary, and at a word boundary when one is near. */
    cut = start + lm__utf8_floor(out->ptr + start, out->size - start, max);
    for (size_t i = cut; i > start && cut - i < 24; i--) {
        if (out->ptr[i - 1] == ' ') {
            cut = i - 1;
            break;
        }
    }
    lm__buf_truncate(out, cut);
    lm__buf_puts(out, "...");
}

const char *cli_short_time(char *buf, const char *iso)
{
    if (iso == NULL)
        return "";
    if (strlen(iso) < 19)
        return iso;
    memcpy(buf, iso, 19);
    buf[19] = '\0';
    if (buf[10] == 'T')
        buf[10] = ' ';
    return buf;
}

/* One leg of a hybrid hit: "text rank 2 (1.379)", or "text rank -" when the leg missed it. */
static void print_leg(const char *leg, long long rank, double score)
{
    if (rank > 0)
        printf("%s rank %lld (%.3f)", leg, rank, score);
    else
        printf("%s rank -", leg);
}

void cli_print_hit_head(size_t n, const char *name, const char *origin, const cli_hit_scores *s)
{
    /* Fused hybrid scores are weighted reciprocal-rank sums near 1/60 or far below: three
       decimals print every hit alike, so they get four significant digits, and each leg's rank
       and score follow. */
    if (s->hybrid)
        printf("%zu. [%.4g] ", n, s->score);
    else
        printf("%zu. [%.3f] ", n, s->score);
    printf("%s (%s)\n", name != NULL ? name : "", origin != NULL ? origin : "");
    if (!s->hybrid)
        return;
    printf("   ");
    print_leg("text", s->text_rank, s->text_score);
    printf(", ");
    print_leg("vector", s->vector_rank, s->vector_score);
    printf("\n");
}
