/*  gateway_request_metrics: lock-free request counters. One row per route plus a last row for
    requests that matched no route; each row holds a counter per status code (100..599),
    the latency histogram and the 503/504 causes. Rows are written with relaxed atomic adds
    from the civetweb threads and read, unsynchronised, by a scrape: a scrape may see one
    request's status counted and its latency not yet, which Prometheus tolerates. */
#include "gateway_request_metrics.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "gateway_prometheus.h"

#define S_STATUS_MIN         100
#define S_STATUS_MAX         599
#define S_STATUS_CLIENT_GONE 499 /* as the access log: the client left before the answer */
#define S_NO_ROUTE           "none"

/* Latency bucket bounds in microseconds, 0.5 ms to 60 s (the longest useful deadline). */
static const int64_t s_latency_bounds_us[GATEWAY_REQUEST_METRICS_LATENCY_BUCKETS] = {
    500,    1000,   2500,    5000,    10000,   25000,    50000,    100000,
    250000, 500000, 1000000, 2500000, 5000000, 10000000, 30000000, 60000000};

/* The causes a 503 or 504 is counted under; anything else is "other". gateway_http and
   gateway_response set these (static strings), the broker's error codes among them. */
static const char *s_causes[] = {"over_budget",
                                 "broker_unavailable",
                                 "shutting_down",
                                 "queue_full",
                                 "no_worker",
                                 "not_ready",
                                 "deadline",
                                 "expired",
                                 "gateway_out_of_memory",
                                 "other"};
#define S_CAUSE_COUNT (sizeof s_causes / sizeof *s_causes)

typedef struct {
    atomic_uint_fast64_t statuses[S_STATUS_MAX - S_STATUS_MIN + 1]; /* answers by status */
    atomic_uint_fast64_t latency[GATEWAY_REQUEST_METRICS_LATENCY_BUCKETS + 1]; /* by bucket */
    atomic_uint_fast64_t latency_sum_us;          /* sum of durations */
    atomic_uint_fast64_t rejected[S_CAUSE_COUNT]; /* 503s by cause */
    atomic_uint_fast64_t timeouts[S_CAUSE_COUNT]; /* 504s by cause */
    atomic_uint_fast64_t cancelled;               /* client hung up: cancel-on-disconnect */
} s_row_t;

struct _gateway_metrics_t {
    const gateway_routes_t *routes; /* borrowed, sealed */
    size_t row_count;               /* routes + 1: the last row is "no route" */
    s_row_t *rows;                  /* indexed by route->index */
    atomic_uint_fast64_t resends;   /* requests re-sent after a broker reconnect */
};

gateway_request_metrics_t *gateway_request_metrics_new(const gateway_routes_t *routes)
{
    gateway_request_metrics_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->routes = routes;
    self->row_count = gateway_routes_count(routes) + 1;
    /* calloc's zero bytes are a valid zero for these lock-free atomics (C11 7.17.2.1 asks
       for atomic_init; on every platform we build for, zero bytes are that value). */
    self->rows = calloc(self->row_count, sizeof *self->rows);
    if (!self->rows) {
        free(self);
        return NULL;
    }
    atomic_init(&self->resends, 0);
    return self;
}

void gateway_request_metrics_destroy(gateway_request_metrics_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->rows);
    free(*self_p);
    *self_p = NULL;
}

static size_t s_cause_index(const char *cause)
{
    for (size_t i = 0; cause && i < S_CAUSE_COUNT - 1; i++)
        if (strcmp(cause, s_causes[i]) == 0)
            return i;
    return S_CAUSE_COUNT - 1;
}

