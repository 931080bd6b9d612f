/*  worker_grants: the counts of protocol.md 3.7 and the CREDITs they call for (see
    worker_grants.h). Limits are recomputed from scratch at every call, so a call where
    nothing changed sends nothing; only a limit that differs from the one last told goes
    out. */
#include <assert.h>
#include <stdlib.h>
#include "sl_defaults.h"
#include "worker_credit.h"
#include "worker_grants.h"

struct _worker_grants_t {
    int capacity;                                          /* K: slots shared by all */
    size_t count;                                          /* brokers */
    worker_credit_broker_t brokers[SL_MAX_WORKER_BROKERS]; /* per broker: held, hungry */
    int announced[SL_MAX_WORKER_BROKERS];                  /* limit last told; -1 unknown */
    int last_served; /* broker whose job took a slot last; -1 none yet */
};

worker_grants_t *worker_grants_new(int capacity, size_t count)
{
    assert(capacity >= 1 && count >= 1 && count <= SL_MAX_WORKER_BROKERS);
    worker_grants_t *self = calloc(1, sizeof(worker_grants_t));
    if (!self)
        return NULL;
    self->capacity = capacity;
    self->count = count;
    self->last_served = -1;
    for (size_t index = 0; index < count; index++)
        self->announced[index] = -1;
    return self;
}

void worker_grants_destroy(worker_grants_t **self_p)
{
    free(*self_p);
    *self_p = NULL;
}

//  Every broker's limit into limits, with the jobs held from lost connections as orphans.
static void s_allocate(worker_grants_t *self, int jobs_held, int *limits)
{
    int held = 0;
    for (size_t index = 0; index < self->count; index++)
        held += self->brokers[index].held;
    worker_credit_allocate(self->capacity, jobs_held - held, self->brokers, self->count,
                           self->last_served, limits);
}

void worker_grants_update(worker_grants_t *self, worker_broker_link_t **links, int jobs_held,
                          bool draining)
{
    for (size_t index = 0; index < self->count; index++)
        self->brokers[index].connected = worker_broker_link_connected(links[index]);
    int limits[SL_MAX_WORKER_BROKERS];
    s_allocate(self, jobs_held, limits);
    for (size_t index = 0; index < self->count; index++) {
        if (draining)
            limits[index] = self->brokers[index].held;
        if (!self->brokers[index].connected || limits[index] == self->announced[index])
            continue;
        worker_broker_link_send_credit(links[index], limits[index]);
        self->announced[index] = limits[index];
    }
}

int worker_grants_ready_credit(worker_grants_t *self, size_t index, int jobs_held, bool draining)
{
    self->brokers[index] = (worker_credit_broker_t){.connected = true};
    int limits[SL_MAX_WORKER_BROKERS];
    s_allocate(self, jobs_held, limits);
    return draining ? 0 : limits[index];
}

void worker_grants_ready_sent(worker_grants_t *self, size_t index, bool sent, int credit)
{
    if (sent)
        self->announced[index] = credit;
    else
        self->brokers[index].connected = false;
}

void worker_grants_forget(worker_grants_t *self, size_t index)
{
    self->brokers[index] = (worker_credit_broker_t){0};
    self->announced[index] = -1;
}

void worker_grants_taken(worker_grants_t *self, size_t index)
{
    self->brokers[index].held++;
    self->last_served = (int) index;
}

void worker_grants_released(worker_grants_t *self, size_t index)
{
    self->brokers[index].held--;
}

void worker_grants_handed_back(worker_grants_t *self, size_t index)
{
    self->brokers[index].hungry = true;
    self->announced[index] = -1;
}

void worker_grants_set_hungry(worker_grants_t *self, size_t index, bool hungry)
{
    self->brokers[index].hungry = hungry;
}
