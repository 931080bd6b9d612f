/*  broker_embedded: a broker on a thread of another program's process (the gateway's, for
    `slowlane-gateway --embed-broker`). Workers reach it on its TCP binds as they would reach
    slowlane-broker; the host program reaches it on an inproc:// endpoint, which skips the
    two libzmq I/O threads and the loopback TCP hop of every request and reply. */
#ifndef BROKER_EMBEDDED_H
#define BROKER_EMBEDDED_H

#include <stddef.h>
#include "broker_curve.h"
#include "broker_options.h"
#include "sl_flags.h"

typedef struct _broker_embedded_t broker_embedded_t;

/* Starts the broker with options and curve (borrowed; outlive it; curve made from the same
   options by broker_curve_new) bound to every endpoint in binds
   and to an inproc endpoint of its own. Returns NULL with one line in error naming the
   endpoint that failed. Must be called in the process's czmq context (inproc only reaches
   sockets of the same context: czmq's zsock_new sockets all share one). */
broker_embedded_t *broker_embedded_new(const broker_options_t *options, const broker_curve_t *curve,
                                       const sl_strlist_t *binds, char *error, size_t size);

/* The inproc endpoint the host program connects to. */
const char *broker_embedded_endpoint(broker_embedded_t *self);

/* Stops the broker as slowlane-broker stops on SIGTERM (waiting requests answered
   shutting_down, workers told DISCONNECT), joins its thread, and clears the pointer.
   Safe on NULL. */
void broker_embedded_destroy(broker_embedded_t **self_p);

#endif
