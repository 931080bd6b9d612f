/*  gateway_history_sampler: a thread that turns the gateway's counters into the dashboard's
    history once a second. Per route (from gateway_request_metrics): requests a second, p50
    and p99 latency of that second, 4xx and 5xx a second. Per service (from each trusted
    broker's mmi.stats): queue depth (all brokers), oldest wait (the longest), busy and idle
    workers and restarts (the first broker that answered, as the dashboard's tables).
    Marks: a worker that died (a registration replaced or expired), an autoscale decision, a
    broker lost and back (from the gateway's counts of trust changes, so a loss shorter than
    a second is still marked). The store is gateway_history's; the admin commands mark their own
    (gateway_admin). Cost: one mmi.stats per broker a second, shared with scrapes. */
#ifndef GATEWAY_HISTORY_SAMPLER_H
#define GATEWAY_HISTORY_SAMPLER_H

#include <stdint.h>

#include "gateway_broker_view.h"
#include "gateway_history.h"
#include "gateway_request_metrics.h"

#define GATEWAY_HISTORY_INTERVAL_MS 1000
#define GATEWAY_HISTORY_POINTS      900 /* 15 minutes */
#define GATEWAY_HISTORY_SERIES      256 /* 5 per route and per service: ~50 of each */

typedef struct _gateway_history_sampler_t gateway_history_sampler_t;

/* Starts sampling into history from metrics and brokers (all borrowed; they must outlive
   the sampler). NULL if the thread cannot start. */
gateway_history_sampler_t *gateway_history_sampler_new(gateway_history_t *history,
                                                       gateway_request_metrics_t *metrics,
                                                       const gateway_broker_view_t *brokers);

/* Stops the thread (within one sample) and frees the sampler; safe on NULL and twice. */
void gateway_history_sampler_destroy(gateway_history_sampler_t **self_p);

/* Quantile q (0..1) of a histogram: counts[0..count] non-cumulative, the last unbounded,
   bounds[0..count-1] the finite upper bounds; linear inside a bucket, the last finite bound
   for a rank in the unbounded one. NaN when the counts are all 0. */
double gateway_history_quantile(double q, const double *bounds, const double *counts, size_t count);

#endif
