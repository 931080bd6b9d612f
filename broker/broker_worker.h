/*  broker_worker: what the broker knows of one registered worker connection: its routing
    identity, MDP version, service, the jobs it holds and how many it may hold (its capacity,
    and this broker's limit at a worker of several brokers, protocol.md 3.7), and when it
    expires if silent.
    A plain record the event loop reads directly; the idle list and the expiry list that
    hold it belong to broker_service and broker_registry. */
#ifndef BROKER_WORKER_H
#define BROKER_WORKER_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>
#include "sl_mdp.h"
#include "broker_request.h"

typedef enum {
    BROKER_WORKER_IDLE = 0, /* holds no job */
    BROKER_WORKER_BUSY      /* holds at least one job */
} broker_worker_state_t;

/* Bytes of the job tag that replaces the client address for a worker of capacity > 1
   (docs/protocol.md section 3.6): slot index and sequence, 4 bytes each. */
#define BROKER_JOB_TAG_SIZE 8

struct _broker_worker_t {
    zframe_t *identity;          /* owned: ROUTER routing id, also the key in the worker table */
    char name[72];               /* identity as printable text for logs (hex if binary) */
    sl_mdp_version_t version;    /* MDPW01 or MDPW02: how to talk to it */
    broker_service_t *service;   /* borrowed: the one service it registered */
    broker_worker_state_t state; /* idle or busy */
    int capacity;                /* jobs it takes at once: 1, or what its READY declared */
    int busy;                    /* jobs it holds now, 0..capacity */
    int limit;                   /* jobs of this broker it may hold now (protocol.md 3.7):
                                    the capacity, or what its READY/CREDIT granted; busy
                                    may exceed it after a CREDIT lowered it */
    bool credit_mode;            /* its READY had a credit frame: it speaks protocol.md 3.7 */
    bool cancels;                /* its READY had the cancel frame: it takes CANCEL (3.8) */
    bool demand_sent;            /* it was told DEMAND 1 (or handed a job back) and not yet
                                    DEMAND 0: it counts this broker as having waiting work */
    broker_request_t **jobs;     /* owned array of capacity slots of borrowed requests */
    int *free_slots;             /* owned stack of the indexes of empty slots in jobs */
    uint32_t sequence;           /* last job tag sequence handed out */
    int64_t expiry;              /* zclock_mono() time at which it counts as dead if silent */
    int64_t heard_at;            /* zclock_mono() time of its last message */
    int64_t beat_at;             /* ... of its last HEARTBEAT, 0 none yet */
    int64_t beat_ms;             /* its own heartbeat interval as learned from the gaps
                                    between its HEARTBEATs (protocol.md 2.3), 0 not yet */
    int64_t registered;          /* zclock_mono() time of its READY (mmi.stats uptime) */
    void *idle_handle;           /* zlistx handle in its service's idle list (busy < limit),
                                    else NULL */
    void *paused_handle;         /* zlistx handle in its service's paused list (credit_mode,
                                    limit < capacity, not demand_sent), else NULL */
    void *expiry_handle;         /* zlistx handle in the broker's expiry list, else NULL */
};

/* Creates a worker record that takes capacity (>= 1) jobs at once; takes ownership of
 *identity_p (set to NULL). NULL on allocation failure. */
broker_worker_t *broker_worker_new(zframe_t **identity_p, sl_mdp_version_t version,
                                   broker_service_t *service, int capacity);

/* True if the worker may take one more job from this broker: fewer jobs than its limit. */
bool broker_worker_has_room(const broker_worker_t *self);

/* Makes the worker a worker of several brokers (protocol.md 3.7) whose first limit here is
   credit (0..capacity). */
void broker_worker_set_credit(broker_worker_t *self, int credit);

/* Files request (not held by any worker) in a free slot. O(1). */
void broker_worker_hold(broker_worker_t *self, broker_request_t *request);

/* Empties the slot of request, which this worker holds. O(1). */
void broker_worker_release(broker_worker_t *self, broker_request_t *request);

/* The job a PARTIAL/FINAL with this address frame answers, or NULL. A capacity-1 worker
   answers its one job whatever it echoes (plain MDP); a larger one must echo the job tag. */
broker_request_t *broker_worker_job_for(broker_worker_t *self, zframe_t *address);

/* The job in flight whose address frame is exactly address (the client address at a
   capacity-1 worker, the job tag at a larger one), or NULL: a HANDBACK (protocol.md 3.7)
   names the job it returns, so a capacity-1 worker's echo is checked too. */
broker_request_t *broker_worker_job_named(broker_worker_t *self, zframe_t *address);

/* Takes the most recently delivered job out of the worker, or NULL when it holds none. A
   dead worker's jobs are re-queued at the head newest first, so the oldest ends up first.
   O(capacity): for a worker's death, not per message. */
broker_request_t *broker_worker_take_newest(broker_worker_t *self);

/* Destroys the record and clears the pointer; safe on NULL. The caller must have removed
   it from every list and table first. */
void broker_worker_destroy(broker_worker_t **self_p);
/* The job of the worker that is the envelope request id of client, not cancelled, or NULL
   (mmi.request, mmi.cancel). O(capacity). */
broker_request_t *broker_worker_find(const broker_worker_t *self, zframe_t *client, const char *id);

/* True if the identity was generated by the ROUTER (libzmq starts those with a zero byte,
   which a peer may not choose): such an identity names one connection, so a second READY
   under it cannot be a new process taking over. */
bool broker_worker_identity_is_generated(zframe_t *identity);

/* zhashx callbacks for a table keyed by identity frames (binary-safe, no key copies). */
size_t broker_worker_identity_hash(const void *key);
int broker_worker_identity_compare(const void *key1, const void *key2);

#endif
