/*  test_gateway_framing: the gateway's RFC 9112 rules on field values and fields (Content-Length,
    Transfer-Encoding, Host, field names) and the mapping of civetweb's own refusals. The
    layout check on civetweb's parsed buffer is tested against civetweb itself in
    tests/system/test_gateway_rfc9112.py, and against a model of it by fuzz/fuzz_framing.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gateway_framing.h"

static void test_content_length_values(void **state)
{
    (void) state;
    int64_t length = -1;
    assert_int_equal(gateway_framing_content_length("0", &length), 0);
    assert_int_equal(length, 0);
    assert_int_equal(gateway_framing_content_length("42", &length), 0);
    assert_int_equal(length, 42);
    assert_int_equal(gateway_framing_content_length("007 \t", &length), 0); /* OWS after */
    assert_int_equal(length, 7);
    assert_int_equal(gateway_framing_content_length("9223372036854775807", &length), 0);
    assert_int_equal(length, INT64_MAX);
    length = 5;
    const char *invalid[] = {"", " ", "+3", "-3", "3 3", "3,3", "3, 3", "0x3", "3x", "\xff"};
    for (size_t i = 0; i < sizeof invalid / sizeof *invalid; i++) {
        assert_int_equal(gateway_framing_content_length(invalid[i], &length), -1);
        assert_int_equal(length, 5); /* untouched */
    }
    assert_int_equal(gateway_framing_content_length("9223372036854775808", &length), -2);
    assert_int_equal(gateway_framing_content_length("99999999999999999999", &length), -2);
    /* Too many digits is not "too large" when it is not a number at all. */
    assert_int_equal(gateway_framing_content_length("99999999999999999999x", &length), -1);
}

static void test_host_values(void **state)
{
    (void) state;
    const char *valid[] = {
        "",          "example.com", "example.com:8080", "127.0.0.1", "[::1]", "[::1]:8080",
        "a-b_c~d.e", "x:",          "%41bc.com",        "host  "};
    for (size_t i = 0; i < sizeof valid / sizeof *valid; i++)
        assert_true(gateway_framing_host_valid(valid[i]));
    const char *invalid[] = {"a b",   "a/b", "a@b", "[::1", "::1]", "x:80a",
                             "x:8 0", "%4",  "a?b", "a#b",  "\"a\""};
    for (size_t i = 0; i < sizeof invalid / sizeof *invalid; i++)
        assert_false(gateway_framing_host_valid(invalid[i]));
}

static void test_path_values(void **state)
{
    (void) state;
    assert_true(gateway_framing_path_valid("/"));
    assert_true(gateway_framing_path_valid("/fast/a%20b/;x=1:@!$&'()*+,="));
    assert_false(gateway_framing_path_valid(NULL));
    assert_false(gateway_framing_path_valid(""));
    assert_false(gateway_framing_path_valid("fast"));
    assert_false(gateway_framing_path_valid("/a%00b")); /* an encoded NUL */
    assert_false(gateway_framing_path_valid("/a%zz"));
    assert_false(gateway_framing_path_valid("/a%4"));
    assert_false(gateway_framing_path_valid("/a b"));
    assert_false(gateway_framing_path_valid("/a\"b"));
}

/* Checks fields given as name, value pairs ending in NULL. */
static gateway_framing_t s_fields(const char *version, ...)
{
    struct mg_header headers[16];
    int count = 0;
    va_list args;
    va_start(args, version);
    const char *name;
    while ((name = va_arg(args, const char *)) != NULL) {
        headers[count].name = name;
        headers[count].value = va_arg(args, const char *);
        count++;
    }
    va_end(args);
    gateway_framing_t verdict;
    gateway_framing_check_fields(version, headers, count, &verdict);
    return verdict;
}

static void s_assert_refused(gateway_framing_t verdict, int status, const char *cause)
{
    assert_int_equal(verdict.status, status);
    assert_string_equal(verdict.cause, cause);
    assert_true(verdict.close);
}

