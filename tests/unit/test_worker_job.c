/*  test_worker_job: unit tests of worker/worker_job.c, the sl_job_t of slowlane/worker.h:
    a request envelope or an opaque body in, the reply (envelope or opaque frame) out, the
    PARTIAL sequence of sl_job_flush and the 500 for a failed handler. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "sl_envelope.h"
#include "worker_job.h"

static sl_job_t *s_http_job(const char *query, const char *headers, const char *body,
                            int64_t timeout_ms)
{
    sl_envelope_meta_t meta = {.id = "rid-7", .timeout_ms = timeout_ms, .retryable = true};
    zmsg_t *msg = sl_request_envelope_encode(&meta, "POST", "/p", query, headers, strlen(headers),
                                             body, strlen(body));
    sl_job_t *job = worker_job_new(&msg, zclock_mono());
    assert_null(msg);
    assert_non_null(job);
    return job;
}

static void s_assert_frame(zmsg_t *msg, size_t index, const char *expected)
{
    zframe_t *frame = zmsg_first(msg);
    for (size_t i = 0; i < index; i++)
        frame = zmsg_next(msg);
    assert_non_null(frame);
    assert_int_equal(zframe_size(frame), strlen(expected));
    assert_memory_equal(zframe_data(frame), expected, strlen(expected));
}

static void test_envelope_request_is_decoded(void **state)
{
    sl_job_t *job =
        s_http_job("a=1&ms=250&flag&a=2", "X-One: 1\r\nContent-Type: x/y\r\n", "body!", 5000);
    assert_true(sl_job_is_http(job));
    assert_string_equal(sl_job_request_id(job), "rid-7");
    assert_string_equal(sl_job_method(job), "POST");
    assert_string_equal(sl_job_path(job), "/p");
    char *value = sl_job_query_param(job, "ms");
    assert_string_equal(value, "250");
    free(value);
    value = sl_job_query_param(job, "a"); // the first one
    assert_string_equal(value, "1");
    free(value);
    value = sl_job_query_param(job, "flag");
    assert_string_equal(value, "");
    free(value);
    assert_null(sl_job_query_param(job, "m"));
    value = sl_job_header(job, "content-type");
    assert_string_equal(value, "x/y");
    free(value);
    size_t size = 0;
    assert_memory_equal(sl_job_body(job, &size), "body!", 5);
    assert_int_equal(size, 5);
    int64_t left = sl_job_time_left_ms(job);
    assert_true(left > 4000 && left <= 5000);
    worker_job_destroy(&job);
    assert_null(job);
    worker_job_destroy(&job); // safe twice
}

static void test_no_deadline_is_int64_max(void **state)
{
    sl_job_t *job = s_http_job("", "", "", 0);
    assert_int_equal(sl_job_time_left_ms(job), INT64_MAX);
    worker_job_destroy(&job);
}

static void test_opaque_body_is_joined_and_answered_opaque(void **state)
{
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, "ab");
    zmsg_addstr(msg, "cd");
    sl_job_t *job = worker_job_new(&msg, zclock_mono());
    assert_false(sl_job_is_http(job));
    assert_string_equal(sl_job_method(job), "");
    assert_null(sl_job_header(job, "Host"));
    size_t size = 0;
    assert_memory_equal(sl_job_body(job, &size), "abcd", 4);
    assert_int_equal(size, 4);
    assert_int_equal(sl_job_write(job, "reply", 5), 0);
    zmsg_t *final = worker_job_final(job, 0);
    assert_int_equal(zmsg_size(final), 1);
    s_assert_frame(final, 0, "reply");
    zmsg_destroy(&final);
    worker_job_destroy(&job);
}

static void test_opaque_frames_one_by_one_and_a_reply_of_several(void **state)
{
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, "ab");
    zmsg_addmem(msg, "", 0);
    zmsg_addstr(msg, "cd");
    sl_job_t *job = worker_job_new(&msg, zclock_mono());
    assert_int_equal(sl_job_frame_count(job), 3);
    size_t size = 9;
    assert_memory_equal(sl_job_frame(job, 0, &size), "ab", 2);
    assert_int_equal(size, 2);
    assert_non_null(sl_job_frame(job, 1, &size));
    assert_int_equal(size, 0);
    assert_memory_equal(sl_job_frame(job, 2, &size), "cd", 2);
    assert_null(sl_job_frame(job, 3, &size));
    /* "x", "", "yz": an empty frame is two boundaries in a row */
    assert_int_equal(sl_job_write(job, "x", 1), 0);
    assert_int_equal(sl_job_next_frame(job), 0);
    assert_int_equal(sl_job_next_frame(job), 0);
    assert_int_equal(sl_job_write(job, "yz", 2), 0);
    zmsg_t *final = worker_job_final(job, 0);
    assert_int_equal(zmsg_size(final), 3);
    s_assert_frame(final, 0, "x");
    s_assert_frame(final, 1, "");
    s_assert_frame(final, 2, "yz");
    zmsg_destroy(&final);
    worker_job_destroy(&job);
    /* One frame and HTTP requests: one frame, no boundaries in an HTTP reply */
    sl_job_t *http = s_http_job("", "", "", 0);
    assert_int_equal(sl_job_frame_count(http), 1);
    assert_int_equal(sl_job_next_frame(http), -1);
    worker_job_destroy(&http);
}

