/*
 * embed/local_tok.c: the BERT tokenizer of the local encoder, following the rules of the
 * reference implementation (BertNormalizer, BertPreTokenizer and WordPiece):
 *   1. clean: NUL, U+FFFD and "other" characters (Cc, Cf, Co, Cs, except tab, CR, LF; the
 *      reference's Unicode 8.0 tables, so unassigned code points stay) removed,
 *      white space (Zs, tab, CR, LF, U+2028, U+2029) turned into a space; invalid UTF-8 is
 *      dropped like U+FFFD;
 *   2. CJK ideographs surrounded by spaces (the reference's ranges, see is_cjk());
 *   3. when stripping accents (default: when lower-casing): canonical decomposition (NFD),
 *      then non-spacing marks (Mn) removed; then lower-casing;
 *   4. split on white space, and around each punctuation character (ASCII punctuation and P*
 *      of Unicode 8.0, like the marks of step 3);
 *   5. each word: [UNK] when longer than 100 characters, else greedy longest-match word pieces
 *      ("##" for continuations), [UNK] for the whole word when a piece cannot be matched.
 * Special tokens written literally ("[SEP]") are those tokens, as in the reference.
 * The Unicode data comes from the generated local_unicode.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "embed/local.h"
#include "error.h"

/* ---- Unicode --------------------------------------------------------------------------------- */

static int uni_class(uint32_t cp)
{
    size_t lo = 0, hi = lm__uni_classes_n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < lm__uni_classes[mid].lo)
            hi = mid;
        else if (cp > lm__uni_classes[mid].hi)
            lo = mid + 1;
        else
            return lm__uni_classes[mid].cls;
    }
    return 0;
}

static const lm__uni_map *uni_strip(uint32_t cp)
{
    size_t lo = 0, hi = lm__uni_strip_n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < lm__uni_strip[mid].cp)
            hi = mid;
        else if (cp > lm__uni_strip[mid].cp)
            lo = mid + 1;
        else
            return &lm__uni_strip[mid];
    }
    return NULL;
}

static uint32_t uni_lower(uint32_t cp)
{
    if (cp < 0x80)
        return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
    size_t lo = 0, hi = lm__uni_lower_n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < lm__uni_lower[mid].cp)
            hi = mid;
        else if (cp > lm__uni_lower[mid].cp)
            lo = mid + 1;
        else
            return lm__uni_lower[mid].to;
    }
    return cp;
}

/* CJK ideographs as the reference tokenizer has them (its range for Extension E starts at
 * U+2B920, not U+2B820; followed here so that the word pieces agree). */
static int is_cjk(uint32_t c)
{
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

static int is_space(uint32_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == 0x2028 || c == 0x2029 ||
           (uni_class(c) & LM__UNI_SPACE);
}

static int is_punct(uint32_t c)
{
    if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
        (c >= 123 && c <= 126))
        return 1;
    return c >= 0x80 && (uni_class(c) & LM__UNI_PUNCT);
}

/* Strict UTF-8 decoding of one character at s[*i]; returns the code point or -1 (and skips one
 * byte) on an invalid sequence. */
