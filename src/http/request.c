/*
 * http/request.c: reading a request: query parameters (decoded by MHD), the path parameter,
 * headers, and typed members of the JSON body. Every helper that rejects a value replies 422
 * naming the field, so handlers only check for -1 and return.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

const char *srv_query(srv_request *r, const char *name)
{
    const char *v = NULL;
    size_t vlen = 0;

    /* "?chunks" (no "=") is present with no value: report it as "". */
    if (MHD_lookup_connection_value_n(r->conn, MHD_GET_ARGUMENT_KIND, name, strlen(name), &v,
                                      &vlen) != MHD_YES)
        return NULL;
    return v != NULL ? v : "";
}

const char *srv_header(srv_request *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

typedef struct collect {
    srv_request *r;
    const char *name;
    const char **vals;
    size_t n, cap;
    int oom;
} collect;

static enum MHD_Result
collect_cb(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    collect *c = cls;

    (void)kind;
    if (key == NULL || strcmp(key, c->name) != 0)
        return MHD_YES;
    if (c->n == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 8;
        const char **nv = srv_arena_alloc(&c->r->arena, ncap * sizeof(*nv));
        if (nv == NULL) {
            c->oom = 1;
            return MHD_NO;
        }
        if (c->n > 0)
            memcpy(nv, c->vals, c->n * sizeof(*nv));
        c->vals = nv;
        c->cap = ncap;
    }
    c->vals[c->n++] = value != NULL ? value : "";
    return MHD_YES;
}

int srv_query_all(srv_request *r, const char *name, const char ***out, size_t *n)
{
    collect c = {r, name, NULL, 0, 0, 0};

    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, collect_cb, &c);
    if (c.oom)
        return -1;
    *out = c.vals;
    *n = c.n;
    return 0;
}

const char *srv_path_param(srv_request *r)
{
    const char *slash = strrchr(r->url, '/');
    return slash != NULL ? slash + 1 : r->url;
}