static void test_body_framing(void **state)
{
    (void) state;
    gateway_framing_t verdict = s_fields("1.1", "Host", "x", NULL);
    assert_int_equal(verdict.status, 0);
    assert_false(verdict.chunked);
    assert_int_equal(verdict.content_length, -1);

    verdict = s_fields("1.1", "Host", "x", "content-length", "12", NULL);
    assert_int_equal(verdict.status, 0);
    assert_int_equal(verdict.content_length, 12);

    verdict = s_fields("1.1", "Host", "x", "Transfer-Encoding", "Chunked", NULL);
    assert_int_equal(verdict.status, 0);
    assert_true(verdict.chunked);
    /* Empty list members are ignored (RFC 9110 section 5.6.1). */
    assert_true(s_fields("1.1", "Host", "x", "Transfer-Encoding", " , chunked ,", NULL).chunked);

    s_assert_refused(
        s_fields("1.1", "Host", "x", "Content-Length", "6", "Transfer-Encoding", "chunked", NULL),
        400, "content_length_with_transfer_encoding");
    s_assert_refused(
        s_fields("1.1", "Host", "x", "Content-Length", "3", "Content-Length", "3", NULL), 400,
        "duplicate_content_length");
    s_assert_refused(s_fields("1.1", "Host", "x", "Content-Length", "+3", NULL), 400,
                     "bad_content_length");
    s_assert_refused(s_fields("1.1", "Host", "x", "Content-Length", "99999999999999999999", NULL),
                     413, "content_length_too_large");

    const char *not_final[] = {
        "gzip", "chunked, gzip", "identity", "chunked, chunked", "chunked;a=b",
        "",     " , ",           "chu(nked"};
    for (size_t i = 0; i < sizeof not_final / sizeof *not_final; i++)
        s_assert_refused(s_fields("1.1", "Host", "x", "Transfer-Encoding", not_final[i], NULL), 400,
                         "bad_transfer_encoding");
    /* Two lines are one list: "chunked, gzip". */
    s_assert_refused(s_fields("1.1", "Host", "x", "Transfer-Encoding", "chunked",
                              "Transfer-Encoding", "gzip", NULL),
                     400, "bad_transfer_encoding");
    s_assert_refused(s_fields("1.1", "Host", "x", "Transfer-Encoding", "gzip, chunked", NULL), 501,
                     "unknown_transfer_encoding");
    s_assert_refused(
        s_fields("1.1", "Host", "x", "Transfer-Encoding", "gzip;level=1, chunked", NULL), 501,
        "unknown_transfer_encoding");
    s_assert_refused(s_fields("1.0", "Transfer-Encoding", "chunked", NULL), 400,
                     "transfer_encoding_in_http10");
}

static void test_host_and_names(void **state)
{
    (void) state;
    s_assert_refused(s_fields("1.1", NULL), 400, "missing_host");
    s_assert_refused(s_fields("1.1", "Host", "a", "HOST", "a", NULL), 400, "duplicate_host");
    s_assert_refused(s_fields("1.0", "Host", "a", "Host", "a", NULL), 400, "duplicate_host");
    s_assert_refused(s_fields("1.1", "Host", "a b", NULL), 400, "bad_host");
    assert_int_equal(s_fields("1.0", NULL).status, 0); /* HTTP/1.0 needs no Host */
    assert_int_equal(s_fields("1.1", "Host", "", NULL).status, 0);
    s_assert_refused(s_fields("1.1", "Host", "x", "X(A)", "1", NULL), 400, "bad_header_name");
    s_assert_refused(s_fields("1.1", "Host", "x", "", "1", NULL), 400, "bad_header_name");
}

static void test_civetweb_refusals(void **state)
{
    (void) state;
    char method[] = "BREW", target[] = "/", version[] = "1.1";
    struct mg_request_info info = {
        .request_method = method, .request_uri = target, .http_version = version};
    gateway_framing_t verdict;
    gateway_framing_civetweb_error(&info, 400, &verdict);
    s_assert_refused(verdict, 501, "method_not_implemented");

    /* A known method: civetweb's 400 came from elsewhere (here: a Transfer-Encoding). */
    char get[] = "GET";
    info.request_method = get;
    info.num_headers = 2;
    info.http_headers[0] = (struct mg_header){.name = "Host", .value = "x"};
    info.http_headers[1] =
        (struct mg_header){.name = "Transfer-Encoding", .value = "gzip, chunked"};
    gateway_framing_civetweb_error(&info, 400, &verdict);
    s_assert_refused(verdict, 501, "unknown_transfer_encoding");
    info.http_headers[1].value = "gzip";
    gateway_framing_civetweb_error(&info, 400, &verdict);
    s_assert_refused(verdict, 400, "bad_transfer_encoding");

    /* Nothing parsed (civetweb resets info first): a plain 400. */
    struct mg_request_info empty = {.num_headers = 0};
    gateway_framing_civetweb_error(&empty, 400, &verdict);
    s_assert_refused(verdict, 400, "bad_request");
    empty.num_headers = -1; /* civetweb's "fields did not parse" */
    gateway_framing_civetweb_error(&empty, 400, &verdict);
    s_assert_refused(verdict, 400, "bad_request");
    gateway_framing_civetweb_error(&empty, 411, &verdict);
    s_assert_refused(verdict, 400, "bad_content_length");
    gateway_framing_civetweb_error(&empty, 413, &verdict);
    s_assert_refused(verdict, 431, "header_too_large");
    gateway_framing_civetweb_error(&empty, 505, &verdict);
    s_assert_refused(verdict, 505, "http_version_not_supported");
    gateway_framing_civetweb_error(&empty, 500, &verdict);
    s_assert_refused(verdict, 500, "http_error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_length_values), cmocka_unit_test(test_host_values),
        cmocka_unit_test(test_path_values),           cmocka_unit_test(test_body_framing),
        cmocka_unit_test(test_host_and_names),        cmocka_unit_test(test_civetweb_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
