/*  broker: the event loop on top of the broker. Receives from the one ROUTER, tells clients,
    workers and host agents apart by their first frames, runs the worker side of MDP
    (registration, heartbeats, expiry, identity takeover, protocol violations) and the
    timers. Below it, each with its own state: broker_dispatch (what happens to a request),
    broker_mmi (mmi.* answers), broker_agent (host agents), over broker_registry (workers
    and services), broker_stats (counters) and broker_router (the socket and its send).
    None of them calls back up into this file. */
#include "broker.h"
#include "broker_agent.h"
#include "broker_autoscaler.h"
#include "broker_credit.h"
#include "broker_dispatch.h"
#include "broker_lapsed.h"
#include "broker_mmi.h"
#include "broker_registry.h"
#include "broker_router.h"
#include "broker_stats.h"
#include "sl_agent.h"
#include "sl_envelope.h"
#include "sl_log.h"
#include "sl_mdp.h"
#include "sl_mdp_io.h"

struct _broker_t {
    broker_router_t *router;         /* the one ROUTER socket and its send */
    zsock_t *socket;                 /* the router's socket (borrowed), for receives */
    void *handle;                    /* its libzmq handle, for zmq_poll */
    broker_config_t config;          /* read-only after start-up */
    int64_t expiry_ms;               /* heartbeat_ms x liveness: silence that kills a worker */
    broker_stats_t *stats;           /* counters for mmi.stats */
    broker_registry_t *registry;     /* workers, services, expiry order */
    broker_dispatch_t *dispatch;     /* request delivery and answers */
    broker_agents_t *agents;         /* host agents, the cluster manager */
    broker_autoscaler_t *autoscaler; /* autoscaling policies, applied through the agents */
    broker_lapsed_t *lapsed;         /* plain workers expired that may only beat slowly */
    broker_mmi_t *mmi;               /* mmi.* answers */
    int64_t now;                     /* zclock_mono() at the current message */
    int64_t next_tick;               /* when heartbeats and queue sweeps run next */
    int64_t started;                 /* zclock_mono() at broker_new, for uptime */
    sl_log_limit_t malformed_limit;  /* rate limit for malformed-message lines */
    sl_log_limit_t protocol_limit;   /* rate limit for worker protocol violations */
    sl_log_limit_t stall_limit;      /* rate limit for broker_stalled lines */
    zsock_t *stop_socket;            /* a message here ends broker_run (borrowed); may be NULL */
};

/* Copies a frame the codec already checked (1..255 printable bytes) into a C string. */
static void s_frame_text(zframe_t *frame, char *buffer, size_t size)
{
    size_t length = zframe_size(frame);
    if (length >= size)
        length = size - 1;
    memcpy(buffer, zframe_data(frame), length);
    buffer[length] = 0;
}

broker_t *broker_new(const broker_config_t *config, zcert_t *curve_cert)
{
    assert(config && config->heartbeat_ms > 0 && config->liveness > 0);
    broker_t *self = (broker_t *) calloc(1, sizeof(broker_t));
    if (!self)
        return NULL;
    self->config = *config;
    self->expiry_ms = broker_config_expiry_ms(config);
    self->now = zclock_mono();
    self->started = self->now;
    self->router = broker_router_new(curve_cert);
    if (!self->router)
        goto fail_router;
    self->socket = broker_router_socket(self->router);
    self->handle = zsock_resolve(self->socket);

    self->stats = broker_stats_new();
    if (!self->stats)
        goto fail_stats;
    self->registry =
        broker_registry_new((size_t) config->queue_limit, self->expiry_ms, self->stats);
    if (!self->registry)
        goto fail_registry;
    broker_registry_set_queue_bytes(self->registry, (size_t) config->queue_max_mb << 20);
    broker_registry_set_peer_heartbeat(self->registry, config->heartbeat_ms, config->liveness,
                                       config->max_peer_heartbeat_ms);
    self->dispatch = broker_dispatch_new(self->router, self->stats, config);
    if (!self->dispatch)
        goto fail_dispatch;
    self->agents = broker_agents_new(self->router, self->expiry_ms);
    if (!self->agents)
        goto fail_agents;
    self->autoscaler = broker_autoscaler_new(self->registry, self->agents);
    if (!self->autoscaler)
        goto fail_autoscaler;
    if (broker_autoscaler_configure(self->autoscaler, config->autoscale) != 0)
        goto fail_mmi;
    self->lapsed = broker_lapsed_new();
    if (!self->lapsed)
        goto fail_mmi;
    self->mmi = broker_mmi_new(self->router, self->registry, self->stats, self->agents,
                               self->autoscaler, self->dispatch, config, self->started);
    if (!self->mmi)
        goto fail_mmi;
    return self;

fail_mmi:
    broker_lapsed_destroy(&self->lapsed);
    broker_autoscaler_destroy(&self->autoscaler);
fail_autoscaler:
    broker_agents_destroy(&self->agents);
fail_agents:
    broker_dispatch_destroy(&self->dispatch);
fail_dispatch:
    broker_registry_destroy(&self->registry);
fail_registry:
    broker_stats_destroy(&self->stats);
fail_stats:
    broker_router_destroy(&self->router);
fail_router:
    free(self);
    return NULL;
}

