/*  supervisor_policy: the restart policy (supervisor_policy.h). A child's exit is
    classified once, where it is reaped: planned (we asked: job_timeout, max_requests,
    max_rss, sighup, rolling_restart) restarts at once; anything else backs off and counts
    toward the crash-loop stop; the reason is kept per slot for the cluster view. The slot
    count follows the target the broker sets (scale, stop, start). Every process operation
    goes through supervisor_children.c. */
#include <assert.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sl_defaults.h"
#include "sl_log.h"
#include "supervisor_clock.h"
#include "supervisor_exit.h"
#include "supervisor_policy.h"
#include "supervisor_slot.h"
#include "worker_backoff.h"
#include "worker_broadcast.h"
#include "worker_hooks.h"

struct _supervisor_policy_t {
    const supervisor_config_t *config;     /* read-only after start-up */
    supervisor_children_t *children;       /* borrowed: the processes */
    supervisor_slot_t *slots;              /* SL_MAX_WORKER_SLOTS slots */
    int slot_count;                        /* slots that may hold a child: all above are empty */
    int target;                            /* workers wanted: --count, then scale commands */
    bool paused;                           /* stop command: no worker wanted until start */
    bool shutting_down;                    /* SIGTERM/SIGINT received */
    int64_t shutdown_kill_ms;              /* SIGKILL whatever is left then */
    int roll_next;                         /* rolling restart: next slot; > slot_count when done */
    int roll_waiting;                      /* slot whose replacement we wait for, -1 none */
    char roll_id[SL_BROADCAST_ID_MAX + 1]; /* admin roll under way, "" none */
    char roll_done[SL_BROADCAST_ID_MAX + 1];  /* last admin roll that finished */
    int64_t started_ms;                       /* when the supervisor started */
    uint64_t recycles[SUPERVISOR_EXIT_COUNT]; /* planned exits, by recycling reason */
    bool changed;  /* slots, targets or rolls changed: the agent reports it within 50 ms */
    bool activity; /* jobs started or ended: reported in the next heartbeat's STATUS */
};

supervisor_policy_t *supervisor_policy_new(const supervisor_config_t *config,
                                           supervisor_children_t *children)
{
    supervisor_policy_t *self = calloc(1, sizeof *self);
    if (!self)
        goto fail_self;
    //  Every possible slot up front: scaling never moves a slot
    self->slots = calloc(SL_MAX_WORKER_SLOTS, sizeof *self->slots);
    if (!self->slots)
        goto fail_slots;
    self->config = config;
    self->children = children;
    self->roll_next = SL_MAX_WORKER_SLOTS + 1;
    self->roll_waiting = -1;
    self->target = self->slot_count = config->count;
    self->started_ms = supervisor_now_ms();
    for (int i = 0; i < SL_MAX_WORKER_SLOTS; i++)
        supervisor_slot_init(&self->slots[i], i, config);
    return self;

fail_slots:
    free(self);
fail_self:
    return NULL;
}

void supervisor_policy_destroy(supervisor_policy_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->slots);
    free(*self_p);
    *self_p = NULL;
}

static pid_t s_pid(const supervisor_policy_t *self, const supervisor_slot_t *slot)
{
    return supervisor_children_pid(self->children, slot->index);
}

//  True if slot index should run a worker now (below the target, not paused).
static bool s_wanted(const supervisor_policy_t *self, int index)
{
    return !self->paused && index < self->target;
}

static void s_start(supervisor_policy_t *self, supervisor_slot_t *slot)
{
    if (supervisor_children_start(self->children, slot->index) == -1) {
        slot->restart_at_ms = supervisor_now_ms() + worker_backoff_next(&slot->backoff);
        return;
    }
    supervisor_slot_started(slot, supervisor_now_ms());
    self->changed = true;
}

