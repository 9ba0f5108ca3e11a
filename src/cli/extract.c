/*
 * cli/extract.c: reading files and extracting their text for `add` and `ingest`: plain text and
 * markdown as UTF-8 (Latin-1 when not valid UTF-8; a first line "# Title", or one underlined
 * with "===" or "---", is the title), HTML with libxml2's HTML parser (scripts, styles and
 * <head> dropped, blocks become line breaks, the <title> kept apart), PDF with poppler-glib
 * (pages joined by blank lines). It does not chunk or clean up text beyond that.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <libxml/HTMLparser.h>
#include <libxml/tree.h>
#include <poppler.h>

#include "buf.h"
#include "cmd.h"
#include "utf8.h"

static void set_err(char *err, size_t errlen, const char *fmt, ...) CLI_PRINTF(3, 4);

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ==== formats ==== */

cli_format cli_format_of_path(const char *path)
{
    static const struct {
        const char *ext;
        cli_format format;
    } exts[] = {
        {".txt", CLI_FORMAT_TEXT},          {".md", CLI_FORMAT_MARKDOWN},
        {".markdown", CLI_FORMAT_MARKDOWN}, {".html", CLI_FORMAT_HTML},
        {".htm", CLI_FORMAT_HTML},          {".pdf", CLI_FORMAT_PDF},
    };
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash != NULL ? slash + 1 : path, '.');

    if (dot == NULL)
        return CLI_FORMAT_NONE;
    for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++)
        if (strcasecmp(dot, exts[i].ext) == 0)
            return exts[i].format;
    return CLI_FORMAT_NONE;
}

cli_format cli_format_of_type(lm_doc_type type)
{
    switch (type) {
    case LM_DOC_HTML:
        return CLI_FORMAT_HTML;
    case LM_DOC_PDF:
        return CLI_FORMAT_PDF;
    case LM_DOC_MARKDOWN:
        return CLI_FORMAT_MARKDOWN;
    default:
        return CLI_FORMAT_TEXT;
    }
}

lm_doc_type cli_format_doc_type(cli_format format)
{
    switch (format) {
    case CLI_FORMAT_MARKDOWN:
        return LM_DOC_MARKDOWN;
    case CLI_FORMAT_HTML:
        return LM_DOC_HTML;
    case CLI_FORMAT_PDF:
        return LM_DOC_PDF;
    case CLI_FORMAT_TEXT:
    case CLI_FORMAT_NONE:
    default:
        return LM_DOC_TEXT;
    }
}

/* ==== reading ==== */

int cli_read_file(lm_buf *out, const char *path, char *err, size_t errlen)
{
    int stdin_ = strcmp(path, "-") == 0;
    int fd = stdin_ ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    const char *what = stdin_ ? "standard input" : path;
    int rc = LM_EIO;

    if (fd < 0) {
        int e = errno;
        set_err(err, errlen, "could not open file \"%s\": %s", path, strerror(e));
        /* A path that names nothing is "not found" (exit status 3), as a missing document. */
        return e == ENOENT || e == ENOTDIR ? LM_ENOTFOUND : LM_EIO;
    }
    for (;;) {
        ssize_t n;
        if (lm__buf_grow(out, 65536) < 0) {
            set_err(err, errlen, "out of memory");
            goto out;
        }
        n = read(fd, out->ptr + out->size, out->asize - out->size - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            set_err(err, errlen,
                    stdin_ ? "could not read %s: %s" : "could not read file \"%s\": %s", what,
                    strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        out->size += (size_t)n;
        out->ptr[out->size] = '\0';
        if (out->size > CLI_MAX_FILE_BYTES) {
            set_err(err, errlen,
                    stdin_ ? "%s is too large (over %zu MiB)"
                           : "file \"%s\" is too large (over %zu MiB)",
                    what, CLI_MAX_FILE_BYTES >> 20);
            goto out;
        }
    }
    rc = 0;
out:
    if (!stdin_)
        close(fd);
    return rc;
}

/* ==== plain text ==== */

static int extract_plain(lm_buf *text, const char *data, size_t len)
{
    /* A byte-order mark is not content. */
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) {
        data += 3;
        len -= 3;
    }
    if (lm__utf8_valid(data, len)) {
        lm__buf_put(text, data, len);
        return 0;
    }
    /* Not UTF-8: read it as Latin-1, where every byte is a character (what older tools and
       Windows editors most often write). */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)data[i];
        if (c < 0x80) {
            lm__buf_putc(text, (char)c);
        } else {
            lm__buf_putc(text, (char)(0xC0 | (c >> 6)));
            lm__buf_putc(text, (char)(0x80 | (c & 0x3F)));
        }
    }
    return 0;
}