void broker_destroy(broker_t **self_p)
{
    assert(self_p);
    broker_t *self = *self_p;
    if (!self)
        return;
    broker_mmi_destroy(&self->mmi);
    broker_lapsed_destroy(&self->lapsed);
    broker_autoscaler_destroy(&self->autoscaler);
    broker_agents_destroy(&self->agents);
    broker_dispatch_destroy(&self->dispatch);
    /* Workers and services before the counters they point into. */
    broker_registry_destroy(&self->registry);
    broker_stats_destroy(&self->stats);
    broker_router_destroy(&self->router);
    free(self);
    *self_p = NULL;
}

int broker_bind(broker_t *self, const char *endpoint)
{
    return broker_router_bind(self->router, endpoint);
}

/* Removes worker from every table and list and destroys it; its jobs, if any, are handled
   as a dead worker's (re-queued or answered) and the service dispatched again. */
static void s_worker_forget(broker_t *self, broker_worker_t **worker_p, const char *reason,
                            bool send_disconnect)
{
    broker_worker_t *worker = *worker_p;
    broker_service_t *service = worker->service;
    int busy = worker->busy;
    broker_request_t *first = busy == 1 ? worker->jobs[0] : NULL;
    if (busy == 1 && worker->capacity > 1)
        for (int slot = 0; slot < worker->capacity && !first; slot++)
            first = worker->jobs[slot];
    sl_log(SL_LOG_INFO, first && first->is_envelope ? first->id : NULL, "worker_removed",
           "worker=%s service=%s reason=%s busy=%s jobs=%d", worker->name,
           broker_service_name(service), reason, busy ? "true" : "false", busy);
    if (send_disconnect)
        broker_router_send_signal(self->router, worker->identity, worker->version,
                                  SL_MDP_DISCONNECT);
    broker_registry_worker_remove(self->registry, worker, self->now);
    broker_stats_service_t *stats = broker_service_stats(service);
    if (stats)
        stats->exits[broker_stats_exit_reason(reason)]++;
    /* A worker finishes the job in hand before it says DISCONNECT (docs/protocol.md 3.5), so
       a job it still holds at DISCONNECT crossed it on the wire and never started: that
       delivery does not count against max-deliveries. A drain must not use up retries. */
    bool never_started = strcmp(reason, "disconnected") == 0;
    broker_request_t *job;
    while ((job = broker_worker_take_newest(worker))) {
        if (never_started && job->deliveries > 0)
            job->deliveries--;
        broker_dispatch_job_lost(self->dispatch, job, self->now);
    }
    broker_worker_destroy(worker_p);
    if (busy)
        broker_dispatch_service(self->dispatch, service, self->now);
}

/* RFC 18: "The broker MUST respond to any valid but unexpected command by sending
   DISCONNECT and then no further commands to that worker." */
static void s_worker_violation(broker_t *self, broker_worker_t *worker, const char *what)
{
    sl_log_limited(&self->protocol_limit, SL_LOG_WARN, NULL, "worker_protocol_error",
                   "worker=%s error=%s", worker->name, what);
    s_worker_forget(self, &worker, "protocol_error", true);
}

