/*  supervisor: the restart policy of slowlane-worker (see supervisor.h). One thread, one
    poll loop over a self-pipe (signals) and each child's event pipe (registered, job
    start, job end, broadcast handled). A child's exit is classified once, where it is
    reaped: planned (we asked: job_timeout, max_requests, max_rss, sighup) restarts at once;
    anything else backs off and counts toward the crash-loop stop; the reason is kept per
    slot for the cluster view. The slot count follows the target the broker's agent sets
    (scale, stop, start); supervisor_agent.c talks to the broker. */
#define _GNU_SOURCE // pipe2
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "sl_defaults.h"
#include "supervisor_private.h"
#include "worker_backoff.h"
#include "worker_broadcast.h"
#include "worker_hooks.h"

static int s_signal_pipe[2] = {-1, -1};

static void s_on_signal(int signal_number)
{
    int saved = errno;
    char byte = (char) signal_number;
    //  Full pipe: enough signals are already queued to wake the loop
    if (write(s_signal_pipe[1], &byte, 1) == -1) {
    }
    errno = saved;
}

static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t supervisor_now_ms(void)
{
    return s_now_ms();
}

bool supervisor_slot_wanted(const supervisor_state_t *self, int index)
{
    return !self->paused && index < self->target;
}

static int s_install_signals(void)
{
    if (pipe2(s_signal_pipe, O_CLOEXEC | O_NONBLOCK) == -1)
        return -1;
    struct sigaction action = {.sa_handler = s_on_signal, .sa_flags = SA_RESTART};
    sigemptyset(&action.sa_mask);
    int signals[] = {SIGCHLD, SIGTERM, SIGINT, SIGHUP};
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++)
        if (sigaction(signals[i], &action, NULL) == -1)
            return -1;
    //  A child's event pipe closing under us must be an error code, not our death
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

static void s_close_events(supervisor_slot_t *slot)
{
    if (slot->events_fd != -1)
        close(slot->events_fd);
    slot->events_fd = -1;
}

static void s_start(supervisor_state_t *self, supervisor_slot_t *slot)
{
    int events[2], broadcasts[2];
    if (pipe2(broadcasts, O_CLOEXEC) == -1) {
        sl_log(SL_LOG_ERROR, NULL, "fork_failed", "slot=%d errno=%d", slot->index, errno);
        slot->restart_at_ms = s_now_ms() + worker_backoff_next(&slot->backoff);
        return;
    }
    if (pipe2(events, O_CLOEXEC) == -1) {
        close(broadcasts[0]);
        close(broadcasts[1]);
        sl_log(SL_LOG_ERROR, NULL, "fork_failed", "slot=%d errno=%d", slot->index, errno);
        slot->restart_at_ms = s_now_ms() + worker_backoff_next(&slot->backoff);
        return;
    }
    if (self->counters) {
        //  Before the fork: the new child may count its first job at once
        atomic_store(&self->counters[slot->index].jobs, 0);
        atomic_store(&self->counters[slot->index].job_started_ms, 0);
        atomic_store(&self->counters[slot->index].busy, 0);
    }
    if (self->agent)
        supervisor_agent_suspend(self->agent); // no libzmq threads may run across the fork
    pid_t pid = fork();
    if (pid == 0) {
        //  The child keeps only its own write end: no other slot's pipe, no self-pipe
        for (int i = 0; i < self->slot_count; i++) {
            if (self->slots[i].events_fd != -1)
                close(self->slots[i].events_fd);
            if (self->slots[i].broadcast_fd != -1)
                close(self->slots[i].broadcast_fd);
        }
        close(s_signal_pipe[0]);
        close(s_signal_pipe[1]);
        close(events[0]);
        close(broadcasts[1]);
        supervisor_child_set_counters(self->counters ? &self->counters[slot->index] : NULL);
        supervisor_child_main(self->config, slot->index, events[1], broadcasts[0]);
    }
    close(events[1]);
    close(broadcasts[0]);
    if (pid == -1) {
        close(events[0]);
        close(broadcasts[1]);
        sl_log(SL_LOG_ERROR, NULL, "fork_failed", "slot=%d errno=%d", slot->index, errno);
        slot->restart_at_ms = s_now_ms() + worker_backoff_next(&slot->backoff);
        return;
    }
    //  Also here: whichever of parent and child runs first, the group exists for kill(-pid)
    setpgid(pid, pid);
    fcntl(events[0], F_SETFL, O_NONBLOCK);
    //  Room for pending broadcasts while the worker is in a long job; never block on it
    fcntl(broadcasts[1], F_SETPIPE_SZ, SL_BROADCAST_PIPE_BYTES);
    fcntl(broadcasts[1], F_SETFL, O_NONBLOCK);
    int64_t now = s_now_ms();
    slot->pid = pid;
    slot->events_fd = events[0];
    slot->broadcast_fd = broadcasts[1];
    slot->broadcasts = 0;
    slot->last_broadcast[0] = '\0';

    slot->rss_kb = -1;
    self->changed = true;
    slot->started_ms = now;
    slot->job_started_ms = 0;
    slot->jobs = 0;
    slot->ready = false;
    slot->stop_reason = NULL;
    slot->kill_at_ms = 0;
    slot->rss_check_ms = now + SL_RSS_CHECK_INTERVAL_MS;
    sl_log(SL_LOG_INFO, NULL, "worker_started", "slot=%d pid=%d", slot->index, (int) pid);
}

