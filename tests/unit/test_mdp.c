/*  test_mdp: unit tests of the Majordomo codec (common/sl_mdp.c) against RFC 7 (MDP/0.1)
    and RFC 18 (MDP/0.2): exact wire layout of every encoder, round trips of every command
    in both versions and both sub-protocols, and rejection of every malformed shape.
    No sockets: messages are built and inspected frame by frame. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "sl_defaults.h"
#include "sl_mdp.h"
#include "sl_mdp_io.h"

typedef struct {
    const void *data;
    size_t size;
} frame_spec_t;

#define F(text)                                                                                    \
    {                                                                                              \
        (text), sizeof(text) - 1                                                                   \
    }
#define EMPTY                                                                                      \
    {                                                                                              \
        "", 0                                                                                      \
    }

/* Builds a message from frame specs. */
static zmsg_t *s_msg(const frame_spec_t *specs, size_t count)
{
    zmsg_t *msg = zmsg_new();
    for (size_t index = 0; index < count; index++)
        zmsg_addmem(msg, specs[index].data, specs[index].size);
    return msg;
}
#define MSG(...)                                                                                   \
    s_msg((const frame_spec_t[]){__VA_ARGS__},                                                     \
          sizeof((const frame_spec_t[]){__VA_ARGS__}) / sizeof(frame_spec_t))

/* Asserts frame index of msg holds exactly size bytes of data. */
static void s_assert_frame(zmsg_t *msg, size_t index, const void *data, size_t size)
{
    zframe_t *frame = zmsg_first(msg);
    for (size_t at = 0; at < index && frame; at++)
        frame = zmsg_next(msg);
    assert_non_null(frame);
    assert_int_equal(zframe_size(frame), size);
    if (size)
        assert_memory_equal(zframe_data(frame), data, size);
}
#define ASSERT_FRAME(msg, index, text) s_assert_frame((msg), (index), (text), sizeof(text) - 1)

static zmsg_t *s_body(const char *first, const char *second)
{
    zmsg_t *body = zmsg_new();
    zmsg_addstr(body, first);
    if (second)
        zmsg_addstr(body, second);
    return body;
}

/* Decodes a message that must be rejected; checks the reason and that nothing leaks out. */
/* ---- sl_mdp_recv must decode exactly as sl_mdp_decode: every message these tests decode
   also goes through real sockets, a PAIR (no routing id) and DEALER -> ROUTER (with one). */

static zsock_t *s_pair_out, *s_pair_in, *s_dealer, *s_router;

static int s_sockets_open(void **state)
{
    s_pair_in = zsock_new_pair("@inproc://test-mdp-pair");
    s_pair_out = zsock_new_pair(">inproc://test-mdp-pair");
    s_router = zsock_new_router("@inproc://test-mdp-router");
    s_dealer = zsock_new_dealer(">inproc://test-mdp-router");
    if (!s_pair_in || !s_pair_out || !s_router || !s_dealer)
        return -1;
    zsock_set_rcvtimeo(s_pair_in, 1000);
    zsock_set_rcvtimeo(s_router, 1000);
    return 0;
}

static int s_sockets_close(void **state)
{
    zsock_destroy(&s_pair_out);
    zsock_destroy(&s_pair_in);
    zsock_destroy(&s_dealer);
    zsock_destroy(&s_router);
    return 0;
}

static void s_assert_same_frame(zframe_t *a, zframe_t *b)
{
    assert_true((a == NULL) == (b == NULL));
    if (a)
        assert_true(zframe_eq(a, b));
}

static void s_assert_same_body(zmsg_t *a, zmsg_t *b)
{
    assert_true((a == NULL) == (b == NULL));
    if (!a)
        return;
    assert_int_equal(zmsg_size(a), zmsg_size(b));
    for (zframe_t *x = zmsg_first(a), *y = zmsg_first(b); x; x = zmsg_next(a), y = zmsg_next(b))
        s_assert_same_frame(x, y);
}

/* Sends a copy of msg both ways and checks sl_mdp_recv against decode's result (rc, reason,
   decoded: what sl_mdp_decode gave for msg). */
static void s_assert_recv_agrees(zmsg_t *msg, sl_mdp_direction_t direction, int rc,
                                 const char *reason, const sl_mdp_msg_t *decoded)
{
    if (zmsg_size(msg) == 0)
        return; /* nothing to send: an empty zmsg is no message on the wire */
    for (int routed = 0; routed <= 1; routed++) {
        zmsg_t *copy = zmsg_dup(msg);
        assert_int_equal(zmsg_send(&copy, routed ? s_dealer : s_pair_out), 0);
        zframe_t *sender = NULL;
        sl_mdp_msg_t out;
        const char *got_reason = NULL;
        sl_mdp_recv_result_t result = sl_mdp_recv(routed ? s_router : s_pair_in, direction,
                                                  routed ? &sender : NULL, &out, NULL, &got_reason);
        assert_int_equal(result, rc == 0 ? SL_MDP_RECV_OK : SL_MDP_RECV_MALFORMED);
        assert_true((sender != NULL) == (routed == 1));
        if (rc != 0) {
            assert_string_equal(got_reason, reason);
            assert_null(out.service);
            assert_null(out.address);
            assert_null(out.body);
        } else {
            assert_int_equal(out.version, decoded->version);
            assert_int_equal(out.from_worker_side, decoded->from_worker_side);
            assert_int_equal(out.command, decoded->command);
            assert_int_equal(out.capacity, decoded->capacity);
            s_assert_same_frame(out.service, decoded->service);
            s_assert_same_frame(out.address, decoded->address);
            s_assert_same_body(out.body, decoded->body);
        }
        sl_mdp_msg_reset(&out);
        zframe_destroy(&sender);
    }
}

