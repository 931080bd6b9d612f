/*  gateway_response: one HTTP response, written straight to the civetweb connection.
    The head and a small body go out in one write (one syscall, one packet with TCP_NODELAY):
    the gateway's own latency budget is a few microseconds, and a response in three writes
    costs more than the rest of the handler. */
#include "gateway_response.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sl_defaults.h"
#include "sl_envelope.h"
#include "sl_headers.h"

/* Worker headers the gateway never passes on: hop-by-hop fields (RFC 9110 section 7.6.1)
   and the ones whose value the gateway itself owns (framing, the request id). */
static const char *s_dropped_reply_headers[] = {
    "Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "TE",
    "Trailer",    "Upgrade",    "Content-Length",   "X-Request-Id",
};

/* True if the comma-separated list value holds token (case-insensitive). */
static bool s_list_has(const char *value, const char *token)
{
    size_t token_size = strlen(token);
    const char *cursor = value;
    while (*cursor) {
        while (*cursor == ' ' || *cursor == '\t' || *cursor == ',')
            cursor++;
        const char *start = cursor;
        while (*cursor && *cursor != ',')
            cursor++;
        const char *end = cursor;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        if ((size_t) (end - start) == token_size && strncasecmp(start, token, token_size) == 0)
            return true;
    }
    return false;
}

void gateway_response_init(gateway_response_t *self, struct mg_connection *conn,
                           const char *request_id, char *scratch, size_t scratch_size)
{
    const struct mg_request_info *info = mg_get_request_info(conn);
    *self = (gateway_response_t){
        .conn = conn,
        .request_id = request_id,
        .scratch = scratch,
        .scratch_size = scratch_size,
        .head = info->request_method && strcmp(info->request_method, "HEAD") == 0,
        .http10 = !info->http_version || strcmp(info->http_version, "1.1") != 0,
    };
    /* The same rule civetweb applies after the handler, so what we announce is what
       happens: a Connection header keeps the connection only if it lists keep-alive;
       without one, HTTP/1.1 keeps it and HTTP/1.0 does not. */
    const char *connection = mg_get_header(conn, "Connection");
    self->keep_alive = connection ? s_list_has(connection, "keep-alive") : !self->http10;
    self->keep_alive_header = self->keep_alive && self->http10;
}

void gateway_response_on_last_write(gateway_response_t *self, void (*function)(void *arg),
                                    void *arg)
{
    self->on_last_write = function;
    self->on_last_write_arg = arg;
}

void gateway_response_finish(gateway_response_t *self)
{
    void (*function)(void *) = self->on_last_write;
    self->on_last_write = NULL;
    if (function)
        function(self->on_last_write_arg);
}

void gateway_response_close_connection(gateway_response_t *self)
{
    self->keep_alive = false;
    self->keep_alive_header = false;
    mg_disable_connection_keep_alive(self->conn);
}

static int s_write(gateway_response_t *self, const void *data, size_t size)
{
    if (size == 0 || self->failed)
        return self->failed ? -1 : 0;
    if (mg_write(self->conn, data, size) != (int) size) {
        self->failed = true;
        return -1;
    }
    return 0;
}

/* Writes the head (and body when it fits in one buffer). content_length < 0 means a
   streamed body: chunked for HTTP/1.1, close-delimited for HTTP/1.0. */
static int s_write_head(gateway_response_t *self, int status, const char *content_type,
                        const char *extra, size_t extra_size, int64_t content_length,
                        const void *body, size_t body_size)
{
    assert(self->status == 0);
    self->status = status;
    bool no_body = status == 204 || status == 304;
    bool streamed = content_length < 0 && !no_body;
    if (streamed && self->http10)
        gateway_response_close_connection(self); /* the close ends the body */
    char head[512];
    int used = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\nX-Request-Id: %s\r\n", status,
                        mg_get_response_code_text(self->conn, status), self->request_id);
    if (content_type)
        used += snprintf(head + used, sizeof head - (size_t) used, "Content-Type: %s\r\n",
                         content_type);
    if (streamed && !self->http10)
        used +=
            snprintf(head + used, sizeof head - (size_t) used, "Transfer-Encoding: chunked\r\n");
    else if (!streamed && !no_body)
        used += snprintf(head + used, sizeof head - (size_t) used, "Content-Length: %lld\r\n",
                         (long long) content_length);
    if (!self->keep_alive)
        used += snprintf(head + used, sizeof head - (size_t) used, "Connection: close\r\n");
    else if (self->keep_alive_header)
        used += snprintf(head + used, sizeof head - (size_t) used, "Connection: keep-alive\r\n");
    if (used < 0 || (size_t) used >= sizeof head - 2)
        return -1; /* cannot happen with the fields above; refuse rather than truncate */
    if (self->head || no_body)
        body_size = 0;
    if (!streamed)
        gateway_response_finish(self);

    size_t total = (size_t) used + extra_size + 2 + body_size;
    if (total <= self->scratch_size) {
        char *out = self->scratch;
        memcpy(out, head, (size_t) used);
        if (extra_size)
            memcpy(out + used, extra, extra_size);
        memcpy(out + used + extra_size, "\r\n", 2);
        if (body_size)
            memcpy(out + used + extra_size + 2, body, body_size);
        self->bytes += (int64_t) body_size;
        return s_write(self, out, total);
    }
    /* Large: head, extra headers and body each in their own write. */
    if (s_write(self, head, (size_t) used) != 0 || s_write(self, extra, extra_size) != 0 ||
        s_write(self, "\r\n", 2) != 0 || s_write(self, body, body_size) != 0)
        return -1;
    self->bytes += (int64_t) body_size;
    return 0;
}

