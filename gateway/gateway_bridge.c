/*  gateway_bridge: one broker's side of the gateway, one actor thread and one DEALER.
    HTTP threads meet the bridge in three locked places: the in-flight table
    (gateway_pending: its lock, then each slot's own lock), and the DEALER itself
    (socket_lock). HTTP threads send their own requests: handing each to the bridge would
    cost a thread wakeup per request. Nor do they ever sleep on socket_lock: a sender pushes
    its request onto a lock-free outbox and takes the lock only if it is free; whoever holds
    the lock sends everything in the outbox before letting go (flat combining), so a busy
    socket costs a sender nothing. Receiving, the monitor socket and sending the readiness
    probes (gateway_probes keeps their answers) belong to the actor thread.
    Lock order: socket_lock, then the table's lock, then a slot's lock. */
#include "gateway_bridge.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "gateway_broker_socket.h"
#include "gateway_cancels.h"
#include "gateway_pending.h"
#include "gateway_probes.h"
#include "sl_defaults.h"
#include "sl_envelope.h"
#include "sl_log.h"
#include "sl_mdp.h"
#include "sl_mdp_io.h"

#define S_MMI_SERVICE   "mmi.service"
#define S_RECEIVE_BATCH 64 /* messages taken off the dealer per hold of its lock */

struct _gateway_bridge_t {
    zactor_t *actor;                /* the bridge thread */
    gateway_bridge_config_t config; /* as given; its pointers borrowed */
    int64_t probe_ms;               /* probe interval: --probe-ms, at most a heartbeat */
    int64_t silence_ms;             /* heartbeat x liveness: silent that long, untrusted */
    int wakeup_fd;                  /* eventfd: a sender saw replies waiting (edge consumed) */
    pthread_mutex_t socket_lock;    /* guards dealer: sends from HTTP threads, receives */
    zsock_t *dealer;                /* the one socket to the broker, NULL once stopped */
    bool sent_unchecked; /* under socket_lock: a send since replies were last looked for */
    _Atomic(gateway_slot_t *) outbox; /* slots whose request waits for the socket (a stack) */

    gateway_pending_t *pending; /* the requests in flight, by id: shared, borrowed */

    atomic_bool connected;         /* handshake done with the broker and not since lost */
    atomic_bool trusted;           /* connected and answering: requests may go to it */
    atomic_int_fast64_t since;     /* zclock_mono of the last change of trusted */
    atomic_uint_fast64_t lost;     /* requests answered broker_lost when it was lost */
    atomic_uint_fast64_t trusts;   /* times it became trusted, the first included */
    atomic_uint_fast64_t untrusts; /* times it stopped being trusted (a broker_lost line) */

    gateway_probes_t *probes;   /* which routes' services have a worker */
    gateway_cancels_t *cancels; /* mmi.cancel asked of this broker, and its answers */
    bool start_failed;          /* set by the actor before it signals failure */
};

/* State only the actor thread touches. */
typedef struct {
    gateway_bridge_t *bridge; /* shared part */
    zsock_t *dealer;          /* the one socket to the broker (shared under socket_lock) */
    zsock_t *monitor;         /* PAIR fed by zmq_socket_monitor on the dealer */
    struct {
        sl_mdp_msg_t msg;           /* decoded, or reset when malformed */
        const char *reason;         /* why it was malformed, NULL if not */
    } received[S_RECEIVE_BATCH];    /* messages taken off the dealer, handled outside the lock */
    int64_t next_probe_ms;          /* when the next round is due */
    bool ever_connected;            /* a later handshake is a reconnect */
    int64_t last_answer_ms;         /* zclock_mono of the broker's last message or handshake */
    sl_log_limit_t malformed_limit; /* for replies we cannot read */
    sl_log_limit_t late_limit;      /* for replies whose request gave up */
} s_actor_t;

/* ---------------------------------------------------------------- HTTP-thread side */

