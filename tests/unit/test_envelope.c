/*  test_envelope: unit tests of the HTTP envelope codec (common/sl_envelope.c) against
    docs/protocol.md section 4: round trips of request, reply and error envelopes, kind
    detection, the broker's meta read and timeout rewrite, request ids, and rejection of
    every malformed frame. Each malformed case changes one frame of a valid envelope. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "sl_envelope.h"
#include "sl_progress.h"
#include "sl_request_id.h"
#include "sl_mdp.h"

#define BYTES(text) (text), sizeof(text) - 1

typedef struct {
    const char *data;
    size_t size;
} frame_spec_t;

/* A valid request envelope, frame by frame (docs/protocol.md 4.1). */
static const frame_spec_t s_valid_request[SL_ENVELOPE_REQUEST_FRAMES] = {
    {BYTES("SLREQ/1")}, {BYTES("req-1")}, {BYTES("1500")},   {BYTES("1")},
    {BYTES("GET")},     {BYTES("/slow")}, {BYTES("ms=100")}, {BYTES("Host: localhost\r\n")},
    {BYTES("")},
};

/* The valid request with frame index replaced (or dropped when data is NULL). */
static zmsg_t *s_request_with(size_t index, const char *data, size_t size)
{
    zmsg_t *msg = zmsg_new();
    for (size_t at = 0; at < SL_ENVELOPE_REQUEST_FRAMES; at++) {
        if (at == index && !data)
            continue;
        if (at == index)
            zmsg_addmem(msg, data, size);
        else
            zmsg_addmem(msg, s_valid_request[at].data, s_valid_request[at].size);
    }
    return msg;
}
#define REQUEST_WITH(index, text) s_request_with((index), BYTES(text))

/* A request that both the meta reader and the full decoder must refuse. */
static void s_assert_request_rejected(zmsg_t *msg, bool meta_too)
{
    sl_request_envelope_t request;
    if (sl_request_envelope_decode(msg, &request) != -1)
        fail_msg("request decoded: method=%s path=%s", request.method, request.path);
    assert_null(request.method);
    assert_null(request.body);
    if (meta_too) {
        sl_envelope_meta_t meta;
        assert_int_equal(sl_envelope_meta_read(msg, &meta), -1);
        assert_int_equal(sl_envelope_meta_set_timeout(msg, 10), -1);
    }
    zmsg_destroy(&msg);
}

static zmsg_t *s_frames(const frame_spec_t *specs, size_t count)
{
    zmsg_t *msg = zmsg_new();
    for (size_t index = 0; index < count; index++)
        zmsg_addmem(msg, specs[index].data, specs[index].size);
    return msg;
}
#define FRAMES(...)                                                                                \
    s_frames((const frame_spec_t[]){__VA_ARGS__},                                                  \
             sizeof((const frame_spec_t[]){__VA_ARGS__}) / sizeof(frame_spec_t))

static void s_assert_reply_rejected(zmsg_t *msg)
{
    sl_reply_envelope_t reply;
    assert_int_equal(sl_reply_envelope_decode(msg, &reply), -1);
    assert_null(reply.headers);
    assert_null(reply.body);
    zmsg_destroy(&msg);
}

static void s_assert_error_rejected(zmsg_t *msg)
{
    sl_error_code_t code;
    char message[32];
    assert_int_equal(sl_error_envelope_decode(msg, &code, message, sizeof message), -1);
    zmsg_destroy(&msg);
}

/* ---- requests ----------------------------------------------------------------------- */