static void s_assert_rejected(zmsg_t *msg, sl_mdp_direction_t direction)
{
    sl_mdp_msg_t out;
    const char *reason = NULL;
    zmsg_t *copy = msg ? zmsg_dup(msg) : NULL;
    assert_int_equal(sl_mdp_decode(&msg, direction, &out, &reason), -1);
    if (copy)
        s_assert_recv_agrees(copy, direction, -1, reason, NULL);
    zmsg_destroy(&copy);
    assert_null(msg);
    assert_non_null(reason);
    assert_true(strlen(reason) > 0);
    assert_null(out.service);
    assert_null(out.address);
    assert_null(out.body);
}

static void s_decode_ok(zmsg_t *msg, sl_mdp_direction_t direction, sl_mdp_msg_t *out)
{
    const char *reason = NULL;
    zmsg_t *copy = zmsg_dup(msg);
    int rc = sl_mdp_decode(&msg, direction, out, &reason);
    if (rc != 0)
        fail_msg("decode failed: %s", reason);
    assert_null(msg);
    s_assert_recv_agrees(copy, direction, 0, NULL, out);
    zmsg_destroy(&copy);
}

/* ---- exact wire layout of the encoders ---------------------------------------------- */

static void test_v01_client_request_starts_with_empty_frame_then_mdpc01(void **state)
{
    zmsg_t *body = s_body("hello", NULL);
    zmsg_t *msg = sl_mdp_encode_client_request(SL_MDP_V01, "echo", &body);
    assert_null(body);
    /* RFC 7: "Frame 0: Empty (zero bytes, invisible to REQ application)
       Frame 1: "MDPC01" ... Frame 2: Service name ... Frames 3+: Request body" */
    assert_int_equal(zmsg_size(msg), 4);
    ASSERT_FRAME(msg, 0, "");
    ASSERT_FRAME(msg, 1, "MDPC01");
    ASSERT_FRAME(msg, 2, "echo");
    ASSERT_FRAME(msg, 3, "hello");
    zmsg_destroy(&msg);
}

static void test_v02_client_request_has_no_empty_frame_and_command_0x01(void **state)
{
    zmsg_t *body = s_body("a", "b");
    zmsg_t *msg = sl_mdp_encode_client_request(SL_MDP_V02, "echo", &body);
    /* RFC 18: "Frame 0: "MDPC02" ... Frame 1: 0x01 (one byte, representing REQUEST)" */
    assert_int_equal(zmsg_size(msg), 5);
    ASSERT_FRAME(msg, 0, "MDPC02");
    ASSERT_FRAME(msg, 1, "\x01");
    ASSERT_FRAME(msg, 2, "echo");
    ASSERT_FRAME(msg, 3, "a");
    ASSERT_FRAME(msg, 4, "b");
    zmsg_destroy(&msg);
}

static void test_v02_client_partial_and_final_bytes_are_0x02_and_0x03(void **state)
{
    zframe_t *service = zframe_from("svc");
    zmsg_t *partial = sl_mdp_encode_client_reply(SL_MDP_V02, SL_MDP_PARTIAL, service, NULL);
    zmsg_t *final = sl_mdp_encode_client_reply(SL_MDP_V02, SL_MDP_FINAL, service, NULL);
    /* RFC 18: PARTIAL "Frame 1: 0x02", FINAL "Frame 1: 0x03" */
    assert_int_equal(zmsg_size(partial), 3);
    ASSERT_FRAME(partial, 0, "MDPC02");
    ASSERT_FRAME(partial, 1, "\x02");
    ASSERT_FRAME(partial, 2, "svc");
    ASSERT_FRAME(final, 1, "\x03");
    zmsg_destroy(&partial);
    zmsg_destroy(&final);
    zframe_destroy(&service);
}

static void test_v01_client_reply_has_no_command_byte(void **state)
{
    zframe_t *service = zframe_from("svc");
    zmsg_t *body = s_body("x", NULL);
    zmsg_t *msg = sl_mdp_encode_client_reply(SL_MDP_V01, SL_MDP_FINAL, service, &body);
    assert_int_equal(zmsg_size(msg), 4);
    ASSERT_FRAME(msg, 0, "");
    ASSERT_FRAME(msg, 1, "MDPC01");
    ASSERT_FRAME(msg, 2, "svc");
    ASSERT_FRAME(msg, 3, "x");
    zmsg_destroy(&msg);
    zframe_destroy(&service);
}

/* Worker command bytes per RFC 7 (READY 1, REQUEST 2, REPLY 3, HEARTBEAT 4, DISCONNECT 5)
   and RFC 18 (READY 1, REQUEST 2, PARTIAL 3, FINAL 4, HEARTBEAT 5, DISCONNECT 6). */
static void test_worker_command_bytes_match_rfc7_and_rfc18(void **state)
{
    zframe_t *address = zframe_from("client-1");
    struct {
        sl_mdp_version_t version;
        sl_mdp_command_t command;
        byte wire;
    } cases[] = {
        {SL_MDP_V01, SL_MDP_READY, 1},      {SL_MDP_V01, SL_MDP_REQUEST, 2},
        {SL_MDP_V01, SL_MDP_FINAL, 3},      {SL_MDP_V01, SL_MDP_HEARTBEAT, 4},
        {SL_MDP_V01, SL_MDP_DISCONNECT, 5}, {SL_MDP_V02, SL_MDP_READY, 1},
        {SL_MDP_V02, SL_MDP_REQUEST, 2},    {SL_MDP_V02, SL_MDP_PARTIAL, 3},
        {SL_MDP_V02, SL_MDP_FINAL, 4},      {SL_MDP_V02, SL_MDP_HEARTBEAT, 5},
        {SL_MDP_V02, SL_MDP_DISCONNECT, 6},
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++) {
        zmsg_t *msg;
        sl_mdp_command_t command = cases[index].command;
        if (command == SL_MDP_READY)
            msg = sl_mdp_encode_ready(cases[index].version, "svc");
        else if (command == SL_MDP_HEARTBEAT || command == SL_MDP_DISCONNECT)
            msg = sl_mdp_encode_worker_signal(cases[index].version, command);
        else
            msg = sl_mdp_encode_worker_job(cases[index].version, command, address, NULL);
        size_t offset = cases[index].version == SL_MDP_V01 ? 1 : 0;
        if (offset)
            ASSERT_FRAME(msg, 0, "");
        s_assert_frame(msg, offset, cases[index].version == SL_MDP_V01 ? "MDPW01" : "MDPW02", 6);
        s_assert_frame(msg, offset + 1, &cases[index].wire, 1);
        zmsg_destroy(&msg);
    }
    zframe_destroy(&address);
}

