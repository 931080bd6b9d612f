/*  supervisor: the restart policy of slowlane-worker (see supervisor.h). One thread, one
    poll loop over a self-pipe (signals) and each child's event pipe (registered, job
    start, job end). A child's exit is classified once, where it is reaped: planned
    (we asked: job_timeout, max_requests, max_rss, sighup) restarts at once; anything else
    backs off and counts toward the crash-loop stop. */
#define _GNU_SOURCE // pipe2
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "sl_defaults.h"
#include "supervisor.h"
#include "worker_backoff.h"
#include "worker_hooks.h"

typedef struct {
    int index;                     /* slot number, part of the child's identity */
    pid_t pid;                     /* the child, 0 when none */
    int events_fd;                 /* read end of the child's event pipe, -1 when none */
    int64_t started_ms;            /* when the current child was forked */
    int64_t restart_at_ms;         /* when to fork again (pid 0, not stopped) */
    int64_t job_started_ms;        /* start of the job in hand, 0 when idle */
    uint64_t jobs;                 /* jobs the current child finished */
    bool ready;                    /* the current child is registered with the broker */
    const char *stop_reason;       /* why we signalled the child; NULL: not asked to stop */
    int64_t kill_at_ms;            /* SIGKILL if still alive by then; 0 = not scheduled */
    int64_t rss_check_ms;          /* next /proc/PID/statm read */
    bool stopped;                  /* crash loop: no more restarts until SIGHUP */
    worker_backoff_t backoff;      /* restart delays */
    worker_crash_window_t crashes; /* recent unplanned restarts */
} s_slot_t;

typedef struct {
    const supervisor_config_t *config; /* read-only after start-up */
    s_slot_t *slots;                   /* config->count slots */
    bool shutting_down;                /* SIGTERM/SIGINT received */
    int64_t shutdown_kill_ms;          /* SIGKILL whatever is left then */
    int roll_next;                     /* SIGHUP: next slot to restart; count when done */
    int roll_waiting;                  /* slot whose replacement we wait for, -1 none */
} s_supervisor_t;

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

static void s_close_events(s_slot_t *slot)
{
    if (slot->events_fd != -1)
        close(slot->events_fd);
    slot->events_fd = -1;
}

static void s_start(s_supervisor_t *self, s_slot_t *slot)
{
    int events[2];
    if (pipe2(events, O_CLOEXEC) == -1) {
        sl_log(SL_LOG_ERROR, NULL, "fork_failed", "slot=%d errno=%d", slot->index, errno);
        slot->restart_at_ms = s_now_ms() + worker_backoff_next(&slot->backoff);
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        //  The child keeps only its own write end: no other slot's pipe, no self-pipe
        for (int i = 0; i < self->config->count; i++)
            if (self->slots[i].events_fd != -1)
                close(self->slots[i].events_fd);
        close(s_signal_pipe[0]);
        close(s_signal_pipe[1]);
        close(events[0]);
        supervisor_child_main(self->config, slot->index, events[1]);
    }
    close(events[1]);
    if (pid == -1) {
        close(events[0]);
        sl_log(SL_LOG_ERROR, NULL, "fork_failed", "slot=%d errno=%d", slot->index, errno);
        slot->restart_at_ms = s_now_ms() + worker_backoff_next(&slot->backoff);
        return;
    }
    fcntl(events[0], F_SETFL, O_NONBLOCK);
    int64_t now = s_now_ms();
    slot->pid = pid;
    slot->events_fd = events[0];
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
static void s_stop_child(s_supervisor_t *self, s_slot_t *slot, const char *reason, int signal)
{
    if (!slot->pid || slot->stop_reason)
        return;
    slot->stop_reason = reason;
    slot->kill_at_ms = signal == SIGKILL ? 0 : s_now_ms() + self->config->drain_timeout_ms;
    kill(slot->pid, signal);
}

//  The roll moves on once the slot it waits for is up again (or given up on).
static void s_roll_advance(s_supervisor_t *self)
{
    while (self->roll_waiting == -1 && self->roll_next < self->config->count &&
           !self->shutting_down) {
        s_slot_t *slot = &self->slots[self->roll_next++];
        if (slot->stopped) {
            //  SIGHUP is also how an operator says "fixed, try again" after a crash loop
            slot->stopped = false;
            worker_backoff_reset(&slot->backoff);
            worker_crash_window_init(&slot->crashes, self->config->crash_loop_restarts,
                                     self->config->crash_loop_window_ms);
        }
        if (slot->pid)
            s_stop_child(self, slot, "sighup", SIGTERM);
        else
            slot->restart_at_ms = s_now_ms();
        self->roll_waiting = slot->index;
    }
    if (self->roll_waiting == -1 && self->roll_next == self->config->count) {
        sl_log(SL_LOG_INFO, NULL, "rolling_restart_done", "slots=%d", self->config->count);
        self->roll_next = self->config->count + 1; // logged once
    }
}

static void s_read_events(s_supervisor_t *self, s_slot_t *slot)
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
            } else if (buffer[i] == WORKER_EVENT_JOB_START)
                slot->job_started_ms = s_now_ms();
            else if (buffer[i] == WORKER_EVENT_JOB_END) {
                slot->job_started_ms = 0;
                slot->jobs++;
            }
        }
    if (size == 0)
        s_close_events(slot); // the child is gone or going; SIGCHLD will say how
}

