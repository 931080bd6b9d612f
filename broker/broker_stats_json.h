/*  broker_stats_json: the `mmi.stats` answer as one JSON text, built from the counters and
    the live tables, which it only reads. Neither counting nor sending is its job. */
#ifndef BROKER_STATS_JSON_H
#define BROKER_STATS_JSON_H

#include <stdint.h>
#include "broker_autoscaler.h"
#include "broker_config.h"
#include "broker_registry.h"
#include "broker_stats.h"

/* The whole answer (caller frees), or NULL without memory. started is zclock_mono() when
   the broker started, now the current time. A service with an autoscaling policy in
   autoscaler (may be NULL) has it as "autoscale_policy" (broker_autoscaler_describe). */
char *broker_stats_json(const broker_stats_t *stats, const broker_registry_t *registry,
                        const broker_autoscaler_t *autoscaler, const broker_config_t *config,
                        int64_t started, int64_t now);

#endif
