/*
 * cli/cmd_delete.c: `llmemory delete`: delete an owner's documents by id or id at origin, or all
 * of the owner's documents whose metadata contains a filter. Prints the ids actually deleted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cmd.h"

static int was_deleted(const lm_id_list *ids, const char *id)
{
    for (size_t i = 0; i < lm_id_list_count(ids); i++) {
        const char *d = lm_id_list_at(ids, i);
        /* Ids compare case-insensitively: the database prints UUIDs in lower case. */
        if (d != NULL && strcasecmp(d, id) == 0)
            return 1;
    }
    return 0;
}

static const char about[] =
    "Delete documents of one owner, with their chunks, by id or by metadata, and print\n"
    "the ids deleted. Exit status 3 when a given id (or id at origin) is not one of the\n"
    "owner's documents (the others are still deleted).\n";

int cli_cmd_delete(cli_ctx *ctx, int argc, char **argv)
{
    json_t *meta = NULL;
    cli_strv origins = {NULL, 0, 0};
    const char *owner_opt = NULL, *owner = NULL;
    int json = 0, nargs, rc, bad, status = CLI_EXIT_USAGE;
    const cli_opt opts[] = {
        CLI_OWNER(&owner_opt, "owner (tenant); default $LLMEMORY_OWNER"),
        CLI_LIST(0, "origin", "ID", &origins,
                 "the document with this id at origin (the key it was added\n"
                 "with, e.g. its path), as well as any DOCUMENT_ID"),
        CLI_META(&meta, "delete the documents whose metadata contains this (all\n"
                        "must match); KEY:=JSON gives a JSON value"),
        CLI_JSON(&json, "print the result as JSON"), CLI_END};
    const cli_spec spec = {
        .usage = "llmemory delete [OPTION]... DOCUMENT_ID...\n"
                 "llmemory delete [OPTION]... --origin ID...\n"
                 "llmemory delete [OPTION]... --meta KEY=VALUE...",
        .about = about,
        .opts = opts,
        .max_args = -1};
    lm_memory *mem = NULL;
    lm_id_list *deleted = NULL;
    json_t *out = NULL, *arr = NULL, *missing = NULL, *missing_origins = NULL;
    char *meta_text = NULL;
    cli_strv ids = {NULL, 0, 0};
    lm_doc **found = NULL;
    size_t n_ids, n_missing = 0;

    if ((status = cli_parse(ctx, &spec, argc, argv, &nargs)) != CLI_PARSED)
        goto out;
    n_ids = (size_t)nargs;
    if (n_ids == 0 && origins.n == 0 && meta == NULL) {
        status = cli_usage(ctx, "no documents given (ids, --origin or --meta)");
        goto out;
    }
    if ((n_ids > 0 || origins.n > 0) && meta != NULL) {
        status = cli_usage(ctx, "cannot combine document ids or --origin with --meta");
        goto out;
    }
    for (int i = 0; i < nargs; i++)
        if ((status = cli_check_doc_id(ctx, argv[i])) != 0)
            goto out;
    if ((status = cli_target_owner(ctx, owner_opt, &owner)) != 0)
        goto out;
    if ((status = cli_meta_text(meta, &meta_text)) != 0)
        goto out;

    if (cli_remote_on(ctx) && origins.n > 0) {
        status = cli_usage(ctx, "option \"--origin\" is not available with --url");
        goto out;
    }
    if (cli_remote_on(ctx)) {
        status = cli_remote_delete(ctx, owner, (const char *const *)argv, n_ids,
                                   meta_text, json);
        goto out;
    }
    if ((status = cli_open(ctx, &mem)) != 0)
        goto out;
    /* Ids at origin become document ids first; one the owner does not have is "not found". */
    missing_origins = json_array();
    found = calloc(origins.n + 1, sizeof(*found));
    if (missing_origins == NULL || found == NULL) {
        status = cli_oom();
        goto out;
    }
    for (int i = 0; i < nargs; i++)
        if (cli_strv_push(&ids, argv[i]) < 0) {
            status = cli_oom();
            goto out;
        }
    for (size_t i = 0; i < origins.n; i++) {
        rc = lm_doc_get_by_origin(&found[i], mem, owner, origins.v[i], 0);
        if (rc == LM_ENOTFOUND) {
            n_missing++;
            if (json_array_append_new(missing_origins, cli_jstr(origins.v[i])) != 0) {
                status = cli_oom();
                goto out;
            }
            continue;
        }
        if (rc < 0) {
            status = cli_fail_lm(rc, NULL);
            goto out;
        }
        if (cli_strv_push(&ids, lm_doc_document(found[i])->document_id) < 0) {
            status = cli_oom();
            goto out;
        }
    }
    if (ids.n > 0 || meta_text != NULL)
        rc = lm_doc_delete(&deleted, mem, owner, ids.v, ids.n, meta_text);
    else
        rc = 0; /* only ids at origin, none of them found */
    if (rc < 0) {
        status = cli_fail_lm(rc, NULL);
        goto out;
    }

    out = json_object();
    arr = json_array();
    missing = json_array();
    bad = out == NULL || arr == NULL || missing == NULL;
    for (size_t i = 0; i < lm_id_list_count(deleted) && !bad; i++)
        bad |= json_array_append_new(arr, cli_jstr(lm_id_list_at(deleted, i)));
    for (int i = 0; i < nargs && !bad; i++) {
        if (was_deleted(deleted, argv[i]))
            continue;
        n_missing++;
        bad |= json_array_append_new(missing, cli_jstr(argv[i]));
    }
    if (bad) {
        status = cli_oom();
        goto out;
    }
    status = n_missing > 0 ? CLI_EXIT_NOTFOUND : CLI_EXIT_OK;
    if (json) {
        bad = cli_jset(out, "owner_id", cli_jstr(owner));
        bad |= cli_jset(out, "deleted", json_incref(arr));
        bad |= cli_jset(out, "not_found", json_incref(missing));
        if (origins.n > 0)
            bad |= cli_jset(out, "not_found_origins", json_incref(missing_origins));
        if (bad) {
            status = cli_oom();
            goto out;
        }
        rc = cli_json_print(out);
        out = NULL;
        if (rc != 0)
            status = rc;
    } else {
        for (size_t i = 0; i < lm_id_list_count(deleted); i++)
            printf("deleted %s\n", lm_id_list_at(deleted, i));
        printf("%zu document%s deleted\n", lm_id_list_count(deleted),
               lm_id_list_count(deleted) == 1 ? "" : "s");
    }
    for (int i = 0; i < nargs; i++)
        if (!was_deleted(deleted, argv[i]))
            cli_msg("document \"%s\" does not exist", argv[i]);
    for (size_t i = 0; i < json_array_size(missing_origins); i++)
        cli_msg("document with id at origin \"%s\" does not exist",
                json_string_value(json_array_get(missing_origins, i)));
out:
    json_decref(arr);
    json_decref(missing);
    json_decref(missing_origins);
    for (size_t i = 0; found != NULL && i < origins.n; i++)
        lm_doc_free(found[i]);
    free(found);
    cli_strv_dispose(&ids);
    cli_strv_dispose(&origins);
    json_decref(out);
    json_decref(meta);
    free(meta_text);
    lm_id_list_free(deleted);
    lm_memory_close(mem);
    return status;
}
