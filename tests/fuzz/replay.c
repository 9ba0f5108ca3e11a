/*
 * tests/fuzz/replay.c: the replay driver. Linked (by gcc, in the debug and the ASan+UBSan builds)
 * with one fuzz target instead of libFuzzer, it runs every file of the directories and files
 * named on the command line through the target's LLVMFuzzerTestOneInput, one at a time, and ends
 * with "NAME: N passed, N failed". A crash, a leak or undefined behaviour ends the run through the
 * sanitizers (exit 86 in tests/run.sh); a target that returns non-zero counts as failed.
 *   build/debug/tests/fuzz/jwt-replay tests/fuzz/corpus/jwt
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int passed, failed;

static void run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *data = NULL;
    long n;

    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        failed++;
        if (f != NULL)
            fclose(f);
        return;
    }
    /* One byte more, so that an empty file still has a buffer; the target sees n bytes only. */
    data = malloc((size_t)n + 1);
    if (data == NULL || fread(data, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        failed++;
    } else if (LLVMFuzzerTestOneInput(data, (size_t)n) != 0) {
        fprintf(stderr, "replay: %s: the target returned non-zero\n", path);
        failed++;
    } else {
        passed++;
    }
    free(data);
    fclose(f);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void run_path(const char *path)
{
    struct stat st;
    DIR *d;
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0;

    if (stat(path, &st) != 0) {
        fprintf(stderr, "replay: %s does not exist\n", path);
        failed++;
        return;
    }
    if (!S_ISDIR(st.st_mode)) {
        run_file(path);
        return;
    }
    if ((d = opendir(path)) == NULL) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        failed++;
        return;
    }
    /* In name order, so that a run is the same everywhere. */
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            char **nn = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof(*names));
            if (nn == NULL)
                abort();
            names = nn;
        }
        names[n] = malloc(strlen(path) + strlen(e->d_name) + 2);
        if (names[n] == NULL)
            abort();
        sprintf(names[n], "%s/%s", path, e->d_name);
        n++;
    }
    closedir(d);
    if (n > 0)
        qsort(names, n, sizeof(*names), by_name);
    for (size_t i = 0; i < n; i++) {
        run_file(names[i]);
        free(names[i]);
    }
    free(names);
}

int main(int argc, char **argv)
{
    const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    char label[64];

    snprintf(label, sizeof(label), "%s", name);
    if (strstr(label, "-replay") != NULL)
        *strstr(label, "-replay") = '\0';
    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", name);
        return 2;
    }
    for (int i = 1; i < argc; i++)
        run_path(argv[i]);
    printf("fuzz-%s: %d passed, %d failed\n", label, passed, failed);
    return failed == 0 ? 0 : 1;
}
