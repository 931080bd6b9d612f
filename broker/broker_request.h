/*  broker_request: one client request while the broker holds it, from receipt until its
    FINAL (or error) goes back: who asked, in which MDP version, when it must be answered,
    whether it may be delivered again. A plain record that the event loop reads and writes
    directly; queueing lives in broker_service, delivery in broker_dispatch. */
#ifndef BROKER_REQUEST_H
#define BROKER_REQUEST_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>
#include "sl_defaults.h"
#include "sl_mdp.h"

typedef struct _broker_service_t broker_service_t;
typedef struct _broker_worker_t broker_worker_t;

typedef struct _broker_request_t {
    zframe_t *client;                /* owned: the client's ROUTER routing id */
    sl_mdp_version_t client_version; /* how to answer the client: MDPC01 or MDPC02 */
    broker_service_t *service;       /* borrowed: the service it was sent to */
    bool is_envelope;                /* body is an SLREQ/1 envelope: replies get the id frame */
    char id[SL_REQUEST_ID_MAX + 1];  /* envelope request id, "" for plain MDP requests */
    int64_t deadline;                /* zclock_mono() time after which it is never dispatched */
    int64_t received;                /* zclock_mono() time it arrived (queue-wait metric) */
    bool retryable;                  /* may be delivered again if its worker dies */
    int deliveries;                  /* times handed to a worker so far (a hand-back or a
                                        DISCONNECT that crossed it uncounts one) */
    bool wait_counted;               /* its queue wait went into the histogram (once) */
    bool partial_sent;               /* a PARTIAL went to the client: never deliver again */
    bool cancelled;                  /* its client cancelled it at a worker (mmi.cancel) and
                                        was answered: the worker's replies are dropped, and it
                                        only waits for the FINAL that frees the slot */
    zmsg_t *body;                    /* owned: the body while queued; after delivery kept
                                        (sent as references) only if retryable, else NULL */
    void *queue_handle;              /* zlistx handle while in its service's queue, else NULL */
    size_t footprint;                /* bytes it holds while queued (counted by its service) */
    broker_worker_t *worker;         /* borrowed: the worker holding it, else NULL */
    int slot;                        /* its slot in worker->jobs while held */
    uint32_t tag;                    /* job tag sequence while held (protocol.md 3.6) */
} broker_request_t;

/* True if the request is the envelope request id sent by client (its routing id). */
bool broker_request_is(const broker_request_t *self, zframe_t *client, const char *id);

/* Creates a request; takes ownership of *client_p and *body_p (both set to NULL). The
   caller fills in service, envelope fields, deadline and retry policy. */
broker_request_t *broker_request_new(zframe_t **client_p, sl_mdp_version_t client_version,
                                     zmsg_t **body_p);

/* Destroys the request and clears the pointer; safe on NULL. The caller must have taken it
   out of any queue and worker first. */
void broker_request_destroy(broker_request_t **self_p);

/* Milliseconds left until the deadline at now (may be zero or negative). */
int64_t broker_request_time_left(const broker_request_t *self, int64_t now);

#endif
