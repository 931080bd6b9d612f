/*  broker_lapsed: plain MDP workers the broker expired for silence, remembered for a while
    in case they were not dead but beat more slowly than the broker: a HEARTBEAT from one of
    them within the bound (--max-peer-heartbeat-ms x liveness) takes it back, under its
    service, with the gap as its interval (docs/protocol.md 2.3), instead of a DISCONNECT
    and a new registration. It owns that table only; broker.c expires and registers. */
#ifndef BROKER_LAPSED_H
#define BROKER_LAPSED_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>
#include "broker_worker.h"
#include "sl_defaults.h"
#include "sl_mdp.h"

/* At most this many remembered at once: past it the oldest is forgotten. */
#define BROKER_LAPSED_MAX 1024

typedef struct {
    char service[SL_MAX_SERVICE_NAME + 1]; /* the service it served */
    sl_mdp_version_t version;              /* the MDP version it spoke */
    int capacity;                          /* jobs it took at once */
    int64_t heard_at;                      /* zclock_mono() of its last message */
} broker_lapsed_entry_t;

typedef struct _broker_lapsed_t broker_lapsed_t;

/* An empty table; NULL on allocation failure. */
broker_lapsed_t *broker_lapsed_new(void);

/* Destroys the table and clears the pointer; safe on NULL. */
void broker_lapsed_destroy(broker_lapsed_t **self_p);

/* Remembers worker (about to be forgotten for silence) under service. */
void broker_lapsed_note(broker_lapsed_t *self, const broker_worker_t *worker, const char *service);

/* If identity was noted and last heard within within_ms of now, fills *entry, forgets it
   and returns true. */
bool broker_lapsed_take(broker_lapsed_t *self, zframe_t *identity, int64_t now, int64_t within_ms,
                        broker_lapsed_entry_t *entry);

/* Forgets those last heard more than within_ms before now. */
void broker_lapsed_purge(broker_lapsed_t *self, int64_t now, int64_t within_ms);

#endif
