/*  gateway_brokers: the set of brokers the gateway sends requests to (--broker, repeatable,
    and the embedded one), one gateway_bridge each, and the shared in-flight table. It
    chooses a broker per request among those trusted now (least outstanding first, ties in
    turn), moves a request to another trusted broker when its own is lost, and counts what
    each broker carried. The connection to each broker, its trust and its lost-broker
    policy are gateway_bridge's; a request's exchange is gateway_exchange's. */
#ifndef GATEWAY_BROKERS_H
#define GATEWAY_BROKERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway_bridge.h"
#include "gateway_routes.h"
#include "gateway_slot.h"
#include "sl_curve.h"

/* The brokers to reach; all borrowed, outliving the set. */
typedef struct {
    const char *const *endpoints;    /* count endpoints, in --broker order */
    const char *const *labels;       /* their names in logs and metrics */
    const sl_curve_client_t *curves; /* count CURVE key sets (may be empty: plaintext) */
    size_t count;                    /* at least 1 */
    bool first_in_process;           /* endpoints[0] is the embedded broker */
    const gateway_routes_t *routes;  /* whose services are probed */
    int64_t probe_ms;                /* readiness probe interval */
    int64_t heartbeat_ms;            /* a broker silent heartbeat_ms x liveness is lost */
    int64_t liveness;
} gateway_brokers_config_t;

typedef struct _gateway_brokers_t gateway_brokers_t;

/* Starts one bridge per broker. NULL on failure (with the failing endpoint in error). */
gateway_brokers_t *gateway_brokers_new(const gateway_brokers_config_t *config, char *error,
                                       size_t size);
/* Stops every bridge and fails what still waits; safe on NULL and twice. */
void gateway_brokers_destroy(gateway_brokers_t **self_p);

/* Refuses new requests (UNAVAILABLE) and wakes every waiting slot with UNAVAILABLE: the
   first step of shutting down after draining. */
void gateway_brokers_close(gateway_brokers_t *self);

/* ---- the request path (HTTP threads) */

/* True if at least one broker is trusted now (else a new request is a 503 at once). */
bool gateway_brokers_any_trusted(gateway_brokers_t *self);

/* Registers slot under id (a buffer of SL_REQUEST_ID_MAX + 1 bytes holding a valid id; a
   fresh one is written into it if another request in flight has it) and assigns it the
   trusted broker with the fewest requests outstanding. deadline_ms is on zclock_mono's
   clock. Returns the broker's number (the caller keeps it for the calls below), or -1 if no
   broker is trusted or the set is closed (not registered). */
int gateway_brokers_register(gateway_brokers_t *self, gateway_slot_t *slot, char *id,
                             const char *service, bool retryable, int64_t deadline_ms);

/* Sends the slot's envelope to broker number index, the one assigned to it
   (gateway_bridge_send). */
void gateway_brokers_send(gateway_brokers_t *self, int index, gateway_slot_t *slot,
                          const sl_frame_view_t envelope[SL_ENVELOPE_REQUEST_FRAMES]);

/* The slot was woken to be re-sent (its broker was lost, or came back): assigns it the
   trusted broker with the fewest outstanding, moving it from broker *index, writes its
   number into *index and returns true (send it again), or, with none trusted, lets it wait
   for a probe to find its service again and returns false. */
bool gateway_brokers_reroute(gateway_brokers_t *self, gateway_slot_t *slot, const char *service,
                             int *index);

/* The slot's broker answered that it has no worker for service (a broker back from a
   restart or a stall, before its workers registered again), or the request could not be
   sent to it at all: assigns it another trusted broker (with ready_only, one whose probe
   found a worker; else those first), writes its number into *index and returns true (send
   it again), or returns false (none: the answer stands). */
bool gateway_brokers_reroute_elsewhere(gateway_brokers_t *self, gateway_slot_t *slot,
                                       const char *service, bool ready_only, int *index);

/* The client of the request with id left: asks broker number index, which holds it, to drop
   it (gateway_bridge_cancel). */
void gateway_brokers_cancel(gateway_brokers_t *self, int index, const char *id);

/* The slot leaves its broker and the table; a late reply for its id is then dropped.
   index: its broker's number. Safe on a slot that was never registered. */
void gateway_brokers_release(gateway_brokers_t *self, gateway_slot_t *slot, int index);

/* ---- views (any thread) */

size_t gateway_brokers_count(gateway_brokers_t *self);
/* Broker number index (< count), borrowed. */
gateway_bridge_t *gateway_brokers_bridge(gateway_brokers_t *self, size_t index);

/* What broker number index carried. */
typedef struct {
    bool trusted;                     /* requests go to it now */
    int64_t since_ms;                 /* time in that state */
    int64_t outstanding;              /* requests assigned to it and not finished */
    uint64_t sent;                    /* requests sent to it (re-sends included) */
    uint64_t failovers;               /* requests moved from it to another broker */
    uint64_t broker_lost;             /* requests in flight on it answered 502 broker_lost */
    uint64_t trusts;                  /* times it became trusted, the first included */
    uint64_t untrusts;                /* times it was lost (stopped being trusted) */
    gateway_cancels_counts_t cancels; /* mmi.cancel sent to it and its answers */
} gateway_brokers_counters_t;
void gateway_brokers_counters(gateway_brokers_t *self, size_t index,
                              gateway_brokers_counters_t *counters);

/* Readiness over the set: ready[i] for route i is true if some trusted broker has a worker
   for its service; *broker_state is the best of the brokers' states (gateway_bridge_ready).
   Returns true if every route is ready. ready and broker_state may be NULL. */
bool gateway_brokers_ready(gateway_brokers_t *self, bool *ready, size_t count,
                           const char **broker_state);

#endif
