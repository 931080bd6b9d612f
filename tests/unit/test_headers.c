/*  test_headers: unit tests of the envelope header block (common/sl_headers.c): iteration,
    case-insensitive lookup, the builder, and refusal of CR/LF/NUL injection and of every
    malformed block (docs/protocol.md 4.4). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "sl_headers.h"

#define BLOCK(text) (text), sizeof(text) - 1

static void s_assert_span(const char *span, size_t size, const char *expected)
{
    assert_non_null(span);
    assert_int_equal(size, strlen(expected));
    assert_memory_equal(span, expected, size);
}

/* Looks name up and checks the value span (size is read after the call, not before). */
static void s_assert_found(const char *block, size_t size, const char *name, const char *expected)
{
    size_t value_size = 0;
    const char *value = sl_headers_find(block, size, name, &value_size);
    s_assert_span(value, value_size, expected);
}

static void test_iterator_returns_each_field_in_order_with_trimmed_values(void **state)
{
    const char block[] = "Host: example.com\r\nX-Empty:\r\nAccept:  \t text/plain \t\r\n";
    sl_headers_iter_t iter;
    sl_headers_iter_init(&iter, BLOCK(block));
    const char *name, *value;
    size_t name_size, value_size;
    assert_int_equal(sl_headers_iter_next(&iter, &name, &name_size, &value, &value_size), 1);
    s_assert_span(name, name_size, "Host");
    s_assert_span(value, value_size, "example.com");
    assert_int_equal(sl_headers_iter_next(&iter, &name, &name_size, &value, &value_size), 1);
    s_assert_span(name, name_size, "X-Empty");
    s_assert_span(value, value_size, "");
    assert_int_equal(sl_headers_iter_next(&iter, &name, &name_size, &value, &value_size), 1);
    s_assert_span(name, name_size, "Accept");
    s_assert_span(value, value_size, "text/plain");
    assert_int_equal(sl_headers_iter_next(&iter, &name, &name_size, &value, &value_size), 0);
    assert_int_equal(sl_headers_iter_next(&iter, &name, &name_size, &value, &value_size), 0);
}

static void test_empty_block_has_no_fields_and_is_valid(void **state)
{
    sl_headers_iter_t iter;
    sl_headers_iter_init(&iter, "", 0);
    assert_int_equal(sl_headers_iter_next(&iter, NULL, NULL, NULL, NULL), 0);
    sl_headers_iter_init(&iter, NULL, 0);
    assert_int_equal(sl_headers_iter_next(&iter, NULL, NULL, NULL, NULL), 0);
    assert_true(sl_headers_valid("", 0));
    assert_true(sl_headers_valid(NULL, 0));
}

static void test_value_may_contain_colons_and_high_bytes(void **state)
{
    const char block[] = "Date: Tue, 24 Nov 2026 12:00:00 GMT\r\nX-Name: caf\xc3\xa9\r\n";
    assert_true(sl_headers_valid(BLOCK(block)));
    s_assert_found(BLOCK(block), "date", "Tue, 24 Nov 2026 12:00:00 GMT");
}

static void test_find_is_case_insensitive_and_returns_first_match(void **state)
{
    const char block[] = "Content-Type: text/html\r\nX-Dup: one\r\nx-dup: two\r\n";
    size_t size = 99;
    s_assert_found(BLOCK(block), "content-type", "text/html");
    s_assert_found(BLOCK(block), "CONTENT-TYPE", "text/html");
    s_assert_found(BLOCK(block), "X-DUP", "one");
    assert_null(sl_headers_find(BLOCK(block), "Content", &size));
    assert_null(sl_headers_find(BLOCK(block), "Content-Type-X", &size));
    assert_null(sl_headers_find("", 0, "Host", &size));
}

static void test_find_refuses_a_malformed_block(void **state)
{
    /* protocol.md 4.4: "a receiver MUST reject it whole rather than use the fields before the
       fault" */
    const char block[] = "Host: a\r\nBad Name: b\r\n";
    size_t size;
    assert_null(sl_headers_find(BLOCK(block), "Host", &size));
}