//  Asks a child to stop for reason: SIGTERM drains it (SIGKILL at the drain timeout),
//  SIGKILL is for a job past its timeout, which will not finish by itself.
static void s_stop_child(supervisor_state_t *self, supervisor_slot_t *slot, const char *reason,
                         int signal)
{
    if (!slot->pid || slot->stop_reason)
        return;
    slot->stop_reason = reason;
    slot->kill_at_ms = signal == SIGKILL ? 0 : s_now_ms() + self->config->drain_timeout_ms;
    kill(slot->pid, signal);
}

//  The roll moves on once the slot it waits for is up again (or given up on).
static void s_roll_advance(supervisor_state_t *self)
{
    while (self->roll_waiting == -1 && self->roll_next < self->slot_count && !self->shutting_down) {
        supervisor_slot_t *slot = &self->slots[self->roll_next++];
        if (!supervisor_slot_wanted(self, slot->index))
            continue; // draining or paused: nothing to roll
        if (slot->stopped) {
            //  SIGHUP is also how an operator says "fixed, try again" after a crash loop
            slot->stopped = false;
            worker_backoff_reset(&slot->backoff);
            worker_crash_window_init(&slot->crashes, self->config->crash_loop_restarts,
                                     self->config->crash_loop_window_ms);
        }
        if (slot->pid)
            s_stop_child(self, slot, self->roll_id[0] ? "rolling_restart" : "sighup", SIGTERM);
        else
            slot->restart_at_ms = s_now_ms();
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

static void s_read_events(supervisor_state_t *self, supervisor_slot_t *slot)
{
    char buffer[256];
    ssize_t size;
    while ((size = read(slot->events_fd, buffer, sizeof buffer)) > 0)
        for (ssize_t i = 0; i < size; i++) {
            if (buffer[i] == WORKER_EVENT_REGISTERED) {
                slot->ready = true;
                if (self->roll_waiting == slot->index && !slot->stop_reason) {
                    self->roll_waiting = -1;
                    s_roll_advance(self);
                }
                self->changed = true;
            } else if (buffer[i] == WORKER_EVENT_JOB_START) {
                slot->job_started_ms = s_now_ms();
                self->activity = true;
            } else if (buffer[i] == WORKER_EVENT_JOB_END) {
                slot->job_started_ms = 0;
                slot->jobs++;
                self->activity = true;
            } else if (buffer[i] == WORKER_EVENT_BROADCAST) {
                slot->broadcasts++;
                self->changed = true;
            }
        }
    if (size == 0)
        s_close_events(slot); // the child is gone or going; SIGCHLD will say how
}

//  True if pid is one of the supervisor's own workers.
static bool s_is_worker(const supervisor_state_t *self, pid_t pid)
{
    for (int i = 0; i < self->slot_count; i++)
        if (self->slots[i].pid == pid)
            return true;
    return false;
}

//  Kills what dead workers left running: their exec: scripts and whatever those started,
//  in any process group or session. The supervisor is a child subreaper, so an orphan of a
//  dead worker becomes the supervisor's child; every child that is not a worker is such a
//  stray. Without this a job-timeout kill would leave the script it was waiting for
//  running. A stray's own children become ours when it dies: s_reap calls this
//  again then, so a whole tree goes, a generation at a time.
static void s_kill_strays(supervisor_state_t *self)
{
    DIR *proc = opendir("/proc");
    if (!proc)
        return;
    pid_t me = getpid();
    int killed = 0;
    struct dirent *entry;
    while ((entry = readdir(proc))) {
        char path[300], stat[512];
        if (entry->d_name[0] < '1' || entry->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%s/stat", entry->d_name);
        FILE *file = fopen(path, "r");
        if (!file)
            continue;
        size_t size = fread(stat, 1, sizeof stat - 1, file);
        fclose(file);
        stat[size] = '\0';
        //  After the command name in parentheses: state ppid
        char *close_paren = strrchr(stat, ')');
        int parent;
        char state;
        pid_t pid = (pid_t) atoi(entry->d_name);
        if (close_paren && sscanf(close_paren + 1, " %c %d", &state, &parent) == 2 &&
            parent == me && state != 'Z' && !s_is_worker(self, pid)) {
            kill(pid, SIGKILL);
            killed++;
        }
    }
    closedir(proc);
    if (killed)
        sl_log(SL_LOG_INFO, NULL, "strays_killed", "processes=%d", killed);
}

//  Remembers why a slot's worker ended, for the cluster view: the reason a worker was
//  recycled (max_rss, max_requests, job_timeout) must be visible, not only logged.
static void s_record_exit(supervisor_state_t *self, supervisor_slot_t *slot, const char *reason,
                          const char *detail, int64_t now)
{
    snprintf(slot->last_exit, sizeof slot->last_exit, "%s", reason);
    snprintf(slot->last_exit_detail, sizeof slot->last_exit_detail, "%s", detail);
    slot->last_exit_ms = now;
    int kind = strcmp(reason, "max_rss") == 0        ? 0
               : strcmp(reason, "max_requests") == 0 ? 1
               : strcmp(reason, "job_timeout") == 0  ? 2
                                                     : 3;
    if (kind < 3)
        self->recycles[kind]++;
}

//  Drops empty unwanted slots off the top, so loops stop at the highest live slot.
static void s_shrink(supervisor_state_t *self)
{
    while (self->slot_count > self->target && self->slot_count > 0 &&
           !self->slots[self->slot_count - 1].pid)
        self->slot_count--;
}

//  Decides what a child's exit means and when the slot starts again.
static void s_on_exit(supervisor_state_t *self, supervisor_slot_t *slot, int status)
{
    if (slot->events_fd != -1)
        s_read_events(self, slot); // the last job-end events decide max_requests
    s_close_events(slot);
    if (slot->broadcast_fd != -1)
        close(slot->broadcast_fd);
    slot->broadcast_fd = -1;
    self->changed = true;
    kill(-slot->pid, SIGKILL); // its process group: what it started there, not yet orphaned
    s_kill_strays(self);
    int64_t now = s_now_ms();
    int64_t uptime = now - slot->started_ms;
    pid_t pid = slot->pid;
    slot->pid = 0;
    const char *reason = slot->stop_reason;
    bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!reason && clean && self->config->max_requests &&
        slot->jobs >= (uint64_t) self->config->max_requests)
        reason = "max_requests";
    char detail[SUPERVISOR_REASON_MAX]; /* "signal=N" or "code=N" always fit */
    if (WIFSIGNALED(status))
        snprintf(detail, sizeof detail, "signal=%d", WTERMSIG(status));
    else
        snprintf(detail, sizeof detail, "code=%d", WEXITSTATUS(status));
    if (self->shutting_down) {
        sl_log(SL_LOG_INFO, NULL, "worker_exited", "slot=%d pid=%d %s", slot->index, (int) pid,
               detail);
        return;
    }
    if (!supervisor_slot_wanted(self, slot->index)) {
        //  Scaled down or stopped: the slot stays empty, its history stays visible
        s_record_exit(self, slot, reason ? reason : "exit", detail, now);
        sl_log(SL_LOG_INFO, NULL, "worker_retired", "slot=%d pid=%d reason=%s %s", slot->index,
               (int) pid, reason ? reason : "exit", detail);
        s_shrink(self);
        if (self->roll_waiting == slot->index) {
            self->roll_waiting = -1;
            s_roll_advance(self);
        }
        return;
    }
    int64_t delay = 0;
    if (!reason) {
        reason = WIFSIGNALED(status) ? "signal" : "exit";
        //  A child that stayed up long enough was healthy: its crash starts a new series
        if (uptime >= SL_RESTART_RESET_AFTER_MS)
            worker_backoff_reset(&slot->backoff);
        if (worker_crash_window_record(&slot->crashes, now)) {
            slot->stopped = true;
            sl_log(SL_LOG_ERROR, NULL, "crash_loop",
                   "slot=%d pid=%d %s restarts=%d window_ms=%lld action=slot_stopped", slot->index,
                   (int) pid, detail, slot->crashes.limit, (long long) slot->crashes.window_ms);
            s_record_exit(self, slot, "crash_loop", detail, now);
            if (self->roll_waiting == slot->index) {
                self->roll_waiting = -1;
                s_roll_advance(self);
            }
            return;
        }
        delay = worker_backoff_next(&slot->backoff);
    }
    s_record_exit(self, slot, reason, detail, now);
    slot->restarts++;
    slot->restart_at_ms = now + delay;
    sl_log(strcmp(reason, "signal") == 0 || strcmp(reason, "exit") == 0 ? SL_LOG_WARN : SL_LOG_INFO,
           NULL, "worker_restart", "slot=%d pid=%d reason=%s %s uptime_ms=%lld delay_ms=%lld",
           slot->index, (int) pid, reason, detail, (long long) uptime, (long long) delay);
}

static void s_reap(supervisor_state_t *self)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        bool worker = false;
        for (int i = 0; i < self->slot_count && !worker; i++)
            if (self->slots[i].pid == pid) {
                s_on_exit(self, &self->slots[i], status);
                worker = true;
            }
        if (!worker) // a stray that died: its children are ours now
            s_kill_strays(self);
    }
}

