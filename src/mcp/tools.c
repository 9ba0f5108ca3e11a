/*
 * mcp/tools.c: the MCP tools (remember, search, list, get, forget, stats), the document
 * resources (llmemory://documents/{id}) and the use-memory prompt. The definitions the client
 * sees (descriptions, input and output schemas) are JSON text here, checked once at start; each
 * tool then checks its own arguments, because a schema is advice to the client, not a guarantee.
 * Every call acts on the caller's tenant (mcp_caller.tenant), which no argument can change.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "hash.h"
#include "tools.h"

/* Largest text the tools put in one readable content block per hit or chunk. */
#define TEXT_PER_ITEM 2000
/* Largest number of ids forget takes at once. */
#define FORGET_MAX_IDS 1000
/* Documents per resources/list page. */
#define RESOURCE_PAGE 100
#define URI_PREFIX "llmemory://documents/"

/* ==== definitions ==== */

#define S_DOC_TYPES                                                                               \
    "\"enum\":[\"pdf\",\"markdown\",\"code\",\"text\",\"html\",\"docx\",\"email\",\"report\","   \
    "\"chat\",\"presentation\",\"legal_document\",\"technical_doc\",\"business_report\","      \
    "\"unknown\"]"
#define S_NSTR "{\"type\":[\"string\",\"null\"]}"
#define S_DOCUMENT                                                                                \
    "{\"type\":\"object\",\"properties\":{\"document_id\":{\"type\":\"string\"},"                \
    "\"id_at_origin\":{\"type\":\"string\"},\"name\":{\"type\":\"string\"},"                    \
    "\"type\":{\"type\":\"string\"},\"document_date\":" S_NSTR ",\"metadata\":{\"type\":"       \
    "\"object\"},\"created_at\":{\"type\":\"string\"},\"updated_at\":{\"type\":\"string\"},"    \
    "\"chunk_count\":{\"type\":\"integer\"},\"content_bytes\":{\"type\":\"integer\"},"          \
    "\"uri\":{\"type\":\"string\"}},\"required\":[\"document_id\",\"id_at_origin\",\"name\","    \
    "\"type\",\"uri\"]}"
#define S_CHUNK                                                                                   \
    "{\"type\":\"object\",\"properties\":{\"chunk_id\":{\"type\":\"string\"},"                   \
    "\"parent_chunk_id\":" S_NSTR ",\"chunk_index\":{\"type\":\"integer\"},\"chunk_level\":"     \
    "{\"type\":\"integer\"},\"content\":{\"type\":\"string\"},\"metadata\":{\"type\":"           \
    "\"object\"}},\"required\":[\"chunk_id\",\"content\"]}"

/* The definitions are long string constants by design (one readable JSON text each). */
#pragma GCC diagnostic ignored "-Woverlength-strings"