static void s_worker_ready(broker_t *self, broker_worker_t *worker, zframe_t **sender_p,
                           sl_mdp_msg_t *msg)
{
    if (worker) {
        if (broker_worker_identity_is_generated(worker->identity)) {
            /* A ROUTER-made identity names one connection: this is a repeated READY. */
            s_worker_violation(self, worker, "second_ready");
            return;
        }
        /* Same chosen identity, new READY: the previous process is gone (ROUTER_HANDOVER
           gave its routing id to the new connection). Fail over its job now rather than
           after heartbeat expiry. */
        s_worker_forget(self, &worker, "replaced", false);
    }
    char name[SL_MAX_SERVICE_NAME + 1];
    s_frame_text(msg->service, name, sizeof(name));
    if (strncmp(name, "mmi.", 4) == 0) {
        /* 8/MMI: "It MUST disconnect any workers that attempt to register services in
           this namespace." */
        sl_log_limited(&self->protocol_limit, SL_LOG_WARN, NULL, "worker_refused",
                       "service=%s reason=reserved_name", name);
        broker_router_send_signal(self->router, *sender_p, msg->version, SL_MDP_DISCONNECT);
        return;
    }
    broker_service_t *service = broker_registry_service_ensure(self->registry, name);
    if (!service)
        return;
    worker = broker_registry_worker_add(self->registry, sender_p, msg->version, service,
                                        msg->capacity, self->now);
    if (!worker)
        return;
    if (broker_service_stats(service))
        broker_service_stats(service)->registrations++;
    sl_log(SL_LOG_INFO, NULL, "worker_ready",
           "worker=%s service=%s mdp=0.%d capacity=%d credit=%d workers=%zu", worker->name, name,
           (int) worker->version, worker->capacity, msg->credit, broker_service_workers(service));
    worker->cancels = msg->cancels;
    if (msg->credit >= 0) /* a worker of several brokers (protocol.md 3.7) */
        broker_credit_ready(self->dispatch, worker, msg->credit, self->now);
    else
        broker_dispatch_worker_ready(self->dispatch, worker, self->now);
    /* A READY that got no job is answered by a HEARTBEAT at once, not at the next tick: the
       worker counts its liveness from when it connected, so a connection that took a while
       to come up (a refused first attempt costs ZeroMQ's 100 ms reconnect interval) must not
       use up that budget before the broker's first word. */
    if (worker->busy == 0)
        broker_router_send_signal(self->router, worker->identity, worker->version,
                                  SL_MDP_HEARTBEAT);
}

/* How long an expired plain worker is remembered: its slowest interval honoured, times
   liveness (docs/protocol.md 2.3). */
static int64_t s_lapse_ms(const broker_t *self)
{
    return self->config.max_peer_heartbeat_ms * self->config.liveness;
}

/* A HEARTBEAT from a plain worker expired a moment ago: it only beats more slowly than the
   broker. It is taken back under its service, the gap as its interval, so it is not expired
   again; it never learns it was gone (no DISCONNECT, no new READY). True if it was. */
static bool s_worker_reinstate(broker_t *self, zframe_t **sender_p, sl_mdp_msg_t *msg)
{
    broker_lapsed_entry_t lapsed;
    if (msg->command != SL_MDP_HEARTBEAT ||
        !broker_lapsed_take(self->lapsed, *sender_p, self->now, s_lapse_ms(self), &lapsed) ||
        lapsed.version != msg->version)
        return false;
    broker_service_t *service = broker_registry_service_ensure(self->registry, lapsed.service);
    broker_worker_t *worker =
        service ? broker_registry_worker_add(self->registry, sender_p, lapsed.version, service,
                                             lapsed.capacity, self->now)
                : NULL;
    if (!worker)
        return false;
    worker->beat_ms = self->now - lapsed.heard_at;
    worker->beat_at = self->now;
    broker_registry_worker_heard(self->registry, worker, self->now);
    sl_log(SL_LOG_INFO, NULL, "worker_reinstated", "worker=%s service=%s interval_ms=%lld",
           worker->name, lapsed.service, (long long) worker->beat_ms);
    broker_dispatch_worker_ready(self->dispatch, worker, self->now);
    return true;
}

