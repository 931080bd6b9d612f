/*  broker_demand: DEMAND 1 and DEMAND 0 to workers of several brokers (protocol.md 3.7) and
    the paused list behind them. A worker's demand_sent mirrors what the worker believes:
    set by DEMAND 1 or a HANDBACK, cleared by DEMAND 0, so neither is ever sent twice in a
    row. Nothing here walks all workers: the paused list holds only the ones to tell. */
#include "broker_demand.h"

static void s_send(broker_router_t *router, broker_worker_t *worker, bool waiting)
{
    zmsg_t *msg = sl_mdp_encode_demand(waiting);
    broker_router_send(router, worker->identity, &msg);
    worker->demand_sent = waiting;
}

/* Paused: a worker that may take fewer of this broker's jobs than its capacity (another
   broker holds the rest) and has not been told of demand. */
static void s_paused_refresh(broker_worker_t *worker)
{
    bool paused = worker->credit_mode && worker->limit < worker->capacity && !worker->demand_sent;
    if (paused && !worker->paused_handle)
        broker_service_paused_push(worker->service, worker);
    else if (!paused && worker->paused_handle)
        broker_service_paused_remove(worker->service, worker);
}

void broker_demand_service_waiting(broker_router_t *router, broker_service_t *service)
{
    broker_worker_t *worker;
    while ((worker = broker_service_paused_pop(service)))
        s_send(router, worker, true);
}

void broker_demand_worker_changed(broker_router_t *router, broker_worker_t *worker)
{
    assert(worker->credit_mode);
    bool waiting = broker_service_queued(worker->service) > 0;
    if (waiting && !worker->demand_sent && worker->limit < worker->capacity &&
        !broker_worker_has_room(worker))
        s_send(router, worker, true);
    else if (!waiting && worker->demand_sent && broker_worker_has_room(worker))
        s_send(router, worker, false);
    s_paused_refresh(worker);
}

void broker_demand_worker_handed_back(broker_worker_t *worker)
{
    assert(worker->credit_mode);
    worker->demand_sent = true;
    s_paused_refresh(worker);
}