static const char tools_json[] =
    "["
    /* remember */
    "{\"name\":\"remember\",\"title\":\"Remember a document\","
    "\"description\":\"Store a text (or, over stdio, a local file's contents) in the memory so "
    "that search finds it later. The text is split into chunks and indexed for keyword and "
    "vector search. Give a short descriptive name, a type when it is not plain text, and "
    "metadata (a JSON object of your own keys, such as {\\\"project\\\": \\\"apollo\\\"}) to "
    "filter searches and to forget groups of documents later. Remembering the same text again, "
    "or the same id_at_origin with new text, updates the stored document instead of adding a "
    "copy.\","
    "\"inputSchema\":{\"type\":\"object\",\"properties\":{"
    "\"text\":{\"type\":\"string\",\"description\":\"The content to remember (UTF-8).\"},"
    "\"file\":{\"type\":\"string\",\"description\":\"Path of a .txt, .md, .html or .pdf file to "
    "read instead of text (stdio transport only).\"},"
    "\"name\":{\"type\":\"string\",\"description\":\"Short title; default: the file name or the "
    "text's first line.\"},"
    "\"type\":{" S_DOC_TYPES ",\"description\":\"Document type; it chooses the chunking. "
    "Default: text, or by the file's extension.\"},"
    "\"metadata\":{\"type\":\"object\",\"description\":\"Your own keys and values, stored with "
    "the document.\"},"
    "\"id_at_origin\":{\"type\":\"string\",\"description\":\"Your stable key for the document "
    "(a path, a URL, a ticket number). Default: the file path, or a hash of the text.\"},"
    "\"document_date\":{\"type\":\"string\",\"description\":\"When the document was written "
    "(ISO 8601), for date filters.\"}},\"additionalProperties\":false},"
    "\"outputSchema\":{\"type\":\"object\",\"properties\":{\"document_id\":{\"type\":"
    "\"string\"},\"id_at_origin\":{\"type\":\"string\"},\"name\":{\"type\":\"string\"},"
    "\"created\":{\"type\":\"boolean\"},\"chunk_count\":{\"type\":\"integer\"},\"uri\":{\"type\":"
    "\"string\"}},\"required\":[\"document_id\",\"id_at_origin\",\"created\",\"chunk_count\"]},"
    "\"annotations\":{\"title\":\"Remember a document\",\"readOnlyHint\":false,"
    "\"destructiveHint\":false,\"idempotentHint\":true,\"openWorldHint\":false}},"
    /* search */
    "{\"name\":\"search\",\"title\":\"Search the memory\","
    "\"description\":\"Find the passages of remembered documents that best answer a query. "
    "mode text is keyword search (BM25; use distinctive words, \\\"quoted phrases\\\", OR, "
    "-exclusions), vector is semantic similarity, hybrid fuses both. Each result carries the "
    "passage, its document (name, id, metadata) and, with parent_context, the larger passage it "
    "belongs to. Narrow with type, metadata (documents whose metadata contains the object), "
    "id_at_origin and dates.\","
    "\"inputSchema\":{\"type\":\"object\",\"properties\":{"
    "\"query\":{\"type\":\"string\",\"description\":\"What to look for (1 to 1000 bytes).\"},"
    "\"mode\":{\"enum\":[\"text\",\"vector\",\"hybrid\"],\"description\":\"Search mode; default "
    "text.\"},"
    "\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":100,\"description\":\"Most results "
    "(default 10).\"},"
    "\"type\":{" S_DOC_TYPES ",\"description\":\"Only documents of this type.\"},"
    "\"metadata\":{\"type\":\"object\",\"description\":\"Only documents whose metadata contains "
    "these keys and values.\"},"
    "\"id_at_origin\":{\"type\":\"string\",\"description\":\"Only the document with this key.\"},"
    "\"date_from\":{\"type\":\"string\",\"description\":\"Only documents dated on or after this "
    "(ISO 8601).\"},"
    "\"date_to\":{\"type\":\"string\",\"description\":\"Only documents dated on or before this "
    "(ISO 8601).\"},"
    "\"with_documents\":{\"type\":\"boolean\",\"description\":\"Include each result's document "
    "metadata (default true).\"},"
    "\"parent_context\":{\"type\":\"boolean\",\"description\":\"Include the enclosing passages "
    "of each result (default false).\"}},\"required\":[\"query\"],\"additionalProperties\":"
    "false},"
    "\"outputSchema\":{\"type\":\"object\",\"properties\":{\"query\":{\"type\":\"string\"},"
    "\"mode\":{\"type\":\"string\"},\"count\":{\"type\":\"integer\"},\"elapsed_ms\":{\"type\":"
    "\"number\"},\"results\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{"
    "\"rank\":{\"type\":\"integer\"},\"score\":{\"type\":\"number\"},\"document_id\":{\"type\":"
    "\"string\"},\"id_at_origin\":{\"type\":\"string\"},\"document_name\":{\"type\":\"string\"},"
    "\"document_type\":{\"type\":\"string\"},\"chunk_id\":{\"type\":\"string\"},\"content\":{"
    "\"type\":\"string\"},\"metadata\":{\"type\":\"object\"},\"document_metadata\":{\"type\":["
    "\"object\",\"null\"]},\"context\":{\"type\":\"array\",\"items\":" S_CHUNK "},\"uri\":{"
    "\"type\":\"string\"}},\"required\":[\"rank\",\"score\",\"document_id\",\"chunk_id\","
    "\"content\"]}}},\"required\":[\"query\",\"mode\",\"count\",\"results\"]},"
    "\"annotations\":{\"title\":\"Search the memory\",\"readOnlyHint\":true,"
    "\"openWorldHint\":false}},"
    /* list */
    "{\"name\":\"list\",\"title\":\"List documents\","
    "\"description\":\"List the remembered documents (newest first by default), with their "
    "names, ids, types, metadata and sizes, a page at a time. Use it to see what the memory "
    "holds; use search to find content.\","
    "\"inputSchema\":{\"type\":\"object\",\"properties\":{"
    "\"limit\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":100,\"description\":\"Documents "
    "per page (default 20).\"},"
    "\"offset\":{\"type\":\"integer\",\"minimum\":0,\"description\":\"Documents to skip.\"},"
    "\"type\":{" S_DOC_TYPES ",\"description\":\"Only documents of this type.\"},"
    "\"metadata\":{\"type\":\"object\",\"description\":\"Only documents whose metadata contains "
    "these keys and values.\"},"
    "\"order_by\":{\"enum\":[\"created_at\",\"updated_at\",\"name\"],\"description\":\"Sort key "
    "(default created_at).\"},"
    "\"order\":{\"enum\":[\"asc\",\"desc\"],\"description\":\"Sort direction (default desc).\"}},"
    "\"additionalProperties\":false},"
    "\"outputSchema\":{\"type\":\"object\",\"properties\":{\"total\":{\"type\":\"integer\"},"
    "\"count\":{\"type\":\"integer\"},\"offset\":{\"type\":\"integer\"},\"documents\":{\"type\":"
    "\"array\",\"items\":" S_DOCUMENT "}},\"required\":[\"total\",\"count\",\"documents\"]},"
    "\"annotations\":{\"title\":\"List documents\",\"readOnlyHint\":true,\"openWorldHint\":"
    "false}},"
    /* get */
    "{\"name\":\"get\",\"title\":\"Get a document\","
    "\"description\":\"Fetch one document by its document_id (from search or list) or by your "
    "id_at_origin: its name, type, metadata and dates, and with chunks=true its full text as "
    "stored chunks in document order.\","
    "\"inputSchema\":{\"type\":\"object\",\"properties\":{"
    "\"document_id\":{\"type\":\"string\",\"description\":\"The document's id (a UUID).\"},"
    "\"id_at_origin\":{\"type\":\"string\",\"description\":\"Your key for the document, instead "
    "of document_id.\"},"
    "\"chunks\":{\"type\":\"boolean\",\"description\":\"Include the document's chunks (default "
    "false).\"}},\"additionalProperties\":false},"
    "\"outputSchema\":{\"type\":\"object\",\"properties\":{\"document\":" S_DOCUMENT ","
    "\"chunks\":{\"type\":\"array\",\"items\":" S_CHUNK "}},\"required\":[\"document\"]},"
    "\"annotations\":{\"title\":\"Get a document\",\"readOnlyHint\":true,\"openWorldHint\":"
    "false}},"
    /* forget */
    "{\"name\":\"forget\",\"title\":\"Forget documents\","
    "\"description\":\"Delete documents from the memory for good: the ones named by "
    "document_ids, or every document whose metadata contains the given metadata object. Ids "
    "that do not exist are skipped. Returns the ids actually deleted.\","
    "\"inputSchema\":{\"type\":\"object\",\"properties\":{"
    "\"document_ids\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"minItems\":1,"
    "\"maxItems\":1000,\"description\":\"Ids of the documents to delete.\"},"
    "\"metadata\":{\"type\":\"object\",\"minProperties\":1,\"description\":\"Delete the "
    "documents whose metadata contains these keys and values.\"}},\"additionalProperties\":"
    "false},"
    "\"outputSchema\":{\"type\":\"object\",\"properties\":{\"count\":{\"type\":\"integer\"},"
    "\"deleted\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}},\"required\":[\"count\","
    "\"deleted\"]},"
    "\"annotations\":{\"title\":\"Forget documents\",\"readOnlyHint\":false,"
    "\"destructiveHint\":true,\"idempotentHint\":true,\"openWorldHint\":false}},"
    /* stats */
    "{\"name\":\"stats\",\"title\":\"Memory statistics\","
    "\"description\":\"How much the memory holds: documents, chunks, bytes, documents per "
    "type, and when the first and last documents were added.\","
    "\"inputSchema\":{\"type\":\"object\",\"properties\":{},\"additionalProperties\":false},"
    "\"outputSchema\":{\"type\":\"object\",\"properties\":{\"document_count\":{\"type\":"
    "\"integer\"},\"chunk_count\":{\"type\":\"integer\"},\"total_bytes\":{\"type\":\"integer\"},"
    "\"by_type\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"integer\"}},"
    "\"first_created\":" S_NSTR ",\"last_created\":" S_NSTR "},\"required\":["
    "\"document_count\",\"chunk_count\",\"total_bytes\",\"by_type\"]},"
    "\"annotations\":{\"title\":\"Memory statistics\",\"readOnlyHint\":true,\"openWorldHint\":"
    "false}}"
    "]";

