/*
 * tests/integration/keycache_test.c: the verified-key cache of lm_key_verify() (api/keycache.c).
 * Two memories on one schema stand for two processes: what one revokes, expires or erases must
 * stop verifying in the other's cache within the moment a notification takes (polled, 2 s).
 */
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "support.h"

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Open a second memory on the schema of @p first's test (another "process"). */
static lm_memory *second(void)
{
    lm_memory_opts mo = LM_MEMORY_OPTS_INIT;
    lm_memory *m = NULL;
    mo.database_url = getenv("LLMEMORY_TEST_DATABASE_URL");
    mo.schema = test_schema();
    ASSERT_OK(lm_memory_open(&m, &mo));
    return m;
}

/* Verify @p key on @p m until the cache answers it (its listener connects after the first
   verification): fails the test after 2 s. */
static void until_cached(lm_memory *m, const char *key)
{
    lm_principal who;
    lm_key_cache_info before, after;
    for (int i = 0; i < 200; i++) {
        lm_key_cache_stats(&before, m);
        ASSERT_OK(lm_key_verify(&who, m, key));
        lm_key_cache_stats(&after, m);
        if (after.hits > before.hits)
            return;
        sleep_ms(10);
    }
    ASSERT(!"the key is never answered from the cache");
}

/* Verify @p key on @p m until it is refused with a message containing @p why (2 s at most). */
static void until_refused(lm_memory *m, const char *key, const char *why)
{
    lm_principal who;
    for (int i = 0; i < 200; i++) {
        int rc = lm_key_verify(&who, m, key);
        if (rc == LM_EPERM) {
            ASSERT(strstr(lm_error_last()->message, why) != NULL);
            ASSERT_EQ_STR(who.owner_id, "");
            return;
        }
        ASSERT_OK(rc);
        sleep_ms(10);
    }
    ASSERT(!"the key is still accepted 2 s later");
}

TEST(test_keycache__secret_revocation_and_tenants)
{
    lm_memory *a = test_memory(), *b = second();
    lm_key_created ka, kg, kr;
    lm_principal who;
    lm_key_cache_info st;
    char wrong[LM_KEY_LEN + 1];

    ASSERT_OK(lm_key_create(&ka, a, "acme", NULL));
    ASSERT_OK(lm_key_create(&kg, a, "globex", NULL));
    ASSERT_OK(lm_key_create(&kr, a, "acme", NULL));
    until_cached(b, ka.key);
    until_cached(b, kg.key);
    until_cached(b, kr.key);
    until_cached(a, kr.key);
    lm_key_cache_stats(&st, b);
    ASSERT(st.active);
    ASSERT_EQ_INT(st.entries, 3);
    ASSERT_EQ_INT(st.capacity, 10000);

    /* Each cached key speaks for its own tenant only. */
    ASSERT_OK(lm_key_verify(&who, b, ka.key));
    ASSERT_EQ_STR(who.owner_id, "acme");
    ASSERT_EQ_STR(who.key_id, ka.key_id);
    ASSERT_EQ_INT(who.scope, LM_SCOPE_WRITE);
    ASSERT_OK(lm_key_verify(&who, b, kg.key));
    ASSERT_EQ_STR(who.owner_id, "globex");
    ASSERT_EQ_STR(who.key_id, kg.key_id);

    /* A wrong secret with a cached key id: refused like an unknown key. */
    snprintf(wrong, sizeof(wrong), "%s", ka.key);
    wrong[LM_KEY_LEN - 1] = wrong[LM_KEY_LEN - 1] == '0' ? '1' : '0';
    ASSERT_ERR(lm_key_verify(&who, b, wrong), LM_EPERM);
    ASSERT_EQ_STR(lm_error_last()->message, "invalid API key");
    ASSERT_EQ_STR(who.owner_id, "");
    /* Another key's secret under this id, too. */
    memcpy(wrong, ka.key, 4 + LM_KEY_ID_LEN + 1);
    memcpy(wrong + 4 + LM_KEY_ID_LEN + 1, kg.key + 4 + LM_KEY_ID_LEN + 1, LM_KEY_SECRET_LEN + 1);
    ASSERT_ERR(lm_key_verify(&who, b, wrong), LM_EPERM);

    /* Revoked in one process: refused at once there, and in the other within the notification. */
    ASSERT_OK(lm_key_revoke(a, NULL, 0, kr.key_id));
    ASSERT_ERR(lm_key_verify(&who, a, kr.key), LM_EPERM);
    ASSERT(strstr(lm_error_last()->message, "revoked") != NULL);
    until_refused(b, kr.key, "revoked");

    /* Erasure of a tenant in one process drops its keys from the other's cache. */
    ASSERT_OK(lm_tenant_erase(NULL, a, "globex"));
    until_refused(b, kg.key, "invalid API key");
    ASSERT_OK(lm_key_verify(&who, b, ka.key));
    ASSERT_EQ_STR(who.owner_id, "acme");

    lm_key_created_dispose(&ka);
    lm_key_created_dispose(&kg);
    lm_key_created_dispose(&kr);
    lm_memory_close(b);
    lm_memory_close(a);
}

