/*  gateway_intake: what a request carries, read into buffers its civetweb thread keeps from
    one request to the next: the body (from civetweb, Content-Length or chunked) and the
    header block the envelope forwards (hop-by-hop fields dropped, the gateway's X-Request-Id
    added). It does not decide limits' answers or write responses (gateway_http), and checks
    no framing (gateway_framing has, before it runs). One per civetweb thread, never shared. */
#ifndef GATEWAY_INTAKE_H
#define GATEWAY_INTAKE_H

#include <civetweb.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway_routes.h"
#include "sl_defaults.h"
#include "sl_headers.h"

typedef struct {
    char *body;                   /* the request body read last, body_size bytes */
    size_t body_cap;              /* bytes allocated in body */
    sl_headers_builder_t headers; /* the header block for the envelope */
} gateway_intake_t;

/* Before a body is read: if the client waits to be told to send it ("Expect: 100-continue"
   in an HTTP/1.1 request that has one), tells it: "HTTP/1.1 100 Continue". civetweb does
   this only for its own CGI and file uploads. */
void gateway_intake_continue(struct mg_connection *conn, const struct mg_request_info *info);

/* Reads the whole body into intake->body: expected bytes, or a chunked body to its end when
   expected is -1. Returns its size, -1 if the client is gone or the chunked coding broke
   (civetweb does not say which), -2 past limit (only known for chunked bodies), -3 out of
   memory. */
int64_t gateway_intake_read_body(gateway_intake_t *self, struct mg_connection *conn,
                                 int64_t expected, int64_t limit);

/* Builds intake->headers from the request's fields, adding "X-Request-Id: id". Returns 0,
   or the status to answer: 431 for a value over the size limit, 400 for a malformed field. */
int gateway_intake_headers(gateway_intake_t *self, const struct mg_request_info *info,
                           const char *id);

/* True if the request asks to be answered at once and run as a job: a Prefer field
   (RFC 7240) holding the respond-async preference. */
bool gateway_intake_prefers_async(const struct mg_request_info *info);
/* Adds the fields that make the request a job submission to the jobs service (docs/jobs.md):
   a fresh job id (written to job_id), the route's service, prefix and job policy. Client
   fields of that name were dropped by gateway_intake_headers. Returns 0 or -1 (memory). */
int gateway_intake_job_fields(gateway_intake_t *self, const gateway_route_t *route, bool retryable,
                              char job_id[SL_REQUEST_ID_MAX + 1]);
/* After a request: a body buffer grown past keep_bytes is freed, so one large upload does
   not pin memory in every thread. */
void gateway_intake_trim(gateway_intake_t *self, size_t keep_bytes);

/* Frees both buffers; the intake may be used again. */
void gateway_intake_reset(gateway_intake_t *self);

#endif
