/*  jobs_dispatcher: runs stored jobs on their services. An actor with one MDP client DEALER
    per broker: it claims due jobs from the store (a bounded number in flight per service),
    sends each attempt as a request envelope to the broker with the fewest attempts out,
    records the reply, and applies the retry policy when an attempt ends without one (the
    broker's error, a lost broker, the attempt's deadline). It owns no HTTP and no job API:
    jobs_api answers the gateways; both share the store. */
#ifndef JOBS_DISPATCHER_H
#define JOBS_DISPATCHER_H
#include <stddef.h>
#include <stdint.h>

#include "jobs_store.h"
#include "sl_curve.h"

typedef struct {
    char **brokers;                  /* broker endpoints (borrowed for the call) */
    size_t broker_count;             /* 1..16 */
    const sl_curve_client_t *curves; /* broker_count of them, one per broker in order
                                        (borrowed; keys copied onto each socket) */
    const char *identity;            /* stable DEALER identity prefix: replies reach a restart */
    int64_t heartbeat_ms;            /* broker probe interval */
    int64_t liveness;                /* probes unanswered before a broker is lost */
    int64_t max_in_flight;           /* attempts out at once per service */
    int64_t retry_base_ms;           /* first retry's delay; doubles per attempt */
    int64_t retry_max_ms;            /* longest retry delay */
    int64_t grace_ms;                /* past an attempt's timeout before it is given up */
    int64_t expired_keep_ms;         /* expired jobs' records kept this long, then deleted */
    int64_t max_result_bytes;        /* a larger streamed reply fails the job */
} jobs_dispatcher_config_t;

typedef struct _jobs_dispatcher_t jobs_dispatcher_t;

/* Starts the actor. The store is borrowed and must outlive it. Attempts that were out when
   the previous process stopped are taken up again (their replies may still come: the
   identity is stable). NULL on failure (logged). */
jobs_dispatcher_t *jobs_dispatcher_new(const jobs_dispatcher_config_t *config, jobs_store_t *store);
/* Stops the actor; safe on NULL and twice. Attempts out stay running in the store. */
void jobs_dispatcher_destroy(jobs_dispatcher_t **self_p);
/* Says a job was submitted, so it is claimed without waiting for the next tick. Only from
   the thread that made the dispatcher; never blocks. */
void jobs_dispatcher_wake(jobs_dispatcher_t *self);
/* Says a running job's cancel was requested (DELETE): its attempt, if out, is cancelled at
   its broker. Same thread rule as jobs_dispatcher_wake; never blocks. */
void jobs_dispatcher_cancel(jobs_dispatcher_t *self, const char *id, int attempt);
#endif