static void s_worker_message(broker_t *self, zframe_t **sender_p, sl_mdp_msg_t *msg)
{
    broker_worker_t *worker = broker_registry_worker(self->registry, *sender_p);
    if (msg->command == SL_MDP_READY) {
        s_worker_ready(self, worker, sender_p, msg);
        return;
    }
    if (!worker && s_worker_reinstate(self, sender_p, msg))
        return;
    if (!worker) {
        /* Typically a worker that outlived a broker restart or its own expiry: DISCONNECT
           makes it reconnect and register again. */
        if (msg->command != SL_MDP_DISCONNECT) {
            sl_log_limited(&self->protocol_limit, SL_LOG_INFO, NULL, "worker_unknown", "command=%s",
                           sl_mdp_command_name(msg->command));
            broker_router_send_signal(self->router, *sender_p, msg->version, SL_MDP_DISCONNECT);
        }
        return;
    }
    if (msg->version != worker->version) {
        s_worker_violation(self, worker, "version_changed");
        return;
    }
    switch (msg->command) {
    case SL_MDP_HEARTBEAT:
        broker_registry_worker_beat(self->registry, worker, self->now);
        break;
    case SL_MDP_PARTIAL:
    case SL_MDP_FINAL: {
        /* A capacity-1 worker holds one job, so the reply goes to that job's client and the
           address frame it echoed is not trusted for routing; a larger one names the job by
           the tag it was given (protocol.md 3.6). */
        broker_request_t *job = broker_worker_job_for(worker, msg->address);
        if (!job) {
            s_worker_violation(self, worker, "reply_without_job");
            break;
        }
        broker_registry_worker_heard(self->registry, worker, self->now);
        broker_dispatch_reply(self->dispatch, worker, job, msg->command, &msg->body, self->now);
        /* A CREDIT that lowered its limit may keep it full even after this FINAL. */
        if (msg->command == SL_MDP_FINAL && broker_worker_has_room(worker))
            broker_dispatch_worker_ready(self->dispatch, worker, self->now);
        break;
    }
    case SL_MDP_CREDIT:
    case SL_MDP_HANDBACK: {
        broker_registry_worker_heard(self->registry, worker, self->now);
        const char *violation =
            msg->command == SL_MDP_CREDIT
                ? broker_credit_limit(self->dispatch, worker, msg->credit, self->now)
                : broker_credit_handback(self->dispatch, worker, msg->address, self->now);
        if (violation)
            s_worker_violation(self, worker, violation);
        break;
    }
    case SL_MDP_DISCONNECT:
        s_worker_forget(self, &worker, "disconnected", false);
        break;
    default:
        s_worker_violation(self, worker, "unexpected_command");
        break;
    }
}

static void s_client_message(broker_t *self, zframe_t **sender_p, sl_mdp_msg_t *msg)
{
    if (msg->command != SL_MDP_REQUEST) {
        sl_log_limited(&self->malformed_limit, SL_LOG_WARN, NULL, "malformed_message",
                       "reason=client_command_%s", sl_mdp_command_name(msg->command));
        return;
    }
    char name[SL_MAX_SERVICE_NAME + 1];
    s_frame_text(msg->service, name, sizeof(name));
    if (strncmp(name, "mmi.", 4) == 0) {
        broker_mmi_answer(self->mmi, *sender_p, msg, name, self->now); /* 8/MMI */
        return;
    }
    broker_service_t *service = broker_registry_service(self->registry, name);
    if (!service && self->config.hold_plain_ms > 0 &&
        sl_envelope_kind(msg->body) != SL_BODY_REQUEST) /* a plain request waits for one */
        service = broker_registry_service_hold(self->registry, name, BROKER_HELD_SERVICES_MAX);
    broker_dispatch_request(self->dispatch, sender_p, msg, service, self->now);
}

/* Receives and handles one message; false if none was waiting. Receiving and decoding go
   together (sl_mdp_recv): MDP header frames are checked in place, never turned into czmq
   frames. */
static bool s_handle_next(broker_t *self)
{
    zframe_t *sender = NULL;
    zmsg_t *foreign = NULL;
    sl_mdp_msg_t decoded;
    const char *reason = "unknown";
    sl_mdp_recv_result_t result =
        sl_mdp_recv(self->socket, SL_MDP_TO_BROKER, &sender, &decoded, &foreign, &reason);
    if (result == SL_MDP_RECV_NONE)
        return false;
    self->now = zclock_mono();
    if (result == SL_MDP_RECV_FOREIGN && sl_agent_is_agent(foreign)) /* protocol.md section 7 */
        broker_agents_message(self->agents, sender, &foreign, self->now);
    else if (result != SL_MDP_RECV_OK) {
        char quoted[128];
        sl_log_limited(&self->malformed_limit, SL_LOG_WARN, NULL, "malformed_message", "reason=%s",
                       sl_log_quote(foreign ? "unknown protocol" : reason, quoted, sizeof(quoted)));
    } else if (decoded.from_worker_side)
        s_worker_message(self, &sender, &decoded);
    else
        s_client_message(self, &sender, &decoded);
    sl_mdp_msg_reset(&decoded);
    zmsg_destroy(&foreign);
    zframe_destroy(&sender);
    return true;
}

