/*  gateway_broker_metrics: the brokers' counters as Prometheus text, from each broker's last
    mmi.stats answer (gateway_broker_stats asks for them), every series labelled with its
    broker. Only text: asking, caching and the gateway's own counters are elsewhere. */
#include "gateway_broker_metrics.h"

#include <czmq.h>
#include <string.h>

#include "gateway_prometheus.h"

/* The brokers of one scrape: their answers (NULL: did not answer) and names. */
typedef struct {
    json_t *const *stats;
    const char *const *labels;
    size_t count;
} s_set_t;

/* Opens a series line: name suffix{broker="label" (the caller adds the other labels). */
static void s_series_open(FILE *out, const char *name, const char *suffix, const char *broker)
{
    fprintf(out, "%s%s{broker=\"", name, suffix);
    gateway_prometheus_label(out, broker);
    fputc('"', out);
}

/* Opens a series line up to the service label's value: name suffix{broker="...",service=" */
static void s_series(FILE *out, const char *name, const char *suffix, const char *broker)
{
    s_series_open(out, name, suffix, broker);
    fputs(",service=\"", out);
}

static void s_per_service_of(FILE *out, json_t *services, const char *broker, const char *name,
                             const char *key, double scale);
static void s_per_service_keyed_of(FILE *out, json_t *services, const char *broker,
                                   const char *name, const char *field, const char *label);

static uint64_t s_uint(json_t *object, const char *key)
{
    json_t *value = json_object_get(object, key);
    return json_is_integer(value) && json_integer_value(value) > 0
               ? (uint64_t) json_integer_value(value)
               : 0;
}

/* name{broker="...",service="..."} value / scale for every service of every broker (a
   scale of 1000 turns the JSON's milliseconds into Prometheus's seconds). */
static void s_per_service_scaled(FILE *out, const s_set_t *set, const char *name, const char *type,
                                 const char *help, const char *key, double scale)
{
    gateway_prometheus_family(out, name, type, help);
    for (size_t b = 0; b < set->count; b++)
        s_per_service_of(out, json_object_get(set->stats[b], "services"), set->labels[b], name, key,
                         scale);
}

/* The same, unscaled. */
static void s_per_service(FILE *out, const s_set_t *set, const char *name, const char *type,
                          const char *help, const char *key)
{
    s_per_service_scaled(out, set, name, type, help, key, 1);
}

static void s_per_service_of(FILE *out, json_t *services, const char *broker, const char *name,
                             const char *key, double scale)
{
    size_t i;
    json_t *service;
    json_array_foreach(services, i, service)
    {
        s_series(out, name, "", broker);
        gateway_prometheus_label(out, json_string_value(json_object_get(service, "name")));
        if (scale == 1)
            fprintf(out, "\"} %llu\n", (unsigned long long) s_uint(service, key));
        else
            fprintf(out, "\"} %.3f\n", (double) s_uint(service, key) / scale);
    }
}

/* name{broker="...",service="...",label="<key>"} value for each key of object field of
   every service of every broker. */
static void s_per_service_keyed(FILE *out, const s_set_t *set, const char *name, const char *help,
                                const char *field, const char *label)
{
    gateway_prometheus_family(out, name, "counter", help);
    for (size_t b = 0; b < set->count; b++)
        s_per_service_keyed_of(out, json_object_get(set->stats[b], "services"), set->labels[b],
                               name, field, label);
}

static void s_per_service_keyed_of(FILE *out, json_t *services, const char *broker,
                                   const char *name, const char *field, const char *label)
{
    size_t i;
    json_t *service;
    json_array_foreach(services, i, service)
    {
        const char *key;
        json_t *value;
        json_object_foreach(json_object_get(service, field), key, value)
        {
            s_series(out, name, "", broker);
            gateway_prometheus_label(out, json_string_value(json_object_get(service, "name")));
            fprintf(out, "\",%s=\"", label);
            gateway_prometheus_label(out, key);
            fprintf(out, "\"} %llu\n",
                    (unsigned long long) (json_is_integer(value) ? json_integer_value(value) : 0));
        }
    }
}