//  Kills what a dead worker left running: its exec: scripts and their children, found by
//  the session the worker led (supervisor_child.c). Without this a job-timeout kill would
//  leave the script it was waiting for running.
static void s_kill_session(pid_t session)
{
    DIR *proc = opendir("/proc");
    if (!proc)
        return;
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
        //  After the command name in parentheses: state ppid pgrp session
        char *close_paren = strrchr(stat, ')');
        int parent, group, process_session;
        char state;
        if (close_paren &&
            sscanf(close_paren + 1, " %c %d %d %d", &state, &parent, &group, &process_session) ==
                4 &&
            process_session == session && state != 'Z') {
            kill((pid_t) atoi(entry->d_name), SIGKILL);
            killed++;
        }
    }
    closedir(proc);
    if (killed)
        sl_log(SL_LOG_INFO, NULL, "strays_killed", "session=%d processes=%d", (int) session,
               killed);
}

//  Decides what a child's exit means and when the slot starts again.
static void s_on_exit(s_supervisor_t *self, s_slot_t *slot, int status)
{
    if (slot->events_fd != -1)
        s_read_events(self, slot); // the last job-end events decide max_requests
    s_close_events(slot);
    s_kill_session(slot->pid);
    int64_t now = s_now_ms();
    int64_t uptime = now - slot->started_ms;
    pid_t pid = slot->pid;
    slot->pid = 0;
    const char *reason = slot->stop_reason;
    bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!reason && clean && self->config->max_requests &&
        slot->jobs >= (uint64_t) self->config->max_requests)
        reason = "max_requests";
    char detail[48];
    if (WIFSIGNALED(status))
        snprintf(detail, sizeof detail, "signal=%d", WTERMSIG(status));
    else
        snprintf(detail, sizeof detail, "code=%d", WEXITSTATUS(status));
    if (self->shutting_down) {
        sl_log(SL_LOG_INFO, NULL, "worker_exited", "slot=%d pid=%d %s", slot->index, (int) pid,
               detail);
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
            if (self->roll_waiting == slot->index) {
                self->roll_waiting = -1;
                s_roll_advance(self);
            }
            return;
        }
        delay = worker_backoff_next(&slot->backoff);
    }
    slot->restart_at_ms = now + delay;
    sl_log(strcmp(reason, "signal") == 0 || strcmp(reason, "exit") == 0 ? SL_LOG_WARN : SL_LOG_INFO,
           NULL, "worker_restart", "slot=%d pid=%d reason=%s %s uptime_ms=%lld delay_ms=%lld",
           slot->index, (int) pid, reason, detail, (long long) uptime, (long long) delay);
}

static void s_reap(s_supervisor_t *self)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
        for (int i = 0; i < self->config->count; i++)
            if (self->slots[i].pid == pid) {
                s_on_exit(self, &self->slots[i], status);
                break;
            }
}

//  Resident set size of pid in MiB from /proc/PID/statm (second field, in pages); -1 if
//  the process is gone.
static int64_t s_rss_mb(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/statm", (int) pid);
    FILE *file = fopen(path, "r");
    if (!file)
        return -1;
    long long size = 0, resident = 0;
    int fields = fscanf(file, "%lld %lld", &size, &resident);
    fclose(file);
    if (fields != 2)
        return -1;
    return resident * sysconf(_SC_PAGESIZE) / (1024 * 1024);
}

