/*  supervisor_loads: the queue figures of its service that brokers send this agent
    (COMMAND {"op":"load"}), one entry per broker, reported in STATUS `loads` so that the one
    broker that decides the service's autoscaling sees every broker's queue
    (docs/protocol.md 7.2). It owns that small table only; the agent decodes and sends. */
#ifndef SUPERVISOR_LOADS_H
#define SUPERVISOR_LOADS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include "sl_defaults.h"

typedef struct {
    char broker[SL_BROADCAST_ID_MAX + 1]; /* the broker's id, "" for a free entry */
    int64_t queued;                       /* requests waiting there */
    int64_t oldest_wait_ms;               /* how long the oldest of them had waited */
    int64_t at_ms;                        /* when it came (the agent's clock) */
} supervisor_load_t;

/* A plain table, zeroed to start: brokers beyond SL_MAX_BROKERS replace the oldest entry. */
typedef struct {
    supervisor_load_t entries[SL_MAX_BROKERS];
} supervisor_loads_t;

/* Takes a checked load command (sl_agent_op_check) that came at now. Returns true if it is
   news for the brokers: a queue that appeared, changed or emptied. */
bool supervisor_loads_update(supervisor_loads_t *self, const json_t *command, int64_t now);

/* The entries younger than max_age_ms as a JSON array text ("[]" with none):
   [{"broker", "queued", "oldest_wait_ms", "age_ms"}], the waits grown by their age.
   Returns a malloc'd string, NULL out of memory. */
char *supervisor_loads_encode(const supervisor_loads_t *self, int64_t now, int64_t max_age_ms);

#endif
