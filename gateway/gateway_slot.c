/*  gateway_slot: one HTTP thread's place to wait for the broker. The thread waits on its
    semaphore with the request's deadline; the bridge appends replies and failures under
    the slot's lock and posts, and so does the client watcher when the HTTP client leaves.
    Which slot a reply belongs to (the table) is gateway_bridge's.

    Why a semaphore and not a condition variable: a thread woken from pthread_cond_wait
    takes the mutex back marked contended, so its unlock always makes a FUTEX_WAKE system
    call, waiters or not; perf showed that call at 8% of the gateway's CPU under load.
    sem_post enters the kernel only when a thread sleeps on it, and the thread here takes
    the lock after the wait, uncontended. The count may run ahead of the waits (a reply
    that lands before the thread sleeps): the next wait then returns at once and only
    re-checks, so a spurious wake costs a loop, never a lost one. */
#define _GNU_SOURCE /* sem_clockwait: a semaphore wait on CLOCK_MONOTONIC (glibc 2.30) */
#include "gateway_slot.h"

#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sl_defaults.h"
#include "sl_mdp.h"
#include "sl_request_id.h"

/* One body received for a slot, waiting for its thread. */
typedef struct s_reply_t {
    zmsg_t *body;           /* owned */
    bool final;             /* FINAL rather than PARTIAL */
    struct s_reply_t *next; /* next in arrival order */
} s_reply_t;

struct _gateway_slot_t {
    pthread_mutex_t lock;           /* guards everything below while registered */
    sem_t wakeup;                   /* posted after a change (see gateway_slot_wait) */
    char id[SL_REQUEST_ID_MAX + 1]; /* key in the table */
    const char *service;            /* borrowed from the route */
    int64_t deadline_ms;            /* zclock_mono time the HTTP thread gives up */
    bool retryable;                 /* may be re-sent after a reconnect */
    int broker;                     /* index of the broker it was sent to, -1 none yet */
    bool registered;                /* in the table */
    bool sent;                      /* on the wire to the current broker connection */
    bool partial_seen;              /* a PARTIAL arrived: never re-send */
    bool final_seen;                /* the FINAL arrived: ignore connection events */
    bool awaiting_reconnect;        /* connection dropped; re-send when it is back */
    bool resend;                    /* RESEND event for the thread */
    bool client_gone;               /* the HTTP client left: never send, wake CLIENT_GONE */
    gateway_slot_event_t failure;   /* UNAVAILABLE or BROKER_LOST, else MESSAGE (0) */
    s_reply_t *head;                /* replies not yet taken */
    s_reply_t *tail;                /* last reply */
    /* The bridge's outbox: a request waiting for whoever holds the socket lock to send
       it. Touched by the outbox's owner only, not under lock. */
    sl_frame_view_t outgoing[SL_MDP_CLIENT_REQUEST_HEADER_FRAMES + SL_ENVELOPE_REQUEST_FRAMES];
    /* the request while queued: views of static bytes and of its thread's buffers, which
       stay put until the slot is unregistered */
    gateway_slot_t *outbox_next; /* next in the outbox stack */
    atomic_bool queued;          /* in the outbox or being sent: not yet reusable */
    atomic_int waking;           /* wake-ups in progress after unlocking: destroy waits */
};

gateway_slot_t *gateway_slot_new(void)
{
    gateway_slot_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    if (pthread_mutex_init(&self->lock, NULL) != 0)
        goto fail_mutex;
    if (sem_init(&self->wakeup, 0, 0) != 0)
        goto fail_semaphore;
    return self;
fail_semaphore:
    pthread_mutex_destroy(&self->lock);
fail_mutex:
    free(self);
    return NULL;
}

/* Slot lock held: drops every body not yet taken. */
static void s_drain(gateway_slot_t *self)
{
    while (self->head) {
        s_reply_t *reply = self->head;
        self->head = reply->next;
        zmsg_destroy(&reply->body);
        free(reply);
    }
    self->tail = NULL;
}