static void test_worker_job_layout_is_address_then_empty_delimiter_then_body(void **state)
{
    zframe_t *address = zframe_from("client-1");
    zmsg_t *body = s_body("payload", NULL);
    zmsg_t *msg = sl_mdp_encode_worker_job(SL_MDP_V02, SL_MDP_REQUEST, address, &body);
    /* RFC 18 REQUEST: "Frame 2: Client address ... Frame 3: Empty ... Frames 4+: body" */
    assert_int_equal(zmsg_size(msg), 5);
    ASSERT_FRAME(msg, 2, "client-1");
    ASSERT_FRAME(msg, 3, "");
    ASSERT_FRAME(msg, 4, "payload");
    zmsg_destroy(&msg);
    /* The address is copied, not taken. */
    assert_int_equal(zframe_size(address), 8);
    zframe_destroy(&address);
}

/* ---- round trips ---------------------------------------------------------------------- */

static void s_round_trip_client_request(sl_mdp_version_t version)
{
    zmsg_t *body = s_body("one", "two");
    zmsg_t *msg = sl_mdp_encode_client_request(version, "echo", &body);
    sl_mdp_msg_t out;
    s_decode_ok(msg, SL_MDP_TO_BROKER, &out);
    assert_int_equal(out.version, version);
    assert_false(out.from_worker_side);
    assert_int_equal(out.command, SL_MDP_REQUEST);
    assert_true(zframe_streq(out.service, "echo"));
    assert_null(out.address);
    assert_int_equal(zmsg_size(out.body), 2);
    ASSERT_FRAME(out.body, 0, "one");
    ASSERT_FRAME(out.body, 1, "two");
    sl_mdp_msg_reset(&out);
}

static void test_client_request_round_trips_in_both_versions(void **state)
{
    s_round_trip_client_request(SL_MDP_V01);
    s_round_trip_client_request(SL_MDP_V02);
}

static void test_client_replies_round_trip_partial_v02_and_final_both_versions(void **state)
{
    struct {
        sl_mdp_version_t version;
        sl_mdp_command_t command;
    } cases[] = {
        {SL_MDP_V02, SL_MDP_PARTIAL}, {SL_MDP_V02, SL_MDP_FINAL}, {SL_MDP_V01, SL_MDP_FINAL}};
    zframe_t *service = zframe_from("svc");
    for (size_t index = 0; index < 3; index++) {
        zmsg_t *body = s_body("chunk", NULL);
        zmsg_t *msg =
            sl_mdp_encode_client_reply(cases[index].version, cases[index].command, service, &body);
        sl_mdp_msg_t out;
        s_decode_ok(msg, SL_MDP_FROM_BROKER, &out);
        assert_int_equal(out.version, cases[index].version);
        assert_false(out.from_worker_side);
        assert_int_equal(out.command, cases[index].command);
        assert_true(zframe_streq(out.service, "svc"));
        assert_int_equal(zmsg_size(out.body), 1);
        ASSERT_FRAME(out.body, 0, "chunk");
        sl_mdp_msg_reset(&out);
    }
    zframe_destroy(&service);
}

static void test_ready_round_trips_with_service_and_no_body(void **state)
{
    for (int version = SL_MDP_V01; version <= SL_MDP_V02; version++) {
        sl_mdp_msg_t out;
        s_decode_ok(sl_mdp_encode_ready(version, "slow"), SL_MDP_TO_BROKER, &out);
        assert_int_equal(out.version, version);
        assert_true(out.from_worker_side);
        assert_int_equal(out.command, SL_MDP_READY);
        assert_true(zframe_streq(out.service, "slow"));
        assert_null(out.address);
        assert_null(out.body);
        sl_mdp_msg_reset(&out);
    }
}

static void test_worker_jobs_round_trip_in_their_directions(void **state)
{
    struct {
        sl_mdp_version_t version;
        sl_mdp_command_t command;
        sl_mdp_direction_t direction;
    } cases[] = {
        {SL_MDP_V01, SL_MDP_REQUEST, SL_MDP_FROM_BROKER},
        {SL_MDP_V01, SL_MDP_FINAL, SL_MDP_TO_BROKER},
        {SL_MDP_V02, SL_MDP_REQUEST, SL_MDP_FROM_BROKER},
        {SL_MDP_V02, SL_MDP_PARTIAL, SL_MDP_TO_BROKER},
        {SL_MDP_V02, SL_MDP_FINAL, SL_MDP_TO_BROKER},
    };
    zframe_t *address = zframe_new("\x00\x01\x02\xff", 4); /* binary, as ROUTER makes them */
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++) {
        zmsg_t *body = s_body("b1", "b2");
        zmsg_t *msg =
            sl_mdp_encode_worker_job(cases[index].version, cases[index].command, address, &body);
        sl_mdp_msg_t out;
        s_decode_ok(msg, cases[index].direction, &out);
        assert_int_equal(out.version, cases[index].version);
        assert_true(out.from_worker_side);
        assert_int_equal(out.command, cases[index].command);
        assert_null(out.service);
        assert_true(zframe_eq(out.address, address));
        assert_int_equal(zmsg_size(out.body), 2);
        ASSERT_FRAME(out.body, 1, "b2");
        sl_mdp_msg_reset(&out);
    }
    zframe_destroy(&address);
}

