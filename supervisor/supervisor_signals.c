/*  supervisor_signals: the self-pipe (supervisor_signals.h). The handler only writes a
    byte; reading them and acting on them is the loop's. */
#define _GNU_SOURCE // pipe2
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include "supervisor_signals.h"

static int s_pipe[2] = {-1, -1};

static void s_on_signal(int signal_number)
{
    int saved = errno;
    char byte = (char) signal_number;
    //  Full pipe: enough signals are already queued to wake the loop
    if (write(s_pipe[1], &byte, 1) == -1) {
    }
    errno = saved;
}

int supervisor_signals_install(void)
{
    if (pipe2(s_pipe, O_CLOEXEC | O_NONBLOCK) == -1)
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

int supervisor_signals_fd(void)
{
    return s_pipe[0];
}

ssize_t supervisor_signals_read(char *buffer, size_t size)
{
    ssize_t got = read(s_pipe[0], buffer, size);
    return got > 0 ? got : 0;
}

void supervisor_signals_close(void)
{
    close(s_pipe[0]);
    close(s_pipe[1]);
}
