/*  broker: the Majordomo broker's event loop. One ROUTER socket (bound to every endpoint),
    clients and workers of MDP/0.1 and MDP/0.2 on it, told apart by their first frames.
    Owns the loop, the worker protocol and the timers; the tables are broker_registry's,
    request delivery broker_dispatch's, mmi.* answers broker_mmi's, host agents
    broker_agent's. Flags and signals are broker_main.c's business. */
#ifndef BROKER_H
#define BROKER_H

#include <czmq.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include "broker_config.h"

typedef struct _broker_t broker_t;

/* Creates a broker with its ROUTER socket (not yet bound); curve_cert (borrowed, outlives
   the broker; NULL: plaintext) makes every bind CURVE. NULL on failure. */
broker_t *broker_new(const broker_config_t *config, zcert_t *curve_cert);

/* Destroys the broker and clears the pointer; safe on NULL. Call broker_shutdown first
   to tell workers and waiting clients. */
void broker_destroy(broker_t **self_p);

/* Binds the ROUTER to endpoint. Returns 0, or -1 with zmq_errno() set. */
int broker_bind(broker_t *self, const char *endpoint);

/* Runs the event loop until *stop becomes non-zero. Returns 0, or -1 if polling failed for
   a reason other than a signal. */
int broker_run(broker_t *self, volatile sig_atomic_t *stop);

/* Makes broker_run also return when a message arrives on socket (borrowed; the message is
   consumed): an embedded broker's owner stops it at once, not at the next tick. */
void broker_stop_on(broker_t *self, zsock_t *socket);

/* Stops serving: answers every waiting or in-flight envelope request `shutting_down` and
   sends DISCONNECT to every worker, so they reconnect to the next broker by themselves. */
void broker_shutdown(broker_t *self);

#endif
