/*  broker_stats: counters kept by service name, and the `mmi.stats` answer built from them
    plus the live tables (queues, idle and busy workers, heartbeat ages). Building the answer
    walks every service and worker once: it runs per stats request (a scrape), never per
    message. The JSON is written by hand, straight into one buffer, not built as a jansson
    tree (the broker links jansson for its agents): the only strings in it are service names
    and worker identities, escaped here. */
#include "broker_private.h"

#include <inttypes.h>
#include <stdio.h>

struct _broker_stats_t {
    zhashx_t *services; /* name -> broker_stats_service_t (owned) */
    uint64_t unknown;   /* requests for services that do not exist */
};

/* Queue-wait bucket bounds, ms: from "dispatched at once" to the default deadline. */
static const int64_t s_wait_bounds_ms[BROKER_STATS_WAIT_BUCKETS] = {
    1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000};

static const char *s_exit_names[BROKER_EXIT_COUNT] = {"replaced", "expired", "disconnected",
                                                      "protocol_error"};

static void s_service_destroy(void **item)
{
    broker_stats_service_t *stats = (broker_stats_service_t *) *item;
    if (stats) {
        free(stats->name);
        free(stats);
    }
    *item = NULL;
}

broker_stats_t *broker_stats_new(void)
{
    broker_stats_t *self = (broker_stats_t *) calloc(1, sizeof(broker_stats_t));
    if (!self)
        return NULL;
    self->services = zhashx_new();
    if (!self->services) {
        free(self);
        return NULL;
    }
    zhashx_set_destructor(self->services, s_service_destroy);
    return self;
}

void broker_stats_destroy(broker_stats_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhashx_destroy(&(*self_p)->services);
    free(*self_p);
    *self_p = NULL;
}

broker_stats_service_t *broker_stats_service(broker_stats_t *self, const char *name)
{
    if (!self)
        return NULL;
    broker_stats_service_t *stats = (broker_stats_service_t *) zhashx_lookup(self->services, name);
    if (stats)
        return stats;
    stats = (broker_stats_service_t *) calloc(1, sizeof(broker_stats_service_t));
    if (!stats)
        return NULL;
    stats->name = strdup(name);
    if (!stats->name || zhashx_insert(self->services, name, stats) != 0) {
        free(stats->name);
        free(stats);
        return NULL;
    }
    return stats;
}

void broker_stats_queue_wait(broker_stats_service_t *stats, int64_t wait_ms)
{
    if (wait_ms < 0)
        wait_ms = 0;
    size_t bucket = 0;
    while (bucket < BROKER_STATS_WAIT_BUCKETS && wait_ms > s_wait_bounds_ms[bucket])
        bucket++;
    stats->wait_buckets[bucket]++;
    stats->wait_sum_ms += (uint64_t) wait_ms;
}

void broker_stats_unknown_service(broker_stats_t *self)
{
    if (self)
        self->unknown++;
}

broker_exit_reason_t broker_stats_exit_reason(const char *reason)
{
    for (int i = 0; i < BROKER_EXIT_COUNT; i++)
        if (streq(reason, s_exit_names[i]))
            return (broker_exit_reason_t) i;
    return BROKER_EXIT_PROTOCOL;
}

int64_t broker_stats_wait_bound_ms(size_t index)
{
    assert(index < BROKER_STATS_WAIT_BUCKETS);
    return s_wait_bounds_ms[index];
}

const char *broker_stats_exit_name(broker_exit_reason_t reason)
{
    assert(reason < BROKER_EXIT_COUNT);
    return s_exit_names[reason];
}

/* ---------------------------------------------------------------- the mmi.stats answer */

