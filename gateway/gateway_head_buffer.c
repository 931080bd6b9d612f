/*  gateway_head_buffer: recv(2), wrapped. Defined in the gateway's executable, it takes
    the place of the C library's for civetweb's (and libzmq's) calls; it receives with
    recvfrom, which is what the C library's recv does, and costs one thread-local test for
    every thread that is not a civetweb worker. */
#include "gateway_head_buffer.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "sl_defaults.h"

typedef struct {
    bool watched;    /* a civetweb worker thread */
    char *start;     /* its head buffer, once learned */
    char *raw;       /* SL_GATEWAY_MAX_REQUEST_HEAD bytes: what was received, as received */
    char *valid_end; /* one past the received bytes not yet consumed, NULL: unknown */
    int last_fd;     /* the socket it last received from: its connection's */
} s_thread_t;

static _Thread_local s_thread_t s_thread;

ssize_t recv(int fd, void *buffer, size_t size, int flags)
{
    ssize_t got = recvfrom(fd, buffer, size, flags, NULL, NULL);
    if (!s_thread.watched || got <= 0)
        return got;
    s_thread.last_fd = fd;
    /* civetweb reads a head into its buffer at the end of what it holds, asking for the
       rest of the buffer: the thread's first receive asks for all of it. */
    if (!s_thread.start && size == SL_GATEWAY_MAX_REQUEST_HEAD) {
        s_thread.raw = malloc(SL_GATEWAY_MAX_REQUEST_HEAD); /* freed with the thread */
        s_thread.start = buffer;
    }
    uintptr_t at = (uintptr_t) buffer, start = (uintptr_t) s_thread.start;
    if (s_thread.raw && at >= start && at < start + SL_GATEWAY_MAX_REQUEST_HEAD) {
        memcpy(s_thread.raw + (at - start), buffer, (size_t) got);
        s_thread.valid_end = (char *) buffer + got;
    }
    return got;
}

void gateway_head_buffer_watch(void)
{
    s_thread.watched = true;
    s_thread.last_fd = -1;
}

int gateway_head_buffer_last_fd(void)
{
    return s_thread.watched ? s_thread.last_fd : -1;
}

void gateway_head_buffer_unwatch(void)
{
    free(s_thread.raw);
    s_thread = (s_thread_t){0};
}

bool gateway_head_buffer_get(gateway_head_buffer_t *out)
{
    if (!s_thread.start || !s_thread.raw)
        return false;
    out->start = s_thread.start;
    out->end = s_thread.start + SL_GATEWAY_MAX_REQUEST_HEAD;
    out->valid_end = s_thread.valid_end;
    out->raw = s_thread.raw;
    return true;
}

void gateway_head_buffer_consumed(int64_t bytes)
{
    if (!s_thread.valid_end)
        return;
    if (bytes < 0) {
        s_thread.valid_end = NULL;
        return;
    }
    /* civetweb keeps what follows the request, the next pipelined one if any, and moves it
       to the start of its buffer: so does the copy. */
    int64_t held = s_thread.valid_end - s_thread.start;
    int64_t kept = bytes < held ? held - bytes : 0;
    if (kept > 0)
        memmove(s_thread.raw, s_thread.raw + bytes, (size_t) kept);
    s_thread.valid_end = s_thread.start + kept;
}
