/*  sl_mdp: the Majordomo codec, MDP/0.1 (RFC 7) and MDP/0.2 (RFC 18), both sub-protocols.
    Turns czmq messages into sl_mdp_msg_t and back. It owns the command-byte tables and
    every frame-level check; it does no I/O and knows nothing of routing-id frames, queues
    or heartbeat timing (the broker and worker own those). */
#include "sl_mdp.h"
#include "sl_defaults.h"

#include <assert.h>
#include <string.h>

/* Command bytes on the wire, per version and sub-protocol. 0 means "no such command". */
static const byte s_worker_v01[] = {
    [SL_MDP_READY] = 0x01, [SL_MDP_REQUEST] = 0x02,   [SL_MDP_PARTIAL] = 0x00,
    [SL_MDP_FINAL] = 0x03, [SL_MDP_HEARTBEAT] = 0x04, [SL_MDP_DISCONNECT] = 0x05,
};
static const byte s_worker_v02[] = {
    [SL_MDP_READY] = 0x01, [SL_MDP_REQUEST] = 0x02,   [SL_MDP_PARTIAL] = 0x03,
    [SL_MDP_FINAL] = 0x04, [SL_MDP_HEARTBEAT] = 0x05, [SL_MDP_DISCONNECT] = 0x06,
};
static const byte s_client_v02[] = {
    [SL_MDP_READY] = 0x00, [SL_MDP_REQUEST] = 0x01,   [SL_MDP_PARTIAL] = 0x02,
    [SL_MDP_FINAL] = 0x03, [SL_MDP_HEARTBEAT] = 0x00, [SL_MDP_DISCONNECT] = 0x00,
};

#define S_COMMAND_LAST SL_MDP_DISCONNECT

static bool s_bytes_are(const void *data, size_t size, const char *text)
{
    return size == strlen(text) && memcmp(data, text, size) == 0;
}

/* Maps a wire byte back to a command through one of the tables above; 0 if unknown. */
static int s_command_from_byte(const byte *table, byte value)
{
    if (value == 0)
        return 0;
    for (int command = SL_MDP_READY; command <= S_COMMAND_LAST; command++)
        if (table[command] == value)
            return command;
    return 0;
}

/* RFC 7/18 say "printable string"; we also refuse space so names are log-safe tokens. */
static bool s_service_bytes_valid(const byte *data, size_t size)
{
    if (size < 1 || size > SL_MAX_SERVICE_NAME)
        return false;
    for (size_t index = 0; index < size; index++)
        if (data[index] < 0x21 || data[index] > 0x7e)
            return false;
    return true;
}

/* Is command something the sender may send in this direction? */
static bool s_command_allowed(bool worker_side, sl_mdp_direction_t direction,
                              sl_mdp_command_t command)
{
    if (!worker_side)
        return direction == SL_MDP_TO_BROKER
                   ? command == SL_MDP_REQUEST
                   : (command == SL_MDP_PARTIAL || command == SL_MDP_FINAL);
    switch (command) {
    case SL_MDP_HEARTBEAT:
    case SL_MDP_DISCONNECT:
        return true;
    case SL_MDP_REQUEST:
        return direction == SL_MDP_FROM_BROKER;
    case SL_MDP_READY:
    case SL_MDP_PARTIAL:
    case SL_MDP_FINAL:
        return direction == SL_MDP_TO_BROKER;
    }
    return false;
}

/* The READY capacity frame: `capacity=` and 1..4 decimal digits, no leading zero, value
   1..SL_MAX_WORKER_CAPACITY. Returns 0, or -1 for anything else. */
static int s_capacity_parse(const void *bytes, size_t size, int *capacity)
{
    static const char prefix[] = "capacity=";
    size_t prefix_size = sizeof prefix - 1;
    const char *data = (const char *) bytes;
    if (size <= prefix_size || size > prefix_size + 4 || memcmp(data, prefix, prefix_size) != 0 ||
        data[prefix_size] == '0')
        return -1;
    int value = 0;
    for (size_t i = prefix_size; i < size; i++) {
        if (data[i] < '0' || data[i] > '9')
            return -1;
        value = value * 10 + (data[i] - '0');
    }
    if (value > SL_MAX_WORKER_CAPACITY)
        return -1;
    *capacity = value;
    return 0;
}

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

