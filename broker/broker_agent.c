/*  broker_agent: cluster membership and the cluster manager's commands (see broker_agent.h).
    Agents are few (one per supervisor) and speak once per heartbeat, so this file may scan
    its table; none of it runs per request. Views and command answers are built on demand,
    from the agents' last STATUS and the broker's own live tables, never cached. */
#include "broker_agent.h"

#include "broker_agent_private.h"
#include "sl_agent.h"
#include "sl_request_id.h"

static void s_agent_destroy(broker_agent_t **agent_p)
{
    broker_agent_t *agent = *agent_p;
    if (!agent)
        return;
    free(agent->key);
    zframe_destroy(&agent->routing);
    json_decref(agent->status);
    free(agent);
    *agent_p = NULL;
}

static void s_roll_destroy(broker_roll_t **roll_p)
{
    broker_roll_t *roll = *roll_p;
    if (!roll)
        return;
    zlistx_destroy(&roll->pending);
    free(roll);
    *roll_p = NULL;
}

broker_agents_t *broker_agents_new(void)
{
    broker_agents_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->agents = zhashx_new();
    self->rolls = zhashx_new();
    if (!self->agents || !self->rolls) {
        broker_agents_destroy(&self);
        return NULL;
    }
    zhashx_set_destructor(self->agents, (zhashx_destructor_fn *) s_agent_destroy);
    zhashx_set_destructor(self->rolls, (zhashx_destructor_fn *) s_roll_destroy);
    return self;
}

void broker_agents_destroy(broker_agents_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    broker_agents_t *self = *self_p;
    zhashx_destroy(&self->agents);
    zhashx_destroy(&self->rolls);
    free(self);
    *self_p = NULL;
}

void broker_agent_command(broker_t *self, broker_agent_t *agent, json_t *command)
{
    zmsg_t *msg = sl_agent_encode(SL_AGENT_COMMAND, command);
    broker_router_send(self->router, agent->routing, &msg);
}

/* ---------------------------------------------------------------- rolling restarts */

static const char *s_status_string(const json_t *status, const char *object, const char *name)
{
    return json_string_value(json_object_get(json_object_get(status, object), name));
}

/* Tells the next agent of roll to restart its workers one by one; retires the roll when
   every agent has finished. One agent at a time, so the service loses one worker at most. */
static void s_roll_advance(broker_t *self, broker_roll_t *roll)
{
    char *key;
    while ((key = (char *) zlistx_detach(roll->pending, NULL))) {
        broker_agent_t *agent = (broker_agent_t *) zhashx_lookup(self->agents->agents, key);
        snprintf(roll->current, sizeof roll->current, "%s", key);
        free(key);
        if (!agent)
            continue; // gone since the roll began: its workers are gone too
        json_t *command = json_pack("{s:s, s:s}", "op", "restart", "roll", roll->id);
        broker_agent_command(self, agent, command);
        json_decref(command);
        roll->sent = self->now;
        sl_log(SL_LOG_INFO, NULL, "roll_agent", "roll=%s service=%s agent=%s", roll->id,
               roll->service, agent->key);
        return;
    }
    sl_log(SL_LOG_INFO, NULL, "roll_done", "roll=%s service=%s", roll->id, roll->service);
    zhashx_delete(self->agents->rolls, roll->service);
}

int broker_agent_roll(broker_t *self, const char *service, broker_agent_t **agents, size_t count,
                      char *id)
{
    if (zhashx_lookup(self->agents->rolls, service))
        return -1;
    broker_roll_t *roll = calloc(1, sizeof *roll);
    if (!roll || !(roll->pending = zlistx_new())) {
        free(roll);
        return -1;
    }
    zlistx_set_destructor(roll->pending, (zlistx_destructor_fn *) zstr_free);
    sl_request_id_generate(roll->id);
    snprintf(roll->service, sizeof roll->service, "%s", service);
    for (size_t i = 0; i < count; i++)
        zlistx_add_end(roll->pending, strdup(agents[i]->key));
    zhashx_insert(self->agents->rolls, service, roll);
    memcpy(id, roll->id, sizeof roll->id);
    sl_log(SL_LOG_INFO, NULL, "roll_started", "roll=%s service=%s agents=%zu", roll->id, service,
           count);
    s_roll_advance(self, roll);
    return 0;
}

/* An agent reported: if it is the one rolling and it says our roll is done, go on. */
static void s_roll_check(broker_t *self, broker_agent_t *agent)
{
    broker_roll_t *roll = (broker_roll_t *) zhashx_lookup(self->agents->rolls, agent->service);
    if (!roll || strcmp(roll->current, agent->key) != 0)
        return;
    const char *done = s_status_string(agent->status, "roll", "done");
    if (done && strcmp(done, roll->id) == 0)
        s_roll_advance(self, roll);
}

/* ---------------------------------------------------------------- agent messages */

static broker_agent_t *s_agent_by_routing(broker_t *self, zframe_t *routing)
{
    for (broker_agent_t *agent = zhashx_first(self->agents->agents); agent;
         agent = zhashx_next(self->agents->agents))
        if (zframe_eq(agent->routing, routing))
            return agent;
    return NULL;
}

static void s_forget(broker_t *self, broker_agent_t *agent, const char *reason)
{
    sl_log(SL_LOG_INFO, NULL, "agent_left", "agent=%s service=%s reason=%s", agent->key,
           agent->service, reason);
    zhashx_delete(self->agents->agents, agent->key);
}

/* A STATUS body must name its host, pid and service and list its workers; anything else
   from the network is refused here, so the view code may trust these four. */
