/*  sl_mdp_io: Majordomo messages read from and written to a socket without a czmq message
    in between, for the hot path. Receiving feeds the codec's decoder (sl_mdp_decode_frames)
    frames straight off the socket, as libzmq messages on the stack; sending writes the
    codec's header layout (sl_mdp_header) frame by frame. What a frame may hold is the codec's. */
#include "sl_mdp_io.h"
#include "sl_mdp_frames.h"

#include <assert.h>
#include <string.h>

/* Reads one message frame by frame as libzmq messages on the stack: frames that the codec
   only checks never become czmq frames. */
typedef struct {
    void *socket;    /* what the caller passed: zframe_recv resolves a zsock_t fastest */
    void *handle;    /* its libzmq handle */
    zmq_msg_t part;  /* the current frame, when open */
    bool open;       /* part holds a received frame */
    bool more;       /* frames follow the current one (before the first: a message may come) */
    bool first_read; /* the next s_next hands out the frame already in part */
} s_reader_t;

/* The next frame into reader->part; -1 if the message has no more (or none is waiting). */
static int s_next(s_reader_t *reader)
{
    if (reader->first_read) {
        reader->first_read = false;
        return 0;
    }
    if (reader->open)
        zmq_msg_close(&reader->part);
    reader->open = false;
    if (!reader->more)
        return -1;
    zmq_msg_init(&reader->part);
    //  Only the first frame can be missing: libzmq delivers a message's frames together
    if (zmq_msg_recv(&reader->part, reader->handle, 0) < 0) {
        zmq_msg_close(&reader->part);
        reader->more = false;
        return -1;
    }
    reader->open = true;
    reader->more = zmq_msg_more(&reader->part) != 0;
    return 0;
}

static const byte *s_data(s_reader_t *reader)
{
    return (const byte *) zmq_msg_data(&reader->part);
}

static size_t s_size(s_reader_t *reader)
{
    return zmq_msg_size(&reader->part);
}

/* ---------------------------------------------------------------- a socket's frames */

typedef struct {
    sl_mdp_frames_t base; /* first: the decoder's view */
    s_reader_t *reader;   /* the message being read */
} s_socket_frames_t;

static s_reader_t *s_reader_of(sl_mdp_frames_t *frames)
{
    return ((s_socket_frames_t *) frames)->reader;
}

static int s_socket_next(sl_mdp_frames_t *frames)
{
    return s_next(s_reader_of(frames));
}

static const byte *s_socket_data(sl_mdp_frames_t *frames)
{
    return s_data(s_reader_of(frames));
}

static size_t s_socket_size(sl_mdp_frames_t *frames)
{
    return s_size(s_reader_of(frames));
}

static bool s_socket_more(sl_mdp_frames_t *frames)
{
    return s_reader_of(frames)->more;
}

/* Copied off the socket: routing ids, names and addresses are short. */
static zframe_t *s_socket_take(sl_mdp_frames_t *frames)
{
    s_reader_t *reader = s_reader_of(frames);
    return zframe_new(s_data(reader), s_size(reader));
}

/* The frames left, received as czmq frames (never copied). */
static zmsg_t *s_socket_rest(sl_mdp_frames_t *frames, bool keep_current)
{
    s_reader_t *reader = s_reader_of(frames);
    zmsg_t *rest = zmsg_new();
    if (keep_current && reader->open) {
        zframe_t *frame = s_socket_take(frames);
        zmsg_append(rest, &frame);
    }
    while (reader->more) {
        zframe_t *frame = zframe_recv(reader->socket);
        if (!frame)
            break;
        reader->more = zframe_more(frame);
        zmsg_append(rest, &frame);
    }
    return rest;
}

static const sl_mdp_frames_ops_t s_socket_ops = {
    .next = s_socket_next,
    .data = s_socket_data,
    .size = s_socket_size,
    .more = s_socket_more,
    .take = s_socket_take,
    .rest = s_socket_rest,
};

/* ---------------------------------------------------------------- receiving */

