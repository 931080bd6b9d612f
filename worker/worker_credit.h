/*  worker_credit: how a worker of several brokers shares its K slots among them
    (docs/protocol.md 3.7, "What a worker grants"). Pure arithmetic on counts the caller
    passes: no sockets, no clock, so the policy is unit-tested on its own. Sending the
    CREDITs it decides on, and keeping the counts, is worker_io's business. */
#ifndef WORKER_CREDIT_H
#define WORKER_CREDIT_H

#include <stdbool.h>
#include <stddef.h>

/* What the policy needs to know of one broker. */
typedef struct {
    bool connected; /* READY sent on the current connection: the broker may dispatch to us */
    int held;       /* jobs of this connection held here (running or queued) */
    bool hungry;    /* DEMAND 1 received, or a HANDBACK sent, since the last DEMAND 0 */
} worker_credit_broker_t;

/* Computes each broker's limit into limits[count]. capacity is K; orphans are jobs still
   held from connections since lost (they keep their slots, but no broker counts them);
   last_served is the index of the broker whose job took a slot last (-1: none yet).
   Free slots are K minus every job held. No broker hungry: every connected broker may use
   all of them (limit = held + free). Some hungry: the free slots go one at a time, in
   turn, to the hungry brokers only, starting with the one after last_served; every other
   broker's limit is its held. A broker not connected gets its held (its limit is moot).
   The result depends only on the arguments, so recomputing it on a wake-up where nothing
   changed changes nothing, and sends nothing. */
void worker_credit_allocate(int capacity, int orphans, const worker_credit_broker_t *brokers,
                            size_t count, int last_served, int *limits);

#endif
