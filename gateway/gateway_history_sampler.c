/*  gateway_history_sampler: one sample a second (see gateway_history_sampler.h). Figures that
    are rates come from the difference with the previous sample's counters, kept here as the
    JSON they were read as; a counter that went down (a broker restarted, another broker
    answered first) gives no figure for that second rather than a negative one. */
#include "gateway_history_sampler.h"
#include "sl_defaults.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#define S_STATS_MAX_AGE_MS 250 /* as a scrape: an answer this recent is reused */
#define S_STATS_WAIT_MS    500

struct _gateway_history_sampler_t {
    gateway_history_t *history;
    gateway_request_metrics_t *metrics;
    gateway_broker_view_t brokers;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stopping;
    /* The previous sample, for differences */
    json_t *routes;                  /* gateway_request_metrics_json */
    json_t *services;                /* the first answering broker's "services", by name */
    size_t services_from;            /* which broker that was */
    uint64_t trusts[SL_MAX_BROKERS]; /* each broker's trust changes at the previous sample */
    uint64_t untrusts[SL_MAX_BROKERS];
    int64_t at_ms; /* monotonic time of the previous sample */
};

double gateway_history_quantile(double q, const double *bounds, const double *counts, size_t count)
{
    double total = 0;
    for (size_t i = 0; i <= count; i++)
        total += counts[i];
    if (total <= 0)
        return NAN;
    double rank = q * total, seen = 0;
    for (size_t i = 0; i <= count; i++) {
        if (counts[i] > 0 && seen + counts[i] >= rank) {
            if (i == count)
                return count ? bounds[count - 1] : NAN;
            double lower = i == 0 ? 0 : bounds[i - 1];
            return lower + (bounds[i] - lower) * ((rank - seen) / counts[i]);
        }
        seen += counts[i];
    }
    return count ? bounds[count - 1] : NAN;
}

static int64_t s_wall_ms(void)
{
    struct timeval now;
    gettimeofday(&now, NULL);
    return (int64_t) now.tv_sec * 1000 + now.tv_usec / 1000;
}

static int64_t s_mono_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t) now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static double s_number(json_t *object, const char *key)
{
    return json_number_value(json_object_get(object, key));
}

//  An element of array whose member key is the string value, or NULL.
static json_t *s_find(json_t *array, const char *key, const char *value)
{
    size_t index;
    json_t *item;
    json_array_foreach(array, index, item)
    {
        const char *name = json_string_value(json_object_get(item, key));
        if (name && strcmp(name, value) == 0)
            return item;
    }
    return NULL;
}

static void s_set(gateway_history_sampler_t *self, const char *kind, const char *name,
                  const char *figure, double value)
{
    char series[GATEWAY_HISTORY_NAME_MAX];
    snprintf(series, sizeof series, "%s:%s:%s", kind, name, figure);
    gateway_history_set(self->history, series, value);
}

//  One route's figures for the last seconds, from now and before (its previous counters).
static void s_route(gateway_history_sampler_t *self, json_t *now, json_t *before, double seconds)
{
    const char *name = json_string_value(json_object_get(now, "route"));
    double requests = s_number(now, "requests") - s_number(before, "requests");
    if (!name || requests < 0)
        return;
    s_set(self, "route", name, "rps", requests / seconds);
    json_t *bounds = json_object_get(now, "latency_bounds_s");
    json_t *buckets = json_object_get(now, "latency_buckets");
    json_t *old_buckets = json_object_get(before, "latency_buckets");
    size_t count = json_array_size(bounds);
    if (count < 64 && json_array_size(buckets) == count + 1 &&
        json_array_size(old_buckets) == count + 1) {
        double limits[64], counts[65];
        for (size_t i = 0; i <= count; i++) {
            if (i < count)
                limits[i] = json_number_value(json_array_get(bounds, i)) * 1000;
            counts[i] = json_number_value(json_array_get(buckets, i)) -
                        json_number_value(json_array_get(old_buckets, i));
        }
        s_set(self, "route", name, "p50_ms", gateway_history_quantile(0.5, limits, counts, count));
        s_set(self, "route", name, "p99_ms", gateway_history_quantile(0.99, limits, counts, count));
    }
    double errors[2] = {0, 0}; /* 4xx, 5xx */
    const char *status;
    json_t *value;
    json_t *statuses = json_object_get(now, "statuses");
    json_t *old_statuses = json_object_get(before, "statuses");
    json_object_foreach(statuses, status, value)
    {
        if (status[0] == '4' || status[0] == '5')
            errors[status[0] - '4'] +=
                json_number_value(value) - json_number_value(json_object_get(old_statuses, status));
    }
    s_set(self, "route", name, "err4xx", errors[0] / seconds);
    s_set(self, "route", name, "err5xx", errors[1] / seconds);
}

