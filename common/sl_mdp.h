/*  sl_mdp: the Majordomo codec, MDP/0.1 (RFC 7) and MDP/0.2 (RFC 18), both sub-protocols.
    Pure: czmq messages in, a decoded struct out; structs out as czmq messages or frame views;
    no I/O (sl_mdp_io reads and writes sockets with it). Every malformed input returns -1
    with a reason; nothing here asserts on wire data. The ROUTER routing-id frame is not
    part of what this codec sees: the caller pops or pushes it. */
#ifndef SL_MDP_H
#define SL_MDP_H

#include <czmq.h>
#include <stdbool.h>

#include "sl_frame_view.h"

#define SL_MDPC01 "MDPC01"
#define SL_MDPC02 "MDPC02"
#define SL_MDPW01 "MDPW01"
#define SL_MDPW02 "MDPW02"

typedef enum { SL_MDP_V01 = 1, SL_MDP_V02 = 2 } sl_mdp_version_t;

/* Which way a message travels: it decides the meaning of MDP/0.1 client messages, which
   carry no command byte (to the broker: REQUEST; from it: FINAL). */
typedef enum { SL_MDP_TO_BROKER, SL_MDP_FROM_BROKER } sl_mdp_direction_t;

/* Commands, the same names for both versions. MDP/0.1 REPLY decodes as FINAL; MDP/0.1 has
   no PARTIAL, and encoding one for a 0.1 peer is a programming error. */
typedef enum {
    SL_MDP_READY = 1,
    SL_MDP_REQUEST,
    SL_MDP_PARTIAL,
    SL_MDP_FINAL,
    SL_MDP_HEARTBEAT,
    SL_MDP_DISCONNECT,
    /* slowlane extensions for workers of several brokers (protocol.md 3.7), MDP/0.2 only */
    SL_MDP_CREDIT,   /* worker -> broker: this broker's limit of jobs at the worker */
    SL_MDP_HANDBACK, /* worker -> broker: a job returned unstarted (worker full) */
    SL_MDP_DEMAND,   /* broker -> worker: the broker has work waiting (1) or not (0) */
    /* slowlane extension for cancellation (protocol.md 3.8), MDP/0.2 only */
    SL_MDP_CANCEL /* broker -> worker: the job's client cancelled it */
} sl_mdp_command_t;

typedef struct {
    sl_mdp_version_t version; /* 1 or 2 */
    bool from_worker_side;    /* MDPW* (worker sub-protocol) rather than MDPC* (client) */
    sl_mdp_command_t command; /* decoded command */
    zframe_t *service;        /* owned; client REQUEST/PARTIAL/FINAL and worker READY, else NULL */
    zframe_t *address;        /* owned; worker REQUEST/PARTIAL/FINAL client address, else NULL */
    zmsg_t *body;             /* owned; body frames (may be empty), NULL for body-less commands */
    int capacity;             /* worker READY: jobs it takes at once (protocol.md 3.6), else 1 */
    int credit;               /* READY's credit frame or CREDIT's limit (3.7); -1: none */
    bool demand;              /* DEMAND: the broker has work waiting */
    bool cancels;             /* worker READY ended with the `cancel` frame (3.8): it takes
                                 CANCEL */
} sl_mdp_msg_t;

/* Decodes *msg_p (ownership taken; *msg_p set to NULL in every case) into out.
   Returns 0, or -1 with *reason set to a static string naming what was wrong.
   Checks: protocol frame, command byte valid for the version and sub-protocol, frame
   counts, empty delimiter frames, service name 1..255 printable bytes, address 1..255
   bytes. Body frames are not inspected. */
int sl_mdp_decode(zmsg_t **msg_p, sl_mdp_direction_t direction, sl_mdp_msg_t *out,
                  const char **reason);

/* Frees what out owns and zeroes it; safe on a zeroed or already-reset struct. */
void sl_mdp_msg_reset(sl_mdp_msg_t *msg);

/* The frames that start a message, before its service name or client address, as views of
   static bytes: [empty] "MDPC01"|"MDPW01" [command] for MDP/0.1 (a client message has no
   command byte), "MDPC02"|"MDPW02" command for MDP/0.2. Returns how many (2 or 3). Every
   encoder here and every sender of sl_mdp_io is made of it. */
