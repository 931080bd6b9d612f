/*  supervisor_child: what a worker process does right after the supervisor forks it:
    CPU priority, a stable identity, signal dispositions of its own, then sl_worker_run
    with the events (registered, job start, job end) written to the supervisor's pipe, or
    for program: the exec of supervisor_program.c with the same set-up behind it.
    The supervisor's own ZeroMQ context (its agent's) is ended before every fork, so no
    libzmq thread or socket of it exists in the child, which starts a clean one. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include "sl_defaults.h"
#include "sl_sched.h"
#include "supervisor_child.h"
#include "supervisor_program.h"
#include "worker_hooks.h"

//  worker_event_fn: one byte per event. A failed write (the supervisor is gone) is not
//  worth stopping a job for.
static void s_report(worker_event_t event, void *arg)
{
    int fd = *(int *) arg;
    char byte = (char) event;
    while (write(fd, &byte, 1) == -1 && errno == EINTR)
        ;
}

static supervisor_counters_t *s_counters; /* this child's slot in the shared counters */

void supervisor_child_set_counters(supervisor_counters_t *counters)
{
    s_counters = counters;
}

//  Job start and end land in the shared counters: no system call beyond the clock.
static void s_count(worker_event_t event)
{
    if (!s_counters)
        return;
    if (event == WORKER_EVENT_JOB_START) {
        if (atomic_fetch_add(&s_counters->busy, 1) == 0) {
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            atomic_store(&s_counters->job_started_ms,
                         (int64_t) now.tv_sec * 1000 + now.tv_nsec / 1000000);
        }
    } else if (event == WORKER_EVENT_JOB_END) {
        atomic_fetch_add(&s_counters->jobs, 1);
        if (atomic_fetch_sub(&s_counters->busy, 1) == 1)
            atomic_store(&s_counters->job_started_ms, 0);
    }
}

static void s_report_counted(worker_event_t event, void *arg)
{
    s_count(event);
    s_report(event, arg);
}

//  worker_event_fn: every event but job start and end.
static void s_report_lifecycle(worker_event_t event, void *arg)
{
    s_count(event);
    if (event != WORKER_EVENT_JOB_START && event != WORKER_EVENT_JOB_END)
        s_report(event, arg);
}

//  Closes every descriptor but the standard ones and ours: the supervisor's agent socket
//  (libzmq's sockets, eventfds, epoll) must not live on in workers and their exec: scripts.
static void s_close_inherited(int keep1, int keep2)
{
    DIR *dir = opendir("/proc/self/fd");
    if (!dir)
        return;
    int own = dirfd(dir);
    int fds[256], count = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) && count < 256) {
        int fd = atoi(entry->d_name);
        if (entry->d_name[0] >= '0' && entry->d_name[0] <= '9' && fd > 2 && fd != own &&
            fd != keep1 && fd != keep2)
            fds[count++] = fd;
    }
    closedir(dir);
    for (int i = 0; i < count; i++)
        close(fds[i]);
}

void supervisor_child_main(const supervisor_config_t *config, int slot, int event_fd,
                           int broadcast_fd)
{
    s_close_inherited(event_fd, broadcast_fd);
    pid_t supervisor = getppid();
    //  A process group of its own, so a terminal's Ctrl-C reaches the supervisor (which
    //  drains) and not the worker. Not a session of its own: on Linux a session is a
    //  scheduling group (autogroup), and one per worker shared the CPU per session, not per
    //  process. The supervisor's --nice did nothing against other sessions, and a worker's
    //  session waited up to a second for a CPU behind a busy one (a connection flood on two
    //  cores: heartbeats late, workers expired). What a dead worker leaves behind the
    //  supervisor finds as a subreaper (supervisor_children.c, s_kill_strays).
    setpgid(0, 0);
    //  A supervisor killed with SIGKILL must not leave orphans serving forever: they drain
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != supervisor)
        _exit(0);
    //  The supervisor's handlers write to its self-pipe; ours are czmq's (TERM/INT) or none
    struct sigaction action = {.sa_handler = SIG_DFL};
    sigemptyset(&action.sa_mask);
    sigaction(SIGCHLD, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGINT, &action, NULL);
    //  A hang-up is the supervisor's business (rolling restart), never a child's death
    action.sa_handler = SIG_IGN;
    sigaction(SIGHUP, &action, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    char component[32];
    snprintf(component, sizeof component, "worker.%d", slot);
    sl_log_init(component, config->log_level);
    if (config->nice != 0) {
        errno = 0;
        //  Lowering niceness needs privilege: run at the inherited priority and say so
        if (setpriority(PRIO_PROCESS, 0, config->nice) == -1)
            sl_log(SL_LOG_WARN, NULL, "nice_failed", "nice=%d errno=%d", config->nice, errno);
    }
    //  After the nice value, which it keeps; before the worker's threads, which inherit it
    sl_sched_ask_slice_us(config->slice_us);
    char identity[SL_MAX_ADDRESS_BYTES + 1];
    snprintf(identity, sizeof identity, "%s/%d/%d", config->host, (int) supervisor, slot);
    if (config->handler.program) {
        sl_log(SL_LOG_INFO, NULL, "child_started", "slot=%d pid=%d identity=%s program=yes", slot,
               (int) getpid(), identity);
        supervisor_program_exec(config, identity, event_fd, broadcast_fd);
    }

    //  Every worker registers with every broker (docs/protocol.md section 3.7)
    sl_worker_t *worker = sl_worker_new(config->brokers[0], config->service);
    if (!worker)
        _exit(1);
    for (int i = 1; i < config->broker_count; i++)
        if (sl_worker_add_broker(worker, config->brokers[i]) != 0)
            _exit(1);
    sl_worker_set_heartbeat(worker, config->heartbeat_ms, config->liveness);
    sl_worker_set_identity(worker, identity);
    sl_worker_set_max_jobs(worker, (uint64_t) config->max_requests);
    //  Keys are loaded here, after fork: the supervisor holds no ZeroMQ state to inherit.
    //  The files were checked at start-up; one gone since is this child's start failure.
    //  Each broker its own public key, paired in order (one given: the same for all).
    if (config->curve_secret) {
        if (sl_worker_set_curve(worker, config->curve_secret, config->curve_servers[0]) != 0)
            _exit(1);
        for (int i = 1; i < config->broker_count; i++)
            if (sl_worker_set_broker_curve_key(worker, config->brokers[i],
                                               config->curve_servers[i]) != 0)
                _exit(1);
    }
    sl_worker_set_capacity(worker, config->capacity);
    sl_worker_set_mdp(worker, config->mdp); // checked at start-up
    //  A handler that never blocks runs on the I/O thread: two thread hand-offs fewer a job
    worker_set_inline(worker, config->handler.never_blocks);
    //  Job events cost two writes and a supervisor wake-up per job: only sent when the
    //  supervisor acts on them (job timeout, max requests)
    bool job_events = config->job_timeout_ms > 0 || config->max_requests > 0;
    worker_set_event_hook(worker, job_events ? s_report_counted : s_report_lifecycle, &event_fd);
    worker_set_broadcast_fd(worker, broadcast_fd);
    sl_worker_set_broadcast_handler(worker, worker_handler_broadcast, NULL);
    sl_log(SL_LOG_INFO, NULL, "child_started", "slot=%d pid=%d identity=%s", slot, (int) getpid(),
           identity);
    int rc = sl_worker_run(worker, config->handler.fn, config->handler.arg);
    sl_worker_destroy(&worker);
    close(event_fd);
    exit(rc == 0 ? 0 : 1);
}
