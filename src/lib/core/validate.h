/*
 * core/validate.h: input rules checked before any I/O. Each check sets LM_EINVAL with the field
 * name in lm_error_last()->field and a PostgreSQL-style message, and returns LM_EINVAL.
 */
#ifndef LM_CORE_VALIDATE_H
#define LM_CORE_VALIDATE_H

#include <stddef.h>

/* 1-255 bytes of [A-Za-z0-9_.-], optionally in '/'-separated segments; no empty, "." or ".."
 * segment. */
int lm__validate_owner_id(const char *owner_id);
/* 1-255 bytes of [A-Za-z0-9_.@|:-]. @p field names the argument in errors. */
int lm__validate_id_at_origin(const char *id, const char *field);
/* 1-500 bytes of valid UTF-8, no control characters other than tab. */
int lm__validate_doc_name(const char *name);
/* JSON object text, <= 64 KiB, nesting depth <= 10. NULL is allowed when @p allow_null. */
int lm__validate_metadata(const char *json, const char *field, int allow_null);
/* 1-1000 bytes of valid UTF-8 with at least one non-space character. */
int lm__validate_query(const char *query);
/* ISO 8601 date or timestamp: YYYY-MM-DD[(T| )HH:MM[:SS[.f+]]][Z|(+|-)HH[:MM]]. */
int lm__validate_timestamp(const char *ts, const char *field);
/* Text search configuration name: [a-z_][a-z0-9_]* optionally "schema.name", <= 63 bytes each. */
int lm__validate_text_config(const char *name);
/* Canonical UUID text. */
int lm__validate_uuid(const char *id, const char *field);

#endif
