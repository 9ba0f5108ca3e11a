/* tests/unit/core/validate_test.c: input rules of core/validate.c (no database). */
#include <string.h>

#include "runner.h"
#include "validate.h"

TEST(test_core_validate__owner_ids)
{
    const char *good[] = {"a", "acme", "org-123/workspace-456", "A.b_c-9", "x/y/z", "..a", "a.."};
    for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
        ASSERT_OK(lm__validate_owner_id(good[i]));
    const char *bad[] = {"", "*", "%", "' OR 1=1 --", "a/../b", "a/./b", "/a", "a/", "a//b", ".",
                         "..", "a b", "caf\xc3\xa9", "a\nb", "a;b", "a\\b"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        ASSERT_ERR(lm__validate_owner_id(bad[i]), LM_EINVAL);
        ASSERT_EQ_STR(lm_error_last()->field, "owner_id");
    }
    ASSERT_ERR(lm__validate_owner_id(NULL), LM_EINVAL);
    char s[300];
    memset(s, 'a', sizeof(s));
    s[255] = '\0';
    ASSERT_OK(lm__validate_owner_id(s));
    s[255] = 'a';
    s[256] = '\0';
    ASSERT_ERR(lm__validate_owner_id(s), LM_EINVAL);
    ASSERT(strstr(lm_error_last()->message, "too long") != NULL);
}

TEST(test_core_validate__id_at_origin)
{
    ASSERT_OK(lm__validate_id_at_origin("auth0|abc", "id_at_origin"));
    ASSERT_OK(lm__validate_id_at_origin("user@example.com:1", "id_at_origin"));
    ASSERT_OK(lm__validate_id_at_origin("docs/a.md", "id_at_origin"));
    ASSERT_ERR(lm__validate_id_at_origin("has space", "id_at_origin"), LM_EINVAL);
    ASSERT_ERR(lm__validate_id_at_origin("", "id_at_origin"), LM_EINVAL);
    ASSERT_ERR(lm__validate_id_at_origin("quote'", "origin"), LM_EINVAL);
    ASSERT_EQ_STR(lm_error_last()->field, "origin");
}

TEST(test_core_validate__names_and_queries)
{
    ASSERT_OK(lm__validate_doc_name("Résumé 2024.pdf"));
    ASSERT_ERR(lm__validate_doc_name(""), LM_EINVAL);
    ASSERT_ERR(lm__validate_doc_name("bad\xff"), LM_EINVAL);
    ASSERT_ERR(lm__validate_doc_name("line\nbreak"), LM_EINVAL);
    char n[502];
    memset(n, 'x', 501);
    n[501] = '\0';
    ASSERT_ERR(lm__validate_doc_name(n), LM_EINVAL);
    n[500] = '\0';
    ASSERT_OK(lm__validate_doc_name(n));
    ASSERT_OK(lm__validate_query("cats"));
    ASSERT_ERR(lm__validate_query(" \t\n"), LM_EINVAL);
    ASSERT_ERR(lm__validate_query("\xc3"), LM_EINVAL);
}

