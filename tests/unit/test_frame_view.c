/*  test_frame_view: unit tests of common/sl_frame_view.c, sending borrowed bytes as one
    message, and of the views the hot path builds (sl_mdp_client_request_header,
    sl_request_envelope_views): what arrives must be what the czmq encoders would send. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <czmq.h>

#include "sl_envelope.h"
#include "sl_frame_view.h"
#include "sl_mdp.h"

/* A connected inproc PAIR, sender first. */
static void s_pair(zsock_t **sender, zsock_t **receiver)
{
    static int pairs = 0; /* an inproc name is free again only once the reaper closed it */
    pairs++;
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "@inproc://test-frame-view-%d", pairs);
    *receiver = zsock_new_pair(endpoint);
    endpoint[0] = '>';
    *sender = zsock_new_pair(endpoint);
    assert_non_null(*receiver);
    assert_non_null(*sender);
}

static void test_views_arrive_as_one_message(void **state)
{
    zsock_t *sender, *receiver;
    s_pair(&sender, &receiver);
    char large[300];
    memset(large, 'x', sizeof large);
    sl_frame_view_t views[] = {{"first", 5}, {NULL, 0}, {large, sizeof large}};
    assert_int_equal(sl_frame_view_send(zsock_resolve(sender), views, 3), 0);
    zmsg_t *msg = zmsg_recv(receiver);
    assert_non_null(msg);
    assert_int_equal(zmsg_size(msg), 3);
    assert_true(zframe_streq(zmsg_first(msg), "first"));
    assert_int_equal(zframe_size(zmsg_next(msg)), 0);
    zframe_t *last = zmsg_next(msg);
    assert_int_equal(zframe_size(last), sizeof large);
    assert_memory_equal(zframe_data(last), large, sizeof large);
    zmsg_destroy(&msg);
    zsock_destroy(&sender);
    zsock_destroy(&receiver);
}

static void test_refused_first_frame_sends_nothing(void **state)
{
    zsock_t *dealer = zsock_new(ZMQ_DEALER); /* no peer: a DEALER without a pipe refuses */
    assert_non_null(dealer);
    zsock_set_sndtimeo(dealer, 0);
    sl_frame_view_t views[] = {{"a", 1}, {"b", 1}};
    assert_int_equal(sl_frame_view_send(zsock_resolve(dealer), views, 2), -1);
    zsock_destroy(&dealer);
}

static void test_request_views_match_the_czmq_encoding(void **state)
{
    sl_envelope_meta_t meta = {.id = "rid-1", .timeout_ms = 2500, .retryable = true};
    const char *headers = "Host: x\r\n";
    char timeout[SL_ENVELOPE_TIMEOUT_TEXT_SIZE];
    sl_frame_view_t frames[SL_MDP_CLIENT_REQUEST_HEADER_FRAMES + SL_ENVELOPE_REQUEST_FRAMES];
    sl_mdp_client_request_header(SL_MDP_V02, "fast", frames);
    assert_int_equal(sl_request_envelope_views(&meta, "POST", "/fast", NULL, headers,
                                               strlen(headers), "body", 4, timeout,
                                               frames + SL_MDP_CLIENT_REQUEST_HEADER_FRAMES),
                     0);
    zsock_t *sender, *receiver;
    s_pair(&sender, &receiver);
    assert_int_equal(
        sl_frame_view_send(zsock_resolve(sender), frames, sizeof frames / sizeof *frames), 0);
    zmsg_t *sent = zmsg_recv(receiver);
    zmsg_t *body = sl_request_envelope_encode(&meta, "POST", "/fast", NULL, headers,
                                              strlen(headers), "body", 4);
    zmsg_t *expected = sl_mdp_encode_client_request(SL_MDP_V02, "fast", &body);
    assert_int_equal(zmsg_size(sent), zmsg_size(expected));
    for (zframe_t *a = zmsg_first(sent), *b = zmsg_first(expected); a && b;
         a = zmsg_next(sent), b = zmsg_next(expected))
        assert_true(zframe_eq(a, b));
    /* And it decodes as the broker would read it. */
    sl_mdp_msg_t decoded;
    const char *reason = NULL;
    assert_int_equal(sl_mdp_decode(&sent, SL_MDP_TO_BROKER, &decoded, &reason), 0);
    sl_envelope_meta_t read;
    assert_int_equal(sl_envelope_meta_read(decoded.body, &read), 0);
    assert_string_equal(read.id, "rid-1");
    assert_int_equal(read.timeout_ms, 2500);
    assert_true(read.retryable);
    sl_mdp_msg_reset(&decoded);
    zmsg_destroy(&expected);
    zsock_destroy(&sender);
    zsock_destroy(&receiver);
}

static void test_request_views_refuse_a_missing_method(void **state)
{
    sl_envelope_meta_t meta = {.id = "rid-2"};
    char timeout[SL_ENVELOPE_TIMEOUT_TEXT_SIZE];
    sl_frame_view_t frames[SL_ENVELOPE_REQUEST_FRAMES];
    assert_int_equal(
        sl_request_envelope_views(&meta, NULL, "/", "", "", 0, NULL, 0, timeout, frames), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_views_arrive_as_one_message),
        cmocka_unit_test(test_refused_first_frame_sends_nothing),
        cmocka_unit_test(test_request_views_match_the_czmq_encoding),
        cmocka_unit_test(test_request_views_refuse_a_missing_method),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
