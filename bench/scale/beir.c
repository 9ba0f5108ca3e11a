/*
 * bench/scale/beir.c: see beir.h.
 */
#include "beir.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *beir_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "bench: cannot open %s\n", path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b == NULL || fread(b, 1, (size_t)n, f) != (size_t)n)
        exit(2);
    b[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return b;
}

void beir_load(lm_memory *mem, const char *owner, const char *dir)
{
    enum { B = 200 };
    char path[4096];
    lm_stats st;
    if (lm_stats_get(&st, mem, owner) == 0 && st.document_count > 0) {
        printf("corpus already loaded (%lld documents)\n", (long long)st.document_count);
        lm_memory_wait_index_builds(mem);
        return;
    }
    snprintf(path, sizeof(path), "%s/corpus.jsonl", dir);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "bench: cannot open %s\n", path);
        exit(2);
    }
    lm_doc_input in[B];
    lm_buf content[B], name[B];
    char *ids[B];
    char *line = NULL;
    size_t cap = 0, n = 0, total = 0;
    for (int i = 0; i < B; i++) {
        lm_buf_init(&content[i]);
        lm_buf_init(&name[i]);
    }
    for (;;) {
        int eof = getline(&line, &cap, f) < 0;
        if (!eof) {
            json_t *o = json_loads(line, 0, NULL);
            const char *id = json_string_value(json_object_get(o, "_id"));
            const char *title = json_string_value(json_object_get(o, "title"));
            const char *text = json_string_value(json_object_get(o, "text"));
            if (id != NULL) {
                lm_buf_dispose(&content[n]);
                lm_buf_dispose(&name[n]);
                lm_buf_init(&content[n]);
                lm_buf_init(&name[n]);
                lm_eval_doc(&content[n], &name[n], id, title ? title : "", text ? text : "");
                ids[n] = strdup(id);
                in[n] = (lm_doc_input){ids[n], name[n].ptr, LM_DOC_TEXT, content[n].ptr,
                                       content[n].size, NULL};
                n++;
            }
            json_decref(o);
        }
        if (n == B || (eof && n > 0)) {
            size_t bad = 0;
            if (lm_doc_add_batch(NULL, &bad, mem, owner, in, n) < 0) {
                fprintf(stderr, "lm_doc_add_batch (document %zu): %s\n", bad,
                        lm_error_last()->message);
                exit(1);
            }
            total += n;
            for (size_t i = 0; i < n; i++)
                free(ids[i]);
            n = 0;
        }
        if (eof)
            break;
    }
    free(line);
    fclose(f);
    for (int i = 0; i < B; i++) {
        lm_buf_dispose(&content[i]);
        lm_buf_dispose(&name[i]);
    }
    printf("loaded %zu documents\n", total);
    lm_memory_wait_index_builds(mem);
}
