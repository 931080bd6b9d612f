/*  worker_io: the worker's I/O side. It holds one link per broker (worker_broker_link.c:
    a DEALER speaking the MDP/0.2 worker sub-protocol, with its own READY, heartbeats,
    liveness and reconnects) and the jobs received over all of them. With a capacity K > 1
    it declares K in READY (docs/protocol.md 3.6) and queues the jobs the brokers send
    ahead, so the next one is at hand when the handler finishes. With several brokers it
    shares the K slots among them by credit, hand-back and demand (3.7, worker_credit.c).

    Its I/O thread receives: jobs go to the handler thread over a worker_mailbox one at a
    time. The handler thread sends its own PARTIALs and FINAL (worker_io_reply), under the
    lock that the I/O thread holds whenever it is not asleep, so a job wakes the I/O thread
    once, not twice. Only a handler that never blocks (run_inline) runs on the I/O thread,
    without the hand-off.

    Mailbox messages, first frame a command string:
      I/O -> handler: "OK" or "FAILED" first (a bad endpoint: the thread then ends)
                      | "JOB" + body frames | "REGISTERED" (a broker answered after READY)
                      | "DRAINED" (DISCONNECT sent, nothing more will be sent)
      handler -> I/O: "DRAIN" | "READ" (a broker's message waits: the handler's send took
                      the wake-up meant for the I/O thread; or a lost link may reconnect now
                      that the job is done) | "$TERM" (the thread ends) */
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

typedef struct _worker_io_t worker_io_t;

/* The I/O side of config (borrowed), talking to the handler thread through to_handler and
   from_handler (borrowed); all three must outlive it. NULL out of memory. */
worker_io_t *worker_io_new(worker_io_config_t *config, worker_mailbox_t *to_handler,
                           worker_mailbox_t *from_handler);

/* Destroys it once its thread has been joined; *self_p becomes NULL. Safe on NULL. */
void worker_io_destroy(worker_io_t **self_p);

/* The I/O thread's body for pthread_create; io is a worker_io_t. It runs until "$TERM",
   or sends "FAILED" and ends. */
void *worker_io_thread(void *io);

/* On the handler thread: a PARTIAL (final false) or the FINAL of the job in hand, body
   taken. It goes out at once to that job's broker, if that connection is still up; after
   a FINAL the next job received ahead comes as "JOB". */
void worker_io_reply(worker_io_t *self, bool final, zmsg_t **body_p);

#endif