static void test_malformed_blocks_are_rejected(void **state)
{
    /* protocol.md 4.4: "A bare CR or LF, an empty line, a line starting with a space or tab
       (obs-fold), or a line without a colon makes the whole block malformed" */
    const struct {
        const char *data;
        size_t size;
    } cases[] = {
        {BLOCK("Host: a")},                 /* no CRLF at the end */
        {BLOCK("Host: a\n")},               /* bare LF */
        {BLOCK("Host: a\r")},               /* bare CR at the end */
        {BLOCK("Host: a\rX: b\r\n")},       /* CR inside the value */
        {BLOCK("Host: a\nX: b\r\n")},       /* LF inside the value */
        {BLOCK("Host\r\n")},                /* no colon */
        {BLOCK(": value\r\n")},             /* empty name */
        {BLOCK("Host : a\r\n")},            /* space before the colon */
        {BLOCK(" Host: a\r\n")},            /* leading space: obs-fold */
        {BLOCK("Host: a\r\n\tfolded\r\n")}, /* obs-fold continuation */
        {BLOCK("Ho(st: a\r\n")},            /* '(' is not a tchar */
        {BLOCK("Host: a\r\n\r\n")},         /* empty line inside the block */
        {"Host: a\0b\r\n", 11},             /* NUL inside the value */
        {"Ho\0st: a\r\n", 10},              /* NUL inside the name */
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++) {
        if (sl_headers_valid(cases[index].data, cases[index].size))
            fail_msg("case %zu accepted", index);
    }
    assert_false(sl_headers_valid(NULL, 3));
}

static void test_iterator_stays_failed_after_malformed_field(void **state)
{
    const char block[] = "Good: 1\r\nBad\r\nAlso-Good: 2\r\n";
    sl_headers_iter_t iter;
    sl_headers_iter_init(&iter, BLOCK(block));
    assert_int_equal(sl_headers_iter_next(&iter, NULL, NULL, NULL, NULL), 1);
    assert_int_equal(sl_headers_iter_next(&iter, NULL, NULL, NULL, NULL), -1);
    assert_int_equal(sl_headers_iter_next(&iter, NULL, NULL, NULL, NULL), -1);
}

static void test_name_validity_follows_rfc9110_token_and_length(void **state)
{
    /* RFC 9110 5.1: field-name = token; token = 1*tchar */
    assert_true(sl_header_name_valid(BLOCK("X-Request-Id")));
    assert_true(sl_header_name_valid(BLOCK("!#$%&'*+-.^_`|~09azAZ")));
    assert_false(sl_header_name_valid("", 0));
    assert_false(sl_header_name_valid(BLOCK("Bad Name")));
    assert_false(sl_header_name_valid(BLOCK("Bad:Name")));
    assert_false(sl_header_name_valid(BLOCK("Bad\"Name")));
    assert_false(sl_header_name_valid(BLOCK("Caf\xc3\xa9")));
    char name[257];
    memset(name, 'a', sizeof name);
    assert_true(sl_header_name_valid(name, 256));
    assert_false(sl_header_name_valid(name, 257));
}

static void test_value_validity_refuses_cr_lf_nul_and_overlong(void **state)
{
    /* protocol.md 4.4: "The value MUST NOT contain NUL, CR or LF and MUST be at most 8192 bytes" */
    assert_true(sl_header_value_valid(BLOCK("plain value")));
    assert_true(sl_header_value_valid("", 0));
    assert_false(sl_header_value_valid(BLOCK("a\rb")));
    assert_false(sl_header_value_valid(BLOCK("a\nb")));
    assert_false(sl_header_value_valid("a\0b", 3));
    static char value[8193];
    memset(value, 'v', sizeof value);
    assert_true(sl_header_value_valid(value, 8192));
    assert_false(sl_header_value_valid(value, 8193));
}

