/*  broker_agent: the broker's table of host agents (one per slowlane-worker supervisor,
    SLAGENT1 on the same ROUTER, docs/protocol.md section 7) and the cluster manager's
    broker side: membership with expiry after heartbeat x liveness of silence, the
    mmi.cluster view (JSON) and mmi.cluster.command (scale, restart, stop, start,
    broadcast), rolling restarts sequenced one agent at a time. It owns no workers and
    delivers no requests: the MDP side stays in broker.c and broker_dispatch.c. */
#ifndef BROKER_AGENT_H
#define BROKER_AGENT_H

#include <czmq.h>
#include <stdbool.h>

typedef struct _broker_agents_t broker_agents_t;

/* Creates an empty agent table. NULL on allocation failure. */
broker_agents_t *broker_agents_new(void);

/* Destroys the table and clears the pointer; safe on NULL and twice. */
void broker_agents_destroy(broker_agents_t **self_p);

#endif