static void test_heartbeat_and_disconnect_round_trip_both_ways(void **state)
{
    for (int version = SL_MDP_V01; version <= SL_MDP_V02; version++)
        for (int command = SL_MDP_HEARTBEAT; command <= SL_MDP_DISCONNECT; command++)
            for (int direction = SL_MDP_TO_BROKER; direction <= SL_MDP_FROM_BROKER; direction++) {
                sl_mdp_msg_t out;
                s_decode_ok(sl_mdp_encode_worker_signal(version, command), direction, &out);
                assert_int_equal(out.version, version);
                assert_true(out.from_worker_side);
                assert_int_equal(out.command, command);
                assert_null(out.service);
                assert_null(out.address);
                assert_null(out.body);
                sl_mdp_msg_reset(&out);
            }
}

static void test_job_without_body_decodes_with_empty_body(void **state)
{
    zframe_t *address = zframe_from("c");
    sl_mdp_msg_t out;
    s_decode_ok(sl_mdp_encode_worker_job(SL_MDP_V02, SL_MDP_FINAL, address, NULL), SL_MDP_TO_BROKER,
                &out);
    assert_non_null(out.body);
    assert_int_equal(zmsg_size(out.body), 0);
    sl_mdp_msg_reset(&out);
    zframe_destroy(&address);
}

static void test_v01_reply_byte_0x03_decodes_as_final(void **state)
{
    /* RFC 7: "Frame 2: 0x03 (one byte, representing REPLY)" -- REPLY is our FINAL. */
    sl_mdp_msg_t out;
    s_decode_ok(MSG(EMPTY, F("MDPW01"), F("\x03"), F("addr"), EMPTY, F("body")), SL_MDP_TO_BROKER,
                &out);
    assert_int_equal(out.command, SL_MDP_FINAL);
    sl_mdp_msg_reset(&out);
}

static void test_longest_service_and_address_are_accepted(void **state)
{
    char name[SL_MAX_SERVICE_NAME];
    memset(name, 'a', sizeof name);
    sl_mdp_msg_t out;
    s_decode_ok(MSG(F("MDPC02"), F("\x01"), {name, sizeof name}), SL_MDP_TO_BROKER, &out);
    assert_int_equal(zframe_size(out.service), SL_MAX_SERVICE_NAME);
    sl_mdp_msg_reset(&out);
    char address[SL_MAX_ADDRESS_BYTES];
    memset(address, 0x7, sizeof address);
    s_decode_ok(MSG(F("MDPW02"), F("\x02"), {address, sizeof address}, EMPTY), SL_MDP_FROM_BROKER,
                &out);
    assert_int_equal(zframe_size(out.address), SL_MAX_ADDRESS_BYTES);
    sl_mdp_msg_reset(&out);
}

/* ---- malformed input ------------------------------------------------------------------ */

static void test_null_and_empty_messages_are_rejected(void **state)
{
    sl_mdp_msg_t out;
    const char *reason = NULL;
    zmsg_t *msg = NULL;
    assert_int_equal(sl_mdp_decode(&msg, SL_MDP_TO_BROKER, &out, &reason), -1);
    assert_non_null(reason);
    s_assert_rejected(zmsg_new(), SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(EMPTY), SL_MDP_TO_BROKER);
}

static void test_unknown_or_truncated_protocol_frame_is_rejected(void **state)
{
    s_assert_rejected(MSG(F("MDPX02"), F("\x01"), F("svc")), SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(F("MDPC0"), F("\x01"), F("svc")), SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(F("MDPC022"), F("\x01"), F("svc")), SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(F("GET / HTTP/1.1")), SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(EMPTY, F("HELLO!"), F("svc")), SL_MDP_TO_BROKER);
}

static void test_wrong_protocol_version_is_rejected(void **state)
{
    s_assert_rejected(MSG(F("MDPC03"), F("\x01"), F("svc"), F("b")), SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(F("MDPW00"), F("\x05")), SL_MDP_TO_BROKER);
}

static void test_empty_frame_must_match_version(void **state)
{
    /* RFC 7: MDP/0.1 commands start with "Frame 0: Empty frame"; RFC 18 lists "removal of
       empty frames at start of commands". Each version without / with it is malformed. */
    s_assert_rejected(MSG(F("MDPC01"), F("svc"), F("b")), SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(F("MDPW01"), F("\x04")), SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(EMPTY, F("MDPC02"), F("\x01"), F("svc"), F("b")), SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(EMPTY, F("MDPW02"), F("\x05")), SL_MDP_TO_BROKER);
}

static void test_short_messages_are_rejected(void **state)
{
    s_assert_rejected(MSG(F("MDPC02")), SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(F("MDPC02"), F("\x01")), SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(EMPTY, F("MDPC01")), SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(F("MDPW02")), SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(EMPTY, F("MDPW01")), SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(F("MDPW02"), F("\x01")), SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(F("MDPW02"), F("\x02")), SL_MDP_FROM_BROKER);
    s_assert_rejected(MSG(F("MDPW02"), F("\x04"), F("addr")), SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(EMPTY, F("MDPW01"), F("\x03"), F("addr")), SL_MDP_TO_BROKER);
}

static void test_command_frame_must_be_one_known_byte(void **state)
{
    s_assert_rejected(MSG(F("MDPW02"), EMPTY), SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(F("MDPW02"), F("\x05\x05")), SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(F("MDPW02"), {"\0", 1}), SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(F("MDPW02"), F("\x07")), SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(F("MDPW02"), F("5")), SL_MDP_TO_BROKER);
    /* 0x06 is DISCONNECT in RFC 18 but nothing in RFC 7. */
    s_assert_rejected(MSG(EMPTY, F("MDPW01"), F("\x06")), SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(F("MDPC02"), F("\x04"), F("svc"), F("b")), SL_MDP_FROM_BROKER);
    s_assert_rejected(MSG(F("MDPC02"), F("\x01\x00"), F("svc"), F("b")), SL_MDP_TO_BROKER);
}