static void s_run_timers(s_supervisor_t *self)
{
    const supervisor_config_t *config = self->config;
    int64_t now = s_now_ms();
    for (int i = 0; i < config->count; i++) {
        s_slot_t *slot = &self->slots[i];
        if (!slot->pid) {
            if (!slot->stopped && !self->shutting_down && now >= slot->restart_at_ms)
                s_start(self, slot);
            continue;
        }
        if (config->job_timeout_ms && slot->job_started_ms && !slot->stop_reason &&
            now - slot->job_started_ms >= config->job_timeout_ms) {
            sl_log(SL_LOG_WARN, NULL, "job_timeout", "slot=%d pid=%d running_ms=%lld action=kill",
                   slot->index, (int) slot->pid, (long long) (now - slot->job_started_ms));
            s_stop_child(self, slot, "job_timeout", SIGKILL);
        }
        if (config->max_rss_mb && now >= slot->rss_check_ms) {
            slot->rss_check_ms = now + SL_RSS_CHECK_INTERVAL_MS;
            int64_t rss = s_rss_mb(slot->pid);
            if (rss > config->max_rss_mb && !slot->stop_reason) {
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
        for (int i = 0; i < config->count; i++)
            if (self->slots[i].pid) {
                sl_log(SL_LOG_WARN, NULL, "drain_timeout", "slot=%d pid=%d action=kill", i,
                       (int) self->slots[i].pid);
                kill(self->slots[i].pid, SIGKILL);
            }
        self->shutdown_kill_ms = 0;
    }
}

static int s_poll_timeout(s_supervisor_t *self)
{
    const supervisor_config_t *config = self->config;
    int64_t now = s_now_ms();
    int64_t wake = now + 1000;
#define S_EARLIER(when)                                                                            \
    do {                                                                                           \
        if ((when) < wake)                                                                         \
            wake = (when);                                                                         \
    } while (0)
    for (int i = 0; i < config->count; i++) {
        s_slot_t *slot = &self->slots[i];
        if (!slot->pid && !slot->stopped && !self->shutting_down)
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

static void s_begin_shutdown(s_supervisor_t *self, int signal_number)
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
    for (int i = 0; i < self->config->count; i++)
        if (self->slots[i].pid)
            kill(self->slots[i].pid, SIGTERM);
}

static void s_handle_signals(s_supervisor_t *self)
{
    char signals[64];
    ssize_t size;
    while ((size = read(s_signal_pipe[0], signals, sizeof signals)) > 0)
        for (ssize_t i = 0; i < size; i++) {
            if (signals[i] == SIGCHLD)
                s_reap(self);
            else if (signals[i] == SIGTERM || signals[i] == SIGINT)
                s_begin_shutdown(self, signals[i]);
            else if (signals[i] == SIGHUP && !self->shutting_down) {
                sl_log(SL_LOG_INFO, NULL, "rolling_restart", "slots=%d", self->config->count);
                self->roll_next = 0;
                self->roll_waiting = -1;
                s_roll_advance(self);
            }
        }
}

static bool s_any_child(s_supervisor_t *self)
{
    for (int i = 0; i < self->config->count; i++)
        if (self->slots[i].pid)
            return true;
    return false;
}

int supervisor_run(const supervisor_config_t *config)
{
    s_supervisor_t self = {.config = config, .roll_next = config->count + 1, .roll_waiting = -1};
    self.slots = calloc(config->count, sizeof(s_slot_t));
    struct pollfd *fds = calloc(config->count + 1, sizeof(struct pollfd));
    if (!self.slots || !fds || s_install_signals() == -1) {
        fprintf(stderr, "slowlane-worker: cannot set up the supervisor: %s\n", strerror(errno));
        free(self.slots);
        free(fds);
        return 1;
    }
    for (int i = 0; i < config->count; i++) {
        s_slot_t *slot = &self.slots[i];
        slot->index = i;
        slot->events_fd = -1;
        worker_backoff_init(&slot->backoff, SL_RESTART_BACKOFF_MIN_MS, SL_RESTART_BACKOFF_MAX_MS,
                            SL_RESTART_BACKOFF_FACTOR);
        worker_crash_window_init(&slot->crashes, config->crash_loop_restarts,
                                 config->crash_loop_window_ms);
    }
    sl_log(SL_LOG_INFO, NULL, "supervisor_started", "pid=%d service=%s count=%d broker=%s",
           (int) getpid(), config->service, config->count, config->broker);
    while (!self.shutting_down || s_any_child(&self)) {
        s_run_timers(&self);
        fds[0] = (struct pollfd){s_signal_pipe[0], POLLIN, 0};
        int used = 1;
        for (int i = 0; i < config->count; i++)
            if (self.slots[i].events_fd != -1)
                fds[used++] = (struct pollfd){self.slots[i].events_fd, POLLIN, 0};
        if (poll(fds, used, s_poll_timeout(&self)) == -1 && errno != EINTR)
            break;
        for (int n = 1; n < used; n++)
            if (fds[n].revents)
                for (int i = 0; i < config->count; i++)
                    if (self.slots[i].events_fd == fds[n].fd) {
                        s_read_events(&self, &self.slots[i]);
                        break;
                    }
        if (fds[0].revents)
            s_handle_signals(&self);
    }
    sl_log(SL_LOG_INFO, NULL, "supervisor_stopped", NULL);
    free(self.slots);
    free(fds);
    return 0;
}
