/*
 * core/doctype.c: document type names (public lm_doc_type_name/lm_doc_type_parse, and the
 * lookup of a stored name). In core because both the document API and the search filters use
 * them, and search must not depend on api.
 */
#include <string.h>
#include <strings.h>

#include "doctype.h"
#include "error.h"

static const char *const type_names[LM_DOC_TYPE_COUNT] = {
    "pdf",    "markdown", "code", "text",         "html",           "docx",          "email",
    "report", "chat",     "presentation", "legal_document", "technical_doc", "business_report",
    "unknown"};

const char *lm_doc_type_name(lm_doc_type type)
{
    if ((int)type < 0 || type >= LM_DOC_TYPE_COUNT)
        return "unknown";
    return type_names[type];
}

int lm_doc_type_parse(lm_doc_type *out, const char *name)
{
    LM_ASSERT_ARG(out != NULL);
    for (int i = 0; name && i < LM_DOC_TYPE_COUNT; i++) {
        if (strcasecmp(name, type_names[i]) == 0) {
            *out = (lm_doc_type)i;
            return 0;
        }
    }
    lm__error_set_field(LM_EINVAL, "document_type", "invalid document type \"%.60s\"",
                        name ? name : "");
    lm__error_hint("Use one of: pdf, markdown, code, text, html, docx, email, report, chat, "
                   "presentation, legal_document, technical_doc, business_report, unknown.");
    return LM_EINVAL;
}

lm_doc_type lm__doc_type_from_text(const char *s)
{
    lm_doc_type t = LM_DOC_UNKNOWN;
    for (int i = 0; i < LM_DOC_TYPE_COUNT; i++)
        if (strcmp(s, type_names[i]) == 0)
            t = (lm_doc_type)i;
    return t;
}
