/*  gateway_broker_socket: the shared options of the gateway's DEALERs to the broker, set
    once here so the three sockets cannot drift apart (a message size limit on one and not
    another, or CURVE forgotten on a new one, which a CURVE broker would silently refuse). */
#include "gateway_broker_socket.h"

#include "sl_defaults.h"

zsock_t *gateway_broker_socket_new(const sl_curve_client_t *curve)
{
    zsock_t *dealer = zsock_new(ZMQ_DEALER);
    if (!dealer)
        return NULL;
    zsock_set_linger(dealer, 0);
    zsock_set_maxmsgsize(dealer, (int) SL_MAX_MESSAGE_BYTES);
    zsock_set_reconnect_ivl(dealer, SL_GATEWAY_RECONNECT_MS);
    zsock_set_reconnect_ivl_max(dealer, SL_GATEWAY_RECONNECT_MAX_MS);
    if (curve)
        sl_curve_client_apply(curve, dealer);
    return dealer;
}
