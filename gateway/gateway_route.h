/*  gateway_route: one route of the table, its fields and options: the parsing of one
    "name=value" option (the same for --route specs and the --routes file), the defaults, and
    the per-method policies the options set (retry, cancel-on-disconnect). The table, its
    matching and where the options are written are gateway_routes'. Pure: no state, no I/O. */
#ifndef GATEWAY_ROUTE_H
#define GATEWAY_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway_methods.h"

/* When a request may be delivered again by the broker (its worker died, or the gateway
   re-sends it after a broker restart). */
typedef enum {
    GATEWAY_RETRY_IDEMPOTENT = 0, /* GET, HEAD, OPTIONS, TRACE, PUT, DELETE (the default) */
    GATEWAY_RETRY_ON,             /* every method */
    GATEWAY_RETRY_OFF             /* never */
} gateway_retry_t;

/* Whether a route's requests may be answered 202 Accepted and run as jobs (docs/jobs.md). */
typedef enum {
    GATEWAY_ASYNC_ALLOW = 0, /* when the request says Prefer: respond-async (the default) */
    GATEWAY_ASYNC_OFF,       /* never: the preference is ignored (RFC 7240 lets a server) */
    GATEWAY_ASYNC_ALWAYS     /* every request */
} gateway_async_t;

/* Whether a synchronous request whose HTTP client leaves while it waits is cancelled: taken
   out of its broker's queue, or its worker told (mmi.cancel). */
typedef enum {
    GATEWAY_CANCEL_IDEMPOTENT = 0, /* GET, HEAD, OPTIONS, TRACE, PUT, DELETE (the default) */
    GATEWAY_CANCEL_ON,             /* every method */
    GATEWAY_CANCEL_OFF             /* never: it runs to its end, its answer dropped */
} gateway_cancel_t;

typedef struct {
    size_t index;             /* position in the table, 0..count-1 (indexes counters elsewhere) */
    char *prefix;             /* "/fast": starts with '/', no trailing '/' unless it is "/" */
    size_t prefix_size;       /* strlen(prefix) */
    char *service;            /* broker service name */
    unsigned methods;         /* GATEWAY_METHOD_* bits allowed; GATEWAY_METHOD_ALL by default */
    int64_t timeout_ms;       /* deadline from arrival to the last byte of the reply */
    int64_t budget;           /* requests in flight at once before 503 */
    int64_t body_limit;       /* largest request body in bytes before 413 */
    gateway_retry_t retry;    /* retry policy */
    gateway_async_t async;    /* when requests become jobs */
    gateway_cancel_t cancel;  /* cancel-on-disconnect policy */
    int64_t async_timeout_ms; /* each attempt's deadline for a job */
    int64_t result_ttl_ms;    /* how long a job's result is kept */
    int64_t attempts;         /* attempts of a retryable job */
    bool internal;            /* the gateway's own route (the jobs API): not in /readyz */
} gateway_route_t;

/* Sets every option of self to its default (index, prefix, service and internal untouched). */
void gateway_route_set_defaults(gateway_route_t *self);

/* Applies one option, name=value (spans, not terminated): methods=GET|POST, timeout-ms=N,
   budget=N, body-limit=N, retry=on|off|idempotent, async=allow|off|always,
   async-timeout-ms=N, result-ttl-s=N, attempts=N, cancel-on-disconnect=on|off|idempotent.
   Returns 0, or -1 with one line in error naming the option and what it wants. */
int gateway_route_set_option(gateway_route_t *self, const char *name, size_t name_size,
                             const char *value, size_t value_size, char *error, size_t error_size);

/* True if the route lets a request with this method be delivered more than once. */
bool gateway_route_retryable(const gateway_route_t *self, const char *method);

/* True if a request with this method is cancelled when its client leaves while it waits. */
bool gateway_route_cancels_on_disconnect(const gateway_route_t *self, const char *method);

/* Writes one line naming a bad route or option into error (size bytes); nothing if error is
   NULL. Shared with gateway_routes, which reports the table's own errors the same way. */
void gateway_route_error(char *error, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
