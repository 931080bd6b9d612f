/*  gateway_observe_http: /metrics, /dashboard and /dashboard/data.json. Everything here runs on
    the scraping thread and only reads the counters; each trusted broker's part costs one
    mmi.stats round trip, shared by scrapes that come within S_STATS_MAX_AGE_MS of each
    other. */
#include "gateway_observe_http.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include "gateway_broker_metrics.h"
#include "gateway_dashboard.h"
#include "gateway_history_sampler.h"
#include "gateway_prometheus.h"

#define S_STATS_MAX_AGE_MS 250 /* a broker answer this recent is reused */
#define S_STATS_WAIT_MS    500 /* how long a scrape waits for the broker */
#define S_METRICS_TYPE     "text/plain; version=0.0.4; charset=utf-8"
#define S_DASHBOARD_HEADERS                                                                        \
    "Cache-Control: no-cache\r\nX-Content-Type-Options: nosniff\r\n"                               \
    "Content-Security-Policy: default-src 'self'; frame-ancestors 'none'\r\n"

struct _gateway_observe_t {
    gateway_observe_http_config_t config; /* borrowed pointers */
    size_t token_size;                    /* strlen(admin_token), 0 for none */
};

gateway_observe_http_t *gateway_observe_http_new(const gateway_observe_http_config_t *config)
{
    assert(config && config->metrics && config->brokers.brokers);
    gateway_observe_http_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->config = *config;
    self->token_size = config->admin_token ? strlen(config->admin_token) : 0;
    return self;
}