static void test_command_not_valid_for_direction_is_rejected(void **state)
{
    /* RFC 18 MDP/Client: "C: REQUEST  B: *PARTIAL  B: FINAL" */
    s_assert_rejected(MSG(F("MDPC02"), F("\x01"), F("svc"), F("b")), SL_MDP_FROM_BROKER);
    s_assert_rejected(MSG(F("MDPC02"), F("\x02"), F("svc"), F("b")), SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(F("MDPC02"), F("\x03"), F("svc"), F("b")), SL_MDP_TO_BROKER);
    /* RFC 18 MDP/Worker: "W: READY ... B: REQUEST  W: *PARTIAL  W: FINAL" */
    s_assert_rejected(MSG(F("MDPW02"), F("\x01"), F("svc")), SL_MDP_FROM_BROKER);
    s_assert_rejected(MSG(F("MDPW02"), F("\x02"), F("a"), EMPTY, F("b")), SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(F("MDPW02"), F("\x03"), F("a"), EMPTY, F("b")), SL_MDP_FROM_BROKER);
    s_assert_rejected(MSG(F("MDPW02"), F("\x04"), F("a"), EMPTY, F("b")), SL_MDP_FROM_BROKER);
    s_assert_rejected(MSG(EMPTY, F("MDPW01"), F("\x02"), F("a"), EMPTY), SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(EMPTY, F("MDPW01"), F("\x03"), F("a"), EMPTY), SL_MDP_FROM_BROKER);
}

static void test_bad_service_names_are_rejected(void **state)
{
    char long_name[SL_MAX_SERVICE_NAME + 1];
    memset(long_name, 'a', sizeof long_name);
    s_assert_rejected(MSG(F("MDPC02"), F("\x01"), EMPTY, F("b")), SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(F("MDPC02"), F("\x01"), {long_name, sizeof long_name}, F("b")),
                      SL_MDP_TO_BROKER);
    /* RFC 7/18: "Service name (printable string)" */
    s_assert_rejected(MSG(F("MDPC02"), F("\x01"), F("ec\x01ho"), F("b")), SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(F("MDPC02"), F("\x01"), F("echo\n"), F("b")), SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(F("MDPC02"), F("\x01"), F("my service"), F("b")), SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(F("MDPC02"), F("\x01"), F("caf\xc3\xa9"), F("b")), SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(F("MDPC02"), F("\x01"), {"ec\0ho", 5}, F("b")), SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(EMPTY, F("MDPC01"), F("\x7f"), F("b")), SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(F("MDPW02"), F("\x01"), EMPTY), SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(EMPTY, F("MDPW01"), F("\x01"), {long_name, sizeof long_name}),
                      SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(F("MDPW02"), F("\x01"), F("tab\there")), SL_MDP_TO_BROKER);
}

static void test_bad_client_addresses_are_rejected(void **state)
{
    char long_address[SL_MAX_ADDRESS_BYTES + 1];
    memset(long_address, 'x', sizeof long_address);
    s_assert_rejected(MSG(F("MDPW02"), F("\x04"), {long_address, sizeof long_address}, EMPTY),
                      SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(F("MDPW02"), F("\x04"), EMPTY, EMPTY, F("b")), SL_MDP_TO_BROKER);
}

static void test_missing_empty_delimiter_is_rejected(void **state)
{
    /* RFC 18: "This frame MUST be followed by an empty (zero sized) frame." */
    s_assert_rejected(MSG(F("MDPW02"), F("\x04"), F("addr"), F("body")), SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(F("MDPW02"), F("\x02"), F("addr"), F("x"), F("b")), SL_MDP_FROM_BROKER);
    s_assert_rejected(MSG(EMPTY, F("MDPW01"), F("\x03"), F("addr"), F("body")), SL_MDP_TO_BROKER);
}

static void test_extra_frames_on_fixed_size_commands_are_rejected(void **state)
{
    /* RFC 18: READY "consists of a multipart message of 3 frames"; HEARTBEAT and
       DISCONNECT "of 2 frames". */
    s_assert_rejected(MSG(F("MDPW02"), F("\x01"), F("svc"), F("extra")), SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(F("MDPW02"), F("\x05"), F("extra")), SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(EMPTY, F("MDPW01"), F("\x05"), EMPTY), SL_MDP_FROM_BROKER);
}