/* The line of @p text starting at @p i: its end (before "\n" or "\r\n") into *end, and where
   the next line starts (or @p len). */
static size_t line_end(const char *text, size_t len, size_t i, size_t *end)
{
    size_t e = i;

    while (e < len && text[e] != '\n' && text[e] != '\r')
        e++;
    *end = e;
    if (e < len && text[e] == '\r')
        e++;
    if (e < len && text[e] == '\n')
        e++;
    return e;
}

/* 1 when text[i, end) is a setext heading underline: up to 3 spaces, then only "=" or only
   "-", then blanks. */
static int setext_underline(const char *text, size_t i, size_t end)
{
    size_t n = 0;
    char c;

    while (i < end && n < 3 && text[i] == ' ') {
        i++;
        n++;
    }
    if (i >= end || (text[i] != '=' && text[i] != '-'))
        return 0;
    c = text[i];
    while (i < end && text[i] == c)
        i++;
    while (i < end && (text[i] == ' ' || text[i] == '\t'))
        i++;
    return i == end;
}

/* A markdown document's title: its first line when that is a level-1 ATX heading ("# Title"),
   or when the line under it is a setext underline ("Title" over "=====" or "-----"). */
static void markdown_title(lm_buf *title, const char *text, size_t len)
{
    size_t i = 0, end, next, end2;

    while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r'))
        i++;
    if (i < len && text[i] == '#') {
        if (i + 2 > len || (text[i + 1] != ' ' && text[i + 1] != '\t'))
            return;
        i += 2;
        line_end(text, len, i, &end);
        /* Optional closing hashes and surrounding blanks are not part of the title. */
        while (end > i && (text[end - 1] == '#' || text[end - 1] == ' ' || text[end - 1] == '\t'))
            end--;
    } else {
        next = line_end(text, len, i, &end);
        if (next >= len)
            return;
        line_end(text, len, next, &end2);
        /* A line of "=" or "-" alone (front matter's "---") has no text above it to name. */
        if (setext_underline(text, i, end) || !setext_underline(text, next, end2))
            return;
        while (end > i && (text[end - 1] == ' ' || text[end - 1] == '\t'))
            end--;
    }
    while (i < end && (text[i] == ' ' || text[i] == '\t'))
        i++;
    lm__buf_put(title, text + i, end - i);
}

/* ==== HTML ==== */

/* Elements whose text is never content. */
static const char *const html_skip[] = {"script", "style",  "noscript", "head",   "template",
                                        "svg",    "math",   "iframe",   "object", "canvas",
                                        "select", "button", NULL};
/* Elements that end a paragraph (a blank line around them). */
static const char *const html_para[] = {
    "p",     "h1",  "h2",     "h3",   "h4",      "h5",      "h6",      "blockquote", "pre",
    "table", "ul",  "ol",     "dl",   "section", "article", "aside",   "header",     "footer",
    "main",  "nav", "figure", "form", "hr",      "address", "details", NULL};
/* Elements that end a line. */
static const char *const html_line[] = {"br",     "div",      "li",         "tr",      "dt",
                                        "dd",     "caption",  "figcaption", "summary", "option",
                                        "legend", "fieldset", "body",       "hgroup",  "dialog",
                                        "thead",  "tbody",    "tfoot",      "center",  NULL};