void gateway_observe_http_destroy(gateway_observe_http_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

bool gateway_observe_http_owns(const char *path)
{
    return path && (strcmp(path, "/metrics") == 0 || strcmp(path, "/dashboard") == 0 ||
                    strncmp(path, "/dashboard/", 11) == 0);
}

/* "Authorization: Bearer <token>", compared in time independent of where it differs. */
static bool s_authorized(gateway_observe_http_t *self, struct mg_connection *conn)
{
    if (self->token_size == 0)
        return true;
    const char *header = mg_get_header(conn, "Authorization");
    if (!header || strncasecmp(header, "Bearer ", 7) != 0)
        return false;
    const char *given = header + 7;
    size_t given_size = strlen(given);
    unsigned char difference = given_size != self->token_size;
    for (size_t i = 0; i < self->token_size; i++)
        difference |=
            (unsigned char) (self->config.admin_token[i] ^ (i < given_size ? given[i] : 0));
    return difference == 0;
}

/* One gauge or counter per broker, from the set's counters. */
static void s_per_broker(gateway_observe_http_t *self, FILE *out, const char *name,
                         const char *type, const char *help, int which)
{
    gateway_brokers_t *brokers = self->config.brokers.brokers;
    gateway_prometheus_family(out, name, type, help);
    for (size_t i = 0; i < gateway_brokers_count(brokers); i++) {
        gateway_brokers_counters_t counters;
        gateway_brokers_counters(brokers, i, &counters);
        uint64_t values[] = {counters.trusted, (uint64_t) counters.outstanding, counters.sent,
                             counters.failovers, counters.broker_lost};
        fprintf(out, "%s{broker=\"", name);
        gateway_prometheus_label(out, gateway_bridge_label(gateway_brokers_bridge(brokers, i)));
        fprintf(out, "\"} %llu\n", (unsigned long long) values[which]);
    }
}

/* mmi.cancel per broker: how many were sent, and what each broker answered. */
static void s_cancels(gateway_observe_http_t *self, FILE *out)
{
    gateway_brokers_t *brokers = self->config.brokers.brokers;
    size_t count = gateway_brokers_count(brokers);
    gateway_cancels_counts_t counts[count];
    for (size_t i = 0; i < count; i++) {
        gateway_brokers_counters_t counters;
        gateway_brokers_counters(brokers, i, &counters);
        counts[i] = counters.cancels;
    }
    gateway_prometheus_family(out, "slowlane_gateway_broker_cancels_sent_total", "counter",
                              "Requests the broker was asked to drop (mmi.cancel) because their "
                              "client hung up.");
    for (size_t i = 0; i < count; i++) {
        fputs("slowlane_gateway_broker_cancels_sent_total{broker=\"", out);
        gateway_prometheus_label(out, gateway_bridge_label(gateway_brokers_bridge(brokers, i)));
        fprintf(out, "\"} %llu\n", (unsigned long long) counts[i].sent);
    }
    gateway_prometheus_family(out, "slowlane_gateway_broker_cancel_answers_total", "counter",
                              "The broker's answers to mmi.cancel: removed (it was queued), "
                              "stopped (it was at a worker), not_held (too late), other.");
    for (size_t i = 0; i < count; i++) {
        const char *names[] = {"removed", "stopped", "not_held", "other"};
        uint64_t values[] = {counts[i].removed, counts[i].stopped, counts[i].not_held,
                             counts[i].other};
        for (size_t a = 0; a < sizeof values / sizeof *values; a++) {
            fputs("slowlane_gateway_broker_cancel_answers_total{broker=\"", out);
            gateway_prometheus_label(out, gateway_bridge_label(gateway_brokers_bridge(brokers, i)));
            fprintf(out, "\",answer=\"%s\"} %llu\n", names[a], (unsigned long long) values[a]);
        }
    }
}

/* The jobs service's counts by state ({"queued": N, ...}, new reference), or NULL when the
   jobs API is off or no jobs service answered. */
static json_t *s_jobs_counts(gateway_observe_http_t *self)
{
    if (!self->config.jobs)
        return NULL;
    json_t *answer = gateway_cluster_jobs(self->config.jobs, "limit=0", S_STATS_WAIT_MS);
    json_t *counts = json_integer_value(json_object_get(answer, "status")) == 200
                         ? json_incref(json_object_get(answer, "counts"))
                         : NULL;
    json_decref(answer);
    return json_is_object(counts) ? counts : (json_decref(counts), NULL);
}

static void s_jobs_metrics(gateway_observe_http_t *self, FILE *out)
{
    if (!self->config.jobs)
        return;
    json_t *counts = s_jobs_counts(self);
    gateway_prometheus_family(out, "slowlane_jobs_up", "gauge",
                              "1 while a jobs service (slowlane-jobs) answers through a broker.");
    fprintf(out, "slowlane_jobs_up %d\n", counts ? 1 : 0);
    if (!counts)
        return;
    gateway_prometheus_family(out, "slowlane_jobs", "gauge",
                              "Jobs in the store by state (docs/jobs.md).");
    const char *state;
    json_t *value;
    json_object_foreach(counts, state, value)
    {
        fputs("slowlane_jobs{state=\"", out);
        gateway_prometheus_label(out, state);
        fprintf(out, "\"} %lld\n", (long long) json_integer_value(value));
    }
    json_decref(counts);
}

static void s_metrics(gateway_observe_http_t *self, gateway_response_t *response)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    if (!out) {
        gateway_response_error(response, 503, "gateway_out_of_memory", NULL);
        return;
    }
    gateway_brokers_t *brokers = self->config.brokers.brokers;
    gateway_request_metrics_write(self->config.metrics, out);
    fputs("# HELP slowlane_gateway_broker_connected 1 while the gateway trusts at least one "
          "broker.\n# TYPE slowlane_gateway_broker_connected gauge\n",
          out);
    fprintf(out, "slowlane_gateway_broker_connected %d\n",
            gateway_brokers_any_trusted(brokers) ? 1 : 0);
    s_per_broker(self, out, "slowlane_gateway_broker_up", "gauge",
                 "1 while the gateway trusts the broker (connected and answering within "
                 "heartbeat x liveness): only then are requests sent to it.",
                 0);
    s_per_broker(self, out, "slowlane_gateway_broker_outstanding", "gauge",
                 "Requests the gateway has in flight on the broker.", 1);
    s_per_broker(self, out, "slowlane_gateway_broker_requests_sent_total", "counter",
                 "Requests sent to the broker, re-sends included.", 2);
    s_per_broker(self, out, "slowlane_gateway_broker_failovers_total", "counter",
                 "Requests moved from the broker to another when it was lost.", 3);
    s_per_broker(self, out, "slowlane_gateway_broker_lost_total", "counter",
                 "Requests in flight on the broker answered 502 broker_lost when it was lost "
                 "(not retryable, or already streaming).",
                 4);
    s_cancels(self, out);
    size_t count = gateway_brokers_count(brokers);
    json_t *answers[count];
    const char *labels[count];
    gateway_broker_view_stats(&self->config.brokers, answers, S_STATS_MAX_AGE_MS, S_STATS_WAIT_MS);
    gateway_broker_view_labels(&self->config.brokers, labels);
    gateway_broker_metrics_write(answers, labels, count, out);
    for (size_t i = 0; i < count; i++)
        json_decref(answers[i]);
    s_jobs_metrics(self, out);
    if (fclose(out) != 0) {
        free(text);
        gateway_response_error(response, 503, "gateway_out_of_memory", NULL);
        return;
    }
    gateway_response_send(response, 200, S_METRICS_TYPE, NULL, 0, text, size);
    free(text);
}

