/*  supervisor_status: STATUS bodies (see supervisor_status.h): everything the cluster view
    shows about one supervisor and its slots, as SLAGENT1 carries it. Times are durations,
    never clock values, so hosts need no clock sync. */
#include <jansson.h>
#include <stdlib.h>
#include <unistd.h>
#include "supervisor_status.h"

static const char *s_slot_state_name(supervisor_slot_state_t state)
{
    switch (state) {
    case SUPERVISOR_SLOT_STOPPING:
        return "stopping";
    case SUPERVISOR_SLOT_STARTING:
        return "starting";
    case SUPERVISOR_SLOT_BUSY:
        return "busy";
    case SUPERVISOR_SLOT_IDLE:
        return "idle";
    case SUPERVISOR_SLOT_CRASH_LOOP:
        return "crash_loop";
    case SUPERVISOR_SLOT_STOPPED:
        return "stopped";
    case SUPERVISOR_SLOT_RESTARTING:
        break;
    }
    return "restarting";
}

static json_t *s_worker_json(const supervisor_worker_view_t *view)
{
    json_t *worker =
        json_pack("{s:i, s:I, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:s}", "slot", view->slot, "pid",
                  (json_int_t) view->pid, "state", s_slot_state_name(view->state), "job_age_ms",
                  (json_int_t) view->job_age_ms, "jobs", (json_int_t) view->jobs, "restarts",
                  (json_int_t) view->restarts, "rss_kb", (json_int_t) view->rss_kb, "uptime_ms",
                  (json_int_t) view->uptime_ms, "broadcasts", (json_int_t) view->broadcasts,
                  "last_broadcast", view->last_broadcast);
    if (!worker)
        return NULL;
    if (view->last_exit != SUPERVISOR_EXIT_NONE)
        json_object_set_new(
            worker, "last_exit",
            json_pack("{s:s, s:s, s:I}", "reason", supervisor_exit_name(view->last_exit), "detail",
                      view->last_exit_detail, "ago_ms", (json_int_t) view->last_exit_ago_ms));
    else
        json_object_set_new(worker, "last_exit", json_null());
    return worker;
}

char *supervisor_status_encode(const supervisor_config_t *config,
                               const supervisor_snapshot_t *snapshot)
{
    json_t *workers = json_array();
    for (int i = 0; i < snapshot->worker_count; i++) {
        json_t *worker = s_worker_json(&snapshot->workers[i]);
        if (worker)
            json_array_append_new(workers, worker);
    }
    json_t *status = json_pack(
        "{s:s, s:I, s:s, s:s, s:i, s:b, s:I, s:i, s:{s:I, s:I, s:I, s:i, s:i}, s:{s:I, s:I, s:I}, "
        "s:{s:b, s:s, s:s}, s:o}",
        "host", config->host, "pid", (json_int_t) getpid(), "service", config->service, "handler",
        config->handler_spec ? config->handler_spec : "", "target", snapshot->target, "stopped",
        snapshot->paused, "uptime_ms", (json_int_t) snapshot->uptime_ms, "heartbeat_ms",
        config->heartbeat_ms, "limits", "max_rss_mb", (json_int_t) config->max_rss_mb,
        "max_requests", (json_int_t) config->max_requests, "job_timeout_ms",
        (json_int_t) config->job_timeout_ms, "min_workers", config->min_workers, "max_workers",
        config->max_workers, "recycled", "max_rss",
        (json_int_t) snapshot->recycled[SUPERVISOR_EXIT_MAX_RSS], "max_requests",
        (json_int_t) snapshot->recycled[SUPERVISOR_EXIT_MAX_REQUESTS], "job_timeout",
        (json_int_t) snapshot->recycled[SUPERVISOR_EXIT_JOB_TIMEOUT], "roll", "active",
        snapshot->roll_active, "id", snapshot->roll_id, "done", snapshot->roll_done, "workers",
        workers);
    char *text = status ? json_dumps(status, JSON_COMPACT) : NULL;
    json_decref(status);
    return text;
}
