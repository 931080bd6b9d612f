/*  sl_mdp: the Majordomo codec, MDP/0.1 (RFC 7) and MDP/0.2 (RFC 18), both sub-protocols.
    Turns frames into sl_mdp_msg_t, and sl_mdp_msg_t's parts into czmq messages or frame views.
    It owns the command-byte tables, the layout of every message's header and every
    frame-level check; it does no I/O (sl_mdp_io reads and writes sockets with it) and knows
    nothing of routing-id frames, queues or heartbeat timing (the broker and worker own those). */
#include "sl_mdp.h"
#include "sl_defaults.h"
#include "sl_mdp_frames.h"

#include <assert.h>
#include <string.h>

#define S_COMMAND_COUNT (SL_MDP_CANCEL + 1)

/* Command bytes on the wire, per version and sub-protocol. 0 means "no such command". */
static const byte s_worker_v01[S_COMMAND_COUNT] = {
    [SL_MDP_READY] = 0x01, [SL_MDP_REQUEST] = 0x02,   [SL_MDP_PARTIAL] = 0x00,
    [SL_MDP_FINAL] = 0x03, [SL_MDP_HEARTBEAT] = 0x04, [SL_MDP_DISCONNECT] = 0x05,
};
static const byte s_worker_v02[S_COMMAND_COUNT] = {
    [SL_MDP_READY] = 0x01,
    [SL_MDP_REQUEST] = 0x02,
    [SL_MDP_PARTIAL] = 0x03,
    [SL_MDP_FINAL] = 0x04,
    [SL_MDP_HEARTBEAT] = 0x05,
    [SL_MDP_DISCONNECT] = 0x06,
    /* protocol.md 3.7: slowlane's own commands start at 0x10, clear of any future RFC's */
    [SL_MDP_CREDIT] = 0x10,
    [SL_MDP_HANDBACK] = 0x11,
    [SL_MDP_DEMAND] = 0x12,
    [SL_MDP_CANCEL] = 0x13, /* protocol.md 3.8 */
};
static const byte s_client_v02[S_COMMAND_COUNT] = {
    [SL_MDP_READY] = 0x00, [SL_MDP_REQUEST] = 0x01,   [SL_MDP_PARTIAL] = 0x02,
    [SL_MDP_FINAL] = 0x03, [SL_MDP_HEARTBEAT] = 0x00, [SL_MDP_DISCONNECT] = 0x00,
};

#define S_COMMAND_LAST SL_MDP_CANCEL

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
    case SL_MDP_DEMAND:
    case SL_MDP_CANCEL:
        return direction == SL_MDP_FROM_BROKER;
    case SL_MDP_CREDIT:
    case SL_MDP_HANDBACK:
        return direction == SL_MDP_TO_BROKER;
    case SL_MDP_READY:
    case SL_MDP_PARTIAL:
    case SL_MDP_FINAL:
        return direction == SL_MDP_TO_BROKER;
    }
    return false;
}

/* A frame of prefix and 1..4 decimal digits without a leading zero ("0" itself only if
   zero_ok), value at most SL_MAX_WORKER_CAPACITY: READY's `capacity=K` (3.6) and
   `credit=N`, CREDIT's limit (prefix ""). Returns 0, or -1 for anything else. */
static int s_count_parse(const void *bytes, size_t size, const char *prefix, bool zero_ok,
                         int *count)
{
    size_t prefix_size = strlen(prefix);
    const char *data = (const char *) bytes;
    if (size <= prefix_size || size > prefix_size + 4 || memcmp(data, prefix, prefix_size) != 0)
        return -1;
    if (data[prefix_size] == '0' && !(zero_ok && size == prefix_size + 1))
        return -1;
    int value = 0;
    for (size_t i = prefix_size; i < size; i++) {
        if (data[i] < '0' || data[i] > '9')
            return -1;
        value = value * 10 + (data[i] - '0');
    }
    if (value > SL_MAX_WORKER_CAPACITY)
        return -1;
    *count = value;
    return 0;
}

/* The option frames that MAY end an MDP/0.2 READY, in this order: `capacity=K` (3.6),
   `credit=N` (3.7, N <= K), `cancel` (3.8). The frame in hand is the service name. */
