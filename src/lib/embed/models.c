/*
 * embed/models.c: installed model directories: the search path, lookup, listing and verification
 * against the checksums pinned in scripts/models.lock (compiled in, see embed/models.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "embed/models.h"
#include "error.h"

/* The embedded database's default home (db/embedded.c has the same rule; the embed layer does
   not depend on db). */
#define ROOT_HOME_DEFAULT "/var/lib/llmemory"

const lm__pinned_model *lm__pinned_model_get(const char *name)
{
    for (size_t i = 0; i < lm__pinned_model_count; i++)
        if (strcmp(lm__pinned_models[i].name, name) == 0)
            return &lm__pinned_models[i];
    return NULL;
}

/* Append the search path, one directory per line. */
static void search_path(lm_buf *out)
{
    const char *env = getenv("LLMEMORY_MODELS_DIR");
    if (env != NULL && env[0] != '\0') {
        lm__buf_printf(out, "%s\n", env);
        return;
    }
    const char *home = getenv("LLMEMORY_HOME");
    if (home != NULL && home[0] != '\0') {
        lm__buf_printf(out, "%s/models\n", home);
    } else if (geteuid() == 0) {
        lm__buf_puts(out, ROOT_HOME_DEFAULT "/models\n");
    } else {
        const char *dir = getenv("HOME");
        char pwbuf[4096];
        struct passwd pw, *found = NULL;
        if ((dir == NULL || dir[0] != '/') &&
            getpwuid_r(getuid(), &pw, pwbuf, sizeof(pwbuf), &found) == 0 && found != NULL)
            dir = found->pw_dir;
        if (dir != NULL && dir[0] == '/')
            lm__buf_printf(out, "%s/.local/share/llmemory/models\n", dir);
    }
    lm__buf_puts(out, LM_MODELS_SYSTEM_DIR "\n");
}

int lm_models_search_path(lm_buf *out)
{
    LM_ASSERT_ARG(out != NULL);
    lm__buf_clear(out);
    search_path(out);
    if (lm__buf_oom(out)) {
        lm__error_set_oom();
        return LM_ENOMEM;
    }
    return 0;
}

static int valid_name(const char *name)
{
    return name[0] != '\0' && name[0] != '.' && strchr(name, '/') == NULL &&
           strlen(name) <= 255;
}

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int lm_model_find(lm_buf *out, const char *name)
{
    lm_buf dirs = LM_BUF_INIT, probe = LM_BUF_INIT;
    int rc = LM_ENOTFOUND;

    LM_ASSERT_ARG(out != NULL);
    if (name == NULL)
        name = LM_DEFAULT_MODEL;
    if (!valid_name(name))
        return lm__error_set_field(LM_EINVAL, "model", "invalid model name \"%s\"", name);
    search_path(&dirs);
    if (lm__buf_oom(&dirs)) {
        rc = LM_ENOMEM;
        goto out;
    }
    for (char *line = dirs.ptr, *nl; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
        lm__buf_clear(&probe);
        lm__buf_put(&probe, line, (size_t)(nl - line));
        lm__buf_printf(&probe, "/%s/config.json", name);
        if (lm__buf_oom(&probe)) {
            rc = LM_ENOMEM;
            goto out;
        }
        if (is_file(probe.ptr)) {
            lm__buf_clear(out);
            lm__buf_put(out, probe.ptr, probe.size - strlen("/config.json"));
            rc = lm__buf_oom(out) ? LM_ENOMEM : 0;
            goto out;
        }
    }
    lm__error_set(LM_ENOTFOUND, "embedding model \"%s\" is not installed", name);
    for (char *p = dirs.ptr; *p; p++)
        if (*p == '\n')
            *p = p[1] ? ':' : '\0';
    lm__error_detail("Searched: %s.", dirs.ptr);
    lm__error_hint("Install it with scripts/models.sh, or set LLMEMORY_MODELS_DIR.");
out:
    if (rc == LM_ENOMEM)
        lm__error_set_oom();
    lm_buf_dispose(&dirs);
    lm_buf_dispose(&probe);
    return rc;
}

/* ---- listing --------------------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names of the model directories in @p dir, sorted; *names = NULL when none or unreadable. */
static int scan_dir(const char *dir, char ***names, size_t *n)
{
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    size_t cap = 0;
    int rc = 0;
    lm_buf probe = LM_BUF_INIT;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (!valid_name(e->d_name))
            continue;
        lm__buf_clear(&probe);
        lm__buf_printf(&probe, "%s/%s/config.json", dir, e->d_name);
        if (lm__buf_oom(&probe)) {
            rc = LM_ENOMEM;
            break;
        }
        if (!is_file(probe.ptr))
            continue;
        if (*n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            char **grown = lm__realloc(*names, ncap * sizeof(*grown));
            if (grown == NULL) {
                rc = LM_ENOMEM;
                break;
            }
            *names = grown;
            cap = ncap;
        }
        if (((*names)[*n] = lm__strdup(e->d_name)) == NULL) {
            rc = LM_ENOMEM;
            break;
        }
        (*n)++;
    }
    closedir(d);
    lm_buf_dispose(&probe);
    if (rc == 0 && *n > 1)
        qsort(*names, *n, sizeof(**names), cmp_str);
    return rc;
}

