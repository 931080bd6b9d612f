/*  broker_agent_admin: the two broker-handled admin services of the cluster manager
    (docs/protocol.md section 7.4). mmi.cluster answers the cluster view: services with
    queue depth and oldest wait, every worker with host, service, pid and state (the
    supervisor's report merged with what the broker itself sees), hosts with their agents.
    mmi.cluster.command turns one JSON command into SLAGENT1 COMMANDs to the right agents
    and answers what it did. The membership table is broker_agent.c's. */
#include "broker_agent.h"

#include "broker_agent_private.h"
#include "sl_agent.h"
#include "sl_request_id.h"

static int s_by_key(const void *a, const void *b)
{
    return strcmp((*(broker_agent_t *const *) a)->key, (*(broker_agent_t *const *) b)->key);
}

/* The agents of service (and of host, if not NULL), sorted by key: a stable order makes
   the spread of a scale repeatable. Returns a new array (caller frees) and its size. */
static broker_agent_t **s_agents_of(broker_t *self, const char *service, const char *host,
                                    size_t *count)
{
    size_t size = zhashx_size(self->agents->agents);
    broker_agent_t **found = calloc(size ? size : 1, sizeof *found);
    *count = 0;
    if (!found)
        return NULL;
    for (broker_agent_t *agent = zhashx_first(self->agents->agents); agent;
         agent = zhashx_next(self->agents->agents))
        if ((!service || strcmp(agent->service, service) == 0) &&
            (!host || strcmp(agent->host, host) == 0))
            found[(*count)++] = agent;
    qsort(found, *count, sizeof *found, s_by_key);
    return found;
}

/* ---------------------------------------------------------------- the view */

static broker_worker_t *s_broker_worker(broker_t *self, const char *identity)
{
    zframe_t *frame = zframe_new(identity, strlen(identity));
    broker_worker_t *worker = frame ? broker_registry_worker(self->registry, frame) : NULL;
    zframe_destroy(&frame);
    return worker;
}

/* Age of the oldest job a registered worker holds, counted from its arrival. */
static int64_t s_job_age(broker_t *self, broker_worker_t *worker)
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
static json_t *s_worker_json(broker_t *self, broker_agent_t *agent, json_t *slot, zhashx_t *claimed)
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
                            json_integer(self->now - (registered->expiry - self->expiry_ms)));
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

json_t *broker_agent_view(broker_t *self)
{
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
    broker_agent_t **agents = s_agents_of(self, NULL, NULL, &count);
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
            (json_int_t) (self->now - (worker->expiry - self->expiry_ms)), "job_age_ms",
            (json_int_t) (worker->busy ? s_job_age(self, worker) : 0), "in_flight", worker->busy);
        if (entry)
            json_array_append_new(workers, entry);
    }
    /* Rolling restarts under way. */
    for (void *roll = zhashx_first(self->agents->rolls); roll;
         roll = zhashx_next(self->agents->rolls)) {
        const char *name = (const char *) zhashx_cursor(self->agents->rolls);
        json_object_set_new(s_service_entry(services, name), "rolling", json_true());
    }
    json_t *service_list = json_array(), *host_list = json_array();
    const char *name;
    json_t *value;
    json_object_foreach(services, name, value) json_array_append(service_list, value);
    json_object_foreach(hosts, name, value) json_array_append(host_list, value);
    json_t *view = json_pack("{s:{s:I, s:I, s:I, s:I}, s:o, s:o, s:o}", "broker", "heartbeat_ms",
                             (json_int_t) self->config.heartbeat_ms, "liveness",
                             (json_int_t) self->config.liveness, "agents",
                             (json_int_t) zhashx_size(self->agents->agents), "uptime_ms",
                             (json_int_t) (self->now - self->started), "services", service_list,
                             "hosts", host_list, "workers", workers);
    json_decref(services);
    json_decref(hosts);
    zhashx_destroy(&claimed);
    return view;

fail:
    json_decref(services);
    json_decref(hosts);
    json_decref(workers);
    zhashx_destroy(&claimed);
    return NULL;
}

/* ---------------------------------------------------------------- commands */

static json_t *s_error(int status, const char *error, const char *message)
{
    return json_pack("{s:b, s:i, s:s, s:s}", "ok", 0, "status", status, "error", error, "message",
                     message);
}

/* Live, registered workers an agent reported: who a broadcast reaches now. */
static json_int_t s_live_workers(broker_agent_t *agent)
{
    json_t *slots = json_object_get(agent->status, "workers");
    json_int_t live = 0;
    for (size_t i = 0; i < json_array_size(slots); i++) {
        const char *state = json_string_value(json_object_get(json_array_get(slots, i), "state"));
        live += state && (strcmp(state, "idle") == 0 || strcmp(state, "busy") == 0);
    }
    return live;
}

