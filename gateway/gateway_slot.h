/*  gateway_slot: one HTTP thread's place to wait for the broker, reused across requests,
    and its request's place in the bridge's outbox. Its fields are this file's: the bridge
    and the in-flight table change them through the functions below, each of which takes
    and lets go of the slot's lock itself, except where a header comment says otherwise.
    Matching replies to slots is gateway_pending's job, the socket gateway_bridge's. */
#ifndef GATEWAY_SLOT_H
#define GATEWAY_SLOT_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "sl_envelope.h"
#include "sl_frame_view.h"

/* What gateway_slot_wait saw. */
typedef enum {
    GATEWAY_SLOT_MESSAGE = 0, /* a PARTIAL or FINAL body from the broker */
    GATEWAY_SLOT_TIMEOUT,     /* the deadline passed */
    GATEWAY_SLOT_RESEND,      /* reconnected: encode the request again and send it */
    GATEWAY_SLOT_UNAVAILABLE, /* never reached the broker (down, or the gateway stops): 503 */
    GATEWAY_SLOT_BROKER_LOST, /* sent, then the broker connection dropped: 502 */
    GATEWAY_SLOT_ALARM,       /* the wait's alarm time passed with nothing for the thread */
    GATEWAY_SLOT_CLIENT_GONE  /* the HTTP client left (gateway_slot_client_gone) */
} gateway_slot_event_t;

/* What became of a reply handed to gateway_slot_deliver_locked. */
typedef enum {
    GATEWAY_SLOT_DELIVERED = 0, /* queued for the thread (or failed it): wake it */
    GATEWAY_SLOT_AWAITS_BROKER, /* a stopping broker's shutting_down: wait for the next */
    GATEWAY_SLOT_DUPLICATE      /* from a broker the request has left, or after its FINAL */
} gateway_slot_delivery_t;

/* What gateway_slot_broker_lost did to the slot. */
typedef enum {
    GATEWAY_SLOT_NOT_IN_FLIGHT = 0, /* not sent, or finished: untouched */
    GATEWAY_SLOT_WAITING,           /* woken to be re-sent through another broker */
    GATEWAY_SLOT_LOST               /* failed with BROKER_LOST */
} gateway_slot_loss_t;

typedef struct _gateway_slot_t gateway_slot_t;

gateway_slot_t *gateway_slot_new(void);
/* Frees an unregistered slot; safe on NULL and twice. */
void gateway_slot_destroy(gateway_slot_t **self_p);

/* ---- the request's life in the table (gateway_bridge and gateway_pending) */

/* Its FINAL was an answer it will not take (no_worker from one of several brokers): it waits
   for a FINAL again, from the broker it is assigned to next. The HTTP thread's call. */
void gateway_slot_rearm(gateway_slot_t *self);

/* If its last send failed (the broker's connection was gone: nothing left the gateway),
   forgets the failure so the request may go out again, and returns true; otherwise
   (sent, answered, or lost in flight) false. The HTTP thread's call. */
bool gateway_slot_forget_unsent(gateway_slot_t *self);

/* Not registered yet, so nobody else sees it: resets the slot for a new request to broker
   number broker (gateway_slot_assign_broker). id is copied; service is borrowed from the
   route. deadline_ms is on zclock_mono's clock. */
void gateway_slot_prepare(gateway_slot_t *self, const char *id, const char *service, bool retryable,
                          int64_t deadline_ms, int broker);
/* The request id, the slot's own buffer (the table's key, borrowed). */
const char *gateway_slot_id(gateway_slot_t *self);
/* The table found the id taken: writes a fresh one into the slot's buffer. */
void gateway_slot_renew_id(gateway_slot_t *self);
/* Entered in the table (before any other thread can find it). */
void gateway_slot_mark_registered(gateway_slot_t *self);
bool gateway_slot_registered(gateway_slot_t *self);
/* Left the table: drops every body not yet taken. Waits for a delivery in progress. */
void gateway_slot_unregister(gateway_slot_t *self);
/* True if its request went out and its FINAL did not come: its id may still get replies. */
bool gateway_slot_abandoned(gateway_slot_t *self);
/* The HTTP thread, before it sends: the request goes to broker number index of the set
   (gateway_brokers); replies from any other broker are duplicates from then on. */