static const char templates_json[] =
    "{\"resourceTemplates\":[{\"uriTemplate\":\"llmemory://documents/{document_id}\","
    "\"name\":\"document\",\"title\":\"A remembered document\",\"description\":\"The text of "
    "one remembered document (its top-level chunks in order), by its document_id.\","
    "\"mimeType\":\"text/plain\"}]}";

static const char prompts_json[] =
    "{\"prompts\":[{\"name\":\"use-memory\",\"title\":\"Use the document memory\","
    "\"description\":\"How to use this memory: search before answering, remember what is worth "
    "keeping, cite documents, forget on request.\",\"arguments\":[{\"name\":\"task\","
    "\"description\":\"The task at hand, to tailor the advice (optional).\",\"required\":"
    "false}]}]}";

static const char prompt_text[] =
    "You have a long-term document memory, reached through these tools:\n"
    "- search: find passages. Start with mode \"text\" and a few distinctive keywords; use "
    "\"hybrid\" for questions phrased in natural language. Filter with metadata, type or "
    "dates when you know them, and set parent_context to true when a passage needs its "
    "surroundings.\n"
    "- get: read a whole document (chunks=true) when a passage is not enough.\n"
    "- list and stats: see what the memory holds.\n"
    "- remember: store information worth keeping (notes, decisions, documents the user "
    "shares), with a clear name and metadata such as {\"project\": \"...\", \"source\": "
    "\"...\"} so it can be filtered and forgotten later. Remembering the same id_at_origin "
    "again updates the document.\n"
    "- forget: delete documents by id or by metadata, only when the user asks for it.\n"
    "Before answering a question that may depend on stored knowledge, search first. Cite the "
    "document names you relied on, and say so when the memory holds nothing relevant rather "
    "than guessing.";

static char *tools_list_text, *templates_text, *prompts_text;

struct mcp_tool {
    const char *name;
    int writes;
    json_t *(*fn)(const mcp_caller *who, const json_t *args);
};

/* ==== results ==== */

/* A tool result with readable @p text and @p structured content (taken; may be NULL). */
static json_t *tool_result(const char *text, json_t *structured)
{
    json_t *r = json_pack("{s:[{s:s,s:s}]}", "content", "type", "text", "text", text);

    if (r != NULL && structured != NULL)
        json_object_set_new(r, "structuredContent", structured);
    else
        json_decref(structured);
    return r;
}

static json_t *tool_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *tool_error(const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    json_t *r;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    r = tool_result(text, NULL);
    if (r != NULL)
        json_object_set_new(r, "isError", json_true());
    return r;
}

/* The library's last error as a tool error: message, detail and hint. */
static json_t *tool_lm_error(int rc)
{
    const lm_error *e = lm_error_last();
    const char *msg = e->code == rc && e->message[0] != '\0' ? e->message : lm_strerror(rc);

    return tool_error("%s%s%s%s%s", msg, e->code == rc && e->detail[0] ? "\nDetail: " : "",
                      e->code == rc ? e->detail : "", e->code == rc && e->hint[0] ? "\nHint: " : "",
                      e->code == rc ? e->hint : "");
}

static json_t *jstr_or_null(const char *s)
{
    return s != NULL && s[0] != '\0' ? json_string(s) : json_null();
}

/* Metadata text from the library as an object ({} when it does not parse). */
static json_t *jobject_text(const char *text)
{
    json_t *v = text != NULL ? json_loads(text, 0, NULL) : NULL;
    if (!json_is_object(v)) {
        json_decref(v);
        return json_object();
    }
    return v;
}

static json_t *document_json(const lm_document *d)
{
    char uri[sizeof(URI_PREFIX) + LM_UUID_STRLEN];

    snprintf(uri, sizeof(uri), URI_PREFIX "%s", d->document_id);
    return json_pack("{s:s,s:s,s:s,s:s,s:o,s:o,s:s,s:s,s:I,s:I,s:s}", "document_id",
                     d->document_id, "id_at_origin", d->id_at_origin, "name", d->name, "type",
                     lm_doc_type_name(d->type), "document_date", jstr_or_null(d->document_date),
                     "metadata", jobject_text(d->metadata), "created_at", d->created_at,
                     "updated_at", d->updated_at, "chunk_count", (json_int_t)d->chunk_count,
                     "content_bytes", (json_int_t)d->content_bytes, "uri", uri);
}

static json_t *chunk_json(const lm_chunk *c)
{
    return json_pack("{s:s,s:o,s:i,s:i,s:s,s:o}", "chunk_id", c->chunk_id, "parent_chunk_id",
                     jstr_or_null(c->parent_chunk_id), "chunk_index", c->chunk_index,
                     "chunk_level", c->chunk_level, "content", c->content, "metadata",
                     jobject_text(c->metadata));
}

/* ==== arguments ==== */

/* Each returns 0 (absent: *out untouched), or -1 with a message in @p err. */
static int arg_str(const json_t *args, const char *name, const char **out, char *err, size_t n)
{
    const json_t *v = json_object_get(args, name);
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v)) {
        snprintf(err, n, "argument \"%s\" must be a string", name);
        return -1;
    }
    if (strlen(json_string_value(v)) != json_string_length(v)) {
        snprintf(err, n, "argument \"%s\" must not contain NUL characters", name);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

static int
arg_int(const json_t *args, const char *name, long lo, long hi, long *out, char *err, size_t n)
{
    const json_t *v = json_object_get(args, name);
    double d;

    if (v == NULL || json_is_null(v))
        return 0;
    /* Some clients send 5.0 for 5: a whole number is accepted. */
    d = json_is_real(v) ? json_real_value(v) : 0.5;
    if (json_is_real(v) && d >= -1e15 && d <= 1e15 && d == (double)(long)d)
        *out = (long)d;
    else if (json_is_integer(v))
        *out = (long)json_integer_value(v);
    else {
        snprintf(err, n, "argument \"%s\" must be an integer", name);
        return -1;
    }
    if (*out < lo || *out > hi) {
        snprintf(err, n, "argument \"%s\" must be from %ld to %ld", name, lo, hi);
        return -1;
    }
    return 0;
}

static int arg_bool(const json_t *args, const char *name, int *out, char *err, size_t n)
{
    const json_t *v = json_object_get(args, name);
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_boolean(v)) {
        snprintf(err, n, "argument \"%s\" must be true or false", name);
        return -1;
    }
    *out = json_is_true(v);
    return 0;
}

