/*  broker_mmi: the broker's own services, 8/MMI's namespace: mmi.service (200/404),
    mmi.stats (counters as JSON, docs/protocol.md section 2.5), mmi.request (is a request of
    this client still held, 2.6), mmi.cancel (its client gives up on a request, 3.8),
    mmi.cluster and mmi.cluster.command (the cluster manager, section 7.4), 501 for any other
    mmi.* name. It frames and sends the answers; it reads the registry and the counters,
    hands commands to the agent table (autoscale policies to broker_autoscaler) and
    cancellations to broker_dispatch, and changes
    nothing else. */
#ifndef BROKER_MMI_H
#define BROKER_MMI_H

#include <czmq.h>
#include <stdint.h>
#include "broker_agent.h"
#include "broker_autoscaler.h"
#include "broker_config.h"
#include "broker_dispatch.h"
#include "broker_registry.h"
#include "broker_router.h"
#include "broker_stats.h"
#include "sl_mdp.h"

typedef struct _broker_mmi_t broker_mmi_t;

/* Creates the MMI answerer. It sends through router, reads registry and stats, runs
   commands on agents and autoscaler, cancels through dispatch (all borrowed, outliving it) and
   copies config; started is the broker's start (zclock_mono()), for uptime. NULL on allocation
   failure. */
broker_mmi_t *broker_mmi_new(broker_router_t *router, const broker_registry_t *registry,
                             const broker_stats_t *stats, broker_agents_t *agents,
                             broker_autoscaler_t *autoscaler, broker_dispatch_t *dispatch,
                             const broker_config_t *config, int64_t started);

/* Destroys it and clears the pointer; safe on NULL. */
void broker_mmi_destroy(broker_mmi_t **self_p);

/* Answers the REQUEST msg for the mmi.* service name from client (borrowed) at now. */
void broker_mmi_answer(broker_mmi_t *self, zframe_t *client, sl_mdp_msg_t *msg, const char *name,
                       int64_t now);

#endif