static void test_builder_output_reads_back_through_iterator(void **state)
{
    sl_headers_builder_t builder = {0};
    assert_int_equal(sl_headers_builder_add(&builder, BLOCK("Content-Type"), BLOCK("text/plain")),
                     0);
    assert_int_equal(sl_headers_builder_add(&builder, BLOCK("X-Empty"), "", 0), 0);
    assert_int_equal(sl_headers_builder_add(&builder, BLOCK("X-Pad"), BLOCK("  padded  ")), 0);
    const char expected[] = "Content-Type: text/plain\r\nX-Empty: \r\nX-Pad: padded\r\n";
    assert_int_equal(builder.size, sizeof expected - 1);
    assert_string_equal(builder.data, expected);
    assert_true(sl_headers_valid(builder.data, builder.size));
    s_assert_found(builder.data, builder.size, "x-pad", "padded");
    sl_headers_builder_reset(&builder);
    assert_null(builder.data);
    assert_int_equal(builder.size, 0);
    sl_headers_builder_reset(&builder);
}

static void test_builder_grows_past_its_first_allocation(void **state)
{
    sl_headers_builder_t builder = {0};
    static char value[8000];
    memset(value, 'x', sizeof value);
    for (int index = 0; index < 20; index++)
        assert_int_equal(sl_headers_builder_add(&builder, BLOCK("X-Big"), value, sizeof value), 0);
    assert_int_equal(builder.size, 20 * (5 + 2 + sizeof value + 2));
    assert_int_equal(strlen(builder.data), builder.size);
    assert_true(sl_headers_valid(builder.data, builder.size));
    sl_headers_builder_reset(&builder);
}

static void test_builder_refuses_injection_and_leaves_block_unchanged(void **state)
{
    sl_headers_builder_t builder = {0};
    assert_int_equal(sl_headers_builder_add(&builder, BLOCK("Host"), BLOCK("a")), 0);
    size_t before = builder.size;
    /* Response splitting: a value that would start a new field or end the block. */
    assert_int_equal(sl_headers_builder_add(&builder, BLOCK("X"), BLOCK("a\r\nSet-Cookie: x=1")),
                     -1);
    assert_int_equal(sl_headers_builder_add(&builder, BLOCK("X"), BLOCK("a\nb")), -1);
    assert_int_equal(sl_headers_builder_add(&builder, BLOCK("X"), BLOCK("a\rb")), -1);
    assert_int_equal(sl_headers_builder_add(&builder, BLOCK("X"), "a\0b", 3), -1);
    assert_int_equal(sl_headers_builder_add(&builder, BLOCK("X\r\nY"), BLOCK("v")), -1);
    assert_int_equal(sl_headers_builder_add(&builder, BLOCK("X Y"), BLOCK("v")), -1);
    assert_int_equal(sl_headers_builder_add(&builder, "", 0, BLOCK("v")), -1);
    assert_int_equal(builder.size, before);
    assert_string_equal(builder.data, "Host: a\r\n");
    sl_headers_builder_reset(&builder);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_iterator_returns_each_field_in_order_with_trimmed_values),
        cmocka_unit_test(test_empty_block_has_no_fields_and_is_valid),
        cmocka_unit_test(test_value_may_contain_colons_and_high_bytes),
        cmocka_unit_test(test_find_is_case_insensitive_and_returns_first_match),
        cmocka_unit_test(test_find_refuses_a_malformed_block),
        cmocka_unit_test(test_malformed_blocks_are_rejected),
        cmocka_unit_test(test_iterator_stays_failed_after_malformed_field),
        cmocka_unit_test(test_name_validity_follows_rfc9110_token_and_length),
        cmocka_unit_test(test_value_validity_refuses_cr_lf_nul_and_overlong),
        cmocka_unit_test(test_builder_output_reads_back_through_iterator),
        cmocka_unit_test(test_builder_grows_past_its_first_allocation),
        cmocka_unit_test(test_builder_refuses_injection_and_leaves_block_unchanged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
