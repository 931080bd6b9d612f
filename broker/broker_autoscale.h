/*  broker_autoscale: the autoscaler's decision for one service (issue 22), pure arithmetic:
    a policy (limits, target wait, cooldown), what the broker sees now (queue, oldest wait,
    busy and idle workers, workers starting, room on the hosts, a crash loop) and what it
    decided before go in; a new worker count and the reason for it come out. It keeps the
    little state a decision needs between ticks (when the count last changed, since when
    workers have been idle). It sends nothing and reads no table: the broker's tick gathers
    the figures and applies the count through the agents (docs/architecture.md, Cluster
    manager). */
#ifndef BROKER_AUTOSCALE_H
#define BROKER_AUTOSCALE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Defaults of `slowlane autoscale` (docs/admin-api.md). */
#define BROKER_AUTOSCALE_TARGET_WAIT_MS 500
#define BROKER_AUTOSCALE_COOLDOWN_MS    30000
#define BROKER_AUTOSCALE_MAX_WORKERS    10000

typedef struct {
    int min;                /* never fewer workers: 0..max (0: the first request waits) */
    int max;                /* never more: min..BROKER_AUTOSCALE_MAX_WORKERS, at least 1 */
    int64_t target_wait_ms; /* scale up when the oldest queued request waited longer */
    int64_t cooldown_ms;    /* scale down only after this long with no change and idle workers */
} broker_autoscale_policy_t;

typedef struct {
    int workers;            /* the count the hosts were told last: running or starting */
    int registered;         /* of those, registered with the broker now */
    int busy;               /* registered workers with a job */
    int idle;               /* registered workers with a free slot */
    size_t queued;          /* requests waiting for a worker */
    int64_t oldest_wait_ms; /* how long the oldest of them has waited; 0 if none */
    int room;               /* more workers the hosts that may grow can take (their own limits) */
    bool crash_loop;        /* a host stopped a slot of this service for crashing */
} broker_autoscale_input_t;

typedef enum {
    BROKER_AUTOSCALE_HOLD,       /* no change */
    BROKER_AUTOSCALE_BELOW_MIN,  /* fewer than the policy's min: up to min */
    BROKER_AUTOSCALE_ABOVE_MAX,  /* more than the policy's max: down to max */
    BROKER_AUTOSCALE_QUEUE_WAIT, /* the oldest request waited longer than the target */
    BROKER_AUTOSCALE_ALL_BUSY,   /* work waits and every worker is busy */
    BROKER_AUTOSCALE_COLD_START, /* work waits and there is no worker at all (min 0) */
    BROKER_AUTOSCALE_IDLE,       /* idle workers throughout the cooldown: one fewer */
    BROKER_AUTOSCALE_STARTING,   /* would grow, but workers it started have not registered */
    BROKER_AUTOSCALE_CRASH_LOOP, /* would grow, but a host stopped crashing slots */
    BROKER_AUTOSCALE_NO_ROOM,    /* would grow, but no host may take another worker */
    BROKER_AUTOSCALE_AT_MAX,     /* would grow, but the count is at the policy's max */
    BROKER_AUTOSCALE_REASONS     /* how many there are */
} broker_autoscale_reason_t;

typedef struct {
    int from;                         /* input.workers */
    int to;                           /* the new count; == from when nothing changes */
    broker_autoscale_reason_t reason; /* why (HOLD and the held-back reasons keep the count) */
} broker_autoscale_decision_t;

/* Between ticks: what the previous decisions leave for the next one. Zero it to start. */
typedef struct {
    int64_t changed_at; /* when the count last changed (0: never) */
    int64_t idle_since; /* since when workers have been idle with nothing queued (0: not) */
} broker_autoscale_state_t;

/* Checks a policy; returns NULL if it is valid, else a sentence naming the bad value. */
const char *broker_autoscale_policy_check(const broker_autoscale_policy_t *policy);

/* Parses a policy as --autoscale and SLOWLANE_AUTOSCALE give it:
   "SERVICE=MIN..MAX[,target-wait-ms=W][,cooldown-s=S]" (e.g. "slow=1..8,cooldown-s=60").
   The service name goes into service (size bytes, NUL-terminated), the policy, checked and
   with the defaults for what is absent, into *policy. Returns NULL, or a sentence naming
   what is wrong. */
const char *broker_autoscale_policy_parse(const char *text, char *service, size_t size,
                                          broker_autoscale_policy_t *policy);

/* The decision at now (ms, monotonic) for a valid policy, updating *state. */
broker_autoscale_decision_t broker_autoscale_decide(const broker_autoscale_policy_t *policy,
                                                    const broker_autoscale_input_t *input,
                                                    broker_autoscale_state_t *state, int64_t now);

/* The reason's name in logs and /metrics ("queue_wait", "idle", ...). */
const char *broker_autoscale_reason_name(broker_autoscale_reason_t reason);

#endif