static long utf8_next(const unsigned char *s, size_t len, size_t *i)
{
    unsigned char c = s[*i];
    if (c < 0x80) {
        (*i)++;
        return c;
    }
    int n;
    uint32_t cp, min;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 1;
        cp = c & 0x1F;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 2;
        cp = c & 0x0F;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 3;
        cp = c & 0x07;
        min = 0x10000;
    } else {
        (*i)++;
        return -1;
    }
    for (int k = 1; k <= n; k++) {
        if (*i + (size_t)k >= len || (s[*i + (size_t)k] & 0xC0) != 0x80) {
            (*i)++;
            return -1;
        }
        cp = (cp << 6) | (s[*i + (size_t)k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        (*i)++;
        return -1;
    }
    *i += (size_t)n + 1;
    return (long)cp;
}

static size_t utf8_put(char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* ---- vocabulary ------------------------------------------------------------------------------ */

static uint32_t fnv1a(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

int32_t lm__tok_id(const lm__tok *t, const char *s, size_t len)
{
    uint32_t h = fnv1a(s, len);
    for (size_t i = h & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        const lm__vocab_ent *e = &t->slots[i];
        if (e->id < 0)
            return -1;
        if (e->hash == h && e->len == len && memcmp(t->strings + e->off, s, len) == 0)
            return e->id;
    }
}

/* Insert token @p s (already in t->strings at @p off); a duplicate takes the later id, as the
 * reference tokenizer's vocabulary map does. */
static void vocab_insert(lm__tok *t, uint32_t off, uint32_t len, int32_t id)
{
    const char *s = t->strings + off;
    uint32_t h = fnv1a(s, len);
    for (size_t i = h & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        lm__vocab_ent *e = &t->slots[i];
        if (e->id < 0) {
            e->hash = h;
            e->id = id;
            e->off = off;
            e->len = len;
            return;
        }
        if (e->hash == h && e->len == len && memcmp(t->strings + e->off, s, len) == 0) {
            e->id = id;
            return;
        }
    }
}

static int vocab_alloc(lm__tok *t, size_t n)
{
    t->cap = 16;
    while (t->cap < n * 2)
        t->cap <<= 1;
    if ((t->slots = lm__malloc(t->cap * sizeof(*t->slots))) == NULL)
        return LM_ENOMEM;
    for (size_t i = 0; i < t->cap; i++)
        t->slots[i].id = -1;
    return 0;
}

static int special_ids(lm__tok *t, const char *path)
{
    t->unk = lm__tok_id(t, "[UNK]", 5);
    t->cls = lm__tok_id(t, "[CLS]", 5);
    t->sep = lm__tok_id(t, "[SEP]", 5);
    t->pad = lm__tok_id(t, "[PAD]", 5);
    if (t->unk < 0 || t->cls < 0 || t->sep < 0) {
        lm__error_set(LM_EPARSE, "vocabulary \"%s\" lacks [UNK], [CLS] or [SEP]", path);
        return LM_EPARSE;
    }
    t->max_word = 100;
    return 0;
}

static int read_file(const char *path, char **out, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    *out = NULL;
    if (fp == NULL) {
        int e = errno;
        return lm__error_set(e == ENOENT ? LM_ENOTFOUND : LM_EIO, "could not open \"%s\": %s",
                             path, strerror(e));
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = lm__malloc(cap);
    while (buf != NULL) {
        if (n + 1 >= cap) {
            char *nb = cap > (256u << 20) ? NULL : lm__realloc(buf, cap * 2);
            if (nb == NULL) {
                lm__free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, fp);
        n += r;
        if (r == 0)
            break;
    }
    int err = ferror(fp);
    fclose(fp);
    if (buf == NULL)
        return LM_ENOMEM;
    if (err) {
        lm__free(buf);
        return lm__error_set(LM_EIO, "could not read \"%s\"", path);
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

int lm__tok_load_vocab_txt(lm__tok *t, const char *path)
{
    char *buf;
    size_t len = 0;
    int rc = read_file(path, &buf, &len);
    if (rc < 0)
        return rc;
    size_t lines = 0;
    for (size_t i = 0; i < len; i++)
        if (buf[i] == '\n')
            lines++;
    if (len > 0 && buf[len - 1] != '\n')
        lines++;
    if (lines == 0 || lines > 10000000) {
        lm__free(buf);
        lm__error_set(LM_EPARSE, "vocabulary \"%s\" is empty", path);
        return LM_EPARSE;
    }
    t->strings = buf;
    t->strings_len = len;
    if ((rc = vocab_alloc(t, lines)) < 0)
        return rc;
    int32_t id = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || buf[i] == '\n') {
            if (i == len && start == len)
                break;
            size_t end = i;
            if (end > start && buf[end - 1] == '\r')
                end--;
            buf[end] = '\0';
            vocab_insert(t, (uint32_t)start, (uint32_t)(end - start), id++);
            start = i + 1;
        }
    }
    t->n_vocab = id;
    return special_ids(t, path);
}

int lm__tok_load_tokenizer_json(lm__tok *t, const char *path)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        lm__error_set(LM_EPARSE, "tokenizer file \"%s\" is not valid JSON", path);
        lm__error_detail("%s (line %d).", jerr.text, jerr.line);
        return LM_EPARSE;
    }
    int rc = 0;
    json_t *model = json_object_get(root, "model"), *vocab = json_object_get(model, "vocab");
    const char *type = json_string_value(json_object_get(model, "type"));
    size_t total = 0, n = json_object_size(vocab), off = 0;
    const char *key, *nt;
    json_t *val, *norm, *mw;
    if (type == NULL || strcmp(type, "WordPiece") != 0 || !json_is_object(vocab)) {
        rc = lm__error_set(LM_EPARSE, "tokenizer file \"%s\" does not describe a WordPiece model",
                           path);
        goto out;
    }
    json_object_foreach(vocab, key, val) total += strlen(key) + 1;
    if ((t->strings = lm__malloc(total + 1)) == NULL || (rc = vocab_alloc(t, n)) < 0) {
        rc = LM_ENOMEM;
        goto out;
    }
    json_object_foreach(vocab, key, val)
    {
        if (!json_is_integer(val) || json_integer_value(val) < 0 ||
            json_integer_value(val) > 10000000) {
            rc = lm__error_set(LM_EPARSE, "tokenizer file \"%s\" has a bad token id", path);
            goto out;
        }
        size_t l = strlen(key);
        memcpy(t->strings + off, key, l + 1);
        vocab_insert(t, (uint32_t)off, (uint32_t)l, (int32_t)json_integer_value(val));
        if ((int32_t)json_integer_value(val) >= t->n_vocab)
            t->n_vocab = (int32_t)json_integer_value(val) + 1;
        off += l + 1;
    }
    t->strings_len = off;
    norm = json_object_get(root, "normalizer");
    nt = json_string_value(json_object_get(norm, "type"));
    if (nt != NULL && strcmp(nt, "BertNormalizer") == 0) {
        json_t *lc = json_object_get(norm, "lowercase"), *sa = json_object_get(norm, "strip_accents"),
               *cc = json_object_get(norm, "handle_chinese_chars");
        t->lower = json_is_boolean(lc) ? json_is_true(lc) : 1;
        t->strip = json_is_boolean(sa) ? json_is_true(sa) : t->lower;
        t->chinese = json_is_boolean(cc) ? json_is_true(cc) : 1;
    }
    rc = special_ids(t, path);
    mw = json_object_get(model, "max_input_chars_per_word");
    if (rc == 0 && json_is_integer(mw) && json_integer_value(mw) > 0 &&
        json_integer_value(mw) < 100000)
        t->max_word = (int)json_integer_value(mw);
out:
    json_decref(root);
    return rc;
}

void lm__tok_free(lm__tok *t)
{
    if (t == NULL)
        return;
    lm__free(t->strings);
    lm__free(t->slots);
    memset(t, 0, sizeof(*t));
}

/* ---- encoding -------------------------------------------------------------------------------- */

typedef struct cpbuf {
    uint32_t *v;
    size_t n, cap;
} cpbuf;

static int cp_push(cpbuf *b, uint32_t c)
{
    if (b->n == b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 256;
        uint32_t *nv = lm__realloc(b->v, nc * sizeof(*nv));
        if (nv == NULL)
            return LM_ENOMEM;
        b->v = nv;
        b->cap = nc;
    }
    b->v[b->n++] = c;
    return 0;
}

static int id_push(int32_t **ids, size_t *n, size_t *cap, int32_t id)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        int32_t *nv = lm__realloc(*ids, nc * sizeof(*nv));
        if (nv == NULL)
            return LM_ENOMEM;
        *ids = nv;
        *cap = nc;
    }
    (*ids)[(*n)++] = id;
    return 0;
}

/* Normalised character @p c appended to @p b (lower-cased when asked). */
static int put_norm(const lm__tok *t, cpbuf *b, uint32_t c)
{
    if (t->lower) {
        if (c == 0x130) { /* İ: "i" + combining dot above */
            return cp_push(b, 'i') < 0 || cp_push(b, 0x307) < 0 ? LM_ENOMEM : 0;
        }
        c = uni_lower(c);
    }
    return cp_push(b, c);
}

static int normalise(const lm__tok *t, const char *text, size_t len, cpbuf *b)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < len) {
        long r = utf8_next(s, len, &i);
        if (r < 0)
            continue;
        uint32_t c = (uint32_t)r;
        if (c == 0 || c == 0xFFFD)
            continue;
        int cls = c < 0x80 ? 0 : uni_class(c);
        if (c < 0x20 || c == 0x7F || (cls & LM__UNI_CONTROL)) {
            if (c != '\t' && c != '\n' && c != '\r')
                continue;
        }
        if (is_space(c)) {
            if (cp_push(b, ' ') < 0)
                return LM_ENOMEM;
            continue;
        }
        if (t->chinese && is_cjk(c)) {
            /* spaced first; compatibility ideographs still decompose when stripping */
            const lm__uni_map *m = t->strip ? uni_strip(c) : NULL;
            if (cp_push(b, ' ') < 0)
                return LM_ENOMEM;
            if (m != NULL) {
                for (uint32_t k = 0; k < m->n; k++)
                    if (put_norm(t, b, lm__uni_strip_pool[m->off + k]) < 0)
                        return LM_ENOMEM;
            } else if (put_norm(t, b, c) < 0) {
                return LM_ENOMEM;
            }
            if (cp_push(b, ' ') < 0)
                return LM_ENOMEM;
            continue;
        }
        if (t->strip && c >= 0x80) {
            if (cls & LM__UNI_MARK)
                continue;
            if (c >= 0xAC00 && c <= 0xD7A3) { /* Hangul syllable: L V (T) */
                uint32_t sidx = c - 0xAC00;
                if (put_norm(t, b, 0x1100 + sidx / 588) < 0 ||
                    put_norm(t, b, 0x1161 + (sidx % 588) / 28) < 0 ||
                    (sidx % 28 && put_norm(t, b, 0x11A7 + sidx % 28) < 0))
                    return LM_ENOMEM;
                continue;
            }
            const lm__uni_map *m = uni_strip(c);
            if (m != NULL) {
                for (uint32_t k = 0; k < m->n; k++)
                    if (put_norm(t, b, lm__uni_strip_pool[m->off + k]) < 0)
                        return LM_ENOMEM;
                continue;
            }
        }
        if (put_norm(t, b, c) < 0)
            return LM_ENOMEM;
    }
    return 0;
}