static void s_sample_routes(gateway_history_sampler_t *self, double seconds)
{
    json_t *routes = gateway_request_metrics_json(self->metrics);
    size_t index;
    json_t *route;
    json_array_foreach(routes, index, route)
    {
        const char *name = json_string_value(json_object_get(route, "route"));
        //  "none" counts 404s and the gateway's own endpoints, this page's polls among them
        json_t *before = name ? s_find(self->routes, "route", name) : NULL;
        if (name && strcmp(name, "none") != 0 && before)
            s_route(self, route, before, seconds);
    }
    json_decref(self->routes);
    self->routes = routes;
}

//  Sum of the values of keys in object now minus the same in before (registrations ended
//  by a death: replaced by a restarted process, expired, or a protocol error).
static double s_deaths(json_t *now, json_t *before)
{
    static const char *const reasons[] = {"replaced", "expired", "protocol_error"};
    double deaths = 0;
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
        deaths += s_number(now, reasons[i]) - s_number(before, reasons[i]);
    return deaths;
}

static double s_counters_total(json_t *object)
{
    const char *key;
    json_t *value;
    double total = 0;
    json_object_foreach(object, key, value) total += json_number_value(value);
    return total;
}

static void s_service(gateway_history_sampler_t *self, json_t *service, json_t *before,
                      json_t *const *answers, size_t count, int64_t wall_ms)
{
    const char *name = json_string_value(json_object_get(service, "name"));
    if (!name)
        return;
    //  Every broker has its own queue of the service; the dashboard shows the cluster's
    double queued = 0, oldest = 0;
    for (size_t i = 0; i < count; i++) {
        json_t *other =
            answers[i] ? s_find(json_object_get(answers[i], "services"), "name", name) : NULL;
        queued += s_number(other, "queued");
        double wait = s_number(other, "oldest_wait_ms");
        oldest = wait > oldest ? wait : oldest;
    }
    s_set(self, "service", name, "queued", queued);
    s_set(self, "service", name, "oldest_wait_ms", oldest);
    s_set(self, "service", name, "busy", s_number(service, "busy"));
    s_set(self, "service", name, "idle", s_number(service, "idle"));
    if (!before)
        return;
    double deaths = s_deaths(json_object_get(service, "exits"), json_object_get(before, "exits"));
    if (deaths >= 0)
        s_set(self, "service", name, "restarts", deaths);
    if (deaths > 0) {
        char text[64];
        snprintf(text, sizeof text, "%.0f worker%s died", deaths, deaths == 1 ? "" : "s");
        gateway_history_mark(self->history, wall_ms, "worker_died", name, text);
    }
    double decisions = s_counters_total(json_object_get(service, "autoscale")) -
                       s_counters_total(json_object_get(before, "autoscale"));
    json_t *last = json_object_get(json_object_get(service, "autoscale_policy"), "last");
    if (decisions > 0 && last) {
        char text[128];
        snprintf(text, sizeof text, "autoscale %lld -> %lld (%s)",
                 (long long) s_number(last, "from"), (long long) s_number(last, "to"),
                 json_string_value(json_object_get(last, "reason"))
                     ? json_string_value(json_object_get(last, "reason"))
                     : "?");
        gateway_history_mark(self->history, wall_ms, "autoscale", name, text);
    }
}