/* The frames of one message as the decoder reads them: taken from a czmq message
   (sl_mdp_decode) or straight off a socket (sl_mdp_recv), so one decoder serves both. */
typedef struct {
    zmsg_t *msg;        /* message mode: the frames not yet read */
    zframe_t *frame;    /* message mode: the current frame, owned */
    bool msg_given;     /* message mode: msg became the body */
    s_reader_t *reader; /* socket mode (msg is NULL) */
} s_frames_t;

/* The next frame becomes current; -1 if there is none. */
static int s_frames_next(s_frames_t *frames)
{
    if (frames->reader)
        return s_next(frames->reader);
    zframe_destroy(&frames->frame);
    frames->frame = zmsg_pop(frames->msg);
    return frames->frame ? 0 : -1;
}

static const byte *s_frames_data(s_frames_t *frames)
{
    return frames->reader ? s_data(frames->reader) : zframe_data(frames->frame);
}

static size_t s_frames_size(s_frames_t *frames)
{
    return frames->reader ? s_size(frames->reader) : zframe_size(frames->frame);
}

static bool s_frames_is(s_frames_t *frames, const char *text)
{
    return s_bytes_are(s_frames_data(frames), s_frames_size(frames), text);
}

/* Frames follow the current one. */
static bool s_frames_more(s_frames_t *frames)
{
    return frames->reader ? frames->reader->more : zmsg_size(frames->msg) > 0;
}

/* The current frame, for the caller to keep: moved from a message, copied off a socket
   (routing ids, names and addresses are short). */
static zframe_t *s_frames_take(s_frames_t *frames)
{
    if (frames->reader)
        return zframe_new(s_data(frames->reader), s_size(frames->reader));
    zframe_t *frame = frames->frame;
    frames->frame = NULL;
    return frame;
}

/* The frames left as a message, the current one first when keep_current. Off a socket
   they are received as czmq frames (never copied); from a message, it is the message. */
