/*
 * embed/local_st.c: a strict safetensors reader. The file is memory-mapped read-only; the
 * header (8-byte little-endian length, then a JSON object) is validated before any tensor is
 * used: known dtypes, shapes whose byte size matches the offsets, offsets inside the file and no
 * two tensors overlapping. A file that fails any check is an LM_EPARSE error naming the file.
 */
#define _DEFAULT_SOURCE /* madvise */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "embed/local.h"
#include "error.h"

#define LM__ST_MAX_HEADER (64u * 1024u * 1024u)

static int corrupt(const char *path, const char *what)
{
    lm__error_set(LM_EPARSE, "model weights file \"%s\" is corrupt", path);
    lm__error_detail("%s", what);
    return LM_EPARSE;
}

static int dtype_of(const char *s, size_t *size)
{
    static const struct {
        const char *name;
        int dt;
        size_t size;
    } k[] = {{"F32", LM__ST_F32, 4}, {"F16", LM__ST_F16, 2},  {"BF16", LM__ST_BF16, 2},
             {"F64", LM__ST_OTHER, 8}, {"I64", LM__ST_OTHER, 8}, {"I32", LM__ST_OTHER, 4},
             {"I16", LM__ST_OTHER, 2}, {"I8", LM__ST_OTHER, 1},  {"U8", LM__ST_OTHER, 1},
             {"BOOL", LM__ST_OTHER, 1}, {"U16", LM__ST_OTHER, 2}, {"U32", LM__ST_OTHER, 4},
             {"U64", LM__ST_OTHER, 8}, {"F8_E4M3", LM__ST_OTHER, 1}, {"F8_E5M2", LM__ST_OTHER, 1}};
    for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++)
        if (strcmp(s, k[i].name) == 0) {
            *size = k[i].size;
            return k[i].dt;
        }
    return 0;
}

static int cmp_off(const void *a, const void *b)
{
    const lm__st_tensor *x = a, *y = b;
    return x->data < y->data ? -1 : x->data > y->data;
}

void lm__st_close(lm__st_file *f)
{
    if (f == NULL)
        return;
    for (size_t i = 0; i < f->n; i++)
        lm__free(f->t[i].name);
    lm__free(f->t);
    if (f->map != NULL && f->map != MAP_FAILED)
        munmap(f->map, f->size);
    lm__free(f->path);
    memset(f, 0, sizeof(*f));
}

static int parse(lm__st_file *f, const char *path)
{
    int rc = 0;
    json_t *root = NULL;
    lm__st_tensor *sorted = NULL;
    const char *key;
    json_t *val;
    size_t cap, data_len;
    const unsigned char *data;
    json_error_t jerr;
    const unsigned char *p = f->map;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = (hlen << 8) | p[i];
    if (hlen < 2 || hlen > LM__ST_MAX_HEADER || hlen > f->size - 8) {
        rc = corrupt(path, "The header length is out of range.");
        goto done;
    }
    data = p + 8 + hlen;
    data_len = f->size - 8 - (size_t)hlen;
    root = json_loadb((const char *)p + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL || !json_is_object(root)) {
        rc = corrupt(path, "The header is not a JSON object.");
        goto done;
    }
    cap = json_object_size(root);
    if ((f->t = lm__calloc(cap ? cap : 1, sizeof(*f->t))) == NULL) {
        rc = LM_ENOMEM;
        goto done;
    }
    json_object_foreach(root, key, val)
    {
        if (strcmp(key, "__metadata__") == 0) {
            if (!json_is_object(val)) {
                rc = corrupt(path, "\"__metadata__\" is not an object.");
                goto done;
            }
            continue;
        }
        json_t *dt = json_object_get(val, "dtype"), *shape = json_object_get(val, "shape"),
               *offs = json_object_get(val, "data_offsets");
        size_t esize = 0;
        int dtype = json_is_string(dt) ? dtype_of(json_string_value(dt), &esize) : 0;
        if (!json_is_object(val) || dtype == 0 || !json_is_array(shape) ||
            json_array_size(shape) > 4 || !json_is_array(offs) || json_array_size(offs) != 2) {
            rc = corrupt(path, "A tensor entry lacks a known dtype, a shape or data offsets.");
            lm__error_hint("The entry is \"%s\".", key);
            goto done;
        }
        lm__st_tensor *t = &f->t[f->n];
        uint64_t count = 1;
        t->ndim = (int)json_array_size(shape);
        for (int d = 0; d < t->ndim; d++) {
            json_t *x = json_array_get(shape, (size_t)d);
            if (!json_is_integer(x) || json_integer_value(x) < 0 ||
                json_integer_value(x) > (json_int_t)1 << 40) {
                rc = corrupt(path, "A tensor shape is not a list of sizes.");
                lm__error_hint("The tensor is \"%s\".", key);
                goto done;
            }
            t->shape[d] = (int64_t)json_integer_value(x);
            if (t->shape[d] != 0 && count > ((uint64_t)1 << 40) / (uint64_t)t->shape[d]) {
                rc = corrupt(path, "A tensor is implausibly large.");
                goto done;
            }
            count *= (uint64_t)t->shape[d];
        }
        json_t *b0 = json_array_get(offs, 0), *b1 = json_array_get(offs, 1);
        if (!json_is_integer(b0) || !json_is_integer(b1) || json_integer_value(b0) < 0 ||
            json_integer_value(b1) < json_integer_value(b0) ||
            (uint64_t)json_integer_value(b1) > data_len ||
            (uint64_t)(json_integer_value(b1) - json_integer_value(b0)) != count * esize) {
            rc = corrupt(path, "Tensor data offsets do not match the shape or lie outside the "
                               "file.");
            lm__error_hint("The tensor is \"%s\".", key);
            goto done;
        }
        t->dtype = dtype;
        t->data = data + json_integer_value(b0);
        t->nbytes = (size_t)(json_integer_value(b1) - json_integer_value(b0));
        if ((t->name = lm__strdup(key)) == NULL) {
            rc = LM_ENOMEM;
            goto done;
        }
        f->n++;
    }
    /* No two tensors may share bytes. */
    sorted = lm__malloc((f->n ? f->n : 1) * sizeof(*sorted));
    if (sorted == NULL) {
        rc = LM_ENOMEM;
        goto done;
    }
    memcpy(sorted, f->t, f->n * sizeof(*sorted));
    qsort(sorted, f->n, sizeof(*sorted), cmp_off);
    for (size_t i = 1; i < f->n; i++)
        if (sorted[i - 1].data + sorted[i - 1].nbytes > sorted[i].data) {
            rc = corrupt(path, "Two tensors overlap.");
            goto done;
        }

done:
    lm__free(sorted);
    json_decref(root);
    return rc;
}