static void test_several_brokers_commands(void **state)
{
    /* docs/protocol.md 3.7: READY = MDPW02 0x01 service [capacity] [credit];
       CREDIT = MDPW02 0x10 limit; HANDBACK = MDPW02 0x11 address empty;
       DEMAND = MDPW02 0x12 ("1" / "0"); limit = "0" / %x31-39 *3DIGIT, 0..1024. */
    sl_mdp_msg_t out;
    zmsg_t *ready = sl_mdp_encode_ready_credit("svc", 4, 0);
    assert_int_equal(zmsg_size(ready), 5);
    ASSERT_FRAME(ready, 3, "capacity=4");
    ASSERT_FRAME(ready, 4, "credit=0");
    s_decode_ok(ready, SL_MDP_TO_BROKER, &out);
    assert_int_equal(out.capacity, 4);
    assert_int_equal(out.credit, 0);
    sl_mdp_msg_reset(&out);
    /* capacity 1: the credit frame alone follows the service */
    ready = sl_mdp_encode_ready_credit("svc", 1, 1);
    assert_int_equal(zmsg_size(ready), 4);
    ASSERT_FRAME(ready, 3, "credit=1");
    s_decode_ok(ready, SL_MDP_TO_BROKER, &out);
    assert_int_equal(out.capacity, 1);
    assert_int_equal(out.credit, 1);
    sl_mdp_msg_reset(&out);
    s_decode_ok(sl_mdp_encode_ready(SL_MDP_V02, "svc"), SL_MDP_TO_BROKER, &out);
    assert_int_equal(out.credit, -1); /* no credit frame: a plain or single-broker worker */
    sl_mdp_msg_reset(&out);
    s_assert_rejected(MSG(F("MDPW02"), F("\x01"), F("svc"), F("credit=2")), SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(F("MDPW02"), F("\x01"), F("svc"), F("capacity=2"), F("credit=3")),
                      SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(F("MDPW02"), F("\x01"), F("svc"), F("credit=1"), F("capacity=2")),
                      SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(F("MDPW02"), F("\x01"), F("svc"), F("credit=01")), SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(EMPTY, F("MDPW01"), F("\x01"), F("svc"), F("credit=1")),
                      SL_MDP_TO_BROKER);

    zmsg_t *credit = sl_mdp_encode_credit(0);
    ASSERT_FRAME(credit, 1, "\x10");
    ASSERT_FRAME(credit, 2, "0");
    s_decode_ok(credit, SL_MDP_TO_BROKER, &out);
    assert_int_equal(out.command, SL_MDP_CREDIT);
    assert_int_equal(out.credit, 0);
    sl_mdp_msg_reset(&out);
    s_decode_ok(sl_mdp_encode_credit(1024), SL_MDP_TO_BROKER, &out);
    assert_int_equal(out.credit, 1024);
    sl_mdp_msg_reset(&out);
    s_assert_rejected(MSG(F("MDPW02"), F("\x10"), F("1025")), SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(F("MDPW02"), F("\x10"), F("00")), SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(F("MDPW02"), F("\x10"), F("-1")), SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(F("MDPW02"), F("\x10")), SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(F("MDPW02"), F("\x10"), F("1"), F("1")), SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(F("MDPW02"), F("\x10"), F("1")), SL_MDP_FROM_BROKER);
    s_assert_rejected(MSG(EMPTY, F("MDPW01"), F("\x10"), F("1")), SL_MDP_TO_BROKER);

    zmsg_t *handback = sl_mdp_encode_handback("tag-0001", 8);
    assert_int_equal(zmsg_size(handback), 4);
    ASSERT_FRAME(handback, 1, "\x11");
    ASSERT_FRAME(handback, 2, "tag-0001");
    ASSERT_FRAME(handback, 3, "");
    s_decode_ok(handback, SL_MDP_TO_BROKER, &out);
    assert_int_equal(out.command, SL_MDP_HANDBACK);
    assert_true(zframe_streq(out.address, "tag-0001"));
    assert_null(out.body);
    sl_mdp_msg_reset(&out);
    s_assert_rejected(MSG(F("MDPW02"), F("\x11"), F("tag"), EMPTY, F("body")), SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(F("MDPW02"), F("\x11"), F("tag")), SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(F("MDPW02"), F("\x11"), F("tag"), EMPTY), SL_MDP_FROM_BROKER);

    s_decode_ok(sl_mdp_encode_demand(true), SL_MDP_FROM_BROKER, &out);
    assert_int_equal(out.command, SL_MDP_DEMAND);
    assert_true(out.demand);
    sl_mdp_msg_reset(&out);
    s_decode_ok(sl_mdp_encode_demand(false), SL_MDP_FROM_BROKER, &out);
    assert_false(out.demand);
    sl_mdp_msg_reset(&out);
    s_assert_rejected(MSG(F("MDPW02"), F("\x12"), F("2")), SL_MDP_FROM_BROKER);
    s_assert_rejected(MSG(F("MDPW02"), F("\x12"), F("1")), SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(F("MDPW02"), F("\x12")), SL_MDP_FROM_BROKER);
    assert_string_equal(sl_mdp_command_name(SL_MDP_HANDBACK), "HANDBACK");
    (void) state;
}

static void test_ready_capacity_frame(void **state)
{
    /* docs/protocol.md 3.6: "The declaration is one more frame at the end of an MDP/0.2
       READY": capacity=K, K 1..1024 without a leading zero. "A READY without the frame
       declares capacity 1." */
    sl_mdp_msg_t out;
    s_decode_ok(sl_mdp_encode_ready(SL_MDP_V02, "svc"), SL_MDP_TO_BROKER, &out);
    assert_int_equal(out.capacity, 1);
    sl_mdp_msg_reset(&out);
    s_decode_ok(sl_mdp_encode_ready_capacity("svc", 1), SL_MDP_TO_BROKER, &out);
    assert_int_equal(out.capacity, 1);
    sl_mdp_msg_reset(&out);
    zmsg_t *ready = sl_mdp_encode_ready_capacity("svc", 16);
    assert_int_equal(zmsg_size(ready), 4);
    ASSERT_FRAME(ready, 3, "capacity=16");
    s_decode_ok(ready, SL_MDP_TO_BROKER, &out);
    assert_int_equal(out.capacity, 16);
    assert_true(zframe_streq(out.service, "svc"));
    sl_mdp_msg_reset(&out);
    s_decode_ok(MSG(F("MDPW02"), F("\x01"), F("svc"), F("capacity=1024")), SL_MDP_TO_BROKER, &out);
    assert_int_equal(out.capacity, 1024);
    sl_mdp_msg_reset(&out);
    /* "Any other extra frame, a value out of range, or the frame under MDP/0.1 makes the
       READY malformed." */
    s_assert_rejected(MSG(F("MDPW02"), F("\x01"), F("svc"), F("capacity=0")), SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(F("MDPW02"), F("\x01"), F("svc"), F("capacity=1025")), SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(F("MDPW02"), F("\x01"), F("svc"), F("capacity=016")), SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(F("MDPW02"), F("\x01"), F("svc"), F("capacity=")), SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(F("MDPW02"), F("\x01"), F("svc"), F("capacity=4x")), SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(F("MDPW02"), F("\x01"), F("svc"), F("Capacity=4")), SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(F("MDPW02"), F("\x01"), F("svc"), F("capacity=4"), F("capacity=4")),
                      SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(EMPTY, F("MDPW01"), F("\x01"), F("svc"), F("capacity=4")),
                      SL_MDP_TO_BROKER);
}