/* Elements whose neighbours must not run into them (table cells). */
static const char *const html_space[] = {"td", "th", "img", NULL};

static int in_list(const char *const *list, const char *name)
{
    for (size_t i = 0; list[i] != NULL; i++)
        if (strcmp(list[i], name) == 0)
            return 1;
    return 0;
}

typedef struct html_out {
    lm_buf *b;
    int brk; /* pending separator: 0 none, 1 space, 2 line break, 3 blank line */
    int pre; /* inside <pre>: keep whitespace as it is */
} html_out;

static void html_break(html_out *o, int level)
{
    if (level > o->brk)
        o->brk = level;
}

static void html_flush(html_out *o)
{
    /* Separators only between pieces of text: none at the start, none at the end. */
    if (o->b->size > 0) {
        if (o->brk == 1)
            lm__buf_putc(o->b, ' ');
        else if (o->brk == 2)
            lm__buf_putc(o->b, '\n');
        else if (o->brk == 3)
            lm__buf_puts(o->b, "\n\n");
    }
    o->brk = 0;
}

static void html_text(html_out *o, const char *s)
{
    for (; *s != '\0'; s++) {
        char c = *s;
        if (o->pre) {
            if (c == '\n') {
                html_break(o, 2);
                continue;
            }
            html_flush(o);
            lm__buf_putc(o->b, c);
        } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f') {
            html_break(o, 1);
        } else {
            html_flush(o);
            lm__buf_putc(o->b, c);
        }
    }
}

static void html_walk(html_out *o, xmlNode *node)
{
    for (; node != NULL; node = node->next) {
        if (node->type == XML_TEXT_NODE || node->type == XML_CDATA_SECTION_NODE) {
            if (node->content != NULL)
                html_text(o, (const char *)node->content);
        } else if (node->type == XML_ELEMENT_NODE && node->name != NULL) {
            const char *name = (const char *)node->name;
            int level = in_list(html_para, name) ? 3 : in_list(html_line, name) ? 2 : 0;
            int was_pre = o->pre;

            if (in_list(html_skip, name))
                continue;
            if (level == 0 && in_list(html_space, name))
                level = 1;
            html_break(o, level);
            if (strcmp(name, "pre") == 0)
                o->pre = 1;
            html_walk(o, node->children);
            o->pre = was_pre;
            html_break(o, level);
        }
    }
}

static xmlNode *html_find(xmlNode *node, const char *name)
{
    for (; node != NULL; node = node->next) {
        xmlNode *found;
        if (node->type != XML_ELEMENT_NODE)
            continue;
        if (node->name != NULL && strcmp((const char *)node->name, name) == 0)
            return node;
        found = html_find(node->children, name);
        if (found != NULL)
            return found;
    }
    return NULL;
}

/* Text of <title>, whitespace collapsed. */
static void html_title(lm_buf *title, xmlDoc *doc)
{
    xmlNode *node = html_find(xmlDocGetRootElement(doc), "title");
    xmlChar *content;
    html_out o = {title, 0, 0};

    if (node == NULL)
        return;
    content = xmlNodeGetContent(node);
    if (content == NULL)
        return;
    html_text(&o, (const char *)content);
    xmlFree(content);
}

static int
extract_html(lm_buf *text, lm_buf *title, const char *data, size_t len, char *err, size_t errlen)
{
    xmlDoc *doc;
    html_out o = {text, 0, 0};
    /* Without a declared charset libxml2 guesses; valid UTF-8 is almost surely UTF-8, and
       anything else is left to the page's own <meta charset>. */
    const char *encoding = lm__utf8_valid(data, len) ? "UTF-8" : NULL;

    if (len == 0)
        return 0;
    if (len > INT_MAX) {
        set_err(err, errlen, "HTML document is too large");
        return LM_EPARSE;
    }
    doc = htmlReadMemory(data, (int)len, NULL, encoding,
                         HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                             HTML_PARSE_NONET);
    if (doc == NULL) {
        set_err(err, errlen, "could not parse HTML");
        return LM_EPARSE;
    }
    if (title != NULL)
        html_title(title, doc);
    html_walk(&o, xmlDocGetRootElement(doc));
    xmlFreeDoc(doc);
    return 0;
}

