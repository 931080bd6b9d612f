/*  supervisor_exit: names of the exit reasons (supervisor_exit.h). The names are part of
    the cluster view's JSON and of log lines operators grep: they do not change. */
#include <assert.h>
#include <stdio.h>
#include <sys/wait.h>
#include "supervisor_exit.h"

static const char *s_names[SUPERVISOR_EXIT_COUNT] = {
    [SUPERVISOR_EXIT_NONE] = "",
    [SUPERVISOR_EXIT_MAX_RSS] = "max_rss",
    [SUPERVISOR_EXIT_MAX_REQUESTS] = "max_requests",
    [SUPERVISOR_EXIT_JOB_TIMEOUT] = "job_timeout",
    [SUPERVISOR_EXIT_SIGHUP] = "sighup",
    [SUPERVISOR_EXIT_ROLLING_RESTART] = "rolling_restart",
    [SUPERVISOR_EXIT_STOPPED] = "stopped",
    [SUPERVISOR_EXIT_SCALED_DOWN] = "scaled_down",
    [SUPERVISOR_EXIT_SIGNAL] = "signal",
    [SUPERVISOR_EXIT_EXIT] = "exit",
    [SUPERVISOR_EXIT_CRASH_LOOP] = "crash_loop",
};

const char *supervisor_exit_name(supervisor_exit_t reason)
{
    assert(reason >= 0 && reason < SUPERVISOR_EXIT_COUNT);
    return s_names[reason];
}

bool supervisor_exit_is_recycle(supervisor_exit_t reason)
{
    return reason == SUPERVISOR_EXIT_MAX_RSS || reason == SUPERVISOR_EXIT_MAX_REQUESTS ||
           reason == SUPERVISOR_EXIT_JOB_TIMEOUT;
}

void supervisor_exit_detail(int wait_status, char *buffer, size_t size)
{
    if (WIFSIGNALED(wait_status))
        snprintf(buffer, size, "signal=%d", WTERMSIG(wait_status));
    else
        snprintf(buffer, size, "code=%d", WEXITSTATUS(wait_status));
}
