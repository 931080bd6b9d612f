/*  worker_hooks: what the supervisor's child needs from sl_worker_t beyond the public API:
    to hear when the worker is registered and when each job starts and ends, so the
    supervisor can time jobs and pace a rolling restart. Internal to worker/. */
#ifndef WORKER_HOOKS_H
#define WORKER_HOOKS_H

#include "slowlane/worker.h"

typedef enum {
    WORKER_EVENT_REGISTERED = 'R', /* the broker answered after our READY */
    WORKER_EVENT_JOB_START = 'S',  /* a job reached the handler */
    WORKER_EVENT_JOB_END = 'E'     /* its FINAL went to the I/O actor */
} worker_event_t;

typedef void(worker_event_fn)(worker_event_t event, void *arg);

/* Calls fn on the thread that runs sl_worker_run for each event. */
void worker_set_event_hook(sl_worker_t *self, worker_event_fn *fn, void *arg);

#endif
