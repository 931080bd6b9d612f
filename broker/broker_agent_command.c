/*  broker_agent_command: mmi.cluster.command (docs/protocol.md section 7.4) on the agent
    table: checks one JSON command, turns it into SLAGENT1 COMMANDs to the right agents
    (scale spread evenly in key order, restart as a roll, broadcast with an id) and answers
    what it did. The table and the rolls are broker_agent.c's; the reply's framing is
    broker_mmi's. */
#include "broker_agent.h"
#include "sl_log.h"
#include "sl_request_id.h"

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
static json_t *s_run(broker_agents_t *self, json_t *request, int64_t now)
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
    broker_agent_t **agents = broker_agents_list(self, service, host, &count);
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
        if (broker_agents_roll(self, service, agents, count, roll, now) != 0) {
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
            broker_agents_send(self, agents[i], command);
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

json_t *broker_agents_command(broker_agents_t *self, zmsg_t *request, int64_t now)
{
    /* Body: [tag, command]; the tag is the caller's to echo. */
    if (!request || zmsg_size(request) != 2)
        return s_error(400, "bad_request", "want [tag, command]");
    zmsg_first(request);
    zframe_t *body = zmsg_next(request);
    json_error_t error;
    json_t *command = json_loadb((const char *) zframe_data(body), zframe_size(body), 0, &error);
    json_t *answer = json_is_object(command)
                         ? s_run(self, command, now)
                         : s_error(400, "bad_request", "command is not a JSON object");
    json_decref(command);
    return answer;
}
