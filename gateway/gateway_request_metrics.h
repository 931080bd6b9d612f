/*  gateway_request_metrics: the gateway's own counters, cheap enough for the request path: per
    route (and one row for requests that matched no route), answers by status, a latency
    histogram, 503s and 504s by cause; plus broker re-sends. Every update is a relaxed
    atomic add on a table sized at start-up: no lock, no allocation. It writes them as
    Prometheus text (exposition format 0.0.4) and as JSON for the dashboard; the broker's
    counters are gateway_broker_stats', the HTTP endpoints gateway_observe_http's. */
#ifndef GATEWAY_REQUEST_METRICS_H
#define GATEWAY_REQUEST_METRICS_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "gateway_routes.h"

#define GATEWAY_REQUEST_METRICS_LATENCY_BUCKETS                                                    \
    16 /* finite latency bounds; one more counts the rest */

/* The cause of a request cancelled because its client hung up (gateway_relay says it). */
#define GATEWAY_REQUEST_METRICS_CLIENT_CLOSED "client_closed"

typedef struct _gateway_metrics_t gateway_request_metrics_t;

/* Creates the counters for the routes of a sealed table (borrowed; must outlive them).
   NULL on allocation failure. */
gateway_request_metrics_t *gateway_request_metrics_new(const gateway_routes_t *routes);

/* Destroys the counters; safe on NULL and twice. */
void gateway_request_metrics_destroy(gateway_request_metrics_t **self_p);

/* Counts one answered request: route NULL for requests that matched none (404s, the
   gateway's own endpoints), status 0 for a client that left before the answer, cause the
   response's error cause (static string) or NULL; GATEWAY_REQUEST_METRICS_CLIENT_CLOSED
   counts it cancelled too. Lock-free; callable from any thread. */
void gateway_request_metrics_request(gateway_request_metrics_t *self, const gateway_route_t *route,
                                     int status, const char *cause, int64_t duration_us);

/* Counts one request re-sent after the broker came back. */
void gateway_request_metrics_resend(gateway_request_metrics_t *self);

/* Writes the gateway's metrics as Prometheus text to out. */
void gateway_request_metrics_write(gateway_request_metrics_t *self, FILE *out);

/* The per-route counters as JSON for the dashboard (caller owns the reference):
   [{"route","service","requests","statuses":{"200":n},"latency_bounds_s":[...],
   "latency_buckets":[...non-cumulative, last is +Inf]}, ...]. */
json_t *gateway_request_metrics_json(gateway_request_metrics_t *self);

#endif
