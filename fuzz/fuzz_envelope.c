/*  fuzz_envelope: libFuzzer target for the HTTP envelope codec (common/sl_envelope.c). Each
    input, split into frames (fuzz_frames.h), is one MDP body: it goes through
    sl_envelope_kind, the meta reader, sl_envelope_meta_set_timeout and the request, reply and
    error decoders; what decodes is encoded again and must decode to the same values. */
#include <stdint.h>
#include <stdio.h>

#include "fuzz_frames.h"
#include "sl_envelope.h"
#include "sl_headers.h"
#include "sl_progress.h"

/* A timeout to try from the input's first bytes: sometimes negative or past the limit. */
static int64_t s_timeout_from(const uint8_t *data, size_t size)
{
    uint64_t raw = 0;
    for (size_t index = 0; index < size && index < 8; index++)
        raw = (raw << 8) | data[index];
    switch (raw & 3) {
    case 0:
        return (int64_t) raw; /* anything, negative included */
    case 1:
        return SL_ENVELOPE_TIMEOUT_MAX_MS + (int64_t) (raw >> 2) % 3 - 1; /* the edge */
    default:
        return (int64_t) ((raw >> 2) % (SL_ENVELOPE_TIMEOUT_MAX_MS + 1));
    }
}

static bool s_no_line_break(const char *text)
{
    return strpbrk(text, "\r\n") == NULL;
}

static void s_check_request(zmsg_t *body, sl_envelope_meta_t *meta_read_out, bool meta_ok)
{
    sl_request_envelope_t request;
    if (sl_request_envelope_decode(body, &request) != 0) {
        FUZZ_CHECK(!request.method && !request.path && !request.query && !request.headers &&
                   !request.body);
        return;
    }
    FUZZ_CHECK(meta_ok); /* a whole request always has readable meta */
    FUZZ_CHECK(strcmp(request.meta.id, meta_read_out->id) == 0);
    FUZZ_CHECK(request.meta.timeout_ms == meta_read_out->timeout_ms);
    FUZZ_CHECK(request.meta.retryable == meta_read_out->retryable);
    FUZZ_CHECK(sl_envelope_kind(body) == SL_BODY_REQUEST);
    FUZZ_CHECK(sl_request_id_valid(request.meta.id, strlen(request.meta.id)));
    FUZZ_CHECK(request.meta.timeout_ms >= 0 &&
               request.meta.timeout_ms <= SL_ENVELOPE_TIMEOUT_MAX_MS);
    FUZZ_CHECK(request.path[0] == '/');
    FUZZ_CHECK(s_no_line_break(request.method) && s_no_line_break(request.path) &&
               s_no_line_break(request.query));
    FUZZ_CHECK(strlen(request.headers) == request.headers_size);
    FUZZ_CHECK(sl_headers_valid(request.headers, request.headers_size));

    zmsg_t *encoded = sl_request_envelope_encode(
        &request.meta, request.method, request.path, request.query, request.headers,
        request.headers_size, zframe_data(request.body), zframe_size(request.body));
    FUZZ_CHECK(encoded);
    /* Canonical but for leading zeros in timeout-ms (accepted, never sent: protocol.md 4). */
    zframe_t *sent = zmsg_first(encoded);
    zframe_t *received = zmsg_first(body);
    for (int index = 0; sent && received;
         index++, sent = zmsg_next(encoded), received = zmsg_next(body))
        FUZZ_CHECK(index == 2 || zframe_eq(sent, received));
    FUZZ_CHECK(zmsg_size(encoded) == zmsg_size(body));
    sl_request_envelope_t again;
    FUZZ_CHECK(sl_request_envelope_decode(encoded, &again) == 0);
    FUZZ_CHECK(strcmp(again.meta.id, request.meta.id) == 0);
    FUZZ_CHECK(again.meta.timeout_ms == request.meta.timeout_ms);
    FUZZ_CHECK(again.meta.retryable == request.meta.retryable);
    FUZZ_CHECK(strcmp(again.method, request.method) == 0);
    FUZZ_CHECK(strcmp(again.path, request.path) == 0);
    FUZZ_CHECK(strcmp(again.query, request.query) == 0);
    FUZZ_CHECK(again.headers_size == request.headers_size &&
               memcmp(again.headers, request.headers, request.headers_size) == 0);
    FUZZ_CHECK(zframe_eq(again.body, request.body));
    sl_request_envelope_reset(&again);
    zmsg_destroy(&encoded);
    sl_request_envelope_reset(&request);
    sl_request_envelope_reset(&request); /* safe twice */
}

