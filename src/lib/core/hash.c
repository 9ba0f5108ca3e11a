/*
 * core/hash.c: SHA-256 and UUIDv4 on top of libsodium (whose RNG is thread-safe once
 * sodium_init() has run; lm_memory_open() calls it).
 */
#include "hash.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

static const char hexdig[] = "0123456789abcdef";

void lm__sha256_hex(char out[65], const void *data, size_t len)
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)data, (unsigned long long)len);
    for (size_t i = 0; i < sizeof(h); i++) {
        out[2 * i] = hexdig[h[i] >> 4];
        out[2 * i + 1] = hexdig[h[i] & 15];
    }
    out[64] = '\0';
}

void lm__uuid_v4(char out[37])
{
    unsigned char b[16];
    randombytes_buf(b, sizeof(b));
    b[6] = (unsigned char)((b[6] & 0x0F) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3F) | 0x80);
    size_t o = 0;
    for (size_t i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hexdig[b[i] >> 4];
        out[o++] = hexdig[b[i] & 15];
    }
    out[o] = '\0';
}

int lm__uuid_valid(const char *s)
{
    if (s == NULL || strlen(s) != 36)
        return 0;
    for (size_t i = 0; i < 36; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return 0;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
            return 0;
        }
    }
    return 1;
}
