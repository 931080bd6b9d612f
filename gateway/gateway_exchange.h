/*  gateway_exchange: one request's exchange with the broker as its HTTP thread sees it:
    begin (enter the in-flight table and send), await (each reply, re-sending by itself
    after its broker is lost, through another), cancel (its client left), end (leave the
    table). Each civetweb thread
    keeps one and reuses it, so a request allocates nothing here. It owns the thread's slot
    and the bytes its envelope's views point to besides the request's own; which broker it
    goes to is gateway_brokers', the socket and its outbox gateway_bridge's, the HTTP answer
    gateway_http's. */
#ifndef GATEWAY_EXCHANGE_H
#define GATEWAY_EXCHANGE_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway_brokers.h"
#include "gateway_request_metrics.h"

/* What gateway_exchange_await saw. */
typedef enum {
    GATEWAY_EXCHANGE_MESSAGE = 0, /* a PARTIAL or FINAL body from the broker */
    GATEWAY_EXCHANGE_TIMEOUT,     /* the deadline passed (also while re-sending) */
    GATEWAY_EXCHANGE_UNAVAILABLE, /* never reached the broker (down, or the gateway stops) */
    GATEWAY_EXCHANGE_BROKER_LOST, /* sent, then the broker connection dropped */
    GATEWAY_EXCHANGE_ALARM,       /* the alarm time given to await passed with nothing */
    GATEWAY_EXCHANGE_CLIENT_GONE  /* gateway_exchange_client_gone was called */
} gateway_exchange_event_t;

/* What gateway_exchange_begin did. */
typedef enum {
    GATEWAY_EXCHANGE_STARTED = 0, /* sent, or queued to be sent: await it, then end */
    GATEWAY_EXCHANGE_REFUSED,     /* no broker trusted, or the gateway stops (503) */
    GATEWAY_EXCHANGE_TOO_LATE     /* the deadline passed before it went out (504) */
} gateway_exchange_start_t;

/* The request, all borrowed: the bytes must stay put until gateway_exchange_end, as the
   envelope sent (and re-sent) is made of views of them. */
typedef struct {
    const char *service; /* the route's service */
    const char *method;  /* "GET" */
    const char *path;    /* percent-encoding kept */
    const char *query;   /* may be NULL */
    const char *headers; /* forwarded header block */
    size_t headers_size; /* bytes in headers */
    const void *body;    /* request body */
    size_t body_size;    /* bytes in body */
    bool retryable;      /* may be re-sent after a broker restart */
    int64_t deadline_ms; /* zclock_mono time the request gives up */
} gateway_exchange_request_t;

typedef struct _gateway_exchange_t gateway_exchange_t;

/* An exchange with brokers (borrowed, must outlive it); metrics (borrowed, may be NULL)
   counts its re-sends. Returns NULL if out of memory. */
gateway_exchange_t *gateway_exchange_new(gateway_brokers_t *brokers,
                                         gateway_request_metrics_t *metrics);
/* Safe on NULL and twice; the exchange must have ended. */
void gateway_exchange_destroy(gateway_exchange_t **self_p);

/* Enters the request under id (a buffer of SL_REQUEST_ID_MAX + 1 bytes holding a valid id;
   a fresh one is written into it if another request in flight has it) and sends it with
   the time it has left. Call gateway_exchange_end afterwards whatever it returns. */
gateway_exchange_start_t gateway_exchange_begin(gateway_exchange_t *self,
                                                const gateway_exchange_request_t *request,
                                                char *id);

/* Waits for the next reply or the end; with alarm_ms not 0, at most until that zclock_mono
   time (ALARM). On MESSAGE, *body_p gets the reply body (caller owns) and *final whether it
   was a FINAL. A request woken to be re-sent (its broker was lost, or came back) is re-sent
   here with the time it has left, through the trusted broker with the fewest requests
   outstanding; with none it waits on. */
gateway_exchange_event_t gateway_exchange_await(gateway_exchange_t *self, int64_t alarm_ms,
                                                zmsg_t **body_p, bool *final);

/* Any thread (the client watcher's): the request's HTTP client left. Its await returns
   CLIENT_GONE (after any reply already received), and the request is never sent again. */
void gateway_exchange_client_gone(gateway_exchange_t *self);

/* The HTTP thread, its client gone: nothing more of the request is sent, and if it is at a
   broker (sent, its FINAL not come) that broker is asked to drop it (mmi.cancel). Returns
   the name of the broker asked (borrowed), or NULL if none held it (never sent, or
   answered). Then end it as any other: a late answer for its id is dropped. */
const char *gateway_exchange_cancel(gateway_exchange_t *self);

/* Leaves the table and drops anything unread; a late reply for its id is then dropped by
   its broker's bridge. Safe after a refused begin, and again after an end. */
void gateway_exchange_end(gateway_exchange_t *self);

#endif
