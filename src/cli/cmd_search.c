/*
 * cli/cmd_search.c: `llmemory search QUERY`: search one owner's chunks and print the ranked hits,
 * one numbered entry each with score, document and a one-line excerpt (or all fields as JSON).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cmd.h"

static const char help[] =
    "Usage: llmemory search [OPTION]... QUERY...\n"
    "\n"
    "Search one owner's documents. The words of QUERY are joined by spaces and read in\n"
    "web-search syntax: plain words are OR-ed and ranked by BM25, \"quoted phrases\" must\n"
    "appear as phrases, and -word excludes chunks containing the word. Quote the query, or\n"
    "put \"--\" before it, when it starts with \"-\".\n"
    "\n"
    "Options:\n"
    "  -o, --owner OWNER    owner (tenant) to search; default $LLMEMORY_OWNER\n"
    "  -n, --limit N        number of results, 1-100 (default 10)\n"
    "      --origin ID      only the document with this id at origin (repeatable)\n"
    "  -m, --meta KEY=VALUE only documents whose metadata contains this (repeatable);\n"
    "                       KEY:=JSON gives a JSON value\n"
    "  -t, --type KIND      text (default: BM25), vector or hybrid (both, fused)\n"
    "      --doc-type TYPE  only documents of this document type\n"
    "      --from DATE      only documents dated on or after DATE (ISO 8601)\n"
    "      --to DATE        only documents dated on or before DATE\n"
    "      --config NAME    text search configuration for the query\n"
    "      --alpha A        hybrid weight of the vector leg, 0..1 (default 0.01 with\n"
    "                       the built-in embedder, else 0.5)\n"
    "      --expand         also search keyword, OR and phrase variants (fused)\n"
    "      --rerank         rerank the top candidates lexically\n"
    "      --with-documents print each hit's document metadata\n"
    "      --context N      attach N levels of parent chunks to each hit (JSON output)\n"
    "      --no-history     do not record this search in the owner's history\n"
    "      --json           print the results as JSON\n"
    "  -h, --help           print this help and exit\n";

enum {
    OPT_ORIGIN = 256,
    OPT_FROM,
    OPT_TO,
    OPT_CONFIG,
    OPT_MODE,
    OPT_NO_HISTORY,
    OPT_JSON,
    OPT_DOC_TYPE,
    OPT_ALPHA,
    OPT_EXPAND,
    OPT_RERANK,
    OPT_WITH_DOCS,
    OPT_CONTEXT
};

int cli_cmd_search(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {{"owner", required_argument, NULL, 'o'},
                                             {"limit", required_argument, NULL, 'n'},
                                             {"origin", required_argument, NULL, OPT_ORIGIN},
                                             {"meta", required_argument, NULL, 'm'},
                                             {"type", required_argument, NULL, 't'},
                                             {"doc-type", required_argument, NULL, OPT_DOC_TYPE},
                                             {"alpha", required_argument, NULL, OPT_ALPHA},
                                             {"expand", no_argument, NULL, OPT_EXPAND},
                                             {"rerank", no_argument, NULL, OPT_RERANK},
                                             {"with-documents", no_argument, NULL, OPT_WITH_DOCS},
                                             {"context", required_argument, NULL, OPT_CONTEXT},
                                             {"from", required_argument, NULL, OPT_FROM},
                                             {"to", required_argument, NULL, OPT_TO},
                                             {"config", required_argument, NULL, OPT_CONFIG},
                                             {"mode", required_argument, NULL, OPT_MODE},
                                             {"no-history", no_argument, NULL, OPT_NO_HISTORY},
                                             {"json", no_argument, NULL, OPT_JSON},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    lm_memory *mem = NULL;
    lm_results *res = NULL;
    json_t *meta = NULL, *out = NULL, *hits = NULL;
    char *meta_text = NULL;
    const char **origins = NULL;
    size_t n_origins = 0;
    lm_buf query, line;
    lm_search_opts opts;
    const char *owner_opt = NULL, *owner = NULL;
    long limit;
    int json = 0, c, rc, bad, status = CLI_EXIT_USAGE;

    lm_buf_init(&query);
    lm_buf_init(&line);
    lm_search_opts_init(&opts, LM_SEARCH_OPTS_VERSION);
    meta = json_object();
    origins = calloc((size_t)argc + 1, sizeof(*origins));
    if (meta == NULL || origins == NULL) {
        status = cli_oom();
        goto out;
    }

    while ((c = cli_getopt(ctx, argc, argv, ":o:n:m:t:h", longopts)) != -1) {
        switch (c) {
        case 'o':
            owner_opt = optarg;
            break;
        case 'n':
            if ((status = cli_parse_long(ctx, "--limit", optarg, 1, 100000, &limit)) != 0)
                goto out;
            opts.limit = (int)limit;
            break;
        case OPT_ORIGIN:
            origins[n_origins++] = optarg;
            break;
        case 'm':
            if ((status = cli_parse_meta(ctx, meta, optarg)) != 0)
                goto out;
            break;
        case OPT_DOC_TYPE:
            if ((status = cli_parse_type(ctx, optarg, &opts.doc_type)) != 0)
                goto out;
            opts.has_type = 1;
            break;
        case OPT_ALPHA: {
            char *end = NULL;
            opts.alpha = strtod(optarg, &end);
            if (end == optarg || *end != '\0' || !(opts.alpha >= 0 && opts.alpha <= 1)) {
                status = cli_usage(ctx, "invalid --alpha \"%s\" (a number from 0 to 1)", optarg);
                goto out;
            }
            break;
        }
        case OPT_EXPAND:
            opts.expand = 1;
            break;
        case OPT_RERANK:
            opts.rerank = 1;
            break;
        case OPT_WITH_DOCS:
            opts.with_documents = 1;
            break;
        case OPT_CONTEXT:
            if ((status = cli_parse_long(ctx, "--context", optarg, 1, 10, &limit)) != 0)
                goto out;
            opts.include_parent_context = 1;
            opts.context_window = (int)limit;
            break;
        case OPT_FROM:
            opts.date_from = optarg;
            break;
        case OPT_TO:
            opts.date_to = optarg;
            break;
        case OPT_CONFIG:
            opts.text_config = optarg;
            break;
        case 't':
        case OPT_MODE:
            if (lm_search_type_parse(&opts.type, optarg) < 0) {
                status =
                    cli_usage(ctx, "invalid search type \"%s\" (text, vector or hybrid)", optarg);
                goto out;
            }
            break;
        case OPT_NO_HISTORY:
            opts.no_history = 1;
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
    if (optind >= argc) {
        status = cli_usage(ctx, "no query given");
        goto out;
    }
    for (int i = optind; i < argc; i++) {
        if (i > optind)
            lm__buf_putc(&query, ' ');
        lm__buf_puts(&query, argv[i]);
    }
    if ((status = cli_target_owner(ctx, owner_opt, &owner)) != 0)
        goto out;
    if (n_origins == 1) {
        opts.id_at_origin = origins[0];
    } else if (n_origins > 1) {
        opts.id_at_origins = origins;
        opts.n_id_at_origins = n_origins;
    }
    if (json_object_size(meta) > 0) {
        if ((meta_text = cli_json_text(meta)) == NULL) {
            status = cli_oom();
            goto out;
        }
        opts.metadata_filter = meta_text;
    }
    if (lm__buf_oom(&query)) {
        status = cli_oom();
        goto out;
    }

    if (cli_remote_on(ctx)) {
        status = cli_remote_search(ctx, owner, query.ptr, &opts, json);
        goto out;
    }
    if ((status = cli_open(ctx, &mem)) != 0)
        goto out;
    rc = lm_search(&res, mem, owner, query.ptr, &opts);
    if (rc < 0) {
        status = cli_fail_lm(rc, NULL);
        goto out;
    }

    if (json) {
        out = json_object();
        hits = json_array();
        bad = cli_jset(out, "query", cli_jstr(query.ptr));
        bad |= cli_jset(out, "owner_id", cli_jstr(owner));
        bad |= cli_jset(out, "mode", cli_jstr(lm_search_type_name(opts.type)));
        bad |= cli_jset(out, "count", json_integer((json_int_t)lm_results_count(res)));
        bad |= cli_jset(out, "elapsed_ms", cli_jreal(lm_results_elapsed_ms(res)));
        for (size_t i = 0; i < lm_results_count(res) && !bad; i++)
            bad |= json_array_append_new(hits, cli_json_hit(lm_results_at(res, i)));
        bad |= cli_jset(out, "results", hits);
        hits = NULL;
        if (bad) {
            status = cli_oom();
            goto out;
        }
        status = cli_json_print(out);
        out = NULL;
        goto out;
    }
    if (lm_results_count(res) == 0)
        printf("no results\n");
    for (size_t i = 0; i < lm_results_count(res); i++) {
        const lm_hit *h = lm_results_at(res, i);
        printf("%zu. [%.3f] %s (%s)\n", i + 1, h->score,
               h->document_name != NULL ? h->document_name : "",
               h->id_at_origin != NULL ? h->id_at_origin : "");
        if (opts.type == LM_SEARCH_HYBRID)
            printf("   text rank %d (%.3f), vector rank %d (%.3f)\n", h->text_rank, h->text_score,
                   h->vector_rank, h->vector_score);
        if (h->document_metadata != NULL)
            printf("   document: %s %s\n", lm_doc_type_name(h->document_type), h->document_metadata);
        lm__buf_clear(&line);
        cli_excerpt(&line, h->content, CLI_EXCERPT_BYTES);
        if (!lm__buf_oom(&line))
            printf("   %s\n", line.ptr);
    }
    status = CLI_EXIT_OK;
out:
    json_decref(hits);
    json_decref(out);
    json_decref(meta);
    free(meta_text);
    free(origins);
    lm_buf_dispose(&query);
    lm_buf_dispose(&line);
    lm_results_free(res);
    lm_memory_close(mem);
    return status;
}
