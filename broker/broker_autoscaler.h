/*  broker_autoscaler: the broker's autoscaling of services (issue 22): a policy per service
    set through mmi.cluster.command {"op": "autoscale"} (docs/protocol.md 7.2), and once per
    tick, for each such service, the figures gathered (queue and workers from the registry,
    counts, room and crash loops from the agents' STATUS), broker_autoscale's decision taken,
    and a changed count applied as `scale` COMMANDs to the service's agents, one log line per
    change. Owns the policies and their state; reads the registry and the agent table, which
    broker.c owns. */
#ifndef BROKER_AUTOSCALER_H
#define BROKER_AUTOSCALER_H

#include <jansson.h>
#include <stdint.h>
#include "broker_agent.h"
#include "broker_autoscale.h"
#include "broker_registry.h"
#include "sl_flags.h"

typedef struct _broker_autoscaler_t broker_autoscaler_t;

/* Creates an autoscaler with no policy, over registry and agents (borrowed, outlive it).
   NULL on allocation failure. */
broker_autoscaler_t *broker_autoscaler_new(broker_registry_t *registry, broker_agents_t *agents);

/* Destroys the autoscaler and clears the pointer; safe on NULL and twice. */
void broker_autoscaler_destroy(broker_autoscaler_t **self_p);

/* Gives each service in policies (--autoscale values, checked by broker_options_check; NULL:
   none) its policy. 0, or -1 out of memory. */
int broker_autoscaler_configure(broker_autoscaler_t *self, const sl_strlist_t *policies);

/* Runs one {"op": "autoscale", "service": S, "min": N, "max": M, "target_wait_ms": W,
   "cooldown_ms": C} (the last two optional), or {"op": "autoscale", "service": S, "off":
   true}: sets or clears S's policy. Returns the answer object (docs/admin-api.md), NULL out
   of memory. */
json_t *broker_autoscaler_command(broker_autoscaler_t *self, json_t *command, int64_t now);

/* Per tick: decides for every service with a policy and applies what changed. */
void broker_autoscaler_tick(broker_autoscaler_t *self, int64_t now);

/* The policy of service and its last decision that changed or held the count for a reason
   ({"min", "max", "target_wait_ms", "cooldown_ms", "last": {"from", "to", "reason",
   "ago_ms"}}), a new object, or NULL if the service has no policy. For the cluster view. */
json_t *broker_autoscaler_describe(const broker_autoscaler_t *self, const char *service,
                                   int64_t now);

#endif