int64_t supervisor_rss_kb(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/statm", (int) pid);
    FILE *file = fopen(path, "r");
    if (!file)
        return -1;
    long long size = 0, resident = 0;
    int fields = fscanf(file, "%lld %lld", &size, &resident);
    fclose(file);
    return fields == 2 ? resident * (sysconf(_SC_PAGESIZE) / 1024) : -1;
}

static void s_run_timers(supervisor_state_t *self)
{
    const supervisor_config_t *config = self->config;
    int64_t now = s_now_ms();
    for (int i = 0; i < self->slot_count; i++) {
        supervisor_slot_t *slot = &self->slots[i];
        bool wanted = supervisor_slot_wanted(self, i);
        if (!slot->pid) {
            if (wanted && !slot->stopped && !self->shutting_down && now >= slot->restart_at_ms)
                s_start(self, slot);
            continue;
        }
        if (!wanted && !slot->stop_reason && !self->shutting_down)
            s_stop_child(self, slot, self->paused ? "stopped" : "scaled_down", SIGTERM);
        if (config->job_timeout_ms && slot->job_started_ms && !slot->stop_reason &&
            now - slot->job_started_ms >= config->job_timeout_ms) {
            sl_log(SL_LOG_WARN, NULL, "job_timeout", "slot=%d pid=%d running_ms=%lld action=kill",
                   slot->index, (int) slot->pid, (long long) (now - slot->job_started_ms));
            s_stop_child(self, slot, "job_timeout", SIGKILL);
        }
        if (config->max_rss_mb && now >= slot->rss_check_ms) {
            slot->rss_check_ms = now + SL_RSS_CHECK_INTERVAL_MS;
            int64_t rss_kb = supervisor_rss_kb(slot->pid);
            int64_t rss = rss_kb < 0 ? -1 : rss_kb / 1024;
            if (rss > config->max_rss_mb && !slot->stop_reason) {
                slot->rss_kb = rss_kb;
                sl_log(SL_LOG_INFO, NULL, "max_rss", "slot=%d pid=%d rss_mb=%lld limit_mb=%lld",
                       slot->index, (int) slot->pid, (long long) rss,
                       (long long) config->max_rss_mb);
                s_stop_child(self, slot, "max_rss", SIGTERM);
            }
        }
        if (slot->kill_at_ms && now >= slot->kill_at_ms) {
            sl_log(SL_LOG_WARN, NULL, "drain_timeout", "slot=%d pid=%d action=kill", slot->index,
                   (int) slot->pid);
            kill(slot->pid, SIGKILL);
            slot->kill_at_ms = 0;
        }
    }
    if (self->shutting_down && self->shutdown_kill_ms && now >= self->shutdown_kill_ms) {
        for (int i = 0; i < self->slot_count; i++)
            if (self->slots[i].pid) {
                sl_log(SL_LOG_WARN, NULL, "drain_timeout", "slot=%d pid=%d action=kill", i,
                       (int) self->slots[i].pid);
                kill(self->slots[i].pid, SIGKILL);
            }
        self->shutdown_kill_ms = 0;
    }
}

