/*  gateway_cancels: one broker's mmi.cancel traffic as its bridge sees it: the request that
    asks the broker to drop a request whose HTTP client left, the broker's answers, and their
    counts (read by /metrics from any thread). When to ask is gateway_relay's; the socket the
    question goes out on (the one the request went out on) is gateway_bridge's. */
#ifndef GATEWAY_CANCELS_H
#define GATEWAY_CANCELS_H

#include <czmq.h>
#include <stdint.h>

#define GATEWAY_CANCELS_SERVICE "mmi.cancel"

/* mmi.cancel sent to a broker, and its answers. */
typedef struct {
    uint64_t sent;     /* requests it was asked to drop */
    uint64_t removed;  /* "200": it was queued, and never starts */
    uint64_t stopped;  /* "202": it was at a worker, which is told; its reply is dropped */
    uint64_t not_held; /* "404": answered already, or never arrived */
    uint64_t other;    /* anything else ("501": a broker without mmi.cancel) */
} gateway_cancels_counts_t;

typedef struct _gateway_cancels_t gateway_cancels_t;

/* Counts for the broker named label (borrowed, outliving them, for the log). NULL if out of
   memory. */
gateway_cancels_t *gateway_cancels_new(const char *label);
void gateway_cancels_destroy(gateway_cancels_t **self_p);

/* The MDP/0.2 client REQUEST mmi.cancel [id] (caller owns), NULL if out of memory. */
zmsg_t *gateway_cancels_request(const char *id);
/* One request went out. Any thread. */
void gateway_cancels_sent(gateway_cancels_t *self);
/* The broker's answer, body [code, id] (borrowed): counted and logged under the id. */
void gateway_cancels_answered(gateway_cancels_t *self, zmsg_t *body);
/* Any thread. */
void gateway_cancels_counts(gateway_cancels_t *self, gateway_cancels_counts_t *counts);

#endif
