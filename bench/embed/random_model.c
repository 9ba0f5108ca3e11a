/*
 * bench/embed/random_model.c: writes a model directory of the all-MiniLM-L6-v2 shape (6 layers,
 * hidden 384, 12 heads, FFN 1536, 30522-token vocabulary, mean pooling, Normalize) with random
 * weights, so that the local encoder's speed and memory can be measured without the real model.
 * Usage: random_model DIR
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define H     384
#define I     1536
#define L     6
#define V     30522
#define P     512

static uint64_t rng = 0x2545f4914f6cdd1dULL;
static float rnd(float scale)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return scale * ((float)(rng >> 40) / (float)(1 << 24) * 2.0f - 1.0f);
}

typedef struct tensor {
    char name[96];
    long rows, cols; /* cols 0: vector */
    float scale, base;
} tensor;

static tensor T[16 + L * 16];
static int nt;

static void add(const char *name, long rows, long cols, float scale, float base)
{
    tensor *t = &T[nt++];
    snprintf(t->name, sizeof(t->name), "%s", name);
    t->rows = rows;
    t->cols = cols;
    t->scale = scale;
    t->base = base;
}

static FILE *open_in(const char *dir, const char *name)
{
    char p[1024];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (f == NULL) {
        perror(p);
        exit(1);
    }
    return f;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: random_model DIR\n");
        return 2;
    }
    const char *dir = argv[1];
    char p[1024];
    mkdir(dir, 0755);
    snprintf(p, sizeof(p), "%s/1_Pooling", dir);
    mkdir(p, 0755);
    add("embeddings.word_embeddings.weight", V, H, 0.1f, 0);
    add("embeddings.position_embeddings.weight", P, H, 0.1f, 0);
    add("embeddings.token_type_embeddings.weight", 2, H, 0.1f, 0);
    add("embeddings.LayerNorm.weight", H, 0, 0.1f, 1);
    add("embeddings.LayerNorm.bias", H, 0, 0.1f, 0);
    for (int l = 0; l < L; l++) {
        char n[96];
        static const char *const sub[] = {"attention.self.query", "attention.self.key",
                                          "attention.self.value", "attention.output.dense"};
        for (int s = 0; s < 4; s++) {
            snprintf(n, sizeof(n), "encoder.layer.%d.%s.weight", l, sub[s]);
            add(n, H, H, 0.08f, 0);
            snprintf(n, sizeof(n), "encoder.layer.%d.%s.bias", l, sub[s]);
            add(n, H, 0, 0.05f, 0);
        }
        snprintf(n, sizeof(n), "encoder.layer.%d.attention.output.LayerNorm.weight", l);
        add(n, H, 0, 0.1f, 1);
        snprintf(n, sizeof(n), "encoder.layer.%d.attention.output.LayerNorm.bias", l);
        add(n, H, 0, 0.1f, 0);
        snprintf(n, sizeof(n), "encoder.layer.%d.intermediate.dense.weight", l);
        add(n, I, H, 0.08f, 0);
        snprintf(n, sizeof(n), "encoder.layer.%d.intermediate.dense.bias", l);
        add(n, I, 0, 0.05f, 0);
        snprintf(n, sizeof(n), "encoder.layer.%d.output.dense.weight", l);
        add(n, H, I, 0.04f, 0);
        snprintf(n, sizeof(n), "encoder.layer.%d.output.dense.bias", l);
        add(n, H, 0, 0.05f, 0);
        snprintf(n, sizeof(n), "encoder.layer.%d.output.LayerNorm.weight", l);
        add(n, H, 0, 0.1f, 1);
        snprintf(n, sizeof(n), "encoder.layer.%d.output.LayerNorm.bias", l);
        add(n, H, 0, 0.1f, 0);
    }
    /* header */
    size_t hcap = 1 << 16, hl = 0;
    char *h = malloc(hcap);
    long off = 0;
    hl += (size_t)snprintf(h + hl, hcap - hl, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (int i = 0; i < nt; i++) {
        long n = T[i].rows * (T[i].cols ? T[i].cols : 1);
        if (T[i].cols)
            hl += (size_t)snprintf(h + hl, hcap - hl,
                                   ",\"%s\":{\"dtype\":\"F32\",\"shape\":[%ld,%ld],\"data_offsets\":[%ld,%ld]}",
                                   T[i].name, T[i].rows, T[i].cols, off, off + 4 * n);
        else
            hl += (size_t)snprintf(h + hl, hcap - hl,
                                   ",\"%s\":{\"dtype\":\"F32\",\"shape\":[%ld],\"data_offsets\":[%ld,%ld]}",
                                   T[i].name, T[i].rows, off, off + 4 * n);
        off += 4 * n;
    }
    hl += (size_t)snprintf(h + hl, hcap - hl, "}");
    while (hl % 8)
        h[hl++] = ' ';
    FILE *f = open_in(dir, "model.safetensors");
    uint64_t len = hl;
    unsigned char le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (unsigned char)(len >> (8 * i));
    fwrite(le, 1, 8, f);
    fwrite(h, 1, hl, f);
    for (int i = 0; i < nt; i++) {
        long n = T[i].rows * (T[i].cols ? T[i].cols : 1);
        for (long k = 0; k < n; k++) {
            float x = T[i].base + rnd(T[i].scale);
            fwrite(&x, 4, 1, f);
        }
    }
    fclose(f);
    free(h);
    f = open_in(dir, "config.json");
    fprintf(f, "{\"model_type\": \"bert\", \"hidden_size\": %d, \"num_hidden_layers\": %d, "
               "\"num_attention_heads\": 12, \"intermediate_size\": %d, "
               "\"max_position_embeddings\": %d, \"type_vocab_size\": 2, \"vocab_size\": %d, "
               "\"layer_norm_eps\": 1e-12, \"hidden_act\": \"gelu\"}\n",
            H, L, I, P, V);
    fclose(f);
    f = open_in(dir, "sentence_bert_config.json");
    fprintf(f, "{\"max_seq_length\": 256, \"do_lower_case\": false}\n");
    fclose(f);
    f = open_in(dir, "modules.json");
    fprintf(f, "[{\"idx\":0,\"name\":\"0\",\"path\":\"\",\"type\":\"sentence_transformers.models.Transformer\"},"
               "{\"idx\":1,\"name\":\"1\",\"path\":\"1_Pooling\",\"type\":\"sentence_transformers.models.Pooling\"},"
               "{\"idx\":2,\"name\":\"2\",\"path\":\"2_Normalize\",\"type\":\"sentence_transformers.models.Normalize\"}]\n");
    fclose(f);
    f = open_in(dir, "1_Pooling/config.json");
    fprintf(f, "{\"word_embedding_dimension\": %d, \"pooling_mode_mean_tokens\": true}\n", H);
    fclose(f);
    /* vocabulary: BERT's special ids, letters and pieces, then synthetic words */
    f = open_in(dir, "vocab.txt");
    int id = 0;
    /* the words of local_bench.c's texts, so its chunks and queries tokenise as with a real
       vocabulary (one piece per word) */
    static const char *const words[] = {
        "the", "memory", "of", "a", "system", "stores", "documents", "and", "returns", "relevant",
        "passages", "for", "each", "question", "that", "users", "ask", "about", "their", "data",
        "search", "combines", "keyword", "matching", "with", "vector", "similarity", "to", "find",
        "answers", "when", "words", "differ", "between", "query", "text", "proteins", "cells",
        "patients", "treatment", "increased", "significantly", "results", "suggest", "model",
        "learning", "network", "training", "evaluation", "performance", "improves", "over",
        "baseline", "in", "experiments", "on", "several", "datasets", "including", "biomedical",
        "literature", "climate", "change", "affects", "ocean", "temperature", "levels", "across",
        "regions"};
    for (; id < V; id++) {
        if (id == 0)
            fprintf(f, "[PAD]\n");
        else if (id == 100)
            fprintf(f, "[UNK]\n");
        else if (id == 101)
            fprintf(f, "[CLS]\n");
        else if (id == 102)
            fprintf(f, "[SEP]\n");
        else if (id == 103)
            fprintf(f, "[MASK]\n");
        else if (id >= 200 && id < 295)
            fprintf(f, "%c\n", (char)(33 + id - 200));
        else if (id >= 300 && id < 326)
            fprintf(f, "##%c\n", (char)('a' + id - 300));
        else if (id >= 400 && id < 400 + (int)(sizeof(words) / sizeof(words[0])))
            fprintf(f, "%s\n", words[id - 400]);
        else
            fprintf(f, "[unused%d]\n", id);
    }
    fclose(f);
    return 0;
}
