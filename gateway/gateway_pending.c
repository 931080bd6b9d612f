/*  gateway_pending: the in-flight table, an id -> slot hash whose keys are the slots' own id
    buffers (no copy per request), and the kept ids with their expiry times. */
#include "gateway_pending.h"

#include <czmq.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define S_TOMBSTONE_MS 60000 /* how long an abandoned id is kept from reuse */

struct _gateway_pending_t {
    pthread_mutex_t lock; /* guards everything below; taken before a slot's lock */
    zhashx_t *slots; /* id -> gateway_slot_t*, keys borrowed from the slots (gateway_slot_id) */
    zhashx_t *tombstones;   /* id -> expiry (zclock_mono ms) of requests that gave up after
                               being sent: their replies may still come */
    bool closed;            /* no new requests */
    atomic_size_t awaiting; /* upper bound of the requests waiting for a broker */
};

gateway_pending_t *gateway_pending_new(void)
{
    gateway_pending_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    /* Held for microseconds by up to every HTTP thread: spin a little before sleeping, as
       a futex sleep and wake-up costs more than the wait. */
    pthread_mutexattr_t adaptive;
    pthread_mutexattr_init(&adaptive);
    pthread_mutexattr_settype(&adaptive, PTHREAD_MUTEX_ADAPTIVE_NP);
    pthread_mutex_init(&self->lock, &adaptive);
    pthread_mutexattr_destroy(&adaptive);
    self->slots = zhashx_new();
    self->tombstones = zhashx_new(); /* keys copied, values are expiry times, not pointers */
    if (!self->slots || !self->tombstones) {
        gateway_pending_destroy(&self);
        return NULL;
    }
    /* Keys point into the slots themselves: no copy per request. */
    zhashx_set_key_duplicator(self->slots, NULL);
    zhashx_set_key_destructor(self->slots, NULL);
    return self;
}

void gateway_pending_destroy(gateway_pending_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gateway_pending_t *self = *self_p;
    zhashx_destroy(&self->slots);
    zhashx_destroy(&self->tombstones);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

int gateway_pending_add(gateway_pending_t *self, gateway_slot_t *slot)
{
    pthread_mutex_lock(&self->lock);
    if (self->closed) {
        pthread_mutex_unlock(&self->lock);
        return -1;
    }
    /* Two clients may send the same X-Request-Id at once; the broker correlates by id, so
       the second one gets a fresh id (returned to its client) rather than a crossed reply. */
    /* An id that gave up recently may still get its late reply: a client retrying with the
       same X-Request-Id after a 504 must not receive the first attempt's answer. */
    while (zhashx_lookup(self->tombstones, gateway_slot_id(slot)) ||
           zhashx_insert(self->slots, gateway_slot_id(slot), slot) != 0)
        gateway_slot_renew_id(slot);
    gateway_slot_mark_registered(slot);
    pthread_mutex_unlock(&self->lock);
    return 0;
}

void gateway_pending_remove(gateway_pending_t *self, gateway_slot_t *slot)
{
    pthread_mutex_lock(&self->lock);
    zhashx_delete(self->slots, gateway_slot_id(slot));
    if (gateway_slot_abandoned(slot))
        zhashx_update(self->tombstones, gateway_slot_id(slot),
                      (void *) (intptr_t) (zclock_mono() + S_TOMBSTONE_MS));
    pthread_mutex_unlock(&self->lock);
}

void gateway_pending_close(gateway_pending_t *self)
{
    pthread_mutex_lock(&self->lock);
    self->closed = true;
    for (gateway_slot_t *slot = zhashx_first(self->slots); slot; slot = zhashx_next(self->slots))
        gateway_slot_fail(slot, GATEWAY_SLOT_UNAVAILABLE);
    pthread_mutex_unlock(&self->lock);
}

bool gateway_pending_closed(gateway_pending_t *self)
{
    pthread_mutex_lock(&self->lock);
    bool closed = self->closed;
    pthread_mutex_unlock(&self->lock);
    return closed;
}

gateway_pending_delivery_t gateway_pending_deliver(gateway_pending_t *self, int from,
                                                   const char *id, zmsg_t **body_p, bool final)
{
    pthread_mutex_lock(&self->lock);
    gateway_slot_t *slot = zhashx_lookup(self->slots, id);
    if (!slot) {
        if (final)
            zhashx_delete(self->tombstones, id); /* the late answer came: the id is free */
        pthread_mutex_unlock(&self->lock);
        return GATEWAY_PENDING_LATE;
    }
    /* Hand over hand: once the slot is locked its thread cannot release it until the
       delivery is done, and the table is free for the others meanwhile. */
    gateway_slot_lock(slot);
    pthread_mutex_unlock(&self->lock);
    gateway_slot_delivery_t delivery = gateway_slot_deliver_locked(slot, from, body_p, final);
    gateway_slot_unlock(slot, delivery == GATEWAY_SLOT_DELIVERED);
    if (delivery == GATEWAY_SLOT_AWAITS_BROKER)
        gateway_pending_note_awaiting(self, 1);
    return delivery == GATEWAY_SLOT_DELIVERED       ? GATEWAY_PENDING_DELIVERED
           : delivery == GATEWAY_SLOT_AWAITS_BROKER ? GATEWAY_PENDING_AWAITS_BROKER
                                                    : GATEWAY_PENDING_DUPLICATE;
}

void gateway_pending_purge(gateway_pending_t *self, int64_t now)
{
    pthread_mutex_lock(&self->lock);
    zlistx_t *expired = zlistx_new();
    for (void *expiry = zhashx_first(self->tombstones); expiry;
         expiry = zhashx_next(self->tombstones))
        if ((intptr_t) expiry <= now)
            zlistx_add_end(expired, (void *) zhashx_cursor(self->tombstones));
    for (void *key = zlistx_first(expired); key; key = zlistx_next(expired))
        zhashx_delete(self->tombstones, key);
    zlistx_destroy(&expired);
    pthread_mutex_unlock(&self->lock);
}

void gateway_pending_broker_lost(gateway_pending_t *self, int index, size_t *moved, size_t *lost)
{
    *moved = *lost = 0;
    pthread_mutex_lock(&self->lock);
    for (gateway_slot_t *slot = zhashx_first(self->slots); slot; slot = zhashx_next(self->slots)) {
        gateway_slot_loss_t loss = gateway_slot_broker_lost(slot, index);
        if (loss == GATEWAY_SLOT_WAITING)
            (*moved)++;
        else if (loss == GATEWAY_SLOT_LOST)
            (*lost)++;
    }
    pthread_mutex_unlock(&self->lock);
}

void gateway_pending_note_awaiting(gateway_pending_t *self, size_t count)
{
    atomic_fetch_add(&self->awaiting, count);
}

size_t gateway_pending_awaiting(gateway_pending_t *self)
{
    return atomic_load(&self->awaiting);
}

size_t gateway_pending_resend(gateway_pending_t *self, const char *service, int64_t now)
{
    size_t resent = 0, still = 0;
    size_t noted = atomic_load(&self->awaiting);
    pthread_mutex_lock(&self->lock);
    for (gateway_slot_t *slot = zhashx_first(self->slots); slot; slot = zhashx_next(self->slots)) {
        int resend = gateway_slot_resend(slot, service, now);
        if (resend > 0)
            resent++;
        else if (resend == 0)
            still++;
    }
    pthread_mutex_unlock(&self->lock);
    /* The exact count, unless another thread noted a waiting request during the scan (it
       may be one the scan passed): then the bound stays, and the next answer looks again. */
    atomic_compare_exchange_strong(&self->awaiting, &noted, still);
    return resent;
}
