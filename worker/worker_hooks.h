/*  worker_hooks: what the supervisor's child needs from sl_worker_t beyond the public API:
    to hear when the worker is registered and when each job starts and ends, so the
    supervisor can time jobs and pace a rolling restart. Internal to worker/. */
#ifndef WORKER_HOOKS_H
#define WORKER_HOOKS_H

#include <stdbool.h>
#include "slowlane/worker.h"

typedef enum {
    WORKER_EVENT_REGISTERED = 'R', /* the broker answered after our READY */
    WORKER_EVENT_JOB_START = 'S',  /* a job reached the handler */
    WORKER_EVENT_JOB_END = 'E',    /* its FINAL went to the I/O actor */
    WORKER_EVENT_BROADCAST = 'B'   /* a broadcast was handed to the broadcast callback */
} worker_event_t;

typedef void(worker_event_fn)(worker_event_t event, void *arg);

/* Calls fn for each event, on the thread that runs sl_worker_run, or for the job events of
   an inline worker on its I/O thread. */
void worker_set_event_hook(sl_worker_t *self, worker_event_fn *fn, void *arg);

/* Runs every job on the I/O thread instead of handing it to the thread in sl_worker_run:
   two thread hand-offs fewer per job, for handlers that never block (builtin:echo). Jobs
   still run one at a time, and never during a broadcast callback. Set before running. */
void worker_set_inline(sl_worker_t *self, bool run_inline);

/* Reads broadcasts from fd (the read end of the supervisor's pipe, owned from now on):
   records of worker_broadcast.h (a length, the id, a NUL, the message).
   sl_worker_run polls it between jobs and calls the broadcast callback for each. */
void worker_set_broadcast_fd(sl_worker_t *self, int fd);

#endif