//  Marks every broker lost or back since the previous sample, from the gateway's own counts
//  of trust changes: a loss and return within one second is still two marks. A broker's
//  first trust is the gateway's start, not a return.
static void s_broker_marks(gateway_history_sampler_t *self, int64_t wall_ms)
{
    size_t count = gateway_brokers_count(self->brokers.brokers);
    for (size_t index = 0; index < count && index < SL_MAX_BROKERS; index++) {
        gateway_brokers_counters_t counters;
        gateway_brokers_counters(self->brokers.brokers, index, &counters);
        const char *endpoint =
            gateway_bridge_label(gateway_brokers_bridge(self->brokers.brokers, index));
        if (counters.untrusts > self->untrusts[index])
            gateway_history_mark(self->history, wall_ms, "broker_lost", endpoint, "broker lost");
        if (counters.trusts > self->trusts[index] && counters.trusts > 1)
            gateway_history_mark(self->history, wall_ms, "broker_back", endpoint,
                                 "broker up again");
        self->trusts[index] = counters.trusts;
        self->untrusts[index] = counters.untrusts;
    }
}

static void s_sample_brokers(gateway_history_sampler_t *self, int64_t wall_ms)
{
    size_t count = gateway_brokers_count(self->brokers.brokers);
    json_t *answers[count > 0 ? count : 1];
    gateway_broker_view_stats(&self->brokers, answers, S_STATS_MAX_AGE_MS, S_STATS_WAIT_MS);
    s_broker_marks(self, wall_ms);
    size_t first = 0;
    while (first < count && !answers[first])
        first++;
    json_t *services = first < count ? json_object_get(answers[first], "services") : NULL;
    //  Differences only against the same broker's counters
    bool comparable = self->services && first == self->services_from;
    size_t index;
    json_t *service;
    json_array_foreach(services, index, service)
    {
        const char *name = json_string_value(json_object_get(service, "name"));
        json_t *before = comparable && name ? s_find(self->services, "name", name) : NULL;
        s_service(self, service, before, answers, count, wall_ms);
    }
    json_decref(self->services);
    self->services = json_incref(services);
    self->services_from = first;
    for (size_t i = 0; i < count; i++)
        json_decref(answers[i]);
}

static void s_sample(gateway_history_sampler_t *self)
{
    int64_t mono = s_mono_ms(), wall = s_wall_ms();
    double seconds = self->at_ms ? (double) (mono - self->at_ms) / 1000 : 0;
    self->at_ms = mono;
    gateway_history_begin(self->history, wall);
    if (seconds > 0)
        s_sample_routes(self, seconds);
    else {
        json_decref(self->routes);
        self->routes = gateway_request_metrics_json(self->metrics);
    }
    s_sample_brokers(self, wall);
}

static void *s_run(void *arg)
{
    gateway_history_sampler_t *self = arg;
    pthread_mutex_lock(&self->lock);
    while (!self->stopping) {
        pthread_mutex_unlock(&self->lock);
        int64_t started = s_mono_ms();
        s_sample(self);
        //  On the interval's grid from the first sample: a slow broker answer delays one
        int64_t next = started + GATEWAY_HISTORY_INTERVAL_MS;
        struct timespec until = {.tv_sec = next / 1000, .tv_nsec = (next % 1000) * 1000000};
        pthread_mutex_lock(&self->lock);
        while (!self->stopping &&
               pthread_cond_timedwait(&self->wake, &self->lock, &until) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&self->lock);
    return NULL;
}

gateway_history_sampler_t *gateway_history_sampler_new(gateway_history_t *history,
                                                       gateway_request_metrics_t *metrics,
                                                       const gateway_broker_view_t *brokers)
{
    gateway_history_sampler_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->history = history;
    self->metrics = metrics;
    self->brokers = *brokers;
    pthread_mutex_init(&self->lock, NULL);
    pthread_condattr_t attributes;
    pthread_condattr_init(&attributes);
    pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
    pthread_cond_init(&self->wake, &attributes);
    pthread_condattr_destroy(&attributes);
    if (pthread_create(&self->thread, NULL, s_run, self) != 0) {
        pthread_cond_destroy(&self->wake);
        pthread_mutex_destroy(&self->lock);
        free(self);
        return NULL;
    }
    return self;
}

void gateway_history_sampler_destroy(gateway_history_sampler_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gateway_history_sampler_t *self = *self_p;
    pthread_mutex_lock(&self->lock);
    self->stopping = true;
    pthread_cond_signal(&self->wake);
    pthread_mutex_unlock(&self->lock);
    pthread_join(self->thread, NULL);
    json_decref(self->routes);
    json_decref(self->services);
    pthread_cond_destroy(&self->wake);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}