void lm_models_list_free(lm_model_info *list, size_t n)
{
    if (list == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        lm__free(list[i].name);
        lm__free(list[i].path);
    }
    lm__free(list);
}

int lm_models_list(lm_model_info **out, size_t *n)
{
    lm_buf dirs = LM_BUF_INIT, path = LM_BUF_INIT;
    lm_model_info *list = NULL;
    size_t count = 0, cap = 0;
    char **names = NULL;
    size_t nnames = 0;
    int rc = 0;

    LM_ASSERT_ARG(out != NULL);
    LM_ASSERT_ARG(n != NULL);
    *out = NULL;
    *n = 0;
    search_path(&dirs);
    if (lm__buf_oom(&dirs)) {
        rc = LM_ENOMEM;
        goto out;
    }
    for (char *line = dirs.ptr, *nl; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
        *nl = '\0';
        /* The same directory twice in the path (LLMEMORY_HOME = /usr/local/share/llmemory) lists
           once. */
        int seen = 0;
        for (char *prev = dirs.ptr; prev < line; prev += strlen(prev) + 1)
            if (strcmp(prev, line) == 0)
                seen = 1;
        if (seen)
            continue;
        if ((rc = scan_dir(line, &names, &nnames)) < 0)
            goto out;
        for (size_t i = 0; i < nnames; i++) {
            if (count == cap) {
                size_t ncap = cap ? cap * 2 : 8;
                lm_model_info *grown = lm__realloc(list, ncap * sizeof(*grown));
                if (grown == NULL) {
                    rc = LM_ENOMEM;
                    goto out;
                }
                list = grown;
                cap = ncap;
            }
            lm__buf_clear(&path);
            lm__buf_printf(&path, "%s/%s", line, names[i]);
            lm_model_info *m = &list[count];
            memset(m, 0, sizeof(*m));
            if (lm__buf_oom(&path) || (m->path = lm__strdup(path.ptr)) == NULL) {
                rc = LM_ENOMEM;
                goto out;
            }
            m->name = names[i];
            names[i] = NULL;
            count++;
            const lm__pinned_model *pm = lm__pinned_model_get(m->name);
            m->package = pm ? pm->package : NULL;
            for (size_t j = 0; j + 1 < count; j++)
                if (strcmp(list[j].name, m->name) == 0)
                    m->shadowed = 1;
        }
        for (size_t i = 0; i < nnames; i++)
            lm__free(names[i]);
        lm__free(names);
        names = NULL;
        nnames = 0;
    }
    *out = list;
    *n = count;
    list = NULL;
    count = 0;
out:
    for (size_t i = 0; i < nnames; i++)
        lm__free(names[i]);
    lm__free(names);
    lm_models_list_free(list, count);
    lm_buf_dispose(&dirs);
    lm_buf_dispose(&path);
    if (rc == LM_ENOMEM)
        lm__error_set_oom();
    return rc;
}

/* ---- verification ---------------------------------------------------------------------------- */

int lm__sha256_file(char out[65], const char *path)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char buf[1 << 16], h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_state st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? LM_ENOTFOUND : LM_EIO;
    crypto_hash_sha256_init(&st);
    for (;;) {
        ssize_t r = read(fd, buf, sizeof(buf));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            close(fd);
            return LM_EIO;
        }
        if (r == 0)
            break;
        crypto_hash_sha256_update(&st, buf, (unsigned long long)r);
    }
    close(fd);
    crypto_hash_sha256_final(&st, h);
    for (size_t i = 0; i < sizeof(h); i++) {
        out[2 * i] = hex[h[i] >> 4];
        out[2 * i + 1] = hex[h[i] & 15];
    }
    out[64] = '\0';
    return 0;
}

static int file_error(int code, const char *path)
{
    if (code == LM_ENOTFOUND) {
        lm__error_set(LM_ENOTFOUND, "model file \"%s\" is missing", path);
        lm__error_hint("Reinstall the model with scripts/models.sh.");
        return LM_ENOTFOUND;
    }
    return lm__error_set(LM_EIO, "could not read model file \"%s\": %s", path, strerror(errno));
}