/* An object argument as compact JSON text (caller frees). */
static int arg_object(const json_t *args, const char *name, char **out, char *err, size_t n)
{
    const json_t *v = json_object_get(args, name);
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_object(v)) {
        snprintf(err, n, "argument \"%s\" must be an object", name);
        return -1;
    }
    if ((*out = json_dumps(v, JSON_COMPACT)) == NULL) {
        snprintf(err, n, "out of memory");
        return -1;
    }
    return 0;
}

static int arg_type(const json_t *args, const char *name, int *has, lm_doc_type *out, char *err,
                    size_t n)
{
    const char *s = NULL;
    if (arg_str(args, name, &s, err, n) < 0)
        return -1;
    if (s == NULL)
        return 0;
    if (lm_doc_type_parse(out, s) < 0) {
        snprintf(err, n, "argument \"%s\": unknown document type \"%.60s\"", name, s);
        return -1;
    }
    *has = 1;
    return 0;
}

/* Arguments the tool does not know are refused: a misspelt filter must not be ignored. */
static int args_only(const json_t *args, const char *const *known, char *err, size_t n)
{
    const char *key;
    json_t *v;

    json_object_foreach((json_t *)(uintptr_t)args, key, v)
    {
        size_t i;
        (void)v;
        for (i = 0; known[i] != NULL && strcmp(known[i], key) != 0; i++)
            ;
        if (known[i] == NULL) {
            snprintf(err, n, "unknown argument \"%.100s\"", key);
            return -1;
        }
    }
    return 0;
}

/* ==== tools ==== */

static json_t *t_remember(const mcp_caller *who, const json_t *args)
{
    static const char *const known[] = {"text", "file", "name", "type", "metadata",
                                        "id_at_origin", "document_date", NULL};
    const char *text = NULL, *file = NULL, *name = NULL, *origin = NULL, *type_s = NULL;
    char err[512], *meta = NULL, origin_buf[80], hex[65], name_buf[128];
    lm_buf loaded = LM_BUF_INIT, title = LM_BUF_INIT;
    lm_doc_add_opts opts = LM_DOC_ADD_OPTS_INIT;
    lm_doc_add_result res;
    lm_doc_type type = LM_DOC_TEXT;
    int has_type = 0, rc;
    size_t len;
    json_t *out = NULL;
    lm_buf msg = LM_BUF_INIT;

    if (args_only(args, known, err, sizeof(err)) < 0 ||
        arg_str(args, "text", &text, err, sizeof(err)) < 0 ||
        arg_str(args, "file", &file, err, sizeof(err)) < 0 ||
        arg_str(args, "name", &name, err, sizeof(err)) < 0 ||
        arg_str(args, "id_at_origin", &origin, err, sizeof(err)) < 0 ||
        arg_str(args, "document_date", &opts.document_date, err, sizeof(err)) < 0 ||
        arg_str(args, "type", &type_s, err, sizeof(err)) < 0 ||
        arg_type(args, "type", &has_type, &type, err, sizeof(err)) < 0 ||
        arg_object(args, "metadata", &meta, err, sizeof(err)) < 0) {
        out = tool_error("%s", err);
        goto done;
    }
    if ((text == NULL) == (file == NULL)) {
        out = tool_error("give either \"text\" or \"file\"");
        goto done;
    }
    if (file != NULL) {
        lm_doc_type ftype = LM_DOC_TEXT;
        if (who->load == NULL) {
            out = tool_error("argument \"file\" is not available over this transport\n"
                             "Hint: Send the file's contents as \"text\".");
            goto done;
        }
        if (who->load(who->load_payload, file, &loaded, &title, &ftype, err, sizeof(err)) < 0) {
            out = tool_error("%s", err);
            goto done;
        }
        text = loaded.ptr;
        len = loaded.size;
        if (!has_type)
            type = ftype;
        if (name == NULL) {
            const char *base = strrchr(file, '/');
            name = title.size > 0 ? title.ptr : base != NULL && base[1] ? base + 1 : file;
        }
        if (origin == NULL)
            origin = file;
    } else {
        len = strlen(text);
        if (name == NULL) {
            /* The first line, cut at a character boundary. */
            size_t n = strcspn(text, "\r\n");
            if (n > 80)
                n = 80;
            while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80)
                n--;
            snprintf(name_buf, sizeof(name_buf), "%.*s", (int)n, text);
            name = name_buf[0] != '\0' ? name_buf : "note";
        }
        if (origin == NULL) {
            /* The same text remembered twice is one document. */
            lm__sha256_hex(hex, text, len);
            snprintf(origin_buf, sizeof(origin_buf), "mcp:%.32s", hex);
            origin = origin_buf;
        }
    }
    opts.metadata = meta;
    rc = lm_doc_add(&res, who->mem, who->tenant, origin, name, type, text, len, &opts);
    if (rc < 0) {
        out = tool_lm_error(rc);
        goto done;
    }
    lm__buf_printf(&msg, "%s \"%s\" as document %s (%d chunk%s; uri " URI_PREFIX "%s).",
                   res.created ? "Remembered" : "Updated", name, res.document_id,
                   res.chunk_count, res.chunk_count == 1 ? "" : "s", res.document_id);
    {
        char uri[sizeof(URI_PREFIX) + LM_UUID_STRLEN];
        snprintf(uri, sizeof(uri), URI_PREFIX "%s", res.document_id);
        out = tool_result(lm__buf_oom(&msg) ? "" : msg.ptr,
                          json_pack("{s:s,s:s,s:s,s:b,s:i,s:s}", "document_id", res.document_id,
                                    "id_at_origin", origin, "name", name, "created", res.created,
                                    "chunk_count", res.chunk_count, "uri", uri));
    }