static int s_ready_options(sl_mdp_frames_t *frames, bool v01, sl_mdp_msg_t *out,
                           const char **reason)
{
    if (!frames->ops->more(frames))
        return 0;
    if (v01) {
        *reason = "extra frames after READY";
        return -1;
    }
    frames->ops->next(frames);
    const byte *data = frames->ops->data(frames);
    size_t size = frames->ops->size(frames);
    /* Each option, when present, is followed by the next one or by the end. */
#define S_NEXT_OPTION()                                                                            \
    do {                                                                                           \
        if (!frames->ops->more(frames))                                                            \
            return 0;                                                                              \
        frames->ops->next(frames);                                                                 \
        data = frames->ops->data(frames);                                                          \
        size = frames->ops->size(frames);                                                          \
    } while (0)
    if (size > 9 && memcmp(data, "capacity=", 9) == 0) {
        if (s_count_parse(data, size, "capacity=", false, &out->capacity) != 0) {
            *reason = "bad capacity frame in READY";
            return -1;
        }
        S_NEXT_OPTION();
    }
    if (size > 7 && memcmp(data, "credit=", 7) == 0) {
        if (s_count_parse(data, size, "credit=", true, &out->credit) != 0) {
            *reason = "bad capacity or credit frame in READY";
            return -1;
        }
        if (out->credit > out->capacity) {
            *reason = "credit above capacity in READY";
            return -1;
        }
        S_NEXT_OPTION();
    }
#undef S_NEXT_OPTION
    if (!s_bytes_are(data, size, "cancel")) {
        *reason = "bad capacity, credit or cancel frame in READY";
        return -1;
    }
    out->cancels = true;
    if (frames->ops->more(frames)) {
        *reason = "extra frames after READY";
        return -1;
    }
    return 0;
}

/* The frame whose bytes are text. */
static bool s_frame_is(sl_mdp_frames_t *frames, const char *text)
{
    return s_bytes_are(frames->ops->data(frames), frames->ops->size(frames), text);
}

/* ---------------------------------------------------------------- a czmq message's frames */

typedef struct {
    sl_mdp_frames_t base; /* first: the decoder's view */
    zmsg_t *msg;          /* the frames not yet read */
    zframe_t *frame;      /* the current frame, owned */
    bool msg_given;       /* msg became the body */
} s_message_frames_t;

static int s_message_next(sl_mdp_frames_t *frames)
{
    s_message_frames_t *self = (s_message_frames_t *) frames;
    zframe_destroy(&self->frame);
    self->frame = zmsg_pop(self->msg);
    return self->frame ? 0 : -1;
}

static const byte *s_message_data(sl_mdp_frames_t *frames)
{
    return zframe_data(((s_message_frames_t *) frames)->frame);
}

static size_t s_message_size(sl_mdp_frames_t *frames)
{
    return zframe_size(((s_message_frames_t *) frames)->frame);
}

static bool s_message_more(sl_mdp_frames_t *frames)
{
    return zmsg_size(((s_message_frames_t *) frames)->msg) > 0;
}

/* Moved out of the message, not copied. */
static zframe_t *s_message_take(sl_mdp_frames_t *frames)
{
    s_message_frames_t *self = (s_message_frames_t *) frames;
    zframe_t *frame = self->frame;
    self->frame = NULL;
    return frame;
}

/* The message itself becomes the rest. */
static zmsg_t *s_message_rest(sl_mdp_frames_t *frames, bool keep_current)
{
    s_message_frames_t *self = (s_message_frames_t *) frames;
    if (keep_current && self->frame)
        zmsg_prepend(self->msg, &self->frame);
    self->msg_given = true;
    return self->msg;
}

static const sl_mdp_frames_ops_t s_message_ops = {
    .next = s_message_next,
    .data = s_message_data,
    .size = s_message_size,
    .more = s_message_more,
    .take = s_message_take,
    .rest = s_message_rest,
};

/* ---------------------------------------------------------------- decoding */

