/*  broker_cluster_view: the cluster view that mmi.cluster answers, a JSON object built from
    the agent table and the broker's registry, both only read. */
#ifndef BROKER_CLUSTER_VIEW_H
#define BROKER_CLUSTER_VIEW_H

#include <jansson.h>
#include <stdint.h>
#include "broker_agent.h"
#include "broker_config.h"
#include "broker_autoscaler.h"
#include "broker_registry.h"

/* The view (docs/admin-api.md) at now, for a broker started at started (zclock_mono());
   a new JSON object, or NULL out of memory. */
json_t *broker_cluster_view(const broker_agents_t *agents, const broker_registry_t *registry,
                            const broker_autoscaler_t *autoscaler, const broker_config_t *config,
                            int64_t started, int64_t now);

#endif
