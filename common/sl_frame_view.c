/*  sl_frame_view: sending views with zmq_send, which copies each frame into a libzmq
    message: no czmq frame or list node on the way. */
#include "sl_frame_view.h"

#include <assert.h>
#include <zmq.h>

int sl_frame_view_send(void *handle, const sl_frame_view_t *frames, size_t count)
{
    assert(handle && frames && count > 0);
    for (size_t i = 0; i < count; i++) {
        int flags = i + 1 < count ? ZMQ_SNDMORE : 0;
        const void *data = frames[i].size ? frames[i].data : "";
        if (zmq_send(handle, data, frames[i].size, flags) < 0 && i == 0)
            return -1;
    }
    return 0;
}
