/*  jobs_api: the slowlane.jobs service's handler: what a gateway asks of the jobs component.
    A request that carries the gateway's Slowlane-Job-* headers is a submission (stored, then
    answered 202 Accepted); GET /jobs/ID is a job's status, GET /jobs/ID/result its result,
    DELETE /jobs/ID cancels or deletes. The answers are the HTTP responses the gateway sends
    on as they are (docs/jobs.md). It owns no socket: the worker library carries it. */
#ifndef JOBS_API_H
#define JOBS_API_H
#include <slowlane/worker.h>

#include "jobs_dispatcher.h"
#include "jobs_store.h"

/* The header names the gateway sends with a submission (and strips from every client). */
#define JOBS_HEADER_PREFIX   "Slowlane-Job-"
#define JOBS_HEADER_ID       "Slowlane-Job-Id"
#define JOBS_HEADER_SERVICE  "Slowlane-Job-Service"
#define JOBS_HEADER_ROUTE    "Slowlane-Job-Route"
#define JOBS_HEADER_RETRY    "Slowlane-Job-Retry"
#define JOBS_HEADER_ATTEMPTS "Slowlane-Job-Attempts"
#define JOBS_HEADER_TIMEOUT  "Slowlane-Job-Timeout-Ms"
#define JOBS_HEADER_TTL      "Slowlane-Job-Ttl-Ms"

typedef struct {
    jobs_store_t *store;           /* borrowed */
    jobs_dispatcher_t *dispatcher; /* borrowed; woken after each submission */
} jobs_api_t;

/* The sl_worker_handler_fn of slowlane.jobs; arg is a jobs_api_t. */
int jobs_api_handle(sl_job_t *job, void *arg);
#endif
