/*  gateway_broker_stats: the broker's counters as the gateway sees them. An actor with a DEALER
    of its own (never the bridge's: a scrape must not queue behind requests, and requests
    must not wait for a scrape) asks the broker `mmi.stats` on demand and keeps the last
    answer (gateway_broker_metrics turns it into Prometheus text). One per broker. It never
    sends per request: only a scrape of /metrics, /dashboard/data.json or the cluster view
    asks, and the dashboard's sampler once a second (gateway_history_sampler). */
#ifndef GATEWAY_BROKER_STATS_H
#define GATEWAY_BROKER_STATS_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "sl_curve.h"

typedef struct _gateway_stats_t gateway_broker_stats_t;

/* Starts the actor, connected to the broker at endpoint (the index-th of the gateway's) with
   the gateway's CURVE keys (borrowed, must outlive it; NULL or empty: plaintext). NULL on
   failure. */
gateway_broker_stats_t *gateway_broker_stats_new(const char *endpoint, size_t index,
                                                 const sl_curve_client_t *curve);

/* Stops the actor; safe on NULL and twice. */
void gateway_broker_stats_destroy(gateway_broker_stats_t **self_p);

/* The broker's last answer if it is at most max_age_ms old; otherwise asks for a new one
   and waits up to wait_ms for it. Returns a new reference to the parsed JSON (caller
   decrefs), or NULL if the broker did not answer in time and nothing fresh is known. */
json_t *gateway_broker_stats_get(gateway_broker_stats_t *self, int64_t max_age_ms, int64_t wait_ms);

#endif
