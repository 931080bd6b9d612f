/*  broker_cluster_view: the mmi.cluster answer (docs/protocol.md section 7.4,
    docs/admin-api.md): services with queue depth and oldest wait, every worker with host,
    service, pid and state (the supervisors' reports merged with what the broker itself
    sees), hosts with their agents. Built on demand from the agent table and the registry,
    which it only reads, never cached. Commands are broker_agent_command's. */
#include "broker_cluster_view.h"

/* What the helpers below read. */
typedef struct {
    const broker_registry_t *registry; /* the broker's workers and services */
    int64_t now;                       /* zclock_mono() of the request */
} s_view_t;

static broker_worker_t *s_broker_worker(const s_view_t *self, const char *identity)
{
    zframe_t *frame = zframe_new(identity, strlen(identity));
    broker_worker_t *worker = frame ? broker_registry_worker(self->registry, frame) : NULL;
    zframe_destroy(&frame);
    return worker;
}

/* Age of the oldest job a registered worker holds, counted from its arrival. */
static int64_t s_job_age(const s_view_t *self, broker_worker_t *worker)
{
    int64_t oldest = 0;
    for (int i = 0; i < worker->capacity; i++)
        if (worker->jobs[i] && worker->jobs[i]->received &&
            (!oldest || worker->jobs[i]->received < oldest))
            oldest = worker->jobs[i]->received;
    return oldest ? self->now - oldest : 0;
}

/* One worker object: the agent's slot report, completed by the broker's own view of the
   connection (registered, last heartbeat, idle/busy, job age). */
static json_t *s_worker_json(const s_view_t *self, broker_agent_t *agent, json_t *slot,
                             zhashx_t *claimed)
{
    json_t *worker = json_deep_copy(slot);
    if (!worker)
        return NULL;
    char identity[SL_MAX_ADDRESS_BYTES + 1];
    snprintf(identity, sizeof identity, "%s/%lld/%lld", agent->host, (long long) agent->pid,
             (long long) json_integer_value(json_object_get(slot, "slot")));
    json_object_set_new(worker, "host", json_string(agent->host));
    json_object_set_new(worker, "service", json_string(agent->service));
    json_object_set_new(worker, "supervisor_pid", json_integer(agent->pid));
    json_object_set_new(worker, "identity", json_string(identity));
    json_object_set_new(worker, "managed", json_true());
    const char *state = json_string_value(json_object_get(slot, "state"));
    broker_worker_t *registered = json_integer_value(json_object_get(slot, "pid")) > 0
                                      ? s_broker_worker(self, identity)
                                      : NULL;
    json_object_set_new(worker, "registered", json_boolean(registered != NULL));
    if (registered) {
        zhashx_insert(claimed, registered->name, registered);
        json_object_set_new(worker, "last_heartbeat_ms",
                            json_integer(self->now - registered->heard_at));
        json_object_set_new(worker, "in_flight", json_integer(registered->busy));
        /* The broker knows best whether a registered worker holds a job right now. */
        if (state && (strcmp(state, "idle") == 0 || strcmp(state, "busy") == 0)) {
            json_object_set_new(worker, "state", json_string(registered->busy ? "busy" : "idle"));
            if (registered->busy && json_integer_value(json_object_get(slot, "job_age_ms")) == 0)
                json_object_set_new(worker, "job_age_ms",
                                    json_integer(s_job_age(self, registered)));
        }
    } else
        json_object_set_new(worker, "last_heartbeat_ms", json_null());
    return worker;
}

/* Counts a worker's state into the per-host summary. */
static void s_count_state(json_t *host, const char *state)
{
    json_t *states = json_object_get(host, "workers");
    json_t *count = json_object_get(states, state);
    json_object_set_new(states, state, json_integer(count ? json_integer_value(count) + 1 : 1));
}

static json_t *s_host_entry(json_t *hosts, const char *name)
{
    json_t *host = json_object_get(hosts, name);
    if (!host) {
        host = json_pack("{s:s, s:[], s:{}}", "host", name, "agents", "workers");
        json_object_set_new(hosts, name, host);
    }
    return host;
}

static json_t *s_service_entry(json_t *services, const char *name)
{
    json_t *service = json_object_get(services, name);
    if (!service) {
        service = json_pack("{s:s, s:i, s:n, s:i, s:i, s:i, s:i, s:[], s:b}", "name", name, "queue",
                            0, "oldest_wait_ms", "registered", 0, "idle", 0, "busy", 0, "target", 0,
                            "hosts", "rolling", 0);
        json_object_set_new(services, name, service);
    }
    return service;
}

static void s_add(json_t *object, const char *name, json_int_t amount)
{
    json_object_set_new(object, name,
                        json_integer(json_integer_value(json_object_get(object, name)) + amount));
}