TEST(test_keycache__expiry_size_and_off)
{
    lm_memory *a = test_memory(), *b = second();
    lm_key_opts o = LM_KEY_OPTS_INIT;
    lm_key_created k[3], ke;
    lm_principal who;
    lm_key_cache_info st, st2;
    char exp[32];
    time_t t = time(NULL) + 2;
    struct tm tm;

    /* Expiry is honoured from the cache: no notification is sent when a key merely expires. */
    gmtime_r(&t, &tm);
    strftime(exp, sizeof(exp), "%Y-%m-%dT%H:%M:%SZ", &tm);
    o.expires_at = exp;
    ASSERT_OK(lm_key_create(&ke, a, "acme", &o));
    until_cached(b, ke.key);
    sleep_ms(2500);
    ASSERT_ERR(lm_key_verify(&who, b, ke.key), LM_EPERM);
    ASSERT(strstr(lm_error_last()->message, "expired") != NULL);

    /* Bounded: the least recently used key goes. */
    ASSERT_ERR(lm_key_cache_configure(b, -1), LM_EINVAL);
    ASSERT_ERR(lm_key_cache_configure(b, 2000000), LM_EINVAL);
    ASSERT_OK(lm_key_cache_configure(b, 2));
    for (int i = 0; i < 3; i++) {
        ASSERT_OK(lm_key_create(&k[i], a, i == 1 ? "globex" : "acme", NULL));
        until_cached(b, k[i].key);
    }
    lm_key_cache_stats(&st, b);
    ASSERT_EQ_INT(st.capacity, 2);
    ASSERT_EQ_INT(st.entries, 2);
    ASSERT_OK(lm_key_verify(&who, b, k[0].key)); /* evicted: read again, and right */
    ASSERT_EQ_STR(who.owner_id, "acme");
    ASSERT_OK(lm_key_verify(&who, b, k[1].key));
    ASSERT_EQ_STR(who.owner_id, "globex");

    /* Off: every verification reads the key, and revocation is seen at once. */
    ASSERT_OK(lm_key_cache_configure(b, 0));
    lm_key_cache_stats(&st, b);
    ASSERT_EQ_INT(st.capacity, 0);
    ASSERT(!st.active);
    for (int i = 0; i < 3; i++)
        ASSERT_OK(lm_key_verify(&who, b, k[i].key));
    lm_key_cache_stats(&st2, b);
    ASSERT_EQ_INT(st2.hits, st.hits);
    ASSERT_EQ_INT(st2.entries, 0);
    ASSERT_OK(lm_key_revoke(a, "globex", 0, k[1].key_id));
    ASSERT_ERR(lm_key_verify(&who, b, k[1].key), LM_EPERM);
    ASSERT_OK(lm_key_verify(&who, b, k[2].key));
    ASSERT_EQ_STR(who.owner_id, "acme");

    for (int i = 0; i < 3; i++)
        lm_key_created_dispose(&k[i]);
    lm_key_created_dispose(&ke);
    lm_memory_close(b);
    lm_memory_close(a);
}