/* @p what is "parameter" or "field"; @p problem ends the message. */
static int
invalid(srv_request *r, const char *name, const char *what, const char *problem, const char *detail)
{
    char msg[200];
    snprintf(msg, sizeof(msg), "%s \"%s\" %s", what, name, problem);
    srv_reply_error(r, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid_argument", msg, detail, NULL, name);
    return -1;
}

int srv_query_long(srv_request *r, const char *name, long min, long max, long *out, int *present)
{
    const char *v = srv_query(r, name);
    char *end = NULL, detail[120];
    long x;

    if (present != NULL)
        *present = v != NULL;
    if (v == NULL)
        return 0;
    errno = 0;
    x = strtol(v, &end, 10);
    if (v[0] == '\0' || *end != '\0' || errno != 0 || x < min || x > max) {
        if (min <= INT_MIN && max >= INT_MAX)
            snprintf(detail, sizeof(detail), "The value must be an integer.");
        else
            snprintf(detail, sizeof(detail), "The value must be an integer from %ld to %ld.", min,
                     max);
        return invalid(r, name, "parameter", "has an invalid value", detail);
    }
    *out = x;
    return 0;
}

static int parse_bool(const char *v, int *out)
{
    static const char *const yes[] = {"true", "1", "yes", "on"};
    static const char *const no[] = {"false", "0", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

int srv_query_bool(srv_request *r, const char *name, int *out, int *present)
{
    const char *v = srv_query(r, name);

    if (present != NULL)
        *present = v != NULL;
    if (v == NULL)
        return 0;
    /* "?chunks" alone means true. */
    if (v[0] == '\0') {
        *out = 1;
        return 0;
    }
    if (parse_bool(v, out) < 0)
        return invalid(r, name, "parameter", "has an invalid value",
                       "The value must be true or false.");
    return 0;
}

int srv_query_double(
    srv_request *r, const char *name, double min, double max, double *out, int *present)
{
    const char *v = srv_query(r, name);
    char *end = NULL, detail[120];
    double x;

    if (present != NULL)
        *present = v != NULL;
    if (v == NULL)
        return 0;
    errno = 0;
    x = strtod(v, &end);
    if (v[0] == '\0' || *end != '\0' || errno != 0 || !isfinite(x) || x < min || x > max) {
        snprintf(detail, sizeof(detail), "The value must be a number from %g to %g.", min, max);
        return invalid(r, name, "parameter", "has an invalid value", detail);
    }
    *out = x;
    return 0;
}

/* ---- body ------------------------------------------------------------------------------------ */

static json_t *member(srv_request *r, const char *name)
{
    json_t *v = r->json != NULL ? json_object_get(r->json, name) : NULL;
    /* null means absent: clients often send every field. */
    return json_is_null(v) ? NULL : v;
}

int srv_body_str(srv_request *r, const char *name, const char **out)
{
    json_t *v = member(r, name);

    if (v == NULL)
        return 0;
    if (!json_is_string(v))
        return invalid(r, name, "field", "must be a string", NULL);
    /* PostgreSQL text cannot hold NUL; a "\u0000" inside a short field is a client error. */
    if (strlen(json_string_value(v)) != json_string_length(v))
        return invalid(r, name, "field", "contains a NUL character", NULL);
    *out = json_string_value(v);
    return 0;
}

int srv_body_long(srv_request *r, const char *name, long min, long max, long *out)
{
    json_t *v = member(r, name);
    char detail[120];

    if (v == NULL)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        if (min <= INT_MIN && max >= INT_MAX)
            snprintf(detail, sizeof(detail), "The value must be an integer.");
        else
            snprintf(detail, sizeof(detail), "The value must be an integer from %ld to %ld.", min,
                     max);
        return invalid(r, name, "field", "has an invalid value", detail);
    }
    *out = (long)json_integer_value(v);
    return 0;
}

int srv_body_double(srv_request *r, const char *name, double min, double max, double *out)
{
    json_t *v = member(r, name);
    char detail[120];

    if (v == NULL)
        return 0;
    if (!json_is_number(v) || json_number_value(v) < min || json_number_value(v) > max) {
        snprintf(detail, sizeof(detail), "The value must be a number from %g to %g.", min, max);
        return invalid(r, name, "field", "has an invalid value", detail);
    }
    *out = json_number_value(v);
    return 0;
}

int srv_body_bool(srv_request *r, const char *name, int *out)
{
    json_t *v = member(r, name);

    if (v == NULL)
        return 0;
    if (!json_is_boolean(v))
        return invalid(r, name, "field", "must be true or false", NULL);
    *out = json_is_true(v);
    return 0;
}

int srv_body_object_text(srv_request *r, const char *name, const char **out)
{
    json_t *v = member(r, name);
    char *text;

    if (v == NULL)
        return 0;
    if (!json_is_object(v))
        return invalid(r, name, "field", "must be a JSON object", NULL);
    text = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (text == NULL || srv_arena_defer(&r->arena, free, text) < 0) {
        srv_reply_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", NULL, 0);
        return -1;
    }
    *out = text;
    return 0;
}

int srv_body_only(srv_request *r, const char *const *allowed)
{
    if (r->json == NULL)
        return 0;
    for (void *it = json_object_iter(r->json); it != NULL;
         it = json_object_iter_next(r->json, it)) {
        const char *key = json_object_iter_key(it);
        int ok = 0;
        for (size_t i = 0; allowed[i] != NULL && !ok; i++)
            ok = strcmp(allowed[i], key) == 0;
        if (!ok) {
            char msg[200];
            snprintf(msg, sizeof(msg), "unknown field \"%.100s\"", key);
            srv_reply_error(r, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid_argument", msg,
                            "The request body has a member this endpoint does not accept.",
                            "See docs/openapi.yaml for the fields of each endpoint.", key);
            return -1;
        }
    }
    return 0;
}

int srv_body_alias(srv_request *r, const char *a, const char *b, const char **name_out)
{
    int has_a = member(r, a) != NULL, has_b = member(r, b) != NULL;

    if (has_a && has_b) {
        char msg[200];
        snprintf(msg, sizeof(msg), "fields \"%s\" and \"%s\" are the same; give one", a, b);
        srv_reply_error(r, MHD_HTTP_UNPROCESSABLE_CONTENT, "invalid_argument", msg, NULL, NULL, b);
        return -1;
    }
    *name_out = has_b ? b : a;
    return 0;
}