int lm__st_open(lm__st_file *f, const char *path)
{
    int fd = -1, rc = 0;
    struct stat sb;

    memset(f, 0, sizeof(*f));
    if ((f->path = lm__strdup(path)) == NULL)
        return LM_ENOMEM;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        int e = errno;
        rc = lm__error_set(e == ENOENT ? LM_ENOTFOUND : LM_EIO,
                           "could not open model weights file \"%s\": %s", path, strerror(e));
        goto out;
    }
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        rc = lm__error_set(LM_EIO, "model weights file \"%s\" is not a regular file", path);
        goto out;
    }
    f->size = (size_t)sb.st_size;
    if (f->size < 8 + 2) {
        rc = corrupt(path, "The file is too short to hold a header.");
        goto out;
    }
    f->map = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (f->map == MAP_FAILED) {
        f->map = NULL;
        rc = lm__error_set(LM_EIO, "could not map model weights file \"%s\": %s", path,
                           strerror(errno));
        goto out;
    }
    rc = parse(f, path);

out:
    if (fd >= 0)
        close(fd);
    if (rc != 0)
        lm__st_close(f);
    return rc;
}

const lm__st_tensor *lm__st_find(const lm__st_file *f, const char *name)
{
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < f->n; i++) {
            const char *n = f->t[i].name;
            if (pass == 1) {
                if (strncmp(n, "bert.", 5) != 0)
                    continue;
                n += 5;
            }
            if (strcmp(n, name) == 0)
                return &f->t[i];
        }
    return NULL;
}

static float half_to_float(uint16_t h)
{
    uint32_t s = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 0x1f, m = h & 0x3ff, bits;
    if (e == 0) {
        if (m == 0) {
            bits = s;
        } else { /* subnormal */
            e = 127 - 15 + 1;
            while ((m & 0x400) == 0) {
                m <<= 1;
                e--;
            }
            bits = s | (e << 23) | ((m & 0x3ff) << 13);
        }
    } else if (e == 31) {
        bits = s | 0x7f800000u | (m << 13);
    } else {
        bits = s | ((e + 127 - 15) << 23) | (m << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

int lm__st_f32(const lm__st_file *f, const char *name, size_t nelem, const float **out,
               float **owned)
{
    const lm__st_tensor *t = lm__st_find(f, name);
    *out = NULL;
    *owned = NULL;
    if (t == NULL) {
        lm__error_set(LM_EPARSE, "model weights file \"%s\" has no tensor \"%s\"", f->path, name);
        lm__error_hint("The local encoder supports BERT-family models (MiniLM, bge, e5, gte).");
        return LM_EPARSE;
    }
    size_t esize = t->dtype == LM__ST_F32 ? 4 : 2;
    if (t->dtype == LM__ST_OTHER || t->nbytes != nelem * esize) {
        lm__error_set(LM_EPARSE, "tensor \"%s\" in model weights file \"%s\" has the wrong type "
                                 "or shape", name, f->path);
        lm__error_detail("Expected %zu floats (F32, F16 or BF16).", nelem);
        return LM_EPARSE;
    }
    if (t->dtype == LM__ST_F32 && ((uintptr_t)t->data & 3u) == 0) {
        *out = (const float *)(const void *)t->data;
        return 0;
    }
    float *c = lm__malloc(nelem * sizeof(float) + 1);
    if (c == NULL)
        return LM_ENOMEM;
    for (size_t i = 0; i < nelem; i++) {
        const unsigned char *b = t->data + i * esize;
        if (t->dtype == LM__ST_F32) {
            memcpy(&c[i], b, 4);
        } else if (t->dtype == LM__ST_F16) {
            c[i] = half_to_float((uint16_t)(b[0] | (b[1] << 8)));
        } else {
            uint32_t bits = (uint32_t)(b[0] | (b[1] << 8)) << 16;
            memcpy(&c[i], &bits, 4);
        }
    }
    *out = c;
    *owned = c;
    return 0;
}

void lm__st_release(const lm__st_file *f, const lm__st_tensor *t)
{
    long pg = sysconf(_SC_PAGESIZE);
    if (t == NULL || pg <= 0)
        return;
    uintptr_t lo = (uintptr_t)t->data, hi = lo + t->nbytes, base = (uintptr_t)f->map;
    lo = (lo + (uintptr_t)pg - 1) & ~((uintptr_t)pg - 1);
    hi &= ~((uintptr_t)pg - 1);
    if (hi > lo && lo >= base)
        madvise((void *)lo, hi - lo, MADV_DONTNEED);
}
