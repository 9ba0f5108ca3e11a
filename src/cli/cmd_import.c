/*
 * cli/cmd_import.c: `llmemory import` restores what `llmemory export` wrote into an owner (the
 * same or another one). The whole file is checked before anything is written; importing the
 * same file twice changes nothing the second time.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"

static const char about[] =
    "Restore an export (from `llmemory export`) into an owner, the same one or another. Reads\n"
    "FILE, or standard input when FILE is missing or \"-\". The whole file is checked (format\n"
    "version, every record, counts, checksum) before anything is written, so a truncated or\n"
    "corrupt file changes nothing. Documents are matched by their id at origin: importing a\n"
    "file twice leaves the owner as after the first time. Stored embeddings are reused when\n"
    "the file's embedding provider is this database's; otherwise the chunks are queued for\n"
    "`llmemory embed`.\n";

typedef struct in_state {
    FILE *f;
    int err;
} in_state;

static long read_in(char *buf, size_t cap, void *payload)
{
    in_state *s = payload;
    size_t n = fread(buf, 1, cap, s->f);
    if (n == 0 && ferror(s->f)) {
        s->err = errno ? errno : EIO;
        return LM_ERROR;
    }
    return (long)n;
}

static char verb[] = "importing";

int cli_cmd_import(cli_ctx *ctx, int argc, char **argv)
{
    const char *owner_opt = NULL, *owner = NULL, *path = NULL;
    int json = 0, nargs, rc, bad, status;
    const cli_opt opts[] = {CLI_OWNER(&owner_opt, "owner (tenant); default $LLMEMORY_OWNER"),
                            CLI_JSON(&json, "print the result as JSON"), CLI_END};
    const cli_spec spec = {.usage = "llmemory import [OPTION]... [FILE]",
                           .about = about,
                           .opts = opts,
                           .max_args = 1};
    lm_memory *mem = NULL;
    lm_import_opts io = LM_IMPORT_OPTS_INIT;
    lm_import_result r;
    in_state in = {stdin, 0};
    json_t *out = NULL;

    if ((status = cli_parse(ctx, &spec, argc, argv, &nargs)) != CLI_PARSED)
        return status;
    if ((status = cli_owner(ctx, owner_opt, &owner)) != 0)
        return status;
    if (cli_remote_on(ctx))
        return cli_usage(ctx, "import works on the database directly; --url is not supported");
    if (nargs == 1 && strcmp(argv[0], "-") != 0) {
        path = argv[0];
        if ((in.f = fopen(path, "r")) == NULL) {
            cli_msg("could not open \"%s\": %s", path, strerror(errno));
            return cli_path_status(errno);
        }
    }
    if ((status = cli_open(ctx, &mem)) != 0)
        goto out;
    if (isatty(STDERR_FILENO)) {
        io.progress = cli_progress;
        io.progress_payload = verb;
    }
    rc = lm_tenant_import(&r, mem, owner, &io, read_in, &in);
    cli_status_clear();
    if (rc < 0) {
        if (in.err != 0) {
            cli_msg("could not read the import: %s", strerror(in.err));
            status = CLI_EXIT_ERROR;
        } else {
            status = cli_fail_lm(rc, "nothing was imported");
        }
        goto out;
    }
    if (json) {
        out = json_object();
        bad = cli_jset(out, "owner_id", cli_jstr(owner));
        bad |= cli_jset(out, "documents", json_integer((json_int_t)r.counts.documents));
        bad |= cli_jset(out, "documents_created", json_integer((json_int_t)r.documents_created));
        bad |= cli_jset(out, "chunks", json_integer((json_int_t)r.counts.chunks));
        bad |= cli_jset(out, "vectors_reused", json_integer((json_int_t)r.vectors_reused));
        bad |= cli_jset(out, "chunks_queued", json_integer((json_int_t)r.chunks_queued));
        if (bad) {
            status = cli_oom();
            goto out;
        }
        status = cli_json_print(out);
        out = NULL;
        goto out;
    }
    printf("imported into owner \"%s\": %lld documents (%lld new), %lld chunks; %lld vectors "
           "reused, %lld chunks queued for embedding\n",
           owner, (long long)r.counts.documents, (long long)r.documents_created,
           (long long)r.counts.chunks, (long long)r.vectors_reused, (long long)r.chunks_queued);
    status = CLI_EXIT_OK;
out:
    json_decref(out);
    if (path != NULL && in.f != NULL)
        fclose(in.f);
    lm_memory_close(mem);
    return status;
}
