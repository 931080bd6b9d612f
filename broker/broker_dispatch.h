/*  broker_dispatch: what happens to a client request once the broker holds it -- accepted
    or refused, queued, delivered to a worker with a free slot, answered (reply, PARTIAL or
    error envelope). Called by the event loop (broker.c) with the time of the message at
    hand; it owns no tables (broker_registry's) and no socket (broker_router's). */
#ifndef BROKER_DISPATCH_H
#define BROKER_DISPATCH_H

#include <czmq.h>
#include <stdint.h>
#include "broker_config.h"
#include "broker_request.h"
#include "broker_router.h"
#include "broker_service.h"
#include "broker_stats.h"
#include "broker_worker.h"
#include "sl_envelope.h"
#include "sl_mdp.h"

typedef struct _broker_dispatch_t broker_dispatch_t;

/* Creates the dispatcher: it sends through router and counts into stats (both borrowed,
   outliving it) and keeps the settings it needs from config. NULL on allocation failure. */
broker_dispatch_t *broker_dispatch_new(broker_router_t *router, broker_stats_t *stats,
                                       const broker_config_t *config);

/* Destroys the dispatcher and clears the pointer; safe on NULL. */
void broker_dispatch_destroy(broker_dispatch_t **self_p);

/* Takes a client REQUEST for service (NULL if unknown) received at now: checks the
   envelope, applies the no-worker rule and the queue limit, and delivers or queues it.
   Takes *client_p and msg->body. */
void broker_dispatch_request(broker_dispatch_t *self, zframe_t **client_p, sl_mdp_msg_t *msg,
                             broker_service_t *service, int64_t now);

/* Delivers waiting requests of service to its idle workers, oldest request to the least
   recently used worker, answering `expired` for those past their deadline. */
void broker_dispatch_service(broker_dispatch_t *self, broker_service_t *service, int64_t now);

/* worker (now with a free slot: registered, or a job finished) is ready: gives it waiting
   requests while it has room, then files it in its service's idle list if room is left. */
void broker_dispatch_worker_ready(broker_dispatch_t *self, broker_worker_t *worker, int64_t now);

/* A worker of several brokers (credit_mode) may now hold limit (0..capacity) of this
   broker's jobs (its CREDIT, protocol.md 3.7): under it, it gets waiting requests and joins
   the idle list; at or over it, it leaves the idle list. Then DEMAND as broker_demand says. */
void broker_dispatch_worker_limit(broker_dispatch_t *self, broker_worker_t *worker, int limit,
                                  int64_t now);

/* worker (credit_mode) returned request, one of its jobs, unstarted (HANDBACK, protocol.md
   3.7): the request goes back to the head of its service's queue with its delivery
   uncounted, the worker's limit drops to the jobs it still holds, a hand-back is counted,
   and the service is dispatched again so another worker with a free slot takes it. */
void broker_dispatch_handback(broker_dispatch_t *self, broker_worker_t *worker,
                              broker_request_t *request, int64_t now);

/* Forwards a PARTIAL or FINAL body (ownership taken) from worker to the client of request,
   one of worker's jobs. On FINAL the job is finished, released from the worker and
   destroyed; the caller then calls broker_dispatch_worker_ready. */
void broker_dispatch_reply(broker_dispatch_t *self, broker_worker_t *worker,
                           broker_request_t *request, sl_mdp_command_t command, zmsg_t **body_p,
                           int64_t now);

/* The worker holding request died: re-queues it at the head of its service if it may be
   delivered again, else answers `worker_died` (or `expired`). Does not dispatch: the
   caller does. */
void broker_dispatch_job_lost(broker_dispatch_t *self, broker_request_t *request, int64_t now);

/* mmi.cancel (protocol.md 3.8) of request, held by this broker and not cancelled yet.
   Queued: taken out and answered `cancelled` (returns 200). At a worker: answered
   `cancelled` now, its replies dropped from here on, and the worker told (CANCEL) if its
   READY said it takes it; it keeps its slot until its FINAL (returns 202). */
int broker_dispatch_cancel(broker_dispatch_t *self, broker_request_t *request);

/* Answers request with an error envelope (envelope requests) or logs the drop (plain MDP),
   then destroys it. */
void broker_dispatch_fail(broker_dispatch_t *self, broker_request_t **request_p,
                          sl_error_code_t code, const char *text);

#endif
