/*  gateway_head_buffer: where civetweb keeps the request head it parsed, and how far that
    buffer holds bytes this connection sent. civetweb 1.15 does not say: its buffer is private
    and the request info points into it. So the gateway wraps recv(2) (the only call civetweb
    reads a socket with) and watches the receives of civetweb's worker threads: a thread's
    first receive is its first request head, read to the start of the buffer civetweb keeps
    for the thread's life; each later receive into it ends where the received bytes end,
    and the bytes are copied as they come, before civetweb parses them in place.
    gateway_framing reads the head in that copy as the client sent it. It never writes a
    byte of civetweb's buffer. */
#ifndef GATEWAY_HEAD_BUFFER_H
#define GATEWAY_HEAD_BUFFER_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    const char *start;     /* civetweb's head buffer (SL_GATEWAY_MAX_REQUEST_HEAD bytes) */
    const char *end;       /* one past it */
    const char *valid_end; /* one past the bytes received into it and not yet consumed;
                              NULL when unknown (after a chunked request on the connection) */
    const char *raw;       /* the same bytes as they were received, at the same offsets:
                              civetweb writes NULs over its own copy as it parses */
} gateway_head_buffer_t;

/* Called by each civetweb worker thread when it starts (init_thread): its receives are
   watched from now on. */
void gateway_head_buffer_watch(void);

/* The socket the calling civetweb thread last received from, -1 if none: the connection of
   the request it serves (civetweb reads a request on the thread that handles it), which
   gateway_client_socket then only confirms. */
int gateway_head_buffer_last_fd(void);
/* When the thread ends (exit_thread): frees the copy. */
void gateway_head_buffer_unwatch(void);

/* The calling thread's buffer. Returns false if it is not known (no receive seen yet, or
   civetweb read with something else than recv): then nothing may be concluded about it. */
bool gateway_head_buffer_get(gateway_head_buffer_t *out);

/* The request just answered used bytes from the start of the buffer (its head with any
   empty line before it, and its body), -1 if that is not known: civetweb moves what follows
   to the start before it parses the next request of the connection, and so does the copy. */
void gateway_head_buffer_consumed(int64_t bytes);

#endif
