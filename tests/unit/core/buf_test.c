/* tests/unit/core/buf_test.c: lm_buf builders, sticky OOM, UTF-8 helpers, hashes, errors. */
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "hash.h"
#include "runner.h"
#include "utf8.h"

TEST(test_core_buf__append_and_printf)
{
    lm_buf b = LM_BUF_INIT;
    ASSERT_EQ_STR(b.ptr, "");
    lm__buf_puts(&b, "hello");
    lm__buf_putc(&b, ' ');
    lm__buf_printf(&b, "%d-%s", 42, "x");
    ASSERT_EQ_STR(b.ptr, "hello 42-x");
    ASSERT_EQ_INT(b.size, 10);
    lm__buf_truncate(&b, 5);
    ASSERT_EQ_STR(b.ptr, "hello");
    for (int i = 0; i < 10000; i++)
        lm__buf_putc(&b, 'a');
    ASSERT_EQ_INT(b.size, 10005);
    ASSERT(!lm__buf_oom(&b));
    char *p = lm__buf_detach(&b);
    ASSERT_EQ_INT(strlen(p), 10005);
    ASSERT_EQ_STR(b.ptr, "");
    lm__free(p);
    lm_buf_dispose(&b);
    lm_buf_dispose(NULL);
}

TEST(test_core_buf__sticky_oom)
{
    lm_buf b = LM_BUF_INIT;
    lm__alloc_fail_at(1);
    lm__buf_puts(&b, "will fail");
    lm__buf_puts(&b, "ignored");
    lm__alloc_fail_at(0);
    ASSERT(lm__buf_oom(&b));
    ASSERT_EQ_INT(lm_error_last()->code, LM_ENOMEM);
    ASSERT(lm__buf_detach(&b) == NULL);
    lm_buf_dispose(&b);
}

TEST(test_core_utf8__validation)
{
    ASSERT(lm__utf8_valid("plain", 5));
    ASSERT(lm__utf8_valid("\xc3\xa9\xe6\xbc\xa2\xf0\x9f\x99\x82", 9));
    ASSERT(!lm__utf8_valid("\xc0\xaf", 2));         /* overlong */
    ASSERT(!lm__utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    ASSERT(!lm__utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    ASSERT(!lm__utf8_valid("\xe6\xbc", 2));         /* truncated */
    const char *s = "a\xe6\xbc\xa2z";
    ASSERT_EQ_INT(lm__utf8_floor(s, 5, 2), 1);
    ASSERT_EQ_INT(lm__utf8_floor(s, 5, 3), 1);
    ASSERT_EQ_INT(lm__utf8_floor(s, 5, 4), 4);
}

TEST(test_core_utf8__repair)
{
    lm_buf b = LM_BUF_INIT;
    lm__utf8_repair(&b, "ok \xc3\xa9 \xff x \xe6\xbc", 12);
    ASSERT_EQ_STR(b.ptr, "ok \xc3\xa9 \xef\xbf\xbd x \xef\xbf\xbd\xef\xbf\xbd");
    ASSERT(lm__utf8_valid(b.ptr, b.size));
    lm_buf_dispose(&b);
}

TEST(test_core_hash__sha256_and_uuid)
{
    char h[65];
    lm__sha256_hex(h, "abc", 3);
    ASSERT_EQ_STR(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    char u1[37], u2[37];
    lm__uuid_v4(u1);
    lm__uuid_v4(u2);
    ASSERT(lm__uuid_valid(u1));
    ASSERT(strcmp(u1, u2) != 0);
    ASSERT_EQ_INT(u1[14], '4');
}

TEST(test_core_error__names_and_messages)
{
    ASSERT_EQ_STR(lm_errname(LM_ENOTFOUND), "not_found");
    ASSERT_EQ_STR(lm_strerror(LM_EINVAL), "invalid argument");
    ASSERT_EQ_STR(lm_errname(12345), "error");
    lm__error_set_field(LM_EINVAL, "owner_id", "owner_id must not be %s", "empty");
    lm__error_detail("Detail %d.", 1);
    ASSERT_EQ_INT(lm_error_last()->code, LM_EINVAL);
    ASSERT_EQ_STR(lm_error_last()->message, "owner_id must not be empty");
    ASSERT_EQ_STR(lm_error_last()->detail, "Detail 1.");
    ASSERT_EQ_STR(lm_error_last()->field, "owner_id");
    lm_error_clear();
    ASSERT_EQ_INT(lm_error_last()->code, LM_OK);
    ASSERT_EQ_STR(lm_error_last()->message, "");
}
