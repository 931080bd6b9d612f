/*  gateway_broker_stats: on-demand `mmi.stats` polling and the broker half of /metrics.
    HTTP threads meet the actor in one locked structure (lock, cond): the last answer, its
    time, and a generation number that moves when a new answer lands. A thread that needs a
    fresh answer bumps the eventfd and waits on the condition; the actor sends at most one
    request at a time and gives up on it after S_RETRY_MS, so a dead broker costs one
    outstanding message, not one per scrape. */
#include "gateway_broker_stats.h"

#include <czmq.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "gateway_broker_socket.h"
#include "gateway_prometheus.h"
#include <sys/eventfd.h>
#include <unistd.h>

#include "sl_defaults.h"
#include "sl_log.h"
#include "sl_mdp.h"

#define S_MMI_STATS "mmi.stats"
#define S_RETRY_MS  1000 /* an unanswered request is sent again after this */

struct _gateway_stats_t {
    zactor_t *actor;                /* the poller thread */
    char *endpoint;                 /* broker endpoint */
    const sl_curve_client_t *curve; /* borrowed CURVE keys, NULL: plaintext */
    int wakeup_fd;                  /* eventfd: somebody wants a fresh answer */
    pthread_mutex_t lock;           /* guards the fields below */
    pthread_cond_t cond;            /* broadcast when an answer lands (CLOCK_MONOTONIC) */
    json_t *last;                   /* the last parsed answer, NULL before the first */
    int64_t last_ms;                /* zclock_mono() when it arrived */
    uint64_t generation;            /* answers received so far */
    bool start_failed;              /* set by the actor before it signals failure */
};

/* ---------------------------------------------------------------- actor side */

static void s_store(gateway_broker_stats_t *self, zmsg_t *message, sl_log_limit_t *limit)
{
    sl_mdp_msg_t decoded = {0};
    const char *reason = NULL;
    if (sl_mdp_decode(&message, SL_MDP_FROM_BROKER, &decoded, &reason) != 0 ||
        decoded.command != SL_MDP_FINAL || !decoded.service ||
        !zframe_streq(decoded.service, S_MMI_STATS) || !decoded.body ||
        zmsg_size(decoded.body) != 1) {
        sl_log_limited(limit, SL_LOG_WARN, NULL, "broker_stats_malformed", "reason=%s",
                       reason ? reason : "unexpected_reply");
        sl_mdp_msg_reset(&decoded);
        return;
    }
    zframe_t *frame = zmsg_first(decoded.body);
    json_error_t error;
    json_t *parsed = json_loadb((const char *) zframe_data(frame), zframe_size(frame), 0, &error);
    sl_mdp_msg_reset(&decoded);
    if (!parsed || !json_is_object(parsed)) {
        /* A broker without mmi.stats answers "501": say so once in a while. */
        sl_log_limited(limit, SL_LOG_WARN, NULL, "broker_stats_unavailable", "reason=not_json");
        json_decref(parsed);
        return;
    }
    pthread_mutex_lock(&self->lock);
    json_decref(self->last);
    self->last = parsed;
    self->last_ms = zclock_mono();
    self->generation++;
    pthread_cond_broadcast(&self->cond);
    pthread_mutex_unlock(&self->lock);
}

static void s_actor(zsock_t *pipe, void *args)
{
    gateway_broker_stats_t *self = args;
    sl_log_limit_t limit = {0};
    zsock_t *dealer = gateway_broker_socket_new(self->curve);
    if (!dealer)
        goto fail;
    zsock_set_sndtimeo(dealer, 0);
    if (zsock_connect(dealer, "%s", self->endpoint) != 0)
        goto fail;
    zsock_signal(pipe, 0);

    int64_t sent_ms = 0; /* when the outstanding request went out, 0 if none */
    zmq_pollitem_t items[] = {
        {zsock_resolve(pipe), 0, ZMQ_POLLIN, 0},
        {NULL, self->wakeup_fd, ZMQ_POLLIN, 0},
        {zsock_resolve(dealer), 0, ZMQ_POLLIN, 0},
    };
    while (true) {
        if (zmq_poll(items, 3, S_RETRY_MS) < 0 && errno != EINTR)
            break;
        if (items[0].revents & ZMQ_POLLIN) {
            char *command = zstr_recv(pipe);
            bool stop = !command || streq(command, "$TERM");
            zstr_free(&command);
            if (stop)
                break;
        }
        if (items[2].revents & ZMQ_POLLIN) {
            zmsg_t *message;
            while ((message = zmsg_recv_nowait(dealer))) {
                s_store(self, message, &limit);
                sent_ms = 0;
            }
        }
        if (items[1].revents & ZMQ_POLLIN) {
            uint64_t count;
            ssize_t got = read(self->wakeup_fd, &count, sizeof count);
            (void) got;
            if (sent_ms == 0 || zclock_mono() - sent_ms >= S_RETRY_MS) {
                zmsg_t *body = zmsg_new();
                zmsg_t *request = sl_mdp_encode_client_request(SL_MDP_V02, S_MMI_STATS, &body);
                if (request && zmsg_send(&request, dealer) == 0)
                    sent_ms = zclock_mono();
                zmsg_destroy(&request);
            }
        }
    }
    zsock_destroy(&dealer);
    return;

fail:
    zsock_destroy(&dealer);
    self->start_failed = true;
    zsock_signal(pipe, 1);
}

