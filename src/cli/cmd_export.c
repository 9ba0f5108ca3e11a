/*
 * cli/cmd_export.c: `llmemory export` writes everything one owner has (documents, chunks,
 * metadata, optionally vectors) to standard output or a file as JSON Lines, and
 * `llmemory import` (cmd_import.c) reads it back. A progress line is drawn on stderr when it is
 * a terminal.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"

static const char about[] =
    "Write everything one owner has (documents, chunks and their metadata, and with --vectors\n"
    "the stored embeddings) as JSON Lines: a header, one record per document and chunk, and a\n"
    "trailer with counts and a SHA-256 checksum. The export is one consistent snapshot, even\n"
    "while the owner's documents change. `llmemory import` reads it back.\n";

typedef struct out_state {
    FILE *f;
    int err; /* errno of the first failed write */
} out_state;

static int write_out(const char *data, size_t len, void *payload)
{
    out_state *o = payload;
    if (fwrite(data, 1, len, o->f) != len) {
        o->err = errno ? errno : EIO;
        return LM_ERROR;
    }
    return 0;
}

/* The progress line, redrawn at most ten times a second. */
void cli_progress(int64_t done, int64_t total, void *payload)
{
    static struct timespec last;
    const char *verb = payload;
    struct timespec now;
    char line[128];
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (done != total && done != 0 &&
        (now.tv_sec - last.tv_sec) * 1000 + (now.tv_nsec - last.tv_nsec) / 1000000 < 100)
        return;
    last = now;
    if (total > 0) {
        int pct = (int)(done * 100 / total), w = pct / 5;
        snprintf(line, sizeof(line), "%s [%-20.*s] %3d%%  %lld/%lld records", verb, w,
                 "####################", pct, (long long)done, (long long)total);
    } else {
        snprintf(line, sizeof(line), "%s %lld records", verb, (long long)done);
    }
    cli_status_line(line);
}

static char verb[] = "exporting";

int cli_cmd_export(cli_ctx *ctx, int argc, char **argv)
{
    const char *owner_opt = NULL, *owner = NULL, *path = NULL;
    int vectors = 0, nargs, rc, status;
    const cli_opt opts[] = {CLI_OWNER(&owner_opt, "owner (tenant); default $LLMEMORY_OWNER"),
                            CLI_FLAG(0, "vectors", &vectors, "include the stored embeddings"),
                            CLI_STRING(0, "output", "FILE", &path,
                                       "write to FILE instead of standard output"),
                            CLI_END};
    const cli_spec spec = {.usage = "llmemory export [OPTION]... > FILE",
                           .about = about,
                           .opts = opts,
                           .max_args = 0};
    lm_memory *mem = NULL;
    lm_export_opts eo = LM_EXPORT_OPTS_INIT;
    lm_transfer_counts c;
    out_state o = {stdout, 0};
    int tty = isatty(STDERR_FILENO);

    if ((status = cli_parse(ctx, &spec, argc, argv, &nargs)) != CLI_PARSED)
        return status;
    if ((status = cli_owner(ctx, owner_opt, &owner)) != 0)
        return status;
    if (cli_remote_on(ctx))
        return cli_usage(ctx, "export works on the database directly; --url is not supported");
    if (path != NULL && (o.f = fopen(path, "w")) == NULL) {
        cli_msg("could not open \"%s\": %s", path, strerror(errno));
        return cli_path_status(errno);
    }
    if ((status = cli_open(ctx, &mem)) != 0)
        goto out;
    eo.with_vectors = vectors;
    if (tty) {
        eo.progress = cli_progress;
        eo.progress_payload = verb;
    }
    rc = lm_tenant_export(&c, mem, owner, &eo, write_out, &o);
    cli_status_clear();
    if (rc < 0) {
        if (o.err != 0) {
            cli_msg("could not write the export: %s", strerror(o.err));
            status = CLI_EXIT_ERROR;
        } else {
            status = cli_fail_lm(rc, NULL);
        }
        goto out;
    }
    if (fflush(o.f) != 0 || ferror(o.f)) {
        cli_msg("could not write the export: %s", strerror(errno));
        status = CLI_EXIT_ERROR;
        goto out;
    }
    if (tty)
        fprintf(stderr, "exported owner \"%s\": %lld documents, %lld chunks, %lld vectors\n", owner,
                (long long)c.documents, (long long)c.chunks, (long long)c.vectors);
    status = CLI_EXIT_OK;
out:
    if (path != NULL && o.f != NULL && fclose(o.f) != 0 && status == CLI_EXIT_OK) {
        cli_msg("could not write the export: %s", strerror(errno));
        status = CLI_EXIT_ERROR;
    }
    lm_memory_close(mem);
    return status;
}
