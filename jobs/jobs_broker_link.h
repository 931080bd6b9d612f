/*  jobs_broker_link: one broker as the jobs dispatcher reaches it: an MDP/0.2 client DEALER
    with a stable identity (so replies reach a restarted process), the monitor that reports
    its connection, and the sends on it. Sockets only: whether the broker counts as alive,
    and what losing it means for the attempts it holds, are the dispatcher's. */
#ifndef JOBS_BROKER_LINK_H
#define JOBS_BROKER_LINK_H
#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "sl_curve.h"

typedef struct {
    char *endpoint;       /* as configured, owned */
    zsock_t *dealer;      /* MDP/0.2 client */
    zactor_t *monitor;    /* its connection events */
    bool alive;           /* the dispatcher's judgement: answered within liveness */
    int64_t heard_ms;     /* zclock_mono of its last message */
    int64_t probe_due_ms; /* next mmi.service probe */
} jobs_broker_link_t;

/* What the monitor said. */
typedef enum {
    JOBS_LINK_OTHER = 0,
    JOBS_LINK_CONNECTED,   /* a TCP connection is up */
    JOBS_LINK_DISCONNECTED /* it closed: what the broker held is gone with it */
} jobs_broker_link_event_t;

/* Connects self (zeroed) to endpoint as identity, with curve's keys (may be NULL). Returns 0,
   or -1 (logged; call jobs_broker_link_close all the same). */
int jobs_broker_link_open(jobs_broker_link_t *self, const char *endpoint, const char *identity,
                          const sl_curve_client_t *curve);
/* Closes the sockets and frees the endpoint; safe on a zeroed or closed link. */
void jobs_broker_link_close(jobs_broker_link_t *self);
/* Reads one event from the monitor. */
jobs_broker_link_event_t jobs_broker_link_event(jobs_broker_link_t *self);
/* Sends *request_p (taken; freed if it cannot go: no connection). Returns 0 or -1. */
int jobs_broker_link_send(jobs_broker_link_t *self, zmsg_t **request_p);
/* Sends an 8/MMI request for service with one body frame (text). Returns 0 or -1. */
int jobs_broker_link_ask(jobs_broker_link_t *self, const char *service, const char *text);
#endif
