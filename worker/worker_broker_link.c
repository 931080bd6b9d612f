/*  worker_broker_link: one broker connection of a worker (see worker_broker_link.h). When
    the broker is lost the socket is thrown away and a new one connects after a backoff,
    because MDP says a worker re-registers on a fresh socket. Sends use a zero timeout: a
    dead broker costs dropped heartbeats, never a stuck worker or a stuck other link. */
#include <assert.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "sl_defaults.h"
#include "sl_io_threads.h"
#include "sl_log.h"
#include "sl_mdp_io.h"
#include "worker_backoff.h"
#include "worker_broker_link.h"

struct _worker_broker_link_t {
    const worker_broker_link_settings_t *settings; /* shared by every link, borrowed */
    char *endpoint;                                /* the broker, owned */
    size_t index;                                  /* of the broker, in the worker's list */
    const sl_curve_client_t *curve;                /* this broker's keys, borrowed */
    zsock_t *dealer;          /* to the broker; NULL while waiting to reconnect */
    zsock_t *monitor;         /* PAIR fed by zmq_socket_monitor on the dealer, or NULL */
    bool monitor_emptied;     /* read until empty since it was made: see _monitor_fd */
    uint64_t generation;      /* bumped at every loss */
    int64_t heartbeat_at;     /* when the next HEARTBEAT is due */
    int64_t reconnect_at;     /* when to open a new socket (dealer NULL) */
    int liveness;             /* heartbeat intervals left before the broker is dead */
    bool heard;               /* the broker spoke since our READY */
    bool handshaken;          /* the connection's ZMTP handshake succeeded since READY */
    bool handshake_failed;    /* ... or failed (CURVE keys refused, protocol error) */
    worker_backoff_t backoff; /* reconnect delays */
};

static sl_log_limit_t s_bad_message_limit;

worker_broker_link_t *worker_broker_link_new(const worker_broker_link_settings_t *settings,
                                             size_t index, const char *endpoint,
                                             const sl_curve_client_t *curve)
{
    assert(settings && endpoint && curve);
    worker_broker_link_t *self = calloc(1, sizeof(worker_broker_link_t));
    if (!self)
        return NULL;
    self->endpoint = strdup(endpoint);
    if (!self->endpoint) {
        free(self);
        return NULL;
    }
    self->settings = settings;
    self->index = index;
    self->curve = curve;
    worker_backoff_init(&self->backoff, settings->reconnect_min_ms, settings->reconnect_max_ms,
                        2.0);
    return self;
}

//  Closes the DEALER and its monitor. Monitoring stops first: libzmq sends each event with
//  a blocking send, so an event raised after the PAIR has gone (the closing connection's
//  own DISCONNECTED) would stall the I/O thread, and with it every link (libzmq #3575).
static void s_close(worker_broker_link_t *self)
{
    if (self->dealer && self->monitor)
        zmq_socket_monitor(zsock_resolve(self->dealer), NULL, 0);
    zsock_destroy(&self->monitor);
    self->monitor_emptied = false;
    zsock_destroy(&self->dealer);
}

void worker_broker_link_destroy(worker_broker_link_t **self_p)
{
    assert(self_p);
    worker_broker_link_t *self = *self_p;
    if (!self)
        return;
    s_close(self);
    free(self->endpoint);
    free(self);
    *self_p = NULL;
}

//  A new DEALER with our options, connected to the endpoint; NULL if the endpoint is bad.
static zsock_t *s_open_dealer(worker_broker_link_t *self)
{
    zsock_t *dealer = zsock_new(ZMQ_DEALER);
    if (!dealer)
        return NULL;
    void *handle = zsock_resolve(dealer);
    int zero = 0;
    int64_t max_message = SL_MAX_MESSAGE_BYTES;
    //  Linger 0: what a lost connection still queues is stale by definition. Send timeout
    //  0: a broker that does not read must not stop our heartbeats or the handler.
    zmq_setsockopt(handle, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(handle, ZMQ_SNDTIMEO, &zero, sizeof zero);
    //  Receive timeout 0 too: the loop takes every waiting message per wake-up
    zmq_setsockopt(handle, ZMQ_RCVTIMEO, &zero, sizeof zero);
    zmq_setsockopt(handle, ZMQ_MAXMSGSIZE, &max_message, sizeof max_message);
    //  This broker's own I/O thread: a host name whose lookup hangs stalls only this link
    uint64_t affinity = sl_io_threads_affinity(zsys_init(), self->index);
    zmq_setsockopt(handle, ZMQ_AFFINITY, &affinity, sizeof affinity);
    const char *identity = self->settings->identity;
    if (identity)
        zmq_setsockopt(handle, ZMQ_ROUTING_ID, identity, strlen(identity));
    sl_curve_client_apply(self->curve, dealer); /* before connect; no-op when off */
    if (zsock_connect(dealer, "%s", self->endpoint) == -1)
        zsock_destroy(&dealer);
    return dealer;
}

//  A monitor of the DEALER's connection: a broker that dies (kill -9, crash, a host that
//  resets the connection) is then lost at once, not after liveness intervals of silence
//  during which its share of our free slots (protocol.md 3.7) would go unused. NULL if the
//  monitor cannot be made: liveness still catches the loss.
static zsock_t *s_open_monitor(zsock_t *dealer)
{
    static atomic_uint_fast64_t monitors;
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "inproc://worker-link-%" PRIuFAST64,
             atomic_fetch_add(&monitors, 1));
    //  The handshake events tell a broker that never answered READY from one never reached
    int events = ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                 ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                 ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
    if (zmq_socket_monitor(zsock_resolve(dealer), endpoint, events) != 0)
        return NULL;
    zsock_t *monitor = zsock_new_pair(NULL);
    if (monitor && zsock_connect(monitor, "%s", endpoint) != 0)
        zsock_destroy(&monitor);
    if (monitor)
        zsock_set_rcvtimeo(monitor, 0);
    return monitor;
}

