/*  broker_router: the broker's one ROUTER socket and its send, at the bottom of the broker.
    Creates the socket with the options the broker relies on (routing-id handover, no
    mandatory routing, message size cap, CURVE before any bind), binds it and sends whole
    messages to a peer. It decides nothing: receiving and what to answer are its callers'. */
#ifndef BROKER_ROUTER_H
#define BROKER_ROUTER_H

#include <czmq.h>
#include "sl_mdp.h"

typedef struct _broker_router_t broker_router_t;

/* Creates the ROUTER (not yet bound); curve_cert (borrowed, may be NULL) makes it a CURVE
   server on every endpoint it binds. NULL on failure. */
broker_router_t *broker_router_new(zcert_t *curve_cert);

/* Destroys the socket and clears the pointer; safe on NULL. */
void broker_router_destroy(broker_router_t **self_p);

/* Binds to endpoint. Returns 0, or -1 with zmq_errno() set. */
int broker_router_bind(broker_router_t *self, const char *endpoint);

/* The socket itself (borrowed), for the receive loop's poll and sl_mdp_recv, and for the
   hot path's sl_mdp_send_* calls, which encode straight onto it. */
zsock_t *broker_router_socket(broker_router_t *self);

/* Sends msg (ownership taken, *msg_p cleared) to the peer with routing id to (borrowed).
   A peer that has gone is silently skipped: ROUTER_MANDATORY is off. */
void broker_router_send(broker_router_t *self, zframe_t *to, zmsg_t **msg_p);

/* Sends a one-command worker message (HEARTBEAT, DISCONNECT) to the worker at to. */
void broker_router_send_signal(broker_router_t *self, zframe_t *to, sl_mdp_version_t version,
                               sl_mdp_command_t command);

/* Gives messages still queued ms to leave when the socket closes (shutdown's answers). */
void broker_router_set_linger(broker_router_t *self, int ms);

#endif
