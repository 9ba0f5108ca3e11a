/*
 * core/hash.h: SHA-256 (content hashes, migration checksums) and random UUIDs (libsodium).
 */
#ifndef LM_CORE_HASH_H
#define LM_CORE_HASH_H

#include <stddef.h>

/* Lower-case hex SHA-256 of @p data into @p out (65 bytes incl. NUL). */
void lm__sha256_hex(char out[65], const void *data, size_t len);
/* A random (version 4) UUID in canonical text form into @p out (37 bytes incl. NUL). */
void lm__uuid_v4(char out[37]);
/* 1 when @p s is a UUID in canonical 8-4-4-4-12 hex form (either case). */
int lm__uuid_valid(const char *s);

#endif