static void test_malformed_envelope_is_opaque(void **state)
{
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, SL_ENVELOPE_REQUEST_MAGIC);
    zmsg_addstr(msg, "too few frames");
    sl_job_t *job = worker_job_new(&msg, zclock_mono());
    assert_false(sl_job_is_http(job));
    worker_job_destroy(&job);
}

static void test_reply_envelope_with_status_and_headers(void **state)
{
    sl_job_t *job = s_http_job("", "", "", 1000);
    assert_int_equal(sl_job_set_status(job, 201), 0);
    assert_int_equal(sl_job_set_status(job, 99), -1);
    assert_int_equal(sl_job_add_header(job, "X-A", "b"), 0);
    assert_int_equal(sl_job_add_header(job, "X-Evil", "a\r\nInjected: 1"), -1);
    assert_int_equal(sl_job_write(job, "he", 2), 0);
    assert_int_equal(sl_job_write(job, "llo", 3), 0);
    zmsg_t *final = worker_job_final(job, 0);
    sl_reply_envelope_t reply = {0};
    assert_int_equal(sl_reply_envelope_decode(final, &reply), 0);
    assert_int_equal(reply.status, 201);
    assert_string_equal(reply.headers, "X-A: b\r\n");
    assert_int_equal(zframe_size(reply.body), 5);
    sl_reply_envelope_reset(&reply);
    zmsg_destroy(&final);
    worker_job_destroy(&job);
}

static void test_failed_handler_is_500(void **state)
{
    sl_job_t *job = s_http_job("", "", "", 1000);
    sl_job_write(job, "half written", 12);
    zmsg_t *final = worker_job_final(job, -1);
    s_assert_frame(final, 1, "500");
    zmsg_destroy(&final);
    worker_job_destroy(&job);
}

typedef struct {
    zmsg_t *parts[4]; /* PARTIAL bodies sl_job_flush sent */
    int count;        /* how many */
} s_sent_t;

static int s_capture(zmsg_t **body_p, void *arg)
{
    s_sent_t *sent = arg;
    sent->parts[sent->count++] = *body_p;
    *body_p = NULL;
    return 0;
}

static void test_flush_sends_envelope_then_raw_chunks(void **state)
{
    sl_job_t *job = s_http_job("", "", "", 1000);
    assert_int_equal(sl_job_flush(job), -1); // nowhere to send yet
    s_sent_t sent = {0};
    worker_job_set_sender(job, s_capture, &sent);
    sl_job_add_header(job, "Content-Type", "text/plain");
    sl_job_write(job, "one", 3);
    assert_int_equal(sl_job_flush(job), 0);
    //  After the first PARTIAL the status and headers are on the wire
    assert_int_equal(sl_job_set_status(job, 404), -1);
    assert_int_equal(sl_job_add_header(job, "X-Late", "1"), -1);
    sl_job_write(job, "two", 3);
    assert_int_equal(sl_job_flush(job), 0);
    sl_job_write(job, "three", 5);
    zmsg_t *final = worker_job_final(job, -1); // a failure after streaming cannot become 500
    assert_int_equal(sent.count, 2);
    assert_int_equal(zmsg_size(sent.parts[0]), SL_ENVELOPE_REPLY_FRAMES);
    s_assert_frame(sent.parts[0], 0, SL_ENVELOPE_REPLY_MAGIC);
    s_assert_frame(sent.parts[0], 3, "one");
    assert_int_equal(zmsg_size(sent.parts[1]), 1);
    s_assert_frame(sent.parts[1], 0, "two");
    assert_int_equal(zmsg_size(final), 1);
    s_assert_frame(final, 0, "three");
    for (int i = 0; i < sent.count; i++)
        zmsg_destroy(&sent.parts[i]);
    zmsg_destroy(&final);
    worker_job_destroy(&job);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_envelope_request_is_decoded),
        cmocka_unit_test(test_no_deadline_is_int64_max),
        cmocka_unit_test(test_opaque_body_is_joined_and_answered_opaque),
        cmocka_unit_test(test_opaque_frames_one_by_one_and_a_reply_of_several),
        cmocka_unit_test(test_malformed_envelope_is_opaque),
        cmocka_unit_test(test_reply_envelope_with_status_and_headers),
        cmocka_unit_test(test_failed_handler_is_500),
        cmocka_unit_test(test_flush_sends_envelope_then_raw_chunks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
