/*  supervisor_children: the supervisor's child processes as the operating system sees
    them, one per slot: fork with the two pipes (events up, broadcasts down), signals,
    reaping, the strays dead workers leave (found through /proc), resident size, and the
    job counters shared with the children. It decides nothing: when to start, stop or give
    up on a slot is supervisor_policy.c's. */
#ifndef SUPERVISOR_CHILDREN_H
#define SUPERVISOR_CHILDREN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "supervisor.h"

typedef struct _supervisor_children_t supervisor_children_t;

/* Called right before every fork (the agent ends its ZeroMQ context there). */
typedef void(supervisor_fork_fn)(void *arg);

/* A slot's job counters as the child last wrote them. */
typedef struct {
    uint64_t jobs;          /* jobs the current child finished */
    int64_t job_started_ms; /* when it went from idle to busy, 0 idle */
    int busy;               /* jobs it holds now */
} supervisor_job_counts_t;

/* A table of SL_MAX_WORKER_SLOTS empty slots, and the shared counters (a map that fails
   only costs the cluster view its job counts). NULL if out of memory. */
supervisor_children_t *supervisor_children_new(const supervisor_config_t *config);

/* Frees the table; safe on NULL and twice. Live children are not touched. */
void supervisor_children_destroy(supervisor_children_t **self_p);

/* Sets the function called before each fork. */
void supervisor_children_before_fork(supervisor_children_t *self, supervisor_fork_fn *fn,
                                     void *arg);

/* Forks the worker of slot index (which has none) with fresh pipes; the child never returns
   from here. Returns 0, or -1 (logged, nothing left open) if no pipe or fork was had. */
int supervisor_children_start(supervisor_children_t *self, int index);

/* The slot's process, 0 when none. */
pid_t supervisor_children_pid(const supervisor_children_t *self, int index);

/* Sends signal to the slot's process, if any. */
void supervisor_children_signal(supervisor_children_t *self, int index, int signal);

/* Reaps ended children without waiting. Returns true with *index and *status set for a
   worker that ended (still in its slot until supervisor_children_forget); strays that
   ended are reaped on the way, and what they leave killed. False when none is left. */
bool supervisor_children_reap(supervisor_children_t *self, int *index, int *status);

/* Empties a reaped worker's slot: closes its pipes, kills its process group and the
   strays it left. */
void supervisor_children_forget(supervisor_children_t *self, int index);

/* Kills every child of ours that is not a worker: what dead workers started. */
void supervisor_children_kill_strays(supervisor_children_t *self);

/* The read end of the slot's event pipe, -1 if closed. */
int supervisor_children_events_fd(const supervisor_children_t *self, int index);

/* Reads event bytes from the slot's pipe without blocking. Returns how many; 0 at the end
   of the pipe (closed here: the child is gone or going), -1 if none are waiting. */
ssize_t supervisor_children_read_events(supervisor_children_t *self, int index, char *buffer,
                                        size_t size);

/* Writes one whole broadcast record (id for the log) to the slot's pipe, never blocking.
   Returns 0, or -1 if it was not sent: the pipe is full or failed (logged) or closed. */
int supervisor_children_send(supervisor_children_t *self, int index, const char *id,
                             const char *record, size_t size);

/* Resident set size of the slot's process in KiB from /proc/PID/statm; -1 if gone. */
int64_t supervisor_children_rss_kb(const supervisor_children_t *self, int index);

/* The slot's shared job counters. Returns false if there are none (the map failed). */
bool supervisor_children_counts(const supervisor_children_t *self, int index,
                                supervisor_job_counts_t *counts);

#endif
