/*  supervisor_private: the supervisor's slot table and state, shared by supervisor.c (the
    restart policy and its loop) and supervisor_agent.c (reports them to the broker and
    applies the broker's commands through the supervisor_* calls below). Nothing else
    includes it. */
#ifndef SUPERVISOR_PRIVATE_H
#define SUPERVISOR_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "sl_defaults.h"
#include "supervisor.h"
#include "worker_backoff.h"

#define SUPERVISOR_REASON_MAX 24 /* bytes of a recorded exit reason ("max_rss", ...) */

typedef struct {
    int index;                     /* slot number, part of the child's identity */
    pid_t pid;                     /* the child, 0 when none */
    int events_fd;                 /* read end of the child's event pipe, -1 when none */
    int broadcast_fd;              /* write end of the child's broadcast pipe, -1 when none */
    int64_t started_ms;            /* when the current child was forked */
    int64_t restart_at_ms;         /* when to fork again (pid 0, not stopped) */
    int64_t job_started_ms;        /* start of the job in hand, 0 when idle */
    uint64_t jobs;                 /* jobs the current child finished */
    bool ready;                    /* the current child is registered with the broker */
    const char *stop_reason;       /* why we signalled the child; NULL: not asked to stop */
    int64_t kill_at_ms;            /* SIGKILL if still alive by then; 0 = not scheduled */
    int64_t rss_check_ms;          /* next /proc/PID/statm read */
    int64_t rss_kb;                /* resident size at the last read, -1 unknown */
    bool stopped;                  /* crash loop: no more restarts until SIGHUP */
    worker_backoff_t backoff;      /* restart delays */
    worker_crash_window_t crashes; /* recent unplanned restarts */
    uint64_t restarts;             /* workers of this slot that ended and were replaced */
    char last_exit[SUPERVISOR_REASON_MAX];        /* why the last one ended, "" never */
    char last_exit_detail[SUPERVISOR_REASON_MAX]; /* how: "code=0", "signal=9" */
    int64_t last_exit_ms;                         /* when, 0 never */
    uint64_t broadcasts;                          /* broadcasts the current child handled */
    char last_broadcast[SL_BROADCAST_ID_MAX + 1]; /* id of the last one sent to it */
} supervisor_slot_t;

/* Per-slot counters in memory shared with the children (MAP_SHARED, made before any fork):
   the child bumps them on every job without a system call, the agent reads them for the
   cluster view. Job events on the pipe stay reserved for the policies that need them. */
typedef struct {
    _Atomic uint64_t jobs;          /* jobs the current child finished */
    _Atomic int64_t job_started_ms; /* CLOCK_MONOTONIC ms when it went from idle to busy, 0 idle */
    _Atomic int busy;               /* jobs it holds now */
} supervisor_counters_t;

typedef struct _supervisor_agent_t supervisor_agent_t;

typedef struct {
    const supervisor_config_t *config;     /* read-only after start-up */
    supervisor_slot_t *slots;              /* SL_MAX_WORKER_SLOTS slots */
    int slot_count;                        /* slots that may hold a child: all above are empty */
    int target;                            /* workers wanted: --count, then scale commands */
    bool paused;                           /* stop command: no worker wanted until start */
    bool shutting_down;                    /* SIGTERM/SIGINT received */
    int64_t shutdown_kill_ms;              /* SIGKILL whatever is left then */
    int roll_next;                         /* rolling restart: next slot; > slot_count when done */
    int roll_waiting;                      /* slot whose replacement we wait for, -1 none */
    char roll_id[SL_BROADCAST_ID_MAX + 1]; /* admin roll under way, "" none */
    char roll_done[SL_BROADCAST_ID_MAX + 1]; /* last admin roll that finished */
    int64_t started_ms;                      /* when the supervisor started */
    uint64_t recycles[4]; /* planned exits: max_rss, max_requests, job_timeout, other */
    bool changed;         /* slots, targets or rolls changed: the agent reports it within 50 ms */
    bool activity;        /* jobs started or ended: reported in the next heartbeat's STATUS */
    supervisor_agent_t *agent;       /* the broker agent, NULL if it could not start */
    supervisor_counters_t *counters; /* SL_MAX_WORKER_SLOTS, shared with children */
} supervisor_state_t;

/* CLOCK_MONOTONIC in milliseconds. */
int64_t supervisor_now_ms(void);

/* Resident set size of pid in KiB from /proc/PID/statm; -1 if the process is gone. */
int64_t supervisor_rss_kb(pid_t pid);

/* True if slot index should run a worker now (below the target, not paused). */
bool supervisor_slot_wanted(const supervisor_state_t *self, int index);

/* Sets the number of workers: new slots start at once, surplus ones drain (SIGTERM) and
   are not restarted. */
void supervisor_scale(supervisor_state_t *self, int count);

/* stop (paused true): every worker drains and none starts; start (false) undoes it. */
void supervisor_pause(supervisor_state_t *self, bool paused);

/* Starts a rolling restart, one worker at a time (as SIGHUP); roll_id (may be NULL) is
   reported as roll_done once the last slot is back. */
void supervisor_roll(supervisor_state_t *self, const char *roll_id);

/* Writes a broadcast to every live, registered worker that is not stopping. Returns the
   number of workers it went to. */
int supervisor_broadcast(supervisor_state_t *self, const char *id, const char *data, size_t size);

/* In the child, before supervisor_child_main: where its job counters live. */
void supervisor_child_set_counters(supervisor_counters_t *counters);

/* --- supervisor_agent.c --- */

/* Connects the agent to config->broker (a DEALER of its own; plain libzmq, no czmq, so
   forked children inherit no czmq state). NULL if it cannot start: the supervisor runs
   on without one, unmanaged. */
supervisor_agent_t *supervisor_agent_new(supervisor_state_t *state);

/* Closes the agent's ZeroMQ context before a fork: a child forked while libzmq's threads run
   can inherit its state mid-operation and hang. supervisor_agent_process reopens it. */
void supervisor_agent_suspend(supervisor_agent_t *self);

/* Sends BYE and closes; safe on NULL and twice. */
void supervisor_agent_destroy(supervisor_agent_t **self_p);

/* The descriptor to poll for input (ZMQ_FD), -1 if none. */
int supervisor_agent_fd(supervisor_agent_t *self);

/* Handles every command waiting, sends STATUS if due (heartbeat, or a change at most
   every SL_AGENT_STATUS_MIN_MS), and returns ms until it wants to run again. */
int64_t supervisor_agent_process(supervisor_agent_t *self);

#endif
