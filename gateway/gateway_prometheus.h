/*  gateway_prometheus: the two pieces of Prometheus' text exposition format (0.0.4) that the
    gateway's own counters (gateway_request_metrics) and the broker's (gateway_broker_stats) both
   write: a metric family's HELP and TYPE lines, and an escaped label value. What is counted is
   theirs. */
#ifndef GATEWAY_PROMETHEUS_H
#define GATEWAY_PROMETHEUS_H

#include <stdio.h>

/* "# HELP name help" and "# TYPE name type" (counter, gauge, histogram). */
void gateway_prometheus_family(FILE *out, const char *name, const char *type, const char *help);

/* Writes value (NULL: empty) as a label value, escaped as the format asks: \\, \" and \n. */
void gateway_prometheus_label(FILE *out, const char *value);

#endif