static void test_request_round_trips_every_field_including_binary_body(void **state)
{
    sl_envelope_meta_t meta = {.id = "abc-123", .timeout_ms = 2500, .retryable = true};
    const char headers[] = "Host: localhost\r\nContent-Type: application/octet-stream\r\n";
    const char body[] = {'a', '\0', '\r', '\n', (char) 0xff};
    zmsg_t *msg = sl_request_envelope_encode(&meta, "POST", "/fast/x%20y", "a=1&b=2", headers,
                                             sizeof headers - 1, body, sizeof body);
    assert_int_equal(zmsg_size(msg), SL_ENVELOPE_REQUEST_FRAMES);
    assert_int_equal(sl_envelope_kind(msg), SL_BODY_REQUEST);
    sl_request_envelope_t request;
    assert_int_equal(sl_request_envelope_decode(msg, &request), 0);
    assert_string_equal(request.meta.id, "abc-123");
    assert_int_equal(request.meta.timeout_ms, 2500);
    assert_true(request.meta.retryable);
    assert_string_equal(request.method, "POST");
    assert_string_equal(request.path, "/fast/x%20y");
    assert_string_equal(request.query, "a=1&b=2");
    assert_int_equal(request.headers_size, sizeof headers - 1);
    assert_string_equal(request.headers, headers);
    assert_int_equal(zframe_size(request.body), sizeof body);
    assert_memory_equal(zframe_data(request.body), body, sizeof body);
    sl_request_envelope_reset(&request);
    assert_null(request.method);
    sl_request_envelope_reset(&request);
    zmsg_destroy(&msg);
}

static void test_request_wire_frames_are_the_documented_ascii(void **state)
{
    sl_envelope_meta_t meta = {.id = "r1", .timeout_ms = 0, .retryable = false};
    zmsg_t *msg = sl_request_envelope_encode(&meta, "GET", "/", NULL, NULL, 0, NULL, 0);
    const char *expected[] = {"SLREQ/1", "r1", "0", "0", "GET", "/", "", "", ""};
    size_t index = 0;
    for (zframe_t *frame = zmsg_first(msg); frame; frame = zmsg_next(msg), index++)
        assert_true(zframe_streq(frame, expected[index]));
    assert_int_equal(index, SL_ENVELOPE_REQUEST_FRAMES);
    sl_request_envelope_t request;
    assert_int_equal(sl_request_envelope_decode(msg, &request), 0);
    assert_int_equal(request.meta.timeout_ms, 0);
    assert_false(request.meta.retryable);
    assert_string_equal(request.query, "");
    assert_int_equal(request.headers_size, 0);
    assert_int_equal(zframe_size(request.body), 0);
    sl_request_envelope_reset(&request);
    zmsg_destroy(&msg);
}

static void test_request_encode_refuses_missing_method_or_path(void **state)
{
    sl_envelope_meta_t meta = {.id = "r1"};
    assert_null(sl_request_envelope_encode(&meta, NULL, "/", "", "", 0, NULL, 0));
    assert_null(sl_request_envelope_encode(&meta, "GET", NULL, "", "", 0, NULL, 0));
}

static void test_meta_read_returns_fields_and_leaves_body_intact(void **state)
{
    zmsg_t *msg = s_request_with(SIZE_MAX, NULL, 0);
    sl_envelope_meta_t meta;
    assert_int_equal(sl_envelope_meta_read(msg, &meta), 0);
    assert_string_equal(meta.id, "req-1");
    assert_int_equal(meta.timeout_ms, 1500);
    assert_true(meta.retryable);
    assert_int_equal(zmsg_size(msg), SL_ENVELOPE_REQUEST_FRAMES);
    assert_true(zframe_streq(zmsg_first(msg), "SLREQ/1"));
    zmsg_destroy(&msg);
}

static void test_set_timeout_rewrites_only_the_timeout_frame(void **state)
{
    zmsg_t *msg = s_request_with(SIZE_MAX, NULL, 0);
    assert_int_equal(sl_envelope_meta_set_timeout(msg, 250), 0);
    sl_request_envelope_t request;
    assert_int_equal(sl_request_envelope_decode(msg, &request), 0);
    assert_int_equal(request.meta.timeout_ms, 250);
    assert_string_equal(request.meta.id, "req-1");
    assert_string_equal(request.path, "/slow");
    sl_request_envelope_reset(&request);
    zframe_t *frame = zmsg_first(msg);
    frame = zmsg_next(msg);
    frame = zmsg_next(msg);
    assert_true(zframe_streq(frame, "250"));
    assert_int_equal(sl_envelope_meta_set_timeout(msg, SL_ENVELOPE_TIMEOUT_MAX_MS), 0);
    assert_int_equal(sl_envelope_meta_set_timeout(msg, -1), -1);
    assert_int_equal(sl_envelope_meta_set_timeout(msg, SL_ENVELOPE_TIMEOUT_MAX_MS + 1), -1);
    sl_envelope_meta_t meta;
    assert_int_equal(sl_envelope_meta_read(msg, &meta), 0);
    assert_int_equal(meta.timeout_ms, SL_ENVELOPE_TIMEOUT_MAX_MS);
    zmsg_destroy(&msg);
}

