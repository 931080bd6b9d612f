/*  worker_handlers: the handlers slowlane-worker runs by name (--handler SPEC):
        builtin:busy    spin the CPU for ?ms= (default SL_BUSY_DEFAULT_MS)
        builtin:sleep   wait ?ms= without CPU
        builtin:echo    the query string, a newline, then the request body (opaque: the body)
        builtin:stream  ?n= chunks (default 3) ?ms= apart, each sent as a PARTIAL
        exec:COMMAND    CGI/1.1: /bin/sh -c COMMAND per request (handler_exec.c)
        program:COMMAND no handler: each worker process is COMMAND itself, a worker in any
                        language (the supervisor execs it, supervisor_program.c)
    Each but program: is an sl_worker_handler_fn; this header maps a spec to one. */
#ifndef WORKER_HANDLERS_H
#define WORKER_HANDLERS_H

#include <stdbool.h>
#include "slowlane/worker.h"

typedef struct {
    sl_worker_handler_fn *fn; /* the handler */
    void *arg;                /* its argument, owned (the exec command), or NULL */
    bool never_blocks;        /* microseconds of CPU, no I/O: may run on the I/O thread */
    char *program;            /* program:COMMAND: the command, owned (fn NULL); else NULL */
} worker_handler_t;

/* Resolves spec into out. Returns 0, or -1 with *reason set to a static string. */
int worker_handler_resolve(const char *spec, worker_handler_t *out, const char **reason);

/* Frees what resolve allocated. */
void worker_handler_reset(worker_handler_t *handler);

/* The handlers themselves, for programs that link them directly. */
int worker_handler_busy(sl_job_t *job, void *arg);
int worker_handler_sleep(sl_job_t *job, void *arg);
int worker_handler_echo(sl_job_t *job, void *arg);
int worker_handler_stream(sl_job_t *job, void *arg);
int worker_handler_exec(sl_job_t *job, void *arg); /* arg: the command, a char * */

/* The broadcast callback slowlane-worker installs for every --handler: logs it and keeps
   the last id, which builtin:echo returns in an X-Slowlane-Broadcast header (tests and
   operators can see which broadcast a worker has). */
void worker_handler_broadcast(const char *id, const void *data, size_t size, void *arg);

/* Id of the last broadcast this process handled, "" if none; borrowed. */
const char *worker_handler_last_broadcast(void);

#endif
