/*  worker_broker_link: one connection of a worker to one broker: its DEALER, the READY
    that registers, heartbeats and liveness, and the reconnect backoff after a loss. It
    sends and receives MDP/0.2 worker commands (MDP/0.1's with settings.version, for an
    RFC 7 broker: no PARTIAL, capacity, credit or cancel), and names what went wrong when
    a broker never answers READY; what a job, a credit or a demand means is
    not its business (worker_io keeps the jobs and the grants across every link). Each loss
    starts a new generation, so a reply can tell whether the connection its job came over
    is still the one that is up. */
#ifndef WORKER_BROKER_LINK_H
#define WORKER_BROKER_LINK_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>
#include "sl_curve.h"
#include "sl_mdp.h"

typedef struct _worker_broker_link_t worker_broker_link_t;

/* What every link of a worker shares; borrowed, it must outlive the link. */
typedef struct {
    const char *service;      /* the service registered */
    const char *identity;     /* routing id, or NULL for a random one */
    int heartbeat_ms;         /* heartbeat interval both ways */
    int liveness;             /* missed heartbeats before the broker is presumed dead */
    int reconnect_min_ms;     /* first reconnect delay */
    int reconnect_max_ms;     /* reconnect delay cap */
    int capacity;             /* K, declared in READY (protocol.md 3.6) */
    sl_mdp_version_t version; /* the worker protocol spoken: SL_MDP_V02, or V01 (RFC 7) */
} worker_broker_link_settings_t;

/* A link to endpoint, the index-th of the worker's brokers (its sockets use that broker's
   I/O thread: sl_io_threads.h), not yet connected. curve (borrowed) is this broker's keys:
   both NULL for plaintext. NULL out of memory. */
worker_broker_link_t *worker_broker_link_new(const worker_broker_link_settings_t *settings,
                                             size_t index, const char *endpoint,
                                             const sl_curve_client_t *curve);

/* Closes the socket if open and clears the pointer; safe on NULL. */
void worker_broker_link_destroy(worker_broker_link_t **self_p);

/* Opens a new DEALER, connects it and sends READY: with credit < 0 the READY of one broker
   (protocol.md 3.6), else the READY of a worker of several brokers with `credit=N` (3.7).
   Returns 0, or -1 if the endpoint is invalid (a new attempt is scheduled after the
   backoff). */
int worker_broker_link_connect(worker_broker_link_t *self, int credit);

/* Drops the connection (logged with reason) and schedules a new one after the backoff; the
   generation changes. No-op when not connected. */
void worker_broker_link_lose(worker_broker_link_t *self, const char *reason);

/* True while a socket is open (READY sent): the broker may be dispatching to us. */
bool worker_broker_link_connected(const worker_broker_link_t *self);

/* The connection's generation: it changes at every loss, never otherwise. */
uint64_t worker_broker_link_generation(const worker_broker_link_t *self);

/* The broker endpoint (borrowed), for logs. */
const char *worker_broker_link_endpoint(const worker_broker_link_t *self);

/* The DEALER to poll (borrowed), NULL when not connected. */
zsock_t *worker_broker_link_socket(const worker_broker_link_t *self);

/* The PAIR that reports the DEALER's connection events (borrowed), to poll; NULL when not
   connected or when no monitor could be made. */
zsock_t *worker_broker_link_monitor(const worker_broker_link_t *self);

/* The monitor's descriptor, readable when an event arrives, once the monitor has been read
   until empty (worker_broker_link_closed); -1 before that or without a monitor: poll the
   socket itself then. Polled as a plain descriptor the monitor costs zmq_poll nothing,
   where a socket item costs a getpid() and a poll() of its mailbox before and after each
   sleep. */
int worker_broker_link_monitor_fd(const worker_broker_link_t *self);

/* Reads the events waiting on the monitor; true if one says the connection closed (the
   broker's process died or its host reset the connection). The caller loses the link,
   after reading what the broker sent before it closed (its DISCONNECT, say). */
bool worker_broker_link_closed(worker_broker_link_t *self);

/* Receives one command from the broker into out. Returns 1 with a decoded worker-side
   command in out (the caller resets it), 0 if a message was read and dropped (malformed,
   logged), -1 if none was waiting, -2 if the broker's first answer to READY is not a
   worker command of our protocol version (logged once as broker_unexpected_answer, with
   what came): the caller loses the link. Any command proves the broker alive; the first
   one after READY sets *registered (else it is left alone). */
int worker_broker_link_recv(worker_broker_link_t *self, sl_mdp_msg_t *out, bool *registered);

/* Heartbeat timer at now (zclock_mono): sends a HEARTBEAT when due, or loses the link
   when the broker has been silent for liveness intervals. Returns true if it lost it. The
   reason logged tells a broker that went silent (heartbeat_timeout) from one that never
   answered READY over a working connection (no_answer_to_ready: not a Majordomo broker
   of our version, e.g. an RFC 7 broker dropping MDPW02), a connection whose handshake
   failed (handshake_failed: CURVE keys) and no connection at all (unreachable). */
bool worker_broker_link_tick(worker_broker_link_t *self, int64_t now);

/* True if the link is down and its reconnect delay has passed at now. */
bool worker_broker_link_reconnect_due(const worker_broker_link_t *self, int64_t now);

/* When the link next needs a tick (its heartbeat) or a reconnect (if may_reconnect). */
int64_t worker_broker_link_wake_at(const worker_broker_link_t *self, bool may_reconnect);

/* Senders; all no-ops when not connected, and none ever blocks (a broker that does not
   read costs dropped messages, not a stuck worker). */
void worker_broker_link_send_signal(worker_broker_link_t *self, sl_mdp_command_t command);
void worker_broker_link_send_credit(worker_broker_link_t *self, int limit);
void worker_broker_link_send_handback(worker_broker_link_t *self, zframe_t *address);
/* PARTIAL or FINAL of the job at address; takes *body_p. MDP/0.1 has no PARTIAL: the
   caller joins the parts into the FINAL (sent as RFC 7's REPLY). */
void worker_broker_link_send_reply(worker_broker_link_t *self, bool final, zframe_t *address,
                                   zmsg_t **body_p);

/* DISCONNECT, with linger_ms for it to leave the socket. */
void worker_broker_link_disconnect(worker_broker_link_t *self, int linger_ms);

#endif