static int s_poll_timeout(supervisor_state_t *self)
{
    const supervisor_config_t *config = self->config;
    int64_t now = s_now_ms();
    int64_t wake = now + 1000;
#define S_EARLIER(when)                                                                            \
    do {                                                                                           \
        if ((when) < wake)                                                                         \
            wake = (when);                                                                         \
    } while (0)
    for (int i = 0; i < self->slot_count; i++) {
        supervisor_slot_t *slot = &self->slots[i];
        if (!slot->pid && !slot->stopped && !self->shutting_down && supervisor_slot_wanted(self, i))
            S_EARLIER(slot->restart_at_ms);
        if (slot->pid && config->job_timeout_ms && slot->job_started_ms && !slot->stop_reason)
            S_EARLIER(slot->job_started_ms + config->job_timeout_ms);
        if (slot->pid && config->max_rss_mb)
            S_EARLIER(slot->rss_check_ms);
        if (slot->pid && slot->kill_at_ms)
            S_EARLIER(slot->kill_at_ms);
    }
    if (self->shutting_down && self->shutdown_kill_ms)
        S_EARLIER(self->shutdown_kill_ms);
#undef S_EARLIER
    return wake > now ? (int) (wake - now) : 0;
}

static void s_begin_shutdown(supervisor_state_t *self, int signal_number)
{
    if (self->shutting_down) {
        //  A second SIGTERM/SIGINT: the operator will not wait for the drain
        self->shutdown_kill_ms = s_now_ms();
        return;
    }
    self->shutting_down = true;
    self->shutdown_kill_ms = s_now_ms() + self->config->drain_timeout_ms;
    sl_log(SL_LOG_INFO, NULL, "draining", "signal=%d drain_timeout_ms=%lld", signal_number,
           (long long) self->config->drain_timeout_ms);
    for (int i = 0; i < self->slot_count; i++)
        if (self->slots[i].pid)
            kill(self->slots[i].pid, SIGTERM);
}