json_t *broker_cluster_view(const broker_agents_t *agents_table, const broker_registry_t *registry,
                            const broker_autoscaler_t *autoscaler, const broker_config_t *config,
                            int64_t started, int64_t now)
{
    s_view_t view = {registry, now};
    const s_view_t *self = &view;
    json_t *services = json_object(), *hosts = json_object(), *workers = json_array();
    zhashx_t *claimed = zhashx_new(); /* broker worker names an agent accounted for */
    if (!services || !hosts || !workers || !claimed)
        goto fail;
    zhashx_set_key_duplicator(claimed, NULL);
    zhashx_set_key_destructor(claimed, NULL);
    /* Services the broker knows: queue and registration figures are its own. */
    for (broker_service_t *service = broker_registry_service_first(self->registry); service;
         service = broker_registry_service_next(self->registry)) {
        json_t *entry = s_service_entry(services, broker_service_name(service));
        size_t registered = broker_service_workers(service), idle = broker_service_idle(service);
        json_object_set_new(entry, "queue",
                            json_integer((json_int_t) broker_service_queued(service)));
        broker_request_t *oldest = broker_service_oldest(service);
        json_object_set_new(entry, "oldest_wait_ms",
                            oldest && oldest->received ? json_integer(self->now - oldest->received)
                                                       : json_integer(0));
        json_object_set_new(entry, "registered", json_integer((json_int_t) registered));
        json_object_set_new(entry, "idle", json_integer((json_int_t) idle));
        json_object_set_new(entry, "busy", json_integer((json_int_t) (registered - idle)));
    }
    size_t count = 0;
    broker_agent_t **agents = broker_agents_list(agents_table, NULL, NULL, &count);
    for (size_t i = 0; agents && i < count; i++) {
        broker_agent_t *agent = agents[i];
        json_t *status = agent->status;
        json_t *service = s_service_entry(services, agent->service);
        bool stopped = json_is_true(json_object_get(status, "stopped"));
        s_add(service, "target",
              stopped ? 0 : json_integer_value(json_object_get(status, "target")));
        json_t *service_hosts = json_object_get(service, "hosts");
        bool listed = false;
        for (size_t h = 0; h < json_array_size(service_hosts); h++)
            listed = listed ||
                     strcmp(json_string_value(json_array_get(service_hosts, h)), agent->host) == 0;
        if (!listed)
            json_array_append_new(service_hosts, json_string(agent->host));
        json_t *host = s_host_entry(hosts, agent->host);
        json_t *summary = json_pack(
            "{s:I, s:s, s:O?, s:O?, s:b, s:I, s:O?, s:O?, s:O?, s:O?}", "pid",
            (json_int_t) agent->pid, "service", agent->service, "handler",
            json_object_get(status, "handler"), "target", json_object_get(status, "target"),
            "stopped", stopped, "last_status_ms", (json_int_t) (self->now - agent->status_at),
            "uptime_ms", json_object_get(status, "uptime_ms"), "limits",
            json_object_get(status, "limits"), "recycled", json_object_get(status, "recycled"),
            "roll", json_object_get(status, "roll"));
        if (summary)
            json_array_append_new(json_object_get(host, "agents"), summary);
        json_t *slots = json_object_get(status, "workers");
        for (size_t w = 0; w < json_array_size(slots); w++) {
            json_t *worker = s_worker_json(self, agent, json_array_get(slots, w), claimed);
            if (!worker)
                continue;
            s_count_state(host, json_string_value(json_object_get(worker, "state")));
            json_array_append_new(workers, worker);
        }
    }
    free(agents);
    /* Workers no agent reported: plain MDP workers, or programs linking slowlane/worker.h
       themselves. Listed, but nobody can scale or restart them. */
    for (broker_worker_t *worker = broker_registry_worker_first(self->registry); worker;
         worker = broker_registry_worker_next(self->registry)) {
        if (zhashx_lookup(claimed, worker->name))
            continue;
        json_t *entry = json_pack(
            "{s:n, s:s, s:n, s:s, s:s, s:b, s:b, s:I, s:I, s:i}", "host", "service",
            broker_service_name(worker->service), "pid", "identity", worker->name, "state",
            worker->busy ? "busy" : "idle", "managed", 0, "registered", 1, "last_heartbeat_ms",
            (json_int_t) (self->now - worker->heard_at), "job_age_ms",
            (json_int_t) (worker->busy ? s_job_age(self, worker) : 0), "in_flight", worker->busy);
        if (entry)
            json_array_append_new(workers, entry);
    }
    /* Rolling restarts under way. */
    for (const char *name = broker_agents_rolling_first(agents_table); name;
         name = broker_agents_rolling_next(agents_table))
        json_object_set_new(s_service_entry(services, name), "rolling", json_true());
    json_t *service_list = json_array(), *host_list = json_array();
    const char *name;
    json_t *value;
    json_object_foreach(services, name, value)
    {
        json_t *policy = broker_autoscaler_describe(autoscaler, name, now);
        if (policy)
            json_object_set_new(value, "autoscale", policy);
    }
    json_object_foreach(services, name, value) json_array_append(service_list, value);
    json_object_foreach(hosts, name, value) json_array_append(host_list, value);
    json_t *answer = json_pack(
        "{s:{s:I, s:I, s:I, s:I}, s:o, s:o, s:o}", "broker", "heartbeat_ms",
        (json_int_t) config->heartbeat_ms, "liveness", (json_int_t) config->liveness, "agents",
        (json_int_t) broker_agents_size(agents_table), "uptime_ms", (json_int_t) (now - started),
        "services", service_list, "hosts", host_list, "workers", workers);
    json_decref(services);
    json_decref(hosts);
    zhashx_destroy(&claimed);
    return answer;

fail:
    json_decref(services);
    json_decref(hosts);
    json_decref(workers);
    zhashx_destroy(&claimed);
    return NULL;
}