/* Workers are kept in last-heard-from order and none may be silent for less than the
   broker's own expiry, so only those silent that long are looked at: the dead, and the few
   whose own heartbeat is slower (broker_registry_worker_window). Forgetting a worker
   changes the list, so they are collected first, a batch at a time. */
static void s_expire_workers(broker_t *self)
{
    broker_worker_t *oldest = broker_registry_worker_oldest(self->registry);
    if (!oldest || self->now - oldest->heard_at < self->expiry_ms)
        return; /* the usual case: nobody silent that long */
    broker_worker_t *dead[64];
    size_t count;
    do {
        count = 0;
        for (broker_worker_t *worker = broker_registry_worker_first(self->registry);
             worker && count < 64 && self->now - worker->heard_at >= self->expiry_ms;
             worker = broker_registry_worker_next(self->registry))
            if (worker->expiry <= self->now)
                dead[count++] = worker;
        for (size_t i = 0; i < count; i++) {
            /* A plain peer holding no job may only beat slowly: remembered, in case */
            if (!dead[i]->cancels && !dead[i]->credit_mode && dead[i]->busy == 0)
                broker_lapsed_note(self->lapsed, dead[i], broker_service_name(dead[i]->service));
            s_worker_forget(self, &dead[i], "expired", false);
        }
    } while (count == 64);
}

/* Once per heartbeat: heartbeat every worker, answer queued requests past their deadline,
   and retire services whose workers are gone for good (their waiting requests get
   no_worker). The only scans in the broker, and they run per tick, not per message. */
static void s_tick(broker_t *self)
{
    broker_worker_t *worker = broker_registry_worker_first(self->registry);
    /* A worker silent for more than one and a half of its intervals missed a heartbeat. */
    while (worker) {
        broker_router_send_signal(self->router, worker->identity, worker->version,
                                  SL_MDP_HEARTBEAT);
        if (self->now - worker->heard_at >
                broker_registry_worker_interval(self->registry, worker) * 3 / 2 &&
            broker_service_stats(worker->service))
            broker_service_stats(worker->service)->heartbeats_missed++;
        worker = broker_registry_worker_next(self->registry);
    }
    zlistx_t *doomed = zlistx_new();
    zlistx_t *retired = zlistx_new();
    if (!doomed || !retired)
        goto done;
    broker_service_t *service = broker_registry_service_first(self->registry);
    while (service) {
        broker_service_take_expired(service, self->now, doomed);
        broker_request_t *request;
        while ((request = (broker_request_t *) zlistx_detach(doomed, NULL)))
            broker_dispatch_fail(self->dispatch, &request, SL_ERROR_EXPIRED,
                                 "deadline passed in queue");
        if (!broker_service_waits_for_workers(service, self->now, self->expiry_ms)) {
            broker_service_take_all(service, doomed);
            while ((request = (broker_request_t *) zlistx_detach(doomed, NULL)))
                broker_dispatch_fail(self->dispatch, &request, SL_ERROR_NO_WORKER,
                                     "no worker came back for service");
            zlistx_add_end(retired, service);
        }
        service = broker_registry_service_next(self->registry);
    }
    /* Deleting from a zhashx while iterating it is not allowed: do it afterwards. */
    while ((service = (broker_service_t *) zlistx_detach(retired, NULL))) {
        sl_log(SL_LOG_INFO, NULL, "service_retired", "service=%s", broker_service_name(service));
        broker_registry_service_retire(self->registry, service);
    }
done:
    zlistx_destroy(&retired);
    zlistx_destroy(&doomed);
    broker_agents_tick(self->agents, self->now);
    broker_autoscaler_tick(self->autoscaler, self->now);
    broker_lapsed_purge(self->lapsed, self->now, s_lapse_ms(self));
}

/* The broker itself did not run for a while: it woke overslept ms after its poll's timeout
   (SIGSTOP, a starved CPU), or a batch took busy ms. Its peers' heartbeats waited unread in
   its socket meanwhile, so that time does not count against them: without this, a broker
   back from a stall expires every worker before it reads their heartbeats, and they must
   all register again. Below a heartbeat it is ordinary scheduling and changes nothing. */
