/*  test_worker_cgi: unit tests of worker/worker_cgi.c, the CGI/1.1 response parser
    (RFC 3875 section 6) behind exec:COMMAND: Status, Location, other fields, LF and CRLF
    lines, and every malformed output that must become a 502. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "worker_cgi.h"

static int s_parse(const char *output, worker_cgi_reply_t *reply)
{
    const char *reason = NULL;
    memset(reply, 0, sizeof *reply);
    int rc = worker_cgi_parse(output, strlen(output), reply, &reason);
    if (rc == -1)
        assert_non_null(reason);
    return rc;
}

static void test_status_headers_body(void **state)
{
    const char *output = "Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nno such\n";
    worker_cgi_reply_t reply;
    assert_int_equal(s_parse(output, &reply), 0);
    assert_int_equal(reply.status, 404);
    //  Status is CGI's, not a response header
    assert_string_equal(reply.headers.data, "Content-Type: text/plain\r\n");
    assert_string_equal(output + reply.body_offset, "no such\n");
    worker_cgi_reply_reset(&reply);
}

static void test_bare_lf_lines_and_default_200(void **state)
{
    const char *output = "Content-Type: text/html\nX-A:   spaced value  \n\n<p>hi</p>";
    worker_cgi_reply_t reply;
    assert_int_equal(s_parse(output, &reply), 0);
    assert_int_equal(reply.status, 200);
    assert_string_equal(reply.headers.data, "Content-Type: text/html\r\nX-A: spaced value\r\n");
    assert_string_equal(output + reply.body_offset, "<p>hi</p>");
    worker_cgi_reply_reset(&reply);
}

static void test_location_without_status_redirects(void **state)
{
    worker_cgi_reply_t reply;
    assert_int_equal(s_parse("Location: http://example.com/\r\n\r\n", &reply), 0);
    assert_int_equal(reply.status, 302);
    worker_cgi_reply_reset(&reply);
    assert_int_equal(s_parse("Status: 301 Moved\nLocation: /x\n\n", &reply), 0);
    assert_int_equal(reply.status, 301);
    worker_cgi_reply_reset(&reply);
}

static void test_status_without_reason_and_empty_body(void **state)
{
    worker_cgi_reply_t reply;
    assert_int_equal(s_parse("Status: 204\n\n", &reply), 0);
    assert_int_equal(reply.status, 204);
    assert_int_equal(reply.body_offset, strlen("Status: 204\n\n"));
    worker_cgi_reply_reset(&reply);
}

static void test_malformed_outputs_are_refused(void **state)
{
    const char *bad[] = {
        "",                                   /* nothing at all */
        "hello world\n",                      /* no header block */
        "Content-Type: text/plain\n",         /* no blank line */
        "\nbody",                             /* no field (RFC 3875: at least one) */
        "Status: 2000 Big\n\n",               /* status not three digits */
        "Status: 099 Low\n\n",                /* status out of range */
        "Status: abc\n\n",                    /* status not a number */
        "Status: 200 OK\nStatus: 404 No\n\n", /* two statuses */
        ": no name\n\n",                      /* empty field name */
        "Bad Name: x\n\n",                    /* space in the name */
        "X-A: a\rb\n\n",                      /* CR inside a value */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        worker_cgi_reply_t reply;
        assert_int_equal(s_parse(bad[i], &reply), -1);
        assert_null(reply.headers.data);
    }
}

static void test_huge_header_block_is_refused(void **state)
{
    static char output[WORKER_CGI_MAX_HEADER_BYTES + 64];
    memset(output, 'a', sizeof output - 1);
    memcpy(output, "X-Long: ", 8);
    output[sizeof output - 3] = '\n';
    output[sizeof output - 2] = '\n';
    output[sizeof output - 1] = '\0';
    worker_cgi_reply_t reply;
    assert_int_equal(s_parse(output, &reply), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_headers_body),
        cmocka_unit_test(test_bare_lf_lines_and_default_200),
        cmocka_unit_test(test_location_without_status_redirects),
        cmocka_unit_test(test_status_without_reason_and_empty_body),
        cmocka_unit_test(test_malformed_outputs_are_refused),
        cmocka_unit_test(test_huge_header_block_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