int worker_broker_link_connect(worker_broker_link_t *self, int credit)
{
    assert(!self->dealer);
    const worker_broker_link_settings_t *settings = self->settings;
    self->dealer = s_open_dealer(self);
    if (!self->dealer) {
        int64_t delay = worker_backoff_next(&self->backoff);
        self->reconnect_at = zclock_mono() + delay;
        sl_log(SL_LOG_WARN, NULL, "broker_connect_failed", "endpoint=%s reconnect_ms=%lld",
               self->endpoint, (long long) delay);
        return -1;
    }
    self->monitor = s_open_monitor(self->dealer);
    zmsg_t *ready = NULL;
    if (settings->version == SL_MDP_V01)
        //  RFC 7's READY is the service name alone: no capacity, credit or cancel frame
        ready = sl_mdp_encode_ready(SL_MDP_V01, settings->service);
    else {
        ready = credit < 0
                    ? sl_mdp_encode_ready_capacity(settings->service, settings->capacity)
                    : sl_mdp_encode_ready_credit(settings->service, settings->capacity, credit);
        //  protocol.md 3.8: it takes CANCEL (sl_job_cancelled, exec's SIGTERM)
        if (ready)
            sl_mdp_ready_add_cancel(ready);
    }
    zmsg_send(&ready, self->dealer);
    zmsg_destroy(&ready);
    self->liveness = settings->liveness;
    self->heartbeat_at = sl_mdp_heartbeat_next(zclock_mono(), settings->heartbeat_ms);
    self->heard = false;
    self->handshaken = false;
    self->handshake_failed = false;
    sl_log(SL_LOG_DEBUG, NULL, "broker_connect", "endpoint=%s service=%s credit=%d", self->endpoint,
           settings->service, credit);
    return 0;
}

static const char *s_version_name(const worker_broker_link_t *self)
{
    return self->settings->version == SL_MDP_V01 ? "0.1" : "0.2";
}

void worker_broker_link_lose(worker_broker_link_t *self, const char *reason)
{
    if (!self->dealer)
        return;
    //  libzmq closes a connection whose handshake failed: that is the news, not the close
    if (!self->heard && self->handshake_failed)
        reason = "handshake_failed";
    s_close(self);
    self->generation++;
    int64_t delay = worker_backoff_next(&self->backoff);
    self->reconnect_at = zclock_mono() + delay;
    sl_log(SL_LOG_WARN, NULL, "broker_lost", "endpoint=%s reason=%s mdp=%s reconnect_ms=%lld",
           self->endpoint, reason, s_version_name(self), (long long) delay);
}

zsock_t *worker_broker_link_monitor(const worker_broker_link_t *self)
{
    return self->monitor;
}

int worker_broker_link_monitor_fd(const worker_broker_link_t *self)
{
    //  libzmq signals a socket's descriptor for an arriving message only once its reader
    //  has found the pipe empty: before the first read until empty it may stay silent
    return self->monitor && self->monitor_emptied ? zsock_fd(self->monitor) : -1;
}

