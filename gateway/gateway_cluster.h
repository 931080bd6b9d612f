/*  gateway_cluster: the gateway's window on the cluster manager. A DEALER of its own to each
    broker (never a bridge's: an operator's query must not queue behind requests) asks a
    trusted broker's mmi.cluster for the cluster view and mmi.cluster.command to act
    (docs/protocol.md section 7.4): every agent reports to every broker, so one answers for
    all; a command goes to the first trusted broker in --broker order, and to the next if it
    does not answer in time. Callable from any thread: one request at a time under a lock, each
   tagged so a late answer is never taken for the next one's. The HTTP face is gateway_admin; the
   dashboard reads the view through gateway_cluster_view. */
#ifndef GATEWAY_CLUSTER_H
#define GATEWAY_CLUSTER_H

#include <jansson.h>
#include <stdint.h>

#include "gateway_broker_view.h"
#include "sl_curve.h"

typedef struct _gateway_cluster_t gateway_cluster_t;

/* Connects to each broker of brokers (borrowed, as endpoints and curves: one each, in the
   set's order; a curve entry without keys: plaintext). NULL on failure. */
gateway_cluster_t *gateway_cluster_new(const gateway_broker_view_t *brokers,
                                       const char *const *endpoints,
                                       const sl_curve_client_t *curves);

/* Closes the socket; safe on NULL and twice. */
void gateway_cluster_destroy(gateway_cluster_t **self_p);

/* The cluster view (docs/admin-api.md, GET /api/v1/cluster): the caller's own copy, to
   decref, so no JSON value is shared between threads, with a "brokers" array (each broker's
   state, queues and workers). A view at most max_age_ms old is reused; otherwise a trusted
   broker is asked and given up to wait_ms. NULL if none answered in time. */
json_t *gateway_cluster_view(gateway_cluster_t *self, int64_t max_age_ms, int64_t wait_ms);

/* Runs one command object ({"op":..., "service":..., ...}, borrowed) at one trusted broker,
   the next if it does not answer within wait_ms. Returns its answer (new reference:
   {"ok":bool, "status":HTTP status, ...}), or NULL if none answered. */
json_t *gateway_cluster_command(gateway_cluster_t *self, json_t *command, int64_t wait_ms);

/* Asks the jobs service (docs/jobs.md) for its counts and a listing, GET /jobs?query with
   query's state, service and limit, at the first trusted broker that answers within wait_ms.
   Returns its JSON answer with "status" (its HTTP status; 503 with "error" when no broker
   has a jobs service), or NULL if no broker answered. */
json_t *gateway_cluster_jobs(gateway_cluster_t *self, const char *query, int64_t wait_ms);
#endif