/* ==== PDF ==== */

static int extract_pdf(lm_buf *text, const char *data, size_t len, char *err, size_t errlen)
{
    GBytes *bytes = NULL;
    GError *gerr = NULL;
    PopplerDocument *doc = NULL;
    int pages, rc = LM_EPARSE;

    bytes = g_bytes_new(data, len);
    doc = poppler_document_new_from_bytes(bytes, NULL, &gerr);
    if (doc == NULL) {
        set_err(err, errlen, "could not read PDF: %s",
                gerr != NULL && gerr->message != NULL ? gerr->message : "not a PDF document");
        goto out;
    }
    pages = poppler_document_get_n_pages(doc);
    for (int i = 0; i < pages; i++) {
        PopplerPage *page = poppler_document_get_page(doc, i);
        char *page_text;

        if (page == NULL)
            continue;
        page_text = poppler_page_get_text(page);
        if (page_text != NULL && page_text[0] != '\0') {
            if (text->size > 0)
                lm__buf_puts(text, "\n\n");
            lm__buf_puts(text, page_text);
        }
        g_free(page_text);
        g_object_unref(page);
    }
    rc = 0;
out:
    if (doc != NULL)
        g_object_unref(doc);
    if (gerr != NULL)
        g_error_free(gerr);
    g_bytes_unref(bytes);
    return rc;
}

/* ==== entry point ==== */

int cli_extract(lm_buf *text,
                lm_buf *title,
                cli_format format,
                const char *data,
                size_t len,
                char *err,
                size_t errlen)
{
    int rc;

    switch (format) {
    case CLI_FORMAT_HTML:
        rc = extract_html(text, title, data, len, err, errlen);
        break;
    case CLI_FORMAT_PDF:
        rc = extract_pdf(text, data, len, err, errlen);
        break;
    case CLI_FORMAT_MARKDOWN:
        rc = extract_plain(text, data, len);
        if (rc == 0 && title != NULL)
            markdown_title(title, text->ptr, text->size);
        break;
    case CLI_FORMAT_TEXT:
    case CLI_FORMAT_NONE:
    default:
        rc = extract_plain(text, data, len);
        break;
    }
    if (rc < 0)
        return rc;
    if (lm__buf_oom(text) || (title != NULL && lm__buf_oom(title))) {
        set_err(err, errlen, "out of memory");
        return LM_ENOMEM;
    }
    /* The library rejects invalid UTF-8; say which file and why here instead. */
    if (!lm__utf8_valid(text->ptr, text->size)) {
        set_err(err, errlen, "extracted text is not valid UTF-8");
        return LM_EPARSE;
    }
    return 0;
}

static int is_blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r' && s[i] != '\f' &&
            s[i] != '\v')
            return 0;
    return 1;
}

int cli_load(
    lm_buf *text, lm_buf *title, const char *path, cli_format format, char *err, size_t errlen)
{
    lm_buf raw;
    int rc;

    lm_buf_init(&raw);
    rc = cli_read_file(&raw, path, err, errlen);
    if (rc == 0)
        rc = cli_extract(text, title, format, raw.ptr, raw.size, err, errlen);
    lm_buf_dispose(&raw);
    if (rc == 0 && is_blank(text->ptr, text->size)) {
        set_err(err, errlen, "%s contains no text",
                strcmp(path, "-") == 0 ? "standard input" : "file");
        rc = LM_EINVAL;
    }
    return rc;
}

void cli_put_capped(lm_buf *out, const char *s, size_t max)
{
    size_t len = strlen(s);

    if (len > max)
        len = lm__utf8_floor(s, len, max);
    lm__buf_put(out, s, len);
}