void gateway_slot_destroy(gateway_slot_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gateway_slot_t *self = *self_p;
    assert(!self->registered);
    /* A bridge wake-up that began before the slot was released may not have posted yet;
       the semaphore must outlive it. */
    while (atomic_load(&self->waking) > 0)
        sched_yield();
    s_drain(self);
    sem_destroy(&self->wakeup);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

/* ---------------------------------------------------------------- the table */

void gateway_slot_prepare(gateway_slot_t *self, const char *id, const char *service, bool retryable,
                          int64_t deadline_ms, int broker)
{
    assert(!self->registered);
    /* Not yet visible to the bridge: no lock needed to reset it. */
    snprintf(self->id, sizeof self->id, "%s", id);
    self->service = service;
    self->deadline_ms = deadline_ms;
    self->retryable = retryable;
    self->broker = broker;
    self->sent = self->partial_seen = self->final_seen = false;
    self->awaiting_reconnect = self->resend = self->client_gone = false;
    self->failure = GATEWAY_SLOT_MESSAGE;
}

const char *gateway_slot_id(gateway_slot_t *self)
{
    return self->id;
}

void gateway_slot_renew_id(gateway_slot_t *self)
{
    sl_request_id_generate(self->id);
}

void gateway_slot_mark_registered(gateway_slot_t *self)
{
    self->registered = true;
}

bool gateway_slot_registered(gateway_slot_t *self)
{
    return self->registered;
}

void gateway_slot_unregister(gateway_slot_t *self)
{
    /* The bridge may still be inside a delivery it began under the table lock: taking the
       slot lock waits for it to finish. */
    pthread_mutex_lock(&self->lock);
    s_drain(self);
    self->registered = false;
    pthread_mutex_unlock(&self->lock);
}

bool gateway_slot_abandoned(gateway_slot_t *self)
{
    pthread_mutex_lock(&self->lock);
    bool abandoned = self->sent && !self->final_seen;
    pthread_mutex_unlock(&self->lock);
    return abandoned;
}

void gateway_slot_assign_broker(gateway_slot_t *self, int index)
{
    pthread_mutex_lock(&self->lock);
    self->broker = index;
    pthread_mutex_unlock(&self->lock);
}

void gateway_slot_rearm(gateway_slot_t *self)
{
    pthread_mutex_lock(&self->lock);
    self->sent = self->final_seen = false;
    pthread_mutex_unlock(&self->lock);
}

bool gateway_slot_forget_unsent(gateway_slot_t *self)
{
    pthread_mutex_lock(&self->lock);
    bool unsent = self->failure == GATEWAY_SLOT_UNAVAILABLE && !self->sent && !self->final_seen &&
                  !self->head;
    if (unsent)
        self->failure = GATEWAY_SLOT_MESSAGE;
    pthread_mutex_unlock(&self->lock);
    return unsent;
}

int gateway_slot_broker(gateway_slot_t *self)
{
    pthread_mutex_lock(&self->lock);
    int index = self->broker;
    pthread_mutex_unlock(&self->lock);
    return index;
}

void gateway_slot_await_broker(gateway_slot_t *self)
{
    pthread_mutex_lock(&self->lock);
    if (!self->final_seen && self->failure == GATEWAY_SLOT_MESSAGE)
        self->awaiting_reconnect = true;
    pthread_mutex_unlock(&self->lock);
}

/* ---------------------------------------------------------------- the HTTP thread */
gateway_slot_event_t gateway_slot_wait(gateway_slot_t *self, int64_t alarm_ms, zmsg_t **body_p,
                                       bool *final)
{
    int64_t wake_ms = alarm_ms > 0 && alarm_ms < self->deadline_ms ? alarm_ms : self->deadline_ms;
    struct timespec until = {.tv_sec = wake_ms / 1000, .tv_nsec = (wake_ms % 1000) * 1000000L};
    gateway_slot_event_t event;
    pthread_mutex_lock(&self->lock);
    while (true) {
        /* Bodies first: a failure that follows a PARTIAL must not hide the PARTIAL. */
        if (self->head) {
            s_reply_t *reply = self->head;
            self->head = reply->next;
            if (!self->head)
                self->tail = NULL;
            *body_p = reply->body;
            *final = reply->final;
            free(reply);
            event = GATEWAY_SLOT_MESSAGE;
            break;
        }
        /* Before a failure or a re-send: nobody is left to answer or to send for. */
        if (self->client_gone) {
            event = GATEWAY_SLOT_CLIENT_GONE;
            break;
        }
        if (self->failure != GATEWAY_SLOT_MESSAGE) {
            event = self->failure;
            break;
        }
        if (self->resend) {
            self->resend = false;
            event = GATEWAY_SLOT_RESEND;
            break;
        }
        int64_t now = zclock_mono();
        if (now >= self->deadline_ms) {
            event = GATEWAY_SLOT_TIMEOUT;
            break;
        }
        if (alarm_ms > 0 && now >= alarm_ms) {
            event = GATEWAY_SLOT_ALARM;
            break;
        }
        /* Deadlines are monotonic: a wall-clock jump must not cut a wait short or stretch
           it. Any return (posted, timed out, interrupted) re-checks under the lock. */
        pthread_mutex_unlock(&self->lock);
        sem_clockwait(&self->wakeup, CLOCK_MONOTONIC, &until);
        pthread_mutex_lock(&self->lock);
    }
    pthread_mutex_unlock(&self->lock);
    return event;
}

void gateway_slot_client_gone(gateway_slot_t *self)
{
    /* Posted under the lock, as s_fail does: once the caller has let go of the lock nothing
       here touches the slot, so its thread may reuse it at once. */
    pthread_mutex_lock(&self->lock);
    self->client_gone = true;
    sem_post(&self->wakeup);
    pthread_mutex_unlock(&self->lock);
}

/* ---------------------------------------------------------------- the outbox */

void gateway_slot_queue(gateway_slot_t *self,
                        const sl_frame_view_t envelope[SL_ENVELOPE_REQUEST_FRAMES])
{
    assert(self->registered);
    assert(!atomic_load(&self->queued));
    sl_mdp_client_request_header(SL_MDP_V02, self->service, self->outgoing);
    memcpy(self->outgoing + SL_MDP_CLIENT_REQUEST_HEADER_FRAMES, envelope,
           SL_ENVELOPE_REQUEST_FRAMES * sizeof *envelope);
    atomic_store_explicit(&self->queued, true, memory_order_relaxed);
}

bool gateway_slot_queued(gateway_slot_t *self)
{
    return atomic_load_explicit(&self->queued, memory_order_acquire);
}

gateway_slot_t *gateway_slot_outbox_next(gateway_slot_t *self)
{
    return self->outbox_next;
}

void gateway_slot_set_outbox_next(gateway_slot_t *self, gateway_slot_t *next)
{
    self->outbox_next = next;
}

/* Slot lock held: sets a failure once and posts. */
static void s_fail(gateway_slot_t *self, gateway_slot_event_t failure)
{
    if (self->failure == GATEWAY_SLOT_MESSAGE && !self->final_seen)
        self->failure = failure;
    sem_post(&self->wakeup);
}

bool gateway_slot_send(gateway_slot_t *self, void *handle)
{
    bool sent = false;
    pthread_mutex_lock(&self->lock);
    /* Marked sent before the send, so a disconnect seen after it counts it in flight; until
       then it is queued in the gateway, and a lost connection fails it (503). A request
       whose client left while it waited here never goes out: the broker would run it for
       nobody, and gateway_exchange_cancel, seeing it unsent, asks no broker to drop it. */
    if (self->failure == GATEWAY_SLOT_MESSAGE && !self->client_gone) {
        self->sent = true;
        if (handle && sl_frame_view_send(handle, self->outgoing,
                                         sizeof self->outgoing / sizeof *self->outgoing) == 0)
            sent = true;
        else {
            self->sent = false;
            s_fail(self, GATEWAY_SLOT_UNAVAILABLE);
        }
    }
    pthread_mutex_unlock(&self->lock);
    /* From here the slot may be released and reused by its thread. */
    atomic_store_explicit(&self->queued, false, memory_order_release);
    return sent;
}

/* ---------------------------------------------------------------- the bridge's events */

void gateway_slot_lock(gateway_slot_t *self)
{
    pthread_mutex_lock(&self->lock);
}

void gateway_slot_unlock(gateway_slot_t *self, bool wake)
{
    if (!wake) {
        pthread_mutex_unlock(&self->lock);
        return;
    }
    atomic_fetch_add(&self->waking, 1);
    pthread_mutex_unlock(&self->lock);
    sem_post(&self->wakeup);
    atomic_fetch_sub(&self->waking, 1);
}

/* True if body is the broker's shutting_down error envelope. */
static bool s_is_shutting_down(zmsg_t *body)
{
    sl_error_code_t code;
    return body && sl_envelope_kind(body) == SL_BODY_ERROR &&
           sl_error_envelope_decode(body, &code, NULL, 0) == 0 && code == SL_ERROR_SHUTTING_DOWN;
}

gateway_slot_delivery_t gateway_slot_deliver_locked(gateway_slot_t *self, int from, zmsg_t **body_p,
                                                    bool final)
{
    /* A request re-sent through another broker takes its answer from that one only: the
       first broker, back from a stall, may still run it and answer (dropped here), and the
       client must never get two answers. */
    if (from != self->broker || self->final_seen)
        return GATEWAY_SLOT_DUPLICATE;
    /* An answer from the broker it was assigned to, while it waited to be re-sent (that
       broker came back before another took it): take it, and send nothing more. */
    self->awaiting_reconnect = self->resend = false;
    /* A stopping broker answers what it holds shutting_down. A retryable request that has
       streamed nothing waits for the broker that comes back instead, as if the connection
       had dropped under it (architecture.md, Broker restart): a graceful restart must not
       turn in-flight GETs into 503s. */
    if (final && self->retryable && !self->partial_seen && s_is_shutting_down(*body_p)) {
        self->sent = false;
        self->awaiting_reconnect = true;
        return GATEWAY_SLOT_AWAITS_BROKER;
    }
    s_reply_t *reply = malloc(sizeof *reply);
    if (!reply) {
        s_fail(self, GATEWAY_SLOT_BROKER_LOST);
        return GATEWAY_SLOT_DELIVERED;
    }
    reply->body = *body_p;
    *body_p = NULL;
    reply->final = final;
    reply->next = NULL;
    if (self->tail)
        self->tail->next = reply;
    else
        self->head = reply;
    self->tail = reply;
    if (final)
        self->final_seen = true;
    else
        self->partial_seen = true;
    return GATEWAY_SLOT_DELIVERED;
}

void gateway_slot_fail(gateway_slot_t *self, gateway_slot_event_t failure)
{
    pthread_mutex_lock(&self->lock);
    s_fail(self, failure);
    pthread_mutex_unlock(&self->lock);
}

gateway_slot_loss_t gateway_slot_broker_lost(gateway_slot_t *self, int index)
{
    gateway_slot_loss_t loss = GATEWAY_SLOT_NOT_IN_FLIGHT;
    pthread_mutex_lock(&self->lock);
    if (self->broker == index && self->sent && !self->final_seen) {
        self->sent = false;
        if (self->retryable && !self->partial_seen) {
            /* Its thread picks another trusted broker at once, or, with none, waits for a
               probe to find its service again (gateway_slot_await_broker). */
            self->resend = true;
            sem_post(&self->wakeup);
            loss = GATEWAY_SLOT_WAITING;
        } else {
            s_fail(self, GATEWAY_SLOT_BROKER_LOST);
            loss = GATEWAY_SLOT_LOST;
        }
    }
    pthread_mutex_unlock(&self->lock);
    return loss;
}

int gateway_slot_resend(gateway_slot_t *self, const char *service, int64_t now)
{
    int result = -1;
    pthread_mutex_lock(&self->lock);
    if (self->awaiting_reconnect) {
        if (strcmp(self->service, service) == 0 && now < self->deadline_ms) {
            self->awaiting_reconnect = false;
            self->resend = true;
            sem_post(&self->wakeup);
            result = 1;
        } else
            result = 0;
    }
    pthread_mutex_unlock(&self->lock);
    return result;
}
