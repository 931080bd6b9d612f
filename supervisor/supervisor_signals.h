/*  supervisor_signals: the supervisor's self-pipe. SIGCHLD, SIGTERM, SIGINT and SIGHUP
    become one byte each on a pipe the poll loop watches, so every decision is taken in
    the loop and never in a handler. What each signal means is supervisor.c's. */
#ifndef SUPERVISOR_SIGNALS_H
#define SUPERVISOR_SIGNALS_H

#include <sys/types.h>

/* Creates the pipe and installs the handlers; SIGPIPE is ignored. Returns 0 or -1. */
int supervisor_signals_install(void);

/* The read end to poll. */
int supervisor_signals_fd(void);

/* Reads pending signal numbers, one a byte, into buffer. Returns how many, 0 if none. */
ssize_t supervisor_signals_read(char *buffer, size_t size);

/* In a forked child: closes both ends, which are the supervisor's alone. */
void supervisor_signals_close(void);

#endif
