/*  supervisor_agent: the supervisor as its host's agent at every broker (SLAGENT1,
    docs/protocol.md section 7). Decodes the brokers' COMMANDs into supervisor_command_t for
    the loop to apply, and sends STATUS of a read-only supervisor_snapshot_t to each broker.
    It owns its sockets (one per broker) and the pacing of reports; it reaches into no slot
    and decides no policy. */
#ifndef SUPERVISOR_AGENT_H
#define SUPERVISOR_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sl_agent.h"
#include "supervisor.h"
#include "supervisor_snapshot.h"

typedef struct _supervisor_agent_t supervisor_agent_t;

/* One command from the broker, checked. Strings are borrowed until the next
   supervisor_agent_receive or supervisor_agent_destroy. */
typedef struct {
    sl_agent_op_t op;    /* what to do; SL_AGENT_OP_STATUS: nothing but report */
    int count;           /* SCALE: workers wanted */
    const char *roll;    /* RESTART: the roll's id, NULL if none */
    const char *id;      /* BROADCAST: its id */
    const char *message; /* BROADCAST: the message */
    size_t size;         /* BROADCAST: bytes of message */
} supervisor_command_t;

/* What the agent has to send this turn. */
typedef enum {
    SUPERVISOR_AGENT_QUIET,  /* nothing yet */
    SUPERVISOR_AGENT_ALIVE,  /* a one-frame ALIVE */
    SUPERVISOR_AGENT_STATUS, /* a whole STATUS: take a snapshot */
} supervisor_agent_due_t;

/* Connects the agent to every one of config->brokers (a DEALER of its own to each; plain
   libzmq, no czmq, so forked children inherit no czmq state). NULL if it can reach none:
   the supervisor runs on without one, unmanaged. */
supervisor_agent_t *supervisor_agent_new(const supervisor_config_t *config);

/* Sends BYE to every broker and closes; safe on NULL and twice. */
void supervisor_agent_destroy(supervisor_agent_t **self_p);

/* Closes the agent's ZeroMQ context before a fork: a child forked while libzmq's threads run
   can inherit its state mid-operation and hang. supervisor_agent_receive reopens it. */
void supervisor_agent_suspend(supervisor_agent_t *self);

/* The descriptors to poll for input (ZMQ_FD of each broker's socket) into fds, at most size
   of them (SL_MAX_BROKERS is room for all); returns how many. */
int supervisor_agent_fds(supervisor_agent_t *self, int *fds, int size);

/* Takes the next command waiting from any broker. Returns 1 with *command set, 0 when none
   is left, -1 if the agent is closed and could not reopen (try again in a second).
   Malformed messages and broadcasts already delivered (through any broker) are dropped
   here, logged; a broker's status request is answered here, with a STATUS to it. */
int supervisor_agent_receive(supervisor_agent_t *self, supervisor_command_t *command);

/* What is due now at any broker: STATUS on news (changed: slots, targets or rolls;
   activity: jobs) at most every SL_AGENT_STATUS_MIN_MS, as the first message on a
   connection, and every SL_AGENT_FULL_STATUS_EVERY heartbeats; else ALIVE once a heartbeat.
   SUPERVISOR_AGENT_STATUS if any broker needs a STATUS. */
supervisor_agent_due_t supervisor_agent_due(supervisor_agent_t *self, bool changed, bool activity);

/* Sends each broker what is due to it: STATUS of snapshot (NULL unless
   supervisor_agent_due said SUPERVISOR_AGENT_STATUS), or ALIVE. */
void supervisor_agent_send(supervisor_agent_t *self, const supervisor_snapshot_t *snapshot);

/* Milliseconds until the agent wants to run again (0: input is waiting); changed: news not
   reported yet. */
int64_t supervisor_agent_wait_ms(supervisor_agent_t *self, bool changed);

#endif
