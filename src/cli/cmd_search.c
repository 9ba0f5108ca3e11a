/*
 * cli/cmd_search.c: `llmemory search QUERY`: search one owner's chunks and print the ranked hits,
 * one numbered entry each with score, document and a one-line excerpt (or all fields as JSON).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cmd.h"

static const char about[] =
    "Search one owner's documents. The words of QUERY are joined by spaces and read in\n"
    "web-search syntax: plain words are OR-ed and ranked by BM25, \"quoted phrases\" must\n"
    "appear as phrases, and -word excludes chunks containing the word. A word starting with\n"
    "\"-\" is taken as part of the query unless its first letter is one of the short options\n"
    "below (-o -n -m -t -h); put \"--\" before the query to be sure.\n";

int cli_cmd_search(cli_ctx *ctx, int argc, char **argv)
{
    lm_search_opts opts;
    cli_strv origins = {NULL, 0, 0};
    json_t *meta = NULL;
    const char *owner_opt = NULL, *owner = NULL;
    int json = 0, nargs;
    const cli_opt table[] = {
        CLI_OWNER(&owner_opt, "owner (tenant) to search; default $LLMEMORY_OWNER"),
        CLI_INT('n', "limit", "N", &opts.limit, 1, 100000, "number of results, 1-100 (default 10)"),
        CLI_LIST(0, "origin", "ID", &origins, "only the document with this id at origin"),
        CLI_META(&meta, "only documents whose metadata contains this;\n"
                        "KEY:=JSON gives a JSON value"),
        CLI_CALL('t', "type", "KIND", &opts.type, NULL, cli_opt_search_type,
                 "text (default: BM25), vector or hybrid (both, fused)"),
        {.kind = CLI_OPT_CALL, .long_name = "mode", .argname = "KIND", .dest = &opts.type,
         .fn = cli_opt_search_type, .flags = CLI_OPT_HIDDEN},
        CLI_CALL(0, "doc-type", "TYPE", &opts.doc_type, &opts.has_type, cli_opt_doc_type,
                 "only documents of this document type"),
        CLI_STRING(0, "from", "DATE", &opts.date_from,
                   "only documents dated on or after DATE (ISO 8601)"),
        CLI_STRING(0, "to", "DATE", &opts.date_to, "only documents dated on or before DATE"),
        CLI_STRING(0, "config", "NAME", &opts.text_config,
                   "text search configuration for the query"),
        CLI_CALL(0, "alpha", "A", &opts.alpha, NULL, cli_opt_fraction,
                 "hybrid weight of the vector leg, 0..1 (default 0.01 with\n"
                 "the built-in embedder, else 0.5)"),
        CLI_FLAG(0, "expand", &opts.expand, "also search keyword, OR and phrase variants (fused)"),
        CLI_FLAG(0, "rerank", &opts.rerank, "rerank the top candidates lexically"),
        CLI_FLAG(0, "with-documents", &opts.with_documents, "print each hit's document metadata"),
        CLI_INT(0, "context", "N", &opts.context_window, 1, 10,
                "attach N levels of parent chunks to each hit (JSON output)"),
        CLI_FLAG(0, "no-history", &opts.no_history,
                 "do not record this search in the owner's history"),
        CLI_JSON(&json, "print the results as JSON"),
        CLI_END};
    const cli_spec spec = {.usage = "llmemory search [OPTION]... QUERY...",
                           .about = about,
                           .opts = table,
                           .missing = "no query given",
                           .min_args = 1,
                           .max_args = -1,
                           .flags = CLI_TEXT_ARGS};
    lm_memory *mem = NULL;
    lm_results *res = NULL;
    json_t *out = NULL, *hits = NULL;
    char *meta_text = NULL;
    lm_buf query, line;
    int rc, bad, status = CLI_EXIT_USAGE;

    lm_buf_init(&query);
    lm_buf_init(&line);
    lm_search_opts_init(&opts, LM_SEARCH_OPTS_VERSION);
    if ((status = cli_parse(ctx, &spec, argc, argv, &nargs)) != CLI_PARSED)
        goto out;
    opts.include_parent_context = opts.context_window > 0;
    for (int i = 0; i < nargs; i++) {
        if (i > 0)
            lm__buf_putc(&query, ' ');
        lm__buf_puts(&query, argv[i]);
    }
    if ((status = cli_target_owner(ctx, owner_opt, &owner)) != 0)
        goto out;
    if (origins.n == 1) {
        opts.id_at_origin = origins.v[0];
    } else if (origins.n > 1) {
        opts.id_at_origins = origins.v;
        opts.n_id_at_origins = origins.n;
    }
    if ((status = cli_meta_text(meta, &meta_text)) != 0)
        goto out;
    opts.metadata_filter = meta_text;
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
        const cli_hit_scores sc = {h->score,       opts.type == LM_SEARCH_HYBRID,
                                   h->text_rank,   h->vector_rank,
                                   h->text_score,  h->vector_score};
        cli_print_hit_head(i + 1, h->document_name, h->id_at_origin, &sc);
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
    cli_strv_dispose(&origins);
    lm_buf_dispose(&query);
    lm_buf_dispose(&line);
    lm_results_free(res);
    lm_memory_close(mem);
    return status;
}