static void test_cancel_command_and_ready_frame(void **state)
{
    /* docs/protocol.md 3.8: READY may end with the one frame `cancel`, after capacity and
       credit; CANCEL is broker -> worker, MDP/0.2, an address and the empty frame. */
    sl_mdp_msg_t out;
    zmsg_t *ready = sl_mdp_encode_ready_credit("svc", 4, 2);
    sl_mdp_ready_add_cancel(ready);
    assert_int_equal(zmsg_size(ready), 6);
    ASSERT_FRAME(ready, 5, "cancel");
    s_decode_ok(ready, SL_MDP_TO_BROKER, &out);
    assert_true(out.cancels);
    assert_int_equal(out.capacity, 4);
    assert_int_equal(out.credit, 2);
    sl_mdp_msg_reset(&out);
    s_decode_ok(MSG(F("MDPW02"), F("\x01"), F("svc"), F("cancel")), SL_MDP_TO_BROKER, &out);
    assert_true(out.cancels);
    assert_int_equal(out.capacity, 1);
    assert_int_equal(out.credit, -1);
    sl_mdp_msg_reset(&out);
    s_decode_ok(MSG(F("MDPW02"), F("\x01"), F("svc"), F("capacity=3"), F("cancel")),
                SL_MDP_TO_BROKER, &out);
    assert_true(out.cancels && out.capacity == 3);
    sl_mdp_msg_reset(&out);
    s_decode_ok(sl_mdp_encode_ready(SL_MDP_V02, "svc"), SL_MDP_TO_BROKER, &out);
    assert_false(out.cancels);
    sl_mdp_msg_reset(&out);
    s_assert_rejected(MSG(F("MDPW02"), F("\x01"), F("svc"), F("cancel"), F("capacity=3")),
                      SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(F("MDPW02"), F("\x01"), F("svc"), F("cancel"), F("cancel")),
                      SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(F("MDPW02"), F("\x01"), F("svc"), F("cancelled")), SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(EMPTY, F("MDPW01"), F("\x01"), F("svc"), F("cancel")), SL_MDP_TO_BROKER);

    zmsg_t *cancel = sl_mdp_encode_cancel("tag-0001", 8);
    assert_int_equal(zmsg_size(cancel), 4);
    ASSERT_FRAME(cancel, 1, "\x13");
    ASSERT_FRAME(cancel, 2, "tag-0001");
    ASSERT_FRAME(cancel, 3, "");
    s_decode_ok(cancel, SL_MDP_FROM_BROKER, &out);
    assert_int_equal(out.command, SL_MDP_CANCEL);
    assert_true(zframe_streq(out.address, "tag-0001"));
    assert_null(out.body);
    sl_mdp_msg_reset(&out);
    s_assert_rejected(MSG(F("MDPW02"), F("\x13"), F("tag"), EMPTY), SL_MDP_TO_BROKER);
    s_assert_rejected(MSG(F("MDPW02"), F("\x13"), F("tag"), EMPTY, F("body")), SL_MDP_FROM_BROKER);
    s_assert_rejected(MSG(F("MDPW02"), F("\x13"), F("tag")), SL_MDP_FROM_BROKER);
    s_assert_rejected(MSG(EMPTY, F("MDPW01"), F("\x13"), F("tag"), EMPTY), SL_MDP_FROM_BROKER);
    assert_string_equal(sl_mdp_command_name(SL_MDP_CANCEL), "CANCEL");
    (void) state;
}

static void test_reset_is_safe_twice_and_on_zeroed_struct(void **state)
{
    sl_mdp_msg_t out;
    memset(&out, 0, sizeof out);
    sl_mdp_msg_reset(&out);
    s_decode_ok(sl_mdp_encode_ready(SL_MDP_V02, "svc"), SL_MDP_TO_BROKER, &out);
    sl_mdp_msg_reset(&out);
    assert_null(out.service);
    sl_mdp_msg_reset(&out);
    sl_mdp_msg_reset(NULL);
}

static void test_command_names_are_short_upper_case_words(void **state)
{
    assert_string_equal(sl_mdp_command_name(SL_MDP_READY), "READY");
    assert_string_equal(sl_mdp_command_name(SL_MDP_REQUEST), "REQUEST");
    assert_string_equal(sl_mdp_command_name(SL_MDP_PARTIAL), "PARTIAL");
    assert_string_equal(sl_mdp_command_name(SL_MDP_FINAL), "FINAL");
    assert_string_equal(sl_mdp_command_name(SL_MDP_HEARTBEAT), "HEARTBEAT");
    assert_string_equal(sl_mdp_command_name(SL_MDP_DISCONNECT), "DISCONNECT");
    assert_string_equal(sl_mdp_command_name((sl_mdp_command_t) 99), "UNKNOWN");
}

/* ---- the senders put the encoders' frames on the wire ------------------------------ */

/* Receives one message from sock and checks it equals expected frame by frame. */
static void s_assert_received(zsock_t *sock, zmsg_t *expected)
{
    zmsg_t *got = zmsg_recv(sock);
    assert_non_null(got);
    s_assert_same_body(got, expected);
    zmsg_destroy(&got);
}