static void s_check_reply(zmsg_t *body)
{
    sl_reply_envelope_t reply;
    if (sl_reply_envelope_decode(body, &reply) != 0) {
        FUZZ_CHECK(!reply.headers && !reply.body);
        return;
    }
    FUZZ_CHECK(sl_envelope_kind(body) == SL_BODY_REPLY);
    FUZZ_CHECK(reply.status >= 100 && reply.status <= 599);
    FUZZ_CHECK(strlen(reply.headers) == reply.headers_size);
    zmsg_t *encoded = sl_reply_envelope_encode(reply.status, reply.headers, reply.headers_size,
                                               zframe_data(reply.body), zframe_size(reply.body));
    FUZZ_CHECK(fuzz_messages_equal(encoded, body));
    sl_reply_envelope_t again;
    FUZZ_CHECK(sl_reply_envelope_decode(encoded, &again) == 0);
    FUZZ_CHECK(again.status == reply.status);
    FUZZ_CHECK(again.headers_size == reply.headers_size &&
               memcmp(again.headers, reply.headers, reply.headers_size) == 0);
    FUZZ_CHECK(zframe_eq(again.body, reply.body));
    sl_reply_envelope_reset(&again);
    zmsg_destroy(&encoded);
    sl_reply_envelope_reset(&reply);
}

static void s_check_error(zmsg_t *body)
{
    static const size_t sizes[] = {0, 1, 2, 16, 256};
    sl_error_code_t code = SL_ERROR_COUNT;
    int rc = sl_error_envelope_decode(body, &code, NULL, 0);
    FUZZ_CHECK(sl_error_envelope_decode(body, NULL, NULL, 0) == rc);
    for (size_t index = 0; index < sizeof sizes / sizeof sizes[0]; index++) {
        /* Exactly the size promised, so a write past it is caught. */
        char *message = malloc(sizes[index] ? sizes[index] : 1);
        sl_error_code_t again = SL_ERROR_COUNT;
        FUZZ_CHECK(sl_error_envelope_decode(body, &again, message, sizes[index]) == rc);
        if (rc == 0 && sizes[index] > 0) {
            FUZZ_CHECK(again == code);
            size_t length = strnlen(message, sizes[index]);
            FUZZ_CHECK(length < sizes[index]); /* NUL-terminated inside the buffer */
            for (size_t at = 0; at < length; at++)
                FUZZ_CHECK((unsigned char) message[at] >= 0x20 && message[at] != 0x7f);
        }
        free(message);
    }
    if (rc != 0)
        return;
    FUZZ_CHECK(sl_envelope_kind(body) == SL_BODY_ERROR);
    FUZZ_CHECK((int) code >= 0 && code < SL_ERROR_COUNT);
    FUZZ_CHECK(strcmp(sl_error_code_name(code), "unknown") != 0);
    zmsg_t *encoded = sl_error_envelope_encode(code, "message");
    sl_error_code_t again = SL_ERROR_COUNT;
    FUZZ_CHECK(sl_error_envelope_decode(encoded, &again, NULL, 0) == 0 && again == code);
    zmsg_destroy(&encoded);
}

/* A progress envelope (protocol.md 4.6) decodes into NUL-terminated printable texts inside
   the buffers, whatever their size; what it encodes decodes to the same texts. */
