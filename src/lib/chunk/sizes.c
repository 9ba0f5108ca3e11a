/*
 * chunk/sizes.c: llmemory's chunk sizes per document type, in tokens, with its adjustments for
 * short (< 1000 bytes: everything halved) and long (> 50000 bytes: larger windows) documents.
 * The table is the contract of docs/chunking.md; change both together.
 */
#include "chunk.h"

lm__chunk_sizes lm__chunk_sizes_for(lm_doc_type type, size_t text_len)
{
    lm__chunk_sizes z;
    switch (type) {
    case LM_DOC_EMAIL:
        z = (lm__chunk_sizes){300, 150, 25, 15};
        break;
    case LM_DOC_CHAT:
        z = (lm__chunk_sizes){200, 100, 20, 10};
        break;
    case LM_DOC_PRESENTATION:
        z = (lm__chunk_sizes){400, 200, 30, 15};
        break;
    case LM_DOC_LEGAL_DOCUMENT:
        z = (lm__chunk_sizes){500, 250, 40, 20};
        break;
    case LM_DOC_DOCX:
        z = (lm__chunk_sizes){700, 350, 50, 25};
        break;
    case LM_DOC_CODE:
    case LM_DOC_TECHNICAL_DOC:
    case LM_DOC_PDF:
        z = (lm__chunk_sizes){800, 400, 60, 30};
        break;
    case LM_DOC_REPORT:
    case LM_DOC_BUSINESS_REPORT:
    case LM_DOC_MARKDOWN:
    case LM_DOC_TEXT:
    case LM_DOC_HTML:
    case LM_DOC_UNKNOWN:
    default:
        z = (lm__chunk_sizes){600, 300, 50, 25};
        break;
    }
    if (text_len < 1000) {
        z.parent /= 2;
        z.child /= 2;
        z.overlap /= 2;
        z.child_overlap /= 2;
    } else if (text_len > 50000) {
        /* int(parent * 1.5) and int(child * 1.2) in llmemory; exact in integers for the table. */
        z.parent = z.parent * 3 / 2 < 1200 ? z.parent * 3 / 2 : 1200;
        z.child = z.child * 6 / 5 < 500 ? z.child * 6 / 5 : 500;
    }
    return z;
}
