/*  gateway_slot: one HTTP thread's place to wait for the broker, reused across requests.
    The struct is shared with gateway_bridge, which fills it under the slot's lock; HTTP
    code uses the functions only. Matching replies to slots is the bridge's job. */
#ifndef GATEWAY_SLOT_H
#define GATEWAY_SLOT_H

#include <czmq.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "sl_defaults.h"
#include "sl_envelope.h"
#include "sl_mdp.h"

/* What gateway_slot_wait saw. */
typedef enum {
    GATEWAY_SLOT_MESSAGE = 0, /* a PARTIAL or FINAL body from the broker */
    GATEWAY_SLOT_TIMEOUT,     /* the deadline passed */
    GATEWAY_SLOT_RESEND,      /* reconnected: encode the request again and call send */
    GATEWAY_SLOT_UNAVAILABLE, /* never reached the broker (down, or the gateway stops): 503 */
    GATEWAY_SLOT_BROKER_LOST  /* sent, then the broker connection dropped: 502 */
} gateway_slot_event_t;

/* One body received for a slot, waiting for its thread. */
typedef struct gateway_slot_reply_t {
    zmsg_t *body;                      /* owned */
    bool final;                        /* FINAL rather than PARTIAL */
    struct gateway_slot_reply_t *next; /* next in arrival order */
} gateway_slot_reply_t;

struct _gateway_slot_t {
    pthread_mutex_t lock; /* guards everything below while registered */
    sem_t wakeup;         /* posted by the bridge after a change (see gateway_slot_wait) */
    char id[SL_REQUEST_ID_MAX + 1]; /* key in the table */
    const char *service;            /* borrowed from the route */
    int64_t deadline_ms;            /* zclock_mono time the HTTP thread gives up */
    bool retryable;                 /* may be re-sent after a reconnect */
    bool registered;                /* in the table */
    bool sent;                      /* on the wire to the current broker connection */
    bool partial_seen;              /* a PARTIAL arrived: never re-send */
    bool final_seen;                /* the FINAL arrived: ignore connection events */
    bool awaiting_reconnect;        /* connection dropped; re-send when it is back */
    bool resend;                    /* RESEND event for the thread */
    gateway_slot_event_t failure;   /* UNAVAILABLE or BROKER_LOST, else MESSAGE (0) */
    gateway_slot_reply_t *head;     /* replies not yet taken */
    gateway_slot_reply_t *tail;     /* last reply */
    /* The bridge's outbox (gateway_bridge.c): a request waiting for whoever holds the
       socket lock to send it. Touched by the outbox's owner only, not under lock. */
    sl_envelope_meta_t request_meta; /* the request's id, timeout and retry, for its views */
    char request_timeout[SL_ENVELOPE_TIMEOUT_TEXT_SIZE]; /* the timeout's digits, for its view */
    sl_frame_view_t outgoing[SL_MDP_CLIENT_REQUEST_HEADER_FRAMES + SL_ENVELOPE_REQUEST_FRAMES];
    /* the request while queued: views of static bytes, of the fields above and of its
       thread's buffers, which stay put until gateway_bridge_release */
    struct _gateway_slot_t *outbox_next; /* next in the outbox stack */
    atomic_bool queued;                  /* in the outbox or being sent: not yet reusable */
    atomic_int waking;                   /* wake-ups in progress after unlocking: destroy waits */
};

typedef struct _gateway_slot_t gateway_slot_t;

gateway_slot_t *gateway_slot_new(void);
/* Frees an unregistered slot; safe on NULL and twice. */
void gateway_slot_destroy(gateway_slot_t **self_p);

/* Waits until the slot has something or its deadline passes. On MESSAGE, *body_p gets the
   reply body (the request-id frame already removed; caller owns) and *final whether it was
   a FINAL. */
gateway_slot_event_t gateway_slot_wait(gateway_slot_t *slot, zmsg_t **body_p, bool *final);

/* For the bridge, slot lock held: appends a body (ownership of *body_p taken); returns -1
   (body kept) if out of memory. The thread is not woken yet: call gateway_slot_wake. */
int gateway_slot_push(gateway_slot_t *slot, zmsg_t **body_p, bool final);
/* For the bridge: wakes the slot's thread after a push. Call it with the lock held, and
   it ends with the lock released: the signal comes after the unlock, because a thread
   woken while the lock is still held would run only to block on it again. */
void gateway_slot_wake(gateway_slot_t *slot);
/* For the bridge, slot lock held: sets a failure once (the first cause wins, none after
   the FINAL) and wakes the thread. */
void gateway_slot_fail(gateway_slot_t *slot, gateway_slot_event_t failure);
/* Slot lock held: drops every body not yet taken. */
void gateway_slot_drain(gateway_slot_t *slot);

#endif
