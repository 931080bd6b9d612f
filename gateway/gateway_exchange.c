/*  gateway_exchange: the HTTP thread's side of a request to the broker. The envelope is
    views, not a copy: of the request's own bytes (civetweb's, the thread's buffers), and
    of the id and timeout digits kept here, all of which stay put until the end, while
    libzmq copies each frame as it sends. A re-send encodes the envelope again with the
    time then left, as the broker passes the timeout on to the worker; it keeps its id, so a
    duplicate answer from a broker it left is recognised (gateway_slot_deliver_locked). */
#include "gateway_exchange.h"

#include <stdlib.h>

#include "gateway_slot.h"
#include "sl_envelope.h"

struct _gateway_exchange_t {
    gateway_brokers_t *brokers;         /* borrowed */
    int broker;                         /* the number of the broker the request is on */
    gateway_request_metrics_t *metrics; /* borrowed, may be NULL */
    gateway_slot_t *slot;               /* where this thread waits for the broker */
    gateway_exchange_request_t request; /* the request under way, its bytes borrowed */
    sl_envelope_meta_t meta;            /* its id, timeout and retry, for the views */
    bool streamed;                      /* a PARTIAL reached the caller: no more re-sends */
    size_t elsewhere;                   /* re-sent after a no_worker answer, this often */
    char timeout_text[SL_ENVELOPE_TIMEOUT_TEXT_SIZE]; /* the timeout's digits, for its view */
};

gateway_exchange_t *gateway_exchange_new(gateway_brokers_t *brokers,
                                         gateway_request_metrics_t *metrics)
{
    assert(brokers);
    gateway_exchange_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->brokers = brokers;
    self->metrics = metrics;
    self->slot = gateway_slot_new();
    if (!self->slot) {
        free(self);
        return NULL;
    }
    return self;
}

void gateway_exchange_destroy(gateway_exchange_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gateway_exchange_t *self = *self_p;
    gateway_slot_destroy(&self->slot);
    free(self);
    *self_p = NULL;
}

/* Encodes the request with the time it has left and hands it to the bridge. Returns 0, or
   -1 when the deadline has already passed. */
static int s_send(gateway_exchange_t *self)
{
    const gateway_exchange_request_t *request = &self->request;
    int64_t left = request->deadline_ms - zclock_mono();
    if (left <= 0)
        return -1;
    self->meta.timeout_ms = left;
    sl_frame_view_t envelope[SL_ENVELOPE_REQUEST_FRAMES];
    if (sl_request_envelope_views(&self->meta, request->method, request->path, request->query,
                                  request->headers, request->headers_size, request->body,
                                  request->body_size, self->timeout_text, envelope) != 0)
        return -1;
    gateway_brokers_send(self->brokers, self->broker, self->slot, envelope);
    return 0;
}

gateway_exchange_start_t gateway_exchange_begin(gateway_exchange_t *self,
                                                const gateway_exchange_request_t *request, char *id)
{
    self->broker = gateway_brokers_register(self->brokers, self->slot, id, request->service,
                                            request->retryable, request->deadline_ms);
    if (self->broker < 0)
        return GATEWAY_EXCHANGE_REFUSED;
    self->request = *request;
    self->streamed = false;
    self->elsewhere = 0;
    self->meta = (sl_envelope_meta_t){.retryable = request->retryable};
    snprintf(self->meta.id, sizeof self->meta.id, "%s", id);
    return s_send(self) == 0 ? GATEWAY_EXCHANGE_STARTED : GATEWAY_EXCHANGE_TOO_LATE;
}

/* A FINAL that says no_worker, from one of several brokers: a broker back from a restart
   or a stall answers it before its workers have registered again. no_worker promises that
   no worker saw the request (a broker re-queues only retryable requests after a delivery,
   and a hand-back was never started), so a POST moves as safely as a GET. Moves the request
   to another broker whose probe found a worker, at most once per other broker (two
   brokers' stale probes must not bounce it), and says whether it did. */
