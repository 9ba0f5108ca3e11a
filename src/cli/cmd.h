/*
 * cli/cmd.h: what the parts of the llmemory program share: the per-run context, the commands,
 * exit statuses, and helpers for options, error messages, JSON output and text extraction.
 * The program sees only the public API (include/llmemory.h) and src/lib/core helpers; anything
 * more it needs must become public API first.
 */
#ifndef CLI_CMD_H
#define CLI_CMD_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "llmemory.h"

#define CLI_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* Exit statuses. Library codes map onto them in one table (errors.c); `llmemory --help` and
   docs/cli.md print the same table. */
enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_ERROR = 1,       /* runtime failure; some file of an ingest failed */
    CLI_EXIT_USAGE = 2,       /* bad command line, or an argument the library rejected */
    CLI_EXIT_NOTFOUND = 3,    /* the tenant has no such document */
    CLI_EXIT_UNAVAILABLE = 4, /* the database could not be reached or started */
};

/* Largest file `add` and `ingest` read; PDFs may be much larger than the text they hold. */
#define CLI_MAX_FILE_BYTES ((size_t)256 * 1024 * 1024)
/* Length of the one-line excerpt `search` prints per result. */
#define CLI_EXCERPT_BYTES 160

/* Options that apply to every command (before or after it), and the running command. */
typedef struct cli_ctx {
    const char *database_url; /* --database-url, or NULL for the library's default */
    const char *home;         /* --home, or NULL */
    const char *schema;       /* --schema, or NULL */
    int verbose;              /* number of -v */
    const char *cmd;          /* name of the running command, for hints */
    const char *url;          /* --url or $LLMEMORY_URL: talk to this server (remote mode) */
    const char *api_key;      /* --key or $LLMEMORY_API_KEY: the credential for --url */
} cli_ctx;

typedef int (*cli_cmd_fn)(cli_ctx *ctx, int argc, char **argv);

