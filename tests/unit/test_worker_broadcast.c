/*  test_worker_broadcast: unit tests of worker/worker_broadcast.c, the record the supervisor
    writes on a worker's broadcast pipe and the worker reads between jobs: round trips, the
    exact bytes on the pipe, and refusal of records no supervisor writes. Pure: no pipe. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sl_defaults.h"
#include "worker_broadcast.h"

//  Encodes, then decodes the record as the worker reads it: head, then body.
static void s_round_trip(const char *id, const void *data, size_t size)
{
    size_t record_size = 0;
    char *record = worker_broadcast_encode(id, data, size, &record_size);
    assert_non_null(record);
    assert_int_equal(record_size, WORKER_BROADCAST_HEAD_BYTES + strlen(id) + 1 + size);
    uint32_t body_size = 0;
    assert_int_equal(worker_broadcast_decode_head((unsigned char *) record, &body_size), 0);
    assert_int_equal(body_size, record_size - WORKER_BROADCAST_HEAD_BYTES);
    worker_broadcast_t broadcast;
    const char *body = record + WORKER_BROADCAST_HEAD_BYTES;
    assert_int_equal(worker_broadcast_decode_body(body, body_size, &broadcast), 0);
    assert_string_equal(broadcast.id, id);
    assert_int_equal(broadcast.size, size);
    if (size)
        assert_memory_equal(broadcast.data, data, size);
    free(record);
}

static void test_round_trip(void **state)
{
    s_round_trip("b1", "reload", 6);
    s_round_trip("config-2024", "", 0);
    //  A message is bytes: NULs inside it survive
    s_round_trip("x", "a\0b\0", 4);
}

static void test_round_trip_at_the_limits(void **state)
{
    char id[SL_BROADCAST_ID_MAX + 1];
    memset(id, 'i', SL_BROADCAST_ID_MAX);
    id[SL_BROADCAST_ID_MAX] = '\0';
    char *message = malloc(SL_BROADCAST_MAX_BYTES);
    assert_non_null(message);
    memset(message, 'm', SL_BROADCAST_MAX_BYTES);
    s_round_trip(id, message, SL_BROADCAST_MAX_BYTES);
    free(message);
}

static void test_bytes_on_the_pipe(void **state)
{
    size_t record_size = 0;
    char *record = worker_broadcast_encode("ab", "xyz", 3, &record_size);
    assert_non_null(record);
    //  4-byte big-endian length of "ab\0xyz", then those bytes
    const char expected[] = {0, 0, 0, 6, 'a', 'b', '\0', 'x', 'y', 'z'};
    assert_int_equal(record_size, sizeof expected);
    assert_memory_equal(record, expected, sizeof expected);
    free(record);
}

static void test_encode_refuses_what_no_worker_decodes(void **state)
{
    size_t record_size = 0;
    assert_null(worker_broadcast_encode("", "x", 1, &record_size));
    char id[SL_BROADCAST_ID_MAX + 2];
    memset(id, 'i', sizeof id - 1);
    id[sizeof id - 1] = '\0';
    assert_null(worker_broadcast_encode(id, "x", 1, &record_size));
    char *message = calloc(1, SL_BROADCAST_MAX_BYTES + 1);
    assert_non_null(message);
    assert_null(worker_broadcast_encode("b", message, SL_BROADCAST_MAX_BYTES + 1, &record_size));
    free(message);
}

static void test_head_refuses_empty_and_oversized_bodies(void **state)
{
    uint32_t body_size = 7;
    const unsigned char empty[] = {0, 0, 0, 0};
    assert_int_equal(worker_broadcast_decode_head(empty, &body_size), -1);
    assert_int_equal(body_size, 7); // untouched on refusal
    uint32_t limit = SL_BROADCAST_MAX_BYTES + SL_BROADCAST_ID_MAX + 1;
    unsigned char head[4] = {(unsigned char) (limit >> 24), (unsigned char) (limit >> 16),
                             (unsigned char) (limit >> 8), (unsigned char) limit};
    assert_int_equal(worker_broadcast_decode_head(head, &body_size), 0);
    assert_int_equal(body_size, limit);
    limit++;
    head[0] = (unsigned char) (limit >> 24);
    head[1] = (unsigned char) (limit >> 16);
    head[2] = (unsigned char) (limit >> 8);
    head[3] = (unsigned char) limit;
    assert_int_equal(worker_broadcast_decode_head(head, &body_size), -1);
    const unsigned char huge[] = {0xff, 0xff, 0xff, 0xff};
    assert_int_equal(worker_broadcast_decode_head(huge, &body_size), -1);
}

static void test_body_needs_an_id_and_its_nul(void **state)
{
    worker_broadcast_t broadcast;
    //  No id: the body starts with the NUL
    assert_int_equal(worker_broadcast_decode_body("\0msg", 4, &broadcast), -1);
    //  No NUL within the body: the id never ends
    assert_int_equal(worker_broadcast_decode_body("abcdef", 3, &broadcast), -1);
    //  An id and its NUL, no message
    assert_int_equal(worker_broadcast_decode_body("id", 3, &broadcast), 0);
    assert_string_equal(broadcast.id, "id");
    assert_int_equal(broadcast.size, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_round_trip_at_the_limits),
        cmocka_unit_test(test_bytes_on_the_pipe),
        cmocka_unit_test(test_encode_refuses_what_no_worker_decodes),
        cmocka_unit_test(test_head_refuses_empty_and_oversized_bodies),
        cmocka_unit_test(test_body_needs_an_id_and_its_nul),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
