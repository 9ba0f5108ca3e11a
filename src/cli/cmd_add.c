/*
 * cli/cmd_add.c: `llmemory add FILE|-`: add one document, or re-index the owner's document with
 * the same id at origin. The text is extracted by file format (extension; for standard input,
 * --type), as `ingest` does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>

#include "buf.h"
#include "cmd.h"

static const char about[] =
    "Add a document from FILE, or from standard input with \"-\". Adding a document with an\n"
    "id at origin the owner already has re-indexes that document (same document id).\n"
    "Text is extracted by the file's extension: .txt and .md as UTF-8 (else Latin-1),\n"
    ".html/.htm as HTML, .pdf as PDF; standard input as --type says (html, pdf, else text).\n";

int cli_cmd_add(cli_ctx *ctx, int argc, char **argv)
{
    lm_doc_add_opts opts;
    lm_doc_type type = LM_DOC_TEXT;
    json_t *meta = NULL;
    const char *owner_opt = NULL, *origin = NULL, *name = NULL, *owner = NULL, *path;
    int has_type = 0, json = 0, nargs, rc, status = CLI_EXIT_USAGE;
    const cli_opt table[] = {
        CLI_OWNER(&owner_opt, "owner (tenant) of the document; default $LLMEMORY_OWNER"),
        CLI_STRING(0, "origin", "ID", &origin,
                   "id at origin: the owner's key for the document; default the\n"
                   "file's name (other bytes than these become \"_\"); required for\n"
                   "standard input. Letters, digits and _ - . @ | : / only, at\n"
                   "most 255 bytes"),
        CLI_CALL('t', "type", "TYPE", &type, &has_type, cli_opt_doc_type,
                 "document type (pdf, markdown, code, text, html, docx, email,\n"
                 "report, chat, presentation, legal_document, technical_doc,\n"
                 "business_report, unknown); default from the extension"),
        CLI_STRING(0, "name", "NAME", &name,
                   "document name; default the title (HTML <title>, markdown\n"
                   "\"# Title\" first line), else the file name"),
        CLI_STRING(0, "date", "DATE", &opts.document_date,
                   "document date, ISO 8601 (2024-05-01 or 2024-05-01T10:00:00Z)"),
        CLI_META(&meta, "metadata; KEY:=JSON gives a JSON value"),
        CLI_STRING(0, "config", "NAME", &opts.text_config,
                   "text search configuration (default: the memory's, \"english\")"),
        CLI_CALL(0, "strategy", "NAME", &opts.strategy, NULL, cli_opt_strategy,
                 "chunking: hierarchical (default) or semantic"),
        CLI_JSON(&json, "print the result as JSON"),
        CLI_END};
    const cli_spec spec = {.usage = "llmemory add [OPTION]... FILE\n"
                                    "llmemory add [OPTION]... --origin ID -",
                           .about = about,
                           .opts = table,
                           .missing = "no file given",
                           .min_args = 1,
                           .max_args = 1};
    lm_memory *mem = NULL;
    json_t *out = NULL;
    char *meta_text = NULL;
    lm_buf text, title, origin_buf, name_buf;
    const char *base;
    lm_doc_add_result res;
    cli_format format;
    char err[1024];
    struct stat st;

    lm_buf_init(&text);
    lm_buf_init(&title);
    lm_buf_init(&origin_buf);
    lm_buf_init(&name_buf);
    lm_doc_add_opts_init(&opts, LM_DOC_ADD_OPTS_VERSION);
    if ((status = cli_parse(ctx, &spec, argc, argv, &nargs)) != CLI_PARSED)
        goto out;
    path = argv[0];
    if ((status = cli_target_owner(ctx, owner_opt, &owner)) != 0)
        goto out;

    if (strcmp(path, "-") != 0 && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        cli_msg("\"%s\" is a directory", path);
        cli_hint("Use \"llmemory ingest\" for a directory.");
        status = CLI_EXIT_USAGE;
        goto out;
    }
    if (strcmp(path, "-") == 0) {
        if (origin == NULL) {
            status = cli_usage(ctx, "option \"--origin\" is required when reading standard input");
            goto out;
        }
        format = cli_format_of_type(has_type ? type : LM_DOC_TEXT);
        base = origin;
    } else {
        format = cli_format_of_path(path);
        if (format == CLI_FORMAT_NONE)
            format = has_type ? cli_format_of_type(type) : CLI_FORMAT_TEXT;
        base = strrchr(path, '/') != NULL ? strrchr(path, '/') + 1 : path;
        if (origin == NULL) {
            cli_origin_from_path(&origin_buf, base);
            origin = origin_buf.ptr;
        }
    }
    if (!has_type)
        type = cli_format_doc_type(format);

    rc = cli_load(&text, &title, path, format, err, sizeof(err));
    if (rc < 0) {
        /* Read errors name the file already; extraction errors do not. */
        if (rc == LM_EIO || strcmp(path, "-") == 0)
            cli_msg("%s", err);
        else
            cli_msg("could not add \"%s\": %s", path, err);
        status = rc == LM_ENOTFOUND ? CLI_EXIT_NOTFOUND : CLI_EXIT_ERROR;
        goto out;
    }
    if (name == NULL) {
        cli_put_capped(&name_buf, title.size > 0 ? title.ptr : base, LM_MAX_DOC_NAME_BYTES);
        name = name_buf.ptr;
    }
    if ((status = cli_meta_text(meta, &meta_text)) != 0)
        goto out;
    opts.metadata = meta_text;
    if (lm__buf_oom(&origin_buf) || lm__buf_oom(&name_buf)) {
        status = cli_oom();
        goto out;
    }

    if (cli_remote_on(ctx)) {
        status = cli_remote_add(ctx, owner, origin, name, type, text.ptr, text.size, &opts, json);
        goto out;
    }
    if ((status = cli_open(ctx, &mem)) != 0)
        goto out;
    rc = lm_doc_add(&res, mem, owner, origin, name, type, text.ptr, text.size, &opts);
    if (rc < 0) {
        status = cli_fail_lm(rc, NULL);
        goto out;
    }

    if (json) {
        int bad;
        out = json_object();
        bad = cli_jset(out, "document_id", cli_jstr(res.document_id));
        bad |= cli_jset(out, "owner_id", cli_jstr(owner));
        bad |= cli_jset(out, "id_at_origin", cli_jstr(origin));
        bad |= cli_jset(out, "name", cli_jstr(name));
        bad |= cli_jset(out, "type", cli_jstr(lm_doc_type_name(type)));
        bad |= cli_jset(out, "created", json_boolean(res.created));
        bad |= cli_jset(out, "chunk_count", json_integer(res.chunk_count));
        bad |= cli_jset(out, "elapsed_ms", cli_jreal(res.elapsed_ms));
        if (bad) {
            status = cli_oom();
            goto out;
        }
        status = cli_json_print(out);
        out = NULL;
        goto out;
    }
    printf("%s %s \"%s\" (%s, %d chunk%s)\n", res.created ? "added" : "re-indexed", res.document_id,
           origin, lm_doc_type_name(type), res.chunk_count, res.chunk_count == 1 ? "" : "s");
    status = CLI_EXIT_OK;
out:
    json_decref(out);
    json_decref(meta);
    free(meta_text);
    lm_buf_dispose(&text);
    lm_buf_dispose(&title);
    lm_buf_dispose(&origin_buf);
    lm_buf_dispose(&name_buf);
    lm_memory_close(mem);
    return status;
}
