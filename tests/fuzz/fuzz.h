/*
 * tests/fuzz/fuzz.h: what the fuzz targets share. A target's input is one byte string; targets
 * that need several strings split it at the record separator byte 0x1e into NUL-terminated
 * fields (each a heap copy, so that ASan sees reads past a field's end).
 */
#ifndef LM_TESTS_FUZZ_H
#define LM_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_SEP 0x1e
#define FUZZ_MAX_FIELDS 16

typedef struct fuzz_fields {
    char *f[FUZZ_MAX_FIELDS]; /* NULL past n */
    size_t len[FUZZ_MAX_FIELDS];
    int n;
} fuzz_fields;

/* A NUL-terminated heap copy of @p n bytes (NULL on failure). */
static inline char *fuzz_strndup(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s != NULL) {
        if (n > 0)
            memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

/* Split @p data at FUZZ_SEP into at most FUZZ_MAX_FIELDS fields (the last takes the rest). */
static inline void fuzz_split(fuzz_fields *out, const uint8_t *data, size_t size)
{
    size_t start = 0;

    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i <= size && out->n < FUZZ_MAX_FIELDS; i++) {
        if (i == size || (data[i] == FUZZ_SEP && out->n < FUZZ_MAX_FIELDS - 1)) {
            out->f[out->n] = fuzz_strndup(data + start, i - start);
            out->len[out->n] = i - start;
            if (out->f[out->n] == NULL)
                abort();
            out->n++;
            start = i + 1;
        }
    }
}

static inline void fuzz_fields_free(fuzz_fields *ff)
{
    for (int i = 0; i < ff->n; i++)
        free(ff->f[i]);
    ff->n = 0;
}

#endif