static void s_queue_wait_of(FILE *out, json_t *stats, const char *broker)
{
    const char *name = "slowlane_broker_queue_wait_seconds";
    json_t *services = json_object_get(stats, "services");
    json_t *bounds = json_object_get(stats, "wait_bounds_ms");
    size_t i;
    json_t *service;
    json_array_foreach(services, i, service)
    {
        const char *service_name = json_string_value(json_object_get(service, "name"));
        json_t *wait = json_object_get(service, "queue_wait");
        json_t *buckets = json_object_get(wait, "buckets");
        uint64_t cumulative = 0;
        for (size_t b = 0; b < json_array_size(buckets); b++) {
            json_t *bucket = json_array_get(buckets, b);
            cumulative += json_is_integer(bucket) ? (uint64_t) json_integer_value(bucket) : 0;
            s_series(out, name, "_bucket", broker);
            gateway_prometheus_label(out, service_name);
            json_t *bound = json_array_get(bounds, b);
            if (b + 1 < json_array_size(buckets) && json_is_integer(bound))
                fprintf(out, "\",le=\"%g\"} %llu\n", (double) json_integer_value(bound) / 1000.0,
                        (unsigned long long) cumulative);
            else
                fprintf(out, "\",le=\"+Inf\"} %llu\n", (unsigned long long) cumulative);
        }
        s_series(out, name, "_sum", broker);
        gateway_prometheus_label(out, service_name);
        fprintf(out, "\"} %.3f\n", (double) s_uint(wait, "sum_ms") / 1000.0);
        s_series(out, name, "_count", broker);
        gateway_prometheus_label(out, service_name);
        fprintf(out, "\"} %llu\n", (unsigned long long) cumulative);
    }
}

/* Workers per host, service and state, counted from a broker's worker list. */
static void s_host_workers_of(FILE *out, json_t *workers, const char *broker)
{
    zhashx_t *counts = zhashx_new(); /* "host\nservice\nstate" -> count */
    if (!counts)
        return;
    size_t i;
    json_t *worker;
    json_array_foreach(workers, i, worker)
    {
        char key[1024];
        snprintf(key, sizeof key, "%s\n%s\n%s",
                 json_string_value(json_object_get(worker, "host")) ?: "unknown",
                 json_string_value(json_object_get(worker, "service")) ?: "",
                 json_string_value(json_object_get(worker, "state")) ?: "idle");
        intptr_t count = (intptr_t) zhashx_lookup(counts, key);
        zhashx_update(counts, key, (void *) (count + 1));
    }
    zlistx_t *keys = zhashx_keys(counts);
    zlistx_set_comparator(keys, (zlistx_comparator_fn *) strcmp);
    zlistx_sort(keys);
    for (char *key = zlistx_first(keys); key; key = zlistx_next(keys)) {
        char copy[1024];
        snprintf(copy, sizeof copy, "%s", key);
        char *service = strchr(copy, '\n');
        char *state = service ? strchr(service + 1, '\n') : NULL;
        if (!state)
            continue;
        *service++ = '\0';
        *state++ = '\0';
        s_series_open(out, "slowlane_host_workers", "", broker);
        fputs(",host=\"", out);
        gateway_prometheus_label(out, copy);
        fputs("\",service=\"", out);
        gateway_prometheus_label(out, service);
        fprintf(out, "\",state=\"%s\"} %lld\n", state,
                (long long) (intptr_t) zhashx_lookup(counts, key));
    }
    zlistx_destroy(&keys);
    zhashx_destroy(&counts);
}

/* One gauge per broker from a top-level field of its answer (brokers that did not answer
   are left out). */
static void s_per_broker(FILE *out, const s_set_t *set, const char *name, const char *help,
                         const char *key, double scale)
{
    gateway_prometheus_family(out, name, strstr(name, "_total") ? "counter" : "gauge", help);
    for (size_t b = 0; b < set->count; b++) {
        if (!set->stats[b])
            continue;
        s_series_open(out, name, "", set->labels[b]);
        if (scale == 1)
            fprintf(out, "} %llu\n", (unsigned long long) s_uint(set->stats[b], key));
        else
            fprintf(out, "} %.3f\n", (double) s_uint(set->stats[b], key) / scale);
    }
}