static void test_set_timeout_refuses_non_request_bodies(void **state)
{
    zmsg_t *reply = sl_reply_envelope_encode(200, "", 0, "x", 1);
    assert_int_equal(sl_envelope_meta_set_timeout(reply, 10), -1);
    zmsg_destroy(&reply);
    zmsg_t *opaque = zmsg_new();
    zmsg_addstr(opaque, "hello");
    assert_int_equal(sl_envelope_meta_set_timeout(opaque, 10), -1);
    assert_true(zframe_streq(zmsg_first(opaque), "hello"));
    zmsg_destroy(&opaque);
    assert_int_equal(sl_envelope_meta_set_timeout(NULL, 10), -1);
}

static void test_request_with_wrong_frame_count_is_rejected(void **state)
{
    /* protocol.md 4: request-envelope ... "exactly 9 frames" */
    /* 8 frames: the body frame dropped; 8 frames: the id dropped. */
    s_assert_request_rejected(s_request_with(8, NULL, 0), true);
    s_assert_request_rejected(s_request_with(1, NULL, 0), true);
    /* 10 frames: a second body frame. */
    zmsg_t *msg = s_request_with(SIZE_MAX, NULL, 0);
    zmsg_addstr(msg, "extra");
    s_assert_request_rejected(msg, true);
    s_assert_request_rejected(zmsg_new(), true);
    sl_request_envelope_t request;
    assert_int_equal(sl_request_envelope_decode(NULL, &request), -1);
}

static void test_request_with_bad_magic_is_rejected(void **state)
{
    s_assert_request_rejected(REQUEST_WITH(0, "SLREQ/2"), true);
    s_assert_request_rejected(REQUEST_WITH(0, "slreq/1"), true);
}

static void test_request_with_bad_id_is_rejected(void **state)
{
    /* protocol.md 4: request-id = 1*64( ALPHA / DIGIT / "." / "_" / ":" / "-" ) */
    char long_id[SL_REQUEST_ID_MAX + 1];
    memset(long_id, 'a', sizeof long_id);
    s_assert_request_rejected(REQUEST_WITH(1, ""), true);
    s_assert_request_rejected(s_request_with(1, long_id, sizeof long_id), true);
    s_assert_request_rejected(REQUEST_WITH(1, "has space"), true);
    s_assert_request_rejected(REQUEST_WITH(1, "a/b"), true);
    s_assert_request_rejected(REQUEST_WITH(1, "id\r\n"), true);
    s_assert_request_rejected(s_request_with(1, "a\0b", 3), true);
}

static void test_request_with_bad_timeout_is_rejected(void **state)
{
    /* protocol.md 4: "timeout-ms = 1*18DIGIT ; value 0..86400000 (one day)" and "Signs,
       spaces, hex and exponents are malformed." */
    s_assert_request_rejected(REQUEST_WITH(2, ""), true);
    s_assert_request_rejected(REQUEST_WITH(2, "-1"), true);
    s_assert_request_rejected(REQUEST_WITH(2, "+5"), true);
    s_assert_request_rejected(REQUEST_WITH(2, " 5"), true);
    s_assert_request_rejected(REQUEST_WITH(2, "5 "), true);
    s_assert_request_rejected(REQUEST_WITH(2, "5a"), true);
    s_assert_request_rejected(REQUEST_WITH(2, "1e3"), true);
    s_assert_request_rejected(REQUEST_WITH(2, "0x10"), true);
    s_assert_request_rejected(REQUEST_WITH(2, "99999999999999999999999999"), true);
    /* Over the maximum (a day) by one millisecond. */
    s_assert_request_rejected(REQUEST_WITH(2, "86400001"), true);
}

static void test_request_timeout_at_maximum_is_accepted(void **state)
{
    zmsg_t *msg = REQUEST_WITH(2, "86400000");
    sl_envelope_meta_t meta;
    assert_int_equal(sl_envelope_meta_read(msg, &meta), 0);
    assert_int_equal(meta.timeout_ms, SL_ENVELOPE_TIMEOUT_MAX_MS);
    zmsg_destroy(&msg);
}