//  Asks a child to stop for reason: SIGTERM drains it (SIGKILL at the drain timeout),
//  SIGKILL is for a job past its timeout, which will not finish by itself.
static void s_stop_child(supervisor_policy_t *self, supervisor_slot_t *slot,
                         supervisor_exit_t reason, int signal)
{
    if (!s_pid(self, slot) || slot->stop_reason != SUPERVISOR_EXIT_NONE)
        return;
    slot->stop_reason = reason;
    slot->kill_at_ms = signal == SIGKILL ? 0 : supervisor_now_ms() + self->config->drain_timeout_ms;
    supervisor_children_signal(self->children, slot->index, signal);
}

//  The roll moves on once the slot it waits for is up again (or given up on).
static void s_roll_advance(supervisor_policy_t *self)
{
    while (self->roll_waiting == -1 && self->roll_next < self->slot_count && !self->shutting_down) {
        supervisor_slot_t *slot = &self->slots[self->roll_next++];
        if (!s_wanted(self, slot->index))
            continue; // draining or paused: nothing to roll
        if (slot->stopped)
            supervisor_slot_unstop(
                slot, self->config); // SIGHUP is also how an operator says "fixed, try again"
        if (s_pid(self, slot))
            s_stop_child(self, slot,
                         self->roll_id[0] ? SUPERVISOR_EXIT_ROLLING_RESTART
                                          : SUPERVISOR_EXIT_SIGHUP,
                         SIGTERM);
        else
            slot->restart_at_ms = supervisor_now_ms();
        self->roll_waiting = slot->index;
    }
    if (self->roll_waiting == -1 && self->roll_next == self->slot_count) {
        sl_log(SL_LOG_INFO, NULL, "rolling_restart_done", "slots=%d roll=%s", self->slot_count,
               self->roll_id[0] ? self->roll_id : "-");
        self->roll_next = SL_MAX_WORKER_SLOTS + 1; // logged once
        memcpy(self->roll_done, self->roll_id, sizeof self->roll_done);
        self->roll_id[0] = '\0';
        self->changed = true;
    }
}

//  The slot the roll waits for is done with (back up, retired or given up on).
static void s_roll_release(supervisor_policy_t *self, const supervisor_slot_t *slot)
{
    if (self->roll_waiting == slot->index) {
        self->roll_waiting = -1;
        s_roll_advance(self);
    }
}

//  A job ended. The clock of the job timeout restarts with every end: a program that runs
//  jobs side by side tells no job apart, and one finishing is progress. A C worker runs
//  them one at a time, so it is exact there. A program cannot stop itself at max-requests
//  as a C worker does (sl_worker_set_max_jobs): it is drained here after its last job.
static void s_job_ended(supervisor_policy_t *self, supervisor_slot_t *slot)
{
    if (slot->busy > 0)
        slot->busy--;
    slot->job_started_ms = slot->busy > 0 ? supervisor_now_ms() : 0;
    slot->jobs++;
    self->activity = true;
    int64_t max = self->config->max_requests;
    if (self->config->handler.program && max && slot->jobs >= (uint64_t) max)
        s_stop_child(self, slot, SUPERVISOR_EXIT_MAX_REQUESTS, SIGTERM);
}

void supervisor_policy_read_events(supervisor_policy_t *self, int index)
{
    supervisor_slot_t *slot = &self->slots[index];
    char buffer[256];
    ssize_t size;
    while ((size = supervisor_children_read_events(self->children, index, buffer, sizeof buffer)) >
           0)
        for (ssize_t i = 0; i < size; i++) {
            if (buffer[i] == WORKER_EVENT_REGISTERED) {
                slot->ready = true;
                if (slot->stop_reason == SUPERVISOR_EXIT_NONE)
                    s_roll_release(self, slot);
                self->changed = true;
            } else if (buffer[i] == WORKER_EVENT_JOB_START) {
                //  A C worker logs its own jobs; a program's are seen here only
                if (self->config->handler.program)
                    sl_log(SL_LOG_DEBUG, NULL, "program_job_started", "slot=%d pid=%d", index,
                           (int) s_pid(self, slot));
                if (slot->busy++ == 0)
                    slot->job_started_ms = supervisor_now_ms();
                self->activity = true;
            } else if (buffer[i] == WORKER_EVENT_JOB_END) {
                s_job_ended(self, slot);
            } else if (buffer[i] == WORKER_EVENT_BROADCAST) {
                slot->broadcasts++;
                self->changed = true;
            }
        }
}

