/*
 * cli/cmd_get.c: `llmemory get DOCUMENT_ID` (or `--origin ID`): one of an owner's documents,
 * optionally with its chunks. Another owner's document is reported exactly like a missing one
 * (exit status 3).
 */
#include <stdio.h>
#include <stdlib.h>

#include "cmd.h"

static void print_document(const lm_document *d)
{
    char *meta = NULL;
    json_t *m = cli_jparse(d->metadata != NULL ? d->metadata : "{}");

    if (m != NULL)
        meta = cli_json_text(m);
    json_decref(m);
    printf("document_id    %s\n", d->document_id);
    printf("owner_id       %s\n", d->owner_id);
    printf("id_at_origin   %s\n", d->id_at_origin);
    printf("name           %s\n", d->name);
    printf("type           %s\n", lm_doc_type_name(d->type));
    printf("document_date  %s\n", d->document_date != NULL ? d->document_date : "(none)");
    printf("metadata       %s\n", meta != NULL ? meta : d->metadata);
    printf("text_config    %s\n", d->text_config != NULL ? d->text_config : "");
    printf("created_at     %s\n", d->created_at);
    printf("updated_at     %s\n", d->updated_at);
    printf("chunk_count    %lld\n", (long long)d->chunk_count);
    printf("content_bytes  %lld\n", (long long)d->content_bytes);
    free(meta);
}

int cli_cmd_get(cli_ctx *ctx, int argc, char **argv)
{
    const char *owner_opt = NULL, *owner = NULL, *id = NULL, *origin = NULL;
    int json = 0, with_chunks = 0, nargs, rc, bad, status = CLI_EXIT_USAGE;
    const cli_opt opts[] = {
        CLI_OWNER(&owner_opt, "owner (tenant); default $LLMEMORY_OWNER"),
        CLI_STRING(0, "origin", "ID", &origin,
                   "the document with this id at origin (the key it was added\n"
                   "with, e.g. its path) instead of DOCUMENT_ID"),
        CLI_FLAG('c', "chunks", &with_chunks, "also show the document's chunks, in document order"),
        CLI_JSON(&json, "print the document as JSON"), CLI_END};
    const cli_spec spec = {
        .usage = "llmemory get [OPTION]... DOCUMENT_ID\n"
                 "llmemory get [OPTION]... --origin ID",
        .about = "Show one of an owner's documents. Exit status 3 when the owner has no such "
                 "document.\n",
        .opts = opts,
        .max_args = 1};
    lm_memory *mem = NULL;
    lm_doc *doc = NULL;
    json_t *out = NULL, *chunks = NULL;

    if ((status = cli_parse(ctx, &spec, argc, argv, &nargs)) != CLI_PARSED)
        return status;
    if (nargs == 0 && origin == NULL)
        return cli_usage(ctx, "no document given (DOCUMENT_ID or --origin ID)");
    if (nargs > 0 && origin != NULL)
        return cli_usage(ctx, "cannot combine a document id with --origin");
    id = argv[0];
    if (id != NULL && (status = cli_check_doc_id(ctx, id)) != 0)
        return status;
    if ((status = cli_target_owner(ctx, owner_opt, &owner)) != 0)
        return status;
    if (cli_remote_on(ctx)) {
        if (origin != NULL)
            return cli_usage(ctx, "option \"--origin\" is not available with --url");
        return cli_remote_get(ctx, owner, id, with_chunks, json);
    }

    if ((status = cli_open(ctx, &mem)) != 0)
        goto out;
    rc = origin != NULL ? lm_doc_get_by_origin(&doc, mem, owner, origin, with_chunks)
                        : lm_doc_get(&doc, mem, owner, id, with_chunks);
    if (rc < 0) {
        status = cli_fail_lm(rc, NULL);
        goto out;
    }

    if (json) {
        out = cli_json_document(lm_doc_document(doc));
        if (out != NULL && with_chunks) {
            chunks = json_array();
            bad = chunks == NULL;
            for (size_t i = 0; i < lm_doc_chunk_count(doc) && !bad; i++)
                bad |= json_array_append_new(chunks, cli_json_chunk(lm_doc_chunk_at(doc, i)));
            bad |= cli_jset(out, "chunks", chunks);
            chunks = NULL;
            if (bad) {
                status = cli_oom();
                goto out;
            }
        }
        status = cli_json_print(out);
        out = NULL;
        goto out;
    }
    print_document(lm_doc_document(doc));
    for (size_t i = 0; i < lm_doc_chunk_count(doc); i++) {
        const lm_chunk *ch = lm_doc_chunk_at(doc, i);
        printf("\n--- chunk %d (level %d, %d tokens%s) %s ---\n", ch->chunk_index, ch->chunk_level,
               ch->token_count, ch->searchable ? "" : ", not searchable", ch->chunk_id);
        printf("%s\n", ch->content != NULL ? ch->content : "");
    }
    status = CLI_EXIT_OK;
out:
    json_decref(chunks);
    json_decref(out);
    lm_doc_free(doc);
    lm_memory_close(mem);
    return status;
}
