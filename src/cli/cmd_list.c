/*
 * cli/cmd_list.c: `llmemory list`: one page of an owner's documents, newest first by default,
 * and the total number that match the filters.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

/* --order */
static int opt_order(cli_ctx *ctx, const cli_opt *opt, const char *arg)
{
    lm_doc_order *out = opt->dest;

    if (strcmp(arg, "created_at") == 0)
        *out = LM_ORDER_CREATED_AT;
    else if (strcmp(arg, "updated_at") == 0)
        *out = LM_ORDER_UPDATED_AT;
    else if (strcmp(arg, "name") == 0)
        *out = LM_ORDER_DOCUMENT_NAME;
    else
        return cli_usage(ctx, "invalid order \"%s\" (created_at, updated_at or name)", arg);
    return 0;
}

int cli_cmd_list(cli_ctx *ctx, int argc, char **argv)
{
    lm_doc_list_opts opts;
    json_t *meta = NULL;
    const char *owner_opt = NULL, *owner = NULL;
    int json = 0, nargs, rc, bad, status = CLI_EXIT_USAGE;
    const cli_opt table[] = {
        CLI_OWNER(&owner_opt, "owner (tenant); default $LLMEMORY_OWNER"),
        CLI_INT('n', "limit", "N", &opts.limit, 0, 100000,
                "documents per page, 0-100 (default 20)"),
        CLI_INT64(0, "offset", "N", &opts.offset, 0, 2147483647LL,
                  "skip the first N documents (default 0)"),
        CLI_CALL(0, "order", "KEY", &opts.order_by, NULL, opt_order,
                 "created_at (default), updated_at or name"),
        CLI_FLAG(0, "asc", &opts.ascending,
                 "oldest (or A-Z) first; default newest (or Z-A) first"),
        CLI_CALL('t', "type", "TYPE", &opts.type, &opts.has_type, cli_opt_doc_type,
                 "only documents of this type"),
        CLI_META(&meta, "only documents whose metadata contains this;\n"
                        "KEY:=JSON gives a JSON value"),
        CLI_JSON(&json, "print the page as JSON"),
        CLI_END};
    const cli_spec spec = {
        .usage = "llmemory list [OPTION]...",
        .about = "List one owner's documents (one page) and the number that match.\n",
        .opts = table,
        .max_args = 0};
    lm_memory *mem = NULL;
    lm_doc_page *page = NULL;
    json_t *out = NULL, *docs = NULL;
    char *meta_text = NULL;

    lm_doc_list_opts_init(&opts, LM_DOC_LIST_OPTS_VERSION);
    if ((status = cli_parse(ctx, &spec, argc, argv, &nargs)) != CLI_PARSED)
        goto out;
    if ((status = cli_target_owner(ctx, owner_opt, &owner)) != 0)
        goto out;
    if ((status = cli_meta_text(meta, &meta_text)) != 0)
        goto out;
    opts.metadata_filter = meta_text;

    if (cli_remote_on(ctx)) {
        status = cli_remote_list(ctx, owner, &opts, json);
        goto out;
    }
    if ((status = cli_open(ctx, &mem)) != 0)
        goto out;
    rc = lm_doc_list(&page, mem, owner, &opts);
    if (rc < 0) {
        status = cli_fail_lm(rc, NULL);
        goto out;
    }

    if (json) {
        out = json_object();
        docs = json_array();
        bad = cli_jset(out, "owner_id", cli_jstr(owner));
        bad |= cli_jset(out, "total", json_integer((json_int_t)lm_doc_page_total(page)));
        bad |= cli_jset(out, "offset", json_integer((json_int_t)opts.offset));
        bad |= cli_jset(out, "limit", json_integer(opts.limit));
        bad |= cli_jset(out, "count", json_integer((json_int_t)lm_doc_page_count(page)));
        for (size_t i = 0; i < lm_doc_page_count(page) && !bad; i++)
            bad |= json_array_append_new(docs, cli_json_document(lm_doc_page_at(page, i)));
        bad |= cli_jset(out, "documents", docs);
        docs = NULL;
        if (bad) {
            status = cli_oom();
            goto out;
        }
        status = cli_json_print(out);
        out = NULL;
        goto out;
    }
    for (size_t i = 0; i < lm_doc_page_count(page); i++) {
        const lm_document *d = lm_doc_page_at(page, i);
        char tbuf[20];
        printf("%s  %-8s  %s  %s  \"%s\"\n", d->document_id, lm_doc_type_name(d->type),
               cli_short_time(tbuf,
                              opts.order_by == LM_ORDER_UPDATED_AT ? d->updated_at : d->created_at),
               d->id_at_origin, d->name);
    }
    if (lm_doc_page_count(page) == 0)
        printf("%lld document%s (none on this page)\n", (long long)lm_doc_page_total(page),
               lm_doc_page_total(page) == 1 ? "" : "s");
    else
        printf("documents %lld-%lld of %lld\n", (long long)opts.offset + 1,
               (long long)opts.offset + (long long)lm_doc_page_count(page),
               (long long)lm_doc_page_total(page));
    status = CLI_EXIT_OK;
out:
    json_decref(docs);
    json_decref(out);
    json_decref(meta);
    free(meta_text);
    lm_doc_page_free(page);
    lm_memory_close(mem);
    return status;
}
