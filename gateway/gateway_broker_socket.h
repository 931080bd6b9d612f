/*  gateway_broker_socket: the set-up every gateway socket to the broker shares (the
    bridge's, gateway_broker_stats' and gateway_cluster's DEALERs): no linger, the message size
    limit, the reconnect intervals, the broker's own I/O thread and, when configured, the
    CURVE client keys. What differs (queueing, timeouts, a monitor) and the connect itself
    stay with each socket's owner. */
#ifndef GATEWAY_BROKER_SOCKET_H
#define GATEWAY_BROKER_SOCKET_H

#include <czmq.h>

#include "sl_curve.h"

/* A new DEALER with the shared options, not yet connected (options such as ZMQ_IMMEDIATE
   only apply to connections made after them). curve (borrowed, may be NULL or without keys:
   plaintext) makes it a CURVE client of the broker. broker_index (the broker's place in the
   gateway's list) picks the I/O thread of that broker's sockets (sl_io_threads.h). Returns
   NULL if zmq cannot make it. */
zsock_t *gateway_broker_socket_new(const sl_curve_client_t *curve, size_t broker_index);

#endif
