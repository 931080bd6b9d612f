/*  worker_job: one job as the handler sees it (sl_job_t of slowlane/worker.h): the request
    decoded from MDP body frames (an HTTP envelope or an opaque body) and the reply being
    built. It turns the reply into PARTIAL/FINAL bodies; sending them is the caller's
    business (worker.c hands them to the I/O actor). */
#ifndef WORKER_JOB_H
#define WORKER_JOB_H

#include <czmq.h>
#include "slowlane/worker.h"
#include "worker_cancel.h"

/* Where sl_job_flush sends a PARTIAL body: takes ownership of *body_p; returns 0 or -1. */
typedef int(worker_job_send_fn)(zmsg_t **body_p, void *arg);

/* Builds a job from the REQUEST body frames (ownership of *body_p taken). received_ms is the
   monotonic clock at receipt, the origin of the request's time left. Never NULL except out
   of memory: a body that is not a valid request envelope becomes an opaque job. */
sl_job_t *worker_job_new(zmsg_t **body_p, int64_t received_ms);

/* Destroys the job and clears the pointer; safe on NULL. */
void worker_job_destroy(sl_job_t **self_p);

/* Sets where PARTIALs go. Without one, sl_job_flush fails. */
void worker_job_set_sender(sl_job_t *self, worker_job_send_fn *send, void *arg);

/* Sets the signal that the job was cancelled (sl_job_cancelled); borrowed, outliving the
   job. Without one the job is never cancelled. */
void worker_job_set_cancel(sl_job_t *self, const worker_cancel_t *cancel);

/* Sets the name progress envelopes give for this worker (its identity); borrowed. */
void worker_job_set_worker_name(sl_job_t *self, const char *name);

/* A job that slowlane-jobs runs (its request carries Slowlane-Job-Run) is announced by a
   progress envelope with no note before its handler runs, so its status names the worker
   from the start. Returns 0 (also for any other job, which sends nothing) or -1. */
int worker_job_announce(sl_job_t *self);

/* The FINAL body for a handler result (0 ok, -1 failed: 500 unless already streaming).
   A new message the caller sends. */
zmsg_t *worker_job_final(sl_job_t *self, int handler_result);

/* Resets the reply to status with a short text body, dropping what the handler wrote;
   for handlers that fail after writing (exec's 502). No effect once flushed. */
void worker_job_reset_reply(sl_job_t *self, int status, const char *text);

#endif