/* The safetensors header: an 8-byte little-endian length, then that many bytes of JSON. */
static int check_safetensors(const char *path)
{
    unsigned char len8[8];
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return file_error(errno == ENOENT ? LM_ENOTFOUND : LM_EIO, path);
    ssize_t r = fstat(fd, &st) == 0 ? pread(fd, len8, sizeof(len8), 0) : -1;
    char first = 0;
    uint64_t len = 0;
    if (r == (ssize_t)sizeof(len8)) {
        for (int i = 7; i >= 0; i--)
            len = len << 8 | len8[i];
        if (len >= 2 && len <= (uint64_t)st.st_size - 8 && pread(fd, &first, 1, 8) != 1)
            first = 0;
    }
    close(fd);
    if (r < 0)
        return file_error(LM_EIO, path);
    if (r != (ssize_t)sizeof(len8) || len < 2 || len > (uint64_t)st.st_size - 8 || first != '{') {
        lm__error_set(LM_EPARSE, "model file \"%s\" is not a valid safetensors file", path);
        if (r != (ssize_t)sizeof(len8))
            lm__error_detail("The file is only %lld bytes long.", (long long)st.st_size);
        else
            lm__error_detail("The file is %lld bytes long; its header length field says %llu.",
                             (long long)st.st_size, (unsigned long long)len);
        lm__error_hint("Reinstall the model with scripts/models.sh.");
        return LM_EPARSE;
    }
    return 0;
}

int lm_model_verify(const char *model, int *files_checked)
{
    lm_buf dir = LM_BUF_INIT, path = LM_BUF_INIT;
    int rc = 0, checked = 0;
    char sum[65];
    const char *base;

    if (files_checked != NULL)
        *files_checked = 0;
    if (model != NULL && strchr(model, '/') != NULL) {
        struct stat st;
        if (stat(model, &st) != 0 || !S_ISDIR(st.st_mode)) {
            lm__error_set(LM_ENOTFOUND, "model directory \"%s\" does not exist", model);
            return LM_ENOTFOUND;
        }
        lm__buf_puts(&dir, model);
        while (dir.size > 1 && dir.ptr[dir.size - 1] == '/')
            lm__buf_truncate(&dir, dir.size - 1);
    } else if ((rc = lm_model_find(&dir, model)) < 0) {
        goto out;
    }
    if (lm__buf_oom(&dir)) {
        rc = LM_ENOMEM;
        goto out;
    }

    /* What every BERT-family model directory needs. */
    static const char *const required[] = {"config.json", "model.safetensors"};
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        lm__buf_clear(&path);
        lm__buf_printf(&path, "%s/%s", dir.ptr, required[i]);
        if (lm__buf_oom(&path)) {
            rc = LM_ENOMEM;
            goto out;
        }
        if (!is_file(path.ptr)) {
            rc = file_error(LM_ENOTFOUND, path.ptr);
            goto out;
        }
    }
    lm__buf_clear(&path);
    lm__buf_printf(&path, "%s/model.safetensors", dir.ptr);
    if (lm__buf_oom(&path)) {
        rc = LM_ENOMEM;
        goto out;
    }
    if ((rc = check_safetensors(path.ptr)) < 0)
        goto out;
    lm__buf_clear(&path);
    lm__buf_printf(&path, "%s/vocab.txt", dir.ptr);
    if (lm__buf_oom(&path)) {
        rc = LM_ENOMEM;
        goto out;
    }
    if (!is_file(path.ptr)) {
        lm__buf_truncate(&path, path.size - strlen("vocab.txt"));
        lm__buf_puts(&path, "tokenizer.json");
        if (lm__buf_oom(&path)) {
            rc = LM_ENOMEM;
            goto out;
        }
        if (!is_file(path.ptr)) {
            lm__buf_truncate(&path, path.size - strlen("tokenizer.json"));
            lm__buf_puts(&path, "vocab.txt");
            rc = file_error(LM_ENOTFOUND, lm__buf_oom(&path) ? "vocab.txt" : path.ptr);
            lm__error_detail("A model needs vocab.txt or tokenizer.json.");
            goto out;
        }
    }
    checked = 3;

    /* Pinned checksums, when llmemory knows this model. */
    base = strrchr(dir.ptr, '/');
    base = base ? base + 1 : dir.ptr;
    if (lm__pinned_model_get(base) != NULL) {
        checked = 0;
        for (size_t i = 0; i < lm__pinned_file_count; i++) {
            const lm__pinned_file *f = &lm__pinned_files[i];
            if (strcmp(f->model, base) != 0)
                continue;
            lm__buf_clear(&path);
            lm__buf_printf(&path, "%s/%s", dir.ptr, f->path);
            if (lm__buf_oom(&path)) {
                rc = LM_ENOMEM;
                goto out;
            }
            if ((rc = lm__sha256_file(sum, path.ptr)) < 0) {
                rc = file_error(rc, path.ptr);
                goto out;
            }
            if (strcmp(sum, f->sha256) != 0) {
                lm__error_set(LM_EPARSE, "model file \"%s\" does not match its pinned checksum",
                              path.ptr);
                lm__error_detail("Its SHA-256 is %s, expected %s.", sum, f->sha256);
                lm__error_hint("Reinstall the model with scripts/models.sh.");
                rc = LM_EPARSE;
                goto out;
            }
            checked++;
        }
    }
    if (files_checked != NULL)
        *files_checked = checked;
out:
    if (rc == LM_ENOMEM)
        lm__error_set_oom();
    lm_buf_dispose(&dir);
    lm_buf_dispose(&path);
    return rc;
}