done:
    free(meta);
    lm_buf_dispose(&loaded);
    lm_buf_dispose(&title);
    lm_buf_dispose(&msg);
    return out;
}

/* Append @p s to @p b, at most @p max bytes at a character boundary, "..." when cut. */
static void put_capped(lm_buf *b, const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n <= max) {
        lm__buf_puts(b, s);
        return;
    }
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    lm__buf_put(b, s, max);
    lm__buf_puts(b, "...");
}

/* The estimated cost (lm_search_cost()) of a message before it runs: a tools/call of search
   costs what its mode and limit make it cost; anything else costs 0 (not a search). Malformed
   arguments are read as their defaults: the tool refuses them when it runs. */
long mcp_message_cost(const char *msg, size_t len)
{
    lm_search_opts o = LM_SEARCH_OPTS_INIT;
    json_t *v = json_loadb(msg, len, 0, NULL);
    const json_t *params, *args;
    const char *mode = NULL;
    char err[8];
    long limit = 10, cost = 0;

    params = json_object_get(v, "params");
    if (json_is_string(json_object_get(v, "method")) &&
        strcmp(json_string_value(json_object_get(v, "method")), "tools/call") == 0 &&
        json_is_string(json_object_get(params, "name")) &&
        strcmp(json_string_value(json_object_get(params, "name")), "search") == 0) {
        args = json_object_get(params, "arguments");
        if (arg_str(args, "mode", &mode, err, sizeof(err)) == 0 && mode != NULL)
            (void)lm_search_type_parse(&o.type, mode);
        if (arg_int(args, "limit", 1, 100, &limit, err, sizeof(err)) == 0)
            o.limit = (int)limit;
        cost = lm_search_cost(&o);
    }
    json_decref(v);
    return cost;
}

static json_t *t_search(const mcp_caller *who, const json_t *args)
{
    static const char *const known[] = {"query",    "mode",      "limit",          "type",
                                        "metadata", "id_at_origin", "date_from",   "date_to",
                                        "with_documents", "parent_context", NULL};
    lm_search_opts o = LM_SEARCH_OPTS_INIT;
    const char *query = NULL, *mode = NULL;
    char err[512], *meta = NULL;
    long limit = 10;
    int with_docs = 1, ctx = 0, rc;
    lm_results *res = NULL;
    json_t *out = NULL, *hits = NULL, *structured = NULL;
    lm_buf text = LM_BUF_INIT;

    if (args_only(args, known, err, sizeof(err)) < 0 ||
        arg_str(args, "query", &query, err, sizeof(err)) < 0 ||
        arg_str(args, "mode", &mode, err, sizeof(err)) < 0 ||
        arg_int(args, "limit", 1, 100, &limit, err, sizeof(err)) < 0 ||
        arg_type(args, "type", &o.has_type, &o.doc_type, err, sizeof(err)) < 0 ||
        arg_object(args, "metadata", &meta, err, sizeof(err)) < 0 ||
        arg_str(args, "id_at_origin", &o.id_at_origin, err, sizeof(err)) < 0 ||
        arg_str(args, "date_from", &o.date_from, err, sizeof(err)) < 0 ||
        arg_str(args, "date_to", &o.date_to, err, sizeof(err)) < 0 ||
        arg_bool(args, "with_documents", &with_docs, err, sizeof(err)) < 0 ||
        arg_bool(args, "parent_context", &ctx, err, sizeof(err)) < 0) {
        out = tool_error("%s", err);
        goto done;
    }
    if (query == NULL) {
        out = tool_error("argument \"query\" is required");
        goto done;
    }
    if (mode != NULL && lm_search_type_parse(&o.type, mode) < 0) {
        out = tool_error("argument \"mode\" must be text, vector or hybrid");
        goto done;
    }
    o.limit = (int)limit;
    o.metadata_filter = meta;
    o.with_documents = with_docs;
    o.include_parent_context = ctx;
    rc = lm_search(&res, who->mem, who->tenant, query, &o);
    if (rc < 0) {
        out = tool_lm_error(rc);
        goto done;
    }
    hits = json_array();
    lm__buf_printf(&text, "%zu result%s for \"%s\" (%s search).", lm_results_count(res),
                   lm_results_count(res) == 1 ? "" : "s", query, lm_search_type_name(o.type));
    for (size_t i = 0; i < lm_results_count(res); i++) {
        const lm_hit *h = lm_results_at(res, i);
        json_t *context = json_array(), *hit;
        char uri[sizeof(URI_PREFIX) + LM_UUID_STRLEN];

        for (size_t c = 0; c < h->n_context; c++)
            json_array_append_new(context, chunk_json(&h->context[c]));
        snprintf(uri, sizeof(uri), URI_PREFIX "%s", h->document_id);
        hit = json_pack("{s:i,s:f,s:s,s:s,s:s,s:s,s:s,s:i,s:i,s:s,s:o,s:o,s:f,s:i,s:f,s:i,s:o,"
                        "s:s}",
                        "rank", h->rank, "score", h->score, "document_id", h->document_id,
                        "id_at_origin", h->id_at_origin, "document_name", h->document_name,
                        "document_type", lm_doc_type_name(h->document_type), "chunk_id",
                        h->chunk_id, "chunk_index", h->chunk_index, "chunk_level",
                        h->chunk_level, "content", h->content, "metadata",
                        jobject_text(h->metadata), "document_metadata",
                        h->document_metadata != NULL ? jobject_text(h->document_metadata)
                                                     : json_null(),
                        "text_score", h->text_score, "text_rank", h->text_rank, "vector_score",
                        h->vector_score, "vector_rank", h->vector_rank, "context", context,
                        "uri", uri);
        if (hit == NULL || json_array_append_new(hits, hit) < 0) {
            out = tool_error("out of memory");
            goto done;
        }
        lm__buf_printf(&text, "\n\n%d. %s (%s; document_id %s; score %.4g)\n", h->rank,
                       h->document_name, h->id_at_origin, h->document_id, h->score);
        put_capped(&text, h->content, TEXT_PER_ITEM);
        if (h->n_context > 0) {
            lm__buf_puts(&text, "\n   Context: ");
            put_capped(&text, h->context[0].content, TEXT_PER_ITEM);
        }
    }
    structured = json_pack("{s:s,s:s,s:I,s:f,s:O}", "query", query, "mode",
                           lm_search_type_name(o.type), "count",
                           (json_int_t)lm_results_count(res), "elapsed_ms",
                           lm_results_elapsed_ms(res), "results", hits);
    if (structured == NULL || lm__buf_oom(&text)) {
        json_decref(structured);
        out = tool_error("out of memory");
        goto done;
    }
    out = tool_result(text.ptr, structured);
done:
    json_decref(hits);
    lm_results_free(res);
    lm_buf_dispose(&text);
    free(meta);
    return out;
}