//  The cluster view shows why a slot's worker ended, and counts the recycled ones.
static void s_record_exit(supervisor_policy_t *self, supervisor_slot_t *slot,
                          supervisor_exit_t reason, const char *detail, int64_t now)
{
    supervisor_slot_record_exit(slot, reason, detail, now);
    if (supervisor_exit_is_recycle(reason))
        self->recycles[reason]++;
}

//  Drops empty unwanted slots off the top, so loops stop at the highest live slot.
static void s_shrink(supervisor_policy_t *self)
{
    while (self->slot_count > self->target && self->slot_count > 0 &&
           !supervisor_children_pid(self->children, self->slot_count - 1))
        self->slot_count--;
}

//  Decides what a child's exit means and when the slot starts again.
static void s_on_exit(supervisor_policy_t *self, supervisor_slot_t *slot, int status)
{
    supervisor_policy_read_events(self, slot->index); // the last job ends decide max_requests
    pid_t pid = s_pid(self, slot);
    supervisor_children_forget(self->children, slot->index);
    self->changed = true;
    int64_t now = supervisor_now_ms();
    int64_t uptime = now - slot->started_ms;
    supervisor_exit_t reason = slot->stop_reason;
    bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (reason == SUPERVISOR_EXIT_NONE && clean && self->config->max_requests &&
        slot->jobs >= (uint64_t) self->config->max_requests)
        reason = SUPERVISOR_EXIT_MAX_REQUESTS;
    char detail[SUPERVISOR_DETAIL_MAX];
    supervisor_exit_detail(status, detail, sizeof detail);
    if (self->shutting_down) {
        sl_log(SL_LOG_INFO, NULL, "worker_exited", "slot=%d pid=%d %s", slot->index, (int) pid,
               detail);
        return;
    }
    if (!s_wanted(self, slot->index)) {
        //  Scaled down or stopped: the slot stays empty, its history stays visible
        if (reason == SUPERVISOR_EXIT_NONE)
            reason = SUPERVISOR_EXIT_EXIT;
        s_record_exit(self, slot, reason, detail, now);
        sl_log(SL_LOG_INFO, NULL, "worker_retired", "slot=%d pid=%d reason=%s %s", slot->index,
               (int) pid, supervisor_exit_name(reason), detail);
        s_shrink(self);
        s_roll_release(self, slot);
        return;
    }
    int64_t delay = 0;
    bool planned = reason != SUPERVISOR_EXIT_NONE;
    if (!planned) {
        reason = WIFSIGNALED(status) ? SUPERVISOR_EXIT_SIGNAL : SUPERVISOR_EXIT_EXIT;
        //  A child that stayed up long enough was healthy: its crash starts a new series
        if (uptime >= SL_RESTART_RESET_AFTER_MS)
            worker_backoff_reset(&slot->backoff);
        if (worker_crash_window_record(&slot->crashes, now)) {
            slot->stopped = true;
            sl_log(SL_LOG_ERROR, NULL, "crash_loop",
                   "slot=%d pid=%d %s restarts=%d window_ms=%lld action=slot_stopped", slot->index,
                   (int) pid, detail, slot->crashes.limit, (long long) slot->crashes.window_ms);
            s_record_exit(self, slot, SUPERVISOR_EXIT_CRASH_LOOP, detail, now);
            s_roll_release(self, slot);
            return;
        }
        delay = worker_backoff_next(&slot->backoff);
    }
    s_record_exit(self, slot, reason, detail, now);
    slot->restarts++;
    slot->restart_at_ms = now + delay;
    sl_log(planned ? SL_LOG_INFO : SL_LOG_WARN, NULL, "worker_restart",
           "slot=%d pid=%d reason=%s %s uptime_ms=%lld delay_ms=%lld", slot->index, (int) pid,
           supervisor_exit_name(reason), detail, (long long) uptime, (long long) delay);
}

