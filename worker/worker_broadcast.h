/*  worker_broadcast: the one codec of the broadcast record the supervisor writes on a
    worker's pipe and the worker reads between jobs: a 4-byte big-endian length L, then L
    bytes: the id (1..SL_BROADCAST_ID_MAX bytes), a NUL, the message (up to
    SL_BROADCAST_MAX_BYTES). Pure: bytes in, struct out; the pipes are the callers'. */
#ifndef WORKER_BROADCAST_H
#define WORKER_BROADCAST_H

#include <stddef.h>
#include <stdint.h>

#define WORKER_BROADCAST_HEAD_BYTES 4 /* the length in front of every record */

typedef struct {
    const char *id;   /* borrowed from the body: NUL-terminated */
    const void *data; /* borrowed from the body: the message */
    size_t size;      /* bytes of message */
} worker_broadcast_t;

/* Encodes one whole record of id and size bytes of data. Returns a new buffer (the
   caller's to free) with *record_size set, or NULL if id is empty or too long, the message
   too big, or memory ran out. */
char *worker_broadcast_encode(const char *id, const void *data, size_t size, size_t *record_size);

/* Decodes the head of a record: the body's length. Returns 0, or -1 if no body of a
   valid record can have that length. */
int worker_broadcast_decode_head(const unsigned char head[WORKER_BROADCAST_HEAD_BYTES],
                                 uint32_t *body_size);

/* Decodes a record's body of body_size bytes into views of it. Returns 0, or -1 if it has
   no id or no NUL after the id. */
int worker_broadcast_decode_body(const char *body, size_t body_size, worker_broadcast_t *out);

#endif
