/*
 * cli/cmd_models.c: `llmemory models list|path|verify`: the installed sentence-embedding models
 * (include/llmemory/models.h has the logic).
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"

static const char about[] =
    "The sentence-embedding models that the local embedder (LLMEMORY_EMBEDDER=local) loads.\n"
    "scripts/models.sh installs them with pinned checksums. Models are looked up in\n"
    "$LLMEMORY_MODELS_DIR when it is set, else in $LLMEMORY_HOME/models, then in\n"
    LM_MODELS_SYSTEM_DIR ".\n"
    "\n"
    "  list     every installed model: name, package, directory\n"
    "  path     the directory of model NAME (default " LM_DEFAULT_MODEL "); exit 3 when it is\n"
    "           not installed\n"
    "  verify   check the files of each model (default " LM_DEFAULT_MODEL "), against the\n"
    "           pinned checksums when llmemory knows the model\n";

static int do_list(int json)
{
    lm_model_info *list = NULL;
    size_t n = 0;
    int rc, status = CLI_EXIT_OK;
    lm_buf path = LM_BUF_INIT;

    if ((rc = lm_models_list(&list, &n)) < 0)
        return cli_fail_lm(rc, NULL);
    if (json) {
        json_t *arr = json_array(), *dirs = json_array(), *out = json_object();
        int bad = arr == NULL || dirs == NULL || out == NULL;
        for (size_t i = 0; i < n && !bad; i++) {
            json_t *m = json_object();
            bad |= m == NULL || json_array_append_new(arr, m) != 0;
            if (bad)
                break;
            bad |= cli_jset(m, "name", cli_jstr(list[i].name));
            bad |= cli_jset(m, "path", cli_jstr(list[i].path));
            bad |= cli_jset(m, "package", cli_jstr(list[i].package));
            bad |= cli_jset(m, "shadowed", json_boolean(list[i].shadowed));
        }
        if (!bad && (rc = lm_models_search_path(&path)) < 0) {
            json_decref(arr);
            json_decref(dirs);
            json_decref(out);
            lm_models_list_free(list, n);
            return cli_fail_lm(rc, NULL);
        }
        for (char *line = path.ptr, *nl; !bad && (nl = strchr(line, '\n')) != NULL;
             line = nl + 1) {
            *nl = '\0';
            bad |= json_array_append_new(dirs, cli_jstr(line)) != 0;
        }
        bad |= cli_jset(out, "models", arr);
        arr = NULL;
        bad |= cli_jset(out, "search_path", dirs);
        dirs = NULL;
        if (bad) {
            json_decref(out);
            status = cli_oom();
        } else {
            status = cli_json_print(out);
        }
        lm_buf_dispose(&path);
        lm_models_list_free(list, n);
        return status;
    }
    if (n == 0) {
        printf("no models installed (install one with scripts/models.sh)\n");
    }
    for (size_t i = 0; i < n; i++)
        printf("%-24s %-30s %s%s\n", list[i].name, list[i].package ? list[i].package : "-",
               list[i].path, list[i].shadowed ? " (shadowed)" : "");
    lm_models_list_free(list, n);
    return cli_finish(status);
}

int cli_cmd_models(cli_ctx *ctx, int argc, char **argv)
{
    int json = 0, nargs, rc, status = CLI_EXIT_OK, next = 0;
    const cli_opt opts[] = {CLI_JSON(&json, "print the result as JSON"), CLI_END};
    const cli_spec spec = {.usage = "llmemory models [list] [--json]\n"
                                    "llmemory models path [NAME]\n"
                                    "llmemory models verify [NAME|DIR]...",
                           .about = about,
                           .opts = opts,
                           .max_args = -1};

    if ((rc = cli_parse(ctx, &spec, argc, argv, &nargs)) != CLI_PARSED)
        return rc;
    argc = nargs;
    const char *verb = next < argc ? argv[next++] : "list";
    if (strcmp(verb, "list") == 0) {
        if (next < argc)
            return cli_usage(ctx, "too many arguments");
        return do_list(json);
    }
    if (strcmp(verb, "path") == 0) {
        if (argc - next > 1)
            return cli_usage(ctx, "too many arguments");
        lm_buf dir = LM_BUF_INIT;
        if ((rc = lm_model_find(&dir, next < argc ? argv[next] : NULL)) < 0) {
            lm_buf_dispose(&dir);
            return cli_fail_lm(rc, NULL);
        }
        printf("%s\n", dir.ptr);
        lm_buf_dispose(&dir);
        return cli_finish(CLI_EXIT_OK);
    }
    if (strcmp(verb, "verify") == 0) {
        int first = next, count = argc - next > 0 ? argc - next : 1;
        for (int i = 0; i < count; i++) {
            const char *m = first < argc ? argv[first + i] : NULL;
            int files = 0;
            if ((rc = lm_model_verify(m, &files)) < 0) {
                status = cli_fail_lm(rc, NULL);
                continue;
            }
            printf("%s: ok (%d files checked)\n", m ? m : LM_DEFAULT_MODEL, files);
        }
        return cli_finish(status);
    }
    return cli_usage(ctx, "unknown models command \"%s\"", verb);
}
