/*  gateway_cluster: the gateway's window on the cluster manager. A DEALER of its own (never
    the bridge's: an operator's query must not queue behind requests) asks the broker's
    mmi.cluster for the cluster view and mmi.cluster.command to act (docs/protocol.md
    section 7.4). Callable from any thread: one request at a time under a lock, each tagged
    so a late answer is never taken for the next one's. The HTTP face is gateway_admin;
    the dashboard reads the view through gateway_cluster_view. */
#ifndef GATEWAY_CLUSTER_H
#define GATEWAY_CLUSTER_H

#include <jansson.h>
#include <stdint.h>

#include "sl_curve.h"

typedef struct _gateway_cluster_t gateway_cluster_t;

/* Connects to the broker at endpoint with the gateway's CURVE keys (borrowed, must outlive
   it; NULL or empty: plaintext). NULL on failure. */
gateway_cluster_t *gateway_cluster_new(const char *endpoint, const sl_curve_client_t *curve);

/* Closes the socket; safe on NULL and twice. */
void gateway_cluster_destroy(gateway_cluster_t **self_p);

/* The cluster view (docs/admin-api.md, GET /api/v1/cluster): the caller's own copy, to
   decref, so no JSON value is shared between threads. A view at most max_age_ms old is
   reused; otherwise the broker is asked and given up to wait_ms. NULL if the broker did not
   answer in time. */
json_t *gateway_cluster_view(gateway_cluster_t *self, int64_t max_age_ms, int64_t wait_ms);

/* Runs one command object ({"op":..., "service":..., ...}, borrowed) at the broker.
   Returns its answer (new reference: {"ok":bool, "status":HTTP status, ...}), or NULL if
   the broker did not answer within wait_ms. */
json_t *gateway_cluster_command(gateway_cluster_t *self, json_t *command, int64_t wait_ms);

#endif
