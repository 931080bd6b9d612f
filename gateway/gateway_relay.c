/*  gateway_relay: the wait for the broker's answer, and what a client's hang-up does to it.
    The watcher notices a hang-up while the request waits, before its answer or between the
    parts of a stream; a client found gone by a failed write (a stream under way) has its
    request cancelled the same way. A cancel costs one mmi.cancel to the broker holding the
    request; the slot leaves the table as after any answer, and the broker's own `cancelled`
    answer to the request, a late reply by then, is dropped. */
#include "gateway_relay.h"

#include <stdlib.h>

#include "gateway_client_socket.h"
#include "gateway_head_buffer.h"
#include "sl_log.h"

struct _gateway_relay_t {
    gateway_client_watch_t *watch; /* borrowed, may be NULL */
    const atomic_bool *stopping;   /* borrowed: the gateway drains */
    int hint;                      /* the client socket found last on this thread, -1 none */
    sl_log_limit_t unwatched;      /* for clients whose socket could not be watched */
};

/* Where the relay stands after one event. */
typedef enum {
    S_WAITING = 0, /* the answer goes on: wait for the next part */
    S_DONE,        /* answered, or failed and said so */
    S_CLIENT_GONE  /* a write to the client failed before the answer was complete */
} s_state_t;

gateway_relay_t *gateway_relay_new(gateway_client_watch_t *watch, const atomic_bool *stopping)
{
    assert(stopping);
    gateway_relay_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->watch = watch;
    self->stopping = stopping;
    self->hint = -1;
    return self;
}

void gateway_relay_destroy(gateway_relay_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

/* The watcher's call, on its thread: the client hung up. */
static void s_client_gone(void *exchange)
{
    gateway_exchange_client_gone(exchange);
}

/* The wait has gone on long enough: watches the client's socket. Returns the descriptor
   watched, or -1 (not found, or refused): the request then waits as without the option. */
static int s_watch(gateway_relay_t *self, gateway_exchange_t *exchange,
                   gateway_response_t *response)
{
    /* The socket this thread read the request from is almost always it: confirmed by its
       addresses, it spares the walk of every descriptor, which under overload (when every
       request waits this long) would cost a millisecond or more each. */
    const struct mg_request_info *info = mg_get_request_info(response->conn);
    int fd = gateway_client_socket_find(info, gateway_head_buffer_last_fd(), self->hint);
    if (fd < 0 || gateway_client_watch_add(self->watch, fd, s_client_gone, exchange) != 0) {
        /* Not found: no /proc, out of descriptors, a client address civetweb printed in a
           form we do not read (an IPv6 zone). The feature is off for it: say so. */
        sl_log_limited(&self->unwatched, SL_LOG_WARN, response->request_id, "client_not_watched",
                       "socket=%s", fd < 0 ? "not_found" : "refused");
        return -1;
    }
    self->hint = fd;
    return fd;
}

/* The client is gone: the request is cancelled at its broker, and nothing more is written. */
static void s_cancel(gateway_exchange_t *exchange, gateway_response_t *response,
                     const char *seen_by)
{
    const char *broker = gateway_exchange_cancel(exchange);
    if (response->streaming && !response->failed)
        gateway_response_stream_abort(response, GATEWAY_REQUEST_METRICS_CLIENT_CLOSED);
    /* civetweb closes the connection after the handler; nobody reads an answer on it. */
    gateway_response_close_connection(response);
    if (!response->cause)
        response->cause = GATEWAY_REQUEST_METRICS_CLIENT_CLOSED;
    sl_log(SL_LOG_INFO, response->request_id, "request_cancelled",
           "reason=client_closed seen_by=%s broker=%s", seen_by, broker ? broker : "none");
}

/* Writes what the exchange gave (ownership of *body_p taken). */
static s_state_t s_answer(gateway_relay_t *self, gateway_response_t *response,
                          gateway_exchange_event_t event, zmsg_t **body_p, bool final)
{
    switch (event) {
    case GATEWAY_EXCHANGE_MESSAGE:
        if (response->streaming) {
            if (gateway_response_stream_chunk(response, body_p, final) != 0)
                return final ? S_DONE : S_CLIENT_GONE;
            return final ? S_DONE : S_WAITING;
        }
        if (final) {
            gateway_response_from_final(response, body_p);
            return S_DONE;
        }
        if (gateway_response_stream_start(response, body_p) != 0)
            /* Answered as an error (later parts dropped), or the client is gone. */
            return response->failed ? S_CLIENT_GONE : S_DONE;
        return S_WAITING;
    case GATEWAY_EXCHANGE_TIMEOUT:
        if (response->streaming)
            gateway_response_stream_abort(response, "deadline");
        else
            gateway_response_error(response, 504, "deadline", NULL);
        return S_DONE;
    case GATEWAY_EXCHANGE_UNAVAILABLE:
    case GATEWAY_EXCHANGE_BROKER_LOST: {
        bool lost = event == GATEWAY_EXCHANGE_BROKER_LOST;
        const char *cause = atomic_load(self->stopping) ? "shutting_down"
                            : lost                      ? "broker_lost"
                                                        : "broker_unavailable";
        if (response->streaming)
            gateway_response_stream_abort(response, cause);
        else
            gateway_response_error(response, lost ? 502 : 503, cause, NULL);
        return S_DONE;
    }
    case GATEWAY_EXCHANGE_ALARM:
    case GATEWAY_EXCHANGE_CLIENT_GONE:
    default:
        assert(false); /* the caller's */
        return S_DONE;
    }
}

void gateway_relay_await(gateway_relay_t *self, gateway_exchange_t *exchange,
                         gateway_response_t *response, bool cancel_on_disconnect)
{
    bool watching = cancel_on_disconnect && self->watch;
    int64_t alarm_ms = watching ? zclock_mono() + GATEWAY_RELAY_WATCH_AFTER_MS : 0;
    int fd = -1;
    while (true) {
        zmsg_t *body = NULL;
        bool final = false;
        gateway_exchange_event_t event = gateway_exchange_await(exchange, alarm_ms, &body, &final);
        if (event == GATEWAY_EXCHANGE_ALARM) {
            alarm_ms = 0; /* once: from here the watcher wakes us */
            fd = s_watch(self, exchange, response);
            continue;
        }
        if (event == GATEWAY_EXCHANGE_CLIENT_GONE) {
            s_cancel(exchange, response, "watch");
            break;
        }
        if (final || event != GATEWAY_EXCHANGE_MESSAGE)
            /* Nothing more can come: the id is free before its client reads the answer, so a
               client that sends its next request with the same X-Request-Id keeps it. */
            gateway_exchange_end(exchange);
        s_state_t state = s_answer(self, response, event, &body, final);
        if (state == S_CLIENT_GONE && cancel_on_disconnect)
            s_cancel(exchange, response, "write");
        if (state != S_WAITING)
            break;
    }
    if (fd >= 0)
        gateway_client_watch_remove(self->watch, fd);
}