static void test_request_with_bad_retry_flag_is_rejected(void **state)
{
    /* protocol.md 4: retry = "0" / "1" */
    s_assert_request_rejected(REQUEST_WITH(3, ""), true);
    s_assert_request_rejected(REQUEST_WITH(3, "2"), true);
    s_assert_request_rejected(REQUEST_WITH(3, "yes"), true);
    s_assert_request_rejected(REQUEST_WITH(3, "10"), true);
}

static void test_request_with_bad_method_is_rejected(void **state)
{
    /* protocol.md 4: method = 1*32tchar */
    s_assert_request_rejected(REQUEST_WITH(4, ""), false);
    s_assert_request_rejected(REQUEST_WITH(4, "GE T"), false);
    s_assert_request_rejected(REQUEST_WITH(4, "GET\r\n"), false);
    s_assert_request_rejected(REQUEST_WITH(4, "G(T"), false);
    s_assert_request_rejected(REQUEST_WITH(4, "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFG"), false); /* 33 */
}

static void test_request_path_must_start_with_slash_and_hold_no_line_breaks(void **state)
{
    /* protocol.md 4: path = "/" *safe-octet ; safe-octet: any octet but NUL, LF, CR */
    s_assert_request_rejected(REQUEST_WITH(5, ""), false);
    s_assert_request_rejected(REQUEST_WITH(5, "slow"), false);
    s_assert_request_rejected(REQUEST_WITH(5, "http://host/slow"), false);
    s_assert_request_rejected(REQUEST_WITH(5, "/slow\r\nX-Injected: 1"), false);
    s_assert_request_rejected(REQUEST_WITH(5, "/slow\n"), false);
    s_assert_request_rejected(s_request_with(5, "/a\0b", 4), false);
}

static void test_request_query_with_line_breaks_is_rejected(void **state)
{
    s_assert_request_rejected(REQUEST_WITH(6, "a=1\r\n"), false);
    s_assert_request_rejected(REQUEST_WITH(6, "a=\n1"), false);
    s_assert_request_rejected(s_request_with(6, "a=\0", 3), false);
}

static void test_request_with_invalid_header_block_is_rejected(void **state)
{
    s_assert_request_rejected(REQUEST_WITH(7, "Host: a"), false);
    s_assert_request_rejected(REQUEST_WITH(7, "Host: a\r\nX: b\nY: c\r\n"), false);
    s_assert_request_rejected(REQUEST_WITH(7, "Bad Name: a\r\n"), false);
    s_assert_request_rejected(s_request_with(7, "Host: a\0\r\n", 10), false);
}

/* ---- replies -------------------------------------------------------------------------- */

static void test_reply_round_trips_status_headers_and_body(void **state)
{
    const char headers[] = "Content-Type: text/plain\r\n";
    zmsg_t *msg = sl_reply_envelope_encode(201, headers, sizeof headers - 1, "done", 4);
    assert_int_equal(zmsg_size(msg), SL_ENVELOPE_REPLY_FRAMES);
    assert_int_equal(sl_envelope_kind(msg), SL_BODY_REPLY);
    assert_true(zframe_streq(zmsg_first(msg), "SLREP/1"));
    assert_true(zframe_streq(zmsg_next(msg), "201"));
    sl_reply_envelope_t reply;
    assert_int_equal(sl_reply_envelope_decode(msg, &reply), 0);
    assert_int_equal(reply.status, 201);
    assert_string_equal(reply.headers, headers);
    assert_int_equal(reply.headers_size, sizeof headers - 1);
    assert_int_equal(zframe_size(reply.body), 4);
    assert_memory_equal(zframe_data(reply.body), "done", 4);
    sl_reply_envelope_reset(&reply);
    sl_reply_envelope_reset(&reply);
    zmsg_destroy(&msg);
}