int gateway_response_send(gateway_response_t *self, int status, const char *content_type,
                          const char *extra, size_t extra_size, const void *body, size_t size)
{
    return s_write_head(self, status, content_type, extra, extra ? extra_size : 0, (int64_t) size,
                        body, size);
}

int gateway_response_error(gateway_response_t *self, int status, const char *cause,
                           const char *extra)
{
    char body[160];
    int size = snprintf(body, sizeof body, "{\"error\":\"%s\",\"request_id\":\"%s\"}\n", cause,
                        self->request_id);
    /* Every 503 is "try again soon": say when. */
    char headers[256];
    int headers_size = status == 503 ? snprintf(headers, sizeof headers, "Retry-After: %d\r\n%s",
                                                SL_DEFAULT_RETRY_AFTER_S, extra ? extra : "")
                                     : snprintf(headers, sizeof headers, "%s", extra ? extra : "");
    self->cause = cause;
    return gateway_response_send(self, status, "application/json", headers, (size_t) headers_size,
                                 body, (size_t) size);
}

/* The worker's header block minus the dropped fields, into a new block (caller frees).
   The block was validated by the envelope decoder; it is walked again here so that a
   header that slipped through would end the walk rather than reach the client. */
static char *s_filter_headers(const char *block, size_t size, size_t *out_size)
{
    char *out = malloc(size + 1);
    if (!out)
        return NULL;
    size_t used = 0;
    sl_headers_iter_t iter;
    sl_headers_iter_init(&iter, block, size);
    const char *name, *value;
    size_t name_size, value_size;
    int rc;
    while ((rc = sl_headers_iter_next(&iter, &name, &name_size, &value, &value_size)) == 1) {
        bool dropped = false;
        for (size_t i = 0; i < sizeof s_dropped_reply_headers / sizeof *s_dropped_reply_headers;
             i++)
            if (strlen(s_dropped_reply_headers[i]) == name_size &&
                strncasecmp(name, s_dropped_reply_headers[i], name_size) == 0)
                dropped = true;
        if (dropped || !sl_header_name_valid(name, name_size) ||
            !sl_header_value_valid(value, value_size))
            continue;
        /* name + ": " + value + CRLF never exceeds the original line. */
        memcpy(out + used, name, name_size);
        used += name_size;
        memcpy(out + used, ": ", 2);
        used += 2;
        memcpy(out + used, value, value_size);
        used += value_size;
        memcpy(out + used, "\r\n", 2);
        used += 2;
    }
    if (rc < 0) {
        free(out);
        return NULL;
    }
    out[used] = '\0';
    *out_size = used;
    return out;
}

static int s_error_status(sl_error_code_t code)
{
    switch (code) {
    case SL_ERROR_QUEUE_FULL:
    case SL_ERROR_NO_WORKER:
    case SL_ERROR_SHUTTING_DOWN:
        return 503;
    case SL_ERROR_EXPIRED:
        return 504;
    case SL_ERROR_CANCELLED:
        return 499; /* nginx's "client closed request": only a client that cancelled sees it */
    case SL_ERROR_WORKER_DIED:
    case SL_ERROR_BAD_REQUEST:
    default:
        return 502;
    }
}

/* Total bytes of all frames. */
static size_t s_body_size(zmsg_t *body)
{
    size_t size = 0;
    for (zframe_t *frame = zmsg_first(body); frame; frame = zmsg_next(body))
        size += zframe_size(frame);
    return size;
}

/* An opaque body as a 200 (or as the first chunk when streamed). */
static int s_send_opaque(gateway_response_t *self, zmsg_t *body, bool streamed)
{
    const char *type = "application/octet-stream";
    if (streamed) {
        if (s_write_head(self, 200, type, NULL, 0, -1, NULL, 0) != 0)
            return -1;
        return gateway_response_stream_chunk(self, &body, false);
    }
    size_t frames = zmsg_size(body);
    if (frames <= 1) {
        zframe_t *frame = zmsg_first(body);
        return gateway_response_send(self, 200, type, NULL, 0, frame ? zframe_data(frame) : NULL,
                                     frame ? zframe_size(frame) : 0);
    }
    size_t size = s_body_size(body);
    char *joined = malloc(size ? size : 1);
    if (!joined)
        return gateway_response_error(self, 502, "gateway_out_of_memory", NULL);
    size_t used = 0;
    for (zframe_t *frame = zmsg_first(body); frame; frame = zmsg_next(body)) {
        memcpy(joined + used, zframe_data(frame), zframe_size(frame));
        used += zframe_size(frame);
    }
    int rc = gateway_response_send(self, 200, type, NULL, 0, joined, size);
    free(joined);
    return rc;
}

