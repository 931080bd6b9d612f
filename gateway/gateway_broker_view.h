/*  gateway_broker_view: what the operator sees of each broker: its state (up: trusted, or
    down), for how long, its requests outstanding from this gateway, and its queues and
    workers from its last mmi.stats answer. One reading for /metrics, the dashboard's
    data.json and GET /api/v1/cluster's "brokers". Asking is gateway_broker_stats', trust
    gateway_bridge's, the HTTP faces gateway_observe_http's and gateway_admin's. */
#ifndef GATEWAY_BROKER_VIEW_H
#define GATEWAY_BROKER_VIEW_H

#include <jansson.h>
#include <stdint.h>

#include "gateway_broker_stats.h"
#include "gateway_brokers.h"

/* Both borrowed: stats has one entry per broker of brokers (an entry may be NULL). */
typedef struct {
    gateway_brokers_t *brokers;
    gateway_broker_stats_t *const *stats;
} gateway_broker_view_t;

/* Fills answers[i] (count = gateway_brokers_count) with broker i's mmi.stats answer, a new
   reference, or NULL if it is not trusted or did not answer within wait_ms; an answer at
   most max_age_ms old is reused. */
void gateway_broker_view_stats(const gateway_broker_view_t *self, json_t **answers,
                               int64_t max_age_ms, int64_t wait_ms);

/* The "brokers" array of docs/admin-api.md (new reference), from answers as above. */
json_t *gateway_broker_view_json(const gateway_broker_view_t *self, json_t *const *answers);

/* Labels of the brokers, in order (borrowed from their bridges), into labels[count]. */
void gateway_broker_view_labels(const gateway_broker_view_t *self, const char **labels);

#endif
