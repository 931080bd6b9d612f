/*  broker_demand: the DEMAND half of protocol.md 3.7 for workers of several brokers: which
    of them to tell that this broker has work waiting (DEMAND 1) or no longer needs the slot
    it holds (DEMAND 0), and the service's paused list that makes the first cheap. It reads
    the service's queue and the worker's limit; delivering work and changing limits are
    broker_dispatch's and broker_credit's. Plain workers (no credit frame) never reach it. */
#ifndef BROKER_DEMAND_H
#define BROKER_DEMAND_H

#include "broker_router.h"
#include "broker_service.h"
#include "broker_worker.h"

/* A request of service waits because no worker can take it now: tells every paused worker
   (held below its capacity here, not yet told) DEMAND 1. Each is told once, then leaves the
   paused list until its DEMAND 0, so a saturated service costs a size check per enqueue. */
void broker_demand_service_waiting(broker_router_t *router, broker_service_t *service);

/* worker (credit_mode) changed: its limit, its jobs, or its service's queue. Sends DEMAND 1
   if work waits that it cannot take and it holds less than its capacity here, DEMAND 0 if it
   holds unused limit and nothing waits, and files it in or out of the paused list. O(1).
   Call it after any dispatch to the worker is done. */
void broker_demand_worker_changed(broker_router_t *router, broker_worker_t *worker);

/* worker (credit_mode) handed a job back: it now counts this broker as having waiting work
   (protocol.md 3.7), as after a DEMAND 1, so none is sent; its DEMAND 0 comes as usual. */
void broker_demand_worker_handed_back(broker_worker_t *worker);

#endif
