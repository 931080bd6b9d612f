/*  supervisor_child: what a worker process does right after the supervisor forks it:
    CPU priority, a stable identity, signal dispositions of its own, then sl_worker_run
    with the events (registered, job start, job end) written to the supervisor's pipe.
    The supervisor never creates a ZeroMQ context, so the child starts from a clean one. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>
#include "sl_defaults.h"
#include "supervisor.h"
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

void supervisor_child_main(const supervisor_config_t *config, int slot, int event_fd)
{
    pid_t supervisor = getppid();
    //  A session of its own: everything this worker starts (exec: scripts and their
    //  children, whatever process group they use) stays findable by session id, so the
    //  supervisor can kill what a dead worker leaves behind
    setsid();
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
    char host[256] = "localhost";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    char identity[SL_MAX_ADDRESS_BYTES + 1];
    snprintf(identity, sizeof identity, "%s/%d/%d", host, (int) supervisor, slot);

    sl_worker_t *worker = sl_worker_new(config->broker, config->service);
    if (!worker)
        _exit(1);
    sl_worker_set_heartbeat(worker, config->heartbeat_ms, config->liveness);
    sl_worker_set_identity(worker, identity);
    sl_worker_set_max_jobs(worker, (uint64_t) config->max_requests);
    worker_set_event_hook(worker, s_report, &event_fd);
    sl_log(SL_LOG_INFO, NULL, "child_started", "slot=%d pid=%d identity=%s", slot, (int) getpid(),
           identity);
    int rc = sl_worker_run(worker, config->handler.fn, config->handler.arg);
    sl_worker_destroy(&worker);
    close(event_fd);
    exit(rc == 0 ? 0 : 1);
}
