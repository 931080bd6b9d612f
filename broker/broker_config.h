/*  broker_config: the broker's settings, fixed at start-up and read-only after: plain values
    and the checked --autoscale policies, borrowed from their options.
    Parsing them from flags is broker_options' job; the live resources they ask for (the
    CURVE key pair, the ZAP authenticator) are broker_curve's, never kept here. */
#ifndef BROKER_CONFIG_H
#define BROKER_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include "sl_flags.h"

typedef struct {
    int64_t heartbeat_ms;   /* heartbeat interval, both ways */
    int64_t liveness;       /* silent heartbeat intervals before a worker is dead */
    int64_t queue_limit;    /* waiting requests per service, 0: no count bound */
    int64_t queue_max_mb;   /* memory they may hold per service, MiB, 0: no bound */
    int64_t max_deliveries; /* times one request may be handed to a worker */
    int64_t hold_plain_ms;  /* a plain MDP request waits this long for a first worker; 0 off */
    int64_t max_peer_heartbeat_ms; /* the slowest worker heartbeat the broker learns */
    bool log_debug;                /* build per-message debug lines (off on the hot path) */
    const sl_strlist_t *autoscale; /* borrowed, checked: --autoscale policies, or NULL */
} broker_config_t;

/* Silence after which a worker or an agent counts as gone: heartbeat x liveness, in ms. */
static inline int64_t broker_config_expiry_ms(const broker_config_t *self)
{
    return self->heartbeat_ms * self->liveness;
}

#endif
