/*  supervisor_exit: why a worker ended, as the restart policy decides it and the cluster
    view shows it (last_exit.reason, the recycled counters). Names and the wait-status
    detail only: which reason applies is supervisor_policy.c's call. */
#ifndef SUPERVISOR_EXIT_H
#define SUPERVISOR_EXIT_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    SUPERVISOR_EXIT_NONE = 0,        /* no exit yet, or the worker was not asked to stop */
    SUPERVISOR_EXIT_MAX_RSS,         /* recycled: above --max-rss-mb */
    SUPERVISOR_EXIT_MAX_REQUESTS,    /* recycled: served --max-requests jobs */
    SUPERVISOR_EXIT_JOB_TIMEOUT,     /* recycled: a job ran past --job-timeout-ms (SIGKILL) */
    SUPERVISOR_EXIT_SIGHUP,          /* rolled by SIGHUP */
    SUPERVISOR_EXIT_ROLLING_RESTART, /* rolled by the broker's restart command */
    SUPERVISOR_EXIT_STOPPED,         /* drained by the stop command */
    SUPERVISOR_EXIT_SCALED_DOWN,     /* drained: its slot is above the target */
    SUPERVISOR_EXIT_SIGNAL,          /* unplanned: killed by a signal */
    SUPERVISOR_EXIT_EXIT,            /* unplanned: exited by itself */
    SUPERVISOR_EXIT_CRASH_LOOP,      /* unplanned, and the slot stopped restarting */
    SUPERVISOR_EXIT_COUNT
} supervisor_exit_t;

/* The reason's name in logs and STATUS ("max_rss", ...), "" for NONE; static. */
const char *supervisor_exit_name(supervisor_exit_t reason);

/* True for the recycling reasons STATUS counts (max_rss, max_requests, job_timeout). */
bool supervisor_exit_is_recycle(supervisor_exit_t reason);

/* How a process ended, from its waitpid status: "signal=N" or "code=N". */
void supervisor_exit_detail(int wait_status, char *buffer, size_t size);

#endif