/* Word pieces of the word @p w [n characters]. */
static int wordpiece(const lm__tok *t, const uint32_t *w, size_t n, int32_t **ids, size_t *nids,
                     size_t *cap)
{
    if (n > (size_t)t->max_word)
        return id_push(ids, nids, cap, t->unk);
    /* UTF-8 of the word with the byte offset of each character, "##" in front. */
    char stackbuf[2 + 4 * 100 + 4];
    size_t offs[101 + 1];
    char *buf = stackbuf;
    size_t *off = offs;
    char *hbuf = NULL;
    size_t *hoff = NULL;
    if (n > 100) {
        hbuf = lm__malloc(2 + 4 * n + 4);
        hoff = lm__malloc((n + 1) * sizeof(*hoff));
        if (hbuf == NULL || hoff == NULL) {
            lm__free(hbuf);
            lm__free(hoff);
            return LM_ENOMEM;
        }
        buf = hbuf;
        off = hoff;
    }
    buf[0] = '#';
    buf[1] = '#';
    size_t pos = 2;
    for (size_t i = 0; i < n; i++) {
        off[i] = pos;
        pos += utf8_put(buf + pos, w[i]);
    }
    off[n] = pos;
    size_t first = *nids, start = 0;
    int rc = 0, bad = 0;
    while (start < n) {
        int32_t found = -1;
        size_t end = n;
        if (start > 0) { /* "##" in front of the continuation */
            buf[off[start] - 2] = '#';
            buf[off[start] - 1] = '#';
        }
        for (; end > start; end--) {
            const char *p = start ? buf + off[start] - 2 : buf + off[start];
            size_t l = off[end] - off[start] + (start ? 2 : 0);
            if ((found = lm__tok_id(t, p, l)) >= 0)
                break;
        }
        if (found < 0) {
            bad = 1;
            break;
        }
        if ((rc = id_push(ids, nids, cap, found)) < 0)
            break;
        start = end;
    }
    if (rc == 0 && bad) {
        *nids = first;
        rc = id_push(ids, nids, cap, t->unk);
    }
    lm__free(hbuf);
    lm__free(hoff);
    return rc;
}

