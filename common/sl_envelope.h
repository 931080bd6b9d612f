/*  sl_envelope: the HTTP envelope carried in MDP body frames (docs/protocol.md, section 4).
    Request  (gateway -> worker): 9 frames
        "SLREQ/1" | request-id | timeout-ms | retry | method | path | query | headers | body
    Reply    (worker -> gateway): 4 frames
        "SLREP/1" | status | headers | body
    Error    (broker -> gateway, in place of a reply): 3 frames
        "SLERR/1" | code | message
    Progress (worker -> slowlane-jobs, a PARTIAL of an async job): 3 frames, sl_progress.h
        "SLPRG/1" | worker | note
    Streamed replies: the first PARTIAL is a reply envelope; every later PARTIAL/FINAL body is
    raw chunk bytes (all frames concatenated). Anything else is an opaque body.
    Pure codec: no I/O, never asserts on input; -1 means malformed. */
#ifndef SL_ENVELOPE_H
#define SL_ENVELOPE_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>
#include "sl_defaults.h"
#include "sl_frame_view.h"

/* Bytes for a timeout's decimal digits and NUL: any int64 fits. */
#define SL_ENVELOPE_TIMEOUT_TEXT_SIZE 24

#define SL_ENVELOPE_REQUEST_MAGIC  "SLREQ/1"
#define SL_ENVELOPE_REPLY_MAGIC    "SLREP/1"
#define SL_ENVELOPE_ERROR_MAGIC    "SLERR/1"
#define SL_ENVELOPE_PROGRESS_MAGIC "SLPRG/1"
#define SL_ENVELOPE_REQUEST_FRAMES 9
#define SL_ENVELOPE_REPLY_FRAMES   4
#define SL_ENVELOPE_ERROR_FRAMES   3
#define SL_ENVELOPE_TIMEOUT_MAX_MS 86400000LL /* a day: larger timeouts are malformed */

typedef enum {
    SL_BODY_OPAQUE = 0, /* not ours: a plain MDP body */
    SL_BODY_REQUEST,    /* first frame is SLREQ/1 */
    SL_BODY_REPLY,      /* first frame is SLREP/1 */
    SL_BODY_ERROR,      /* first frame is SLERR/1 */
    SL_BODY_PROGRESS    /* first frame is SLPRG/1 */
} sl_body_kind_t;

/* Broker error codes (frame 1 of an error envelope) and the HTTP status the gateway maps
   each to. */
typedef enum {
    SL_ERROR_QUEUE_FULL = 0, /* "queue_full"    -> 503 */
    SL_ERROR_NO_WORKER,      /* "no_worker"     -> 503 */
    SL_ERROR_WORKER_DIED,    /* "worker_died"   -> 502 */
    SL_ERROR_EXPIRED,        /* "expired"       -> 504 */
    SL_ERROR_BAD_REQUEST,    /* "bad_request"   -> 502 (the gateway never sends one) */
    SL_ERROR_SHUTTING_DOWN,  /* "shutting_down" -> 503 */
    SL_ERROR_CANCELLED,      /* "cancelled"     -> 499: its client cancelled it (mmi.cancel) */
    SL_ERROR_COUNT
} sl_error_code_t;

/* The fields the broker needs from a request envelope, without decoding the rest. */
typedef struct {
    char id[SL_REQUEST_ID_MAX + 1]; /* request id, NUL-terminated */
    int64_t timeout_ms;             /* remaining time when sent; 0 = no deadline */
    bool retryable;                 /* may be delivered again if its worker dies */
} sl_envelope_meta_t;

/* A whole decoded request. Strings are NUL-terminated copies owned by the struct. */
typedef struct {
    sl_envelope_meta_t meta; /* id, timeout, retry */
    char *method;            /* "GET" */
    char *path;              /* "/slow", percent-encoding kept */
    char *query;             /* "ms=100" without '?', may be "" */
    char *headers;           /* header block "Name: value\r\n"..., may be "" */
    size_t headers_size;     /* bytes in headers */
    zframe_t *body;          /* owned, may be empty */
} sl_request_envelope_t;

/* A whole decoded reply. */
typedef struct {
    int status;          /* 100..599 */
    char *headers;       /* owned header block, may be "" */
    size_t headers_size; /* bytes in headers */
    zframe_t *body;      /* owned, may be empty */
} sl_reply_envelope_t;

/* Kind of a body by its first frame (NULL or empty message: opaque). */
sl_body_kind_t sl_envelope_kind(zmsg_t *body);

/* Reads id, timeout and retry from a request envelope, checking the frame count and those
   three frames. Returns 0 or -1 (malformed). Does not modify body. */
int sl_envelope_meta_read(zmsg_t *body, sl_envelope_meta_t *meta);

/* Rewrites the timeout frame of a request envelope (the broker does this at dispatch so a
   worker sees the time left). Returns 0 or -1 if body is not a request envelope. */
int sl_envelope_meta_set_timeout(zmsg_t *body, int64_t timeout_ms);

/* The request envelope's frames as views of the inputs (borrowed: they must outlive the
   views) and of timeout_text, which receives the timeout's digits. For senders that build
   no czmq message; sl_request_envelope_encode is made of them. Returns 0, or -1 on a
   programming error (NULL method/path). */
int sl_request_envelope_views(const sl_envelope_meta_t *meta, const char *method, const char *path,
                              const char *query, const char *headers, size_t headers_size,
                              const void *body, size_t body_size,
                              char timeout_text[SL_ENVELOPE_TIMEOUT_TEXT_SIZE],
                              sl_frame_view_t frames[SL_ENVELOPE_REQUEST_FRAMES]);

/* Builds a request envelope; copies every input. Returns NULL only on a programming error
   (NULL method/path). body may be NULL when body_size is 0. */
zmsg_t *sl_request_envelope_encode(const sl_envelope_meta_t *meta, const char *method,
                                   const char *path, const char *query, const char *headers,
                                   size_t headers_size, const void *body, size_t body_size);

/* Decodes a request envelope into out (all owned). Validates: 9 frames, meta as above,
   method a token of 1..32 bytes, path starting with '/', no NUL/CR/LF in method, path or
   query, a header block that sl_headers accepts. Returns 0 or -1. */
int sl_request_envelope_decode(zmsg_t *body, sl_request_envelope_t *out);
void sl_request_envelope_reset(sl_request_envelope_t *request);

/* Builds a reply envelope; copies every input. */
zmsg_t *sl_reply_envelope_encode(int status, const char *headers, size_t headers_size,
                                 const void *body, size_t body_size);

/* Decodes a reply envelope. Validates: 4 frames, status 3 digits 100..599, a header block
   that sl_headers accepts (no CR/LF injection). Returns 0 or -1. */
int sl_reply_envelope_decode(zmsg_t *body, sl_reply_envelope_t *out);
void sl_reply_envelope_reset(sl_reply_envelope_t *reply);

/* Error envelope. message is a short human text (no secrets). */
zmsg_t *sl_error_envelope_encode(sl_error_code_t code, const char *message);
/* Returns 0 and sets *code (and copies the message, truncated, if message is non-NULL), or
   -1 if malformed or the code is unknown. */
int sl_error_envelope_decode(zmsg_t *body, sl_error_code_t *code, char *message,
                             size_t message_size);
const char *sl_error_code_name(sl_error_code_t code);

/* True if id is 1..SL_REQUEST_ID_MAX bytes of [A-Za-z0-9._:-]. */
bool sl_request_id_valid(const char *id, size_t size);

#endif