void gateway_broker_metrics_write(json_t *const *stats, const char *const *labels, size_t count,
                                  FILE *out)
{
    s_set_t set = {stats, labels, count};
    gateway_prometheus_family(out, "slowlane_broker_up", "gauge",
                              "1 if the broker answered mmi.stats for this scrape, else 0.");
    for (size_t b = 0; b < count; b++) {
        s_series_open(out, "slowlane_broker_up", "", labels[b]);
        fprintf(out, "} %d\n", stats[b] ? 1 : 0);
    }
    s_per_broker(out, &set, "slowlane_broker_uptime_seconds", "Time since the broker started.",
                 "uptime_ms", 1000.0);
    s_per_broker(out, &set, "slowlane_broker_unknown_service_total",
                 "Requests for a service that had no worker and no record at the broker.",
                 "unknown_service", 1);
    s_per_service(out, &set, "slowlane_broker_requests_total", "counter",
                  "Requests the broker accepted, by service.", "requests");
    s_per_service(out, &set, "slowlane_broker_replies_total", "counter",
                  "Final replies the broker forwarded from workers, by service.", "replies");
    s_per_service_keyed(out, &set, "slowlane_broker_errors_total",
                        "Error answers from the broker by service and code (queue_full and "
                        "no_worker are the broker's 503 rejections).",
                        "errors", "code");
    s_per_service(out, &set, "slowlane_broker_retries_total", "counter",
                  "Requests re-queued for another worker after theirs died, by service.",
                  "requeues");
    s_per_service(out, &set, "slowlane_broker_handbacks_total", "counter",
                  "Jobs a worker handed back unstarted because another broker filled its last "
                  "slot (docs/protocol.md 3.7), by service; 0 from a broker that does not count "
                  "them.",
                  "handbacks");
    s_per_service_keyed(out, &set, "slowlane_broker_autoscale_decisions_total",
                        "Autoscaler decisions by service and reason: the count changed "
                        "(queue_wait, all_busy, idle, below_min, above_max) or was held for a "
                        "new reason (at_max, starting, crash_loop, no_room). Each is also one "
                        "event=autoscale or autoscale_held line in the broker's log.",
                        "autoscale", "reason");
    s_per_service(out, &set, "slowlane_broker_queue_depth", "gauge",
                  "Requests waiting in the service's queue now.", "queued");
    gateway_prometheus_family(
        out, "slowlane_broker_queue_wait_seconds", "histogram",
        "Time requests waited in the broker's queue before their first delivery.");
    for (size_t b = 0; b < count; b++)
        s_queue_wait_of(out, stats[b], labels[b]);
    gateway_prometheus_family(out, "slowlane_broker_workers", "gauge",
                              "Registered workers by service and state (idle or busy).");
    for (size_t b = 0; b < count; b++) {
        size_t i;
        json_t *service;
        json_array_foreach(json_object_get(stats[b], "services"), i, service)
        {
            for (int busy = 0; busy < 2; busy++) {
                s_series(out, "slowlane_broker_workers", "", labels[b]);
                gateway_prometheus_label(out, json_string_value(json_object_get(service, "name")));
                fprintf(out, "\",state=\"%s\"} %llu\n", busy ? "busy" : "idle",
                        (unsigned long long) s_uint(service, busy ? "busy" : "idle"));
            }
        }
    }
    gateway_prometheus_family(
        out, "slowlane_host_workers", "gauge",
        "Registered workers by host (from the worker identity host/pid/slot), service and "
        "state.");
    for (size_t b = 0; b < count; b++)
        s_host_workers_of(out, json_object_get(stats[b], "workers"), labels[b]);
    s_per_service(out, &set, "slowlane_worker_registrations_total", "counter",
                  "Worker registrations (READY) accepted by the broker, by service.",
                  "registrations");
    s_per_service_keyed(
        out, &set, "slowlane_worker_restarts_total",
        "Worker registrations that ended, by service and reason: replaced (the process was "
        "restarted under its identity: crash, kill, job timeout), expired (heartbeats "
        "missed), disconnected (drained, recycled or rolled), protocol_error.",
        "exits", "reason");
    s_per_service(out, &set, "slowlane_broker_heartbeats_missed_total", "counter",
                  "Broker heartbeat ticks that found a worker silent for over 1.5 intervals.",
                  "heartbeats_missed");
    s_per_service_scaled(out, &set, "slowlane_broker_worker_silence_max_seconds", "gauge",
                         "The longest any worker of the service went unheard between two of its "
                         "messages since the broker started, as its expiry sees it; a worker is "
                         "expired at heartbeat x liveness.",
                         "worst_silence_ms", 1000.0);
}