void supervisor_policy_reap(supervisor_policy_t *self)
{
    int index, status;
    while (supervisor_children_reap(self->children, &index, &status))
        s_on_exit(self, &self->slots[index], status);
}

//  One live slot's deadlines: drain surplus, job timeout, max RSS, drain timeout.
static void s_check_child(supervisor_policy_t *self, supervisor_slot_t *slot, int64_t now)
{
    const supervisor_config_t *config = self->config;
    pid_t pid = s_pid(self, slot);
    bool asked = slot->stop_reason != SUPERVISOR_EXIT_NONE;
    if (!s_wanted(self, slot->index) && !asked && !self->shutting_down)
        s_stop_child(self, slot,
                     self->paused ? SUPERVISOR_EXIT_STOPPED : SUPERVISOR_EXIT_SCALED_DOWN, SIGTERM);
    if (config->job_timeout_ms && slot->job_started_ms &&
        slot->stop_reason == SUPERVISOR_EXIT_NONE &&
        now - slot->job_started_ms >= config->job_timeout_ms) {
        sl_log(SL_LOG_WARN, NULL, "job_timeout", "slot=%d pid=%d running_ms=%lld action=kill",
               slot->index, (int) pid, (long long) (now - slot->job_started_ms));
        s_stop_child(self, slot, SUPERVISOR_EXIT_JOB_TIMEOUT, SIGKILL);
    }
    if (config->max_rss_mb && now >= slot->rss_check_ms) {
        slot->rss_check_ms = now + SL_RSS_CHECK_INTERVAL_MS;
        int64_t rss_kb = supervisor_children_rss_kb(self->children, slot->index);
        int64_t rss = rss_kb < 0 ? -1 : rss_kb / 1024;
        if (rss > config->max_rss_mb && slot->stop_reason == SUPERVISOR_EXIT_NONE) {
            sl_log(SL_LOG_INFO, NULL, "max_rss", "slot=%d pid=%d rss_mb=%lld limit_mb=%lld",
                   slot->index, (int) pid, (long long) rss, (long long) config->max_rss_mb);
            s_stop_child(self, slot, SUPERVISOR_EXIT_MAX_RSS, SIGTERM);
        }
    }
    if (slot->kill_at_ms && now >= slot->kill_at_ms) {
        sl_log(SL_LOG_WARN, NULL, "drain_timeout", "slot=%d pid=%d action=kill", slot->index,
               (int) pid);
        supervisor_children_signal(self->children, slot->index, SIGKILL);
        slot->kill_at_ms = 0;
    }
}

void supervisor_policy_run_timers(supervisor_policy_t *self)
{
    int64_t now = supervisor_now_ms();
    for (int i = 0; i < self->slot_count; i++) {
        supervisor_slot_t *slot = &self->slots[i];
        if (s_pid(self, slot))
            s_check_child(self, slot, now);
        else if (s_wanted(self, i) && !slot->stopped && !self->shutting_down &&
                 now >= slot->restart_at_ms)
            s_start(self, slot);
    }
    if (self->shutting_down && self->shutdown_kill_ms && now >= self->shutdown_kill_ms) {
        for (int i = 0; i < self->slot_count; i++) {
            pid_t pid = supervisor_children_pid(self->children, i);
            if (pid) {
                sl_log(SL_LOG_WARN, NULL, "drain_timeout", "slot=%d pid=%d action=kill", i,
                       (int) pid);
                supervisor_children_signal(self->children, i, SIGKILL);
            }
        }
        self->shutdown_kill_ms = 0;
    }
}

