/*
 * cli/cmd_list.c: `llmemory list`: one page of an owner's documents, newest first by default,
 * and the total number that match the filters.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

static const char help[] =
    "Usage: llmemory list [OPTION]...\n"
    "\n"
    "List one owner's documents (one page) and the number that match.\n"
    "\n"
    "Options:\n"
    "  -o, --owner OWNER    owner (tenant); default $LLMEMORY_OWNER\n"
    "  -n, --limit N        documents per page, 0-100 (default 20)\n"
    "      --offset N       skip the first N documents (default 0)\n"
    "      --order KEY      created_at (default), updated_at or name\n"
    "      --asc            oldest (or A-Z) first; default newest (or Z-A) first\n"
    "  -t, --type TYPE      only documents of this type\n"
    "  -m, --meta KEY=VALUE only documents whose metadata contains this (repeatable);\n"
    "                       KEY:=JSON gives a JSON value\n"
    "      --json           print the page as JSON\n"
    "  -h, --help           print this help and exit\n";

enum { OPT_OFFSET = 256, OPT_ORDER, OPT_ASC, OPT_JSON };

int cli_cmd_list(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {{"owner", required_argument, NULL, 'o'},
                                             {"limit", required_argument, NULL, 'n'},
                                             {"offset", required_argument, NULL, OPT_OFFSET},
                                             {"order", required_argument, NULL, OPT_ORDER},
                                             {"asc", no_argument, NULL, OPT_ASC},
                                             {"type", required_argument, NULL, 't'},
                                             {"meta", required_argument, NULL, 'm'},
                                             {"json", no_argument, NULL, OPT_JSON},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    lm_memory *mem = NULL;
    lm_doc_page *page = NULL;
    json_t *meta = NULL, *out = NULL, *docs = NULL;
    char *meta_text = NULL;
    lm_doc_list_opts opts;
    const char *owner_opt = NULL, *owner = NULL;
    long v;
    int json = 0, c, rc, bad, status = CLI_EXIT_USAGE;

    lm_doc_list_opts_init(&opts, LM_DOC_LIST_OPTS_VERSION);
    if ((meta = json_object()) == NULL) {
        status = cli_oom();
        goto out;
    }
    while ((c = cli_getopt(ctx, argc, argv, ":o:n:t:m:h", longopts)) != -1) {
        switch (c) {
        case 'o':
            owner_opt = optarg;
            break;
        case 'n':
            if ((status = cli_parse_long(ctx, "--limit", optarg, 0, 100000, &v)) != 0)
                goto out;
            opts.limit = (int)v;
            break;
        case OPT_OFFSET:
            if ((status = cli_parse_long(ctx, "--offset", optarg, 0, 2147483647L, &v)) != 0)
                goto out;
            opts.offset = v;
            break;
        case OPT_ORDER:
            if (strcmp(optarg, "created_at") == 0) {
                opts.order_by = LM_ORDER_CREATED_AT;
            } else if (strcmp(optarg, "updated_at") == 0) {
                opts.order_by = LM_ORDER_UPDATED_AT;
            } else if (strcmp(optarg, "name") == 0) {
                opts.order_by = LM_ORDER_DOCUMENT_NAME;
            } else {
                status =
                    cli_usage(ctx, "invalid order \"%s\" (created_at, updated_at or name)", optarg);
                goto out;
            }
            break;
        case OPT_ASC:
            opts.ascending = 1;
            break;
        case 't':
            if ((status = cli_parse_type(ctx, optarg, &opts.type)) != 0)
                goto out;
            opts.has_type = 1;
            break;
        case 'm':
            if ((status = cli_parse_meta(ctx, meta, optarg)) != 0)
                goto out;
            break;
        case OPT_JSON:
            json = 1;
            break;
        case 'h':
            status = cli_help(help);
            goto out;
        default:
            status = CLI_EXIT_USAGE;
            goto out;
        }
    }
    if (optind < argc) {
        status = cli_usage(ctx, "too many arguments");
        goto out;
    }
    if ((status = cli_target_owner(ctx, owner_opt, &owner)) != 0)
        goto out;
    if (json_object_size(meta) > 0) {
        if ((meta_text = cli_json_text(meta)) == NULL) {
            status = cli_oom();
            goto out;
        }
        opts.metadata_filter = meta_text;
    }

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
