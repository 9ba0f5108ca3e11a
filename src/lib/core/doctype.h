/*
 * core/doctype.h: document type names shared by the document API and the search filters (the
 * public lm_doc_type_name/lm_doc_type_parse are declared in llmemory/doc.h).
 */
#ifndef LM_CORE_DOCTYPE_H
#define LM_CORE_DOCTYPE_H

#include "llmemory/doc.h"

/* The type a stored name denotes (exact match); LM_DOC_UNKNOWN for any other text. */
lm_doc_type lm__doc_type_from_text(const char *s);

#endif
