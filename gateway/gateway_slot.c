/*  gateway_slot: one HTTP thread's place to wait for the broker. The thread waits on its
    semaphore with the request's deadline; the bridge appends replies and failures under
    the slot's lock and posts. Which slot a reply belongs to (the table) is
    gateway_bridge's.

    Why a semaphore and not a condition variable: a thread woken from pthread_cond_wait
    takes the mutex back marked contended, so its unlock always makes a FUTEX_WAKE system
    call, waiters or not; perf showed that call at 8% of the gateway's CPU under load.
    sem_post enters the kernel only when a thread sleeps on it, and the thread here takes
    the lock after the wait, uncontended. The count may run ahead of the waits (a reply
    that lands before the thread sleeps): the next wait then returns at once and only
    re-checks, so a spurious wake costs a loop, never a lost one. */
#define _GNU_SOURCE /* sem_clockwait: a semaphore wait on CLOCK_MONOTONIC (glibc 2.30) */
#include "gateway_slot.h"

#include <sched.h>
#include <stdlib.h>
#include <time.h>

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
    /* A bridge wake-up that began before the slot was released may not have posted yet;
       the semaphore must outlive it. */
    while (atomic_load(&self->waking) > 0)
        sched_yield();
    gateway_slot_drain(self);
    sem_destroy(&self->wakeup);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

void gateway_slot_fail(gateway_slot_t *slot, gateway_slot_event_t failure)
{
    if (slot->failure == GATEWAY_SLOT_MESSAGE && !slot->final_seen)
        slot->failure = failure;
    sem_post(&slot->wakeup);
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
        /* Deadlines are monotonic: a wall-clock jump must not cut a wait short or stretch
           it. Any return (posted, timed out, interrupted) re-checks under the lock. */
        pthread_mutex_unlock(&slot->lock);
        sem_clockwait(&slot->wakeup, CLOCK_MONOTONIC, &until);
        pthread_mutex_lock(&slot->lock);
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
    sem_post(&slot->wakeup);
    atomic_fetch_sub(&slot->waking, 1);
}