static void test_reply_with_empty_headers_and_body_round_trips(void **state)
{
    zmsg_t *msg = sl_reply_envelope_encode(204, NULL, 0, NULL, 0);
    sl_reply_envelope_t reply;
    assert_int_equal(sl_reply_envelope_decode(msg, &reply), 0);
    assert_int_equal(reply.status, 204);
    assert_int_equal(reply.headers_size, 0);
    assert_string_equal(reply.headers, "");
    assert_int_equal(zframe_size(reply.body), 0);
    sl_reply_envelope_reset(&reply);
    zmsg_destroy(&msg);
}

static void test_reply_status_range_edges(void **state)
{
    s_assert_reply_rejected(FRAMES({BYTES("SLREP/1")}, {BYTES("099")}, {BYTES("")}, {BYTES("")}));
    s_assert_reply_rejected(FRAMES({BYTES("SLREP/1")}, {BYTES("600")}, {BYTES("")}, {BYTES("")}));
    zmsg_t *low = FRAMES({BYTES("SLREP/1")}, {BYTES("100")}, {BYTES("")}, {BYTES("")});
    zmsg_t *high = FRAMES({BYTES("SLREP/1")}, {BYTES("599")}, {BYTES("")}, {BYTES("")});
    sl_reply_envelope_t reply;
    assert_int_equal(sl_reply_envelope_decode(low, &reply), 0);
    assert_int_equal(reply.status, 100);
    sl_reply_envelope_reset(&reply);
    assert_int_equal(sl_reply_envelope_decode(high, &reply), 0);
    assert_int_equal(reply.status, 599);
    sl_reply_envelope_reset(&reply);
    zmsg_destroy(&low);
    zmsg_destroy(&high);
}

static void test_reply_status_must_be_three_digits(void **state)
{
    /* protocol.md 4: status = %x31-35 2DIGIT ; 100..599, exactly three digits */
    const char *bad[] = {"", "20", "2000", "20a", " 200", "200 ", "-20", "+20", "2.0", "OK"};
    for (size_t index = 0; index < sizeof bad / sizeof bad[0]; index++) {
        zmsg_t *msg = zmsg_new();
        zmsg_addstr(msg, "SLREP/1");
        zmsg_addstr(msg, bad[index]);
        zmsg_addstr(msg, "");
        zmsg_addstr(msg, "");
        s_assert_reply_rejected(msg);
    }
}

static void test_reply_with_wrong_frame_count_or_magic_is_rejected(void **state)
{
    s_assert_reply_rejected(FRAMES({BYTES("SLREP/1")}, {BYTES("200")}, {BYTES("")}));
    s_assert_reply_rejected(
        FRAMES({BYTES("SLREP/1")}, {BYTES("200")}, {BYTES("")}, {BYTES("")}, {BYTES("")}));
    s_assert_reply_rejected(FRAMES({BYTES("SLREP/2")}, {BYTES("200")}, {BYTES("")}, {BYTES("")}));
    s_assert_reply_rejected(FRAMES({BYTES("SLREQ/1")}, {BYTES("200")}, {BYTES("")}, {BYTES("")}));
    s_assert_reply_rejected(zmsg_new());
    sl_reply_envelope_t reply;
    assert_int_equal(sl_reply_envelope_decode(NULL, &reply), -1);
}

static void test_reply_with_header_injection_is_rejected(void **state)
{
    /* protocol.md 4.2: "The gateway MUST answer 502 when a reply body starts with SLREP/1
       but is not a valid reply envelope (a header block that would split the response ...)" */
    s_assert_reply_rejected(
        FRAMES({BYTES("SLREP/1")}, {BYTES("200")}, {BYTES("X: a\r\n\r\n<html>")}, {BYTES("")}));
    s_assert_reply_rejected(FRAMES({BYTES("SLREP/1")}, {BYTES("200")},
                                   {BYTES("X: a\nSet-Cookie: s=1\r\n")}, {BYTES("")}));
    s_assert_reply_rejected(
        FRAMES({BYTES("SLREP/1")}, {BYTES("200")}, {BYTES("X: a")}, {BYTES("")}));
}

/* ---- errors ----------------------------------------------------------------------------- */