/* ---------------------------------------------------------------- HTTP-thread side */

json_t *gateway_broker_stats_get(gateway_broker_stats_t *self, int64_t max_age_ms, int64_t wait_ms)
{
    pthread_mutex_lock(&self->lock);
    if (self->last && zclock_mono() - self->last_ms <= max_age_ms) {
        json_t *fresh = json_incref(self->last);
        pthread_mutex_unlock(&self->lock);
        return fresh;
    }
    uint64_t generation = self->generation;
    uint64_t one = 1;
    ssize_t written = write(self->wakeup_fd, &one, sizeof one);
    (void) written; /* an eventfd write only fails on counter overflow */
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += wait_ms / 1000;
    until.tv_nsec += (wait_ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    while (self->generation == generation)
        if (pthread_cond_timedwait(&self->cond, &self->lock, &until) == ETIMEDOUT)
            break;
    json_t *answer = self->generation != generation ? json_incref(self->last) : NULL;
    pthread_mutex_unlock(&self->lock);
    return answer;
}

/* ---------------------------------------------------------------- lifecycle */

gateway_broker_stats_t *gateway_broker_stats_new(const char *endpoint,
                                                 const sl_curve_client_t *curve)
{
    gateway_broker_stats_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->curve = curve;
    self->wakeup_fd = -1;
    self->endpoint = strdup(endpoint);
    pthread_mutex_init(&self->lock, NULL);
    pthread_condattr_t attributes;
    pthread_condattr_init(&attributes);
    pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
    pthread_cond_init(&self->cond, &attributes);
    pthread_condattr_destroy(&attributes);
    self->wakeup_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (!self->endpoint || self->wakeup_fd < 0)
        goto fail;
    self->actor = zactor_new(s_actor, self);
    if (!self->actor || self->start_failed)
        goto fail;
    return self;

fail:
    gateway_broker_stats_destroy(&self);
    return NULL;
}

void gateway_broker_stats_destroy(gateway_broker_stats_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gateway_broker_stats_t *self = *self_p;
    zactor_destroy(&self->actor);
    if (self->wakeup_fd >= 0)
        close(self->wakeup_fd);
    json_decref(self->last);
    pthread_mutex_destroy(&self->lock);
    pthread_cond_destroy(&self->cond);
    free(self->endpoint);
    free(self);
    *self_p = NULL;
}

/* ---------------------------------------------------------------- Prometheus text */

static uint64_t s_uint(json_t *object, const char *key)
{
    json_t *value = json_object_get(object, key);
    return json_is_integer(value) && json_integer_value(value) > 0
               ? (uint64_t) json_integer_value(value)
               : 0;
}

/* name{service="..."[,extra]} value for every service. */
static void s_per_service(FILE *out, json_t *services, const char *name, const char *type,
                          const char *help, const char *key)
{
    gateway_prometheus_family(out, name, type, help);
    size_t i;
    json_t *service;
    json_array_foreach(services, i, service)
    {
        fprintf(out, "%s{service=\"", name);
        gateway_prometheus_label(out, json_string_value(json_object_get(service, "name")));
        fprintf(out, "\"} %llu\n", (unsigned long long) s_uint(service, key));
    }
}

/* name{service="...",label="<key>"} value for each key of object field of every service. */
static void s_per_service_keyed(FILE *out, json_t *services, const char *name, const char *help,
                                const char *field, const char *label)
{
    gateway_prometheus_family(out, name, "counter", help);
    size_t i;
    json_t *service;
    json_array_foreach(services, i, service)
    {
        const char *key;
        json_t *value;
        json_object_foreach(json_object_get(service, field), key, value)
        {
            fprintf(out, "%s{service=\"", name);
            gateway_prometheus_label(out, json_string_value(json_object_get(service, "name")));
            fprintf(out, "\",%s=\"", label);
            gateway_prometheus_label(out, key);
            fprintf(out, "\"} %llu\n",
                    (unsigned long long) (json_is_integer(value) ? json_integer_value(value) : 0));
        }
    }
}

static void s_queue_wait(FILE *out, json_t *stats, json_t *services)
{
    const char *name = "slowlane_broker_queue_wait_seconds";
    gateway_prometheus_family(
        out, name, "histogram",
        "Time requests waited in the broker's queue before their first delivery.");
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
            fprintf(out, "%s_bucket{service=\"", name);
            gateway_prometheus_label(out, service_name);
            json_t *bound = json_array_get(bounds, b);
            if (b + 1 < json_array_size(buckets) && json_is_integer(bound))
                fprintf(out, "\",le=\"%g\"} %llu\n", (double) json_integer_value(bound) / 1000.0,
                        (unsigned long long) cumulative);
            else
                fprintf(out, "\",le=\"+Inf\"} %llu\n", (unsigned long long) cumulative);
        }
        fprintf(out, "%s_sum{service=\"", name);
        gateway_prometheus_label(out, service_name);
        fprintf(out, "\"} %.3f\n", (double) s_uint(wait, "sum_ms") / 1000.0);
        fprintf(out, "%s_count{service=\"", name);
        gateway_prometheus_label(out, service_name);
        fprintf(out, "\"} %llu\n", (unsigned long long) cumulative);
    }
}

