/*  broker_credit: the worker commands of protocol.md 3.7 that a worker of several brokers
    sends (CREDIT, HANDBACK), checked against what the broker knows of the worker and turned
    into limit changes and hand-backs. Called by the event loop (broker.c), which owns the
    answer to a violation (DISCONNECT); delivery is broker_dispatch's, DEMAND broker_demand's. */
#ifndef BROKER_CREDIT_H
#define BROKER_CREDIT_H

#include <stdint.h>
#include "broker_dispatch.h"
#include "broker_worker.h"

/* worker registered with READY's credit frame: it speaks protocol.md 3.7, and credit
   (0..capacity, checked by the codec) is its first limit here. Dispatches to it if that
   leaves room. */
void broker_credit_ready(broker_dispatch_t *dispatch, broker_worker_t *worker, int credit,
                         int64_t now);

/* CREDIT limit from worker. Returns NULL, or a static name of the protocol violation (a
   worker whose READY had no credit frame, a limit above its capacity). */
const char *broker_credit_limit(broker_dispatch_t *dispatch, broker_worker_t *worker, int limit,
                                int64_t now);

/* HANDBACK of the job whose address frame is address (borrowed) from worker. Returns NULL,
   or a static name of the protocol violation (no credit frame in its READY, no such job in
   flight there, a job it already streamed a PARTIAL of). */
const char *broker_credit_handback(broker_dispatch_t *dispatch, broker_worker_t *worker,
                                   zframe_t *address, int64_t now);

#endif
