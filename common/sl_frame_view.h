/*  sl_frame_view: one message frame as borrowed bytes (pointer and size), what the hot path
    hands around instead of a czmq frame when the bytes already live somewhere: no
    allocation until the frame is sent, and then only libzmq's own. Owns nothing. */
#ifndef SL_FRAME_VIEW_H
#define SL_FRAME_VIEW_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    const void *data; /* borrowed; may be NULL when size is 0 */
    size_t size;      /* bytes at data */
} sl_frame_view_t;

/* Sends count views as one message on a libzmq socket handle (each copied by libzmq, into
   the message itself when short). Returns 0, or -1 if the socket refused the first frame
   (nothing was sent: libzmq takes the rest of a message once it took the first frame). */
int sl_frame_view_send(void *handle, const sl_frame_view_t *frames, size_t count);

#endif
