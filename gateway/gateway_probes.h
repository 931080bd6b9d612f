/*  gateway_probes: which routes have a worker behind them, as the broker answers
    `mmi.service` for each route's service, asked every probe interval. It keeps the answers
    (read by /readyz from any thread) and the bookkeeping of a round of probes in flight
    (the bridge's thread only). Sending the probes and what a service found ready again
    means for waiting requests are the bridge's (gateway_bridge). */
#ifndef GATEWAY_PROBES_H
#define GATEWAY_PROBES_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway_routes.h"

typedef struct _gateway_probes_t gateway_probes_t;

/* Probes for the distinct services of routes (borrowed, sealed, outliving the probes). */
gateway_probes_t *gateway_probes_new(const gateway_routes_t *routes, int64_t probe_ms);
void gateway_probes_destroy(gateway_probes_t **self_p);

/* Any thread. Fills ready[i] for the first count routes (ready may be NULL): the broker is
   connected and said 200 for the route's service. *responsive: the broker answered a probe
   within three intervals. Returns true if every route is ready. */
bool gateway_probes_routes_ready(gateway_probes_t *self, bool connected, bool *ready, size_t count,
                                 bool *responsive);

/* The bridge's thread only, from here on. */

/* The distinct services, indexed 0..count-1. */
size_t gateway_probes_service_count(gateway_probes_t *self);
const char *gateway_probes_service(gateway_probes_t *self, size_t index);

/* A connection is up: the first round gets its time before the broker counts as
   unresponsive. Or it dropped: every service is unready until it answers again. Both forget
   the round in flight. */
void gateway_probes_connected(gateway_probes_t *self);
void gateway_probes_disconnected(gateway_probes_t *self);

/* The last probe answer for service (a route's): true if the broker said it has a worker.
   Lock-free, for the request path; false for a service no route names. */
bool gateway_probes_service_ready(gateway_probes_t *self, const char *service);

/* Whether a new round may start now: false while the last one, sent less than three
   intervals ago, still has answers due. A round that went unanswered makes its services
   unready, and its answers, if they ever come, are counted out. */
bool gateway_probes_round_begin(gateway_probes_t *self, int64_t now, int64_t interval);
/* The probe for service index went out (in index order); then the round is sent, at now. */
void gateway_probes_sent(gateway_probes_t *self, size_t index);
void gateway_probes_round_sent(gateway_probes_t *self, int64_t now);

/* An `mmi.service` answer (body: its frames, may be NULL). Returns the service's name if
   the broker said 200 for it, else NULL (not ready, stale, or an answer nobody asked for). */
const char *gateway_probes_answer(gateway_probes_t *self, zmsg_t *body);

#endif