bool worker_broker_link_closed(worker_broker_link_t *self)
{
    bool closed = false;
    zmsg_t *event;
    while (self->monitor && (event = zmsg_recv(self->monitor))) {
        zframe_t *first = zmsg_first(event);
        uint16_t code = 0;
        if (first && zframe_size(first) >= sizeof code)
            memcpy(&code, zframe_data(first), sizeof code);
        closed = closed || code == ZMQ_EVENT_DISCONNECTED;
        if (code == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
            self->handshaken = true;
        else if (code == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL ||
                 code == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
                 code == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
            self->handshake_failed = true;
        zmsg_destroy(&event);
    }
    self->monitor_emptied = self->monitor != NULL;
    return closed;
}

bool worker_broker_link_connected(const worker_broker_link_t *self)
{
    return self->dealer != NULL;
}

uint64_t worker_broker_link_generation(const worker_broker_link_t *self)
{
    return self->generation;
}

const char *worker_broker_link_endpoint(const worker_broker_link_t *self)
{
    return self->endpoint;
}

zsock_t *worker_broker_link_socket(const worker_broker_link_t *self)
{
    return self->dealer;
}

int worker_broker_link_recv(worker_broker_link_t *self, sl_mdp_msg_t *out, bool *registered)
{
    if (!self->dealer)
        return -1;
    const char *reason = NULL;
    sl_mdp_recv_result_t result =
        sl_mdp_recv(self->dealer, SL_MDP_FROM_BROKER, NULL, out, NULL, &reason);
    if (result == SL_MDP_RECV_NONE)
        return -1;
    bool ours = result == SL_MDP_RECV_OK && out->from_worker_side &&
                out->version == self->settings->version;
    if (!ours && !self->heard) {
        //  The first answer to READY is not ours to read: the broker speaks another MDP
        //  version (an RFC 7 broker to an MDPW02 READY, or the other way round) or another
        //  protocol. Waiting on would only end in a heartbeat timeout that hides why.
        const char *got = result != SL_MDP_RECV_OK     ? (reason ? reason : "malformed")
                          : !out->from_worker_side     ? "client_message"
                          : out->version == SL_MDP_V01 ? "mdp_0.1"
                                                       : "mdp_0.2";
        bool other_version = result == SL_MDP_RECV_OK && out->from_worker_side;
        sl_log(SL_LOG_WARN, NULL, "broker_unexpected_answer", "endpoint=%s mdp=%s got=%s%s%s",
               self->endpoint, s_version_name(self), got, other_version ? " try=--mdp=" : "",
               other_version ? got + 4 : "");
        sl_mdp_msg_reset(out);
        return -2;
    }
    if (!ours) {
        sl_log_limited(&s_bad_message_limit, SL_LOG_WARN, NULL, "malformed_message",
                       "from=broker endpoint=%s reason=%s", self->endpoint,
                       reason ? reason : "client_protocol");
        sl_mdp_msg_reset(out);
        return 0;
    }
    //  Any command from the broker proves it alive (RFC 18: acts as a heartbeat)
    self->liveness = self->settings->liveness;
    if (!self->heard) {
        self->heard = true;
        worker_backoff_reset(&self->backoff);
        *registered = true;
    }
    return 1;
}

bool worker_broker_link_tick(worker_broker_link_t *self, int64_t now)
{
    if (!self->dealer || now < self->heartbeat_at)
        return false;
    if (--self->liveness <= 0) {
        //  Read the connection's events first: a handshake may have finished since the poll
        worker_broker_link_closed(self);
        worker_broker_link_lose(self, self->heard              ? "heartbeat_timeout"
                                      : self->handshaken       ? "no_answer_to_ready"
                                      : self->handshake_failed ? "handshake_failed"
                                                               : "unreachable");
        return true;
    }
    worker_broker_link_send_signal(self, SL_MDP_HEARTBEAT);
    self->heartbeat_at = sl_mdp_heartbeat_next(now, self->settings->heartbeat_ms);
    return false;
}

bool worker_broker_link_reconnect_due(const worker_broker_link_t *self, int64_t now)
{
    return !self->dealer && now >= self->reconnect_at;
}

int64_t worker_broker_link_wake_at(const worker_broker_link_t *self, bool may_reconnect)
{
    if (self->dealer)
        return self->heartbeat_at;
    return may_reconnect ? self->reconnect_at : INT64_MAX;
}

//  Sends msg (taken) on the DEALER, dropping it if the socket is closed or full.
static void s_send(worker_broker_link_t *self, zmsg_t **msg_p)
{
    if (self->dealer && *msg_p)
        zmsg_send(msg_p, self->dealer);
    zmsg_destroy(msg_p);
}

void worker_broker_link_send_signal(worker_broker_link_t *self, sl_mdp_command_t command)
{
    zmsg_t *msg = sl_mdp_encode_worker_signal(self->settings->version, command);
    s_send(self, &msg);
}

void worker_broker_link_send_credit(worker_broker_link_t *self, int limit)
{
    zmsg_t *msg = sl_mdp_encode_credit(limit);
    s_send(self, &msg);
}

void worker_broker_link_send_handback(worker_broker_link_t *self, zframe_t *address)
{
    zmsg_t *msg = sl_mdp_encode_handback(zframe_data(address), zframe_size(address));
    s_send(self, &msg);
}

void worker_broker_link_send_reply(worker_broker_link_t *self, bool final, zframe_t *address,
                                   zmsg_t **body_p)
{
    if (self->dealer)
        sl_mdp_send_worker_job(self->dealer, NULL, self->settings->version,
                               final ? SL_MDP_FINAL : SL_MDP_PARTIAL, zframe_data(address),
                               zframe_size(address), body_p, false);
    zmsg_destroy(body_p);
}

void worker_broker_link_disconnect(worker_broker_link_t *self, int linger_ms)
{
    if (!self->dealer)
        return;
    zsock_set_linger(self->dealer, linger_ms);
    worker_broker_link_send_signal(self, SL_MDP_DISCONNECT);
}