/* ---- commands (cmd_<verb>.c); argv[0] is the command name; return an exit status ---- */
int cli_cmd_init(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_add(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_ingest(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_search(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_list(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_get(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_delete(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_stats(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_history(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_erase(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_db(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_embed(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_eval(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_serve(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_keys(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_optimize(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_mcp(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_models(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_reembed(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_export(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_import(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_quota(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_audit(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_cluster(cli_ctx *ctx, int argc, char **argv);
/* lm_progress_cb of export and import: a progress bar on stderr; @p payload is the verb. */
void cli_progress(int64_t done, int64_t total, void *payload);

/* ---- errors and stderr (errors.c) ---- */

/* Exit status for a library code (the one table). A path named on the command line that does
   not exist is CLI_EXIT_NOTFOUND (cli_path_status); one of the wrong kind (a file for ingest, a
   directory for add) is CLI_EXIT_USAGE; one that exists but cannot be read is CLI_EXIT_ERROR. */
int cli_exit_status(int lm_code);
/* Exit status for a path that could not be opened or examined, by its errno. */
int cli_path_status(int err);
/* Print the exit status table, one "  N  meaning" line each, to @p f. */
void cli_exit_table_print(FILE *f);
/* "llmemory: <message>" on stderr. */
void cli_msg(const char *fmt, ...) CLI_PRINTF(1, 2);
/* "detail: <sentence>" and "hint: <sentence>" lines on stderr. */
void cli_detail(const char *fmt, ...) CLI_PRINTF(1, 2);
void cli_hint(const char *fmt, ...) CLI_PRINTF(1, 2);
/* Print lm_error_last() (prefixed by @p prefix + ": " when not NULL) with its detail and hint;
   return the exit status for @p rc. */
int cli_fail_lm(int rc, const char *prefix);
/* When @p id is not a document id (a UUID): print 'invalid document_id "ID"' with a hint to use
   "llmemory CMD --origin ID" and return 2 (as the library would, with the hint added); else 0. */
int cli_check_doc_id(const cli_ctx *ctx, const char *id);
/* Usage error of the running command: message, then a hint naming its --help. Returns 2. */
int cli_usage(const cli_ctx *ctx, const char *fmt, ...) CLI_PRINTF(2, 3);
/* "out of memory" and 1. */
int cli_oom(void);
/* Library log sink: "llmemory: <level>: <msg>" on stderr. */
void cli_log(int level, const char *msg, void *payload);
/* One redrawable status line on stderr (a terminal): every other stderr print clears it. */
void cli_status_line(const char *text);
void cli_status_clear(void);
/* Flush stdout; on a write error print it and return 1, else @p status. */
int cli_finish(int status);

/* ---- option tables (opt.c) ----
 *
 * Each command describes its options in one table of cli_opt (name, short name, kind of value,
 * where the value goes, help line) and hands it to cli_parse(), which parses argv the way
 * getopt_long does (options and arguments in any order, "--long=VALUE", "--long VALUE", "-xVALUE",
 * bundled flags "-ch", unique prefixes of long names, "--" ends the options), prints the usage
 * errors, and prints --help from the same table, so help and behaviour cannot drift. -h/--help is
 * part of every table without being listed. */

typedef enum cli_opt_kind {
    CLI_OPT_END = 0, /* ends a table */
    CLI_OPT_GROUP,   /* a heading in --help ("Listening:"); parses nothing */
    CLI_OPT_FLAG,    /* no value: the int at dest becomes 1 */
    CLI_OPT_STRING,  /* a value: the const char * at dest points to it (the last one given) */
    CLI_OPT_INT,     /* an integer in [min, max] into the int at dest */
    CLI_OPT_INT64,   /* ... into the int64_t at dest */
    CLI_OPT_LIST,    /* repeatable value: appended to the cli_strv at dest */
    CLI_OPT_META,    /* repeatable KEY=VALUE or KEY:=JSON into the json_t * object at dest,
                        created on first use */
    CLI_OPT_CALL,    /* a value handed to fn, which checks it and stores it at dest */
    CLI_OPT_HELP     /* -h, --help (added by cli_parse; not used in tables) */
} cli_opt_kind;

/* Option flags. */
#define CLI_OPT_HIDDEN 0x1 /* parsed but not shown by --help (an old spelling) */

typedef struct cli_opt cli_opt;
/* Check @p arg given to @p opt and store it at opt->dest. 0, or an exit status (printed). */
typedef int (*cli_opt_fn)(cli_ctx *ctx, const cli_opt *opt, const char *arg);

struct cli_opt {
    cli_opt_kind kind;
    int short_name;        /* 'o', or 0 */
    const char *long_name; /* "owner" (without the dashes), or NULL */
    const char *argname;   /* the value in --help ("OWNER"); NULL for flags */
    void *dest;            /* where the value goes (see the kinds) */
    const char *help;      /* what it does; "\n" starts a continuation line */
    int *given;            /* set to 1 when the option appears, or NULL */
    long long min, max;    /* the range of the integer kinds */
    cli_opt_fn fn;         /* CLI_OPT_CALL */
    unsigned flags;        /* CLI_OPT_HIDDEN */
};

/* Table entries. The help of CLI_LIST and CLI_META gets " (repeatable)" appended. */
#define CLI_END {.kind = CLI_OPT_END}
#define CLI_GROUP(title) {.kind = CLI_OPT_GROUP, .help = (title)}
#define CLI_FLAG(s, l, d, h)                                                                   \
    {.kind = CLI_OPT_FLAG, .short_name = (s), .long_name = (l), .dest = (d), .help = (h)}
#define CLI_STRING(s, l, a, d, h)                                                              \
    {.kind = CLI_OPT_STRING, .short_name = (s), .long_name = (l), .argname = (a), .dest = (d),  \
     .help = (h)}
#define CLI_INT(s, l, a, d, lo, hi, h)                                                         \
    {.kind = CLI_OPT_INT, .short_name = (s), .long_name = (l), .argname = (a), .dest = (d),     \
     .min = (lo), .max = (hi), .help = (h)}
#define CLI_INT64(s, l, a, d, lo, hi, h)                                                       \
    {.kind = CLI_OPT_INT64, .short_name = (s), .long_name = (l), .argname = (a), .dest = (d),   \
     .min = (lo), .max = (hi), .help = (h)}
#define CLI_LIST(s, l, a, d, h)                                                                \
    {.kind = CLI_OPT_LIST, .short_name = (s), .long_name = (l), .argname = (a), .dest = (d),    \
     .help = (h)}
#define CLI_META(d, h)                                                                         \
    {.kind = CLI_OPT_META, .short_name = 'm', .long_name = "meta", .argname = "KEY=VALUE",      \
     .dest = (d), .help = (h)}
#define CLI_CALL(s, l, a, d, given_, fn_, h)                                                   \
    {.kind = CLI_OPT_CALL, .short_name = (s), .long_name = (l), .argname = (a), .dest = (d),    \
     .given = (given_), .fn = (fn_), .help = (h)}
/* The options most commands share. */
#define CLI_OWNER(d, h) CLI_STRING('o', "owner", "OWNER", d, h)
#define CLI_JSON(d, h) CLI_FLAG(0, "json", d, h)

/* Spec flags. */
#define CLI_TEXT_ARGS 0x1 /* the arguments are free text: "-word" whose first letter is no
                             short option is an argument, not an unknown option */

/* What cli_parse() needs to know about a command, and what its --help prints. */
typedef struct cli_spec {
    const char *usage;   /* "llmemory add [OPTION]... FILE"; several forms one a line */
    const char *about;   /* paragraphs after the usage, each line ending in "\n"; or NULL */
    const cli_opt *opts; /* ends with CLI_END */
    const char *footer;  /* text after the options, or NULL */
    const char *missing; /* usage error when fewer than min_args arguments ("no query given") */
    int min_args;
    int max_args; /* -1: any number; more is "too many arguments" */
    unsigned flags;
} cli_spec;

/* A growable list of borrowed strings (values of a CLI_LIST option). */
typedef struct cli_strv {
    const char **v;
    size_t n, cap;
} cli_strv;
/* Append @p s (borrowed); the list stays NULL-terminated. 0, or -1 when out of memory. */
int cli_strv_push(cli_strv *l, const char *s);
void cli_strv_dispose(cli_strv *l);

/* cli_parse() when the command goes on. */
#define CLI_PARSED (-1)
/* Parse the options of argv[1..argc) (argv[0] is the command) by @p spec. On success returns
   CLI_PARSED with the arguments (the non-options, in order) moved to argv[0..*nargs) followed
   by NULL; otherwise the exit status to return: 0 after --help, 2 after a usage error (printed),
   1 when out of memory. */
int cli_parse(cli_ctx *ctx, const cli_spec *spec, int argc, char **argv, int *nargs);
/* Print @p spec's help to @p f; cli_help_options() only the option lines of @p opts, with
   -h/--help when @p with_help. */
void cli_help_print(FILE *f, const cli_spec *spec);
void cli_help_options(FILE *f, const cli_opt *opts, int with_help);

/* CLI_OPT_CALL functions: a document type (dest lm_doc_type), a chunking strategy (dest
   lm_chunk_strategy), a search type (dest lm_search_type), a number from 0 to 1 (dest double). */
int cli_opt_doc_type(cli_ctx *ctx, const cli_opt *opt, const char *arg);
int cli_opt_strategy(cli_ctx *ctx, const cli_opt *opt, const char *arg);
int cli_opt_search_type(cli_ctx *ctx, const cli_opt *opt, const char *arg);
/* A query syntax, web or plain (dest lm_query_syntax). */
int cli_opt_syntax(cli_ctx *ctx, const cli_opt *opt, const char *arg);
int cli_opt_fraction(cli_ctx *ctx, const cli_opt *opt, const char *arg);
/* Compact JSON text of the metadata object a CLI_META option filled: into *out, NULL when no
   --meta was given. 0, or 1 (out of memory, printed). */
int cli_meta_text(json_t *meta, char **out);

/* ---- other option helpers (opt.c) ---- */

/* Parse a decimal integer in [min, max] given to option @p opt. 0, or 2 (printed). */
int cli_parse_long(cli_ctx *ctx, const char *opt, const char *arg, long min, long max, long *out);
/* Add "k=v" (string value) or "k:=JSON" to @p obj. 0, or 2 (printed). */
int cli_parse_meta(cli_ctx *ctx, json_t *obj, const char *arg);
/* Document type by name. 0, or 2 (printed). */
int cli_parse_type(cli_ctx *ctx, const char *arg, lm_doc_type *out);
/* Chunking strategy by name (hierarchical, semantic). 0, or 2 (printed). */
int cli_parse_strategy(cli_ctx *ctx, const char *arg, lm_chunk_strategy *out);
/* The tenant: @p given (--owner), else $LLMEMORY_OWNER. 0, or 2 (printed). */
int cli_owner(cli_ctx *ctx, const char *given, const char **out);
/* Open the memory with the global options. 0, or an exit status (printed). */
int cli_open(cli_ctx *ctx, lm_memory **out);
/* The same with @p embedder (borrowed; NULL: the memory chooses, see lm_memory_opts). */
int cli_open_with(cli_ctx *ctx, lm_embedder *embedder, lm_memory **out);
/* 1 when a database URL is configured (option or environment), i.e. the embedded cluster is
   not used. Sets *source to where it came from. */
int cli_url_configured(const cli_ctx *ctx, const char **source);
/* An id_at_origin from a path: any byte outside [A-Za-z0-9_.@|:/-] becomes '_' (ids may not
   contain them; lm__validate_id_at_origin is the rule). Leading "./" and '/' are dropped. */
void cli_origin_from_path(lm_buf *out, const char *path);

/* ---- remote mode (remote.c) ---- */

/* Remote mode: with --url (or $LLMEMORY_URL), add, search, list, get, delete and stats go to an
   `llmemory serve` over HTTP instead of the database, and print what they print locally. The
   tenant then comes from the credential (--key or $LLMEMORY_API_KEY); --owner may be given only
   when it names that tenant (or one of its sub-tenants), and $LLMEMORY_OWNER is not used. */
int cli_remote_on(const cli_ctx *ctx);
/* The owner for a command: cli_owner() locally; in remote mode @p given or NULL. 0, or 2. */
int cli_target_owner(cli_ctx *ctx, const char *given, const char **out);
/* The commands' remote halves (after their options are parsed); each returns an exit status. */
int cli_remote_add(cli_ctx *ctx,
                   const char *owner,
                   const char *origin,
                   const char *name,
                   lm_doc_type type,
                   const char *text,
                   size_t len,
                   const lm_doc_add_opts *opts,
                   int json);
int cli_remote_search(
    cli_ctx *ctx, const char *owner, const char *query, const lm_search_opts *opts, int json);
int cli_remote_list(cli_ctx *ctx, const char *owner, const lm_doc_list_opts *opts, int json);
int cli_remote_get(cli_ctx *ctx, const char *owner, const char *id, int with_chunks, int json);
int cli_remote_delete(cli_ctx *ctx,
                      const char *owner,
                      const char *const *ids,
                      size_t n_ids,
                      const char *metadata,
                      int json);
int cli_remote_stats(cli_ctx *ctx, const char *owner, int json);

/* ---- JSON output (json.c) ---- */

/* A string, or null for NULL; never NULL itself unless out of memory. */
json_t *cli_jstr(const char *s);
/* A string, or null for NULL and "". */
json_t *cli_jstr_or_null(const char *s);
/* A double (null for NaN/inf). */
json_t *cli_jreal(double v);
/* JSON text from the library parsed into a value; the text itself as a string if it does not
   parse; null for NULL. */
json_t *cli_jparse(const char *text);
/* Set @p key on @p obj; returns -1 when @p value is NULL (out of memory). */
int cli_jset(json_t *obj, const char *key, json_t *value);
json_t *cli_json_document(const lm_document *d);
json_t *cli_json_chunk(const lm_chunk *c);
json_t *cli_json_hit(const lm_hit *h);
json_t *cli_json_db_info(const lm_db_info *info);
/* Print @p value (indented) and a newline to stdout, then release it. NULL means out of
   memory. Returns 0 or an exit status (printed). */
int cli_json_print(json_t *value);
/* Compact JSON text of @p value; caller frees with free(). NULL when out of memory. */
char *cli_json_text(const json_t *value);

/* ---- text (json.c) ---- */

/* One-line excerpt: whitespace runs collapsed to a space, cut at a character boundary at most
   @p max bytes, "..." appended when cut. */
void cli_excerpt(lm_buf *out, const char *text, size_t max);

/* The scores of one search hit as `search` prints them. */
typedef struct cli_hit_scores {
    double score;
    int hybrid; /* 1: a hybrid search, whose legs are printed too */
    long long text_rank, vector_rank;
    double text_score, vector_score;
} cli_hit_scores;
/* "N. [score] name (origin)" and, for hybrid searches, "   text rank R (S), vector rank R (S)"
   ("rank -" for a leg that did not find the hit), to stdout. */
void cli_print_hit_head(size_t n, const char *name, const char *origin, const cli_hit_scores *s);

/* "2024-05-01 10:00:00" from an ISO 8601 timestamp (its first 19 characters, 'T' as a space);
   @p iso itself when it is shorter. Uses @p buf (at least 20 bytes). */
const char *cli_short_time(char *buf, const char *iso);

/* ---- reading files and extracting text (extract.c) ---- */

typedef enum cli_format {
    CLI_FORMAT_NONE = 0, /* not a format ingest reads */
    CLI_FORMAT_TEXT,
    CLI_FORMAT_MARKDOWN,
    CLI_FORMAT_HTML,
    CLI_FORMAT_PDF
} cli_format;

/* Format by file name extension (case-insensitive): .txt, .md/.markdown, .html/.htm, .pdf. */
cli_format cli_format_of_path(const char *path);
/* Format for content of document type @p type (standard input): html, pdf, markdown, else text. */
cli_format cli_format_of_type(lm_doc_type type);
/* Document type a format is stored as. */
lm_doc_type cli_format_doc_type(cli_format format);

/* Read a whole file ("-": standard input) into @p out, up to CLI_MAX_FILE_BYTES. Returns 0, or
   LM_ENOTFOUND (no such file) or LM_EIO (any other failure) with a message ("could not open
   file ...: reason") in @p err. */
int cli_read_file(lm_buf *out, const char *path, char *err, size_t errlen);
/* Extract UTF-8 text from @p data of format @p format into @p text; the document title (HTML
   <title>, markdown "# Title" first line) into @p title when there is one (may be NULL). Returns 0,
   or LM_EPARSE (LM_ENOMEM) with a message (lower case, no trailing period) in @p err. */
int cli_extract(lm_buf *text,
                lm_buf *title,
                cli_format format,
                const char *data,
                size_t len,
                char *err,
                size_t errlen);

/* Read @p path ("-": standard input) and extract its text (cli_read_file + cli_extract).
   Returns 0 or their error; text that is empty or only whitespace is LM_EINVAL ("contains no
   text"). The codes only say what failed: they are not library errors. */
int cli_load(
    lm_buf *text, lm_buf *title, const char *path, cli_format format, char *err, size_t errlen);
/* Append @p s to @p out, cut at a character boundary to at most @p max bytes. */
void cli_put_capped(lm_buf *out, const char *s, size_t max);

#endif
