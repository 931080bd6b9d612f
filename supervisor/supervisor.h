/*  supervisor: slowlane-worker, the master process, nginx-style: a table of child slots,
    each a forked worker process with a stable identity, and the restart policy around
    them. This header is its configuration and its entry point; flag parsing is
    supervisor_main.c's, the loop supervisor.c's, the policy supervisor_policy.c's, the
    processes supervisor_children.c's, the broker agent supervisor_agent.c's, what a
    child does after fork supervisor_child.c's, and the exec of a program: worker
    supervisor_program.c's. */
#ifndef SUPERVISOR_H
#define SUPERVISOR_H

#include <stdint.h>
#include "sl_log.h"
#include "worker_handlers.h"

typedef struct {
    const char *const *brokers;       /* broker endpoints, in --broker order (borrowed) */
    int broker_count;                 /* 1..SL_MAX_BROKERS */
    const char *service;              /* service every child serves */
    const char *host;                 /* host name reported to the broker and in identities */
    const char *handler_spec;         /* --handler as given, for logs */
    worker_handler_t handler;         /* resolved handler */
    int count;                        /* child slots */
    int min_workers;                  /* a scale never sets fewer (--min, 0..count) */
    int max_workers;                  /* nor more (--max, count..SL_MAX_WORKER_SLOTS) */
    int capacity;                     /* jobs each worker takes at once (READY capacity=K) */
    const char *mdp;                  /* worker protocol, "0.2" or "0.1" (an RFC 7 broker: no
                                         agent, one broker, capacity 1, no program:) */
    int heartbeat_ms;                 /* worker <-> broker heartbeat */
    int liveness;                     /* missed beats before the broker is dead */
    int64_t job_timeout_ms;           /* kill a job running longer; 0 = off */
    int64_t max_requests;             /* recycle a child after this many jobs; 0 = off */
    int64_t max_rss_mb;               /* recycle a child above this resident size; 0 = off */
    int nice;                         /* CPU priority applied in each child */
    int64_t slice_us;                 /* CPU slice each child asks (sl_sched.h), 0: default */
    int64_t drain_timeout_ms;         /* graceful stop: SIGKILL after this */
    int crash_loop_restarts;          /* unplanned restarts within the window that stop a slot */
    int64_t crash_loop_window_ms;     /* the crash-loop window */
    sl_log_level_t log_level;         /* children log at this level too */
    const char *curve_secret;         /* CURVE: own secret key file, checked; NULL: plaintext */
    const char *const *curve_servers; /* CURVE: broker i's public key file, checked; one per
                                         broker (one --curve-server repeated); NULL: off */
} supervisor_config_t;

/* Runs the supervisor until SIGTERM/SIGINT. Returns the process exit code: 0 after a
   drain, 1 if it could not set itself up. */
int supervisor_run(const supervisor_config_t *config);

#endif
