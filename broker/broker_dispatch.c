/*  broker_dispatch: the life of a request inside the broker. Accepting it (envelope check,
    no-worker rule, queue limit), handing it to the first worker in line with a free slot (the
    most recently freed, among workers of one slot) with the time it has left, forwarding
    PARTIAL/FINAL to the client with the request-id frame for envelope requests, and
    answering errors. The worker protocol, the timers and the tables
    are not its business: the event loop (broker.c) calls it with the service or worker at
    hand and the time; it reads the registry's records and sends through broker_router. */
#include "broker_dispatch.h"
#include "broker_demand.h"
#include "sl_log.h"
#include "sl_mdp_io.h"

struct _broker_dispatch_t {
    broker_router_t *router;        /* borrowed: answers built as messages go through it */
    zsock_t *socket;                /* borrowed: the router's socket, for the hot path's sends */
    broker_stats_t *stats;          /* borrowed: counters (per service ones via the service) */
    int64_t expiry_ms;              /* heartbeat x liveness: the no-worker grace period */
    int64_t max_deliveries;         /* times one request may be handed to a worker */
    int64_t hold_plain_ms;          /* a plain request waits this long for a first worker */
    bool debug;                     /* debug logging on: per-request lines are built only then */
    sl_log_limit_t malformed_limit; /* rate limit for malformed envelopes */
    sl_log_limit_t dropped_limit;   /* rate limit for dropped plain-MDP requests */
    sl_log_limit_t rejected_limit;  /* rate limit for queue_full / no_worker / expired */
};

broker_dispatch_t *broker_dispatch_new(broker_router_t *router, broker_stats_t *stats,
                                       const broker_config_t *config)
{
    assert(router && config);
    broker_dispatch_t *self = (broker_dispatch_t *) calloc(1, sizeof(broker_dispatch_t));
    if (!self)
        return NULL;
    self->router = router;
    self->socket = broker_router_socket(router);
    self->stats = stats;
    self->expiry_ms = broker_config_expiry_ms(config);
    self->max_deliveries = config->max_deliveries;
    self->hold_plain_ms = config->hold_plain_ms;
    self->debug = config->log_debug;
    return self;
}

void broker_dispatch_destroy(broker_dispatch_t **self_p)
{
    assert(self_p);
    free(*self_p);
    *self_p = NULL;
}

/* Sends an error envelope, preceded by the request-id frame, as a FINAL to client. */
static void s_send_error(broker_dispatch_t *self, zframe_t *client, sl_mdp_version_t version,
                         zframe_t *service, const char *id, sl_error_code_t code, const char *text)
{
    zmsg_t *body = sl_error_envelope_encode(code, text);
    if (!body)
        return;
    zmsg_pushstr(body, id);
    zmsg_t *msg = sl_mdp_encode_client_reply(version, SL_MDP_FINAL, service, &body);
    if (msg)
        broker_router_send(self->router, client, &msg);
}

/* Hands request to worker (with a free slot, not in any list): MDP REQUEST with the
   client's routing id (or the job tag) as address and the timeout frame rewritten to the
   time left. A retryable request keeps its body, sent as references rather than copied, so
   a re-delivery after a crash has it, and so does any job sent to a worker of several
   brokers, which may hand it back unstarted (protocol.md 3.7); any other gives its body
   away. */
/* The address frame that names request at worker, which holds it: the client's routing id,
   or at a worker of capacity > 1 the job tag (protocol.md 3.6: a worker holding several jobs
   tells them apart by it, and echoes it in its PARTIAL/FINAL), written into tag. */
static const void *s_job_address(const broker_request_t *request, const broker_worker_t *worker,
                                 byte tag[BROKER_JOB_TAG_SIZE], size_t *size)
{
    if (worker->capacity == 1) {
        *size = zframe_size(request->client);
        return zframe_data(request->client);
    }
    uint32_t slot = (uint32_t) request->slot;
    memcpy(tag, &slot, 4);
    memcpy(tag + 4, &request->tag, 4);
    *size = BROKER_JOB_TAG_SIZE;
    return tag;
}

static void s_deliver(broker_dispatch_t *self, broker_request_t *request, broker_worker_t *worker,
                      int64_t now)
{
    if (request->is_envelope && request->body)
        sl_envelope_meta_set_timeout(request->body, broker_request_time_left(request, now));
    broker_worker_hold(worker, request);
    byte tag[BROKER_JOB_TAG_SIZE];
    size_t address_size;
    const void *address = s_job_address(request, worker, tag, &address_size);
    sl_mdp_send_worker_job(self->socket, worker->identity, worker->version, SL_MDP_REQUEST, address,
                           address_size, &request->body, request->retryable || worker->credit_mode);
    request->deliveries++;
    if (!request->wait_counted && broker_service_stats(request->service)) {
        request->wait_counted = true;
        broker_stats_queue_wait(broker_service_stats(request->service), now - request->received);
    }
    if (self->debug)
        sl_log(SL_LOG_DEBUG, request->is_envelope ? request->id : NULL, "request_delivered",
               "service=%s worker=%s delivery=%d", broker_service_name(request->service),
               worker->name, request->deliveries);
}