static json_t *t_list(const mcp_caller *who, const json_t *args)
{
    static const char *const known[] = {"limit", "offset", "type", "metadata", "order_by",
                                        "order", NULL};
    lm_doc_list_opts o = LM_DOC_LIST_OPTS_INIT;
    const char *order_by = NULL, *order = NULL;
    char err[512], *meta = NULL;
    long limit = 20, offset = 0;
    lm_doc_page *page = NULL;
    json_t *out = NULL, *docs = NULL;
    lm_buf text = LM_BUF_INIT;
    int rc;

    if (args_only(args, known, err, sizeof(err)) < 0 ||
        arg_int(args, "limit", 0, 100, &limit, err, sizeof(err)) < 0 ||
        arg_int(args, "offset", 0, 1000000000L, &offset, err, sizeof(err)) < 0 ||
        arg_type(args, "type", &o.has_type, &o.type, err, sizeof(err)) < 0 ||
        arg_object(args, "metadata", &meta, err, sizeof(err)) < 0 ||
        arg_str(args, "order_by", &order_by, err, sizeof(err)) < 0 ||
        arg_str(args, "order", &order, err, sizeof(err)) < 0) {
        out = tool_error("%s", err);
        goto done;
    }
    if (order_by != NULL) {
        if (strcmp(order_by, "created_at") == 0)
            o.order_by = LM_ORDER_CREATED_AT;
        else if (strcmp(order_by, "updated_at") == 0)
            o.order_by = LM_ORDER_UPDATED_AT;
        else if (strcmp(order_by, "name") == 0)
            o.order_by = LM_ORDER_DOCUMENT_NAME;
        else {
            out = tool_error("argument \"order_by\" must be created_at, updated_at or name");
            goto done;
        }
    }
    if (order != NULL && strcmp(order, "asc") != 0 && strcmp(order, "desc") != 0) {
        out = tool_error("argument \"order\" must be asc or desc");
        goto done;
    }
    o.ascending = order != NULL && strcmp(order, "asc") == 0;
    o.limit = (int)limit;
    o.offset = offset;
    o.metadata_filter = meta;
    rc = lm_doc_list(&page, who->mem, who->tenant, &o);
    if (rc < 0) {
        out = tool_lm_error(rc);
        goto done;
    }
    docs = json_array();
    lm__buf_printf(&text, "%zu of %lld documents (from %ld).", lm_doc_page_count(page),
                   (long long)lm_doc_page_total(page), offset);
    for (size_t i = 0; i < lm_doc_page_count(page); i++) {
        const lm_document *d = lm_doc_page_at(page, i);
        json_array_append_new(docs, document_json(d));
        lm__buf_printf(&text, "\n- %s (%s, %s; document_id %s; %lld chunks)", d->name,
                       lm_doc_type_name(d->type), d->id_at_origin, d->document_id,
                       (long long)d->chunk_count);
    }
    if (lm__buf_oom(&text) || json_array_size(docs) != lm_doc_page_count(page)) {
        out = tool_error("out of memory");
        goto done;
    }
    out = tool_result(text.ptr, json_pack("{s:I,s:I,s:I,s:O}", "total",
                                          (json_int_t)lm_doc_page_total(page), "count",
                                          (json_int_t)lm_doc_page_count(page), "offset",
                                          (json_int_t)offset, "documents", docs));
done:
    json_decref(docs);
    lm_doc_page_free(page);
    lm_buf_dispose(&text);
    free(meta);
    return out;
}

static json_t *t_get(const mcp_caller *who, const json_t *args)
{
    static const char *const known[] = {"document_id", "id_at_origin", "chunks", NULL};
    const char *id = NULL, *origin = NULL;
    char err[512];
    int chunks = 0, rc;
    lm_doc *doc = NULL;
    json_t *out = NULL, *cj = NULL, *structured;
    lm_buf text = LM_BUF_INIT;
    const lm_document *d;

    if (args_only(args, known, err, sizeof(err)) < 0 ||
        arg_str(args, "document_id", &id, err, sizeof(err)) < 0 ||
        arg_str(args, "id_at_origin", &origin, err, sizeof(err)) < 0 ||
        arg_bool(args, "chunks", &chunks, err, sizeof(err)) < 0) {
        out = tool_error("%s", err);
        goto done;
    }
    if ((id == NULL) == (origin == NULL)) {
        out = tool_error("give either \"document_id\" or \"id_at_origin\"");
        goto done;
    }
    rc = id != NULL ? lm_doc_get(&doc, who->mem, who->tenant, id, chunks)
                    : lm_doc_get_by_origin(&doc, who->mem, who->tenant, origin, chunks);
    if (rc < 0) {
        out = tool_lm_error(rc);
        goto done;
    }
    d = lm_doc_document(doc);
    lm__buf_printf(&text, "%s (%s, %s)\ndocument_id %s\nmetadata %s\nadded %s, updated %s, "
                          "%lld chunks, %lld bytes",
                   d->name, lm_doc_type_name(d->type), d->id_at_origin, d->document_id,
                   d->metadata, d->created_at, d->updated_at, (long long)d->chunk_count,
                   (long long)d->content_bytes);
    structured = json_pack("{s:o}", "document", document_json(d));
    if (chunks && structured != NULL) {
        cj = json_array();
        for (size_t i = 0; i < lm_doc_chunk_count(doc); i++) {
            const lm_chunk *c = lm_doc_chunk_at(doc, i);
            json_array_append_new(cj, chunk_json(c));
            lm__buf_printf(&text, "\n\n[chunk %d, level %d]\n", c->chunk_index, c->chunk_level);
            put_capped(&text, c->content, TEXT_PER_ITEM);
        }
        json_object_set(structured, "chunks", cj);
    }
    if (structured == NULL || lm__buf_oom(&text)) {
        json_decref(structured);
        out = tool_error("out of memory");
        goto done;
    }
    out = tool_result(text.ptr, structured);
done:
    json_decref(cj);
    lm_doc_free(doc);
    lm_buf_dispose(&text);
    return out;
}

