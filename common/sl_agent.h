/*  sl_agent: the SLAGENT1 wire format, slowlane's extension sub-protocol on the broker's
    ROUTER by which each worker supervisor reports its host (STATUS, ALIVE, BYE) and receives
    commands (COMMAND: scale, restart, stop, start, broadcast, status). docs/protocol.md section 7
    specifies it. Pure: frames and JSON in, checked structs out, -1 on malformed input;
    no I/O, no policy (the broker's is broker_agent.c, the supervisor's supervisor_agent.c). */
#ifndef SL_AGENT_H
#define SL_AGENT_H

#include <czmq.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define SL_AGENT_PROTOCOL "SLAGENT1"

typedef enum {
    SL_AGENT_STATUS = 1, /* agent -> broker: the whole state of one supervisor (JSON object) */
    SL_AGENT_BYE,        /* agent -> broker: the supervisor is exiting; forget it now */
    SL_AGENT_COMMAND,    /* broker -> agent: one command (JSON object with "op") */
    SL_AGENT_ALIVE       /* agent -> broker: still here, nothing to report since the last STATUS */
} sl_agent_command_t;

typedef enum {
    SL_AGENT_OP_SCALE = 1, /* {"op":"scale","count":N} */
    SL_AGENT_OP_RESTART,   /* {"op":"restart","roll":"ID"}: rolling, one worker at a time */
    SL_AGENT_OP_STOP,      /* {"op":"stop"}: drain every worker, start none */
    SL_AGENT_OP_START,     /* {"op":"start"}: undo stop */
    SL_AGENT_OP_BROADCAST, /* {"op":"broadcast","id":"ID","message":"..."} */
    SL_AGENT_OP_STATUS,    /* {"op":"status"}: send a whole STATUS now (the broker lost ours) */
    SL_AGENT_OP_LOAD       /* {"op":"load","broker":"ID","queued":N,"oldest_wait_ms":W}: a
                              broker's queue of the service, relayed in STATUS loads */
} sl_agent_op_t;

/* One decoded agent message. */
typedef struct {
    sl_agent_command_t command; /* what it is */
    json_t *body;               /* owned: the JSON object (STATUS, COMMAND), NULL otherwise */
} sl_agent_msg_t;

/* True if msg (routing id already popped) starts with the SLAGENT1 frame. */
bool sl_agent_is_agent(zmsg_t *msg);

/* Decodes frames (protocol, command, [JSON]) given as (data, size) pairs: the shape both a
   czmq and a raw libzmq peer can call. Returns 0, or -1 with *reason (static) set. */
int sl_agent_decode_frames(const void *const *data, const size_t *size, size_t count,
                           sl_agent_msg_t *out, const char **reason);

/* Decodes *msg_p (ownership taken, cleared). Returns 0, or -1 with *reason set. */
int sl_agent_decode(zmsg_t **msg_p, sl_agent_msg_t *out, const char **reason);

/* Frees what msg owns; safe twice. */
void sl_agent_msg_reset(sl_agent_msg_t *msg);

/* Encodes a message (no routing id); body is NULL for BYE and ALIVE. NULL out of memory. */
zmsg_t *sl_agent_encode(sl_agent_command_t command, const json_t *body);

/* The wire name of a command ("STATUS", ...); static. */
const char *sl_agent_command_name(sl_agent_command_t command);

/* Checks a command object: a known "op" and its fields in range (count 0..
   SL_MAX_WORKER_SLOTS, broadcast id 1..SL_BROADCAST_ID_MAX printable bytes, message a
   string of at most SL_BROADCAST_MAX_BYTES). Returns the op, or -1 with *reason set. */
int sl_agent_op_check(const json_t *command, const char **reason);

/* Splits count workers over agents as evenly as possible: share[i] for agent i (in the
   caller's order, which should be stable), the first count % agents getting one more. */
void sl_agent_spread(int64_t count, size_t agents, int64_t *share);

#endif
