/*  worker_io: the worker's I/O thread. It holds one link per broker (worker_broker_link.c:
    a DEALER speaking the MDP/0.2 worker sub-protocol, with its own READY, heartbeats,
    liveness and reconnects) and the jobs received over all of them. With a capacity K > 1
    it declares K in READY (docs/protocol.md 3.6) and queues the jobs the brokers send
    ahead, so the next one is at hand when the handler finishes. With several brokers it
    shares the K slots among them by credit, hand-back and demand (3.7, worker_credit.c).
    Handlers run on the handler thread, the jobs going over a worker_mailbox one at a time;
    only a handler that never blocks (run_inline) runs here, on the I/O thread, without the
    two hand-offs.

    Mailbox messages, first frame a command string:
      I/O -> handler: "OK" or "FAILED" first (a bad endpoint: the thread then ends)
                      | "JOB" + body frames | "REGISTERED" (a broker answered after READY)
                      | "DRAINED" (DISCONNECT sent, nothing more will be sent)
      handler -> I/O: "PARTIAL"/"FINAL" + body frames | "DRAIN" | "$TERM" (the thread ends) */
#ifndef WORKER_IO_H
#define WORKER_IO_H

#include <czmq.h>
#include <stdbool.h>
#include "sl_curve.h"
#include "sl_defaults.h"
#include "sl_mdp.h"
#include "worker_cancel.h"
#include "worker_job.h"
#include "worker_mailbox.h"

/* Runs one job on the I/O thread: takes *body_p (the REQUEST body), may send PARTIALs
   through partial(partial_arg), returns the FINAL body (never NULL). Sets *stop when the
   worker should drain after this job (max jobs reached). */
typedef zmsg_t *(worker_io_inline_fn) (zmsg_t **body_p, worker_job_send_fn *partial,
                                       void *partial_arg, void *arg, bool *stop);

/* One broker the worker registers with. */
typedef struct {
    char *endpoint;      /* broker endpoint, owned */
    zcert_t *server_key; /* its own CURVE public key, owned; NULL: the config's curve.server */
} worker_io_broker_t;

typedef struct {
    worker_io_broker_t brokers[SL_MAX_WORKER_BROKERS]; /* every broker, the first one given
                                                          to sl_worker_new first */
    size_t broker_count;     /* brokers in use, 1..SL_MAX_WORKER_BROKERS */
    char *service;           /* service name, owned */
    char *identity;          /* routing id or NULL for a random one, owned */
    int heartbeat_ms;        /* heartbeat interval both ways */
    int liveness;            /* missed heartbeats before the broker is presumed dead */
    int reconnect_min_ms;    /* first reconnect delay */
    int reconnect_max_ms;    /* reconnect delay cap */
    sl_curve_client_t curve; /* CURVE keys, owned; both NULL: plaintext */
    int capacity;            /* jobs held at once across every broker, 1..SL_MAX_WORKER_CAPACITY */
    sl_mdp_version_t mdp;    /* worker protocol: SL_MDP_V02, or SL_MDP_V01 for an RFC 7 broker
                                (one broker, capacity 1; PARTIALs are joined into the REPLY) */
    worker_cancel_t *cancel; /* borrowed: raised on CANCEL of the job in hand */
    worker_io_inline_fn *run_inline; /* non-NULL: jobs run on the I/O thread through it */
    void *inline_arg;                /* its argument */
} worker_io_config_t;

/* What the I/O thread is given: all borrowed, kept alive by the caller until it is joined. */
typedef struct {
    worker_io_config_t *config;
    worker_mailbox_t *to_handler;   /* the I/O thread's messages */
    worker_mailbox_t *from_handler; /* the handler thread's */
} worker_io_mailboxes_t;

/* The I/O thread's body for pthread_create; args is a worker_io_mailboxes_t. It runs until
   "$TERM", or sends "FAILED" and ends. */
void *worker_io_thread(void *args);

#endif
