/*
 * llmemory/embed.h: embedding providers. An lm_embedder turns texts into vectors of a fixed
 * dimension. Three kinds exist: the built-in deterministic embedder (no network, no model file),
 * an OpenAI-compatible HTTP client (OpenAI, Ollama, vLLM, llama.cpp server, TEI), a local
 * sentence-embedding encoder that runs a BERT-family transformer inside the library (no network,
 * no Python), and custom embedders supplied by the application (include/llmemory/sys/embedder.h).
 *
 * The built-in embedder hashes normalised words, word pairs and character n-grams into a signed,
 * weighted, L2-normalised vector. It captures LEXICAL similarity (shared words and word pieces),
 * not meaning: "car" and "automobile" are unrelated to it. Use an HTTP provider with a real model
 * for semantic search.
 *
 * Threads: an lm_embedder may be used by several threads at once (the HTTP embedder opens one
 * transfer per call; the local encoder's weights are read-only after loading).
 */
#ifndef LLMEMORY_EMBED_H
#define LLMEMORY_EMBED_H

#include "common.h"

LM_BEGIN_DECL

typedef struct lm_embedder lm_embedder;

/** Default dimension of the built-in embedder. */
#define LM_BUILTIN_EMBED_DIM 384
/** Largest dimension any embedder may have (pgvector's limit for an indexed vector is 2000;
 *  larger vectors are stored and searched exactly). */
#define LM_MAX_EMBED_DIM 16000

/**
 * The built-in deterministic embedder.
 * @param dim 8..LM_MAX_EMBED_DIM, or 0 for LM_BUILTIN_EMBED_DIM
 * @return 0; LM_EINVAL; LM_ENOMEM.
 */
LM_EXTERN int lm_embedder_builtin_new(lm_embedder **out, int dim);

/** Options of the OpenAI-compatible HTTP embedder. */
typedef struct lm_http_embedder_opts {
    unsigned int version;
    const char *base_url;  /* e.g. "https://api.openai.com/v1"; POST {base_url}/embeddings.
                              NULL: $LLMEMORY_EMBED_URL */
    const char *model;     /* "text-embedding-3-small"; NULL: $LLMEMORY_EMBED_MODEL */
    const char *api_key;   /* Bearer token; NULL: $LLMEMORY_EMBED_API_KEY, then $OPENAI_API_KEY;
                              none: no Authorization header (local servers) */
    int dim;               /* expected dimension; every vector is checked (required) */
    int batch_size;        /* texts per request; 0: 64 */
    int concurrency;       /* requests in flight at once; 0: 4 */
    int timeout_ms;        /* per request; 0: 30000 */
    int max_retries;       /* retries on 429, 5xx and network errors; 0: 5; -1: none */
    int retry_base_ms;     /* first backoff (doubles each time, with jitter); 0: 500 */
    int retry_max_ms;      /* backoff cap, also caps Retry-After; 0: 30000 */
    int send_dimensions;   /* 1: send "dimensions": dim in the request (text-embedding-3-*) */
} lm_http_embedder_opts;

#define LM_HTTP_EMBEDDER_OPTS_VERSION 1
#define LM_HTTP_EMBEDDER_OPTS_INIT                                                                 \
    {LM_HTTP_EMBEDDER_OPTS_VERSION, NULL, NULL, NULL, 0, 0, 0, 0, 0, 0, 0, 0}
LM_EXTERN int lm_http_embedder_opts_init(lm_http_embedder_opts *opts, unsigned int version);

/**
 * An OpenAI-compatible embeddings client (libcurl).
 * @return 0; LM_EINVAL (missing URL, model or dimension); LM_ENOMEM.
 * The API key is never logged or put in an error message, and is wiped when freed.
 */
LM_EXTERN int lm_embedder_http_new(lm_embedder **out, const lm_http_embedder_opts *opts);

/** Options of the local encoder (lm_embedder_local_new). Zero means "the default" throughout. */
typedef struct lm_local_embedder_opts {
    unsigned int version;   /* LM_LOCAL_EMBEDDER_OPTS_VERSION */
    int threads;            /* worker threads used by one embed call with several texts (texts are
                               embedded in parallel); 0: 1. Calls on one embedder from several
                               threads are safe whatever this is. */
    int int8;               /* 1: quantise the linear layers' weights to int8 at load
                               (per output channel) and run them with int8 arithmetic; faster,
                               vectors agree with fp32 to a cosine of about 0.99. The provider id
                               gets a "-q8" suffix, so int8 and fp32 vectors are never mixed.
                               0: fp32 (default); -1: $LLMEMORY_LOCAL_INT8 (0 or 1) */
    size_t max_tokens;      /* tokens per window including [CLS] and [SEP]; longer texts are
                               embedded in overlapping windows whose vectors are averaged
                               (weighted by tokens) and normalised, never cut. 0: the model's
                               max_seq_length (sentence_bert_config.json), else
                               max_position_embeddings; 8..max_position_embeddings */
    const char *model_name; /* name in the provider id; NULL: the directory's name (its parent's
                               when the directory is called "model") */
    const char *query_prefix; /* text put before each query (lm_embedder_embed_query()); NULL:
                                 "prompts"."query" of config_sentence_transformers.json, if any;
                                 "": none. Part of the provider id's revision hash. */
} lm_local_embedder_opts;

#define LM_LOCAL_EMBEDDER_OPTS_VERSION 1
#define LM_LOCAL_EMBEDDER_OPTS_INIT    {LM_LOCAL_EMBEDDER_OPTS_VERSION, 0, 0, 0, NULL, NULL}
LM_EXTERN int lm_local_embedder_opts_init(lm_local_embedder_opts *opts, unsigned int version);