int sl_mdp_decode_frames(sl_mdp_frames_t *frames, sl_mdp_direction_t direction, sl_mdp_msg_t *out,
                         zmsg_t **foreign_p, const char **reason)
{
    if (frames->ops->next(frames) != 0) {
        *reason = "empty message";
        return -1;
    }
    /* RFC 7: "Frame 0: Empty (zero bytes ...)" precedes "MDPC01"/"MDPW01";
       RFC 18 removed it: "Frame 0: MDPC02" / "MDPW02". */
    bool leading_empty = frames->ops->size(frames) == 0;
    if (leading_empty && frames->ops->next(frames) != 0) {
        *reason = "missing protocol frame";
        return -1;
    }
    bool v01 = s_frame_is(frames, SL_MDPC01) || s_frame_is(frames, SL_MDPW01);
    bool v02 = s_frame_is(frames, SL_MDPC02) || s_frame_is(frames, SL_MDPW02);
    if (!v01 && !v02) {
        if (foreign_p && !leading_empty) {
            *foreign_p = frames->ops->rest(frames, true);
            return 1;
        }
        *reason = "unknown protocol";
        return -1;
    }
    bool worker_side = s_frame_is(frames, SL_MDPW01) || s_frame_is(frames, SL_MDPW02);
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
        if (frames->ops->next(frames) != 0) {
            *reason = "missing command frame";
            return -1;
        }
        if (frames->ops->size(frames) != 1) {
            *reason = "command frame is not one byte";
            return -1;
        }
        const byte *table = !worker_side ? s_client_v02 : v01 ? s_worker_v01 : s_worker_v02;
        command = s_command_from_byte(table, frames->ops->data(frames)[0]);
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
        if (frames->ops->next(frames) != 0) {
            *reason = "missing service name";
            return -1;
        }
        if (!s_service_bytes_valid(frames->ops->data(frames), frames->ops->size(frames))) {
            *reason = "bad service name";
            return -1;
        }
        out->service = frames->ops->take(frames);
        if (!worker_side) {
            out->body = frames->ops->rest(frames, false); /* the body frames */
            return 0;
        }
        return s_ready_options(frames, v01, out, reason);
    }
    if (command == SL_MDP_HEARTBEAT || command == SL_MDP_DISCONNECT) {
        if (frames->ops->more(frames)) {
            *reason = "extra frames after HEARTBEAT or DISCONNECT";
            return -1;
        }
        return 0;
    }
    if (command == SL_MDP_CREDIT || command == SL_MDP_DEMAND) {
        /* protocol.md 3.7: exactly one frame, a limit or "1"/"0" */
        if (frames->ops->next(frames) != 0 || frames->ops->more(frames)) {
            *reason = command == SL_MDP_CREDIT ? "CREDIT is not one limit frame"
                                               : "DEMAND is not one frame";
            return -1;
        }
        const byte *data = frames->ops->data(frames);
        size_t size = frames->ops->size(frames);
        if (command == SL_MDP_DEMAND) {
            if (size != 1 || (data[0] != '0' && data[0] != '1')) {
                *reason = "bad DEMAND value";
                return -1;
            }
            out->demand = data[0] == '1';
            return 0;
        }
        if (s_count_parse(data, size, "", true, &out->credit) != 0) {
            *reason = "bad CREDIT limit";
            return -1;
        }
        return 0;
    }
    /* RFC 18: "The REQUEST, PARTIAL and FINAL commands SHALL contain precisely one client
       address frame (HANDBACK, 3.7, too). This frame MUST be followed by an empty (zero sized)
       frame." */
    if (frames->ops->next(frames) != 0) {
        *reason = "missing client address";
        return -1;
    }
    if (frames->ops->size(frames) < 1 || frames->ops->size(frames) > SL_MAX_ADDRESS_BYTES) {
        *reason = "bad client address size";
        return -1;
    }
    out->address = frames->ops->take(frames);
    if (frames->ops->next(frames) != 0 || frames->ops->size(frames) != 0) {
        *reason = "missing empty delimiter after address";
        return -1;
    }
    if (command == SL_MDP_HANDBACK || command == SL_MDP_CANCEL) {
        /* protocol.md 3.7, 3.8: the job is named by its address; no body travels */
        if (frames->ops->more(frames)) {
            *reason = command == SL_MDP_CANCEL ? "body frames after CANCEL"
                                               : "body frames after HANDBACK";
            return -1;
        }
        return 0;
    }
    out->body = frames->ops->rest(frames, false);
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
    out->credit = -1;
    s_message_frames_t frames = {.base = {&s_message_ops}, .msg = msg};
    int rc = sl_mdp_decode_frames(&frames.base, direction, out, NULL, reason);
    zframe_destroy(&frames.frame);
    if (!frames.msg_given)
        zmsg_destroy(&frames.msg);
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

/* ---------------------------------------------------------------- encoding */

size_t sl_mdp_header(sl_mdp_version_t version, bool worker_side, sl_mdp_command_t command,
                     sl_frame_view_t header[SL_MDP_HEADER_MAX_FRAMES])
{
    assert(version == SL_MDP_V01 || version == SL_MDP_V02);
    assert(command >= SL_MDP_READY && command <= S_COMMAND_LAST);
    size_t count = 0;
    if (version == SL_MDP_V01)
        header[count++] = (sl_frame_view_t){"", 0};
    const char *protocol = version == SL_MDP_V01 ? (worker_side ? SL_MDPW01 : SL_MDPC01)
                                                 : (worker_side ? SL_MDPW02 : SL_MDPC02);
    header[count++] = (sl_frame_view_t){protocol, 6};
    if (!worker_side && version == SL_MDP_V01)
        return count; /* RFC 7 client messages carry no command */
    const byte *table = !worker_side            ? s_client_v02
                        : version == SL_MDP_V01 ? s_worker_v01
                                                : s_worker_v02;
    assert(table[command] != 0); /* e.g. PARTIAL for an MDP/0.1 peer: a programming error */
    header[count++] = (sl_frame_view_t){&table[command], 1};
    return count;
}