/* Socket lock held: sends every request in the outbox, oldest first. A request that cannot
   go out fails its slot (503), which its thread is still waiting on. */
static void s_outbox_flush(gateway_bridge_t *self)
{
    gateway_slot_t *stack = atomic_exchange(&self->outbox, NULL);
    gateway_slot_t *oldest = NULL; /* the stack is newest first: reverse it */
    while (stack) {
        gateway_slot_t *next = gateway_slot_outbox_next(stack);
        gateway_slot_set_outbox_next(stack, oldest);
        oldest = stack;
        stack = next;
    }
    /* Nothing goes to a broker that stopped answering, even while its TCP link stays up. */
    bool can_send = self->dealer && gateway_bridge_trusted(self);
    void *handle = self->dealer ? zsock_resolve(self->dealer) : NULL;
    while (oldest) {
        gateway_slot_t *slot = oldest;
        oldest = gateway_slot_outbox_next(slot);
        /* A request that cannot go out fails its slot (503); after this call its thread
           may release and reuse the slot. */
        if (gateway_slot_send(slot, can_send ? handle : NULL))
            self->sent_unchecked = true;
    }
    /* ZMQ_FD is edge-triggered: a send (this holder's, or the bridge's own probe) may have
       consumed the edge that would have told the bridge a reply is waiting, so look, and
       wake it if so. Missed, the replies waited for the next probe: up to --probe-ms. */
    if (self->sent_unchecked && self->dealer && (zsock_events(self->dealer) & ZMQ_POLLIN)) {
        uint64_t one = 1;
        ssize_t written = write(self->wakeup_fd, &one, sizeof one);
        (void) written; /* an eventfd write only fails on counter overflow */
    }
    self->sent_unchecked = false;
}

/* Lets go of the socket lock, first sending what waits in the outbox. A request pushed
   while we held the lock found it taken and left its sending to us: after unlocking, look
   again, and take the lock back if it is free (if not, its new holder sends). */
static void s_socket_unlock(gateway_bridge_t *self)
{
    while (true) {
        s_outbox_flush(self);
        pthread_mutex_unlock(&self->socket_lock);
        atomic_thread_fence(memory_order_seq_cst); /* pairs with the fence in send */
        if (!atomic_load(&self->outbox) || pthread_mutex_trylock(&self->socket_lock) != 0)
            return;
    }
}

void gateway_bridge_send(gateway_bridge_t *self, gateway_slot_t *slot,
                         const sl_frame_view_t envelope[SL_ENVELOPE_REQUEST_FRAMES])
{
    gateway_slot_queue(slot, envelope);
    gateway_slot_t *head = atomic_load(&self->outbox);
    do
        gateway_slot_set_outbox_next(slot, head);
    while (!atomic_compare_exchange_weak(&self->outbox, &head, slot));
    atomic_thread_fence(memory_order_seq_cst); /* the push is seen by an unlocking holder */
    if (pthread_mutex_trylock(&self->socket_lock) == 0)
        s_socket_unlock(self);
}

void gateway_bridge_release(gateway_bridge_t *self, gateway_slot_t *slot)
{
    /* A request that gave up before its turn in the outbox: the lock's holder is sending
       it, or we send it now; either way the slot leaves the outbox before it is reused. */
    if (gateway_slot_queued(slot)) {
        pthread_mutex_lock(&self->socket_lock);
        s_socket_unlock(self);
    }
}

void gateway_bridge_cancel(gateway_bridge_t *self, const char *id)
{
    zmsg_t *message = gateway_cancels_request(id);
    /* Unlike a request's send this may sleep on the lock: it comes once per client that left
       a long wait, never on the path of a request that is answered. The request itself went
       out earlier on this socket (gateway_exchange_cancel asks only for a sent one), so the
       broker sees the cancel after it. Out of memory, the request runs on for nobody. */
    pthread_mutex_lock(&self->socket_lock);
    int rc = self->dealer && message ? zmsg_send(&message, self->dealer) : -1;
    self->sent_unchecked |= rc == 0;
    s_socket_unlock(self);
    zmsg_destroy(&message);
    if (rc == 0)
        gateway_cancels_sent(self->cancels);
}

