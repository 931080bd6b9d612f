/*  supervisor_slot: what the restart policy remembers about one slot across the workers
    that fill it: the current worker's progress, the stop in hand, backoff and crash
    window, the last exit. A plain record that supervisor_policy.c alone holds and
    writes; the functions here are the steps every slot goes through and its read-only
    view for the cluster (supervisor_snapshot.h). The process itself is
    supervisor_children.c's. */
#ifndef SUPERVISOR_SLOT_H
#define SUPERVISOR_SLOT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "sl_defaults.h"
#include "supervisor.h"
#include "supervisor_children.h"
#include "supervisor_exit.h"
#include "supervisor_snapshot.h"
#include "worker_backoff.h"

#define SUPERVISOR_DETAIL_MAX 24 /* bytes of an exit detail ("signal=9", "code=1") */

typedef struct {
    int index;                     /* slot number, part of the child's identity */
    int64_t started_ms;            /* when the current child was forked */
    int64_t restart_at_ms;         /* when to fork again (no child, not stopped) */
    int64_t job_started_ms;        /* start of the job in hand, 0 when idle */
    uint64_t jobs;                 /* jobs the current child finished */
    int busy;                      /* jobs in hand by its events (started, not ended) */
    bool ready;                    /* the current child is registered with the broker */
    supervisor_exit_t stop_reason; /* why we signalled the child; NONE: not asked to stop */
    int64_t kill_at_ms;            /* SIGKILL if still alive by then; 0 = not scheduled */
    int64_t rss_check_ms;          /* next /proc/PID/statm read */
    bool stopped;                  /* crash loop: no more restarts until SIGHUP or start */
    worker_backoff_t backoff;      /* restart delays */
    worker_crash_window_t crashes; /* recent unplanned restarts */
    uint64_t restarts;             /* workers of this slot that ended and were replaced */
    supervisor_exit_t last_exit;   /* why the last one ended, NONE never */
    char last_exit_detail[SUPERVISOR_DETAIL_MAX]; /* how: "code=0", "signal=9" */
    int64_t last_exit_ms;                         /* when, 0 never */
    uint64_t broadcasts;                          /* broadcasts the current child handled */
    char last_broadcast[SL_BROADCAST_ID_MAX + 1]; /* id of the last one sent to it */
} supervisor_slot_t;

/* An empty slot number index that has never run a worker. */
void supervisor_slot_init(supervisor_slot_t *slot, int index, const supervisor_config_t *config);

/* "Fixed, try again" after a crash loop (SIGHUP, start): restarts begin a new series. */
void supervisor_slot_unstop(supervisor_slot_t *slot, const supervisor_config_t *config);

/* A new worker was forked into the slot at now: its progress starts from zero. */
void supervisor_slot_started(supervisor_slot_t *slot, int64_t now);

/* Remembers why and how the slot's worker ended, for the cluster view. */
void supervisor_slot_record_exit(supervisor_slot_t *slot, supervisor_exit_t reason,
                                 const char *detail, int64_t now);

/* The slot as the cluster view shows it: pid its process (0 none), wanted whether the
   policy wants it to run, counts the shared job counters (NULL none), rss_kb its size. */
void supervisor_slot_view(const supervisor_slot_t *slot, pid_t pid, bool wanted,
                          const supervisor_job_counts_t *counts, int64_t rss_kb, int64_t now,
                          supervisor_worker_view_t *view);

#endif