static int s_status_check(json_t *status, const char **reason)
{
    const char *host = json_string_value(json_object_get(status, "host"));
    const char *service = json_string_value(json_object_get(status, "service"));
    json_t *pid = json_object_get(status, "pid");
    *reason = "status_fields";
    if (!host || !*host || strlen(host) > BROKER_AGENT_HOST_MAX || strchr(host, '/'))
        return -1;
    if (!service || !*service || strlen(service) > SL_MAX_SERVICE_NAME)
        return -1;
    if (!json_is_integer(pid) || json_integer_value(pid) <= 0)
        return -1;
    if (!json_is_array(json_object_get(status, "workers")))
        return -1;
    return 0;
}

static void s_status(broker_t *self, zframe_t *sender, json_t *status)
{
    const char *reason = NULL;
    if (s_status_check(status, &reason) != 0) {
        sl_log_limited(&self->agents->malformed_limit, SL_LOG_WARN, NULL, "agent_malformed",
                       "reason=%s", reason);
        return;
    }
    char key[BROKER_AGENT_KEY_MAX];
    snprintf(key, sizeof key, "%s/%lld", json_string_value(json_object_get(status, "host")),
             (long long) json_integer_value(json_object_get(status, "pid")));
    broker_agent_t *agent = (broker_agent_t *) zhashx_lookup(self->agents->agents, key);
    if (!agent) {
        agent = calloc(1, sizeof *agent);
        if (!agent || !(agent->key = strdup(key))) {
            free(agent);
            return;
        }
        snprintf(agent->host, sizeof agent->host, "%s",
                 json_string_value(json_object_get(status, "host")));
        snprintf(agent->service, sizeof agent->service, "%s",
                 json_string_value(json_object_get(status, "service")));
        agent->pid = json_integer_value(json_object_get(status, "pid"));
        zhashx_insert(self->agents->agents, agent->key, agent);
        sl_log(SL_LOG_INFO, NULL, "agent_joined", "agent=%s service=%s", agent->key,
               agent->service);
    }
    if (!agent->routing || !zframe_eq(agent->routing, sender)) {
        zframe_destroy(&agent->routing);
        agent->routing = zframe_dup(sender);
    }
    json_decref(agent->status);
    agent->status = json_incref(status);
    agent->heard = agent->status_at = self->now;
    agent->expiry = self->now + self->expiry_ms;
    s_roll_check(self, agent);
}

/* ALIVE: nothing new since its last STATUS. One we do not know (we restarted, or forgot it
   after a silence) is asked for a whole STATUS instead of waiting for its next one. */
static void s_alive(broker_t *self, zframe_t *sender)
{
    broker_agent_t *agent = s_agent_by_routing(self, sender);
    if (agent) {
        agent->heard = self->now;
        agent->expiry = self->now + self->expiry_ms;
        return;
    }
    json_t *command = json_pack("{s:s}", "op", "status");
    zmsg_t *msg = command ? sl_agent_encode(SL_AGENT_COMMAND, command) : NULL;
    json_decref(command);
    broker_router_send(self->router, sender, &msg);
}

void broker_agent_message(broker_t *self, zframe_t *sender, zmsg_t **msg_p)
{
    sl_agent_msg_t msg;
    const char *reason = NULL;
    if (sl_agent_decode(msg_p, &msg, &reason) != 0) {
        sl_log_limited(&self->agents->malformed_limit, SL_LOG_WARN, NULL, "agent_malformed",
                       "reason=%s", reason);
        return;
    }
    if (msg.command == SL_AGENT_STATUS)
        s_status(self, sender, msg.body);
    else if (msg.command == SL_AGENT_ALIVE)
        s_alive(self, sender);
    else if (msg.command == SL_AGENT_BYE) {
        broker_agent_t *agent = s_agent_by_routing(self, sender);
        if (agent)
            s_forget(self, agent, "bye");
    } else
        sl_log_limited(&self->agents->malformed_limit, SL_LOG_WARN, NULL, "agent_malformed",
                       "reason=command_from_agent");
    sl_agent_msg_reset(&msg);
}

void broker_agent_tick(broker_t *self)
{
    zlistx_t *gone = zlistx_new();
    for (broker_agent_t *agent = zhashx_first(self->agents->agents); gone && agent;
         agent = zhashx_next(self->agents->agents))
        if (agent->expiry <= self->now)
            zlistx_add_end(gone, agent);
    broker_agent_t *agent;
    while (gone && (agent = (broker_agent_t *) zlistx_detach(gone, NULL)))
        s_forget(self, agent, "expired");
    zlistx_destroy(&gone);
    /* A roll whose agent vanished moves on; one whose command was lost is told again. */
    zlistx_t *rolls = zlistx_new();
    for (broker_roll_t *roll = zhashx_first(self->agents->rolls); rolls && roll;
         roll = zhashx_next(self->agents->rolls))
        zlistx_add_end(rolls, roll);
    broker_roll_t *roll;
    while (rolls && (roll = (broker_roll_t *) zlistx_detach(rolls, NULL))) {
        agent = (broker_agent_t *) zhashx_lookup(self->agents->agents, roll->current);
        if (!agent)
            s_roll_advance(self, roll);
        else if (self->now - roll->sent > self->expiry_ms) {
            const char *id = s_status_string(agent->status, "roll", "id");
            if (!id || strcmp(id, roll->id) != 0) {
                json_t *command = json_pack("{s:s, s:s}", "op", "restart", "roll", roll->id);
                broker_agent_command(self, agent, command);
                json_decref(command);
                roll->sent = self->now;
            }
        }
    }
    zlistx_destroy(&rolls);
}