void gateway_bridge_cancel_counts(gateway_bridge_t *self, gateway_cancels_counts_t *counts)
{
    gateway_cancels_counts(self->cancels, counts);
}

bool gateway_bridge_connected(gateway_bridge_t *self)
{
    return atomic_load_explicit(&self->connected, memory_order_acquire);
}

bool gateway_bridge_trusted(gateway_bridge_t *self)
{
    return atomic_load_explicit(&self->trusted, memory_order_acquire);
}

int64_t gateway_bridge_state_since(gateway_bridge_t *self)
{
    return atomic_load(&self->since);
}

uint64_t gateway_bridge_lost_count(gateway_bridge_t *self)
{
    return atomic_load(&self->lost);
}

void gateway_bridge_trust_changes(gateway_bridge_t *self, uint64_t *trusts, uint64_t *untrusts)
{
    *trusts = atomic_load(&self->trusts);
    *untrusts = atomic_load(&self->untrusts);
}

const char *gateway_bridge_label(gateway_bridge_t *self)
{
    return self->config.label;
}

bool gateway_bridge_service_ready(gateway_bridge_t *self, const char *service)
{
    return gateway_bridge_trusted(self) && gateway_probes_service_ready(self->probes, service);
}

bool gateway_bridge_ready(gateway_bridge_t *self, bool *ready, size_t count,
                          const char **broker_state)
{
    bool connected = gateway_bridge_connected(self);
    bool trusted = gateway_bridge_trusted(self);
    bool responsive;
    bool all = gateway_probes_routes_ready(self->probes, trusted, ready, count, &responsive);
    bool closed = gateway_pending_closed(self->pending);
    const char *state = closed                    ? "closing"
                        : !connected              ? "disconnected"
                        : !trusted || !responsive ? "unresponsive"
                                                  : "connected";
    if (broker_state)
        *broker_state = state;
    return all && trusted && responsive && !closed;
}

/* ---------------------------------------------------------------- actor side */

static void s_probe(s_actor_t *actor)
{
    gateway_bridge_t *self = actor->bridge;
    int64_t now = zclock_mono();
    gateway_pending_purge(self->pending, now);
    /* While requests wait to be re-sent, look for their workers ten times as often. */
    int64_t interval =
        gateway_pending_awaiting(self->pending) > 0 ? self->probe_ms / 10 : self->probe_ms;
    actor->next_probe_ms = now + (interval < 10 ? 10 : interval);
    if (!gateway_bridge_connected(self) || !gateway_probes_round_begin(self->probes, now, interval))
        return;
    /* With no route to probe, one probe all the same: its answer is what keeps an idle
       broker trusted (gateway_probes counts an answer nobody asked for out). */
    size_t count = gateway_probes_service_count(self->probes);
    for (size_t i = 0; i < (count ? count : 1); i++) {
        zmsg_t *body = zmsg_new();
        zmsg_addstr(body, count ? gateway_probes_service(self->probes, i) : S_MMI_SERVICE);
        zmsg_t *message = sl_mdp_encode_client_request(SL_MDP_V02, S_MMI_SERVICE, &body);
        pthread_mutex_lock(&self->socket_lock);
        int rc = zmsg_send(&message, actor->dealer);
        self->sent_unchecked |= rc == 0;
        s_socket_unlock(self);
        if (rc != 0) {
            zmsg_destroy(&message);
            break;
        }
        if (count)
            gateway_probes_sent(self->probes, i);
    }
    gateway_probes_round_sent(self->probes, now);
}

/* Re-sends (through their threads) the requests for service that wait for the broker to
   come back. Called when a probe says the service has a worker again: a restarted broker
   answers no_worker until the workers have reconnected, and they reconnect later than we
   do, so re-sending at the handshake would turn a restart into 503s. */
