/*
 * core/validate.c: argument validation for every public entry point (no I/O). The rules are the
 * tenant and input rules of the product: see docs/conventions.md and include/llmemory/doc.h.
 */
#include "validate.h"

#include <jansson.h>
#include <stdint.h>
#include <string.h>

#include "error.h"
#include "hash.h"
#include "llmemory/common.h"
#include "utf8.h"

static int is_alnum(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

int lm__validate_owner_id(const char *s)
{
    if (s == NULL || s[0] == '\0')
        return lm__error_set_field(LM_EINVAL, "owner_id", "owner_id must not be empty");
    size_t n = strlen(s);
    if (n > LM_MAX_OWNER_ID_BYTES)
        return lm__error_set_field(LM_EINVAL, "owner_id",
                                   "owner_id is too long (%zu bytes, the maximum is %d)", n,
                                   LM_MAX_OWNER_ID_BYTES);
    size_t seg_start = 0;
    for (size_t i = 0; i <= n; i++) {
        char c = s[i];
        if (c == '/' || c == '\0') {
            size_t len = i - seg_start;
            const char *seg = s + seg_start;
            if (len == 0 || (len == 1 && seg[0] == '.') ||
                (len == 2 && seg[0] == '.' && seg[1] == '.')) {
                lm__error_set_field(LM_EINVAL, "owner_id", "owner_id has an invalid segment");
                lm__error_detail("Segments separated by \"/\" must be non-empty and must not be "
                                 "\".\" or \"..\".");
                return LM_EINVAL;
            }
            seg_start = i + 1;
            continue;
        }
        if (!is_alnum(c) && c != '_' && c != '-' && c != '.') {
            lm__error_set_field(LM_EINVAL, "owner_id", "owner_id contains an invalid character");
            lm__error_detail("Only letters, digits, \"_\", \"-\", \".\" and \"/\" between "
                             "segments are allowed.");
            return LM_EINVAL;
        }
    }
    return 0;
}

int lm__validate_id_at_origin(const char *s, const char *field)
{
    if (s == NULL || s[0] == '\0')
        return lm__error_set_field(LM_EINVAL, field, "%s must not be empty", field);
    size_t n = strlen(s);
    if (n > LM_MAX_ID_AT_ORIGIN_BYTES)
        return lm__error_set_field(LM_EINVAL, field,
                                   "%s is too long (%zu bytes, the maximum is %d)", field, n,
                                   LM_MAX_ID_AT_ORIGIN_BYTES);
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!is_alnum(c) && !strchr("_-.@|:/", c)) {
            lm__error_set_field(LM_EINVAL, field, "%s contains an invalid character", field);
            lm__error_detail("Only letters, digits and \"_-.@|:/\" are allowed.");
            return LM_EINVAL;
        }
    }
    return 0;
}

int lm__validate_doc_name(const char *s)
{
    if (s == NULL || s[0] == '\0')
        return lm__error_set_field(LM_EINVAL, "document_name", "document_name must not be empty");
    size_t n = strlen(s);
    if (n > LM_MAX_DOC_NAME_BYTES)
        return lm__error_set_field(LM_EINVAL, "document_name",
                                   "document_name is too long (%zu bytes, the maximum is %d)", n,
                                   LM_MAX_DOC_NAME_BYTES);
    if (!lm__utf8_valid(s, n))
        return lm__error_set_field(LM_EINVAL, "document_name",
                                   "document_name is not valid UTF-8");
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 && s[i] != '\t')
            return lm__error_set_field(LM_EINVAL, "document_name",
                                       "document_name contains a control character");
    return 0;
}

/* 1 when @p j holds a number beyond the 64-bit integers (1e19): jsonb stores it, but then
   prints it as an integer that no reader with 64-bit integers can load back. */
static int has_huge_number(const json_t *j)
{
    if (json_is_real(j))
        return !(json_real_value(j) > -9.2233720368547758e18 &&
                 json_real_value(j) < 9.2233720368547758e18);
    if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)(uintptr_t)j, k, v)
            if (has_huge_number(v))
                return 1;
    } else if (json_is_array(j)) {
        for (size_t i = 0; i < json_array_size(j); i++)
            if (has_huge_number(json_array_get(j, i)))
                return 1;
    }
    return 0;
}

static int json_depth(const json_t *j)
{
    int best = 0;
    if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)(uintptr_t)j, k, v)
        {
            int d = json_depth(v);
            if (d > best)
                best = d;
            if (best > LM_MAX_METADATA_DEPTH)
                break;
        }
        return best + 1;
    }
    if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v)
        {
            int d = json_depth(v);
            if (d > best)
                best = d;
            if (best > LM_MAX_METADATA_DEPTH)
                break;
        }
        return best + 1;
    }
    return 0;
}