TEST(test_core_validate__metadata)
{
    ASSERT_OK(lm__validate_metadata(NULL, "metadata", 1));
    ASSERT_ERR(lm__validate_metadata(NULL, "metadata", 0), LM_EINVAL);
    ASSERT_OK(lm__validate_metadata("{\"a\":[1,{\"b\":null}]}", "metadata", 1));
    ASSERT_ERR(lm__validate_metadata("[]", "metadata", 1), LM_EINVAL);
    ASSERT_ERR(lm__validate_metadata("\"s\"", "metadata", 1), LM_EINVAL);
    /* Numbers beyond the 64-bit integers are refused (no reader could load them back). */
    ASSERT_ERR(lm__validate_metadata("{\"a\":1e19}", "metadata", 1), LM_EINVAL);
    ASSERT_ERR(lm__validate_metadata("{\"a\":[1,{\"b\":-1e300}]}", "metadata", 1), LM_EINVAL);
    ASSERT_OK(lm__validate_metadata("{\"a\":9.2e18,\"b\":-9.2e18,\"c\":1.5}", "metadata", 1));
    ASSERT_OK(lm__validate_metadata("{\"a\":9223372036854775807}", "metadata", 1));
    ASSERT_ERR(lm__validate_metadata("{\"a\":1,\"a\":2}", "metadata", 1), LM_EINVAL);
    ASSERT_ERR(lm__validate_metadata("{\"a\":\"x\\u0000y\"}", "metadata", 1), LM_EINVAL);
    /* depth 10 is allowed, 11 is not */
    ASSERT_OK(lm__validate_metadata("{\"1\":{\"2\":{\"3\":{\"4\":{\"5\":{\"6\":{\"7\":{\"8\":{\"9\":"
                                    "{\"10\":1}}}}}}}}}}", "metadata", 1));
    ASSERT_ERR(lm__validate_metadata("{\"1\":{\"2\":{\"3\":{\"4\":{\"5\":{\"6\":{\"7\":{\"8\":{\"9\":"
                                     "{\"10\":[1]}}}}}}}}}}", "metadata", 1), LM_EINVAL);
    static char big[70000];
    memset(big, ' ', sizeof(big) - 1);
    big[0] = '{';
    big[sizeof(big) - 2] = '}';
    ASSERT_ERR(lm__validate_metadata(big, "metadata", 1), LM_EINVAL);
    ASSERT(strstr(lm_error_last()->message, "too large") != NULL);
}

TEST(test_core_validate__timestamps)
{
    const char *good[] = {"2024-05-01", "2024-02-29", "2024-05-01T10:00", "2024-05-01T10:00:59Z",
                          "2024-05-01 10:00:00.123456+02:00", "2000-01-01T00:00:00-0530"};
    for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
        ASSERT_OK(lm__validate_timestamp(good[i], "date"));
    const char *bad[] = {"", "2024", "2024-13-01", "2023-02-29", "2024-05-01T25:00", "yesterday",
                         "2024-05-01T10:00:00Zjunk", "2024-5-1", "0000-12-31",
                         "0001-01-01T00:00:00+01:00", "0001-01-01T05:00+05:01",
                         "9999-12-31T23:00-01:00", "9999-12-31T20:00:00-0400"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
        ASSERT_ERR(lm__validate_timestamp(bad[i], "date"), LM_EINVAL);
    /* The UTC bounds themselves, and instants that stay inside them. */
    const char *edge[] = {"0001-01-01", "0001-01-01T00:00:00Z", "0001-01-01T05:00+05:00",
                          "0001-01-01T00:00-01:00", "9999-12-31T23:59:59.999999Z",
                          "9999-12-31T20:00:00-03:59", "9999-12-31T23:00+14:00"};
    for (size_t i = 0; i < sizeof(edge) / sizeof(*edge); i++)
        ASSERT_OK(lm__validate_timestamp(edge[i], "date"));
    ASSERT_ERR(lm__validate_timestamp("0001-01-01T00:30+01:00", "document_date"), LM_EINVAL);
    ASSERT(strstr(lm_error_last()->message, "out of range") != NULL);
    ASSERT(strstr(lm_error_last()->detail, "BC") != NULL);
}

TEST(test_core_validate__text_config_and_uuid)
{
    ASSERT_OK(lm__validate_text_config("english"));
    ASSERT_OK(lm__validate_text_config("pg_catalog.simple"));
    ASSERT_ERR(lm__validate_text_config("English"), LM_EINVAL);
    ASSERT_ERR(lm__validate_text_config("english; drop"), LM_EINVAL);
    ASSERT_ERR(lm__validate_text_config(".x"), LM_EINVAL);
    ASSERT_OK(lm__validate_uuid("123e4567-e89b-42d3-a456-426614174000", "id"));
    ASSERT_ERR(lm__validate_uuid("123e4567e89b42d3a456426614174000", "id"), LM_EINVAL);
    ASSERT_ERR(lm__validate_uuid("123e4567-e89b-42d3-a456-42661417400g", "id"), LM_EINVAL);
}