static void s_handle_signals(supervisor_state_t *self)
{
    char signals[64];
    ssize_t size;
    while ((size = read(s_signal_pipe[0], signals, sizeof signals)) > 0)
        for (ssize_t i = 0; i < size; i++) {
            if (signals[i] == SIGCHLD)
                s_reap(self);
            else if (signals[i] == SIGTERM || signals[i] == SIGINT)
                s_begin_shutdown(self, signals[i]);
            else if (signals[i] == SIGHUP && !self->shutting_down)
                supervisor_roll(self, NULL);
        }
}

void supervisor_roll(supervisor_state_t *self, const char *roll_id)
{
    if (self->shutting_down)
        return;
    sl_log(SL_LOG_INFO, NULL, "rolling_restart", "slots=%d roll=%s", self->slot_count,
           roll_id ? roll_id : "-");
    snprintf(self->roll_id, sizeof self->roll_id, "%s", roll_id ? roll_id : "");
    self->roll_next = 0;
    self->roll_waiting = -1;
    self->changed = true;
    s_roll_advance(self);
}

void supervisor_scale(supervisor_state_t *self, int count)
{
    assert(count >= 0 && count <= SL_MAX_WORKER_SLOTS);
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
    //  Surplus workers are asked to drain by the timers, in one place
}

