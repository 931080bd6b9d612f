/*  sl_envelope: the HTTP envelope carried in MDP body frames (docs/protocol.md, section 4).
    Encodes and validates request, reply and error envelopes and request ids (new ones come
    from sl_request_id). It is pure: no sockets, no clocks, no randomness; the HTTP mapping
    lives in the gateway, the deadline arithmetic in the broker. Malformed input returns -1
    and never asserts. */
#include "sl_envelope.h"
#include "sl_headers.h"

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_METHOD_MAX     32
#define S_TIMEOUT_DIGITS 18 /* fits int64_t; longer is malformed before any arithmetic */

/* Indexes of the request envelope's frames. */
enum {
    S_REQ_MAGIC = 0,
    S_REQ_ID,
    S_REQ_TIMEOUT,
    S_REQ_RETRY,
    S_REQ_METHOD,
    S_REQ_PATH,
    S_REQ_QUERY,
    S_REQ_HEADERS,
    S_REQ_BODY
};

static const char *s_error_names[SL_ERROR_COUNT] = {
    [SL_ERROR_QUEUE_FULL] = "queue_full",   [SL_ERROR_NO_WORKER] = "no_worker",
    [SL_ERROR_WORKER_DIED] = "worker_died", [SL_ERROR_EXPIRED] = "expired",
    [SL_ERROR_BAD_REQUEST] = "bad_request", [SL_ERROR_SHUTTING_DOWN] = "shutting_down",
    [SL_ERROR_CANCELLED] = "cancelled",
};

static bool s_frame_is(zframe_t *frame, const char *text)
{
    size_t size = strlen(text);
    return frame && zframe_size(frame) == size && memcmp(zframe_data(frame), text, size) == 0;
}

/* Collects up to count frames of body into frames[]; returns the number of frames. */
static size_t s_frames(zmsg_t *body, zframe_t **frames, size_t count)
{
    size_t found = 0;
    for (zframe_t *frame = zmsg_first(body); frame; frame = zmsg_next(body)) {
        if (found < count)
            frames[found] = frame;
        found++;
    }
    return found;
}

/* A copy of the frame as a NUL-terminated string; NULL if it holds a NUL (or no memory). */
static char *s_frame_strdup(zframe_t *frame)
{
    size_t size = zframe_size(frame);
    if (size > 0 && memchr(zframe_data(frame), '\0', size))
        return NULL;
    char *text = malloc(size + 1);
    if (!text)
        return NULL;
    if (size)
        memcpy(text, zframe_data(frame), size);
    text[size] = '\0';
    return text;
}

/* True if the frame holds a CR, LF or NUL: never allowed in method, path or query. */
static bool s_has_line_break(zframe_t *frame)
{
    const byte *data = zframe_data(frame);
    size_t size = zframe_size(frame);
    for (size_t index = 0; index < size; index++)
        if (data[index] == '\r' || data[index] == '\n' || data[index] == '\0')
            return true;
    return false;
}

/* Decimal digits only: no sign, no spaces, 1..S_TIMEOUT_DIGITS of them. */
static int s_parse_timeout(zframe_t *frame, int64_t *timeout_ms)
{
    size_t size = zframe_size(frame);
    const byte *data = zframe_data(frame);
    if (size < 1 || size > S_TIMEOUT_DIGITS)
        return -1;
    int64_t value = 0;
    for (size_t index = 0; index < size; index++) {
        if (data[index] < '0' || data[index] > '9')
            return -1;
        value = value * 10 + (data[index] - '0');
    }
    if (value > SL_ENVELOPE_TIMEOUT_MAX_MS)
        return -1;
    *timeout_ms = value;
    return 0;
}

static bool s_method_valid(zframe_t *frame)
{
    /* RFC 9110 9.1: method = token */
    size_t size = zframe_size(frame);
    return size >= 1 && size <= S_METHOD_MAX &&
           sl_header_name_valid((const char *) zframe_data(frame), size);
}

sl_body_kind_t sl_envelope_kind(zmsg_t *body)
{
    zframe_t *first = body ? zmsg_first(body) : NULL;
    if (!first)
        return SL_BODY_OPAQUE;
    if (s_frame_is(first, SL_ENVELOPE_REQUEST_MAGIC))
        return SL_BODY_REQUEST;
    if (s_frame_is(first, SL_ENVELOPE_REPLY_MAGIC))
        return SL_BODY_REPLY;
    if (s_frame_is(first, SL_ENVELOPE_ERROR_MAGIC))
        return SL_BODY_ERROR;
    if (s_frame_is(first, SL_ENVELOPE_PROGRESS_MAGIC))
        return SL_BODY_PROGRESS;
    return SL_BODY_OPAQUE;
}

