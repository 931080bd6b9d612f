/*  broker_stats: the broker's counters and their publication. Per service (kept by name,
    so a service retired and registered again keeps counting): requests, replies, errors by
    code, re-deliveries, hand-backs, the queue-wait histogram, worker registrations, worker exits by
    reason, missed heartbeats. The event loop bumps plain integers (one thread, no atomics).
    Publishing them (`mmi.stats`, docs/protocol.md section 2.5) is broker_stats_json's job,
    deciding anything about requests is not its job either. */
#ifndef BROKER_STATS_H
#define BROKER_STATS_H

#include <czmq.h>
#include <stdint.h>
#include "broker_autoscale.h"
#include "sl_envelope.h"

#define BROKER_STATS_WAIT_BUCKETS 14 /* finite queue-wait bounds; one more counts the rest */

/* Why a worker's registration ended, as the broker sees it. */
typedef enum {
    BROKER_EXIT_REPLACED = 0, /* READY again under its identity: the process was restarted */
    BROKER_EXIT_EXPIRED,      /* silent for heartbeat x liveness */
    BROKER_EXIT_DISCONNECTED, /* said DISCONNECT: drained, recycled, rolled, scaled down */
    BROKER_EXIT_PROTOCOL,     /* protocol violation: the broker sent DISCONNECT */
    BROKER_EXIT_COUNT
} broker_exit_reason_t;

/* One service's counters. Read and written by the event loop only. */
typedef struct {
    char *name;                                           /* owned service name */
    uint64_t requests;                                    /* REQUESTs accepted */
    uint64_t replies;                                     /* FINALs forwarded to clients */
    uint64_t errors[SL_ERROR_COUNT];                      /* error answers (or drops) by code */
    uint64_t requeues;                                    /* re-queued after a worker died */
    uint64_t handbacks;                                   /* returned unstarted (3.7) */
    uint64_t wait_buckets[BROKER_STATS_WAIT_BUCKETS + 1]; /* first deliveries by wait */
    uint64_t wait_sum_ms;                                 /* sum of those waits */
    uint64_t registrations;                               /* READYs accepted */
    uint64_t exits[BROKER_EXIT_COUNT];                    /* registrations ended, by reason */
    uint64_t heartbeats_missed;                           /* ticks that found a worker late */
    uint64_t worst_silence_ms; /* longest a worker went unheard between two of its messages */
    uint64_t autoscale[BROKER_AUTOSCALE_REASONS]; /* autoscaler log lines, by reason */
} broker_stats_service_t;

typedef struct _broker_stats_t broker_stats_t;

/* Creates the counter table. NULL on allocation failure. */
broker_stats_t *broker_stats_new(void);

/* Destroys the table and clears the pointer; safe on NULL and twice. */
void broker_stats_destroy(broker_stats_t **self_p);

/* The counters of service name, created on first use; borrowed, valid until the table is
   destroyed. NULL on allocation failure (callers then count nothing). */
broker_stats_service_t *broker_stats_service(broker_stats_t *self, const char *name);

/* Counts a first delivery that waited wait_ms in the queue. */
void broker_stats_queue_wait(broker_stats_service_t *stats, int64_t wait_ms);

/* Counts a request for a service that does not exist (not per name: names come from
   clients, and a label per name would let any client grow the table). */
void broker_stats_unknown_service(broker_stats_t *self);

/* Exit reason for the reason strings broker.c logs ("replaced", "expired", ...). */
broker_exit_reason_t broker_stats_exit_reason(const char *reason);

/* Upper bound in ms of queue-wait bucket index (0..BROKER_STATS_WAIT_BUCKETS-1). */
int64_t broker_stats_wait_bound_ms(size_t index);

/* Name of an exit reason ("replaced", ...); static. */
const char *broker_stats_exit_name(broker_exit_reason_t reason);

/* Walks the per-service counters in no set order: first (NULL if none), then next until
   NULL. One walk at a time. */
broker_stats_service_t *broker_stats_service_first(const broker_stats_t *self);
broker_stats_service_t *broker_stats_service_next(const broker_stats_t *self);

/* Requests counted by broker_stats_unknown_service. */
uint64_t broker_stats_unknown(const broker_stats_t *self);

#endif