void supervisor_pause(supervisor_state_t *self, bool paused)
{
    if (self->paused == paused)
        return;
    sl_log(SL_LOG_INFO, NULL, paused ? "workers_stopping" : "workers_starting", "count=%d",
           self->target);
    self->paused = paused;
    if (!paused)
        for (int i = 0; i < self->slot_count; i++) {
            self->slots[i].restart_at_ms = 0;
            if (self->slots[i].stopped) {
                //  start after a crash loop is also "fixed, try again"
                self->slots[i].stopped = false;
                worker_backoff_reset(&self->slots[i].backoff);
                worker_crash_window_init(&self->slots[i].crashes, self->config->crash_loop_restarts,
                                         self->config->crash_loop_window_ms);
            }
        }
    self->changed = true;
}

int supervisor_broadcast(supervisor_state_t *self, const char *id, const char *data, size_t size)
{
    size_t record_size = 0;
    char *record = worker_broadcast_encode(id, data, size, &record_size);
    if (!record)
        return 0;
    int sent = 0;
    for (int i = 0; i < self->slot_count; i++) {
        supervisor_slot_t *slot = &self->slots[i];
        if (!slot->pid || !slot->ready || slot->stop_reason || slot->broadcast_fd == -1)
            continue;
        //  Whole records only: a worker must never see half a broadcast. Refuse rather
        //  than block when its pipe is full (a worker stuck in a very long job).
        int pending = 0, capacity = fcntl(slot->broadcast_fd, F_GETPIPE_SZ);
        ioctl(slot->broadcast_fd, FIONREAD, &pending);
        if (capacity > 0 && (size_t) (capacity - pending) < record_size) {
            sl_log(SL_LOG_WARN, NULL, "broadcast_dropped", "slot=%d pid=%d id=%s reason=pipe_full",
                   i, (int) slot->pid, id);
            continue;
        }
        if (write(slot->broadcast_fd, record, record_size) != (ssize_t) record_size) {
            sl_log(SL_LOG_WARN, NULL, "broadcast_dropped", "slot=%d pid=%d id=%s errno=%d", i,
                   (int) slot->pid, id, errno);
            continue;
        }
        snprintf(slot->last_broadcast, sizeof slot->last_broadcast, "%s", id);
        sent++;
    }
    free(record);
    sl_log(SL_LOG_INFO, NULL, "broadcast", "id=%s bytes=%zu workers=%d", id, size, sent);
    self->changed = true;
    return sent;
}

