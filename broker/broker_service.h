/*  broker_service: one named service inside the broker: a bounded FIFO of waiting
    requests, the line of idle workers (those with a free slot under their limit) and
    the list of paused workers of several brokers (protocol.md 3.7) that wait to hear of
    demand, all O(1) per operation through zlistx handles kept in the records. It decides nothing
   about delivery or answers; the broker asks it what waits and who is free. */
#ifndef BROKER_SERVICE_H
#define BROKER_SERVICE_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>
#include "broker_request.h"
#include "broker_stats.h"
#include "broker_worker.h"

/* Creates a service named name (copied) whose queue holds at most queue_limit requests (0:
   no count bound; broker_service_set_queue_bytes adds a memory bound). NULL on allocation
   failure. */
broker_service_t *broker_service_new(const char *name, size_t queue_limit);

/* Destroys the service and clears the pointer; safe on NULL. Requests still queued are
   destroyed unanswered, so the broker drains the queue first. */
void broker_service_destroy(broker_service_t **self_p);

/* The service name; borrowed. */
const char *broker_service_name(broker_service_t *self);

/* The service name as a frame to echo in replies; borrowed. */
zframe_t *broker_service_name_frame(broker_service_t *self);

/* Bounds the bytes the queued requests may hold (their bodies and records, estimated); 0:
   none. */
void broker_service_set_queue_bytes(broker_service_t *self, size_t bytes);

/* The bytes the queued requests hold now. */
size_t broker_service_queued_bytes(const broker_service_t *self);

/* Appends request at the tail of the queue. Returns 0, or -1 if the queue is full, by
   count or by bytes (the request is not taken). */
int broker_service_enqueue(broker_service_t *self, broker_request_t *request);

/* Puts request back at the head (a re-delivery after its worker died goes first). The
   limit is not checked: the request already held a place. */
void broker_service_requeue(broker_service_t *self, broker_request_t *request);

/* Takes the oldest waiting request off the queue, or NULL if none. */
broker_request_t *broker_service_dequeue(broker_service_t *self);

/* Number of waiting requests. */
size_t broker_service_queued(broker_service_t *self);

/* Moves every waiting request whose deadline is at or before now into expired (a zlistx
   the caller owns), keeping the order of the rest. A scan of this queue: call it from a
   timer, never per message. */
void broker_service_take_expired(broker_service_t *self, int64_t now, zlistx_t *expired);

/* Moves every waiting request into taken (a zlistx the caller owns). */
void broker_service_take_all(broker_service_t *self, zlistx_t *taken);

/* Worker registration bookkeeping: joined counts a new worker (not yet idle); left
   uncounts one and remembers when, for the no-worker grace period. */
void broker_service_worker_joined(broker_service_t *self);
void broker_service_worker_left(broker_service_t *self, int64_t now);

/* Registered workers, idle or busy. */
size_t broker_service_workers(broker_service_t *self);

/* zclock_mono() time the last worker left, 0 if it never had one that left. */
int64_t broker_service_last_worker_left(broker_service_t *self);

/* Marks the service as autoscaled (its policy may start workers when work waits) or not. */
void broker_service_set_autoscaled(broker_service_t *self, bool autoscaled);

/* The no-worker rule: true if requests should wait in the queue, because the service has a
   worker, or an autoscaling policy that starts one for them (min 0), or a worker left within
   grace_ms (a restart in progress), or a plain request is held for a first worker (until
   broker_service_hold_until's time); false if they get no_worker and it may be retired. */
bool broker_service_waits_for_workers(broker_service_t *self, int64_t now, int64_t grace_ms);

/* Requests wait for a worker until at least until (a held plain MDP request's deadline). */
void broker_service_hold_until(broker_service_t *self, int64_t until);

/* Puts worker at the tail of the idle line: served after every other idle worker. */
void broker_service_idle_push(broker_service_t *self, broker_worker_t *worker);

/* Takes the first idle worker in line, or NULL if none is idle. */
/* Puts a worker with a free slot first in line (most recently used first). */
void broker_service_idle_push_front(broker_service_t *self, broker_worker_t *worker);
broker_worker_t *broker_service_idle_pop(broker_service_t *self);

/* Removes worker from the idle list if it is there. */
void broker_service_idle_remove(broker_service_t *self, broker_worker_t *worker);

/* Number of idle workers. */
size_t broker_service_idle(broker_service_t *self);

/* The paused list: workers of several brokers (protocol.md 3.7) whose limit here is below
   their capacity and that have not been told DEMAND 1, the ones to tell when work has to
   wait. push appends worker (not in the list); remove takes it out if it is there; pop
   takes the first, or NULL; paused counts them. broker_demand keeps the list. */
void broker_service_paused_push(broker_service_t *self, broker_worker_t *worker);
void broker_service_paused_remove(broker_service_t *self, broker_worker_t *worker);
broker_worker_t *broker_service_paused_pop(broker_service_t *self);
size_t broker_service_paused(broker_service_t *self);

/* The service's counters (borrowed from broker_stats, which outlives services), or NULL if
   none were attached; set once, right after broker_service_new. */
broker_stats_service_t *broker_service_stats(broker_service_t *self);
void broker_service_set_stats(broker_service_t *self, broker_stats_service_t *stats);

/* The oldest waiting request (head of the queue), or NULL if none; borrowed. For the
   cluster view's oldest-wait figure. */
broker_request_t *broker_service_oldest(broker_service_t *self);
/* The waiting request that is the envelope request id of client, or NULL (a walk of the
   queue: for mmi.request and mmi.cancel, never on the request path). */
broker_request_t *broker_service_queue_find(broker_service_t *self, zframe_t *client,
                                            const char *id);

/* Takes request, which waits in this service's queue, out of it. O(1). */
void broker_service_unqueue(broker_service_t *self, broker_request_t *request);

#endif
