/*  broker_private: the broker's state, shared by broker.c (event loop, worker protocol,
    timers), broker_dispatch.c (request delivery and answers) and broker_stats.c (mmi.stats).
    Nothing else includes it. */
#ifndef BROKER_PRIVATE_H
#define BROKER_PRIVATE_H

#include <czmq.h>
#include <jansson.h>
#include "broker.h"
#include "broker_agent.h"
#include "broker_registry.h"
#include "broker_request.h"
#include "broker_router.h"
#include "broker_service.h"
#include "broker_stats.h"
#include "broker_worker.h"
#include "sl_envelope.h"
#include "sl_log.h"
#include "sl_mdp.h"

struct _broker_t {
    broker_router_t *router;        /* the one ROUTER socket and its send */
    zsock_t *socket;                /* the router's socket (borrowed), for receive and hot sends */
    void *handle;                   /* its libzmq handle, for zmq_poll */
    broker_config_t config;         /* read-only after start-up */
    int64_t expiry_ms;              /* heartbeat_ms x liveness: silence that kills a worker */
    broker_registry_t *registry;    /* workers, services, expiry order (broker_registry.c) */
    int64_t now;                    /* zclock_mono() at the current message */
    int64_t next_tick;              /* when heartbeats and queue sweeps run next */
    bool debug;                     /* debug logging on: hot-path log lines are built only then */
    sl_log_limit_t malformed_limit; /* rate limit for malformed-message lines */
    sl_log_limit_t protocol_limit;  /* rate limit for worker protocol violations */
    sl_log_limit_t dropped_limit;   /* rate limit for dropped plain-MDP requests */
    sl_log_limit_t rejected_limit;  /* rate limit for queue_full / no_worker / expired */
    broker_stats_t *stats;          /* counters for mmi.stats (broker_stats.c) */
    int64_t started;                /* zclock_mono() at broker_new, for uptime */
    broker_agents_t *agents;        /* host agents, the cluster manager (broker_agent.c) */
    zsock_t *stop_socket;           /* a message here ends broker_run (borrowed); may be NULL */
};

/* --- broker_agent.c, broker_agent_admin.c --- */

/* Handles one SLAGENT1 message (routing id already popped; ownership of *msg_p taken). */
void broker_agent_message(broker_t *self, zframe_t *sender, zmsg_t **msg_p);

/* Per tick: forgets agents silent for heartbeat x liveness, moves rolling restarts on. */
void broker_agent_tick(broker_t *self);

/* True for the mmi.* names the cluster manager answers (mmi.cluster, mmi.cluster.command). */
bool broker_agent_is_mmi(const char *name);

/* Answers one of those requests from client (borrowed). */
void broker_agent_mmi(broker_t *self, zframe_t *client, sl_mdp_msg_t *msg, const char *name);

/* The cluster view (docs/admin-api.md), a new JSON object; NULL out of memory. */
json_t *broker_agent_view(broker_t *self);

/* --- broker_stats.c --- */

/* Answers an mmi.stats request from client (borrowed) with one JSON frame. */
void broker_stats_answer(broker_t *self, zframe_t *client, sl_mdp_msg_t *msg);

/* --- broker_dispatch.c --- */

/* Takes a client REQUEST for service (NULL if unknown): checks the envelope, applies the
   no-worker rule and the queue limit, and delivers or queues it. Takes *client_p and
   msg->body. */
void broker_dispatch_request(broker_t *self, zframe_t **client_p, sl_mdp_msg_t *msg,
                             broker_service_t *service);

/* Delivers waiting requests of service to its idle workers, oldest request to the least
   recently used worker, answering `expired` for those past their deadline. */
void broker_dispatch_service(broker_t *self, broker_service_t *service);

/* worker (now with a free slot: registered, or a job finished) is ready: gives it waiting
   requests while it has room, then files it in its service's idle list if room is left. */
void broker_dispatch_worker_ready(broker_t *self, broker_worker_t *worker);

/* Forwards a PARTIAL or FINAL body (ownership taken) from worker to the client of request,
   one of worker's jobs. On FINAL the job is finished, released from the worker and
   destroyed; the caller then calls broker_dispatch_worker_ready. */
void broker_dispatch_reply(broker_t *self, broker_worker_t *worker, broker_request_t *request,
                           sl_mdp_command_t command, zmsg_t **body_p);

/* The worker holding request died: re-queues it at the head of its service if it may be
   delivered again, else answers `worker_died`. Does not dispatch: the caller does. */
void broker_dispatch_job_lost(broker_t *self, broker_request_t *request);

/* Answers request with an error envelope (envelope requests) or logs the drop (plain MDP),
   then destroys it. */
void broker_dispatch_fail(broker_t *self, broker_request_t **request_p, sl_error_code_t code,
                          const char *text);

#endif
