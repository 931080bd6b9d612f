/*  gateway_bridge: the one thread that talks to the broker. It owns the only DEALER (an
    MDP/0.2 client with many requests outstanding), the table of in-flight slots keyed by
    request id, the connection state seen through a socket monitor, and the readiness probes
    (mmi.service). HTTP threads register a slot, send their encoded request on the DEALER
    (through a lock-free outbox when another thread holds it), and wait on their own slot,
    all through gateway_exchange; the bridge thread receives and hands each reply to its
    slot. HTTP mapping lives in gateway_http, not here.

    Broker-down policy (decided here, documented in docs/architecture.md's terms):
    - while the DEALER has no broker, gateway_bridge_register refuses at once (503);
    - when the connection drops, a request already sent that is retryable and has had no
      PARTIAL waits, and is re-sent with the time it has left once the broker is back and a
      probe finds a worker for its service (a restarted broker would answer no_worker until
      its workers reconnect); past its deadline it is a 504; one that is
      not retryable (or is half-streamed) fails at once with BROKER_LOST (502: it may or may
      not have run); a request still queued in the gateway fails with UNAVAILABLE (503). */
#ifndef GATEWAY_BRIDGE_H
#define GATEWAY_BRIDGE_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "gateway_routes.h"
#include "gateway_slot.h"
#include "sl_curve.h"

typedef struct _gateway_bridge_t gateway_bridge_t;
/* Starts the bridge actor, which connects to endpoint and probes the services of routes
   (borrowed; must outlive the bridge) every probe_ms. in_process: the broker is embedded
   in this process (gateway_embedded_broker), bound before the bridge starts and alive as
   long as it, so the bridge counts it connected at once (inproc has no handshake to see).
   curve (borrowed, may be NULL: must outlive the bridge) makes the connection CURVE when
   it holds keys. Returns NULL on failure. */
gateway_bridge_t *gateway_bridge_new(const char *endpoint, bool in_process,
                                     const gateway_routes_t *routes, int64_t probe_ms,
                                     const sl_curve_client_t *curve);

/* Stops the actor and fails every slot still waiting; safe on NULL and twice. Slots must be
   released by their threads before their own destruction. */
void gateway_bridge_destroy(gateway_bridge_t **self_p);

/* Refuses new requests (UNAVAILABLE) and wakes every waiting slot with UNAVAILABLE: the
   first step of shutting down after draining. */
void gateway_bridge_close(gateway_bridge_t *self);

/* True while the DEALER has a completed handshake with a broker and the bridge is open. */
bool gateway_bridge_connected(gateway_bridge_t *self);

/* Readiness: fills ready[i] for route i (true if its service had a worker at the last
   probe), sets *broker_state ("connected", "disconnected", "unresponsive": probes go
   unanswered, "closing"; static strings) and returns true if the broker is connected and
   responsive and every route is ready. ready and broker_state may be NULL. */
bool gateway_bridge_ready(gateway_bridge_t *self, bool *ready, size_t count,
                          const char **broker_state);

/* Registers slot under id (a buffer of SL_REQUEST_ID_MAX + 1 bytes holding a valid id).
   If another request in flight already uses that id, a fresh one is written into id, so
   replies stay unambiguous. deadline_ms is on zclock_mono's clock. Returns 0, or -1 if the
   broker is not connected or the bridge is closed (the slot is then not registered). */
int gateway_bridge_register(gateway_bridge_t *self, gateway_slot_t *slot, char *id,
                            const char *service, bool retryable, int64_t deadline_ms);

/* Sends the request envelope of a registered slot to the broker: on the caller's thread if
   the socket is free, else by the thread holding it (no bridge wake-up on the way out, and
   the caller never waits for the lock). The envelope is views (sl_request_envelope_views)
   of bytes that must stay put until gateway_bridge_release (gateway_exchange's). No czmq message is
   built: libzmq copies each frame as it is sent. If the broker is not connected the slot gets
   UNAVAILABLE. */
void gateway_bridge_send(gateway_bridge_t *self, gateway_slot_t *slot,
                         const sl_frame_view_t envelope[SL_ENVELOPE_REQUEST_FRAMES]);

/* Removes the slot from the table and drops anything still queued on it. After this, a
   late reply for its id is dropped by the bridge. */
void gateway_bridge_release(gateway_bridge_t *self, gateway_slot_t *slot);

#endif
