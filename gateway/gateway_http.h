/*  gateway_http: the civetweb server and the per-request flow: own endpoints (/healthz,
    /readyz), route match (404/405), limits (431/413), admission against the route budget
    (503 at once), the request envelope, and the access log line. The wait for the answer
    is gateway_relay's, response bytes gateway_response's, broker traffic gateway_brokers'. */
#ifndef GATEWAY_HTTP_H
#define GATEWAY_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway_brokers.h"
#include "gateway_admin.h"
#include "gateway_client_watch.h"
#include "gateway_request_metrics.h"
#include "gateway_observe_http.h"
#include "gateway_routes.h"

typedef struct {
    const char *listen;                   /* civetweb listening_ports value: "8080" (all IPv4) */
    int64_t threads;                      /* civetweb threads; 0 derives it from the budgets */
    int64_t keepalive_ms;                 /* idle keep-alive connections are closed after this */
    int64_t request_read_ms;              /* time to receive one request (headers and body) */
    bool access_log;                      /* one log line per request */
    gateway_request_metrics_t *metrics;   /* borrowed request counters, NULL for none */
    gateway_observe_http_t *observe;      /* borrowed /metrics and /dashboard, NULL for none */
    gateway_admin_t *admin;               /* borrowed /api/ admin API, NULL: /api/ is not served */
    gateway_client_watch_t *client_watch; /* borrowed hang-up watcher for cancel-on-disconnect,
                                             NULL: requests run on when their client leaves */
} gateway_http_config_t;

typedef struct _gateway_http_t gateway_http_t;

/* Thread count for routes: the sum of the budgets plus a reserve, so a flood on one route
   cannot take the threads another route needs; capped at SL_MAX_GATEWAY_THREADS. */
int64_t gateway_http_threads_for(const gateway_routes_t *routes);

/* Starts serving. routes and brokers are borrowed and must outlive the server. Returns
   NULL with one line in error (e.g. the port is taken). */
gateway_http_t *gateway_http_new(const gateway_http_config_t *config,
                                 const gateway_routes_t *routes, gateway_brokers_t *brokers,
                                 char *error, size_t error_size);

/* From now on every new request gets 503 shutting_down (the first step of a drain). */
void gateway_http_refuse(gateway_http_t *self);

/* Requests admitted and not yet answered. */
int64_t gateway_http_in_flight(gateway_http_t *self);

/* Stops civetweb (waits for its threads); safe on NULL and twice. */
void gateway_http_destroy(gateway_http_t **self_p);

#endif