sl_mdp_recv_result_t sl_mdp_recv(void *socket, sl_mdp_direction_t direction, zframe_t **sender_p,
                                 sl_mdp_msg_t *out, zmsg_t **foreign_p, const char **reason)
{
    assert(socket && out);
    const char *scratch = NULL;
    if (!reason)
        reason = &scratch;
    *reason = NULL;
    memset(out, 0, sizeof *out);
    out->capacity = 1;
    out->credit = -1;
    if (foreign_p)
        *foreign_p = NULL;
    if (sender_p)
        *sender_p = NULL;
    s_reader_t reader = {.socket = socket, .handle = zsock_resolve(socket), .more = true};
    if (s_next(&reader) != 0)
        return SL_MDP_RECV_NONE;
    if (sender_p)
        *sender_p = zframe_new(s_data(&reader), s_size(&reader));
    else
        reader.first_read = true; /* the frame in hand is the MDP message's first */
    s_socket_frames_t frames = {.base = {&s_socket_ops}, .reader = &reader};
    int rc = sl_mdp_decode_frames(&frames.base, direction, out, foreign_p, reason);
    while (s_next(&reader) == 0) /* drops what the decoder did not take */
        ;
    if (rc == 0)
        return SL_MDP_RECV_OK;
    sl_mdp_msg_reset(out);
    out->capacity = 1;
    out->credit = -1;
    return rc == 1 ? SL_MDP_RECV_FOREIGN : SL_MDP_RECV_MALFORMED;
}

/* ---------------------------------------------------------------- sending */

/* One frame of bytes, copied: libzmq keeps up to 33 bytes inside the message, no malloc. */
static int s_send_bytes(void *handle, const void *data, size_t size, bool more)
{
    return zmq_send(handle, data, size, more ? ZMQ_SNDMORE : 0) < 0 ? -1 : 0;
}

/* The routing id (if any) and the header of sl_mdp_header. Only the first frame can be
   refused: libzmq takes the rest of a message once it took its first frame. */
static int s_send_header(void *handle, zframe_t *to, sl_mdp_version_t version, bool worker_side,
                         sl_mdp_command_t command)
{
    if (to && s_send_bytes(handle, zframe_data(to), zframe_size(to), true) != 0)
        return -1;
    sl_frame_view_t header[SL_MDP_HEADER_MAX_FRAMES];
    size_t count = sl_mdp_header(version, worker_side, command, header);
    for (size_t i = 0; i < count; i++)
        if (s_send_bytes(handle, header[i].data, header[i].size, true) != 0)
            return -1;
    return 0;
}

static bool s_has_frames(zmsg_t **body_p)
{
    return body_p && *body_p && zmsg_size(*body_p) > 0;
}

/* The body frames (at least one), the last one ending the message: moved out of *body_p,
   which is destroyed, or with keep sent as references (zmq_msg_copy) and left in place.
   socket as the caller gave it: czmq resolves a zsock_t without asking libzmq. */
static int s_send_body(void *socket, zmsg_t **body_p, bool keep)
{
    int rc = 0;
    if (keep) {
        size_t left = zmsg_size(*body_p);
        for (zframe_t *frame = zmsg_first(*body_p); frame; frame = zmsg_next(*body_p))
            if (zframe_send(&frame, socket, ZFRAME_REUSE | (--left ? ZFRAME_MORE : 0)) != 0)
                rc = -1;
        return rc;
    }
    zframe_t *frame;
    while ((frame = zmsg_pop(*body_p)))
        if (zframe_send(&frame, socket, zmsg_size(*body_p) ? ZFRAME_MORE : 0) != 0) {
            zframe_destroy(&frame);
            rc = -1;
        }
    zmsg_destroy(body_p);
    return rc;
}

int sl_mdp_send_worker_job(void *socket, zframe_t *to, sl_mdp_version_t version,
                           sl_mdp_command_t command, const void *address, size_t address_size,
                           zmsg_t **body_p, bool keep_body)
{
    assert(address && address_size > 0);
    assert(command == SL_MDP_REQUEST || command == SL_MDP_PARTIAL || command == SL_MDP_FINAL);
    void *handle = zsock_resolve(socket);
    bool has_body = s_has_frames(body_p);
    int rc = -1;
    if (s_send_header(handle, to, version, true, command) == 0) {
        s_send_bytes(handle, address, address_size, true);
        rc = s_send_bytes(handle, "", 0, has_body);
        if (has_body)
            return s_send_body(socket, body_p, keep_body);
    }
    if (!keep_body && body_p)
        zmsg_destroy(body_p);
    return rc;
}

int sl_mdp_send_client_reply(void *socket, zframe_t *to, sl_mdp_version_t version,
                             sl_mdp_command_t command, zframe_t *service, const char *first,
                             zmsg_t **body_p)
{
    assert(service);
    assert(command == SL_MDP_FINAL || (command == SL_MDP_PARTIAL && version == SL_MDP_V02));
    void *handle = zsock_resolve(socket);
    bool has_body = s_has_frames(body_p);
    int rc = -1;
    if (s_send_header(handle, to, version, false, command) == 0) {
        rc = s_send_bytes(handle, zframe_data(service), zframe_size(service), first || has_body);
        if (first)
            rc = s_send_bytes(handle, first, strlen(first), has_body);
        if (has_body)
            return s_send_body(socket, body_p, false);
    }
    if (body_p)
        zmsg_destroy(body_p);
    return rc;
}
