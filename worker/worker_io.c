/*  worker_io: the I/O actor of a worker process (see worker_io.h). One DEALER at a time;
    when the broker is lost the socket is thrown away and a new one connects after a
    backoff, because MDP says a worker re-registers on a fresh socket. It never blocks on
    the broker: sends use a zero timeout, so a dead broker costs dropped heartbeats, not a
    stuck worker. */
#include <assert.h>
#include <string.h>
#include "sl_defaults.h"
#include "sl_log.h"
#include "sl_mdp.h"
#include "sl_mdp_io.h"
#include "worker_backoff.h"
#include "worker_io.h"

typedef struct {
    zsock_t *pipe;              /* to the handler thread */
    worker_io_config_t *config; /* borrowed from the caller */
    zsock_t *dealer;            /* to the broker; NULL while waiting to reconnect */
    int64_t heartbeat_at;       /* when the next HEARTBEAT is due */
    int64_t reconnect_at;       /* when to open a new socket (dealer NULL) */
    int liveness;               /* heartbeat intervals left before the broker is dead */
    bool heard;                 /* the broker spoke since our READY */
    worker_backoff_t backoff;   /* reconnect delays */
    zframe_t *client;           /* address of the job in hand, NULL when idle */
    zlist_t *pending;           /* jobs received behind it: zmsg of address + body frames */
    bool orphaned;              /* the job in hand came over a connection now lost */
    bool draining;              /* DRAIN asked: DISCONNECT once the job in hand is done */
    bool drained;               /* DISCONNECT sent: the conversation is over */
    bool terminated;            /* $TERM received */
} s_io_t;

//  Broker messages handled per wake-up before the pipe and the timers get a turn.
#define WORKER_IO_RECV_BATCH 64

static sl_log_limit_t s_bad_message_limit;

//  Opens a new DEALER, connects it and says READY. -1 if the endpoint is invalid.
static int s_connect(s_io_t *self)
{
    worker_io_config_t *config = self->config;
    zsock_t *dealer = zsock_new(ZMQ_DEALER);
    if (!dealer)
        return -1;
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
    if (config->identity)
        zmq_setsockopt(handle, ZMQ_ROUTING_ID, config->identity, strlen(config->identity));
    sl_curve_client_apply(&config->curve, dealer); /* before connect; no-op when off */
    if (zsock_connect(dealer, "%s", config->endpoint) == -1) {
        zsock_destroy(&dealer);
        return -1;
    }
    zmsg_t *ready = sl_mdp_encode_ready_capacity(config->service, config->capacity);
    zmsg_send(&ready, dealer);
    zmsg_destroy(&ready);
    self->dealer = dealer;
    self->liveness = config->liveness;
    self->heartbeat_at = sl_mdp_heartbeat_next(zclock_mono(), config->heartbeat_ms);
    self->heard = false;
    sl_log(SL_LOG_DEBUG, NULL, "broker_connect", "endpoint=%s service=%s", config->endpoint,
           config->service);
    return 0;
}

//  Drops the connection and schedules a new one after the backoff delay. A job in hand
//  keeps running, but its reply has nobody to go to: the broker that sent it is gone or
//  has given up on us.
static void s_lose_broker(s_io_t *self, const char *reason)
{
    zsock_destroy(&self->dealer);
    int64_t delay = worker_backoff_next(&self->backoff);
    self->reconnect_at = zclock_mono() + delay;
    if (self->client)
        self->orphaned = true;
    //  Jobs not yet started are the broker's to re-queue or fail: nobody would get their reply
    size_t dropped = zlist_size(self->pending);
    zmsg_t *job;
    while ((job = (zmsg_t *) zlist_pop(self->pending)))
        zmsg_destroy(&job);
    sl_log(SL_LOG_WARN, NULL, "broker_lost", "reason=%s reconnect_ms=%lld busy=%s dropped_jobs=%zu",
           reason, (long long) delay, self->client ? "true" : "false", dropped);
}

static void s_send_signal(s_io_t *self, sl_mdp_command_t command)
{
    if (!self->dealer)
        return;
    zmsg_t *msg = sl_mdp_encode_worker_signal(SL_MDP_V02, command);
    zmsg_send(&msg, self->dealer);
    zmsg_destroy(&msg);
}

//  Ends the conversation: DISCONNECT (given time to leave the socket) and no more sends.
static void s_finish_drain(s_io_t *self)
{
    if (self->dealer) {
        zsock_set_linger(self->dealer, self->config->heartbeat_ms * self->config->liveness);
        s_send_signal(self, SL_MDP_DISCONNECT);
    }
    self->drained = true;
    zstr_send(self->pipe, "DRAINED");
}

