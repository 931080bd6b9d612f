/*  broker_router: the ROUTER socket's options, binds and sends (see broker_router.h). The
    receive side is the event loop's (broker.c); the hot path's job and reply sends encode
    straight onto broker_router_socket with sl_mdp_send_*, so they cost no call through here. */
#include "broker_router.h"
#include "sl_curve.h"
#include "sl_defaults.h"
#include "sl_mdp_io.h"

struct _broker_router_t {
    zsock_t *socket; /* the one ROUTER socket (owned) */
    void *handle;    /* its libzmq handle, for the routing-id frame sent as plain bytes */
};

broker_router_t *broker_router_new(zcert_t *curve_cert)
{
    broker_router_t *self = (broker_router_t *) calloc(1, sizeof(broker_router_t));
    if (!self)
        return NULL;
    self->socket = zsock_new(ZMQ_ROUTER);
    if (!self->socket) {
        free(self);
        return NULL;
    }
    /* A worker restarted under the same identity takes the routing id over at once. */
    zsock_set_router_handover(self->socket, 1);
    /* A client that went away: its replies are dropped, not an error. */
    zsock_set_router_mandatory(self->socket, 0);
    zsock_set_maxmsgsize(self->socket, (int) SL_MAX_MESSAGE_BYTES);
    zsock_set_sndhwm(self->socket, SL_BROKER_HWM);
    zsock_set_rcvhwm(self->socket, SL_BROKER_HWM);
    /* Non-blocking receives let the loop drain a batch without a poll per message. */
    zsock_set_rcvtimeo(self->socket, 0);
    zsock_set_linger(self->socket, 0);
    /* Before any bind: a CURVE server socket is CURVE on every endpoint it binds. */
    if (curve_cert)
        sl_curve_server_apply(curve_cert, self->socket);
    self->handle = zsock_resolve(self->socket);
    return self;
}

void broker_router_destroy(broker_router_t **self_p)
{
    assert(self_p);
    broker_router_t *self = *self_p;
    if (!self)
        return;
    zsock_destroy(&self->socket);
    free(self);
    *self_p = NULL;
}

int broker_router_bind(broker_router_t *self, const char *endpoint)
{
    return zsock_bind(self->socket, "%s", endpoint) < 0 ? -1 : 0;
}

zsock_t *broker_router_socket(broker_router_t *self)
{
    return self->socket;
}

void broker_router_send(broker_router_t *self, zframe_t *to, zmsg_t **msg_p)
{
    zmsg_t *msg = *msg_p;
    *msg_p = NULL;
    if (!msg || zmsg_size(msg) == 0) { /* a routing id alone would prefix the next message */
        zmsg_destroy(&msg);
        return;
    }
    /* The routing id goes first as plain bytes: no frame pushed onto msg for it. */
    if (zmq_send(self->handle, zframe_data(to), zframe_size(to), ZMQ_SNDMORE) >= 0)
        zmsg_send(&msg, self->socket);
    zmsg_destroy(&msg); /* zmsg_send keeps the message on failure */
}

void broker_router_send_signal(broker_router_t *self, zframe_t *to, sl_mdp_version_t version,
                               sl_mdp_command_t command)
{
    zmsg_t *msg = sl_mdp_encode_worker_signal(version, command);
    broker_router_send(self, to, &msg);
}

void broker_router_set_linger(broker_router_t *self, int ms)
{
    zsock_set_linger(self->socket, ms);
}
