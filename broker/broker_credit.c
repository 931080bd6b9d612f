/*  broker_credit: CREDIT and HANDBACK (protocol.md 3.7) as the broker takes them. Each is
    checked here (a plain worker has no business sending them: its limit is its capacity,
    and no CREDIT could ever lift a limit a HANDBACK dropped) and then handed to
    broker_dispatch, which moves the worker in or out of the idle list and the job back to
    the head of its queue. */
#include "broker_credit.h"

void broker_credit_ready(broker_dispatch_t *dispatch, broker_worker_t *worker, int credit,
                         int64_t now)
{
    broker_worker_set_credit(worker, credit);
    broker_dispatch_worker_limit(dispatch, worker, credit, now);
}

const char *broker_credit_limit(broker_dispatch_t *dispatch, broker_worker_t *worker, int limit,
                                int64_t now)
{
    if (!worker->credit_mode)
        return "credit_without_credit_ready";
    /* "a limit above the worker's capacity is a protocol violation (DISCONNECT)" */
    if (limit > worker->capacity)
        return "credit_above_capacity";
    broker_dispatch_worker_limit(dispatch, worker, limit, now);
    return NULL;
}

const char *broker_credit_handback(broker_dispatch_t *dispatch, broker_worker_t *worker,
                                   zframe_t *address, int64_t now)
{
    if (!worker->credit_mode)
        return "handback_without_credit_ready";
    /* "A HANDBACK whose address is not a job in flight at that worker is a protocol
       violation." */
    broker_request_t *job = broker_worker_job_named(worker, address);
    if (!job)
        return "handback_without_job";
    /* A job it streamed a PARTIAL of has started: it cannot come back unstarted. */
    if (job->partial_sent)
        return "handback_after_partial";
    broker_dispatch_handback(dispatch, worker, job, now);
    return NULL;
}