/* The next waiting request of service still within its deadline, or NULL; answers
   `expired` for the ones it skips, so a late request never reaches a worker. */
static broker_request_t *s_next_live_request(broker_dispatch_t *self, broker_service_t *service,
                                             int64_t now)
{
    broker_request_t *request;
    while ((request = broker_service_dequeue(service))) {
        if (broker_request_time_left(request, now) > 0)
            return request;
        broker_dispatch_fail(self, &request, SL_ERROR_EXPIRED, "deadline passed in queue");
    }
    return NULL;
}

void broker_dispatch_request(broker_dispatch_t *self, zframe_t **client_p, sl_mdp_msg_t *msg,
                             broker_service_t *service, int64_t now)
{
    sl_envelope_meta_t meta = {.timeout_ms = 0, .retryable = true};
    bool is_envelope = sl_envelope_kind(msg->body) == SL_BODY_REQUEST;
    if (is_envelope && sl_envelope_meta_read(msg->body, &meta) != 0) {
        /* Only a whole, valid envelope is one: a plain body that starts with the magic by
           chance (or a broken envelope) is served as the opaque body it is, as the worker
           does (protocol.md 6), rather than dropped without a word to its client. */
        sl_log_limited(&self->malformed_limit, SL_LOG_WARN, NULL, "malformed_envelope",
                       "service=%s served_as=opaque", service ? broker_service_name(service) : "-");
        is_envelope = false;
        meta = (sl_envelope_meta_t){.timeout_ms = 0, .retryable = true};
    }
    if (!service) {
        if (is_envelope)
            s_send_error(self, *client_p, msg->version, msg->service, meta.id, SL_ERROR_NO_WORKER,
                         "no worker for service");
        broker_stats_unknown_service(self->stats);
        sl_log_limited(&self->rejected_limit, SL_LOG_INFO, is_envelope ? meta.id : NULL,
                       "request_failed", "reason=no_worker unknown_service=true");
        return;
    }
    broker_request_t *request = broker_request_new(client_p, msg->version, &msg->body);
    if (!request)
        return;
    request->service = service;
    request->received = now;
    if (broker_service_stats(service))
        broker_service_stats(service)->requests++;
    request->is_envelope = is_envelope;
    if (is_envelope)
        memcpy(request->id, meta.id, sizeof(request->id));
    /* Plain MDP requests carry no deadline; RFC 7/18 assume idempotent workers, so they
       may be delivered again. Envelope requests say both for themselves. */
    int64_t timeout = meta.timeout_ms > 0 ? meta.timeout_ms : SL_DEFAULT_REQUEST_TIMEOUT_MS;
    request->deadline = now + timeout;
    request->retryable = meta.retryable;
    if (!is_envelope && self->hold_plain_ms > 0 && broker_service_workers(service) == 0) {
        /* MDP has no error reply: a plain client told nothing would only time out. So its
           request waits a while for a first worker (one that registers a moment later) */
        if (request->deadline > now + self->hold_plain_ms)
            request->deadline = now + self->hold_plain_ms;
        broker_service_hold_until(service, request->deadline);
    }

    /* The no-worker rule: fail at once unless a worker left within heartbeat x liveness
       (a restart in progress) or an autoscaling policy starts one (min 0), in which cases
       the request waits for that worker. */
    if (!broker_service_waits_for_workers(service, now, self->expiry_ms)) {
        broker_dispatch_fail(self, &request, SL_ERROR_NO_WORKER, "no worker for service");
        return;
    }
    if (broker_service_queued(service) == 0) {
        broker_worker_t *worker = broker_service_idle_pop(service);
        if (worker) {
            s_deliver(self, request, worker, now);
            if (broker_worker_has_room(worker))
                broker_service_idle_push(service, worker); /* next job to the next worker */
            if (worker->credit_mode)
                broker_demand_worker_changed(self->router, worker);
            return;
        }
    }
    if (broker_service_enqueue(service, request) != 0) {
        broker_dispatch_fail(self, &request, SL_ERROR_QUEUE_FULL, "service queue is full");
        return;
    }
    /* No worker can take it now: workers that another broker keeps busy hear of it. */
    if (broker_service_paused(service) > 0)
        broker_demand_service_waiting(self->router, service);
}

