/*  broker_agent: the broker's table of host agents (one per slowlane-worker supervisor,
    SLAGENT1 on the same ROUTER, docs/protocol.md section 7): membership with expiry after
    heartbeat x liveness of silence, COMMANDs to agents, rolling restarts sequenced one
    agent at a time. broker_agent_command.c runs mmi.cluster.command on it and
    broker_cluster_view.c reads it for mmi.cluster; it owns no workers and delivers no
    requests (broker_registry, broker_dispatch). */
#ifndef BROKER_AGENT_H
#define BROKER_AGENT_H

#include <czmq.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include "broker_router.h"
#include "sl_agent.h"
#include "sl_defaults.h"

#define BROKER_AGENT_HOST_MAX 64
#define BROKER_AGENT_KEY_MAX  (BROKER_AGENT_HOST_MAX + 24)

/* One agent as the table knows it. A plain record its readers (the view, the commands)
   read directly; only broker_agent.c writes it. */
typedef struct {
    char *key;                             /* owned: "host/pid", the table key */
    char host[BROKER_AGENT_HOST_MAX + 1];  /* the host it reports */
    char service[SL_MAX_SERVICE_NAME + 1]; /* the service its workers serve */
    int64_t pid;                           /* the supervisor's pid */
    zframe_t *routing;                     /* owned: current ROUTER routing id */
    json_t *status;                        /* owned: the last STATUS body */
    int64_t expiry;                        /* zclock_mono() when it is forgotten if silent */
    int64_t heard;                         /* zclock_mono() of its last message */
    int64_t status_at;                     /* zclock_mono() of its last STATUS */
    int scale_sent;                        /* the count of the last scale told it, or -1 */
    int64_t scale_sent_at;                 /* zclock_mono() then */
    int scale_tries;                       /* times that scale was sent */
} broker_agent_t;

typedef struct _broker_agents_t broker_agents_t;

/* Creates an empty agent table that sends through router (borrowed, outlives it) and
   forgets an agent after expiry_ms of silence. NULL on allocation failure. */
broker_agents_t *broker_agents_new(broker_router_t *router, int64_t expiry_ms);

/* Destroys the table and clears the pointer; safe on NULL and twice. */
void broker_agents_destroy(broker_agents_t **self_p);

/* Handles one SLAGENT1 message from sender (routing id, borrowed) received at now;
   ownership of *msg_p taken. */
void broker_agents_message(broker_agents_t *self, zframe_t *sender, zmsg_t **msg_p, int64_t now);

/* Per tick: forgets agents silent for heartbeat x liveness, moves rolling restarts on. */
void broker_agents_tick(broker_agents_t *self, int64_t now);

/* Pushes every agent's expiry back by ms (broker_registry_workers_postpone's reason). */
void broker_agents_postpone(broker_agents_t *self, int64_t ms);

/* Number of agents in the table. */
size_t broker_agents_size(const broker_agents_t *self);

/* The agents of service and of host (either NULL: any), sorted by key: a stable order
   makes the spread of a scale repeatable. Returns a new array of borrowed records (caller
   frees the array) and its size in *count; NULL out of memory. */
broker_agent_t **broker_agents_list(const broker_agents_t *self, const char *service,
                                    const char *host, size_t *count);

/* Walks the services with a rolling restart under way, by name (borrowed): first (NULL if
   none), then next until NULL. One walk at a time. */
const char *broker_agents_rolling_first(const broker_agents_t *self);
const char *broker_agents_rolling_next(const broker_agents_t *self);

/* Sends one COMMAND (body borrowed) to agent. A scale is remembered until a later STATUS of
   the agent reports its count, and sent again until then (a few times at most). */
void broker_agents_send(broker_agents_t *self, broker_agent_t *agent, json_t *command);

/* Starts at now a rolling restart of agents (count of them, in order) under a new id
   written to id (SL_BROADCAST_ID_MAX + 1 bytes). Returns 0, or -1 if service already
   rolls or out of memory. */
int broker_agents_roll(broker_agents_t *self, const char *service, broker_agent_t **agents,
                       size_t count, char *id, int64_t now);

/* Runs one mmi.cluster.command request (body frames [tag, command], borrowed) at now:
   sends the COMMANDs it asks for and returns the answer object (docs/admin-api.md), or
   NULL out of memory. In broker_agent_command.c. */
json_t *broker_agents_command(broker_agents_t *self, zmsg_t *request, int64_t now);

#endif