void gateway_slot_assign_broker(gateway_slot_t *self, int index);
/* The broker the request was last assigned to, -1 if none yet. */
int gateway_slot_broker(gateway_slot_t *self);
/* The HTTP thread found no broker to re-send through: it waits, as after a lost broker,
   until a probe finds a worker for its service again (gateway_slot_resend). */
void gateway_slot_await_broker(gateway_slot_t *self);

/* ---- the HTTP thread */

/* Waits until the slot has something or its deadline passes; or, if alarm_ms is not 0,
   until that zclock_mono time (ALARM: nothing happened by then; the deadline wins a tie).
   On MESSAGE, *body_p gets the reply body (the request-id frame already removed; caller
   owns) and *final whether it was a FINAL. Bodies already received come before CLIENT_GONE,
   which comes before any other event. */
gateway_slot_event_t gateway_slot_wait(gateway_slot_t *self, int64_t alarm_ms, zmsg_t **body_p,
                                       bool *final);

/* Any thread: the request's HTTP client left. Its thread is woken (CLIENT_GONE), and the
   request is never sent from now on (neither from the outbox nor again). Until the next
   gateway_slot_prepare. */
void gateway_slot_client_gone(gateway_slot_t *self);

/* ---- the bridge's outbox: the request's frames while it waits for the socket */

/* Fills the slot's outgoing frames: the MDP header for its service, then envelope (views
   that must stay put until the slot is unregistered), and marks it queued. */
void gateway_slot_queue(gateway_slot_t *self,
                        const sl_frame_view_t envelope[SL_ENVELOPE_REQUEST_FRAMES]);
/* True from gateway_slot_queue until the outbox's sender is done with the slot. */
bool gateway_slot_queued(gateway_slot_t *self);
/* The next slot in the outbox stack (a link only the outbox's owner touches). */
gateway_slot_t *gateway_slot_outbox_next(gateway_slot_t *self);
void gateway_slot_set_outbox_next(gateway_slot_t *self, gateway_slot_t *next);
/* Socket lock held: sends the queued frames on handle unless the slot failed meanwhile;
   marked sent before the send, so a disconnect seen after it counts it in flight. If
   handle is NULL or the send fails, the slot fails UNAVAILABLE. Returns true if sent.
   Then the slot is no longer queued: its thread may release and reuse it. */
bool gateway_slot_send(gateway_slot_t *self, void *handle);

/* ---- the bridge's events, for gateway_pending (which holds the table's lock) */

/* Takes the slot's lock: for gateway_pending_deliver, which must hold it before it lets go
   of the table's lock, and lets go of it with gateway_slot_unlock in the same function. */
void gateway_slot_lock(gateway_slot_t *self);
/* Lets go of the slot's lock, then wakes its thread if wake: the signal comes after the
   unlock, because a thread woken while the lock is held would run only to block on it. */
void gateway_slot_unlock(gateway_slot_t *self, bool wake);
/* Slot lock held: takes a reply body from broker number from (ownership of *body_p taken
   unless it is kept for the shutting_down case below, or it is a DUPLICATE: from a broker
   the request has left, or after the FINAL). A retryable request that has streamed nothing and gets
   a stopping broker's shutting_down FINAL waits for the broker to come back instead (AWAITS_BROKER,
   body left in *body_p). Out of memory fails the slot BROKER_LOST. */
gateway_slot_delivery_t gateway_slot_deliver_locked(gateway_slot_t *self, int from, zmsg_t **body_p,
                                                    bool final);
/* Sets a failure once (the first cause wins, none after the FINAL) and wakes the thread. */
void gateway_slot_fail(gateway_slot_t *self, gateway_slot_event_t failure);
/* Broker number index is no longer trusted (its connection dropped or it fell silent): a
   request sent to it and not finished is woken to be re-sent elsewhere (RESEND) if it may
   be retried and has streamed nothing, else fails BROKER_LOST. A slot on another broker is
   untouched. */
gateway_slot_loss_t gateway_slot_broker_lost(gateway_slot_t *self, int index);
/* service has a worker again: a slot waiting for it with time left (now < deadline) is
   woken to be sent again (returns 1); 0 if it waits on, -1 if it was not waiting. */
int gateway_slot_resend(gateway_slot_t *self, const char *service, int64_t now);

#endif
