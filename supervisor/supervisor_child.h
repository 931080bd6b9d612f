/*  supervisor_child: what a freshly forked worker process runs (supervisor_child.c), and
    the per-slot job counters it shares with the supervisor. Forking is
    supervisor_children.c's; nothing here runs in the supervisor itself. */
#ifndef SUPERVISOR_CHILD_H
#define SUPERVISOR_CHILD_H

#include <stdint.h>
#include "supervisor.h"

/* Per-slot counters in memory shared with the children (MAP_SHARED, made before any fork):
   the child bumps them on every job without a system call, the supervisor reads them for
   the cluster view. Job events on the pipe stay reserved for the policies that need them.
   A program: worker has none of this: its counts are what the policy makes of its events. */
typedef struct {
    _Atomic uint64_t jobs;          /* jobs the current child finished */
    _Atomic int64_t job_started_ms; /* CLOCK_MONOTONIC ms when it went from idle to busy, 0 idle */
    _Atomic int busy;               /* jobs it holds now */
} supervisor_counters_t;

/* In the child, before supervisor_child_main: where its job counters live (NULL: none). */
void supervisor_child_set_counters(supervisor_counters_t *counters);

/* In a freshly forked child: becomes worker slot, telling the supervisor about it through
   event_fd and reading broadcasts from broadcast_fd, and exits (0 after a clean stop, 1 if
   the worker could not start). */
void supervisor_child_main(const supervisor_config_t *config, int slot, int event_fd,
                           int broadcast_fd) __attribute__((noreturn));

#endif
