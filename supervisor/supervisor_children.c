/*  supervisor_children: the child processes of slowlane-worker (supervisor_children.h).
    Every fork goes through one function with one unwinding path, so a slot whose pipes or
    fork fail is left exactly as empty as before. The supervisor is a child subreaper:
    whatever a dead worker started ends up as our child, and every child that is not a
    worker is such a stray and is killed. No restart policy here. */
#define _GNU_SOURCE // pipe2, F_SETPIPE_SZ
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include "sl_defaults.h"
#include "sl_log.h"
#include "supervisor_child.h"
#include "supervisor_children.h"
#include "supervisor_signals.h"

typedef struct {
    pid_t pid;        /* the child, 0 when none */
    int events_fd;    /* read end of its event pipe, -1 when none */
    int broadcast_fd; /* write end of its broadcast pipe, -1 when none */
} s_process_t;

struct _supervisor_children_t {
    const supervisor_config_t *config; /* borrowed, read-only */
    s_process_t *processes;            /* SL_MAX_WORKER_SLOTS */
    int high;                          /* slots at and above this one never had a child */
    supervisor_counters_t *counters;   /* SL_MAX_WORKER_SLOTS, shared; NULL if unmapped */
    supervisor_fork_fn *before_fork;   /* called before each fork, or NULL */
    void *before_fork_arg;             /* its argument */
};

#define S_COUNTERS_BYTES (SL_MAX_WORKER_SLOTS * sizeof(supervisor_counters_t))

supervisor_children_t *supervisor_children_new(const supervisor_config_t *config)
{
    supervisor_children_t *self = calloc(1, sizeof *self);
    if (!self)
        goto fail_self;
    self->processes = calloc(SL_MAX_WORKER_SLOTS, sizeof *self->processes);
    if (!self->processes)
        goto fail_processes;
    self->config = config;
    for (int i = 0; i < SL_MAX_WORKER_SLOTS; i++)
        self->processes[i] = (s_process_t){0, -1, -1};
    void *shared =
        mmap(NULL, S_COUNTERS_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    self->counters = shared == MAP_FAILED ? NULL : shared; // zero-filled
    return self;

fail_processes:
    free(self);
fail_self:
    return NULL;
}

void supervisor_children_destroy(supervisor_children_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    supervisor_children_t *self = *self_p;
    if (self->counters)
        munmap(self->counters, S_COUNTERS_BYTES);
    free(self->processes);
    free(self);
    *self_p = NULL;
}

void supervisor_children_before_fork(supervisor_children_t *self, supervisor_fork_fn *fn, void *arg)
{
    self->before_fork = fn;
    self->before_fork_arg = arg;
}

//  In the new child: it keeps only its own ends, no other slot's pipe, no self-pipe.
static void s_become_child(supervisor_children_t *self, int index, int events[2], int broadcasts[2])
{
    for (int i = 0; i < self->high; i++) {
        if (self->processes[i].events_fd != -1)
            close(self->processes[i].events_fd);
        if (self->processes[i].broadcast_fd != -1)
            close(self->processes[i].broadcast_fd);
    }
    supervisor_signals_close();
    close(events[0]);
    close(broadcasts[1]);
    supervisor_child_set_counters(self->counters ? &self->counters[index] : NULL);
    supervisor_child_main(self->config, index, events[1], broadcasts[0]);
}

int supervisor_children_start(supervisor_children_t *self, int index)
{
    s_process_t *process = &self->processes[index];
    int events[2], broadcasts[2], error;
    if (pipe2(broadcasts, O_CLOEXEC) == -1) {
        error = errno;
        goto fail_broadcasts;
    }
    if (pipe2(events, O_CLOEXEC) == -1) {
        error = errno;
        goto fail_events;
    }
    if (self->counters) {
        //  Before the fork: the new child may count its first job at once
        atomic_store(&self->counters[index].jobs, 0);
        atomic_store(&self->counters[index].job_started_ms, 0);
        atomic_store(&self->counters[index].busy, 0);
    }
    if (self->before_fork)
        self->before_fork(self->before_fork_arg); // no libzmq threads may run across the fork
    pid_t pid = fork();
    if (pid == 0)
        s_become_child(self, index, events, broadcasts);
    if (pid == -1) {
        error = errno;
        goto fail_fork;
    }
    close(events[1]);
    close(broadcasts[0]);
    //  Also here: whichever of parent and child runs first, the group exists for kill(-pid)
    setpgid(pid, pid);
    fcntl(events[0], F_SETFL, O_NONBLOCK);
    //  Room for pending broadcasts while the worker is in a long job; never block on it
    fcntl(broadcasts[1], F_SETPIPE_SZ, SL_BROADCAST_PIPE_BYTES);
    fcntl(broadcasts[1], F_SETFL, O_NONBLOCK);
    *process = (s_process_t){pid, events[0], broadcasts[1]};
    if (index >= self->high)
        self->high = index + 1;
    sl_log(SL_LOG_INFO, NULL, "worker_started", "slot=%d pid=%d", index, (int) pid);
    return 0;

fail_fork:
    close(events[0]);
    close(events[1]);
fail_events:
    close(broadcasts[0]);
    close(broadcasts[1]);
fail_broadcasts:
    sl_log(SL_LOG_ERROR, NULL, "fork_failed", "slot=%d errno=%d", index, error);
    return -1;
}

pid_t supervisor_children_pid(const supervisor_children_t *self, int index)
{
    return self->processes[index].pid;
}

void supervisor_children_signal(supervisor_children_t *self, int index, int signal)
{
    if (self->processes[index].pid)
        kill(self->processes[index].pid, signal);
}

//  The slot of a worker's pid, -1 if pid is not one of ours.
static int s_worker_index(const supervisor_children_t *self, pid_t pid)
{
    for (int i = 0; i < self->high; i++)
        if (self->processes[i].pid == pid)
            return i;
    return -1;
}

//  Kills what dead workers left running: their exec: scripts and whatever those started,
//  in any process group or session. Without this a job-timeout kill would leave the script
//  it was waiting for running. A stray's own children become ours when it dies: reaping
//  calls this again then, so a whole tree goes, a generation at a time.
void supervisor_children_kill_strays(supervisor_children_t *self)
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
            parent == me && state != 'Z' && s_worker_index(self, pid) == -1) {
            kill(pid, SIGKILL);
            killed++;
        }
    }
    closedir(proc);
    if (killed)
        sl_log(SL_LOG_INFO, NULL, "strays_killed", "processes=%d", killed);
}

