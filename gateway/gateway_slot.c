/*  gateway_slot: one HTTP thread's place to wait for the broker. The thread waits on its
    condition with the request's deadline; the bridge appends replies and failures under
    the slot's lock. Which slot a reply belongs to (the table) is gateway_bridge's. */
#include "gateway_slot.h"

#include <sched.h>
#include <stdlib.h>
#include <time.h>

gateway_slot_t *gateway_slot_new(void)
{
    gateway_slot_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    pthread_condattr_t attributes;
    pthread_condattr_init(&attributes);
    /* Deadlines are monotonic; a wall-clock jump must not cut a wait short or stretch it. */
    pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
    if (pthread_mutex_init(&self->lock, NULL) != 0)
        goto fail_mutex;
    if (pthread_cond_init(&self->cond, &attributes) != 0)
        goto fail_cond;
    pthread_condattr_destroy(&attributes);
    return self;
fail_cond:
    pthread_mutex_destroy(&self->lock);
fail_mutex:
    pthread_condattr_destroy(&attributes);
    free(self);
    return NULL;
}

void gateway_slot_drain(gateway_slot_t *slot)
{
    while (slot->head) {
        gateway_slot_reply_t *reply = slot->head;
        slot->head = reply->next;
        zmsg_destroy(&reply->body);
        free(reply);
    }
    slot->tail = NULL;
}

void gateway_slot_destroy(gateway_slot_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gateway_slot_t *self = *self_p;
    assert(!self->registered);
    /* A bridge wake-up that began before the slot was released may not have signalled
       yet; the condition must outlive it. */
    while (atomic_load(&self->waking) > 0)
        sched_yield();
    gateway_slot_drain(self);
    pthread_cond_destroy(&self->cond);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

void gateway_slot_fail(gateway_slot_t *slot, gateway_slot_event_t failure)
{
    if (slot->failure == GATEWAY_SLOT_MESSAGE && !slot->final_seen)
        slot->failure = failure;
    pthread_cond_signal(&slot->cond);
}

gateway_slot_event_t gateway_slot_wait(gateway_slot_t *slot, zmsg_t **body_p, bool *final)
{
    struct timespec until = {.tv_sec = slot->deadline_ms / 1000,
                             .tv_nsec = (slot->deadline_ms % 1000) * 1000000L};
    gateway_slot_event_t event;
    pthread_mutex_lock(&slot->lock);
    while (true) {
        /* Bodies first: a failure that follows a PARTIAL must not hide the PARTIAL. */
        if (slot->head) {
            gateway_slot_reply_t *reply = slot->head;
            slot->head = reply->next;
            if (!slot->head)
                slot->tail = NULL;
            *body_p = reply->body;
            *final = reply->final;
            free(reply);
            event = GATEWAY_SLOT_MESSAGE;
            break;
        }
        if (slot->failure != GATEWAY_SLOT_MESSAGE) {
            event = slot->failure;
            break;
        }
        if (slot->resend) {
            slot->resend = false;
            event = GATEWAY_SLOT_RESEND;
            break;
        }
        if (zclock_mono() >= slot->deadline_ms) {
            event = GATEWAY_SLOT_TIMEOUT;
            break;
        }
        pthread_cond_timedwait(&slot->cond, &slot->lock, &until);
    }
    pthread_mutex_unlock(&slot->lock);
    return event;
}

int gateway_slot_push(gateway_slot_t *slot, zmsg_t **body_p, bool final)
{
    gateway_slot_reply_t *reply = malloc(sizeof *reply);
    if (!reply)
        return -1;
    reply->body = *body_p;
    *body_p = NULL;
    reply->final = final;
    reply->next = NULL;
    if (slot->tail)
        slot->tail->next = reply;
    else
        slot->head = reply;
    slot->tail = reply;
    if (final)
        slot->final_seen = true;
    else
        slot->partial_seen = true;
    return 0;
}

void gateway_slot_wake(gateway_slot_t *slot)
{
    atomic_fetch_add(&slot->waking, 1);
    pthread_mutex_unlock(&slot->lock);
    pthread_cond_signal(&slot->cond);
    atomic_fetch_sub(&slot->waking, 1);
}