static bool s_elsewhere(gateway_exchange_t *self, zmsg_t *body)
{
    sl_error_code_t code;
    if (self->streamed || self->elsewhere + 1 >= gateway_brokers_count(self->brokers) ||
        sl_envelope_kind(body) != SL_BODY_ERROR ||
        sl_error_envelope_decode(body, &code, NULL, 0) != 0 || code != SL_ERROR_NO_WORKER)
        return false;
    if (!gateway_brokers_reroute_elsewhere(self->brokers, self->slot, self->request.service, true,
                                           &self->broker))
        return false;
    self->elsewhere++;
    return true;
}

/* The request could not be sent to its broker (its connection went in the instant between
   the choice and the send: a broker killed under load). Nothing left the gateway, so any
   request may go to another trusted broker, once per other broker; says whether it will. */
static bool s_unsent_elsewhere(gateway_exchange_t *self)
{
    if (self->streamed || self->elsewhere + 1 >= gateway_brokers_count(self->brokers) ||
        !gateway_brokers_reroute_elsewhere(self->brokers, self->slot, self->request.service, false,
                                           &self->broker))
        return false;
    if (!gateway_slot_forget_unsent(self->slot))
        return false;
    self->elsewhere++;
    return true;
}

gateway_exchange_event_t gateway_exchange_await(gateway_exchange_t *self, int64_t alarm_ms,
                                                zmsg_t **body_p, bool *final)
{
    while (true) {
        switch (gateway_slot_wait(self->slot, alarm_ms, body_p, final)) {
        case GATEWAY_SLOT_MESSAGE:
            if (*final && s_elsewhere(self, *body_p)) {
                zmsg_destroy(body_p);
                gateway_slot_rearm(self->slot);
                gateway_request_metrics_resend(self->metrics);
                if (s_send(self) != 0)
                    return GATEWAY_EXCHANGE_TIMEOUT;
                break;
            }
            self->streamed = self->streamed || !*final;
            return GATEWAY_EXCHANGE_MESSAGE;
        case GATEWAY_SLOT_RESEND:
            if (!gateway_brokers_reroute(self->brokers, self->slot, self->request.service,
                                         &self->broker))
                break; /* no broker trusted now: waits for one to find its service */
            gateway_request_metrics_resend(self->metrics);
            if (s_send(self) != 0)
                return GATEWAY_EXCHANGE_TIMEOUT;
            break;
        case GATEWAY_SLOT_TIMEOUT:
            return GATEWAY_EXCHANGE_TIMEOUT;
        case GATEWAY_SLOT_UNAVAILABLE:
            if (!s_unsent_elsewhere(self))
                return GATEWAY_EXCHANGE_UNAVAILABLE;
            gateway_request_metrics_resend(self->metrics);
            if (s_send(self) != 0)
                return GATEWAY_EXCHANGE_TIMEOUT;
            break;
        case GATEWAY_SLOT_BROKER_LOST:
            return GATEWAY_EXCHANGE_BROKER_LOST;
        case GATEWAY_SLOT_ALARM:
            return GATEWAY_EXCHANGE_ALARM;
        case GATEWAY_SLOT_CLIENT_GONE:
            return GATEWAY_EXCHANGE_CLIENT_GONE;
        }
    }
}

void gateway_exchange_client_gone(gateway_exchange_t *self)
{
    gateway_slot_client_gone(self->slot);
}

const char *gateway_exchange_cancel(gateway_exchange_t *self)
{
    /* Marked first: from here the slot is never sent, so "not sent" below stays true, and a
       request still in the outbox is dropped there rather than run for nobody. */
    gateway_slot_client_gone(self->slot);
    if (!gateway_slot_abandoned(self->slot))
        return NULL;
    gateway_brokers_cancel(self->brokers, self->broker, self->meta.id);
    return gateway_bridge_label(gateway_brokers_bridge(self->brokers, (size_t) self->broker));
}

void gateway_exchange_end(gateway_exchange_t *self)
{
    gateway_brokers_release(self->brokers, self->slot, self->broker);
}