static void s_resend_waiting(s_actor_t *actor, const char *service)
{
    gateway_bridge_t *self = actor->bridge;
    size_t resent = gateway_pending_resend(self->pending, service, zclock_mono());
    if (resent)
        sl_log(SL_LOG_INFO, NULL, "requests_resent", "broker=%s service=%s count=%zu",
               self->config.label, service, resent);
}

/* The broker is trusted from here on: it is connected and has just answered. */
static void s_trust(s_actor_t *actor)
{
    gateway_bridge_t *self = actor->bridge;
    if (gateway_bridge_trusted(self) || !gateway_bridge_connected(self))
        return;
    atomic_store(&self->since, zclock_mono());
    atomic_store_explicit(&self->trusted, true, memory_order_release);
    atomic_fetch_add(&self->trusts, 1);
    if (actor->ever_connected)
        sl_log(SL_LOG_INFO, NULL, "broker_trusted", "broker=%s", self->config.label);
}

/* The broker is no longer trusted (reason: disconnected, silent): apply the lost-broker
   policy of gateway_bridge.h to what is in flight on it. */
static void s_untrust(s_actor_t *actor, const char *reason)
{
    gateway_bridge_t *self = actor->bridge;
    if (!gateway_bridge_trusted(self))
        return;
    atomic_store_explicit(&self->trusted, false, memory_order_release);
    atomic_store(&self->since, zclock_mono());
    atomic_fetch_add(&self->untrusts, 1);
    /* Back from silence, it must show again that it has workers before it gets requests
       for their service (gateway_brokers prefers the brokers whose probes said so). */
    gateway_probes_disconnected(self->probes);
    size_t moved, lost;
    gateway_pending_broker_lost(self->pending, self->config.index, &moved, &lost);
    atomic_fetch_add(&self->lost, lost);
    sl_log(SL_LOG_WARN, NULL, "broker_lost", "broker=%s reason=%s moved=%zu lost=%zu",
           self->config.label, reason, moved, lost);
}

/* Anything from the broker shows it alive. */
static void s_answered(s_actor_t *actor)
{
    actor->last_answer_ms = zclock_mono();
    if (!gateway_bridge_trusted(actor->bridge))
        s_trust(actor);
}

/* One message from the broker as sl_mdp_recv decoded it (reason: NULL, or why it was
   malformed): a probe answer, or a PARTIAL/FINAL for a slot. Takes what *received holds. */