static json_t *t_forget(const mcp_caller *who, const json_t *args)
{
    static const char *const known[] = {"document_ids", "metadata", NULL};
    const json_t *ids = json_object_get(args, "document_ids");
    const char **idv = NULL;
    size_t n = 0;
    char err[512], *meta = NULL;
    lm_id_list *deleted = NULL;
    json_t *out = NULL, *dj = NULL;
    lm_buf text = LM_BUF_INIT;
    int rc;

    if (args_only(args, known, err, sizeof(err)) < 0 ||
        arg_object(args, "metadata", &meta, err, sizeof(err)) < 0) {
        out = tool_error("%s", err);
        goto done;
    }
    if (ids != NULL && !json_is_null(ids)) {
        if (!json_is_array(ids)) {
            out = tool_error("argument \"document_ids\" must be an array of strings");
            goto done;
        }
        n = json_array_size(ids);
        if (n == 0 || n > FORGET_MAX_IDS) {
            out = tool_error("argument \"document_ids\" must have from 1 to %d ids",
                             FORGET_MAX_IDS);
            goto done;
        }
        if ((idv = calloc(n, sizeof(*idv))) == NULL) {
            out = tool_error("out of memory");
            goto done;
        }
        for (size_t i = 0; i < n; i++) {
            if (!json_is_string(json_array_get(ids, i))) {
                out = tool_error("argument \"document_ids\" must be an array of strings");
                goto done;
            }
            idv[i] = json_string_value(json_array_get(ids, i));
        }
    }
    if ((n > 0) == (meta != NULL)) {
        out = tool_error("give either \"document_ids\" or \"metadata\"");
        goto done;
    }
    if (meta != NULL && strcmp(meta, "{}") == 0) {
        /* {} is contained in every document's metadata: it would forget everything. */
        out = tool_error("argument \"metadata\" must name at least one key");
        goto done;
    }
    rc = lm_doc_delete(&deleted, who->mem, who->tenant, idv, n, meta);
    if (rc < 0) {
        out = tool_lm_error(rc);
        goto done;
    }
    dj = json_array();
    lm__buf_printf(&text, "Forgot %zu document%s.", lm_id_list_count(deleted),
                   lm_id_list_count(deleted) == 1 ? "" : "s");
    for (size_t i = 0; i < lm_id_list_count(deleted); i++) {
        json_array_append_new(dj, json_string(lm_id_list_at(deleted, i)));
        lm__buf_printf(&text, "\n- %s", lm_id_list_at(deleted, i));
    }
    if (lm__buf_oom(&text)) {
        out = tool_error("out of memory");
        goto done;
    }
    out = tool_result(text.ptr, json_pack("{s:I,s:O}", "count",
                                          (json_int_t)lm_id_list_count(deleted), "deleted", dj));
done:
    json_decref(dj);
    lm_id_list_free(deleted);
    free(idv);
    free(meta);
    lm_buf_dispose(&text);
    return out;
}

static json_t *t_stats(const mcp_caller *who, const json_t *args)
{
    static const char *const known[] = {NULL};
    lm_stats st;
    char err[512];
    json_t *by_type;
    lm_buf text = LM_BUF_INIT;
    json_t *out;
    int rc;

    if (args_only(args, known, err, sizeof(err)) < 0)
        return tool_error("%s", err);
    rc = lm_stats_get(&st, who->mem, who->tenant);
    if (rc < 0)
        return tool_lm_error(rc);
    by_type = json_object();
    lm__buf_printf(&text, "%lld documents, %lld chunks, %lld bytes.",
                   (long long)st.document_count, (long long)st.chunk_count,
                   (long long)st.total_bytes);
    for (int t = 0; t < LM_DOC_TYPE_COUNT; t++) {
        json_object_set_new(by_type, lm_doc_type_name((lm_doc_type)t),
                            json_integer((json_int_t)st.by_type[t]));
        if (st.by_type[t] > 0)
            lm__buf_printf(&text, "\n%s: %lld", lm_doc_type_name((lm_doc_type)t),
                           (long long)st.by_type[t]);
    }
    if (st.first_created[0] != '\0')
        lm__buf_printf(&text, "\nfirst added %s, last added %s", st.first_created,
                       st.last_created);
    if (lm__buf_oom(&text)) {
        json_decref(by_type);
        lm_buf_dispose(&text);
        return tool_error("out of memory");
    }
    out = tool_result(text.ptr,
                      json_pack("{s:I,s:I,s:I,s:o,s:o,s:o}", "document_count",
                                (json_int_t)st.document_count, "chunk_count",
                                (json_int_t)st.chunk_count, "total_bytes",
                                (json_int_t)st.total_bytes, "by_type", by_type, "first_created",
                                jstr_or_null(st.first_created), "last_created",
                                jstr_or_null(st.last_created)));
    lm_buf_dispose(&text);
    return out;
}

static const mcp_tool tools[] = {
    {"remember", 1, t_remember}, {"search", 0, t_search}, {"list", 0, t_list},
    {"get", 0, t_get},           {"forget", 1, t_forget}, {"stats", 0, t_stats},
};

const mcp_tool *mcp__tool_lookup(const char *name)
{
    for (size_t i = 0; i < sizeof(tools) / sizeof(tools[0]); i++)
        if (strcmp(tools[i].name, name) == 0)
            return &tools[i];
    return NULL;
}

json_t *mcp__tool_call(const mcp_tool *t, const mcp_caller *who, const json_t *args)
{
    json_t *empty = NULL, *r;

    if (t->writes && !who->can_write)
        return tool_error("permission denied for tool \"%s\"\nDetail: The credential has the "
                          "read scope; this tool changes the memory and needs write.",
                          t->name);
    if (args == NULL && (args = empty = json_object()) == NULL)
        return NULL;
    r = t->fn(who, args);
    json_decref(empty);
    return r;
}

/* ==== resources ==== */

