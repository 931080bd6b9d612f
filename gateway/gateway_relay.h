/*  gateway_relay: one request's answer on its way from the broker to its HTTP client, as its
    civetweb thread waits for it: the whole reply, a stream, or the error that ended the wait;
    and cancel-on-disconnect: a client that hangs up while it waits has its request cancelled
    at its broker rather than run for nobody. Each civetweb thread keeps one. Response bytes
    are gateway_response's, the exchange with the broker gateway_exchange's, noticing the
    hang-up gateway_client_watch's; which requests may be cancelled is the route's. */
#ifndef GATEWAY_RELAY_H
#define GATEWAY_RELAY_H

#include <stdatomic.h>
#include <stdbool.h>

#include "gateway_client_watch.h"
#include "gateway_exchange.h"
#include "gateway_request_metrics.h"
#include "gateway_response.h"

/* How long a request waits before its client is watched. Why not from the start: a request
   answered in milliseconds is not worth a walk of the descriptors and two epoll calls, and
   a client gone in that time costs a worker milliseconds. So one wake-up per long wait, no
   periodic poll, and nothing at all for the others. */
#define GATEWAY_RELAY_WATCH_AFTER_MS 200

typedef struct _gateway_relay_t gateway_relay_t;

/* One civetweb thread's relay. watch (borrowed, may be NULL: no client is watched) notices
   hang-ups; stopping (borrowed) is true while the gateway drains, when an error says
   shutting_down. NULL if out of memory. */
gateway_relay_t *gateway_relay_new(gateway_client_watch_t *watch, const atomic_bool *stopping);
/* Safe on NULL and twice. */
void gateway_relay_destroy(gateway_relay_t **self_p);

/* Waits for the started exchange's replies and writes them on response, or the error that
   ended the wait. With cancel_on_disconnect, a wait longer than GATEWAY_RELAY_WATCH_AFTER_MS
   watches the client's socket; a client that hangs up before its answer (or whose stream
   fails to write) has its request cancelled (gateway_exchange_cancel) and is written nothing
   more; response->cause says GATEWAY_REQUEST_METRICS_CLIENT_CLOSED, and with no status
   written the request counts as 499. The client is no longer watched when this returns. */
void gateway_relay_await(gateway_relay_t *self, gateway_exchange_t *exchange,
                         gateway_response_t *response, bool cancel_on_disconnect);

#endif