static void s_check_progress(zmsg_t *body, sl_body_kind_t kind)
{
    static const size_t sizes[] = {1, 2, 16, 256};
    for (size_t index = 0; index < sizeof sizes / sizeof sizes[0]; index++) {
        char *worker = malloc(sizes[index]), *note = malloc(sizes[index]);
        int rc = sl_progress_decode(body, worker, sizes[index], note, sizes[index]);
        FUZZ_CHECK(rc == -1 || (kind == SL_BODY_PROGRESS && zmsg_size(body) == 3));
        if (rc == 0) {
            for (const char *text = worker; text; text = text == worker ? note : NULL) {
                size_t length = strnlen(text, sizes[index]);
                FUZZ_CHECK(length < sizes[index]);
                for (size_t at = 0; at < length; at++)
                    FUZZ_CHECK((unsigned char) text[at] >= 0x20 && text[at] != 0x7f);
            }
            if (index == 3) {
                zmsg_t *encoded = sl_progress_encode(worker, note);
                char worker2[256], note2[256];
                FUZZ_CHECK(
                    sl_progress_decode(encoded, worker2, sizeof worker2, note2, sizeof note2) == 0);
                FUZZ_CHECK(strcmp(worker, worker2) == 0 && strcmp(note, note2) == 0);
                zmsg_destroy(&encoded);
            }
        }
        free(worker);
        free(note);
    }
}

static void s_check_set_timeout(zmsg_t *body, bool meta_ok, const sl_envelope_meta_t *meta,
                                int64_t timeout_ms)
{
    zmsg_t *copy = zmsg_dup(body);
    int rc = sl_envelope_meta_set_timeout(copy, timeout_ms);
    bool in_range = timeout_ms >= 0 && timeout_ms <= SL_ENVELOPE_TIMEOUT_MAX_MS;
    FUZZ_CHECK((rc == 0) == (meta_ok && in_range));
    if (rc == 0) {
        sl_envelope_meta_t after;
        FUZZ_CHECK(sl_envelope_meta_read(copy, &after) == 0);
        FUZZ_CHECK(after.timeout_ms == timeout_ms);
        FUZZ_CHECK(strcmp(after.id, meta->id) == 0 && after.retryable == meta->retryable);
        FUZZ_CHECK(zmsg_size(copy) == zmsg_size(body));
    } else
        FUZZ_CHECK(fuzz_messages_equal(copy, body)); /* refused: left as it was */
    zmsg_destroy(&copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    zmsg_t *body = fuzz_frames_message(data, size);
    zmsg_t *pristine = zmsg_dup(body);

    sl_body_kind_t kind = sl_envelope_kind(body);
    FUZZ_CHECK(kind >= SL_BODY_OPAQUE && kind <= SL_BODY_PROGRESS);
    sl_envelope_meta_t meta;
    memset(&meta, 0, sizeof meta);
    bool meta_ok = sl_envelope_meta_read(body, &meta) == 0;
    FUZZ_CHECK((sl_envelope_meta_read(body, NULL) == 0) == meta_ok);
    if (meta_ok) {
        FUZZ_CHECK(kind == SL_BODY_REQUEST);
        FUZZ_CHECK(strlen(meta.id) >= 1 && strlen(meta.id) <= SL_REQUEST_ID_MAX);
    }
    s_check_request(body, &meta, meta_ok);
    s_check_reply(body);
    s_check_error(body);
    s_check_progress(body, kind);
    s_check_set_timeout(body, meta_ok, &meta, s_timeout_from(data, size));
    s_check_set_timeout(body, meta_ok, &meta, 0);
    FUZZ_CHECK(fuzz_messages_equal(body, pristine)); /* decoders do not modify their input */

    FUZZ_CHECK(sl_envelope_kind(NULL) == SL_BODY_OPAQUE);
    zmsg_destroy(&pristine);
    zmsg_destroy(&body);
    return 0;
}
