/*  gateway_broker_metrics: writes the brokers' mmi.stats answers as Prometheus text, one
    `broker` label per series. Asking the brokers is gateway_broker_stats'; the gateway's own
    counters are gateway_request_metrics' and gateway_observe_http's. */
#ifndef GATEWAY_BROKER_METRICS_H
#define GATEWAY_BROKER_METRICS_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

/* Writes the metrics of count brokers: stats[i] is broker i's last mmi.stats answer (NULL:
   it did not answer; only slowlane_broker_up 0 is written for it), labels[i] its name. */
void gateway_broker_metrics_write(json_t *const *stats, const char *const *labels, size_t count,
                                  FILE *out);

#endif