bool sl_request_id_valid(const char *id, size_t size)
{
    if (!id || size < 1 || size > SL_REQUEST_ID_MAX)
        return false;
    for (size_t index = 0; index < size; index++) {
        char c = id[index];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == ':' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

/* Validates frames 0..3 of a request envelope given its frame array. */
static int s_meta_parse(zframe_t **frames, sl_envelope_meta_t *meta)
{
    if (!s_frame_is(frames[S_REQ_MAGIC], SL_ENVELOPE_REQUEST_MAGIC))
        return -1;
    zframe_t *id = frames[S_REQ_ID];
    if (!sl_request_id_valid((const char *) zframe_data(id), zframe_size(id)))
        return -1;
    int64_t timeout_ms;
    if (s_parse_timeout(frames[S_REQ_TIMEOUT], &timeout_ms) != 0)
        return -1;
    bool retryable;
    if (s_frame_is(frames[S_REQ_RETRY], "1"))
        retryable = true;
    else if (s_frame_is(frames[S_REQ_RETRY], "0"))
        retryable = false;
    else
        return -1;
    memcpy(meta->id, zframe_data(id), zframe_size(id));
    meta->id[zframe_size(id)] = '\0';
    meta->timeout_ms = timeout_ms;
    meta->retryable = retryable;
    return 0;
}

int sl_envelope_meta_read(zmsg_t *body, sl_envelope_meta_t *meta)
{
    zframe_t *frames[SL_ENVELOPE_REQUEST_FRAMES];
    if (!body || s_frames(body, frames, SL_ENVELOPE_REQUEST_FRAMES) != SL_ENVELOPE_REQUEST_FRAMES)
        return -1;
    sl_envelope_meta_t parsed;
    if (s_meta_parse(frames, &parsed) != 0)
        return -1;
    if (meta)
        *meta = parsed;
    return 0;
}

/* Also refuses a negative or over-limit timeout, which would not read back. */
int sl_envelope_meta_set_timeout(zmsg_t *body, int64_t timeout_ms)
{
    if (timeout_ms < 0 || timeout_ms > SL_ENVELOPE_TIMEOUT_MAX_MS)
        return -1;
    if (sl_envelope_meta_read(body, NULL) != 0)
        return -1;
    zframe_t *frames[SL_ENVELOPE_REQUEST_FRAMES];
    s_frames(body, frames, SL_ENVELOPE_REQUEST_FRAMES);
    char text[SL_ENVELOPE_TIMEOUT_TEXT_SIZE];
    int length = snprintf(text, sizeof text, "%lld", (long long) timeout_ms);
    zframe_reset(frames[S_REQ_TIMEOUT], text, length);
    return 0;
}

int sl_request_envelope_views(const sl_envelope_meta_t *meta, const char *method, const char *path,
                              const char *query, const char *headers, size_t headers_size,
                              const void *body, size_t body_size,
                              char timeout_text[SL_ENVELOPE_TIMEOUT_TEXT_SIZE],
                              sl_frame_view_t frames[SL_ENVELOPE_REQUEST_FRAMES])
{
    if (!meta || !method || !path)
        return -1;
    int digits =
        snprintf(timeout_text, SL_ENVELOPE_TIMEOUT_TEXT_SIZE, "%lld", (long long) meta->timeout_ms);
    frames[0] = (sl_frame_view_t){SL_ENVELOPE_REQUEST_MAGIC, strlen(SL_ENVELOPE_REQUEST_MAGIC)};
    frames[1] = (sl_frame_view_t){meta->id, strlen(meta->id)};
    frames[2] = (sl_frame_view_t){timeout_text, (size_t) digits};
    frames[3] = (sl_frame_view_t){meta->retryable ? "1" : "0", 1};
    frames[4] = (sl_frame_view_t){method, strlen(method)};
    frames[5] = (sl_frame_view_t){path, strlen(path)};
    frames[6] = (sl_frame_view_t){query ? query : "", query ? strlen(query) : 0};
    frames[7] = (sl_frame_view_t){headers, headers_size};
    frames[8] = (sl_frame_view_t){body, body_size};
    return 0;
}

zmsg_t *sl_request_envelope_encode(const sl_envelope_meta_t *meta, const char *method,
                                   const char *path, const char *query, const char *headers,
                                   size_t headers_size, const void *body, size_t body_size)
{
    char timeout[SL_ENVELOPE_TIMEOUT_TEXT_SIZE];
    sl_frame_view_t frames[SL_ENVELOPE_REQUEST_FRAMES];
    if (sl_request_envelope_views(meta, method, path, query, headers, headers_size, body, body_size,
                                  timeout, frames) != 0)
        return NULL;
    zmsg_t *msg = zmsg_new();
    for (size_t i = 0; i < SL_ENVELOPE_REQUEST_FRAMES; i++)
        zmsg_addmem(msg, frames[i].size ? frames[i].data : "", frames[i].size);
    return msg;
}

int sl_request_envelope_decode(zmsg_t *body, sl_request_envelope_t *out)
{
    assert(out);
    memset(out, 0, sizeof *out);
    zframe_t *frames[SL_ENVELOPE_REQUEST_FRAMES];
    if (!body || s_frames(body, frames, SL_ENVELOPE_REQUEST_FRAMES) != SL_ENVELOPE_REQUEST_FRAMES)
        return -1;
    if (s_meta_parse(frames, &out->meta) != 0)
        goto fail;
    if (!s_method_valid(frames[S_REQ_METHOD]))
        goto fail;
    zframe_t *path = frames[S_REQ_PATH];
    if (zframe_size(path) < 1 || zframe_data(path)[0] != '/' || s_has_line_break(path))
        goto fail;
    if (s_has_line_break(frames[S_REQ_QUERY]))
        goto fail;
    zframe_t *headers = frames[S_REQ_HEADERS];
    if (!sl_headers_valid((const char *) zframe_data(headers), zframe_size(headers)))
        goto fail;
    out->method = s_frame_strdup(frames[S_REQ_METHOD]);
    out->path = s_frame_strdup(path);
    out->query = s_frame_strdup(frames[S_REQ_QUERY]);
    out->headers = s_frame_strdup(headers);
    out->headers_size = zframe_size(headers);
    out->body = zframe_dup(frames[S_REQ_BODY]);
    if (!out->method || !out->path || !out->query || !out->headers || !out->body)
        goto fail;
    return 0;

fail:
    sl_request_envelope_reset(out);
    return -1;
}

void sl_request_envelope_reset(sl_request_envelope_t *request)
{
    if (!request)
        return;
    free(request->method);
    free(request->path);
    free(request->query);
    free(request->headers);
    zframe_destroy(&request->body);
    memset(request, 0, sizeof *request);
}

zmsg_t *sl_reply_envelope_encode(int status, const char *headers, size_t headers_size,
                                 const void *body, size_t body_size)
{
    assert(status >= 100 && status <= 599); /* the caller validates what its handler said */
    char text[8];
    snprintf(text, sizeof text, "%d", status);
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, SL_ENVELOPE_REPLY_MAGIC);
    zmsg_addstr(msg, text);
    zmsg_addmem(msg, headers_size ? headers : "", headers_size);
    zmsg_addmem(msg, body_size ? body : "", body_size);
    return msg;
}

int sl_reply_envelope_decode(zmsg_t *body, sl_reply_envelope_t *out)
{
    assert(out);
    memset(out, 0, sizeof *out);
    zframe_t *frames[SL_ENVELOPE_REPLY_FRAMES];
    if (!body || s_frames(body, frames, SL_ENVELOPE_REPLY_FRAMES) != SL_ENVELOPE_REPLY_FRAMES)
        return -1;
    if (!s_frame_is(frames[0], SL_ENVELOPE_REPLY_MAGIC))
        return -1;
    zframe_t *status = frames[1];
    const byte *digits = zframe_data(status);
    if (zframe_size(status) != 3)
        return -1;
    for (int index = 0; index < 3; index++)
        if (digits[index] < '0' || digits[index] > '9')
            return -1;
    int value = (digits[0] - '0') * 100 + (digits[1] - '0') * 10 + (digits[2] - '0');
    if (value < 100 || value > 599)
        return -1;
    zframe_t *headers = frames[2];
    if (!sl_headers_valid((const char *) zframe_data(headers), zframe_size(headers)))
        return -1;
    out->status = value;
    out->headers = s_frame_strdup(headers);
    out->headers_size = zframe_size(headers);
    out->body = zframe_dup(frames[3]);
    if (!out->headers || !out->body) {
        sl_reply_envelope_reset(out);
        return -1;
    }
    return 0;
}

void sl_reply_envelope_reset(sl_reply_envelope_t *reply)
{
    if (!reply)
        return;
    free(reply->headers);
    zframe_destroy(&reply->body);
    memset(reply, 0, sizeof *reply);
}

const char *sl_error_code_name(sl_error_code_t code)
{
    if ((int) code < 0 || code >= SL_ERROR_COUNT)
        return "unknown";
    return s_error_names[code];
}

zmsg_t *sl_error_envelope_encode(sl_error_code_t code, const char *message)
{
    assert((int) code >= 0 && code < SL_ERROR_COUNT);
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, SL_ENVELOPE_ERROR_MAGIC);
    zmsg_addstr(msg, s_error_names[code]);
    zmsg_addstr(msg, message ? message : "");
    return msg;
}

/* The message is for humans and logs: control bytes are copied as '?'. */
int sl_error_envelope_decode(zmsg_t *body, sl_error_code_t *code, char *message,
                             size_t message_size)
{
    zframe_t *frames[SL_ENVELOPE_ERROR_FRAMES];
    if (!body || s_frames(body, frames, SL_ENVELOPE_ERROR_FRAMES) != SL_ENVELOPE_ERROR_FRAMES)
        return -1;
    if (!s_frame_is(frames[0], SL_ENVELOPE_ERROR_MAGIC))
        return -1;
    int found = -1;
    for (int index = 0; index < SL_ERROR_COUNT; index++)
        if (s_frame_is(frames[1], s_error_names[index]))
            found = index;
    if (found < 0)
        return -1;
    if (code)
        *code = (sl_error_code_t) found;
    if (message && message_size > 0) {
        size_t size = zframe_size(frames[2]);
        if (size > message_size - 1)
            size = message_size - 1;
        const byte *data = zframe_data(frames[2]);
        for (size_t index = 0; index < size; index++)
            message[index] = (data[index] < 0x20 || data[index] == 0x7f) ? '?' : (char) data[index];
        message[size] = '\0';
    }
    return 0;
}