int supervisor_policy_wait_ms(const supervisor_policy_t *self)
{
    const supervisor_config_t *config = self->config;
    int64_t now = supervisor_now_ms();
    int64_t wake = now + 1000;
#define S_EARLIER(when)                                                                            \
    do {                                                                                           \
        if ((when) < wake)                                                                         \
            wake = (when);                                                                         \
    } while (0)
    for (int i = 0; i < self->slot_count; i++) {
        const supervisor_slot_t *slot = &self->slots[i];
        bool live = s_pid(self, slot) != 0;
        if (!live && !slot->stopped && !self->shutting_down && s_wanted(self, i))
            S_EARLIER(slot->restart_at_ms);
        if (live && config->job_timeout_ms && slot->job_started_ms &&
            slot->stop_reason == SUPERVISOR_EXIT_NONE)
            S_EARLIER(slot->job_started_ms + config->job_timeout_ms);
        if (live && config->max_rss_mb)
            S_EARLIER(slot->rss_check_ms);
        if (live && slot->kill_at_ms)
            S_EARLIER(slot->kill_at_ms);
    }
    if (self->shutting_down && self->shutdown_kill_ms)
        S_EARLIER(self->shutdown_kill_ms);
#undef S_EARLIER
    return wake > now ? (int) (wake - now) : 0;
}

int supervisor_policy_slot_count(const supervisor_policy_t *self)
{
    return self->slot_count;
}

void supervisor_policy_shut_down(supervisor_policy_t *self, int signal_number)
{
    if (self->shutting_down) {
        //  A second SIGTERM/SIGINT: the operator will not wait for the drain
        self->shutdown_kill_ms = supervisor_now_ms();
        return;
    }
    self->shutting_down = true;
    self->shutdown_kill_ms = supervisor_now_ms() + self->config->drain_timeout_ms;
    sl_log(SL_LOG_INFO, NULL, "draining", "signal=%d drain_timeout_ms=%lld", signal_number,
           (long long) self->config->drain_timeout_ms);
    for (int i = 0; i < self->slot_count; i++)
        supervisor_children_signal(self->children, i, SIGTERM);
}

void supervisor_policy_roll(supervisor_policy_t *self, const char *roll_id)
{
    if (self->shutting_down)
        return;
    //  Exactly once: the same roll may be asked twice (a gateway retries an unanswered
    //  command through another broker; a broker tells again a command it thinks lost). One
    //  under way goes on, one done is not done again; STATUS reports either as it is.
    if (roll_id && *roll_id &&
        (strcmp(roll_id, self->roll_id) == 0 || strcmp(roll_id, self->roll_done) == 0)) {
        sl_log(SL_LOG_INFO, NULL, "roll_repeated", "roll=%s state=%s action=ignored", roll_id,
               strcmp(roll_id, self->roll_id) == 0 ? "rolling" : "done");
        return;
    }
    sl_log(SL_LOG_INFO, NULL, "rolling_restart", "slots=%d roll=%s", self->slot_count,
           roll_id ? roll_id : "-");
    snprintf(self->roll_id, sizeof self->roll_id, "%s", roll_id ? roll_id : "");
    self->roll_next = 0;
    self->roll_waiting = -1;
    self->changed = true;
    s_roll_advance(self);
}

//  New slots start at once, surplus ones drain (SIGTERM, from the timers) and are not
//  restarted.
static void s_scale(supervisor_policy_t *self, int asked)
{
    assert(asked >= 0 && asked <= SL_MAX_WORKER_SLOTS);
    //  This host's own limits (--min, --max) win over what the cluster asks
    int count = asked < self->config->min_workers   ? self->config->min_workers
                : asked > self->config->max_workers ? self->config->max_workers
                                                    : asked;
    if (count != asked)
        sl_log(SL_LOG_INFO, NULL, "scale_limited", "asked=%d to=%d min=%d max=%d", asked, count,
               self->config->min_workers, self->config->max_workers);
    if (count == self->target)
        return;
    sl_log(SL_LOG_INFO, NULL, "scale", "from=%d to=%d", self->target, count);
    self->target = count;
    if (count > self->slot_count) {
        for (int i = self->slot_count; i < count; i++) {
            supervisor_slot_t *slot = &self->slots[i];
            //  A slot used before keeps its history; it starts at once, without backoff
            slot->restart_at_ms = 0;
            slot->stopped = false;
        }
        self->slot_count = count;
    }
    s_shrink(self);
    self->changed = true;
}