int lm__validate_metadata(const char *s, const char *field, int allow_null)
{
    if (s == NULL) {
        if (allow_null)
            return 0;
        return lm__error_set_field(LM_EINVAL, field, "%s must not be empty", field);
    }
    size_t n = strlen(s);
    if (n > LM_MAX_METADATA_BYTES)
        return lm__error_set_field(LM_EINVAL, field,
                                   "%s is too large (%zu bytes, the maximum is %d)", field, n,
                                   LM_MAX_METADATA_BYTES);
    json_error_t err;
    /* Reject NUL escapes (\u0000): PostgreSQL's jsonb cannot store them. */
    json_t *j = json_loadb(s, n, JSON_REJECT_DUPLICATES, &err);
    if (j == NULL) {
        lm__error_set_field(LM_EINVAL, field, "%s is not valid JSON", field);
        lm__error_detail("%s at line %d, column %d.", err.text, err.line, err.column);
        return LM_EINVAL;
    }
    int rc = 0;
    if (!json_is_object(j)) {
        rc = lm__error_set_field(LM_EINVAL, field, "%s must be a JSON object", field);
    } else if (json_depth(j) > LM_MAX_METADATA_DEPTH) {
        rc = lm__error_set_field(LM_EINVAL, field, "%s is nested too deeply (the maximum is %d)",
                                 field, LM_MAX_METADATA_DEPTH);
    } else if (strstr(s, "\\u0000") != NULL) {
        rc = lm__error_set_field(LM_EINVAL, field, "%s contains a NUL character", field);
    } else if (has_huge_number(j)) {
        lm__error_set_field(LM_EINVAL, field, "%s has a number out of range", field);
        lm__error_detail("Numbers in metadata must lie within the 64-bit integers "
                         "(about +-9.2e18); store larger values as strings.");
        rc = LM_EINVAL;
    }
    json_decref(j);
    return rc;
}

int lm__validate_query(const char *q)
{
    if (q == NULL || q[0] == '\0')
        return lm__error_set_field(LM_EINVAL, "query", "query must not be empty");
    size_t n = strlen(q);
    if (n > LM_MAX_QUERY_BYTES)
        return lm__error_set_field(LM_EINVAL, "query",
                                   "query is too long (%zu bytes, the maximum is %d)", n,
                                   LM_MAX_QUERY_BYTES);
    if (!lm__utf8_valid(q, n))
        return lm__error_set_field(LM_EINVAL, "query", "query is not valid UTF-8");
    size_t i = 0;
    while (i < n && strchr(" \t\r\n", q[i]))
        i++;
    if (i == n)
        return lm__error_set_field(LM_EINVAL, "query", "query must not be blank");
    return 0;
}

static int digits(const char *s, int n)
{
    for (int i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

static int num(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

int lm__validate_timestamp(const char *ts, const char *field)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const char *s = ts;
    int y, mo, d, minutes = 0, offset = 0;
    if (s == NULL || strlen(s) < 10 || strlen(s) > 40)
        goto bad;
    if (!digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' || !digits(s + 8, 2))
        goto bad;
    y = num(s, 4);
    mo = num(s + 5, 2);
    d = num(s + 8, 2);
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1])
        goto bad;
    if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        goto bad;
    s += 10;
    if (*s == 'T' || *s == ' ') {
        s++;
        if (!digits(s, 2) || s[2] != ':' || !digits(s + 3, 2) || num(s, 2) > 23 || num(s + 3, 2) > 59)
            goto bad;
        minutes = num(s, 2) * 60 + num(s + 3, 2);
        s += 5;
        if (*s == ':') {
            if (!digits(s + 1, 2) || num(s + 1, 2) > 60)
                goto bad;
            s += 3;
            if (*s == '.') {
                s++;
                if (!digits(s, 1))
                    goto bad;
                while (*s >= '0' && *s <= '9')
                    s++;
            }
        }
        if (*s == 'Z') {
            s++;
        } else if (*s == '+' || *s == '-') {
            int sign = *s == '-' ? -1 : 1;
            s++;
            if (!digits(s, 2) || num(s, 2) > 14)
                goto bad;
            offset = num(s, 2) * 60;
            s += 2;
            if (*s == ':')
                s++;
            if (*s) {
                if (!digits(s, 2) || num(s, 2) > 59)
                    goto bad;
                offset += num(s, 2);
                s += 2;
            }
            offset *= sign;
        }
    }
    if (*s != '\0')
        goto bad;
    /* Stored as UTC (sessions run in UTC): an instant before year 1 would be a BC date, which
       comes back as ISO 8601 with no sign and the wrong year; one after 9999 has five digits. */
    if ((y == 1 && mo == 1 && d == 1 && minutes - offset < 0) ||
        (y == 9999 && mo == 12 && d == 31 && minutes - offset >= 24 * 60)) {
        lm__error_set_field(LM_EINVAL, field, "%s \"%.60s\" is out of range", field, ts);
        lm__error_detail("In UTC it falls %s.",
                         y == 1 ? "before 0001-01-01 (a BC date)" : "after 9999-12-31");
        lm__error_hint("Dates from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z are accepted.");
        return LM_EINVAL;
    }
    return 0;
bad:
    lm__error_set_field(LM_EINVAL, field, "invalid %s \"%.60s\"", field, ts ? ts : "");
    lm__error_hint("Use ISO 8601, for example 2024-05-01 or 2024-05-01T10:00:00Z.");
    return LM_EINVAL;
}

int lm__validate_text_config(const char *name)
{
    size_t n = name ? strlen(name) : 0, seg = 0;
    int ok = n > 0 && n <= 127;
    for (size_t i = 0; ok && i < n; i++) {
        char c = name[i];
        if (c == '.') {
            ok = seg > 0;
            seg = 0;
            continue;
        }
        ok = (c >= 'a' && c <= 'z') || c == '_' || (seg > 0 && c >= '0' && c <= '9');
        if (++seg > 63)
            ok = 0;
    }
    if (!ok || seg == 0)
        return lm__error_set_field(LM_EINVAL, "text_config",
                                   "invalid text search configuration name \"%.80s\"",
                                   name ? name : "");
    return 0;
}

int lm__validate_uuid(const char *id, const char *field)
{
    if (!lm__uuid_valid(id))
        return lm__error_set_field(LM_EINVAL, field, "invalid %s \"%.60s\"", field, id ? id : "");
    return 0;
}