bool supervisor_children_reap(supervisor_children_t *self, int *index, int *status)
{
    pid_t pid;
    while ((pid = waitpid(-1, status, WNOHANG)) > 0) {
        *index = s_worker_index(self, pid);
        if (*index != -1)
            return true;
        supervisor_children_kill_strays(self); // a stray that died: its children are ours now
    }
    return false;
}

//  Closes the read end of the event pipe.
static void s_close_events(s_process_t *process)
{
    if (process->events_fd != -1)
        close(process->events_fd);
    process->events_fd = -1;
}

void supervisor_children_forget(supervisor_children_t *self, int index)
{
    s_process_t *process = &self->processes[index];
    s_close_events(process);
    if (process->broadcast_fd != -1)
        close(process->broadcast_fd);
    process->broadcast_fd = -1;
    kill(-process->pid, SIGKILL); // its process group: what it started there, not yet orphaned
    supervisor_children_kill_strays(self);
    process->pid = 0;
}

int supervisor_children_events_fd(const supervisor_children_t *self, int index)
{
    return self->processes[index].events_fd;
}

ssize_t supervisor_children_read_events(supervisor_children_t *self, int index, char *buffer,
                                        size_t size)
{
    s_process_t *process = &self->processes[index];
    if (process->events_fd == -1)
        return -1;
    ssize_t got = read(process->events_fd, buffer, size);
    if (got == 0)
        s_close_events(process); // the child is gone or going; SIGCHLD will say how
    return got;
}

int supervisor_children_send(supervisor_children_t *self, int index, const char *id,
                             const char *record, size_t size)
{
    s_process_t *process = &self->processes[index];
    if (process->broadcast_fd == -1)
        return -1;
    //  Whole records only: a worker must never see half a broadcast. Refuse rather than
    //  block when its pipe is full (a worker stuck in a very long job).
    int pending = 0, capacity = fcntl(process->broadcast_fd, F_GETPIPE_SZ);
    ioctl(process->broadcast_fd, FIONREAD, &pending);
    if (capacity > 0 && (size_t) (capacity - pending) < size) {
        sl_log(SL_LOG_WARN, NULL, "broadcast_dropped", "slot=%d pid=%d id=%s reason=pipe_full",
               index, (int) process->pid, id);
        return -1;
    }
    if (write(process->broadcast_fd, record, size) != (ssize_t) size) {
        sl_log(SL_LOG_WARN, NULL, "broadcast_dropped", "slot=%d pid=%d id=%s errno=%d", index,
               (int) process->pid, id, errno);
        return -1;
    }
    return 0;
}

int64_t supervisor_children_rss_kb(const supervisor_children_t *self, int index)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/statm", (int) self->processes[index].pid);
    FILE *file = fopen(path, "r");
    if (!file)
        return -1;
    long long size = 0, resident = 0;
    int fields = fscanf(file, "%lld %lld", &size, &resident);
    fclose(file);
    return fields == 2 ? resident * (sysconf(_SC_PAGESIZE) / 1024) : -1;
}

bool supervisor_children_counts(const supervisor_children_t *self, int index,
                                supervisor_job_counts_t *counts)
{
    if (!self->counters)
        return false;
    supervisor_counters_t *counters = &self->counters[index];
    counts->jobs = atomic_load(&counters->jobs);
    counts->job_started_ms = atomic_load(&counters->job_started_ms);
    counts->busy = atomic_load(&counters->busy);
    return true;
}
