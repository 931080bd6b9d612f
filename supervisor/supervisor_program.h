/*  supervisor_program: a program: worker (--handler 'program:COMMAND'), a worker process
    in any language: the environment it is given (the contract of docs/workers.md) and the
    exec that makes the forked child that program. The set-up before it (process group,
    parent-death signal, signals, nice) is supervisor_child.c's; restarts and recycling
    are the policy's, from the events the program writes. */
#ifndef SUPERVISOR_PROGRAM_H
#define SUPERVISOR_PROGRAM_H

#include "supervisor.h"

/* In the forked child of slot: replaces the environment's SLOWLANE_* variables with the
   contract's, keeps event_fd and broadcast_fd open across exec, and runs
   /bin/sh -c 'exec COMMAND' so the worker's pid is the program's. Never returns: a failed
   exec exits 127, as a shell does, which the policy counts as a crash. */
void supervisor_program_exec(const supervisor_config_t *config, const char *identity, int event_fd,
                             int broadcast_fd) __attribute__((noreturn));

#endif
