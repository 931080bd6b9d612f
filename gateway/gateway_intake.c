/*  gateway_intake: a request's body and forwarded headers, into its thread's own buffers.
    The buffers grow to the largest request the thread has served (bounded by
    gateway_intake_trim), so a steady stream of requests allocates nothing here. */
#include "gateway_intake.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sl_defaults.h"
#include "sl_request_id.h"

#define S_CHUNK_READ_BYTES 65536 /* a chunked body is read this much at a time */
#define S_JOB_FIELD_PREFIX "Slowlane-Job-"

/* Request headers not forwarded: hop-by-hop fields (RFC 9110 section 7.6.1), Expect (the
   gateway answered it: gateway_intake_continue), and X-Request-Id (the gateway sets the one
   it uses). */
static const char *s_dropped_request_headers[] = {
    "Connection", "Keep-Alive", "Proxy-Connection", "TE",           "Transfer-Encoding",
    "Upgrade",    "Trailer",    "Expect",           "X-Request-Id",
};

static bool s_dropped(const char *name)
{
    /* The gateway alone says what a job is (gateway_intake_job_fields): a client's own
       Slowlane-Job-* fields would choose another job's id or service. */
    if (strncasecmp(name, S_JOB_FIELD_PREFIX, sizeof S_JOB_FIELD_PREFIX - 1) == 0)
        return true;
    for (size_t i = 0; i < sizeof s_dropped_request_headers / sizeof *s_dropped_request_headers;
         i++)
        if (strcasecmp(name, s_dropped_request_headers[i]) == 0)
            return true;
    return false;
}

void gateway_intake_continue(struct mg_connection *conn, const struct mg_request_info *info)
{
    /* RFC 9110 section 10.1.1: "A server that receives a 100-continue expectation in an
       HTTP/1.0 request MUST ignore that expectation", and an origin server "MUST ... either
       send an immediate response with a final status code ... or send an immediate 100
       (Continue) response". Asked only when a body follows. */
    const char *expect = mg_get_header(conn, "Expect");
    bool body = info->content_length > 0 ||
                (info->content_length < 0 && mg_get_header(conn, "Transfer-Encoding"));
    if (expect && body && info->http_version && strcmp(info->http_version, "1.1") == 0 &&
        strcasecmp(expect, "100-continue") == 0) {
        static const char continue_line[] = "HTTP/1.1 100 Continue\r\n\r\n";
        mg_write(conn, continue_line, sizeof continue_line - 1);
    }
}

int64_t gateway_intake_read_body(gateway_intake_t *self, struct mg_connection *conn,
                                 int64_t expected, int64_t limit)
{
    int64_t used = 0;
    while (true) {
        int64_t want = expected >= 0 ? expected - used : S_CHUNK_READ_BYTES;
        if (expected >= 0 && want == 0)
            return used;
        if ((size_t) (used + want) > self->body_cap) {
            size_t cap = (size_t) (used + want);
            if (expected < 0 && cap < self->body_cap * 2)
                cap = self->body_cap * 2;
            char *grown = realloc(self->body, cap);
            if (!grown)
                return -3;
            self->body = grown;
            self->body_cap = cap;
        }
        int got = mg_read(conn, self->body + used, (size_t) want);
        if (got < 0 || (got == 0 && expected >= 0))
            return -1;
        if (got == 0)
            return used; /* end of a chunked body */
        used += got;
        if (used > limit)
            return -2;
    }
}

int gateway_intake_headers(gateway_intake_t *self, const struct mg_request_info *info,
                           const char *id)
{
    sl_headers_builder_t *builder = &self->headers;
    builder->size = 0; /* reuse the allocation of the previous request */
    if (builder->data)
        builder->data[0] = '\0';
    for (int i = 0; i < info->num_headers; i++) {
        const char *name = info->http_headers[i].name;
        const char *value = info->http_headers[i].value ? info->http_headers[i].value : "";
        if (s_dropped(name))
            continue;
        size_t value_size = strlen(value);
        if (sl_headers_builder_add(builder, name, strlen(name), value, value_size) != 0)
            return sl_header_name_valid(name, strlen(name)) && value_size > 8192 ? 431 : 400;
    }
    return sl_headers_builder_add(builder, "X-Request-Id", 12, id, strlen(id)) == 0 ? 0 : 400;
}

/* RFC 7240 section 2: Prefer is a comma-separated list of preferences, each a token with
   optional "=value" and ";" parameters; names are case-insensitive, and the field may be
   repeated. */
bool gateway_intake_prefers_async(const struct mg_request_info *info)
{
    static const char wanted[] = "respond-async";
    for (int i = 0; i < info->num_headers; i++) {
        if (strcasecmp(info->http_headers[i].name, "Prefer") != 0 || !info->http_headers[i].value)
            continue;
        const char *cursor = info->http_headers[i].value;
        while (*cursor) {
            cursor += strspn(cursor, " \t,");
            size_t length = strcspn(cursor, " \t,;=");
            if (length == sizeof wanted - 1 && strncasecmp(cursor, wanted, length) == 0)
                return true;
            cursor += strcspn(cursor, ","); /* past this preference's value and parameters */
        }
    }
    return false;
}

int gateway_intake_job_fields(gateway_intake_t *self, const gateway_route_t *route, bool retryable,
                              char job_id[SL_REQUEST_ID_MAX + 1])
{
    sl_request_id_generate(job_id);
    char retry[2] = {retryable ? '1' : '0', '\0'}, attempts[24], timeout[24], ttl[24];
    snprintf(attempts, sizeof attempts, "%lld", (long long) (retryable ? route->attempts : 1));
    snprintf(timeout, sizeof timeout, "%lld", (long long) route->async_timeout_ms);
    snprintf(ttl, sizeof ttl, "%lld", (long long) route->result_ttl_ms);
    const char *fields[][2] = {
        {S_JOB_FIELD_PREFIX "Id", job_id},           {S_JOB_FIELD_PREFIX "Service", route->service},
        {S_JOB_FIELD_PREFIX "Route", route->prefix}, {S_JOB_FIELD_PREFIX "Retry", retry},
        {S_JOB_FIELD_PREFIX "Attempts", attempts},   {S_JOB_FIELD_PREFIX "Timeout-Ms", timeout},
        {S_JOB_FIELD_PREFIX "Ttl-Ms", ttl},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (sl_headers_builder_add(&self->headers, fields[i][0], strlen(fields[i][0]), fields[i][1],
                                   strlen(fields[i][1])) != 0)
            return -1;
    return 0;
}

void gateway_intake_trim(gateway_intake_t *self, size_t keep_bytes)
{
    if (self->body_cap > keep_bytes) {
        free(self->body);
        self->body = NULL;
        self->body_cap = 0;
    }
}

void gateway_intake_reset(gateway_intake_t *self)
{
    free(self->body);
    self->body = NULL;
    self->body_cap = 0;
    sl_headers_builder_reset(&self->headers);
}
