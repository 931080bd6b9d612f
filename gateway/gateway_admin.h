/*  gateway_admin: the admin API under /api/v1/ (docs/admin-api.md): bearer-token check
    (constant time; 401 without or with a wrong token; 403 for every /api/ path when the
    gateway has no token configured: the API is off by default), request parsing and the
    JSON answers. What a command does is the broker's (gateway_cluster, broker_agent). */
#ifndef GATEWAY_ADMIN_H
#define GATEWAY_ADMIN_H

#include <civetweb.h>
#include <stdbool.h>

#include "gateway_cluster.h"
#include "gateway_history.h"
#include "gateway_response.h"

typedef struct _gateway_admin_t gateway_admin_t;

/* Creates the admin API answering with cluster (borrowed, must outlive it). token (copied)
   is the bearer token; NULL disables the API (403). Every command a broker accepted is
   marked in history (borrowed; NULL: none) for the dashboard's charts. NULL on allocation
   failure. */
gateway_admin_t *gateway_admin_new(const char *token, gateway_cluster_t *cluster,
                                   gateway_history_t *history);

/* Destroys it, wiping the token; safe on NULL and twice. */
void gateway_admin_destroy(gateway_admin_t **self_p);

/* True for the paths it answers: everything under /api/. */
bool gateway_admin_owns(const char *path);

/* Answers one request (reads its body itself). */
void gateway_admin_handle(gateway_admin_t *self, gateway_response_t *response,
                          struct mg_connection *conn, const struct mg_request_info *info);

#endif