//  Sends a PARTIAL or FINAL body (ownership taken) for the job in hand, if its broker is
//  still the one we talk to.
static void s_send_reply(s_io_t *self, bool final, zmsg_t **body_p)
{
    if (self->client && !self->orphaned && self->dealer && !self->drained) {
        sl_mdp_send_worker_job(self->dealer, NULL, SL_MDP_V02,
                               final ? SL_MDP_FINAL : SL_MDP_PARTIAL, zframe_data(self->client),
                               zframe_size(self->client), body_p, false);
    } else if (final)
        sl_log(SL_LOG_WARN, NULL, "reply_dropped", "reason=broker_lost");
    zmsg_destroy(body_p);
}

//  worker_job_send_fn for inline jobs: a PARTIAL goes straight to the broker.
static int s_send_partial_inline(zmsg_t **body_p, void *arg)
{
    s_send_reply((s_io_t *) arg, false, body_p);
    return 0;
}

//  Runs a job on this thread (config->run_inline) and sends its FINAL; drains after it if
//  the worker is done (max jobs). Takes *address_p and *job_p.
static void s_run_inline(s_io_t *self, zframe_t **address_p, zmsg_t **job_p)
{
    self->client = *address_p;
    *address_p = NULL;
    bool stop = false;
    zmsg_t *final = self->config->run_inline(job_p, s_send_partial_inline, self,
                                             self->config->inline_arg, &stop);
    s_send_reply(self, true, &final);
    zframe_destroy(&self->client);
    self->orphaned = false;
    if (stop)
        self->draining = true;
    if (self->draining && !self->drained)
        s_finish_drain(self);
}

//  The handler is free: hands it the next job received ahead, if any.
static void s_next_job(s_io_t *self)
{
    zmsg_t *job = (zmsg_t *) zlist_pop(self->pending);
    if (!job)
        return;
    self->client = zmsg_pop(job);
    zmsg_pushstr(job, "JOB");
    zmsg_send(&job, self->pipe);
}

//  Handles one message from the broker. Returns -1 if none was waiting (the DEALER has a
//  zero receive timeout), 0 otherwise.
static int s_handle_broker(s_io_t *self)
{
    sl_mdp_msg_t mdp;
    const char *reason = NULL;
    sl_mdp_recv_result_t result =
        sl_mdp_recv(self->dealer, SL_MDP_FROM_BROKER, NULL, &mdp, NULL, &reason);
    if (result == SL_MDP_RECV_NONE)
        return -1;
    if (result != SL_MDP_RECV_OK || !mdp.from_worker_side) {
        sl_log_limited(&s_bad_message_limit, SL_LOG_WARN, NULL, "malformed_message",
                       "from=broker reason=%s", reason ? reason : "client_protocol");
        sl_mdp_msg_reset(&mdp);
        return 0;
    }
    //  Any command from the broker proves it alive (RFC 18: acts as a heartbeat)
    self->liveness = self->config->liveness;
    if (!self->heard) {
        self->heard = true;
        worker_backoff_reset(&self->backoff);
        zstr_send(self->pipe, "REGISTERED");
    }
    switch (mdp.command) {
    case SL_MDP_REQUEST: {
        size_t in_hand = (self->client ? 1 : 0) + zlist_size(self->pending);
        if (in_hand >= (size_t) self->config->capacity || self->drained) {
            //  At most capacity jobs; after DISCONNECT the broker re-queues or fails them
            sl_log_limited(&s_bad_message_limit, SL_LOG_WARN, NULL, "request_refused", "reason=%s",
                           self->drained ? "draining" : "busy");
            break;
        }
        zmsg_t *job = mdp.body ? mdp.body : zmsg_new();
        mdp.body = NULL;
        if (self->config->run_inline)
            s_run_inline(self, &mdp.address, &job);
        else if (!self->client) {
            self->client = mdp.address;
            mdp.address = NULL;
            zmsg_pushstr(job, "JOB");
            zmsg_send(&job, self->pipe);
        } else {
            zmsg_prepend(job, &mdp.address);
            zlist_append(self->pending, job);
        }
        break;
    }
    case SL_MDP_HEARTBEAT:
        break;
    case SL_MDP_DISCONNECT:
        s_lose_broker(self, "disconnect");
        break;
    default:
        sl_log_limited(&s_bad_message_limit, SL_LOG_WARN, NULL, "unexpected_command", "command=%s",
                       sl_mdp_command_name(mdp.command));
        break;
    }
    sl_mdp_msg_reset(&mdp);
    return 0;
}