static zmsg_t *s_frames_rest(s_frames_t *frames, bool keep_current)
{
    if (!frames->reader) {
        if (keep_current && frames->frame)
            zmsg_prepend(frames->msg, &frames->frame);
        frames->msg_given = true;
        return frames->msg;
    }
    s_reader_t *reader = frames->reader;
    zmsg_t *rest = zmsg_new();
    if (keep_current && reader->open) {
        zframe_t *frame = s_frames_take(frames);
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

/* Drops whatever was not taken: the rest of a socket's message, or of the czmq one. */
static void s_frames_close(s_frames_t *frames)
{
    if (frames->reader) {
        while (s_next(frames->reader) == 0)
            ;
        return;
    }
    zframe_destroy(&frames->frame);
    if (!frames->msg_given)
        zmsg_destroy(&frames->msg);
}

/* Decodes one message from frames into out. Returns 0, -1 if malformed (reason set), or 1
   when the first frame names no MDP protocol and foreign_p wants such messages whole. */
static int s_decode(s_frames_t *frames, sl_mdp_direction_t direction, sl_mdp_msg_t *out,
                    zmsg_t **foreign_p, const char **reason)
{
    if (s_frames_next(frames) != 0) {
        *reason = "empty message";
        return -1;
    }
    /* RFC 7: "Frame 0: Empty (zero bytes ...)" precedes "MDPC01"/"MDPW01";
       RFC 18 removed it: "Frame 0: MDPC02" / "MDPW02". */
    bool leading_empty = s_frames_size(frames) == 0;
    if (leading_empty && s_frames_next(frames) != 0) {
        *reason = "missing protocol frame";
        return -1;
    }
    bool v01 = s_frames_is(frames, SL_MDPC01) || s_frames_is(frames, SL_MDPW01);
    bool v02 = s_frames_is(frames, SL_MDPC02) || s_frames_is(frames, SL_MDPW02);
    if (!v01 && !v02) {
        if (foreign_p && !leading_empty) {
            *foreign_p = s_frames_rest(frames, true);
            return 1;
        }
        *reason = "unknown protocol";
        return -1;
    }
    bool worker_side = s_frames_is(frames, SL_MDPW01) || s_frames_is(frames, SL_MDPW02);
    if (leading_empty != v01) {
        *reason =
            leading_empty ? "empty frame before MDP/0.2 header" : "MDP/0.1 without empty frame";
        return -1;
    }
    out->version = v01 ? SL_MDP_V01 : SL_MDP_V02;
    out->from_worker_side = worker_side;

    int command;
    if (!worker_side && v01)
        /* RFC 7 client messages carry no command: the direction says what they are. */
        command = direction == SL_MDP_TO_BROKER ? SL_MDP_REQUEST : SL_MDP_FINAL;
    else {
        if (s_frames_next(frames) != 0) {
            *reason = "missing command frame";
            return -1;
        }
        if (s_frames_size(frames) != 1) {
            *reason = "command frame is not one byte";
            return -1;
        }
        const byte *table = !worker_side ? s_client_v02 : v01 ? s_worker_v01 : s_worker_v02;
        command = s_command_from_byte(table, s_frames_data(frames)[0]);
        if (command == 0) {
            *reason = "unknown command";
            return -1;
        }
        if (!s_command_allowed(worker_side, direction, command)) {
            *reason = "command not valid in this direction";
            return -1;
        }
    }
    out->command = command;

    /* A client message, and RFC 7/18's READY: the service name follows. */
    if (!worker_side || command == SL_MDP_READY) {
        if (s_frames_next(frames) != 0) {
            *reason = "missing service name";
            return -1;
        }
        if (!s_service_bytes_valid(s_frames_data(frames), s_frames_size(frames))) {
            *reason = "bad service name";
            return -1;
        }
        out->service = s_frames_take(frames);
        if (!worker_side) {
            out->body = s_frames_rest(frames, false); /* the body frames */
            return 0;
        }
        if (!s_frames_more(frames))
            return 0;
        /* protocol.md 3.6: an MDP/0.2 READY MAY end with one `capacity=K` frame. */
        s_frames_next(frames);
        if (s_frames_more(frames) || v01) {
            *reason = "extra frames after READY";
            return -1;
        }
        if (s_capacity_parse(s_frames_data(frames), s_frames_size(frames), &out->capacity) != 0) {
            *reason = "bad capacity frame in READY";
            return -1;
        }
        return 0;
    }
    if (command == SL_MDP_HEARTBEAT || command == SL_MDP_DISCONNECT) {
        if (s_frames_more(frames)) {
            *reason = "extra frames after HEARTBEAT or DISCONNECT";
            return -1;
        }
        return 0;
    }
    /* RFC 18: "The REQUEST, PARTIAL and FINAL commands SHALL contain precisely one client
       address frame. This frame MUST be followed by an empty (zero sized) frame." */
    if (s_frames_next(frames) != 0) {
        *reason = "missing client address";
        return -1;
    }
    if (s_frames_size(frames) < 1 || s_frames_size(frames) > SL_MAX_ADDRESS_BYTES) {
        *reason = "bad client address size";
        return -1;
    }
    out->address = s_frames_take(frames);
    if (s_frames_next(frames) != 0 || s_frames_size(frames) != 0) {
        *reason = "missing empty delimiter after address";
        return -1;
    }
    out->body = s_frames_rest(frames, false);
    return 0;
}

int sl_mdp_decode(zmsg_t **msg_p, sl_mdp_direction_t direction, sl_mdp_msg_t *out,
                  const char **reason)
{
    assert(msg_p && out);
    const char *scratch = NULL;
    if (!reason)
        reason = &scratch;
    memset(out, 0, sizeof *out);
    *reason = NULL;
    zmsg_t *msg = *msg_p;
    *msg_p = NULL;
    if (!msg) {
        *reason = "empty message";
        return -1;
    }
    out->capacity = 1;
    s_frames_t frames = {.msg = msg};
    int rc = s_decode(&frames, direction, out, NULL, reason);
    s_frames_close(&frames);
    if (rc != 0)
        sl_mdp_msg_reset(out);
    return rc;
}

void sl_mdp_msg_reset(sl_mdp_msg_t *msg)
{
    if (!msg)
        return;
    zframe_destroy(&msg->service);
    zframe_destroy(&msg->address);
    zmsg_destroy(&msg->body);
    memset(msg, 0, sizeof *msg);
}

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
    s_frames_t frames = {.reader = &reader};
    int rc = s_decode(&frames, direction, out, foreign_p, reason);
    s_frames_close(&frames);
    if (rc == 0)
        return SL_MDP_RECV_OK;
    sl_mdp_msg_reset(out);
    out->capacity = 1;
    return rc == 1 ? SL_MDP_RECV_FOREIGN : SL_MDP_RECV_MALFORMED;
}

/* Appends the frames of *body_p to msg and destroys the emptied body. */
static void s_append_body(zmsg_t *msg, zmsg_t **body_p)
{
    if (!body_p || !*body_p)
        return;
    zframe_t *frame;
    while ((frame = zmsg_pop(*body_p)))
        zmsg_append(msg, &frame);
    zmsg_destroy(body_p);
}

/* A new message holding the protocol header: [empty] "MDPx0n". */
static zmsg_t *s_header(sl_mdp_version_t version, bool worker_side)
{
    assert(version == SL_MDP_V01 || version == SL_MDP_V02);
    zmsg_t *msg = zmsg_new();
    if (version == SL_MDP_V01) {
        zmsg_addmem(msg, "", 0);
        zmsg_addstr(msg, worker_side ? SL_MDPW01 : SL_MDPC01);
    } else
        zmsg_addstr(msg, worker_side ? SL_MDPW02 : SL_MDPC02);
    return msg;
}

static void s_add_command(zmsg_t *msg, const byte *table, sl_mdp_command_t command)
{
    assert(command >= SL_MDP_READY && command <= S_COMMAND_LAST);
    byte value = table[command];
    assert(value != 0); /* e.g. PARTIAL for an MDP/0.1 peer: a programming error */
    zmsg_addmem(msg, &value, 1);
}

void sl_mdp_client_request_header(sl_mdp_version_t version, const char *service,
                                  sl_frame_view_t header[SL_MDP_CLIENT_REQUEST_HEADER_FRAMES])
{
    assert(version == SL_MDP_V01 || version == SL_MDP_V02);
    assert(service);
    if (version == SL_MDP_V01) {
        header[0] = (sl_frame_view_t){"", 0};
        header[1] = (sl_frame_view_t){SL_MDPC01, 6};
    } else {
        header[0] = (sl_frame_view_t){SL_MDPC02, 6};
        header[1] = (sl_frame_view_t){&s_client_v02[SL_MDP_REQUEST], 1};
    }
    header[2] = (sl_frame_view_t){service, strlen(service)};
}

zmsg_t *sl_mdp_encode_client_request(sl_mdp_version_t version, const char *service, zmsg_t **body_p)
{
    sl_frame_view_t header[SL_MDP_CLIENT_REQUEST_HEADER_FRAMES];
    sl_mdp_client_request_header(version, service, header);
    zmsg_t *msg = zmsg_new();
    for (size_t i = 0; i < SL_MDP_CLIENT_REQUEST_HEADER_FRAMES; i++)
        zmsg_addmem(msg, header[i].data, header[i].size);
    s_append_body(msg, body_p);
    return msg;
}

zmsg_t *sl_mdp_encode_client_reply(sl_mdp_version_t version, sl_mdp_command_t command,
                                   zframe_t *service, zmsg_t **body_p)
{
    assert(service);
    assert(command == SL_MDP_FINAL || (command == SL_MDP_PARTIAL && version == SL_MDP_V02));
    zmsg_t *msg = s_header(version, false);
    if (version == SL_MDP_V02)
        s_add_command(msg, s_client_v02, command);
    zmsg_addmem(msg, zframe_data(service), zframe_size(service));
    s_append_body(msg, body_p);
    return msg;
}

zmsg_t *sl_mdp_encode_ready(sl_mdp_version_t version, const char *service)
{
    assert(service);
    zmsg_t *msg = s_header(version, true);
    s_add_command(msg, version == SL_MDP_V01 ? s_worker_v01 : s_worker_v02, SL_MDP_READY);
    zmsg_addstr(msg, service);
    return msg;
}

zmsg_t *sl_mdp_encode_ready_capacity(const char *service, int capacity)
{
    assert(capacity >= 1 && capacity <= SL_MAX_WORKER_CAPACITY);
    zmsg_t *msg = sl_mdp_encode_ready(SL_MDP_V02, service);
    if (capacity > 1)
        zmsg_addstrf(msg, "capacity=%d", capacity);
    return msg;
}

zmsg_t *sl_mdp_encode_worker_job(sl_mdp_version_t version, sl_mdp_command_t command,
                                 zframe_t *address, zmsg_t **body_p)
{
    assert(address);
    assert(command == SL_MDP_REQUEST || command == SL_MDP_PARTIAL || command == SL_MDP_FINAL);
    zmsg_t *msg = s_header(version, true);
    s_add_command(msg, version == SL_MDP_V01 ? s_worker_v01 : s_worker_v02, command);
    zmsg_addmem(msg, zframe_data(address), zframe_size(address));
    zmsg_addmem(msg, "", 0);
    s_append_body(msg, body_p);
    return msg;
}

zmsg_t *sl_mdp_encode_worker_signal(sl_mdp_version_t version, sl_mdp_command_t command)
{
    assert(command == SL_MDP_HEARTBEAT || command == SL_MDP_DISCONNECT);
    zmsg_t *msg = s_header(version, true);
    s_add_command(msg, version == SL_MDP_V01 ? s_worker_v01 : s_worker_v02, command);
    return msg;
}

/* One frame of bytes, copied: libzmq keeps up to 33 bytes inside the message, no malloc. */
static int s_send_bytes(void *handle, const void *data, size_t size, bool more)
{
    return zmq_send(handle, data, size, more ? ZMQ_SNDMORE : 0) < 0 ? -1 : 0;
}

/* The routing id (if any), the protocol header and the command byte from table (NULL: none,
   as in MDP/0.1 client messages). Only the first frame can be refused: libzmq takes the rest
   of a message once it took its first frame. */
static int s_send_header(void *handle, zframe_t *to, sl_mdp_version_t version, bool worker_side,
                         const byte *table, sl_mdp_command_t command)
{
    assert(version == SL_MDP_V01 || version == SL_MDP_V02);
    assert(command >= SL_MDP_READY && command <= S_COMMAND_LAST);
    if (to && s_send_bytes(handle, zframe_data(to), zframe_size(to), true) != 0)
        return -1;
    if (version == SL_MDP_V01 && s_send_bytes(handle, "", 0, true) != 0)
        return -1;
    const char *protocol = version == SL_MDP_V01 ? (worker_side ? SL_MDPW01 : SL_MDPC01)
                                                 : (worker_side ? SL_MDPW02 : SL_MDPC02);
    if (s_send_bytes(handle, protocol, 6, true) != 0)
        return -1;
    if (!table)
        return 0;
    byte value = table[command];
    assert(value != 0); /* e.g. PARTIAL for an MDP/0.1 peer: a programming error */
    return s_send_bytes(handle, &value, 1, true);
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
    const byte *table = version == SL_MDP_V01 ? s_worker_v01 : s_worker_v02;
    bool has_body = s_has_frames(body_p);
    int rc = -1;
    if (s_send_header(handle, to, version, true, table, command) == 0) {
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
    const byte *table = version == SL_MDP_V02 ? s_client_v02 : NULL; /* 0.1: no command */
    bool has_body = s_has_frames(body_p);
    int rc = -1;
    if (s_send_header(handle, to, version, false, table, command) == 0) {
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

const char *sl_mdp_command_name(sl_mdp_command_t command)
{
    switch (command) {
    case SL_MDP_READY:
        return "READY";
    case SL_MDP_REQUEST:
        return "REQUEST";
    case SL_MDP_PARTIAL:
        return "PARTIAL";
    case SL_MDP_FINAL:
        return "FINAL";
    case SL_MDP_HEARTBEAT:
        return "HEARTBEAT";
    case SL_MDP_DISCONNECT:
        return "DISCONNECT";
    }
    return "UNKNOWN";
}