static void test_error_round_trips_for_every_code(void **state)
{
    const char *names[SL_ERROR_COUNT] = {"queue_full",  "no_worker",     "worker_died", "expired",
                                         "bad_request", "shutting_down", "cancelled"};
    for (int code = 0; code < SL_ERROR_COUNT; code++) {
        assert_string_equal(sl_error_code_name(code), names[code]);
        zmsg_t *msg = sl_error_envelope_encode(code, "details here");
        assert_int_equal(zmsg_size(msg), SL_ENVELOPE_ERROR_FRAMES);
        assert_int_equal(sl_envelope_kind(msg), SL_BODY_ERROR);
        zframe_t *frame = zmsg_first(msg);
        assert_true(zframe_streq(frame, "SLERR/1"));
        assert_true(zframe_streq(zmsg_next(msg), names[code]));
        sl_error_code_t decoded = SL_ERROR_COUNT;
        char message[64];
        assert_int_equal(sl_error_envelope_decode(msg, &decoded, message, sizeof message), 0);
        assert_int_equal(decoded, code);
        assert_string_equal(message, "details here");
        zmsg_destroy(&msg);
    }
    assert_string_equal(sl_error_code_name(SL_ERROR_COUNT), "unknown");
}

static void test_error_message_is_truncated_and_control_bytes_masked(void **state)
{
    zmsg_t *msg = FRAMES({BYTES("SLERR/1")}, {BYTES("expired")},
                         {BYTES("a\r\nb\x1b"
                                "cdefgh")});
    sl_error_code_t code;
    char message[8];
    assert_int_equal(sl_error_envelope_decode(msg, &code, message, sizeof message), 0);
    assert_int_equal(code, SL_ERROR_EXPIRED);
    assert_string_equal(message, "a??b?cd");
    assert_int_equal(sl_error_envelope_decode(msg, &code, NULL, 0), 0);
    zmsg_destroy(&msg);
}

static void test_error_with_unknown_code_or_bad_shape_is_rejected(void **state)
{
    /* protocol.md 5: "An error envelope with an unknown code, the wrong number of frames or
       a different magic is malformed" */
    s_assert_error_rejected(FRAMES({BYTES("SLERR/1")}, {BYTES("oops")}, {BYTES("m")}));
    s_assert_error_rejected(FRAMES({BYTES("SLERR/1")}, {BYTES("QUEUE_FULL")}, {BYTES("m")}));
    s_assert_error_rejected(FRAMES({BYTES("SLERR/1")}, {BYTES("")}, {BYTES("m")}));
    s_assert_error_rejected(FRAMES({BYTES("SLERR/1")}, {BYTES("expired")}));
    s_assert_error_rejected(
        FRAMES({BYTES("SLERR/1")}, {BYTES("expired")}, {BYTES("m")}, {BYTES("x")}));
    s_assert_error_rejected(FRAMES({BYTES("SLERR/2")}, {BYTES("expired")}, {BYTES("m")}));
}

/* ---- kinds and ids ---------------------------------------------------------------------- */

static void test_progress_round_trips_and_rejects_other_shapes(void **state)
{
    /* protocol.md 4.6: "SLPRG/1" | worker | note, each text at most 255 bytes. */
    zmsg_t *msg = sl_progress_encode("host/42/0", "page 3 of 10");
    assert_int_equal(zmsg_size(msg), SL_PROGRESS_FRAMES);
    assert_int_equal(sl_envelope_kind(msg), SL_BODY_PROGRESS);
    char worker[256], note[256];
    assert_int_equal(sl_progress_decode(msg, worker, sizeof worker, note, sizeof note), 0);
    assert_string_equal(worker, "host/42/0");
    assert_string_equal(note, "page 3 of 10");
    zmsg_destroy(&msg);
    /* Long texts are cut at 255 bytes; control bytes come out as '?'; small buffers cut. */
    char long_note[400];
    memset(long_note, 'n', sizeof long_note - 1);
    long_note[sizeof long_note - 1] = 0;
    msg = sl_progress_encode(NULL, long_note);
    assert_int_equal(zframe_size(zmsg_last(msg)), SL_PROGRESS_TEXT_MAX);
    zmsg_destroy(&msg);
    msg = FRAMES({BYTES("SLPRG/1")}, {BYTES("w\x01")}, {BYTES("a\r\nb")});
    assert_int_equal(sl_progress_decode(msg, worker, sizeof worker, note, 3), 0);
    assert_string_equal(worker, "w?");
    assert_string_equal(note, "a?");
    zmsg_destroy(&msg);
    msg = FRAMES({BYTES("SLPRG/1")}, {BYTES("w")});
    assert_int_equal(sl_progress_decode(msg, worker, sizeof worker, note, sizeof note), -1);
    zmsg_destroy(&msg);
    msg = FRAMES({BYTES("SLREP/1")}, {BYTES("w")}, {BYTES("n")});
    assert_int_equal(sl_progress_decode(msg, worker, sizeof worker, note, sizeof note), -1);
    zmsg_destroy(&msg);
    assert_int_equal(sl_progress_decode(NULL, worker, sizeof worker, note, sizeof note), -1);
    (void) state;
}