void broker_dispatch_service(broker_dispatch_t *self, broker_service_t *service, int64_t now)
{
    while (broker_service_queued(service) > 0 && broker_service_idle(service) > 0) {
        broker_request_t *request = s_next_live_request(self, service, now);
        if (!request)
            break;
        broker_worker_t *worker = broker_service_idle_pop(service);
        s_deliver(self, request, worker, now);
        if (broker_worker_has_room(worker))
            broker_service_idle_push(service, worker);
        if (worker->credit_mode)
            broker_demand_worker_changed(self->router, worker);
    }
    if (broker_service_queued(service) > 0 && broker_service_paused(service) > 0)
        broker_demand_service_waiting(self->router, service);
}

void broker_dispatch_worker_ready(broker_dispatch_t *self, broker_worker_t *worker, int64_t now)
{
    assert(broker_worker_has_room(worker));
    /* Work is only ever waiting when no worker had a free slot, so this worker is next in
       line: it gets waiting requests while it has room. A worker already in the idle list
       implies an empty queue, and keeps its place there. */
    while (!worker->idle_handle && broker_worker_has_room(worker)) {
        broker_request_t *request = s_next_live_request(self, worker->service, now);
        if (!request)
            break;
        s_deliver(self, request, worker, now);
    }
    if (!worker->idle_handle && broker_worker_has_room(worker)) {
        /* A worker of one job at a time that just finished goes first in line: its process is
           warm (threads awake, caches and JIT code hot), and on a busy host the next job is
           answered sooner by it than by one that has slept longest (test_seed_apps, A/B in
           docs/architecture.md). Workers of several slots keep their place at the end, so
           jobs spread over them rather than fill one first (protocol.md 3.6). */
        if (worker->capacity == 1)
            broker_service_idle_push_front(worker->service, worker);
        else
            broker_service_idle_push(worker->service, worker);
    }
    if (worker->credit_mode)
        broker_demand_worker_changed(self->router, worker);
}

void broker_dispatch_worker_limit(broker_dispatch_t *self, broker_worker_t *worker, int limit,
                                  int64_t now)
{
    assert(worker->credit_mode && limit >= 0 && limit <= worker->capacity);
    worker->limit = limit;
    if (broker_worker_has_room(worker)) {
        broker_dispatch_worker_ready(self, worker, now);
        return;
    }
    /* At or over the new limit: it leaves the idle list and gets nothing until a FINAL
       takes it under again or a CREDIT raises the limit. */
    broker_service_idle_remove(worker->service, worker);
    broker_demand_worker_changed(self->router, worker);
}

void broker_dispatch_handback(broker_dispatch_t *self, broker_worker_t *worker,
                              broker_request_t *request, int64_t now)
{
    /* Its body is still here: a credit_mode worker's jobs keep theirs (s_deliver), and
       NULL only for a request that came with no body frames. */
    assert(worker->credit_mode && request->worker == worker && !request->partial_sent);
    broker_worker_release(worker, request);
    /* The worker never saw the job: the delivery does not count against max-deliveries,
       and its deadline runs on untouched. */
    if (request->deliveries > 0)
        request->deliveries--;
    /* "treats the worker as sending nothing more until its next CREDIT" (protocol.md 3.7) */
    worker->limit = worker->busy;
    broker_service_idle_remove(worker->service, worker);
    broker_demand_worker_handed_back(worker);
    broker_service_t *service = request->service;
    if (request->cancelled) {
        /* answered already: nothing is left to run */
        broker_request_destroy(&request);
        broker_dispatch_service(self, service, now);
        return;
    }
    broker_service_requeue(service, request);
    if (broker_service_stats(service))
        broker_service_stats(service)->handbacks++;
    if (self->debug)
        sl_log(SL_LOG_DEBUG, request->is_envelope ? request->id : NULL, "request_handed_back",
               "service=%s worker=%s deliveries=%d", broker_service_name(service), worker->name,
               request->deliveries);
    broker_dispatch_service(self, service, now);
}

