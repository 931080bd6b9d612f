/*  gateway_broker_socket: the shared options of the gateway's DEALERs to the broker, set
    once here so the three sockets cannot drift apart (a message size limit on one and not
    another, or CURVE forgotten on a new one, which a CURVE broker would silently refuse). */
#include "gateway_broker_socket.h"

#include "sl_defaults.h"
#include "sl_io_threads.h"

zsock_t *gateway_broker_socket_new(const sl_curve_client_t *curve, size_t broker_index)
{
    zsock_t *dealer = zsock_new(ZMQ_DEALER);
    if (!dealer)
        return NULL;
    /* This broker's own I/O thread: a host name whose lookup hangs stalls only its sockets. */
    uint64_t affinity = sl_io_threads_affinity(zsys_init(), broker_index);
    zmq_setsockopt(zsock_resolve(dealer), ZMQ_AFFINITY, &affinity, sizeof affinity);
    zsock_set_linger(dealer, 0);
    zsock_set_maxmsgsize(dealer, (int) SL_MAX_MESSAGE_BYTES);
    zsock_set_reconnect_ivl(dealer, SL_GATEWAY_RECONNECT_MS);
    zsock_set_reconnect_ivl_max(dealer, SL_GATEWAY_RECONNECT_MAX_MS);
    if (curve)
        sl_curve_client_apply(curve, dealer);
    return dealer;
}