static void test_senders_write_what_the_encoders_build(void **state)
{
    zframe_t *service = zframe_new("echo", 4);
    const char *bodies[][2] = {{NULL, NULL}, {"one", NULL}, {"one", "two"}};
    for (int v = SL_MDP_V01; v <= SL_MDP_V02; v++)
        for (size_t b = 0; b < 3; b++) {
            /* worker job, PAIR (no routing id), body moved and kept */
            for (int keep = 0; keep <= 1; keep++) {
                zmsg_t *body = b ? s_body(bodies[b][0], bodies[b][1]) : NULL;
                zmsg_t *body2 = body ? zmsg_dup(body) : NULL;
                zframe_t *address = zframe_new("addr", 4);
                zmsg_t *expected = sl_mdp_encode_worker_job(v, SL_MDP_REQUEST, address, &body2);
                assert_int_equal(sl_mdp_send_worker_job(s_pair_out, NULL, v, SL_MDP_REQUEST, "addr",
                                                        4, &body, keep),
                                 0);
                assert_true(keep ? body != NULL || b == 0 : body == NULL);
                s_assert_received(s_pair_in, expected);
                zmsg_destroy(&body);
                zmsg_destroy(&expected);
                zframe_destroy(&address);
            }
            /* client reply, with and without a first frame */
            for (int with_first = 0; with_first <= 1; with_first++) {
                zmsg_t *body = b ? s_body(bodies[b][0], bodies[b][1]) : NULL;
                zmsg_t *body2 = body ? zmsg_dup(body) : zmsg_new();
                if (with_first)
                    zmsg_pushstr(body2, "req-1");
                zmsg_t *expected = sl_mdp_encode_client_reply(v, SL_MDP_FINAL, service, &body2);
                assert_int_equal(sl_mdp_send_client_reply(s_pair_out, NULL, v, SL_MDP_FINAL,
                                                          service, with_first ? "req-1" : NULL,
                                                          &body),
                                 0);
                assert_null(body);
                s_assert_received(s_pair_in, expected);
                zmsg_destroy(&expected);
            }
        }
    /* With a routing id: the ROUTER sends to the DEALER that spoke to it. */
    zmsg_t *hello = zmsg_new();
    zmsg_addstr(hello, "hello");
    zmsg_send(&hello, s_dealer);
    zmsg_t *got = zmsg_recv(s_router);
    assert_non_null(got);
    zframe_t *to = zmsg_pop(got);
    zmsg_destroy(&got);
    zmsg_t *body = s_body("one", NULL);
    zmsg_t *body2 = zmsg_dup(body);
    zframe_t *address = zframe_new("addr", 4);
    zmsg_t *expected = sl_mdp_encode_worker_job(SL_MDP_V02, SL_MDP_REQUEST, address, &body2);
    assert_int_equal(
        sl_mdp_send_worker_job(s_router, to, SL_MDP_V02, SL_MDP_REQUEST, "addr", 4, &body, false),
        0);
    zsock_set_rcvtimeo(s_dealer, 1000);
    s_assert_received(s_dealer, expected);
    zmsg_destroy(&expected);
    body = s_body("one", NULL);
    body2 = zmsg_dup(body);
    expected = sl_mdp_encode_client_reply(SL_MDP_V02, SL_MDP_PARTIAL, service, &body2);
    assert_int_equal(
        sl_mdp_send_client_reply(s_router, to, SL_MDP_V02, SL_MDP_PARTIAL, service, NULL, &body),
        0);
    s_assert_received(s_dealer, expected);
    zmsg_destroy(&expected);
    zframe_destroy(&address);
    zframe_destroy(&to);
    zframe_destroy(&service);
}

/* A first frame that names no MDP protocol is handed over whole when asked for (the broker's
   host agents share its socket), else it is malformed. */
static void test_recv_hands_over_foreign_messages(void **state)
{
    zmsg_t *msg = MSG(F("SLAGENT1"), F("x"), F("y"));
    zmsg_t *copy = zmsg_dup(msg);
    zmsg_send(&msg, s_dealer);
    zframe_t *sender = NULL;
    zmsg_t *foreign = NULL;
    sl_mdp_msg_t out;
    const char *reason = NULL;
    assert_int_equal(sl_mdp_recv(s_router, SL_MDP_TO_BROKER, &sender, &out, &foreign, &reason),
                     SL_MDP_RECV_FOREIGN);
    assert_non_null(sender);
    s_assert_same_body(foreign, copy);
    zmsg_destroy(&foreign);
    zframe_destroy(&sender);
    zmsg_destroy(&copy);
    /* Nothing waiting: NONE, not malformed */
    zsock_set_rcvtimeo(s_pair_in, 0);
    assert_int_equal(sl_mdp_recv(s_pair_in, SL_MDP_TO_BROKER, NULL, &out, NULL, &reason),
                     SL_MDP_RECV_NONE);
    zsock_set_rcvtimeo(s_pair_in, 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v01_client_request_starts_with_empty_frame_then_mdpc01),
        cmocka_unit_test(test_v02_client_request_has_no_empty_frame_and_command_0x01),
        cmocka_unit_test(test_v02_client_partial_and_final_bytes_are_0x02_and_0x03),
        cmocka_unit_test(test_v01_client_reply_has_no_command_byte),
        cmocka_unit_test(test_worker_command_bytes_match_rfc7_and_rfc18),
        cmocka_unit_test(test_worker_job_layout_is_address_then_empty_delimiter_then_body),
        cmocka_unit_test(test_client_request_round_trips_in_both_versions),
        cmocka_unit_test(test_client_replies_round_trip_partial_v02_and_final_both_versions),
        cmocka_unit_test(test_ready_round_trips_with_service_and_no_body),
        cmocka_unit_test(test_worker_jobs_round_trip_in_their_directions),
        cmocka_unit_test(test_heartbeat_and_disconnect_round_trip_both_ways),
        cmocka_unit_test(test_job_without_body_decodes_with_empty_body),
        cmocka_unit_test(test_v01_reply_byte_0x03_decodes_as_final),
        cmocka_unit_test(test_longest_service_and_address_are_accepted),
        cmocka_unit_test(test_null_and_empty_messages_are_rejected),
        cmocka_unit_test(test_unknown_or_truncated_protocol_frame_is_rejected),
        cmocka_unit_test(test_wrong_protocol_version_is_rejected),
        cmocka_unit_test(test_empty_frame_must_match_version),
        cmocka_unit_test(test_short_messages_are_rejected),
        cmocka_unit_test(test_command_frame_must_be_one_known_byte),
        cmocka_unit_test(test_command_not_valid_for_direction_is_rejected),
        cmocka_unit_test(test_bad_service_names_are_rejected),
        cmocka_unit_test(test_bad_client_addresses_are_rejected),
        cmocka_unit_test(test_missing_empty_delimiter_is_rejected),
        cmocka_unit_test(test_extra_frames_on_fixed_size_commands_are_rejected),
        cmocka_unit_test(test_ready_capacity_frame),
        cmocka_unit_test(test_several_brokers_commands),
        cmocka_unit_test(test_cancel_command_and_ready_frame),
        cmocka_unit_test(test_reset_is_safe_twice_and_on_zeroed_struct),
        cmocka_unit_test(test_command_names_are_short_upper_case_words),
        cmocka_unit_test(test_senders_write_what_the_encoders_build),
        cmocka_unit_test(test_recv_hands_over_foreign_messages),
    };
    return cmocka_run_group_tests(tests, s_sockets_open, s_sockets_close);
}