static bool s_any_child(supervisor_state_t *self)
{
    for (int i = 0; i < self->slot_count; i++)
        if (self->slots[i].pid)
            return true;
    return false;
}

int supervisor_run(const supervisor_config_t *config)
{
    supervisor_state_t self = {.config = config,
                               .roll_next = SL_MAX_WORKER_SLOTS + 1,
                               .roll_waiting = -1,
                               .target = config->count,
                               .slot_count = config->count};
    self.started_ms = s_now_ms();
    //  Orphans of dead workers become our children, so s_kill_strays can find them
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
        sl_log(SL_LOG_WARN, NULL, "subreaper_failed", "errno=%d", errno);
    //  Every possible slot up front: scaling never moves a slot another part points into
    self.slots = calloc(SL_MAX_WORKER_SLOTS, sizeof(supervisor_slot_t));
    struct pollfd *fds = calloc(SL_MAX_WORKER_SLOTS + 2, sizeof(struct pollfd));
    if (!self.slots || !fds || s_install_signals() == -1) {
        fprintf(stderr, "slowlane-worker: cannot set up the supervisor: %s\n", strerror(errno));
        free(self.slots);
        free(fds);
        return 1;
    }
    for (int i = 0; i < SL_MAX_WORKER_SLOTS; i++) {
        supervisor_slot_t *slot = &self.slots[i];
        slot->index = i;
        slot->events_fd = -1;
        slot->broadcast_fd = -1;
        slot->rss_kb = -1;
        worker_backoff_init(&slot->backoff, SL_RESTART_BACKOFF_MIN_MS, SL_RESTART_BACKOFF_MAX_MS,
                            SL_RESTART_BACKOFF_FACTOR);
        worker_crash_window_init(&slot->crashes, config->crash_loop_restarts,
                                 config->crash_loop_window_ms);
    }
    void *shared = mmap(NULL, SL_MAX_WORKER_SLOTS * sizeof(supervisor_counters_t),
                        PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    self.counters = shared == MAP_FAILED ? NULL : shared; // zero-filled
    sl_log(SL_LOG_INFO, NULL, "supervisor_started", "pid=%d service=%s count=%d broker=%s host=%s",
           (int) getpid(), config->service, config->count, config->broker, config->host);
    self.agent = supervisor_agent_new(&self);
    while (!self.shutting_down || s_any_child(&self)) {
        s_run_timers(&self);
        int64_t agent_wait = self.agent ? supervisor_agent_process(self.agent) : 1000;
        fds[0] = (struct pollfd){s_signal_pipe[0], POLLIN, 0};
        int used = 1;
        int agent_fd = self.agent ? supervisor_agent_fd(self.agent) : -1;
        if (agent_fd != -1)
            fds[used++] = (struct pollfd){agent_fd, POLLIN, 0};
        int first_child = used;
        for (int i = 0; i < self.slot_count; i++)
            if (self.slots[i].events_fd != -1)
                fds[used++] = (struct pollfd){self.slots[i].events_fd, POLLIN, 0};
        int timeout = s_poll_timeout(&self);
        if (agent_wait < timeout)
            timeout = agent_wait < 0 ? 0 : (int) agent_wait;
        if (poll(fds, used, timeout) == -1 && errno != EINTR)
            break;
        for (int n = first_child; n < used; n++)
            if (fds[n].revents)
                for (int i = 0; i < self.slot_count; i++)
                    if (self.slots[i].events_fd == fds[n].fd) {
                        s_read_events(&self, &self.slots[i]);
                        break;
                    }
        if (fds[0].revents)
            s_handle_signals(&self);
    }
    s_kill_strays(&self); // every worker is gone: nothing a worker started outlives us
    supervisor_agent_destroy(&self.agent);
    if (self.counters)
        munmap(self.counters, SL_MAX_WORKER_SLOTS * sizeof(supervisor_counters_t));
    sl_log(SL_LOG_INFO, NULL, "supervisor_stopped", NULL);
    free(self.slots);
    free(fds);
    return 0;
}
