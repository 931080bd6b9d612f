/*  gateway_response: writing one HTTP response on a civetweb connection. Owns the status
    mapping of broker replies (reply envelope, error envelope, opaque body, malformed), the
    filtering of worker headers, the JSON error bodies and chunked streaming. It does not
    decide routing, admission or deadlines (gateway_http) and never touches the broker. */
#ifndef GATEWAY_RESPONSE_H
#define GATEWAY_RESPONSE_H

#include <civetweb.h>
#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct {
    struct mg_connection *conn; /* borrowed, the request's connection */
    const char *request_id;     /* borrowed, echoed as X-Request-Id and in error bodies */
    char *scratch;              /* borrowed per-thread buffer for head and small bodies */
    size_t scratch_size;        /* bytes in scratch */
    bool head;                  /* HEAD request: headers only */
    bool http10;                /* HTTP/1.0 client: no chunked encoding */
    bool keep_alive;            /* false: "Connection: close", civetweb closes after */
    bool keep_alive_header;     /* HTTP/1.0 keep-alive: say so explicitly */
    bool streaming;             /* a chunked (or close-delimited) body is under way */
    bool failed;                /* a write failed or the stream was aborted */
    int status;                 /* status sent, 0 before the head went out */
    const char *cause;          /* error cause sent (static string or cause_text), NULL: none */
    char cause_text[64];        /* a cause copied from data that does not outlive the send */
    int64_t bytes;              /* body bytes written */
    void (*on_last_write)(void *arg); /* called once, just before the response completes */
    void *on_last_write_arg;          /* its argument */
} gateway_response_t;

/* Prepares a response for conn; reads the request's HTTP version and Connection header to
   know whether the connection may stay open. */
void gateway_response_init(gateway_response_t *self, struct mg_connection *conn,
                           const char *request_id, char *scratch, size_t scratch_size);

/* Sets a function called once just before the last bytes of the response are written
   (or when it is abandoned): a client that sends its next request the moment it has this
   answer must find the admission budget already released. */
void gateway_response_on_last_write(gateway_response_t *self, void (*function)(void *arg),
                                    void *arg);

/* Calls the on_last_write function now if it has not run yet. */
void gateway_response_finish(gateway_response_t *self);

/* The connection closes after this response (a flood, an unread body, a broken stream). */
void gateway_response_close_connection(gateway_response_t *self);

/* Sends a complete response. extra is a header block ("Name: value\r\n"...) or NULL;
   content_type may be NULL. Returns 0, or -1 if the client is gone. */
int gateway_response_send(gateway_response_t *self, int status, const char *content_type,
                          const char *extra, size_t extra_size, const void *body, size_t size);

/* Sends {"error":"<cause>","request_id":"..."} with status; a 503 carries Retry-After.
   cause is a static string. */
int gateway_response_error(gateway_response_t *self, int status, const char *cause,
                           const char *extra);

/* Answers a FINAL body from the broker (ownership of *body_p taken): reply envelope ->
   its status, filtered headers and body; error envelope -> 503/502/504; opaque -> 200 with
   the frames as body; anything malformed -> 502. */
int gateway_response_from_final(gateway_response_t *self, zmsg_t **body_p);

/* Starts a streamed response from the first PARTIAL (ownership taken): a reply envelope
   gives status and headers, an opaque body is a 200 whose first chunk it is. Returns 0, or
   -1 if the response was answered otherwise (malformed: 502) or the client is gone. */
int gateway_response_stream_start(gateway_response_t *self, zmsg_t **body_p);

/* Sends a later PARTIAL or the FINAL (raw chunk bytes, frames concatenated; ownership
   taken); final also ends the body. Returns 0 or -1 (client gone). */
int gateway_response_stream_chunk(gateway_response_t *self, zmsg_t **body_p, bool final);

/* Ends a stream that cannot complete (deadline, broker lost): the connection is closed
   without the last chunk, so the client sees an incomplete body, never a complete one. */
void gateway_response_stream_abort(gateway_response_t *self, const char *cause);

#endif
