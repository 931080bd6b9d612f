/*  supervisor_slot: the steps of one slot's record and its view (supervisor_slot.h).
    Pure: no process, no clock, no log; the policy passes in what it knows. */
#include <stdio.h>
#include "supervisor_slot.h"

void supervisor_slot_init(supervisor_slot_t *slot, int index, const supervisor_config_t *config)
{
    *slot = (supervisor_slot_t){.index = index};
    worker_backoff_init(&slot->backoff, SL_RESTART_BACKOFF_MIN_MS, SL_RESTART_BACKOFF_MAX_MS,
                        SL_RESTART_BACKOFF_FACTOR);
    worker_crash_window_init(&slot->crashes, config->crash_loop_restarts,
                             config->crash_loop_window_ms);
}

void supervisor_slot_unstop(supervisor_slot_t *slot, const supervisor_config_t *config)
{
    slot->stopped = false;
    worker_backoff_reset(&slot->backoff);
    worker_crash_window_init(&slot->crashes, config->crash_loop_restarts,
                             config->crash_loop_window_ms);
}

void supervisor_slot_started(supervisor_slot_t *slot, int64_t now)
{
    slot->broadcasts = 0;
    slot->last_broadcast[0] = '\0';
    slot->started_ms = now;
    slot->job_started_ms = 0;
    slot->jobs = 0;
    slot->busy = 0;
    slot->ready = false;
    slot->stop_reason = SUPERVISOR_EXIT_NONE;
    slot->kill_at_ms = 0;
    slot->rss_check_ms = now + SL_RSS_CHECK_INTERVAL_MS;
}

void supervisor_slot_record_exit(supervisor_slot_t *slot, supervisor_exit_t reason,
                                 const char *detail, int64_t now)
{
    slot->last_exit = reason;
    snprintf(slot->last_exit_detail, sizeof slot->last_exit_detail, "%s", detail);
    slot->last_exit_ms = now;
}

static supervisor_slot_state_t s_state(const supervisor_slot_t *slot, pid_t pid, bool wanted,
                                       const supervisor_job_counts_t *counts)
{
    if (pid) {
        if (slot->stop_reason != SUPERVISOR_EXIT_NONE)
            return SUPERVISOR_SLOT_STOPPING;
        if (!slot->ready)
            return SUPERVISOR_SLOT_STARTING;
        bool busy = slot->job_started_ms || (counts && counts->busy > 0);
        return busy ? SUPERVISOR_SLOT_BUSY : SUPERVISOR_SLOT_IDLE;
    }
    if (slot->stopped)
        return SUPERVISOR_SLOT_CRASH_LOOP;
    if (!wanted)
        return SUPERVISOR_SLOT_STOPPED;
    return SUPERVISOR_SLOT_RESTARTING;
}

void supervisor_slot_view(const supervisor_slot_t *slot, pid_t pid, bool wanted,
                          const supervisor_job_counts_t *counts, int64_t rss_kb, int64_t now,
                          supervisor_worker_view_t *view)
{
    //  The shared counters see every job; the event pipe only when a policy needs it, or
    //  every one of a program: worker, which has no shared counters (they stay 0)
    uint64_t jobs = slot->jobs;
    int64_t job_started = slot->job_started_ms;
    if (counts && pid) {
        if (counts->jobs > jobs)
            jobs = counts->jobs;
        if (!job_started)
            job_started = counts->job_started_ms;
    }
    *view = (supervisor_worker_view_t){
        .slot = slot->index,
        .pid = pid,
        .state = s_state(slot, pid, wanted, counts),
        .job_age_ms = pid && job_started ? now - job_started : 0,
        .jobs = jobs,
        .restarts = slot->restarts,
        .rss_kb = pid ? rss_kb : -1,
        .uptime_ms = pid ? now - slot->started_ms : 0,
        .broadcasts = slot->broadcasts,
        .last_broadcast = slot->last_broadcast,
        .last_exit = slot->last_exit_ms ? slot->last_exit : SUPERVISOR_EXIT_NONE,
        .last_exit_detail = slot->last_exit_detail,
        .last_exit_ago_ms = now - slot->last_exit_ms,
    };
}
