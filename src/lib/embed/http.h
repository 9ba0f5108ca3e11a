/*
 * embed/http.h: limits and retry arithmetic of the OpenAI-compatible HTTP embedder.
 */
#ifndef LM_EMBED_HTTP_H
#define LM_EMBED_HTTP_H

#include <time.h>

/* Caps of one HTTP exchange: the JSON request we build and the response we accept. */
#define LM__EMBED_MAX_REQUEST_BYTES  (64u * 1024u * 1024u)
#define LM__EMBED_MAX_RESPONSE_BYTES (256u * 1024u * 1024u)
/* Largest batch_size and concurrency the HTTP embedder accepts. */
#define LM__EMBED_MAX_BATCH       2048
#define LM__EMBED_MAX_CONCURRENCY 64

/*
 * Retry-After header value -> milliseconds to wait (delta-seconds or an HTTP-date relative to
 * @p now), or -1 when the value is not understood. Never negative otherwise.
 */
long long lm__embed_retry_after_ms(const char *value, size_t len, time_t now);
/*
 * Backoff before retry number @p attempt (0-based): base * 2^attempt capped at @p max_ms, with
 * "equal jitter" (half fixed, half uniform random) from @p r (uniform 32-bit random number).
 */
long long lm__embed_backoff_ms(int attempt, int base_ms, int max_ms, uint32_t r);

#endif