static int encode_span(const lm__tok *t, const char *text, size_t len, int32_t **ids, size_t *n,
                       size_t *cap);

/* Length of the special token ([PAD] [UNK] [CLS] [SEP] [MASK]) at @p s, 0 if none. */
static size_t special_at(const lm__tok *t, const char *s, size_t len, int32_t *id)
{
    static const char *const sp[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    for (size_t i = 0; i < sizeof(sp) / sizeof(sp[0]); i++) {
        size_t l = strlen(sp[i]);
        if (l <= len && memcmp(s, sp[i], l) == 0 && (*id = lm__tok_id(t, sp[i], l)) >= 0)
            return l;
    }
    return 0;
}

/* As the reference tokenizer does, the special tokens written literally in a text are those
 * tokens (matched before any normalisation); the text between them is tokenised as usual. */
int lm__tok_encode(const lm__tok *t, const char *text, size_t len, int32_t **ids, size_t *n,
                   size_t *cap)
{
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        int32_t id;
        size_t l;
        if (text[i] != '[' || (l = special_at(t, text + i, len - i, &id)) == 0)
            continue;
        int rc = encode_span(t, text + start, i - start, ids, n, cap);
        if (rc < 0 || (rc = id_push(ids, n, cap, id)) < 0)
            return rc;
        i += l - 1;
        start = i + 1;
    }
    return encode_span(t, text + start, len - start, ids, n, cap);
}

static int encode_span(const lm__tok *t, const char *text, size_t len, int32_t **ids, size_t *n,
                       size_t *cap)
{
    cpbuf b = {0};
    int rc = normalise(t, text, len, &b);
    size_t i = 0;
    while (rc == 0 && i < b.n) {
        uint32_t c = b.v[i];
        if (is_space(c)) {
            i++;
            continue;
        }
        if (is_punct(c)) {
            rc = wordpiece(t, &b.v[i], 1, ids, n, cap);
            i++;
            continue;
        }
        size_t j = i;
        while (j < b.n && !is_space(b.v[j]) && !is_punct(b.v[j]))
            j++;
        rc = wordpiece(t, &b.v[i], j - i, ids, n, cap);
        i = j;
    }
    lm__free(b.v);
    return rc;
}