static void test_kind_is_decided_by_exact_first_frame(void **state)
{
    /* protocol.md 4: "a body whose first frame is none of the three magics below (byte for
       byte, case-sensitive) is an opaque body" */
    assert_int_equal(sl_envelope_kind(NULL), SL_BODY_OPAQUE);
    zmsg_t *empty = zmsg_new();
    assert_int_equal(sl_envelope_kind(empty), SL_BODY_OPAQUE);
    zmsg_destroy(&empty);
    const struct {
        const char *first;
        sl_body_kind_t kind;
    } cases[] = {
        {"SLREQ/1", SL_BODY_REQUEST},  {"SLREP/1", SL_BODY_REPLY},  {"SLERR/1", SL_BODY_ERROR},
        {"SLPRG/1", SL_BODY_PROGRESS}, {"hello", SL_BODY_OPAQUE},   {"SLREQ/1x", SL_BODY_OPAQUE},
        {"SLREQ/", SL_BODY_OPAQUE},    {"slrep/1", SL_BODY_OPAQUE}, {"", SL_BODY_OPAQUE},
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++) {
        zmsg_t *msg = zmsg_new();
        zmsg_addstr(msg, cases[index].first);
        zmsg_addstr(msg, "more");
        assert_int_equal(sl_envelope_kind(msg), cases[index].kind);
        zmsg_destroy(&msg);
    }
}

static void test_request_id_validity_follows_charset_and_length(void **state)
{
    assert_true(sl_request_id_valid(BYTES("abc-DEF_123.4:5")));
    assert_false(sl_request_id_valid("", 0));
    assert_false(sl_request_id_valid(NULL, 3));
    assert_false(sl_request_id_valid(BYTES("a b")));
    assert_false(sl_request_id_valid(BYTES("a/b")));
    assert_false(sl_request_id_valid(BYTES("a=b")));
    char id[SL_REQUEST_ID_MAX + 1];
    memset(id, '7', sizeof id);
    assert_true(sl_request_id_valid(id, SL_REQUEST_ID_MAX));
    assert_false(sl_request_id_valid(id, SL_REQUEST_ID_MAX + 1));
}

static void test_generated_ids_are_32_hex_digits_valid_and_distinct(void **state)
{
    enum { COUNT = 1000 };
    static char ids[COUNT][33];
    for (int index = 0; index < COUNT; index++) {
        sl_request_id_generate(ids[index]);
        assert_int_equal(strlen(ids[index]), 32);
        assert_int_equal(strspn(ids[index], "0123456789abcdef"), 32);
        assert_true(sl_request_id_valid(ids[index], 32));
    }
    zhashx_t *seen = zhashx_new();
    for (int index = 0; index < COUNT; index++)
        assert_int_equal(zhashx_insert(seen, ids[index], ids[index]), 0);
    zhashx_destroy(&seen);
}

/* ---- the worked example of docs/protocol.md 4.5 -------------------------------------- */

/* Checks every frame of msg against expected texts (sizes from strlen). */
static void s_assert_frames(zmsg_t *msg, const char **expected, size_t count)
{
    assert_int_equal(zmsg_size(msg), count);
    size_t index = 0;
    for (zframe_t *frame = zmsg_first(msg); frame; frame = zmsg_next(msg), index++) {
        assert_int_equal(zframe_size(frame), strlen(expected[index]));
        assert_memory_equal(zframe_data(frame), expected[index], zframe_size(frame));
    }
}

