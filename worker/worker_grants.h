/*  worker_grants: the counts behind protocol.md 3.7 for a worker of several brokers: how
    many jobs each broker's current connection holds here, which brokers are hungry, whose
    job took a slot last, and the limit each broker was last told. It asks worker_credit's
    policy for the limits and sends each one that changed as a CREDIT over that broker's
    link. Which jobs are held, and when one starts or ends, is worker_io's. */
#ifndef WORKER_GRANTS_H
#define WORKER_GRANTS_H

#include <stdbool.h>
#include <stddef.h>
#include "worker_broker_link.h"

typedef struct _worker_grants_t worker_grants_t;

/* The grants of count brokers sharing capacity slots; NULL out of memory. */
worker_grants_t *worker_grants_new(int capacity, size_t count);

/* Destroys it; *self_p becomes NULL. Safe on NULL. */
void worker_grants_destroy(worker_grants_t **self_p);

/* Works out every broker's limit, given every job held here (jobs_held, orphans of lost
   connections included), and sends CREDIT over links[index] to each connected broker whose
   limit changed. A draining worker takes nothing new: each broker keeps what it holds. */
void worker_grants_update(worker_grants_t *self, worker_broker_link_t **links, int jobs_held,
                          bool draining);

/* The credit of broker index's READY on a new connection: its share of the free slots as
   they stand now (0 when draining). It counts as connected from now on: the broker may
   dispatch on READY. Tell the outcome with worker_grants_ready_sent. */
int worker_grants_ready_credit(worker_grants_t *self, size_t index, int jobs_held, bool draining);

/* The READY with credit went out (sent) or the connection could not be made. */
void worker_grants_ready_sent(worker_grants_t *self, size_t index, bool sent, int credit);

/* Broker index's connection was lost: it holds nothing here any more and was told nothing. */
void worker_grants_forget(worker_grants_t *self, size_t index);

/* A job of broker index took a slot, or gave its slot back. */
void worker_grants_taken(worker_grants_t *self, size_t index);
void worker_grants_released(worker_grants_t *self, size_t index);

/* Broker index sent a job into no free slot and got it back: it has waiting work, and
   sends nothing more until it is told a limit again. */
void worker_grants_handed_back(worker_grants_t *self, size_t index);

/* Broker index's DEMAND: it has jobs waiting (hungry) or not. */
void worker_grants_set_hungry(worker_grants_t *self, size_t index, bool hungry);

#endif