//  stop (paused true): every worker drains and none starts; start (false) undoes it.
static void s_pause(supervisor_policy_t *self, bool paused)
{
    if (self->paused == paused)
        return;
    sl_log(SL_LOG_INFO, NULL, paused ? "workers_stopping" : "workers_starting", "count=%d",
           self->target);
    self->paused = paused;
    if (!paused)
        for (int i = 0; i < self->slot_count; i++) {
            self->slots[i].restart_at_ms = 0;
            if (self->slots[i].stopped)
                supervisor_slot_unstop(
                    &self->slots[i], self->config); // start after a crash loop: "fixed, try again"
        }
    self->changed = true;
}

//  Writes a broadcast to every live, registered worker that is not stopping.
static void s_broadcast(supervisor_policy_t *self, const char *id, const char *data, size_t size)
{
    size_t record_size = 0;
    char *record = worker_broadcast_encode(id, data, size, &record_size);
    if (!record)
        return;
    int sent = 0;
    for (int i = 0; i < self->slot_count; i++) {
        supervisor_slot_t *slot = &self->slots[i];
        if (!s_pid(self, slot) || !slot->ready || slot->stop_reason != SUPERVISOR_EXIT_NONE)
            continue;
        if (supervisor_children_send(self->children, i, id, record, record_size) == -1)
            continue;
        snprintf(slot->last_broadcast, sizeof slot->last_broadcast, "%s", id);
        sent++;
    }
    free(record);
    sl_log(SL_LOG_INFO, NULL, "broadcast", "id=%s bytes=%zu workers=%d", id, size, sent);
    self->changed = true;
}

void supervisor_policy_apply(supervisor_policy_t *self, const supervisor_command_t *command)
{
    switch (command->op) {
    case SL_AGENT_OP_SCALE:
        s_scale(self, command->count);
        break;
    case SL_AGENT_OP_RESTART:
        supervisor_policy_roll(self, command->roll);
        break;
    case SL_AGENT_OP_STOP:
        s_pause(self, true);
        break;
    case SL_AGENT_OP_START:
        s_pause(self, false);
        break;
    case SL_AGENT_OP_STATUS:
        break; // the broker does not know us (it restarted): the next STATUS answers it
    case SL_AGENT_OP_LOAD:
        break; // kept by the agent (supervisor_loads), never handed to the loop
    case SL_AGENT_OP_BROADCAST:
        s_broadcast(self, command->id, command->message, command->size);
        break;
    }
    self->changed = true;
}

bool supervisor_policy_finished(const supervisor_policy_t *self)
{
    if (!self->shutting_down)
        return false;
    for (int i = 0; i < self->slot_count; i++)
        if (supervisor_children_pid(self->children, i))
            return false;
    return true;
}

void supervisor_policy_news(const supervisor_policy_t *self, bool *changed, bool *activity)
{
    *changed = self->changed;
    *activity = self->activity;
}

void supervisor_policy_news_reported(supervisor_policy_t *self)
{
    self->changed = self->activity = false;
}

void supervisor_policy_snapshot(const supervisor_policy_t *self, supervisor_snapshot_t *snapshot)
{
    int64_t now = supervisor_now_ms();
    snapshot->target = self->target;
    snapshot->paused = self->paused;
    snapshot->uptime_ms = now - self->started_ms;
    memcpy(snapshot->recycled, self->recycles, sizeof snapshot->recycled);
    snapshot->roll_active = self->roll_next <= self->slot_count;
    snapshot->roll_id = self->roll_id;
    snapshot->roll_done = self->roll_done;
    snapshot->worker_count = self->slot_count;
    for (int i = 0; i < self->slot_count; i++) {
        pid_t pid = supervisor_children_pid(self->children, i);
        supervisor_job_counts_t counts;
        bool counted = supervisor_children_counts(self->children, i, &counts);
        int64_t rss_kb = pid ? supervisor_children_rss_kb(self->children, i) : -1;
        supervisor_slot_view(&self->slots[i], pid, s_wanted(self, i), counted ? &counts : NULL,
                             rss_kb, now, &snapshot->workers[i]);
    }
}