void gateway_request_metrics_request(gateway_request_metrics_t *self, const gateway_route_t *route,
                                     int status, const char *cause, int64_t duration_us)
{
    if (!self)
        return;
    s_row_t *row = &self->rows[route ? route->index : self->row_count - 1];
    if (status < S_STATUS_MIN || status > S_STATUS_MAX)
        status = S_STATUS_CLIENT_GONE;
    atomic_fetch_add_explicit(&row->statuses[status - S_STATUS_MIN], 1, memory_order_relaxed);
    if (duration_us < 0)
        duration_us = 0;
    size_t bucket = 0;
    while (bucket < GATEWAY_REQUEST_METRICS_LATENCY_BUCKETS &&
           duration_us > s_latency_bounds_us[bucket])
        bucket++;
    atomic_fetch_add_explicit(&row->latency[bucket], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&row->latency_sum_us, (uint_fast64_t) duration_us,
                              memory_order_relaxed);
    if (status == 503)
        atomic_fetch_add_explicit(&row->rejected[s_cause_index(cause)], 1, memory_order_relaxed);
    else if (status == 504)
        atomic_fetch_add_explicit(&row->timeouts[s_cause_index(cause)], 1, memory_order_relaxed);
    if (cause && strcmp(cause, GATEWAY_REQUEST_METRICS_CLIENT_CLOSED) == 0)
        atomic_fetch_add_explicit(&row->cancelled, 1, memory_order_relaxed);
}

void gateway_request_metrics_resend(gateway_request_metrics_t *self)
{
    if (self)
        atomic_fetch_add_explicit(&self->resends, 1, memory_order_relaxed);
}

/* ---------------------------------------------------------------- reading */

static uint64_t s_load(atomic_uint_fast64_t *counter)
{
    return (uint64_t) atomic_load_explicit(counter, memory_order_relaxed);
}

/* Writes a label value escaped as the exposition format asks (\\, \", \n). */
/* route="...",service="..." for row index i. */
static void s_route_labels(gateway_request_metrics_t *self, FILE *out, size_t i)
{
    const gateway_route_t *route =
        i + 1 < self->row_count ? gateway_routes_at(self->routes, i) : NULL;
    fputs("route=\"", out);
    gateway_prometheus_label(out, route ? route->prefix : S_NO_ROUTE);
    fputs("\",service=\"", out);
    gateway_prometheus_label(out, route ? route->service : "");
    fputc('"', out);
}

/* One counter family per cause table (rejected or timeouts): rows with no events skipped. */
static void s_write_causes(gateway_request_metrics_t *self, FILE *out, const char *name,
                           bool timeouts)
{
    for (size_t i = 0; i < self->row_count; i++) {
        s_row_t *row = &self->rows[i];
        for (size_t c = 0; c < S_CAUSE_COUNT; c++) {
            uint64_t value = s_load(timeouts ? &row->timeouts[c] : &row->rejected[c]);
            if (!value)
                continue;
            fprintf(out, "%s{", name);
            s_route_labels(self, out, i);
            fprintf(out, ",cause=\"%s\"} %llu\n", s_causes[c], (unsigned long long) value);
        }
    }
}