/* Runs one command object; returns the answer object (never NULL but out of memory). */
static json_t *s_run(broker_t *self, json_t *request)
{
    const char *op = json_string_value(json_object_get(request, "op"));
    const char *service = json_string_value(json_object_get(request, "service"));
    json_t *host_value = json_object_get(request, "host");
    const char *host = json_string_value(host_value);
    if (!op)
        return s_error(400, "bad_request", "op is required");
    if (!service || !*service || strlen(service) > SL_MAX_SERVICE_NAME)
        return s_error(400, "bad_request", "service is required (1..255 bytes)");
    if (host_value && !json_is_null(host_value) && (!host || !*host))
        return s_error(400, "bad_request", "host must be a non-empty string");
    /* What goes to the agents: checked by the same rules the agents apply. */
    json_t *command = json_pack("{s:s}", "op", op);
    if (!command)
        return NULL;
    if (strcmp(op, "scale") == 0)
        json_object_set(command, "count", json_object_get(request, "count"));
    bool broadcast = strcmp(op, "broadcast") == 0;
    char id[SL_BROADCAST_ID_MAX + 1] = "";
    if (broadcast) {
        json_t *given = json_object_get(request, "id");
        if (given)
            json_object_set(command, "id", given);
        else {
            sl_request_id_generate(id);
            json_object_set_new(command, "id", json_string(id));
        }
        json_object_set(command, "message", json_object_get(request, "message"));
    }
    const char *reason = NULL;
    if (strcmp(op, "restart") != 0 && sl_agent_op_check(command, &reason) < 0) {
        json_decref(command);
        return s_error(400, "bad_request", reason);
    }
    size_t count = 0;
    broker_agent_t **agents = s_agents_of(self, service, host, &count);
    if (!agents) {
        json_decref(command);
        return NULL;
    }
    json_t *answer = NULL;
    if (count == 0) {
        char message[400];
        snprintf(message, sizeof message, "no supervisor of service %s%s%s is connected", service,
                 host ? " on host " : "", host ? host : "");
        answer = s_error(404, "no_agent", message);
        goto done;
    }
    json_t *targets = json_array();
    answer =
        json_pack("{s:b, s:i, s:s, s:s}", "ok", 1, "status", 202, "op", op, "service", service);
    if (strcmp(op, "restart") == 0) {
        char roll[SL_BROADCAST_ID_MAX + 1];
        if (broker_agent_roll(self, service, agents, count, roll) != 0) {
            json_decref(answer);
            json_decref(targets);
            answer =
                s_error(409, "roll_in_progress", "a rolling restart of this service is under way");
            goto done;
        }
        json_object_set_new(answer, "roll", json_string(roll));
    }
    int64_t *share = calloc(count, sizeof *share);
    if (strcmp(op, "scale") == 0 && share)
        sl_agent_spread(json_integer_value(json_object_get(command, "count")), count, share);
    json_int_t reached = 0;
    for (size_t i = 0; i < count; i++) {
        json_t *target =
            json_pack("{s:s, s:I}", "host", agents[i]->host, "pid", (json_int_t) agents[i]->pid);
        if (strcmp(op, "scale") == 0) {
            json_object_set_new(command, "count", json_integer(share ? share[i] : 0));
            json_object_set_new(target, "count", json_integer(share ? share[i] : 0));
        }
        if (broadcast) {
            json_int_t live = s_live_workers(agents[i]);
            json_object_set_new(target, "workers", json_integer(live));
            reached += live;
        }
        if (strcmp(op, "restart") != 0) // a roll tells its agents one at a time
            broker_agent_command(self, agents[i], command);
        json_array_append_new(targets, target);
    }
    free(share);
    if (broadcast) {
        json_object_set(answer, "id", json_object_get(command, "id"));
        json_object_set_new(answer, "workers", json_integer(reached));
    }
    json_object_set_new(answer, "agents", targets);
    sl_log(SL_LOG_INFO, NULL, "cluster_command", "op=%s service=%s host=%s agents=%zu", op, service,
           host ? host : "-", count);
done:
    free(agents);
    json_decref(command);
    return answer;
}

bool broker_agent_is_mmi(const char *name)
{
    return strcmp(name, "mmi.cluster") == 0 || strcmp(name, "mmi.cluster.command") == 0;
}

void broker_agent_mmi(broker_t *self, zframe_t *client, sl_mdp_msg_t *msg, const char *name)
{
    /* Body: [tag] for mmi.cluster, [tag, command] for mmi.cluster.command. The tag is
       echoed first, so a client can tell a late answer from the one it waits for. */
    zmsg_t *request = msg->body;
    size_t frames = request ? zmsg_size(request) : 0;
    zframe_t *tag = frames > 0 ? zmsg_first(request) : NULL;
    json_t *answer = NULL;
    if (strcmp(name, "mmi.cluster") == 0)
        answer = broker_agent_view(self);
    else if (frames != 2)
        answer = s_error(400, "bad_request", "want [tag, command]");
    else {
        zframe_t *body = zmsg_next(request);
        json_error_t error;
        json_t *command =
            json_loadb((const char *) zframe_data(body), zframe_size(body), 0, &error);
        answer = json_is_object(command)
                     ? s_run(self, command)
                     : s_error(400, "bad_request", "command is not a JSON object");
        json_decref(command);
    }
    char *text = answer ? json_dumps(answer, JSON_COMPACT) : NULL;
    json_decref(answer);
    zmsg_t *body = zmsg_new();
    if (tag)
        zmsg_addmem(body, zframe_data(tag), zframe_size(tag));
    zmsg_addstr(body, text ? text : "{\"ok\":false,\"status\":500,\"error\":\"out_of_memory\"}");
    free(text);
    zmsg_t *reply = sl_mdp_encode_client_reply(msg->version, SL_MDP_FINAL, msg->service, &body);
    broker_router_send(self->router, client, &reply);
}