static void s_handle_reply(s_actor_t *actor, sl_mdp_msg_t *received, const char *reason)
{
    gateway_bridge_t *self = actor->bridge;
    sl_mdp_msg_t decoded = *received;
    memset(received, 0, sizeof *received);
    s_answered(actor);
    if (reason || decoded.from_worker_side ||
        (decoded.command != SL_MDP_PARTIAL && decoded.command != SL_MDP_FINAL)) {
        sl_log_limited(&actor->malformed_limit, SL_LOG_WARN, NULL, "broker_message_malformed",
                       "reason=%s", reason ? reason : "unexpected_command");
        sl_mdp_msg_reset(&decoded);
        return;
    }
    if (decoded.service && zframe_streq(decoded.service, S_MMI_SERVICE)) {
        const char *ready = gateway_probes_answer(self->probes, decoded.body);
        if (ready && gateway_pending_awaiting(self->pending) > 0)
            s_resend_waiting(actor, ready);
        sl_mdp_msg_reset(&decoded);
        return;
    }
    if (decoded.service && zframe_streq(decoded.service, GATEWAY_CANCELS_SERVICE)) {
        gateway_cancels_answered(self->cancels, decoded.body);
        sl_mdp_msg_reset(&decoded);
        return;
    }
    /* architecture.md, Correlation: the broker puts the request id first in every reply to
       an envelope request. */
    zframe_t *id_frame = decoded.body ? zmsg_pop(decoded.body) : NULL;
    char id[SL_REQUEST_ID_MAX + 1];
    if (!id_frame || zframe_size(id_frame) == 0 || zframe_size(id_frame) > SL_REQUEST_ID_MAX) {
        sl_log_limited(&actor->malformed_limit, SL_LOG_WARN, NULL, "broker_message_malformed",
                       "reason=no_request_id");
        zframe_destroy(&id_frame);
        sl_mdp_msg_reset(&decoded);
        return;
    }
    memcpy(id, zframe_data(id_frame), zframe_size(id_frame));
    id[zframe_size(id_frame)] = '\0';
    zframe_destroy(&id_frame);

    gateway_pending_delivery_t delivery = gateway_pending_deliver(
        self->pending, self->config.index, id, &decoded.body, decoded.command == SL_MDP_FINAL);
    if (delivery == GATEWAY_PENDING_LATE && sl_request_id_valid(id, strlen(id)))
        /* Its request gave up (504) or finished: the reply is late, and dropped. */
        sl_log_limited(&actor->late_limit, SL_LOG_DEBUG, id, "late_reply_dropped", NULL);
    else if (delivery == GATEWAY_PENDING_DUPLICATE)
        /* Its request was re-sent through another broker, which answers it. */
        sl_log_limited(&actor->late_limit, SL_LOG_DEBUG, id, "duplicate_reply_dropped", "broker=%s",
                       self->config.label);
    else if (delivery == GATEWAY_PENDING_AWAITS_BROKER)
        /* A stopping broker's shutting_down: the request waits for the one that comes back
           (gateway_slot_deliver_locked). */
        sl_log(SL_LOG_INFO, id, "request_awaits_broker", "reason=shutting_down");
    sl_mdp_msg_reset(&decoded);
}

/* The connection to the broker is up (first time or again). */
static void s_connected(s_actor_t *actor)
{
    gateway_bridge_t *self = actor->bridge;
    atomic_store_explicit(&self->connected, true, memory_order_release);
    sl_log(SL_LOG_INFO, NULL, actor->ever_connected ? "broker_reconnected" : "broker_connected",
           "endpoint=%s", self->config.endpoint);
    gateway_probes_connected(self->probes);
    /* The handshake is the broker's own answer (a stopped process makes none). */
    s_answered(actor);
    actor->ever_connected = true;
    s_probe(actor);
}

/* The connection dropped: apply the lost-broker policy of gateway_bridge.h. */
static void s_disconnected(s_actor_t *actor)
{
    gateway_bridge_t *self = actor->bridge;
    if (!gateway_bridge_connected(self))
        return;
    atomic_store_explicit(&self->connected, false, memory_order_release);
    s_untrust(actor, "disconnected");
    gateway_probes_disconnected(self->probes);
    sl_log(SL_LOG_WARN, NULL, "broker_disconnected", "endpoint=%s", self->config.endpoint);
}

/* A connected broker that answered nothing, not even a probe, for heartbeat x liveness
   is hung or cut off: the TCP link says nothing of it (a stopped process keeps it up). */
static void s_check_silence(s_actor_t *actor, int64_t now)
{
    gateway_bridge_t *self = actor->bridge;
    if (gateway_bridge_trusted(self) && now - actor->last_answer_ms > self->silence_ms)
        s_untrust(actor, "silent");
}