//  A non-negative decimal query parameter, 0 when absent or not one.
static uint64_t s_query_number(const struct mg_request_info *info, const char *name)
{
    char value[24] = "";
    const char *query = info->query_string;
    if (!query || mg_get_var(query, strlen(query), name, value, sizeof value) <= 0)
        return 0;
    char *end = NULL;
    unsigned long long number = strtoull(value, &end, 10);
    return end && *end == '\0' && value[0] != '-' ? (uint64_t) number : 0;
}

static void s_history(gateway_observe_http_t *self, gateway_response_t *response,
                      const struct mg_request_info *info)
{
    json_t *root =
        gateway_history_json(self->config.history, s_query_number(info, "since"),
                             s_query_number(info, "marks_since"), GATEWAY_HISTORY_INTERVAL_MS);
    char *text = root ? json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(root);
    if (!text) {
        gateway_response_error(response, 503, "gateway_out_of_memory", NULL);
        return;
    }
    gateway_response_send(response, 200, "application/json", "Cache-Control: no-store\r\n", 25,
                          text, strlen(text));
    free(text);
}

static void s_data(gateway_observe_http_t *self, gateway_response_t *response)
{
    const char *state = NULL;
    gateway_brokers_t *brokers = self->config.brokers.brokers;
    gateway_brokers_ready(brokers, NULL, 0, &state);
    struct timeval now;
    gettimeofday(&now, NULL);
    size_t count = gateway_brokers_count(brokers);
    json_t *answers[count];
    gateway_broker_view_stats(&self->config.brokers, answers, S_STATS_MAX_AGE_MS, S_STATS_WAIT_MS);
    /* "broker": the first broker that answered, as the page showed with one broker. */
    json_t *stats = NULL;
    for (size_t i = 0; i < count && !stats; i++)
        stats = json_incref(answers[i]);
    json_t *jobs = s_jobs_counts(self);
    json_t *root = json_pack("{s:I, s:s, s:o, s:o, s:o, s:o}", "time_ms",
                             (json_int_t) now.tv_sec * 1000 + now.tv_usec / 1000, "broker_state",
                             state ? state : "unknown", "routes",
                             gateway_request_metrics_json(self->config.metrics), "broker",
                             stats ? stats : json_null(), "brokers",
                             gateway_broker_view_json(&self->config.brokers, answers), "jobs",
                             jobs ? jobs : json_null());
    for (size_t i = 0; i < count; i++)
        json_decref(answers[i]);
    char *text = root ? json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
    json_decref(root);
    if (!text) {
        gateway_response_error(response, 503, "gateway_out_of_memory", NULL);
        return;
    }
    gateway_response_send(response, 200, "application/json", "Cache-Control: no-store\r\n", 25,
                          text, strlen(text));
    free(text);
}

void gateway_observe_http_handle(gateway_observe_http_t *self, gateway_response_t *response,
                                 const struct mg_request_info *info)
{
    const char *path = info->local_uri;
    if (strcmp(info->request_method, "GET") != 0 && strcmp(info->request_method, "HEAD") != 0) {
        gateway_response_error(response, 405, "method_not_allowed", "Allow: GET, HEAD\r\n");
        return;
    }
    if (strcmp(path, "/metrics") == 0) {
        s_metrics(self, response);
        return;
    }
    bool data = strcmp(path, "/dashboard/data.json") == 0;
    bool history = strcmp(path, "/dashboard/history.json") == 0 && self->config.history;
    if ((data || history) && !s_authorized(self, response->conn)) {
        gateway_response_error(response, 401, "unauthorized",
                               "WWW-Authenticate: Bearer realm=\"slowlane\"\r\n");
        return;
    }
    if (data) {
        s_data(self, response);
        return;
    }
    if (history) {
        s_history(self, response, info);
        return;
    }
    const char *type = NULL;
    const gateway_dashboard_file_t *file = gateway_dashboard_find(path, &type);
    if (!file) {
        gateway_response_error(response, 404, "no_route", NULL);
        return;
    }
    gateway_response_send(response, 200, type, S_DASHBOARD_HEADERS, sizeof S_DASHBOARD_HEADERS - 1,
                          file->data, file->size);
}