/**
 * The local encoder: loads a BERT-family sentence-transformers model directory (MiniLM, bge,
 * e5, gte: "model_type": "bert" with absolute positions) and embeds texts on the CPU.
 *
 * The directory holds config.json, model.safetensors (F32 or F16 tensors; memory-mapped, F32
 * weights used in place where possible), vocab.txt (or tokenizer.json with a WordPiece model),
 * and optionally tokenizer_config.json (do_lower_case, strip_accents, tokenize_chinese_chars),
 * sentence_bert_config.json (max_seq_length), modules.json with 1_Pooling/config.json (mean or
 * CLS pooling; default mean) and a Normalize module, and config_sentence_transformers.json whose
 * "prompts" give the query prefix (see lm_embedder_embed_query()).
 *
 * Kind "local"; lm_embedder_model() is the model name; the provider id is
 * "local:<model>:<rev>:<dim>" (plus "-q8" for int8 weights) where <rev> is the first 8 hex digits
 * of a BLAKE2b hash of the weights, the vocabulary and the settings read (architecture,
 * tokenizer, pooling, window, prefixes), so a different revision of a model never shares
 * vectors with another.
 *
 * The matrix kernels are chosen at load from what the CPU supports: AVX-512 (with VNNI for
 * int8), AVX2+FMA, or portable C. $LLMEMORY_SIMD=portable|avx2|avx512 forces a path (one the CPU
 * lacks is an error).
 *
 * @param model_dir the directory; @param opts NULL for the defaults
 * @return 0; LM_ENOTFOUND (directory or a required file missing: the message names it);
 *         LM_EPARSE (a corrupt or unsupported file: the message names it); LM_EINVAL (bad
 *         option, or a SIMD path the CPU lacks); LM_EIO; LM_ENOMEM.
 */
LM_EXTERN int lm_embedder_local_new(lm_embedder **out,
                                    const char *model_dir,
                                    const lm_local_embedder_opts *opts);

/**
 * The embedder described by the environment: $LLMEMORY_EMBEDDER = unset or "default" (the
 * local encoder on the installed default model, LM_DEFAULT_MODEL in llmemory/models.h; the
 * built-in embedder when it is not installed), "local" (the default model; an error when it is
 * not installed), "local:NAME" (an installed model) or "local:/path/to/model" (a directory; both
 * with $LLMEMORY_EMBED_THREADS and $LLMEMORY_LOCAL_INT8), "builtin" (dimension
 * $LLMEMORY_EMBED_DIM or 384), "openai"/"http" (the LLMEMORY_EMBED_* variables above, dimension
 * $LLMEMORY_EMBED_DIM required; also LLMEMORY_EMBED_BATCH_SIZE, _CONCURRENCY, _TIMEOUT_MS,
 * _MAX_RETRIES and _SEND_DIMENSIONS; "openai" defaults the URL to https://api.openai.com/v1) or
 * "none" (*out = NULL: no vector search). See docs/embeddings.md.
 * @return 0; LM_EINVAL with the variable named in the message; LM_ENOTFOUND (model not
 *         installed, or a model file missing: named in the message); LM_EPARSE (a corrupt model
 *         file); LM_EIO; LM_ENOMEM.
 */
LM_EXTERN int lm_embedder_from_env(lm_embedder **out);

/**
 * Embed @p n texts into @p out (n * dim floats, row-major, caller-allocated).
 * @param lens byte lengths of the texts, or NULL when they are NUL-terminated
 * @return 0; LM_EINVAL (empty input, or a 4xx other than 401/403/429 from the provider);
 *         LM_ECONN (network or 5xx after all retries), LM_ETIMEOUT, LM_ELIMIT (rate limited after
 *         all retries, or a size cap), LM_EPERM (401/403: bad key), LM_EPARSE (bad response or
 *         wrong dimension), LM_ENOMEM.
 */
LM_EXTERN int lm_embedder_embed(lm_embedder *e,
                                float *out,
                                const char *const *texts,
                                const size_t *lens,
                                size_t n);
/**
 * Embed @p n search queries. Same contract as lm_embedder_embed(); models that were trained with
 * a query instruction (bge's "Represent this sentence for searching relevant passages: ", e5's
 * "query: ") get it prepended here, documents get lm_embedder_embed(). For every other embedder
 * this is lm_embedder_embed().
 */
LM_EXTERN int lm_embedder_embed_query(lm_embedder *e,
                                      float *out,
                                      const char *const *texts,
                                      const size_t *lens,
                                      size_t n);
/** Dimension of the vectors. */
LM_EXTERN int lm_embedder_dim(const lm_embedder *e);
/** Stable provider id, e.g. "builtin-hash-v2-384" or "http:text-embedding-3-small" (with
 *  ":<dim>" appended when dimensions are sent). Vectors of different ids are never compared.
 *  Borrowed. */
LM_EXTERN const char *lm_embedder_provider_id(const lm_embedder *e);
/** Provider kind: "builtin", "http", "local" or "custom". */
LM_EXTERN const char *lm_embedder_kind(const lm_embedder *e);
/** Model name ("hash-v2" for the built-in). Borrowed. */
LM_EXTERN const char *lm_embedder_model(const lm_embedder *e);
/** Release @p e. NULL-safe. Must not race with calls on @p e. */
LM_EXTERN void lm_embedder_free(lm_embedder *e);

LM_END_DECL

#endif
