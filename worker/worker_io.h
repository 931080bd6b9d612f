/*  worker_io: the worker's I/O actor. It owns the DEALER to the broker and speaks the MDP/0.2
    worker sub-protocol: READY, heartbeats both ways (also while the handler runs), broker
    loss by liveness or DISCONNECT, reconnects on a new socket with backoff. It does not run
    handlers: jobs go to the handler thread over the actor pipe.

    Pipe messages, first frame a command string:
      actor -> caller: "JOB" + body frames | "REGISTERED" (the broker answered after READY)
                       | "DRAINED" (DISCONNECT sent, nothing more will be sent)
      caller -> actor: "PARTIAL"/"FINAL" + body frames | "DRAIN" | "$TERM" */
#ifndef WORKER_IO_H
#define WORKER_IO_H

#include <czmq.h>

typedef struct {
    char *endpoint;       /* broker endpoint, owned */
    char *service;        /* service name, owned */
    char *identity;       /* routing id or NULL for a random one, owned */
    int heartbeat_ms;     /* heartbeat interval both ways */
    int liveness;         /* missed heartbeats before the broker is presumed dead */
    int reconnect_min_ms; /* first reconnect delay */
    int reconnect_max_ms; /* reconnect delay cap */
} worker_io_config_t;

/* The actor body for zactor_new; args is a worker_io_config_t the caller keeps alive until
   the actor is destroyed. After the ready signal the actor sends one string message:
   "OK", or "FAILED" (bad endpoint) and ends. */
void worker_io_actor(zsock_t *pipe, void *args);

#endif