static void test_protocol_md_worked_example_frames_match_the_codec(void **state)
{
    const char headers[] = "Host: localhost:8080\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n";
    assert_int_equal(sizeof headers - 1, 59); /* the size printed in the document */
    sl_envelope_meta_t meta = {
        .id = "4f1c2a9be07d4c55a3f09e1b2d6c7a80", .timeout_ms = 30000, .retryable = true};
    zmsg_t *body = sl_request_envelope_encode(&meta, "GET", "/slow", "ms=100", headers,
                                              sizeof headers - 1, NULL, 0);
    /* Step A: MDP/0.2 client REQUEST. */
    zmsg_t *request = sl_mdp_encode_client_request(SL_MDP_V02, "slow", &body);
    const char *step_a[] = {"MDPC02", "\x01", "slow",  "SLREQ/1", meta.id, "30000",
                            "1",      "GET",  "/slow", "ms=100",  headers, ""};
    s_assert_frames(request, step_a, 12);
    zmsg_destroy(&request);

    /* Step D: the reply envelope behind MDPC02 | 0x03 | slow | request-id. */
    const char reply_headers[] = "Content-Type: text/plain\r\n";
    zmsg_t *reply =
        sl_reply_envelope_encode(200, reply_headers, sizeof reply_headers - 1, "busy 100 ms\n", 12);
    zmsg_pushstr(reply, meta.id);
    zframe_t *service = zframe_from("slow");
    zmsg_t *final = sl_mdp_encode_client_reply(SL_MDP_V02, SL_MDP_FINAL, service, &reply);
    const char *step_d[] = {"MDPC02",  "\x03", "slow",        meta.id,
                            "SLREP/1", "200",  reply_headers, "busy 100 ms\n"};
    s_assert_frames(final, step_d, 8);
    zframe_destroy(&service);
    zmsg_destroy(&final);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_round_trips_every_field_including_binary_body),
        cmocka_unit_test(test_request_wire_frames_are_the_documented_ascii),
        cmocka_unit_test(test_request_encode_refuses_missing_method_or_path),
        cmocka_unit_test(test_meta_read_returns_fields_and_leaves_body_intact),
        cmocka_unit_test(test_set_timeout_rewrites_only_the_timeout_frame),
        cmocka_unit_test(test_set_timeout_refuses_non_request_bodies),
        cmocka_unit_test(test_request_with_wrong_frame_count_is_rejected),
        cmocka_unit_test(test_request_with_bad_magic_is_rejected),
        cmocka_unit_test(test_request_with_bad_id_is_rejected),
        cmocka_unit_test(test_request_with_bad_timeout_is_rejected),
        cmocka_unit_test(test_request_timeout_at_maximum_is_accepted),
        cmocka_unit_test(test_request_with_bad_retry_flag_is_rejected),
        cmocka_unit_test(test_request_with_bad_method_is_rejected),
        cmocka_unit_test(test_request_path_must_start_with_slash_and_hold_no_line_breaks),
        cmocka_unit_test(test_request_query_with_line_breaks_is_rejected),
        cmocka_unit_test(test_request_with_invalid_header_block_is_rejected),
        cmocka_unit_test(test_reply_round_trips_status_headers_and_body),
        cmocka_unit_test(test_reply_with_empty_headers_and_body_round_trips),
        cmocka_unit_test(test_reply_status_range_edges),
        cmocka_unit_test(test_reply_status_must_be_three_digits),
        cmocka_unit_test(test_reply_with_wrong_frame_count_or_magic_is_rejected),
        cmocka_unit_test(test_reply_with_header_injection_is_rejected),
        cmocka_unit_test(test_error_round_trips_for_every_code),
        cmocka_unit_test(test_error_message_is_truncated_and_control_bytes_masked),
        cmocka_unit_test(test_error_with_unknown_code_or_bad_shape_is_rejected),
        cmocka_unit_test(test_progress_round_trips_and_rejects_other_shapes),
        cmocka_unit_test(test_kind_is_decided_by_exact_first_frame),
        cmocka_unit_test(test_request_id_validity_follows_charset_and_length),
        cmocka_unit_test(test_generated_ids_are_32_hex_digits_valid_and_distinct),
        cmocka_unit_test(test_protocol_md_worked_example_frames_match_the_codec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
