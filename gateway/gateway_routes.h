/*  gateway_routes: the route table of the gateway. A route (gateway_route) maps a method set
    and a path prefix to a broker service, with its deadline, in-flight budget, body limit and
    policies. Parsed from --route specs and a JSON --routes file, validated once at start-up,
    then read-only: matching is lock-free. Admission counters live in gateway_http, not here. */
#ifndef GATEWAY_ROUTES_H
#define GATEWAY_ROUTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway_route.h"

typedef struct _gateway_routes_t gateway_routes_t;

/* Outcome of a lookup. */
typedef enum {
    GATEWAY_ROUTE_FOUND = 0,
    GATEWAY_ROUTE_NOT_FOUND,         /* no prefix matches: 404 */
    GATEWAY_ROUTE_METHOD_NOT_ALLOWED /* a prefix matches, the method does not: 405 */
} gateway_route_result_t;

/* Creates an empty table. */
gateway_routes_t *gateway_routes_new(void);

/* Frees the table; safe on NULL and twice. */
void gateway_routes_destroy(gateway_routes_t **self_p);

/* Adds one route from "PREFIX=SERVICE[,option=value...]" (the options of
   gateway_route_set_option). Returns 0, or -1 with one line in error naming the bad part.
   Only before gateway_routes_seal. */
int gateway_routes_add_spec(gateway_routes_t *self, const char *spec, char *error,
                            size_t error_size);

/* Adds the route of the jobs API: /jobs (GET, HEAD, DELETE) to the jobs service, marked
   internal. Returns 0, or -1 with one line in error (a user route has that prefix). */
int gateway_routes_add_jobs(gateway_routes_t *self, char *error, size_t error_size);
/* Adds the routes of a JSON file: {"routes": [{"prefix": "/fast", "service": "fast",
   "methods": ["GET", "POST"] or "GET|POST", "timeout-ms": 1000, "budget": 64,
   "body-limit": 1048576, "retry": "idempotent"}, ...]} (a bare array is accepted too).
   Unknown keys are errors, so a typo cannot silently fall back to a default.
   Returns 0, or -1 with one line in error. */
int gateway_routes_load_file(gateway_routes_t *self, const char *path, char *error,
                             size_t error_size);

/* Checks the table as a whole (at least one route, no two routes with the same prefix and
   an overlapping method) and orders it for matching. Returns 0 or -1 with error set. After
   this the table is read-only and may be shared between threads. */
int gateway_routes_seal(gateway_routes_t *self, char *error, size_t error_size);

/* Finds the route for method and path (path without the query). The longest prefix that
   matches on a segment boundary wins ("/fast" matches "/fast" and "/fast/x", never
   "/faster"). On METHOD_NOT_ALLOWED *allowed is set to the methods that prefix accepts.
   *route is borrowed from the table. */
gateway_route_result_t gateway_routes_match(const gateway_routes_t *self, const char *method,
                                            const char *path, const gateway_route_t **route,
                                            unsigned *allowed);

/* Number of routes and the route at index (borrowed; index order, not match order). */
size_t gateway_routes_count(const gateway_routes_t *self);
const gateway_route_t *gateway_routes_at(const gateway_routes_t *self, size_t index);

#endif