/* A reply envelope: as a whole response, or as the head of a stream. */
static int s_send_reply(gateway_response_t *self, zmsg_t *body, bool streamed)
{
    sl_reply_envelope_t reply = {0};
    if (sl_reply_envelope_decode(body, &reply) != 0 || reply.status < 200)
        return gateway_response_error(self, 502, "invalid_reply", NULL) == 0 ? -2 : -1;
    size_t extra_size = 0;
    char *extra = s_filter_headers(reply.headers, reply.headers_size, &extra_size);
    if (!extra) {
        sl_reply_envelope_reset(&reply);
        return gateway_response_error(self, 502, "invalid_reply", NULL) == 0 ? -2 : -1;
    }
    size_t size = reply.body ? zframe_size(reply.body) : 0;
    const void *data = reply.body ? zframe_data(reply.body) : NULL;
    int rc;
    if (streamed) {
        rc = s_write_head(self, reply.status, NULL, extra, extra_size, -1, NULL, 0);
        if (rc == 0 && size > 0) {
            zmsg_t *first = zmsg_new();
            zmsg_addmem(first, data, size);
            rc = gateway_response_stream_chunk(self, &first, false);
        }
    } else
        rc = s_write_head(self, reply.status, NULL, extra, extra_size, (int64_t) size, data, size);
    free(extra);
    sl_reply_envelope_reset(&reply);
    return rc;
}

/* Maps any broker body; streamed says whether it is the first PARTIAL. Returns 0 when the
   response is under way as asked, -2 when it was answered as an error instead, -1 when the
   client is gone. */
static int s_answer(gateway_response_t *self, zmsg_t *body, bool streamed)
{
    switch (sl_envelope_kind(body)) {
    case SL_BODY_REPLY:
        return s_send_reply(self, body, streamed);
    case SL_BODY_OPAQUE:
        return s_send_opaque(self, body, streamed);
    case SL_BODY_ERROR: {
        sl_error_code_t code;
        if (sl_error_envelope_decode(body, &code, NULL, 0) != 0)
            return gateway_response_error(self, 502, "invalid_reply", NULL) == 0 ? -2 : -1;
        return gateway_response_error(self, s_error_status(code), sl_error_code_name(code), NULL) ==
                       0
                   ? -2
                   : -1;
    }
    case SL_BODY_REQUEST:
    default:
        return gateway_response_error(self, 502, "invalid_reply", NULL) == 0 ? -2 : -1;
    }
}

int gateway_response_from_final(gateway_response_t *self, zmsg_t **body_p)
{
    int rc = s_answer(self, *body_p, false);
    zmsg_destroy(body_p);
    return rc == -1 ? -1 : 0;
}

int gateway_response_stream_start(gateway_response_t *self, zmsg_t **body_p)
{
    int rc = s_answer(self, *body_p, true);
    zmsg_destroy(body_p);
    if (rc == 0)
        self->streaming = true;
    return rc == 0 ? 0 : -1;
}

int gateway_response_stream_chunk(gateway_response_t *self, zmsg_t **body_p, bool final)
{
    zmsg_t *body = *body_p;
    size_t size = s_body_size(body);
    bool no_body = self->head || self->status == 204 || self->status == 304;
    if (final)
        gateway_response_finish(self);
    int rc = 0;
    /* An empty chunk would end a chunked body: a PARTIAL without bytes sends nothing. */
    if (size > 0 && !no_body) {
        char line[24];
        int line_size = self->http10 ? 0 : snprintf(line, sizeof line, "%zx\r\n", size);
        size_t tail = self->http10 ? 0 : 2;
        size_t total = (size_t) line_size + size + tail;
        if (total <= self->scratch_size) {
            char *out = self->scratch;
            memcpy(out, line, (size_t) line_size);
            size_t used = (size_t) line_size;
            for (zframe_t *frame = zmsg_first(body); frame; frame = zmsg_next(body)) {
                memcpy(out + used, zframe_data(frame), zframe_size(frame));
                used += zframe_size(frame);
            }
            memcpy(out + used, "\r\n", tail);
            rc = s_write(self, out, total);
        } else {
            rc = s_write(self, line, (size_t) line_size);
            for (zframe_t *frame = zmsg_first(body); frame && rc == 0; frame = zmsg_next(body))
                rc = s_write(self, zframe_data(frame), zframe_size(frame));
            if (rc == 0)
                rc = s_write(self, "\r\n", tail);
        }
        if (rc == 0)
            self->bytes += (int64_t) size;
    }
    if (rc == 0 && final && !no_body && !self->http10)
        rc = s_write(self, "0\r\n\r\n", 5);
    zmsg_destroy(body_p);
    return rc;
}

void gateway_response_stream_abort(gateway_response_t *self, const char *cause)
{
    gateway_response_finish(self);
    self->cause = cause;
    self->failed = true;
    gateway_response_close_connection(self);
}
