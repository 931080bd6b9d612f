/*  broker_stats_json: the `mmi.stats` answer (docs/protocol.md section 2.5): the counters of
    broker_stats plus the live tables of broker_registry (queues, idle and busy workers,
    heartbeat ages), read only. Building it walks every service and worker once: it runs per
    stats request (a scrape), never per message. The JSON is written by hand, straight into
    one buffer, not built as a jansson tree: the only strings in it are service names and
    worker identities, escaped here. Sending it is broker_mmi's job. */
#include "broker_stats_json.h"

#include <inttypes.h>
#include <stdio.h>

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

static void s_json_service(const broker_registry_t *registry, const broker_autoscaler_t *autoscaler,
                           FILE *out, const broker_stats_service_t *stats, int64_t now)
{
    broker_service_t *service = broker_registry_service(registry, stats->name);
    size_t workers = service ? broker_service_workers(service) : 0;
    size_t idle = service ? broker_service_idle(service) : 0;
    broker_request_t *oldest = service ? broker_service_oldest(service) : NULL;
    int64_t oldest_wait_ms = oldest && now > oldest->received ? now - oldest->received : 0;
    fputs("{\"name\":", out);
    s_json_string(out, stats->name);
    fprintf(out, ",\"oldest_wait_ms\":%" PRId64, oldest_wait_ms);
    fprintf(out,
            ",\"queued\":%zu,\"workers\":%zu,\"idle\":%zu,\"busy\":%zu,\"requests\":%" PRIu64
            ",\"replies\":%" PRIu64 ",\"requeues\":%" PRIu64 ",\"handbacks\":%" PRIu64
            ",\"registrations\":%" PRIu64 ",\"heartbeats_missed\":%" PRIu64
            ",\"worst_silence_ms\":%" PRIu64 ",\"errors\":{",
            service ? broker_service_queued(service) : 0, workers, idle,
            workers > idle ? workers - idle : 0, stats->requests, stats->replies, stats->requeues,
            stats->handbacks, stats->registrations, stats->heartbeats_missed,
            stats->worst_silence_ms);
    for (int i = 0; i < SL_ERROR_COUNT; i++)
        fprintf(out, "%s\"%s\":%" PRIu64, i ? "," : "", sl_error_code_name((sl_error_code_t) i),
                stats->errors[i]);
    fputs("},\"exits\":{", out);
    for (int i = 0; i < BROKER_EXIT_COUNT; i++)
        fprintf(out, "%s\"%s\":%" PRIu64, i ? "," : "",
                broker_stats_exit_name((broker_exit_reason_t) i), stats->exits[i]);
    fputs("},\"autoscale\":{", out); /* decisions logged, by reason: only those that happened */
    const char *comma = "";
    for (int i = 0; i < BROKER_AUTOSCALE_REASONS; i++)
        if (stats->autoscale[i]) {
            fprintf(out, "%s\"%s\":%" PRIu64, comma,
                    broker_autoscale_reason_name((broker_autoscale_reason_t) i),
                    stats->autoscale[i]);
            comma = ",";
        }
    fputs("},\"queue_wait\":{\"buckets\":[", out);
    uint64_t count = 0;
    for (int i = 0; i <= BROKER_STATS_WAIT_BUCKETS; i++) {
        fprintf(out, "%s%" PRIu64, i ? "," : "", stats->wait_buckets[i]);
        count += stats->wait_buckets[i];
    }
    fprintf(out, "],\"sum_ms\":%" PRIu64 ",\"count\":%" PRIu64 "}", stats->wait_sum_ms, count);
    /* The policy, for the dashboard: a few services at most have one, so jansson is fine */
    json_t *policy = autoscaler ? broker_autoscaler_describe(autoscaler, stats->name, now) : NULL;
    if (policy) {
        fputs(",\"autoscale_policy\":", out);
        json_dumpf(policy, out, JSON_COMPACT);
        json_decref(policy);
    }
    fputc('}', out);
}

static void s_json_worker(FILE *out, const broker_worker_t *worker, int64_t started, int64_t now)
{
    /* slowlane supervisors name workers host/supervisor-pid/slot; other workers have no
       host in their identity. */
    char host[sizeof worker->name];
    const char *slash = strchr(worker->name, '/');
    if (slash && slash != worker->name)
        snprintf(host, sizeof host, "%.*s", (int) (slash - worker->name), worker->name);
    else
        snprintf(host, sizeof host, "unknown");
    int64_t heard = worker->heard_at;
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
            worker->state == BROKER_WORKER_BUSY ? "busy" : "idle", now > heard ? now - heard : 0,
            now - worker->registered, worker->registered - started, (int) worker->version);
}

char *broker_stats_json(const broker_stats_t *stats, const broker_registry_t *registry,
                        const broker_autoscaler_t *autoscaler, const broker_config_t *config,
                        int64_t started, int64_t now)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    if (!out)
        return NULL;
    fprintf(out,
            "{\"version\":1,\"uptime_ms\":%" PRId64 ",\"heartbeat_ms\":%" PRId64
            ",\"liveness\":%" PRId64 ",\"unknown_service\":%" PRIu64 ",\"wait_bounds_ms\":[",
            now - started, config->heartbeat_ms, config->liveness, broker_stats_unknown(stats));
    for (int i = 0; i < BROKER_STATS_WAIT_BUCKETS; i++)
        fprintf(out, "%s%" PRId64, i ? "," : "", broker_stats_wait_bound_ms((size_t) i));
    fputs("],\"services\":[", out);
    bool first = true;
    for (const broker_stats_service_t *service = broker_stats_service_first(stats); service;
         service = broker_stats_service_next(stats)) {
        if (!first)
            fputc(',', out);
        first = false;
        s_json_service(registry, autoscaler, out, service, now);
    }
    fputs("],\"workers\":[", out);
    first = true;
    for (broker_worker_t *worker = broker_registry_worker_first(registry); worker;
         worker = broker_registry_worker_next(registry)) {
        if (!first)
            fputc(',', out);
        first = false;
        s_json_worker(out, worker, started, now);
    }
    fputs("]}", out);
    if (fclose(out) != 0) {
        free(text);
        return NULL;
    }
    return text;
}
