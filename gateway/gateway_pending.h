/*  gateway_pending: the requests the gateway has in flight, by request id, over every
    broker it talks to (one table, so a request moved to another broker keeps its id and
    entry): the table each bridge looks a reply's slot up in, the ids of requests that gave up after
   being sent (kept from reuse while their late replies may still come), and the broker-down policy
    applied to them all. It owns no socket and sends nothing (gateway_bridge does); a slot's
    own fields are gateway_slot's. Lock order: the table's lock, then a slot's. */
#ifndef GATEWAY_PENDING_H
#define GATEWAY_PENDING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway_slot.h"

typedef struct _gateway_pending_t gateway_pending_t;

gateway_pending_t *gateway_pending_new(void);
void gateway_pending_destroy(gateway_pending_t **self_p);

/* HTTP thread: enters slot under slot->id, which is replaced by a fresh id if another
   request in flight has it or one that gave up had it lately. Marks the slot registered.
   Returns 0, or -1 once the table is closed. */
int gateway_pending_add(gateway_pending_t *self, gateway_slot_t *slot);

/* HTTP thread: the slot leaves the table. If its request went out and its FINAL did not
   come, its id is kept from reuse for a while. */
void gateway_pending_remove(gateway_pending_t *self, gateway_slot_t *slot);

/* No new requests from now on; every request in the table fails (503). */
void gateway_pending_close(gateway_pending_t *self);
bool gateway_pending_closed(gateway_pending_t *self);

/* What gateway_pending_deliver did with a reply. */
typedef enum {
    GATEWAY_PENDING_DELIVERED = 0, /* handed to its slot, whose thread is woken */
    GATEWAY_PENDING_LATE,          /* no slot has the id: its request gave up or finished */
    GATEWAY_PENDING_AWAITS_BROKER, /* shutting_down: the request waits for the broker's return */
    GATEWAY_PENDING_DUPLICATE      /* its request moved to another broker, or has its FINAL */
} gateway_pending_delivery_t;

/* Bridge of broker number from: hands a reply body to the slot whose request has id
   (gateway_slot_deliver_locked says when a slot takes it; else *body_p is left to the
   caller). With no such slot, a FINAL frees a kept id. */
gateway_pending_delivery_t gateway_pending_deliver(gateway_pending_t *self, int from,
                                                   const char *id, zmsg_t **body_p, bool final);

/* Bridge: forgets kept ids whose late replies never came. */
void gateway_pending_purge(gateway_pending_t *self, int64_t now);

/* Bridge of broker number index: that broker is no longer trusted. A request sent to it
   and not finished is woken to be re-sent through another broker if it may be retried and
   has streamed nothing (*moved), else fails as broker_lost (*lost). */
void gateway_pending_broker_lost(gateway_pending_t *self, int index, size_t *moved, size_t *lost);

/* Any thread: count more requests as waiting for a broker (an upper bound: the next
   gateway_pending_resend counts them exactly). */
void gateway_pending_note_awaiting(gateway_pending_t *self, size_t count);
/* How many requests may be waiting for a broker (0: none; probes need not hurry). */
size_t gateway_pending_awaiting(gateway_pending_t *self);

/* Bridge: service has a worker again: its waiting requests that still have time are woken
   to be sent again by their threads. Returns how many. */
size_t gateway_pending_resend(gateway_pending_t *self, const char *service, int64_t now);

#endif