/* Workers per host, service and state, counted from the broker's worker list. */
static void s_host_workers(FILE *out, json_t *workers)
{
    gateway_prometheus_family(
        out, "slowlane_host_workers", "gauge",
        "Registered workers by host (from the worker identity host/pid/slot), service and "
        "state.");
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
        fputs("slowlane_host_workers{host=\"", out);
        gateway_prometheus_label(out, copy);
        fputs("\",service=\"", out);
        gateway_prometheus_label(out, service);
        fprintf(out, "\",state=\"%s\"} %lld\n", state,
                (long long) (intptr_t) zhashx_lookup(counts, key));
    }
    zlistx_destroy(&keys);
    zhashx_destroy(&counts);
}

void gateway_broker_stats_write(json_t *stats, FILE *out)
{
    gateway_prometheus_family(out, "slowlane_broker_up", "gauge",
                              "1 if the broker answered mmi.stats for this scrape, else 0.");
    fprintf(out, "slowlane_broker_up %d\n", stats ? 1 : 0);
    if (!stats)
        return;
    gateway_prometheus_family(out, "slowlane_broker_uptime_seconds", "gauge",
                              "Time since the broker started.");
    fprintf(out, "slowlane_broker_uptime_seconds %.3f\n",
            (double) s_uint(stats, "uptime_ms") / 1000.0);
    gateway_prometheus_family(
        out, "slowlane_broker_unknown_service_total", "counter",
        "Requests for a service that had no worker and no record at the broker.");
    fprintf(out, "slowlane_broker_unknown_service_total %llu\n",
            (unsigned long long) s_uint(stats, "unknown_service"));
    json_t *services = json_object_get(stats, "services");
    s_per_service(out, services, "slowlane_broker_requests_total", "counter",
                  "Requests the broker accepted, by service.", "requests");
    s_per_service(out, services, "slowlane_broker_replies_total", "counter",
                  "Final replies the broker forwarded from workers, by service.", "replies");
    s_per_service_keyed(out, services, "slowlane_broker_errors_total",
                        "Error answers from the broker by service and code (queue_full and "
                        "no_worker are the broker's 503 rejections).",
                        "errors", "code");
    s_per_service(out, services, "slowlane_broker_retries_total", "counter",
                  "Requests re-queued for another worker after theirs died, by service.",
                  "requeues");
    s_per_service(out, services, "slowlane_broker_queue_depth", "gauge",
                  "Requests waiting in the service's queue now.", "queued");
    s_queue_wait(out, stats, services);
    gateway_prometheus_family(out, "slowlane_broker_workers", "gauge",
                              "Registered workers by service and state (idle or busy).");
    size_t i;
    json_t *service;
    json_array_foreach(services, i, service)
    {
        for (int busy = 0; busy < 2; busy++) {
            fputs("slowlane_broker_workers{service=\"", out);
            gateway_prometheus_label(out, json_string_value(json_object_get(service, "name")));
            fprintf(out, "\",state=\"%s\"} %llu\n", busy ? "busy" : "idle",
                    (unsigned long long) s_uint(service, busy ? "busy" : "idle"));
        }
    }
    s_host_workers(out, json_object_get(stats, "workers"));
    s_per_service(out, services, "slowlane_worker_registrations_total", "counter",
                  "Worker registrations (READY) accepted by the broker, by service.",
                  "registrations");
    s_per_service_keyed(
        out, services, "slowlane_worker_restarts_total",
        "Worker registrations that ended, by service and reason: replaced (the process was "
        "restarted under its identity: crash, kill, job timeout), expired (heartbeats "
        "missed), disconnected (drained, recycled or rolled), protocol_error.",
        "exits", "reason");
    s_per_service(out, services, "slowlane_broker_heartbeats_missed_total", "counter",
                  "Broker heartbeat ticks that found a worker silent for over 1.5 intervals.",
                  "heartbeats_missed");
}