void gateway_request_metrics_write(gateway_request_metrics_t *self, FILE *out)
{
    gateway_prometheus_family(
        out, "slowlane_http_requests_total", "counter",
        "HTTP requests answered by the gateway, by route and status (499: client left).");
    for (size_t i = 0; i < self->row_count; i++)
        for (int status = S_STATUS_MIN; status <= S_STATUS_MAX; status++) {
            uint64_t value = s_load(&self->rows[i].statuses[status - S_STATUS_MIN]);
            if (!value)
                continue;
            fputs("slowlane_http_requests_total{", out);
            s_route_labels(self, out, i);
            fprintf(out, ",status=\"%d\"} %llu\n", status, (unsigned long long) value);
        }

    gateway_prometheus_family(out, "slowlane_http_request_duration_seconds", "histogram",
                              "Time from arrival to the last byte of the answer, by route.");
    for (size_t i = 0; i < self->row_count; i++) {
        s_row_t *row = &self->rows[i];
        uint64_t cumulative = 0;
        for (size_t b = 0; b <= GATEWAY_REQUEST_METRICS_LATENCY_BUCKETS; b++) {
            cumulative += s_load(&row->latency[b]);
            fputs("slowlane_http_request_duration_seconds_bucket{", out);
            s_route_labels(self, out, i);
            if (b < GATEWAY_REQUEST_METRICS_LATENCY_BUCKETS)
                fprintf(out, ",le=\"%g\"} %llu\n", (double) s_latency_bounds_us[b] / 1e6,
                        (unsigned long long) cumulative);
            else
                fprintf(out, ",le=\"+Inf\"} %llu\n", (unsigned long long) cumulative);
        }
        fputs("slowlane_http_request_duration_seconds_sum{", out);
        s_route_labels(self, out, i);
        fprintf(out, "} %.6f\n", (double) s_load(&row->latency_sum_us) / 1e6);
        fputs("slowlane_http_request_duration_seconds_count{", out);
        s_route_labels(self, out, i);
        fprintf(out, "} %llu\n", (unsigned long long) cumulative);
    }

    gateway_prometheus_family(
        out, "slowlane_http_rejected_total", "counter",
        "Requests answered 503, by route and cause (over_budget, queue_full, no_worker, "
        "broker_unavailable, shutting_down, ...).");
    s_write_causes(self, out, "slowlane_http_rejected_total", false);
    gateway_prometheus_family(
        out, "slowlane_http_timeouts_total", "counter",
        "Requests answered 504, by route and cause (deadline: the gateway's; expired: "
        "the broker's).");
    s_write_causes(self, out, "slowlane_http_timeouts_total", true);
    gateway_prometheus_family(out, "slowlane_http_cancelled_total", "counter",
                              "Requests cancelled because their client hung up while they waited "
                              "(cancel-on-disconnect), by route.");
    for (size_t i = 0; i < self->row_count; i++) {
        uint64_t value = s_load(&self->rows[i].cancelled);
        if (!value)
            continue;
        fputs("slowlane_http_cancelled_total{", out);
        s_route_labels(self, out, i);
        fprintf(out, "} %llu\n", (unsigned long long) value);
    }
    gateway_prometheus_family(
        out, "slowlane_gateway_resends_total", "counter",
        "Requests re-sent to the broker after it came back (retries of in-flight requests).");
    fprintf(out, "slowlane_gateway_resends_total %llu\n",
            (unsigned long long) s_load(&self->resends));
}

json_t *gateway_request_metrics_json(gateway_request_metrics_t *self)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < self->row_count; i++) {
        s_row_t *row = &self->rows[i];
        const gateway_route_t *route =
            i + 1 < self->row_count ? gateway_routes_at(self->routes, i) : NULL;
        json_t *statuses = json_object();
        uint64_t requests = 0;
        for (int status = S_STATUS_MIN; status <= S_STATUS_MAX; status++) {
            uint64_t value = s_load(&row->statuses[status - S_STATUS_MIN]);
            if (!value)
                continue;
            char key[8];
            snprintf(key, sizeof key, "%d", status);
            json_object_set_new(statuses, key, json_integer((json_int_t) value));
            requests += value;
        }
        json_t *bounds = json_array(), *buckets = json_array();
        for (size_t b = 0; b <= GATEWAY_REQUEST_METRICS_LATENCY_BUCKETS; b++) {
            if (b < GATEWAY_REQUEST_METRICS_LATENCY_BUCKETS)
                json_array_append_new(bounds, json_real((double) s_latency_bounds_us[b] / 1e6));
            json_array_append_new(buckets, json_integer((json_int_t) s_load(&row->latency[b])));
        }
        json_array_append_new(list,
                              json_pack("{s:s, s:s, s:I, s:o, s:o, s:o}", "route",
                                        route ? route->prefix : S_NO_ROUTE, "service",
                                        route ? route->service : "", "requests",
                                        (json_int_t) requests, "statuses", statuses,
                                        "latency_bounds_s", bounds, "latency_buckets", buckets));
    }
    return list;
}