/* Writes text as a JSON string; bytes outside printable ASCII become \u00XX. */
static void s_json_string(FILE *out, const char *text)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *) text; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p < 0x20 || *p >= 0x7f)
            fprintf(out, "\\u%04x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

static void s_json_service(broker_t *broker, FILE *out, broker_stats_service_t *stats)
{
    broker_service_t *service = broker_registry_service(broker->registry, stats->name);
    size_t workers = service ? broker_service_workers(service) : 0;
    size_t idle = service ? broker_service_idle(service) : 0;
    fputs("{\"name\":", out);
    s_json_string(out, stats->name);
    fprintf(out,
            ",\"queued\":%zu,\"workers\":%zu,\"idle\":%zu,\"busy\":%zu,\"requests\":%" PRIu64
            ",\"replies\":%" PRIu64 ",\"requeues\":%" PRIu64 ",\"registrations\":%" PRIu64
            ",\"heartbeats_missed\":%" PRIu64 ",\"errors\":{",
            service ? broker_service_queued(service) : 0, workers, idle,
            workers > idle ? workers - idle : 0, stats->requests, stats->replies, stats->requeues,
            stats->registrations, stats->heartbeats_missed);
    for (int i = 0; i < SL_ERROR_COUNT; i++)
        fprintf(out, "%s\"%s\":%" PRIu64, i ? "," : "", sl_error_code_name((sl_error_code_t) i),
                stats->errors[i]);
    fputs("},\"exits\":{", out);
    for (int i = 0; i < BROKER_EXIT_COUNT; i++)
        fprintf(out, "%s\"%s\":%" PRIu64, i ? "," : "", s_exit_names[i], stats->exits[i]);
    fputs("},\"queue_wait\":{\"buckets\":[", out);
    uint64_t count = 0;
    for (int i = 0; i <= BROKER_STATS_WAIT_BUCKETS; i++) {
        fprintf(out, "%s%" PRIu64, i ? "," : "", stats->wait_buckets[i]);
        count += stats->wait_buckets[i];
    }
    fprintf(out, "],\"sum_ms\":%" PRIu64 ",\"count\":%" PRIu64 "}}", stats->wait_sum_ms, count);
}

static void s_json_worker(broker_t *broker, FILE *out, broker_worker_t *worker)
{
    /* slowlane supervisors name workers host/supervisor-pid/slot; other workers have no
       host in their identity. */
    char host[sizeof worker->name];
    const char *slash = strchr(worker->name, '/');
    if (slash && slash != worker->name)
        snprintf(host, sizeof host, "%.*s", (int) (slash - worker->name), worker->name);
    else
        snprintf(host, sizeof host, "unknown");
    int64_t heard = worker->expiry - broker->expiry_ms;
    fputs("{\"identity\":", out);
    s_json_string(out, worker->name);
    fputs(",\"host\":", out);
    s_json_string(out, host);
    fputs(",\"service\":", out);
    s_json_string(out, broker_service_name(worker->service));
    /* registered_ms (broker uptime at READY) tells a restarted worker from its predecessor
       under the same identity. */
    fprintf(out,
            ",\"state\":\"%s\",\"heartbeat_age_ms\":%" PRId64 ",\"uptime_ms\":%" PRId64
            ",\"registered_ms\":%" PRId64 ",\"mdp\":\"0.%d\"}",
            worker->state == BROKER_WORKER_BUSY ? "busy" : "idle",
            broker->now > heard ? broker->now - heard : 0, broker->now - worker->registered,
            worker->registered - broker->started, (int) worker->version);
}

/* The whole answer as one JSON text (caller frees), or NULL without memory. */
static char *s_json(broker_t *broker)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    if (!out)
        return NULL;
    broker_stats_t *self = broker->stats;
    fprintf(out,
            "{\"version\":1,\"uptime_ms\":%" PRId64 ",\"heartbeat_ms\":%" PRId64
            ",\"liveness\":%" PRId64 ",\"unknown_service\":%" PRIu64 ",\"wait_bounds_ms\":[",
            broker->now - broker->started, broker->config.heartbeat_ms, broker->config.liveness,
            self->unknown);
    for (int i = 0; i < BROKER_STATS_WAIT_BUCKETS; i++)
        fprintf(out, "%s%" PRId64, i ? "," : "", s_wait_bounds_ms[i]);
    fputs("],\"services\":[", out);
    bool first = true;
    for (broker_stats_service_t *stats = (broker_stats_service_t *) zhashx_first(self->services);
         stats; stats = (broker_stats_service_t *) zhashx_next(self->services)) {
        if (!first)
            fputc(',', out);
        first = false;
        s_json_service(broker, out, stats);
    }
    fputs("],\"workers\":[", out);
    first = true;
    for (broker_worker_t *worker = broker_registry_worker_first(broker->registry); worker;
         worker = broker_registry_worker_next(broker->registry)) {
        if (!first)
            fputc(',', out);
        first = false;
        s_json_worker(broker, out, worker);
    }
    fputs("]}", out);
    if (fclose(out) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

void broker_stats_answer(broker_t *broker, zframe_t *client, sl_mdp_msg_t *msg)
{
    char *text = broker->stats ? s_json(broker) : NULL;
    zmsg_t *body = zmsg_new();
    if (!body) {
        free(text);
        return;
    }
    /* Without memory for the answer, say so the 8/MMI way rather than stay silent. */
    if (text)
        zmsg_addmem(body, text, strlen(text));
    else
        zmsg_addstr(body, "500");
    free(text);
    zmsg_t *reply = sl_mdp_encode_client_reply(msg->version, SL_MDP_FINAL, msg->service, &body);
    broker_router_send(broker->router, client, &reply);
}
