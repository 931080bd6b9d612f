/*  supervisor_snapshot: a read-only picture of the slot table at one instant, what the
    policy (supervisor_policy_snapshot) hands the agent to encode as STATUS. Plain data, no
    functions: the policy fills it, the agent only reads it. */
#ifndef SUPERVISOR_SNAPSHOT_H
#define SUPERVISOR_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "supervisor_exit.h"

typedef enum {
    SUPERVISOR_SLOT_STOPPING,   /* asked to stop, not gone yet */
    SUPERVISOR_SLOT_STARTING,   /* forked, not registered with the broker yet */
    SUPERVISOR_SLOT_BUSY,       /* holds a job */
    SUPERVISOR_SLOT_IDLE,       /* registered, no job */
    SUPERVISOR_SLOT_CRASH_LOOP, /* empty: restarts stopped until SIGHUP or start */
    SUPERVISOR_SLOT_STOPPED,    /* empty: above the target, or paused */
    SUPERVISOR_SLOT_RESTARTING  /* empty: waiting out its backoff */
} supervisor_slot_state_t;

typedef struct {
    int slot;                      /* slot number */
    pid_t pid;                     /* the worker, 0 when none */
    supervisor_slot_state_t state; /* what it is doing */
    int64_t job_age_ms;            /* age of the job in hand, 0 when none */
    uint64_t jobs;                 /* jobs the current worker finished */
    uint64_t restarts;             /* workers of this slot that ended and were replaced */
    int64_t rss_kb;                /* resident size, -1 unknown or no worker */
    int64_t uptime_ms;             /* age of the current worker, 0 when none */
    uint64_t broadcasts;           /* broadcasts the current worker handled */
    const char *last_broadcast;    /* id of the last one sent to it, "" none; borrowed */
    supervisor_exit_t last_exit;   /* why the last one ended, NONE never */
    const char *last_exit_detail;  /* how: "code=0", "signal=9"; borrowed */
    int64_t last_exit_ago_ms;      /* how long ago */
} supervisor_worker_view_t;

typedef struct {
    int target;                               /* workers wanted */
    bool paused;                              /* stop command in force */
    int64_t uptime_ms;                        /* age of the supervisor */
    uint64_t recycled[SUPERVISOR_EXIT_COUNT]; /* planned exits, by recycling reason */
    bool roll_active;                         /* a rolling restart is under way */
    const char *roll_id;                      /* its admin id, "" none; borrowed */
    const char *roll_done;                    /* last admin roll that finished; borrowed */
    int worker_count;                         /* entries in workers */
    supervisor_worker_view_t *workers;        /* SL_MAX_WORKER_SLOTS, the caller's */
} supervisor_snapshot_t;

#endif
