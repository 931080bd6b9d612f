/*  gateway_bridge: the gateway's connection to ONE broker, and its thread. It owns that
    broker's DEALER (an MDP/0.2 client with many requests outstanding), the connection state
    seen through a socket monitor, whether the broker is trusted (connected, and it answered
    something within heartbeat x liveness), the readiness probes (mmi.service, at least
    once a heartbeat, so a healthy idle broker keeps answering), and mmi.cancel for requests
    whose HTTP client left (gateway_cancels keeps the answers). HTTP threads send their
    encoded request on the DEALER (through a lock-free outbox when another thread holds it)
    and wait on their own slot; the bridge thread receives and hands each reply to its slot
    in the in-flight table, which all bridges share (gateway_pending). Which broker a request
    goes to, and moving it to another, is gateway_brokers'; HTTP mapping is gateway_http's.

    Lost-broker policy (applied here when the broker stops being trusted: its connection
    drops, or it falls silent while the TCP link stays up, as a stopped process does):
    - a request sent to it that is retryable and has had no PARTIAL is woken to be re-sent
      by its thread through another trusted broker (or, with none, waits until a probe finds
      a worker for its service again, and is re-sent with the time it has left; past its
      deadline it is a 504); one that is not retryable (or is half-streamed) fails at once
      with BROKER_LOST (502: it may or may not have run); a request still queued in the
      gateway for it fails with UNAVAILABLE (503). */
#ifndef GATEWAY_BRIDGE_H
#define GATEWAY_BRIDGE_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "gateway_cancels.h"
#include "gateway_pending.h"
#include "gateway_routes.h"
#include "gateway_slot.h"
#include "sl_curve.h"

typedef struct _gateway_bridge_t gateway_bridge_t;

/* How to reach one broker; all borrowed, outliving the bridge. */
typedef struct {
    const char *endpoint;           /* what the DEALER connects to */
    const char *label;              /* its name in logs and metrics (endpoint or "embedded") */
    int index;                      /* its number in the set: slots record it */
    bool in_process;                /* embedded broker: bound before us, connected at once */
    const gateway_routes_t *routes; /* whose services are probed */
    int64_t probe_ms;               /* readiness probe interval (capped at heartbeat_ms) */
    int64_t heartbeat_ms;           /* untrusted after heartbeat_ms x liveness of silence */
    int64_t liveness;               /* (as the broker's own heartbeats) */
    const sl_curve_client_t *curve; /* CURVE keys, may be NULL or empty: plaintext */
    gateway_pending_t *pending;     /* the in-flight table, shared by every bridge */
} gateway_bridge_config_t;

/* Starts the bridge actor, which connects to the broker and probes it. Returns NULL on
   failure. */
gateway_bridge_t *gateway_bridge_new(const gateway_bridge_config_t *config);

/* Stops the actor; safe on NULL and twice. Slots must be released by their threads
   before their own destruction. */
void gateway_bridge_destroy(gateway_bridge_t **self_p);

/* True while the DEALER has a completed handshake with the broker. */
bool gateway_bridge_connected(gateway_bridge_t *self);

/* True while the broker is connected and answered something within heartbeat x liveness:
   only then are requests sent to it. One atomic load. */
bool gateway_bridge_trusted(gateway_bridge_t *self);

/* zclock_mono time the broker last became trusted or untrusted (start-up counts). */
int64_t gateway_bridge_state_since(gateway_bridge_t *self);

/* Requests in flight on it answered broker_lost (502) when it stopped being trusted. */
uint64_t gateway_bridge_lost_count(gateway_bridge_t *self);

/* How many times it became trusted (the first time included) and stopped being trusted:
   counts, so that a loss shorter than anyone's look at `trusted` is still seen. */
void gateway_bridge_trust_changes(gateway_bridge_t *self, uint64_t *trusts, uint64_t *untrusts);

/* The broker's name in logs and metrics (borrowed). */
const char *gateway_bridge_label(gateway_bridge_t *self);

/* Trusted, and its last probe said service has a worker there (lock-free: the request path
   asks it to choose a broker). */
bool gateway_bridge_service_ready(gateway_bridge_t *self, const char *service);

/* Readiness: fills ready[i] for route i (true if its service had a worker at this broker's
   last probe, and it is trusted), sets *broker_state ("connected", "disconnected",
   "unresponsive": connected but silent, or probes unanswered, "closing"; static strings)
   and returns true if the broker is trusted and responsive and every route is ready.
   ready and broker_state may be NULL. */
bool gateway_bridge_ready(gateway_bridge_t *self, bool *ready, size_t count,
                          const char **broker_state);

/* Sends the request envelope of a registered slot to this broker: on the caller's thread
   if the socket is free, else by the thread holding it (no bridge wake-up on the way out,
   and the caller never waits for the lock). The envelope is views (sl_request_envelope_views)
   of bytes that must stay put until gateway_bridge_release. No czmq message is built:
   libzmq copies each frame as it is sent. If the broker is not trusted the slot gets
   UNAVAILABLE. */
void gateway_bridge_send(gateway_bridge_t *self, gateway_slot_t *slot,
                         const sl_frame_view_t envelope[SL_ENVELOPE_REQUEST_FRAMES]);

/* The client of the request with id (sent through this bridge, not answered) left: asks the
   broker to drop it, mmi.cancel [id], on the bridge's own DEALER, as the broker honours a
   cancel only from the client (the routing id) that sent the request. Its answer is counted
   (gateway_bridge_cancel_counts); the broker answers the request itself `cancelled`, a reply
   its table no longer waits for. Nothing is sent while the broker is not connected. */
void gateway_bridge_cancel(gateway_bridge_t *self, const char *id);

/* mmi.cancel sent to the broker, and its answers. */
void gateway_bridge_cancel_counts(gateway_bridge_t *self, gateway_cancels_counts_t *counts);

/* Returns once the slot is out of this bridge's outbox (sent, or failed), so its thread
   may reuse it. The table entry is gateway_brokers'. */
void gateway_bridge_release(gateway_bridge_t *self, gateway_slot_t *slot);

#endif
