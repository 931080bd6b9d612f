/*  gateway_observe_http: the gateway's observability endpoints. GET /metrics (Prometheus text:
    the gateway's counters from gateway_request_metrics, per broker from gateway_brokers and
   each broker's own from gateway_broker_stats),
   GET /dashboard and its embedded files (gateway_dashboard), and GET /dashboard/data.json, the JSON
   the page polls, which names hosts, pids and services, and GET /dashboard/history.json, the
   charts' points (gateway_history): both need the admin token when one is configured.
   docs/observability.md describes them. */
#ifndef GATEWAY_OBSERVE_HTTP_H
#define GATEWAY_OBSERVE_HTTP_H

#include <civetweb.h>
#include <stdbool.h>

#include "gateway_broker_view.h"
#include "gateway_cluster.h"
#include "gateway_history.h"
#include "gateway_request_metrics.h"
#include "gateway_response.h"

typedef struct {
    gateway_request_metrics_t *metrics; /* borrowed: the gateway's counters */
    gateway_broker_view_t brokers;      /* borrowed: the brokers, their state and counters */
    const char *admin_token;            /* borrowed; NULL or "": data.json is open to anyone */
    gateway_cluster_t *jobs;            /* borrowed: asks the jobs service; NULL: no jobs */
    gateway_history_t *history;         /* borrowed: the charts' last minutes */
} gateway_observe_http_config_t;

typedef struct _gateway_observe_t gateway_observe_http_t;

/* Creates the endpoints; everything in config is borrowed and must outlive them. */
gateway_observe_http_t *gateway_observe_http_new(const gateway_observe_http_config_t *config);

/* Frees them; safe on NULL and twice. */
void gateway_observe_http_destroy(gateway_observe_http_t **self_p);

/* True if path (decoded, as civetweb gives it) is /metrics or under /dashboard. */
bool gateway_observe_http_owns(const char *path);

/* Answers a request whose path gateway_observe_http_owns: 200, 401 (data.json without the
   token), 404 (a dashboard name that is not embedded) or 405 (not GET/HEAD). */
void gateway_observe_http_handle(gateway_observe_http_t *self, gateway_response_t *response,
                                 const struct mg_request_info *info);

#endif