static void s_forgive_own_stall(broker_t *self, int64_t overslept, int64_t busy)
{
    int64_t stalled = (overslept > 0 ? overslept : 0) + busy;
    if (stalled < self->config.heartbeat_ms)
        return;
    broker_registry_workers_postpone(self->registry, stalled);
    broker_agents_postpone(self->agents, stalled);
    sl_log_limited(&self->stall_limit, SL_LOG_WARN, NULL, "broker_stalled",
                   "ms=%lld detail=\"peers' expiry postponed by as much\"", (long long) stalled);
}

void broker_stop_on(broker_t *self, zsock_t *socket)
{
    self->stop_socket = socket;
}

int broker_run(broker_t *self, volatile sig_atomic_t *stop)
{
    zmq_pollitem_t items[] = {
        {self->handle, 0, ZMQ_POLLIN, 0},
        {self->stop_socket ? zsock_resolve(self->stop_socket) : NULL, 0, ZMQ_POLLIN, 0},
    };
    int item_count = self->stop_socket ? 2 : 1;
    self->now = zclock_mono();
    self->next_tick = sl_mdp_heartbeat_next(self->now, self->config.heartbeat_ms);
    while (!*stop) {
        /* Sleep until the next tick or the next worker expiry, whichever is first. */
        int64_t wake = self->next_tick;
        broker_worker_t *oldest = broker_registry_worker_oldest(self->registry);
        if (oldest && oldest->expiry < wake)
            wake = oldest->expiry;
        int64_t before_poll = zclock_mono();
        long timeout = wake > before_poll ? (long) (wake - before_poll) : 0;
        if (zmq_poll(items, item_count, timeout) < 0) {
            if (zmq_errno() == EINTR)
                continue;
            sl_log(SL_LOG_ERROR, NULL, "poll_failed", "error=%d", zmq_errno());
            return -1;
        }
        int64_t after_poll = zclock_mono();
        if (item_count == 2 && (items[1].revents & ZMQ_POLLIN)) {
            zmsg_t *command = zmsg_recv(self->stop_socket);
            zmsg_destroy(&command);
            return 0;
        }
        for (int count = 0; count < SL_BROKER_RECV_BATCH && !*stop; count++)
            if (!s_handle_next(self))
                break;
        self->now = zclock_mono();
        s_forgive_own_stall(self, after_poll - before_poll - timeout, self->now - after_poll);
        s_expire_workers(self);
        if (self->now >= self->next_tick) {
            s_tick(self);
            self->next_tick = sl_mdp_heartbeat_next(self->now, self->config.heartbeat_ms);
        }
    }
    return 0;
}

void broker_shutdown(broker_t *self)
{
    self->now = zclock_mono();
    zlistx_t *waiting = zlistx_new();
    broker_service_t *service = broker_registry_service_first(self->registry);
    while (service && waiting) {
        broker_service_take_all(service, waiting);
        service = broker_registry_service_next(self->registry);
    }
    broker_request_t *request;
    while (waiting && (request = (broker_request_t *) zlistx_detach(waiting, NULL)))
        broker_dispatch_fail(self->dispatch, &request, SL_ERROR_SHUTTING_DOWN,
                             "broker is shutting down");
    zlistx_destroy(&waiting);

    size_t workers = 0;
    broker_worker_t *worker = broker_registry_worker_first(self->registry);
    while (worker) {
        /* A job in hand may have run: shutting_down (503, "retry me") only where running it
           again is allowed; a non-retryable one gets worker_died (502), as if its worker had
           died. The gateway re-sends retryable ones to the broker that comes back. */
        while ((request = broker_worker_take_newest(worker))) {
            if (request->retryable)
                broker_dispatch_fail(self->dispatch, &request, SL_ERROR_SHUTTING_DOWN,
                                     "broker is shutting down");
            else
                broker_dispatch_fail(self->dispatch, &request, SL_ERROR_WORKER_DIED,
                                     "broker stopped while the job ran");
        }
        broker_router_send_signal(self->router, worker->identity, worker->version,
                                  SL_MDP_DISCONNECT);
        workers++;
        worker = broker_registry_worker_next(self->registry);
    }
    sl_log(SL_LOG_INFO, NULL, "workers_disconnected", "workers=%zu", workers);
    /* Give the DISCONNECTs and error answers time to leave before the socket closes. */
    broker_router_set_linger(self->router, SL_BROKER_SHUTDOWN_LINGER_MS);
}