#define SL_MDP_HEADER_MAX_FRAMES 3
size_t sl_mdp_header(sl_mdp_version_t version, bool worker_side, sl_mdp_command_t command,
                     sl_frame_view_t header[SL_MDP_HEADER_MAX_FRAMES]);

/* Encoders. Each takes ownership of *body_p (may be NULL for no body frames) and returns a
   new message without a routing-id frame. */

/* Client -> broker REQUEST. */
zmsg_t *sl_mdp_encode_client_request(sl_mdp_version_t version, const char *service,
                                     zmsg_t **body_p);
/* The frames of a client REQUEST before its body, as views of static bytes and of service
   (borrowed): [empty] "MDPC01" service, or "MDPC02" 0x01 service. For senders that build
   no czmq message (sl_frame_view_send); sl_mdp_encode_client_request is made of them. */
#define SL_MDP_CLIENT_REQUEST_HEADER_FRAMES 3
void sl_mdp_client_request_header(sl_mdp_version_t version, const char *service,
                                  sl_frame_view_t header[SL_MDP_CLIENT_REQUEST_HEADER_FRAMES]);
/* Broker -> client PARTIAL (0.2 only) or FINAL; service is the frame to echo back. */
zmsg_t *sl_mdp_encode_client_reply(sl_mdp_version_t version, sl_mdp_command_t command,
                                   zframe_t *service, zmsg_t **body_p);
/* Worker -> broker READY. */
zmsg_t *sl_mdp_encode_ready(sl_mdp_version_t version, const char *service);
/* Worker -> broker MDP/0.2 READY declaring capacity (1..SL_MAX_WORKER_CAPACITY) jobs at
   once: the capacity frame of protocol.md section 3.6, left out when capacity is 1. */
zmsg_t *sl_mdp_encode_ready_capacity(const char *service, int capacity);
/* Worker -> broker MDP/0.2 READY of a worker of several brokers (protocol.md 3.7): the
   capacity frame as above, then `credit=N` (0..capacity), this broker's first limit. */
zmsg_t *sl_mdp_encode_ready_credit(const char *service, int capacity, int credit);
/* Adds the `cancel` frame (protocol.md 3.8) to the end of an MDP/0.2 READY made by one of
   the encoders above: the worker takes CANCEL. */
void sl_mdp_ready_add_cancel(zmsg_t *ready);
/* Broker -> worker CANCEL of the job whose address frame is address (size bytes, copied). */
zmsg_t *sl_mdp_encode_cancel(const void *address, size_t size);
/* Worker -> broker CREDIT: limit (0..SL_MAX_WORKER_CAPACITY) jobs of this broker at once. */
zmsg_t *sl_mdp_encode_credit(int limit);
/* Worker -> broker HANDBACK of the job whose address frame is address (size bytes, copied). */
zmsg_t *sl_mdp_encode_handback(const void *address, size_t size);
/* Broker -> worker DEMAND: waiting work for the worker's service (true) or none (false). */
zmsg_t *sl_mdp_encode_demand(bool waiting);
/* Broker -> worker REQUEST, worker -> broker PARTIAL/FINAL: address is copied. */
zmsg_t *sl_mdp_encode_worker_job(sl_mdp_version_t version, sl_mdp_command_t command,
                                 zframe_t *address, zmsg_t **body_p);
/* HEARTBEAT or DISCONNECT, either direction. */
zmsg_t *sl_mdp_encode_worker_signal(sl_mdp_version_t version, sl_mdp_command_t command);

/* A short name for logs: "READY", "FINAL", ... */
const char *sl_mdp_command_name(sl_mdp_command_t command);

/* When the next heartbeat is due after now_ms (zclock_mono): the next multiple of interval_ms.
   Every worker and broker on a host beats on the same grid, so a broker with a thousand
   workers wakes once per beat for all of them instead of once per worker (a wake-up, not a
   message, is what a heartbeat costs). The first interval may be shorter, never longer. */
static inline int64_t sl_mdp_heartbeat_next(int64_t now_ms, int64_t interval_ms)
{
    return now_ms - now_ms % interval_ms + interval_ms;
}

#endif