static void s_handle_pipe(s_io_t *self)
{
    zmsg_t *msg = zmsg_recv(self->pipe);
    if (!msg)
        return;
    char *command = zmsg_popstr(msg);
    if (!command) {
        zmsg_destroy(&msg);
        return;
    }
    if (streq(command, "$TERM"))
        self->terminated = true;
    else if (streq(command, "PARTIAL") || streq(command, "FINAL")) {
        bool final = streq(command, "FINAL");
        s_send_reply(self, final, &msg);
        if (final) {
            zframe_destroy(&self->client);
            self->orphaned = false;
            s_next_job(self);
            if (self->draining && !self->drained && !self->client)
                s_finish_drain(self);
        }
    } else if (streq(command, "DRAIN")) {
        self->draining = true;
        if (!self->client && !self->drained)
            s_finish_drain(self);
    }
    zstr_free(&command);
    zmsg_destroy(&msg);
}

//  Heartbeat and reconnect timers, run whenever the poll wakes.
static void s_run_timers(s_io_t *self)
{
    int64_t now = zclock_mono();
    if (self->dealer && !self->drained && now >= self->heartbeat_at) {
        if (--self->liveness <= 0) {
            s_lose_broker(self, "heartbeat_timeout");
            return;
        }
        s_send_signal(self, SL_MDP_HEARTBEAT);
        self->heartbeat_at = sl_mdp_heartbeat_next(now, self->config->heartbeat_ms);
    }
    //  No new READY while a job is in hand: the broker would hand us a second one
    if (!self->dealer && !self->drained && !self->client && now >= self->reconnect_at) {
        if (s_connect(self) == -1) {
            int64_t delay = worker_backoff_next(&self->backoff);
            self->reconnect_at = now + delay;
            sl_log(SL_LOG_WARN, NULL, "broker_connect_failed", "reconnect_ms=%lld",
                   (long long) delay);
        }
    }
}

static long s_poll_timeout(s_io_t *self)
{
    int64_t now = zclock_mono();
    int64_t wake = now + 1000;
    if (self->dealer && !self->drained && self->heartbeat_at < wake)
        wake = self->heartbeat_at;
    if (!self->dealer && !self->drained && !self->client && self->reconnect_at < wake)
        wake = self->reconnect_at;
    return wake > now ? (long) (wake - now) : 0;
}

void worker_io_actor(zsock_t *pipe, void *args)
{
    s_io_t self = {.pipe = pipe, .config = args};
    assert(self.config && self.config->capacity >= 1);
    self.pending = zlist_new();
    assert(self.pending);
    worker_backoff_init(&self.backoff, self.config->reconnect_min_ms, self.config->reconnect_max_ms,
                        2.0);
    zsock_signal(pipe, 0);
    if (s_connect(&self) == -1) {
        sl_log(SL_LOG_ERROR, NULL, "bad_endpoint", "endpoint=%s", self.config->endpoint);
        zstr_send(pipe, "FAILED");
        return;
    }
    zstr_send(pipe, "OK");
    while (!self.terminated) {
        zmq_pollitem_t items[2] = {
            {zsock_resolve(pipe), 0, ZMQ_POLLIN, 0},
            {self.dealer ? zsock_resolve(self.dealer) : NULL, 0, ZMQ_POLLIN, 0}};
        int rc = zmq_poll(items, self.dealer ? 2 : 1, s_poll_timeout(&self));
        //  EINTR is SIGTERM arriving: draining is the handler thread's call, not ours
        if (rc == -1 && zmq_errno() != EINTR)
            break;
        if (rc > 0 && (items[0].revents & ZMQ_POLLIN))
            s_handle_pipe(&self);
        if (rc > 0 && self.dealer && items[1].socket == zsock_resolve(self.dealer) &&
            (items[1].revents & ZMQ_POLLIN)) {
            //  A batch per wake-up: with capacity K several jobs are usually waiting
            for (int count = 0; count < WORKER_IO_RECV_BATCH && self.dealer && !self.terminated;
                 count++)
                if (s_handle_broker(&self) == -1)
                    break;
        }
        s_run_timers(&self);
    }
    zsock_destroy(&self.dealer);
    zframe_destroy(&self.client);
    zmsg_t *job;
    while ((job = (zmsg_t *) zlist_pop(self.pending)))
        zmsg_destroy(&job);
    zlist_destroy(&self.pending);
}
