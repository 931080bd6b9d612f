/*  broker_registry: the broker's worker and service bookkeeping. The worker table (keyed by
    routing identity), the service table (keyed by name) and the expiry list (workers, least
    recently heard from first), kept consistent with each other; all O(1) per message except
    the walks. It decides nothing about the worker protocol or requests: the event loop
    (broker.c) decides, broker_dispatch delivers, the MMI answers only read it. */
#ifndef BROKER_REGISTRY_H
#define BROKER_REGISTRY_H

#include <czmq.h>
#include <stdint.h>
#include "broker_service.h"
#include "broker_stats.h"
#include "broker_worker.h"

typedef struct _broker_registry_t broker_registry_t;

/* Creates empty tables. New services queue at most queue_limit requests and count into
   stats (borrowed, outlives the registry; may be NULL); a worker heard from expires after
   expiry_ms of silence. NULL on allocation failure. */
broker_registry_t *broker_registry_new(size_t queue_limit, int64_t expiry_ms,
                                       broker_stats_t *stats);

/* Destroys every worker (jobs still held are destroyed unanswered: call broker_shutdown
   first), every service and the tables, and clears the pointer; safe on NULL. */
void broker_registry_destroy(broker_registry_t **self_p);

/* The registered worker with routing id identity, or NULL; borrowed. */
broker_worker_t *broker_registry_worker(const broker_registry_t *self, zframe_t *identity);

/* The service named name, or NULL; borrowed. */
broker_service_t *broker_registry_service(const broker_registry_t *self, const char *name);

/* The service named name, created (with its counters attached) if new; borrowed. NULL on
   allocation failure. */
broker_service_t *broker_registry_service_ensure(broker_registry_t *self, const char *name);

/* Services made to hold plain requests, no worker yet, at most at once: past that a plain
   request for an unknown service is dropped at once, as before (a client that sends to
   random names costs at most this many empty queues). */
#define BROKER_HELD_SERVICES_MAX 256

/* The service named name, or one made for it (without counters, until a worker comes) to
   hold a plain MDP request while fewer than most such services exist; NULL past that or on
   allocation failure. Borrowed. */
broker_service_t *broker_registry_service_hold(broker_registry_t *self, const char *name,
                                               size_t most);

/* New services' queues hold at most bytes (0: no memory bound). */
void broker_registry_set_queue_bytes(broker_registry_t *self, size_t bytes);

/* Lets each worker be silent for liveness x its own heartbeat interval, learned from its
   HEARTBEATs, between heartbeat_ms (the broker's) and peer_max_ms. Without this call every
   worker gets the broker's expiry. */
void broker_registry_set_peer_heartbeat(broker_registry_t *self, int64_t heartbeat_ms,
                                        int64_t liveness, int64_t peer_max_ms);

/* The worker's heartbeat interval as the broker counts it, and the silence that ends it
   (interval x liveness). */
int64_t broker_registry_worker_interval(const broker_registry_t *self,
                                        const broker_worker_t *worker);
int64_t broker_registry_worker_window(const broker_registry_t *self, const broker_worker_t *worker);

/* A HEARTBEAT from worker at now: learns its interval, and it was heard. */
void broker_registry_worker_beat(broker_registry_t *self, broker_worker_t *worker, int64_t now);

/* Registers a worker of service (takes *identity_p) heard from at now and counts it in
   its service; borrowed, NULL on allocation failure. */
broker_worker_t *broker_registry_worker_add(broker_registry_t *self, zframe_t **identity_p,
                                            sl_mdp_version_t version, broker_service_t *service,
                                            int capacity, int64_t now);

/* worker spoke at now: pushes its expiry back and moves it to the end of the expiry list. */
void broker_registry_worker_heard(broker_registry_t *self, broker_worker_t *worker, int64_t now);

/* Takes worker out of every table and list and uncounts it from its service (which
   remembers now as when a worker left). The worker, with any jobs it holds, is the
   caller's to handle and destroy. */
void broker_registry_worker_remove(broker_registry_t *self, broker_worker_t *worker, int64_t now);

/* Pushes every worker's expiry back by ms: the time the broker itself did not run (a stop,
   a starved CPU) is not held against its workers, whose heartbeats waited unread. The
   expiry list keeps its order. */
void broker_registry_workers_postpone(broker_registry_t *self, int64_t ms);

/* The worker that expires next (least recently heard from), or NULL; borrowed. Leaves a
   walk's place alone. */
broker_worker_t *broker_registry_worker_oldest(const broker_registry_t *self);

/* Walks the workers, least recently heard from first: first (NULL if none), then next
   until NULL. The first one is the next to expire. One walk at a time; do not add or
   remove workers during it. */
broker_worker_t *broker_registry_worker_first(const broker_registry_t *self);
broker_worker_t *broker_registry_worker_next(const broker_registry_t *self);

/* Walks the services in no set order, as the worker walk. */
broker_service_t *broker_registry_service_first(const broker_registry_t *self);
broker_service_t *broker_registry_service_next(const broker_registry_t *self);

/* Removes service (no workers, empty queue) from the table and destroys it. Not during a
   service walk. */
void broker_registry_service_retire(broker_registry_t *self, broker_service_t *service);

/* The silence after which a worker expires, ms (heartbeat x liveness). */
int64_t broker_registry_expiry_ms(const broker_registry_t *self);

#endif
