/*  worker_cancel: the signal that the job in hand was cancelled by its client (a CANCEL from
    the broker, docs/protocol.md 3.8), raised on the I/O thread and seen by the handler
    thread: a flag to test (sl_job_cancelled) and an eventfd to wait on (sl_job_cancel_fd),
    so a handler blocked in poll() wakes at once. One per worker: the handler runs one job
    at a time, and the I/O thread resets it before it hands over the next. It knows nothing
    of jobs or brokers. */
#ifndef WORKER_CANCEL_H
#define WORKER_CANCEL_H

#include <stdatomic.h>
#include <stdbool.h>

typedef struct {
    atomic_bool raised; /* the job in hand was cancelled */
    int fd;             /* eventfd, readable while raised; -1 if none could be made */
} worker_cancel_t;

/* Makes the eventfd. Returns 0, or -1 (then only the flag works). */
int worker_cancel_init(worker_cancel_t *self);

/* Closes the eventfd. */
void worker_cancel_close(worker_cancel_t *self);

/* The job in hand was cancelled. */
void worker_cancel_raise(worker_cancel_t *self);

/* A new job is handed over: not cancelled, the eventfd drained. */
void worker_cancel_reset(worker_cancel_t *self);

/* True once the job in hand was cancelled. */
bool worker_cancel_raised(const worker_cancel_t *self);

#endif
