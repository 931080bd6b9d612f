/*  worker_backoff: the two timing policies of worker/: exponential backoff (the I/O actor's
    reconnects, the supervisor's restarts) and the crash-loop window (too many restarts in
    too short a time stop a slot). Pure arithmetic on millisecond clocks the caller passes;
    no I/O, no clock reads, so the policy is unit-tested without waiting. */
#ifndef WORKER_BACKOFF_H
#define WORKER_BACKOFF_H

#include <stdbool.h>
#include <stdint.h>

#define WORKER_CRASH_WINDOW_SLOTS 64 /* upper bound on restarts a crash window remembers */

typedef struct {
    int64_t min_ms;     /* first delay, and the delay after a reset */
    int64_t max_ms;     /* delays never exceed this */
    double factor;      /* growth per consecutive failure */
    int64_t current_ms; /* the delay the next call to next() returns */
} worker_backoff_t;

typedef struct {
    int limit;                                   /* restarts within window_ms that mean a loop */
    int64_t window_ms;                           /* length of the sliding window */
    int64_t restarts[WORKER_CRASH_WINDOW_SLOTS]; /* ring of restart times, oldest first */
    int count;                                   /* restarts held in the ring */
    int head;                                    /* index of the oldest held restart */
} worker_crash_window_t;

/* Sets the bounds and starts at min_ms. factor must be >= 1. */
void worker_backoff_init(worker_backoff_t *self, int64_t min_ms, int64_t max_ms, double factor);

/* Returns the delay to wait now and grows the next one (x factor, capped at max_ms). */
int64_t worker_backoff_next(worker_backoff_t *self);

/* Back to min_ms: after a success (the broker answered, a child stayed up long enough). */
void worker_backoff_reset(worker_backoff_t *self);

/* limit is clamped to 1..WORKER_CRASH_WINDOW_SLOTS. */
void worker_crash_window_init(worker_crash_window_t *self, int limit, int64_t window_ms);

/* Records a restart at now_ms and returns true if that makes limit restarts within the
   window: the caller stops the slot instead of restarting it. */
bool worker_crash_window_record(worker_crash_window_t *self, int64_t now_ms);

#endif
