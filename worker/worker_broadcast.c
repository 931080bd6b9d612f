/*  worker_broadcast: encoder and decoder of the broadcast pipe record (worker_broadcast.h).
    The supervisor encodes, worker.c decodes; both read and write the pipe themselves.
    Bad input is refused with -1 or NULL, never asserted: the bytes come from another
    process. */
#include <stdlib.h>
#include <string.h>
#include "sl_defaults.h"
#include "worker_broadcast.h"

//  The longest body a record may have: the longest id, its NUL, the biggest message.
#define S_BODY_MAX (SL_BROADCAST_MAX_BYTES + SL_BROADCAST_ID_MAX + 1)

char *worker_broadcast_encode(const char *id, const void *data, size_t size, size_t *record_size)
{
    size_t id_size = strlen(id);
    if (id_size == 0 || id_size > SL_BROADCAST_ID_MAX || size > SL_BROADCAST_MAX_BYTES)
        return NULL;
    size_t body_size = id_size + 1 + size;
    char *record = malloc(WORKER_BROADCAST_HEAD_BYTES + body_size);
    if (!record)
        return NULL;
    record[0] = (char) (body_size >> 24);
    record[1] = (char) (body_size >> 16);
    record[2] = (char) (body_size >> 8);
    record[3] = (char) body_size;
    memcpy(record + WORKER_BROADCAST_HEAD_BYTES, id, id_size + 1);
    if (size)
        memcpy(record + WORKER_BROADCAST_HEAD_BYTES + id_size + 1, data, size);
    *record_size = WORKER_BROADCAST_HEAD_BYTES + body_size;
    return record;
}

int worker_broadcast_decode_head(const unsigned char head[WORKER_BROADCAST_HEAD_BYTES],
                                 uint32_t *body_size)
{
    uint32_t size =
        (uint32_t) head[0] << 24 | (uint32_t) head[1] << 16 | (uint32_t) head[2] << 8 | head[3];
    if (size == 0 || size > S_BODY_MAX)
        return -1;
    *body_size = size;
    return 0;
}

int worker_broadcast_decode_body(const char *body, size_t body_size, worker_broadcast_t *out)
{
    size_t id_size = strnlen(body, body_size);
    if (id_size == 0 || id_size == body_size)
        return -1;
    out->id = body;
    out->data = body + id_size + 1;
    out->size = body_size - id_size - 1;
    return 0;
}