static void s_handle_monitor(s_actor_t *actor)
{
    zmsg_t *event = zmsg_recv(actor->monitor);
    if (!event)
        return;
    zframe_t *first = zmsg_first(event);
    if (first && zframe_size(first) >= 6) {
        uint16_t code;
        memcpy(&code, zframe_data(first), sizeof code);
        if (code == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
            s_connected(actor);
        else if (code == ZMQ_EVENT_DISCONNECTED)
            s_disconnected(actor);
    }
    zmsg_destroy(&event);
}

static void s_actor(zsock_t *pipe, void *args)
{
    s_actor_t actor = {.bridge = args};
    gateway_bridge_t *self = actor.bridge;
    char monitor_endpoint[64];
    snprintf(monitor_endpoint, sizeof monitor_endpoint, "inproc://gateway-bridge-%p",
             (void *) self);

    /* With CURVE, HANDSHAKE_SUCCEEDED below also means the broker admitted our key: a
       gateway the broker refuses stays "disconnected" (503), never waits on a dead link. */
    actor.dealer = gateway_broker_socket_new(self->config.curve, (size_t) self->config.index);
    if (!actor.dealer)
        goto fail_dealer;
    /* No pipe without a connection: a send while the broker is away fails at once (503)
       instead of queueing for a broker that may come back after the deadline. */
    zsock_set_immediate(actor.dealer, 1);
    zsock_set_sndhwm(actor.dealer, 0); /* bounded by the route budgets, not by zmq */
    zsock_set_rcvhwm(actor.dealer, 0);
    zsock_set_sndtimeo(actor.dealer, 0);
    zsock_set_rcvtimeo(actor.dealer, 0);
    if (zmq_socket_monitor(zsock_resolve(actor.dealer), monitor_endpoint,
                           ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED) != 0)
        goto fail_monitor;
    actor.monitor = zsock_new_pair(NULL);
    if (!actor.monitor || zsock_connect(actor.monitor, "%s", monitor_endpoint) != 0)
        goto fail_monitor;
    if (zsock_connect(actor.dealer, "%s", self->config.endpoint) != 0) {
        sl_log(SL_LOG_ERROR, NULL, "broker_endpoint_invalid", "endpoint=%s", self->config.endpoint);
        goto fail_monitor;
    }
    self->dealer = actor.dealer; /* HTTP threads may send from here on */
    zsock_signal(pipe, 0);

    actor.next_probe_ms = zclock_mono() + self->probe_ms;
    /* inproc has no handshake and so no monitor event: the broker embedded in this process
       (--embed-broker) is bound before the bridge starts and lives as long as it. */
    if (self->config.in_process)
        s_connected(&actor);
    /* The dealer is polled through its ZMQ_FD, a plain descriptor: zmq_poll on the socket
       itself would use it while an HTTP thread sends. */
    zmq_pollitem_t items[] = {
        {zsock_resolve(pipe), 0, ZMQ_POLLIN, 0},
        {zsock_resolve(actor.monitor), 0, ZMQ_POLLIN, 0},
        {NULL, self->wakeup_fd, ZMQ_POLLIN, 0},
        {NULL, zsock_fd(actor.dealer), ZMQ_POLLIN, 0},
    };
    while (true) {
        int64_t wake = actor.next_probe_ms;
        if (gateway_bridge_trusted(self) && actor.last_answer_ms + self->silence_ms + 1 < wake)
            wake = actor.last_answer_ms + self->silence_ms + 1;
        int64_t wait = wake - zclock_mono();
        if (zmq_poll(items, 4, wait < 0 ? 0 : (long) wait) < 0 && errno != EINTR)
            break;
        if (items[0].revents & ZMQ_POLLIN) {
            char *command = zstr_recv(pipe);
            bool stop = !command || streq(command, "$TERM");
            zstr_free(&command);
            if (stop)
                break;
        }
        /* Connection state first, so replies are read against the state they belong to. */
        if (items[1].revents & ZMQ_POLLIN)
            s_handle_monitor(&actor);
        if (items[2].revents & ZMQ_POLLIN) {
            uint64_t count;
            ssize_t got = read(self->wakeup_fd, &count, sizeof count);
            (void) got;
        }
        /* Every turn, whatever woke us: the edge of ZMQ_FD may have been taken by a send. */
        /* Header frames are checked as they come off the socket (sl_mdp_recv), never turned
           into czmq frames; until a receive finds nothing, which rearms the edge. */
        size_t taken;
        do {
            pthread_mutex_lock(&self->socket_lock);
            for (taken = 0; taken < S_RECEIVE_BATCH; taken++) {
                const char *reason = NULL;
                sl_mdp_recv_result_t result =
                    sl_mdp_recv(actor.dealer, SL_MDP_FROM_BROKER, NULL, &actor.received[taken].msg,
                                NULL, &reason);
                if (result == SL_MDP_RECV_NONE)
                    break;
                actor.received[taken].reason =
                    result == SL_MDP_RECV_OK ? NULL : (reason ? reason : "malformed");
            }
            s_socket_unlock(self);
            for (size_t i = 0; i < taken; i++)
                s_handle_reply(&actor, &actor.received[i].msg, actor.received[i].reason);
        } while (taken == S_RECEIVE_BATCH);
        int64_t now = zclock_mono();
        s_check_silence(&actor, now);
        if (now >= actor.next_probe_ms)
            s_probe(&actor);
    }
    pthread_mutex_lock(&self->socket_lock);
    self->dealer = NULL;
    s_socket_unlock(self); /* fails whatever still waits in the outbox */
    zmq_socket_monitor(zsock_resolve(actor.dealer), NULL, 0);
    zsock_destroy(&actor.monitor);
    zsock_destroy(&actor.dealer);
    return;

fail_monitor:
    zsock_destroy(&actor.monitor);
fail_dealer:
    zsock_destroy(&actor.dealer);
    self->start_failed = true;
    zsock_signal(pipe, 1);
}

/* ---------------------------------------------------------------- lifecycle */

/* Frees everything a bridge may own, whether or not it finished starting. */
static void s_bridge_free(gateway_bridge_t *self)
{
    zactor_destroy(&self->actor);
    if (self->wakeup_fd >= 0)
        close(self->wakeup_fd);
    gateway_probes_destroy(&self->probes);
    gateway_cancels_destroy(&self->cancels);
    pthread_mutex_destroy(&self->socket_lock);
    free(self);
}

gateway_bridge_t *gateway_bridge_new(const gateway_bridge_config_t *config)
{
    assert(config && config->endpoint && config->label && config->routes && config->pending);
    assert(config->probe_ms > 0 && config->heartbeat_ms > 0 && config->liveness > 0);
    gateway_bridge_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->wakeup_fd = -1; /* calloc's 0 would be stdin */
    self->config = *config;
    self->pending = config->pending;
    /* A probe at least every heartbeat: its answer keeps a healthy idle broker trusted. */
    self->probe_ms =
        config->probe_ms < config->heartbeat_ms ? config->probe_ms : config->heartbeat_ms;
    self->silence_ms = config->heartbeat_ms * config->liveness;
    atomic_init(&self->connected, false);
    atomic_init(&self->trusted, false);
    atomic_init(&self->since, zclock_mono());
    atomic_init(&self->lost, 0);
    /* Held for microseconds by up to every HTTP thread: spin a little before sleeping, as
       a futex sleep and wake-up costs more than the wait. */
    pthread_mutexattr_t adaptive;
    pthread_mutexattr_init(&adaptive);
    pthread_mutexattr_settype(&adaptive, PTHREAD_MUTEX_ADAPTIVE_NP);
    pthread_mutex_init(&self->socket_lock, &adaptive);
    pthread_mutexattr_destroy(&adaptive);
    self->probes = gateway_probes_new(config->routes, self->probe_ms);
    self->cancels = gateway_cancels_new(config->label);
    if (!self->probes || !self->cancels)
        goto fail;
    self->wakeup_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (self->wakeup_fd < 0)
        goto fail;
    self->actor = zactor_new(s_actor, self);
    if (!self->actor || self->start_failed)
        goto fail;
    return self;

fail:
    s_bridge_free(self);
    return NULL;
}

void gateway_bridge_destroy(gateway_bridge_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    s_bridge_free(*self_p);
    *self_p = NULL;
}