int mcp__resource_list(json_t **out, const char **msg, const mcp_caller *who, const char *cursor)
{
    lm_doc_list_opts o = LM_DOC_LIST_OPTS_INIT;
    lm_doc_page *page = NULL;
    json_t *list, *res;
    char *end = NULL;
    long long offset = 0;
    int rc;

    if (cursor != NULL) {
        errno = 0;
        offset = strtoll(cursor, &end, 10);
        if (cursor[0] == '\0' || *end != '\0' || errno != 0 || offset < 0) {
            *msg = "invalid cursor";
            return MCP_INVALID_PARAMS;
        }
    }
    o.limit = RESOURCE_PAGE;
    o.offset = offset;
    rc = lm_doc_list(&page, who->mem, who->tenant, &o);
    if (rc < 0) {
        *msg = "could not list documents";
        return MCP_INTERNAL_ERROR;
    }
    list = json_array();
    for (size_t i = 0; i < lm_doc_page_count(page); i++) {
        const lm_document *d = lm_doc_page_at(page, i);
        char uri[sizeof(URI_PREFIX) + LM_UUID_STRLEN];
        snprintf(uri, sizeof(uri), URI_PREFIX "%s", d->document_id);
        json_array_append_new(list, json_pack("{s:s,s:s,s:s,s:s,s:I}", "uri", uri, "name",
                                              d->name, "description", d->id_at_origin,
                                              "mimeType", "text/plain", "size",
                                              (json_int_t)d->content_bytes));
    }
    res = json_pack("{s:o}", "resources", list);
    if (res != NULL && offset + (long long)lm_doc_page_count(page) < lm_doc_page_total(page) &&
        lm_doc_page_count(page) > 0) {
        char next[32];
        snprintf(next, sizeof(next), "%lld", offset + (long long)lm_doc_page_count(page));
        json_object_set_new(res, "nextCursor", json_string(next));
    }
    lm_doc_page_free(page);
    if (res == NULL) {
        *msg = "out of memory";
        return MCP_INTERNAL_ERROR;
    }
    *out = res;
    return 0;
}

int mcp__resource_read(json_t **out, const char **msg, const mcp_caller *who, const char *uri)
{
    const char *id;
    lm_doc *doc = NULL;
    lm_buf text = LM_BUF_INIT;
    int rc;

    if (strncmp(uri, URI_PREFIX, strlen(URI_PREFIX)) != 0) {
        *msg = "unknown resource URI: expected llmemory://documents/{document_id}";
        return MCP_INVALID_PARAMS;
    }
    id = uri + strlen(URI_PREFIX);
    if (!lm__uuid_valid(id)) {
        *msg = "resource not found";
        return MCP_RESOURCE_NOT_FOUND;
    }
    rc = lm_doc_get(&doc, who->mem, who->tenant, id, 1);
    if (rc == LM_ENOTFOUND) {
        *msg = "resource not found";
        return MCP_RESOURCE_NOT_FOUND;
    }
    if (rc < 0) {
        *msg = "could not read the document";
        return MCP_INTERNAL_ERROR;
    }
    /* The document's text: its top-level chunks in order (children repeat their parents). */
    for (size_t i = 0; i < lm_doc_chunk_count(doc); i++) {
        const lm_chunk *c = lm_doc_chunk_at(doc, i);
        if (c->parent_chunk_id[0] != '\0')
            continue;
        if (text.size > 0)
            lm__buf_puts(&text, "\n\n");
        lm__buf_puts(&text, c->content);
    }
    *out = lm__buf_oom(&text)
               ? NULL
               : json_pack("{s:[{s:s,s:s,s:s%}]}", "contents", "uri", uri, "mimeType",
                           "text/plain", "text", text.size > 0 ? text.ptr : "", text.size);
    lm_doc_free(doc);
    lm_buf_dispose(&text);
    if (*out == NULL) {
        *msg = "out of memory";
        return MCP_INTERNAL_ERROR;
    }
    return 0;
}

/* ==== the prompt ==== */

int mcp__prompt_get(json_t **out,
                    const char **msg,
                    const mcp_caller *who,
                    const char *name,
                    const json_t *args)
{
    const json_t *task = json_object_get(args, "task");
    lm_buf text = LM_BUF_INIT;

    (void)who;
    if (strcmp(name, "use-memory") != 0) {
        *msg = "unknown prompt";
        return MCP_INVALID_PARAMS;
    }
    if (task != NULL && !json_is_string(task)) {
        *msg = "argument \"task\" must be a string";
        return MCP_INVALID_PARAMS;
    }
    lm__buf_puts(&text, prompt_text);
    if (task != NULL && json_string_length(task) > 0) {
        lm__buf_puts(&text, "\n\nThe task: ");
        put_capped(&text, json_string_value(task), 4000);
        lm__buf_puts(&text, "\nStart by searching the memory for what this task needs.");
    }
    *out = lm__buf_oom(&text)
               ? NULL
               : json_pack("{s:s,s:[{s:s,s:{s:s,s:s}}]}", "description",
                           "How to use the document memory", "messages", "role", "user",
                           "content", "type", "text", "text", text.ptr);
    lm_buf_dispose(&text);
    if (*out == NULL) {
        *msg = "out of memory";
        return MCP_INTERNAL_ERROR;
    }
    return 0;
}

const char *mcp__instructions(const mcp_caller *who)
{
    (void)who;
    return "A long-term document memory. Search it (tool search) before answering questions "
           "that may depend on stored knowledge; store what is worth keeping with remember; "
           "read whole documents with get or as llmemory://documents/{document_id} resources. "
           "The prompt use-memory explains more.";
}

/* ==== definitions, checked once ==== */

static char *compact(const char *text, const char *wrap_key)
{
    json_error_t err;
    json_t *v = json_loads(text, 0, &err), *w;
    char *out;

    if (v == NULL) {
        fprintf(stderr, "llmemory: mcp definitions: %s at %d\n", err.text, err.position);
        return NULL;
    }
    w = wrap_key != NULL ? json_pack("{s:o}", wrap_key, v) : v;
    out = w != NULL ? json_dumps(w, JSON_COMPACT) : NULL;
    json_decref(w);
    return out;
}

int mcp__tools_init(void)
{
    if (tools_list_text != NULL)
        return 0;
    tools_list_text = compact(tools_json, "tools");
    templates_text = compact(templates_json, NULL);
    prompts_text = compact(prompts_json, NULL);
    return tools_list_text != NULL && templates_text != NULL && prompts_text != NULL ? 0 : -1;
}

const char *mcp__tools_list_json(void)
{
    return tools_list_text;
}

const char *mcp__templates_list_json(void)
{
    return templates_text;
}

const char *mcp__prompts_list_json(void)
{
    return prompts_text;
}