/* A new message holding a header of sl_mdp_header. */
static zmsg_t *s_header(sl_mdp_version_t version, bool worker_side, sl_mdp_command_t command)
{
    sl_frame_view_t header[SL_MDP_HEADER_MAX_FRAMES];
    size_t count = sl_mdp_header(version, worker_side, command, header);
    zmsg_t *msg = zmsg_new();
    for (size_t i = 0; i < count; i++)
        zmsg_addmem(msg, header[i].data, header[i].size);
    return msg;
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

void sl_mdp_client_request_header(sl_mdp_version_t version, const char *service,
                                  sl_frame_view_t header[SL_MDP_CLIENT_REQUEST_HEADER_FRAMES])
{
    assert(service);
    size_t count = sl_mdp_header(version, false, SL_MDP_REQUEST, header);
    assert(count == SL_MDP_CLIENT_REQUEST_HEADER_FRAMES - 1);
    header[count] = (sl_frame_view_t){service, strlen(service)};
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
    zmsg_t *msg = s_header(version, false, command);
    zmsg_addmem(msg, zframe_data(service), zframe_size(service));
    s_append_body(msg, body_p);
    return msg;
}

zmsg_t *sl_mdp_encode_ready(sl_mdp_version_t version, const char *service)
{
    assert(service);
    zmsg_t *msg = s_header(version, true, SL_MDP_READY);
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

zmsg_t *sl_mdp_encode_ready_credit(const char *service, int capacity, int credit)
{
    assert(credit >= 0 && credit <= capacity);
    zmsg_t *msg = sl_mdp_encode_ready_capacity(service, capacity);
    zmsg_addstrf(msg, "credit=%d", credit);
    return msg;
}

zmsg_t *sl_mdp_encode_credit(int limit)
{
    assert(limit >= 0 && limit <= SL_MAX_WORKER_CAPACITY);
    zmsg_t *msg = s_header(SL_MDP_V02, true, SL_MDP_CREDIT);
    zmsg_addstrf(msg, "%d", limit);
    return msg;
}

zmsg_t *sl_mdp_encode_handback(const void *address, size_t size)
{
    assert(address && size >= 1);
    zmsg_t *msg = s_header(SL_MDP_V02, true, SL_MDP_HANDBACK);
    zmsg_addmem(msg, address, size);
    zmsg_addmem(msg, "", 0);
    return msg;
}

void sl_mdp_ready_add_cancel(zmsg_t *ready)
{
    assert(ready);
    zmsg_addstr(ready, "cancel");
}

zmsg_t *sl_mdp_encode_cancel(const void *address, size_t size)
{
    assert(address && size >= 1);
    zmsg_t *msg = s_header(SL_MDP_V02, true, SL_MDP_CANCEL);
    zmsg_addmem(msg, address, size);
    zmsg_addmem(msg, "", 0);
    return msg;
}

zmsg_t *sl_mdp_encode_demand(bool waiting)
{
    zmsg_t *msg = s_header(SL_MDP_V02, true, SL_MDP_DEMAND);
    zmsg_addstr(msg, waiting ? "1" : "0");
    return msg;
}

zmsg_t *sl_mdp_encode_worker_job(sl_mdp_version_t version, sl_mdp_command_t command,
                                 zframe_t *address, zmsg_t **body_p)
{
    assert(address);
    assert(command == SL_MDP_REQUEST || command == SL_MDP_PARTIAL || command == SL_MDP_FINAL);
    zmsg_t *msg = s_header(version, true, command);
    zmsg_addmem(msg, zframe_data(address), zframe_size(address));
    zmsg_addmem(msg, "", 0);
    s_append_body(msg, body_p);
    return msg;
}

zmsg_t *sl_mdp_encode_worker_signal(sl_mdp_version_t version, sl_mdp_command_t command)
{
    assert(command == SL_MDP_HEARTBEAT || command == SL_MDP_DISCONNECT);
    return s_header(version, true, command);
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
    case SL_MDP_CREDIT:
        return "CREDIT";
    case SL_MDP_HANDBACK:
        return "HANDBACK";
    case SL_MDP_DEMAND:
        return "DEMAND";
    case SL_MDP_CANCEL:
        return "CANCEL";
    }
    return "UNKNOWN";
}