void broker_dispatch_reply(broker_dispatch_t *self, broker_worker_t *worker,
                           broker_request_t *request, sl_mdp_command_t command, zmsg_t **body_p,
                           int64_t now)
{
    assert(request && request->worker == worker &&
           (command == SL_MDP_PARTIAL || command == SL_MDP_FINAL));
    if (request->cancelled ||
        (command == SL_MDP_PARTIAL && request->client_version == SL_MDP_V01)) {
        /* MDP/0.1 has no PARTIAL: such a client only ever sees the FINAL. A cancelled job's
           client was answered: its FINAL only frees the slot. */
        zmsg_destroy(body_p);
        if (command == SL_MDP_FINAL && request->cancelled) {
            broker_worker_release(worker, request);
            broker_request_destroy(&request);
        }
        return;
    }
    sl_mdp_send_client_reply(self->socket, request->client, request->client_version, command,
                             broker_service_name_frame(request->service),
                             request->is_envelope ? request->id : NULL, body_p);
    if (command == SL_MDP_PARTIAL) {
        request->partial_sent = true;
        /* The kept body is useless now: a streamed request is never delivered again. */
        zmsg_destroy(&request->body);
        return;
    }
    if (broker_service_stats(request->service))
        broker_service_stats(request->service)->replies++;
    if (self->debug)
        sl_log(SL_LOG_DEBUG, request->is_envelope ? request->id : NULL, "request_completed",
               "service=%s worker=%s duration_ms=%lld", broker_service_name(request->service),
               worker->name, (long long) (now - request->received));
    broker_worker_release(worker, request);
    broker_request_destroy(&request);
}

void broker_dispatch_job_lost(broker_dispatch_t *self, broker_request_t *request, int64_t now)
{
    request->worker = NULL;
    if (request->retryable && !request->partial_sent && request->body &&
        request->deliveries < self->max_deliveries && broker_request_time_left(request, now) > 0) {
        broker_service_requeue(request->service, request);
        if (broker_service_stats(request->service))
            broker_service_stats(request->service)->requeues++;
        sl_log(SL_LOG_INFO, request->is_envelope ? request->id : NULL, "request_requeued",
               "service=%s deliveries=%d", broker_service_name(request->service),
               request->deliveries);
        return;
    }
    if (broker_request_time_left(request, now) <= 0)
        broker_dispatch_fail(self, &request, SL_ERROR_EXPIRED, "deadline passed");
    else
        broker_dispatch_fail(self, &request, SL_ERROR_WORKER_DIED,
                             "worker died while handling the request");
}

void broker_dispatch_fail(broker_dispatch_t *self, broker_request_t **request_p,
                          sl_error_code_t code, const char *text)
{
    broker_request_t *request = *request_p;
    if (request->cancelled) {
        /* its client has had its answer (mmi.cancel): a dead worker or a stop adds none */
        broker_request_destroy(request_p);
        return;
    }
    const char *service = broker_service_name(request->service);
    if (broker_service_stats(request->service))
        broker_service_stats(request->service)->errors[code]++;
    if (!request->is_envelope) {
        /* MDP has no error reply: the plain client's own retry logic takes over. The line
           names the client (its routing id in hex), so an operator can tell whose; the
           count is in mmi.stats errors and /metrics */
        char *client = zframe_strhex(request->client);
        sl_log_limited(&self->dropped_limit, SL_LOG_INFO, NULL, "request_dropped",
                       "service=%s reason=%s client=%s", service, sl_error_code_name(code),
                       client ? client : "-");
        free(client);
        broker_request_destroy(request_p);
        return;
    }
    sl_log_limited(&self->rejected_limit, SL_LOG_INFO, request->id, "request_failed",
                   "service=%s reason=%s deliveries=%d", service, sl_error_code_name(code),
                   request->deliveries);
    s_send_error(self, request->client, request->client_version,
                 broker_service_name_frame(request->service), request->id, code, text);
    broker_request_destroy(request_p);
}

int broker_dispatch_cancel(broker_dispatch_t *self, broker_request_t *request)
{
    assert(!request->cancelled);
    if (request->queue_handle) {
        broker_service_unqueue(request->service, request);
        broker_dispatch_fail(self, &request, SL_ERROR_CANCELLED, "cancelled by its client");
        return 200;
    }
    broker_worker_t *worker = request->worker;
    assert(worker);
    /* Answered now, not when the worker stops: a client that cancels is done with it. The
       slot stays taken until the worker's FINAL, so the worker is never sent more than it
       may hold while the handler winds down. */
    if (broker_service_stats(request->service))
        broker_service_stats(request->service)->errors[SL_ERROR_CANCELLED]++;
    if (request->is_envelope)
        s_send_error(self, request->client, request->client_version,
                     broker_service_name_frame(request->service), request->id, SL_ERROR_CANCELLED,
                     "cancelled by its client");
    request->cancelled = true;
    zmsg_destroy(&request->body); /* never delivered again */
    if (worker->cancels) {
        byte tag[BROKER_JOB_TAG_SIZE];
        size_t size;
        const void *address = s_job_address(request, worker, tag, &size);
        zmsg_t *cancel = sl_mdp_encode_cancel(address, size);
        if (cancel)
            broker_router_send(self->router, worker->identity, &cancel);
    }
    sl_log(SL_LOG_INFO, request->is_envelope ? request->id : NULL, "request_cancelled",
           "service=%s worker=%s told=%s", broker_service_name(request->service), worker->name,
           worker->cancels ? "true" : "false");
    return 202;
}
