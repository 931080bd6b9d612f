/*  broker_agent: cluster membership and rolling restarts (see broker_agent.h). Agents are
    few (one per supervisor) and speak once per heartbeat, so this file may scan its table;
    none of it runs per request. It sends through broker_router and knows nothing of the
    broker's workers or services. */
#include "broker_agent.h"
#include "sl_log.h"
#include "sl_request_id.h"

typedef struct {
    char id[SL_BROADCAST_ID_MAX + 1];      /* reported back by agents when done */
    char service[SL_MAX_SERVICE_NAME + 1]; /* the service rolling */
    zlistx_t *pending;                     /* agent keys still to roll (owned strings) */
    char current[BROKER_AGENT_KEY_MAX];    /* agent rolling now, "" none */
    int64_t sent;                          /* when current was told */
} broker_roll_t;

struct _broker_agents_t {
    zhashx_t *agents;               /* key -> broker_agent_t (owned) */
    zhashx_t *rolls;                /* service -> broker_roll_t (owned) */
    broker_router_t *router;        /* borrowed: COMMANDs go out through it */
    int64_t expiry_ms;              /* silence after which an agent is forgotten */
    sl_log_limit_t malformed_limit; /* bad agent messages */
};

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

broker_agents_t *broker_agents_new(broker_router_t *router, int64_t expiry_ms)
{
    broker_agents_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->router = router;
    self->expiry_ms = expiry_ms;
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

/* Times a scale is sent before the broker gives up on an agent that never reports it. */
#define S_SCALE_TRIES 5
/* How long an agent has to report a scale's count before it is sent again. */
#define S_SCALE_RESEND_MS 500

static int s_target(const broker_agent_t *agent)
{
    return (int) json_integer_value(json_object_get(agent->status, "target"));
}

void broker_agents_send(broker_agents_t *self, broker_agent_t *agent, json_t *command)
{
    const char *op = json_string_value(json_object_get(command, "op"));
    if (op && strcmp(op, "scale") == 0) {
        int count = (int) json_integer_value(json_object_get(command, "count"));
        if (count != agent->scale_sent)
            agent->scale_tries = 0;
        agent->scale_sent = count;
        agent->scale_sent_at = zclock_mono();
        agent->scale_tries++;
    }
    zmsg_t *msg = sl_agent_encode(SL_AGENT_COMMAND, command);
    broker_router_send(self->router, agent->routing, &msg);
}

/* A scale the agent has not applied is sent again: a command that reaches a supervisor while
   it forks a worker is lost with the agent's socket, which it closes around every fork. Done
   once a STATUS newer than the send reports the count; given up after S_SCALE_TRIES sends
   (S_SCALE_TRIES x S_SCALE_RESEND_MS), so another broker's later scale of the same agent
   is overridden for that long at most. */
static void s_scale_check(broker_agents_t *self, broker_agent_t *agent, int64_t now)
{
    if (agent->scale_sent < 0)
        return;
    if (agent->status_at > agent->scale_sent_at && s_target(agent) == agent->scale_sent) {
        agent->scale_sent = -1;
        return;
    }
    if (now - agent->scale_sent_at < S_SCALE_RESEND_MS)
        return;
    if (agent->scale_tries >= S_SCALE_TRIES) {
        sl_log(SL_LOG_WARN, NULL, "agent_scale_lost", "agent=%s count=%d tries=%d", agent->key,
               agent->scale_sent, agent->scale_tries);
        agent->scale_sent = -1;
        return;
    }
    json_t *command = json_pack("{s:s, s:i}", "op", "scale", "count", agent->scale_sent);
    if (command) {
        sl_log(SL_LOG_INFO, NULL, "agent_scale_resent", "agent=%s count=%d", agent->key,
               agent->scale_sent);
        broker_agents_send(self, agent, command);
        json_decref(command);
    }
}

size_t broker_agents_size(const broker_agents_t *self)
{
    return zhashx_size(self->agents);
}

static int s_by_key(const void *a, const void *b)
{
    return strcmp((*(broker_agent_t *const *) a)->key, (*(broker_agent_t *const *) b)->key);
}

broker_agent_t **broker_agents_list(const broker_agents_t *self, const char *service,
                                    const char *host, size_t *count)
{
    size_t size = zhashx_size(self->agents);
    broker_agent_t **found = calloc(size ? size : 1, sizeof *found);
    *count = 0;
    if (!found)
        return NULL;
    for (broker_agent_t *agent = zhashx_first(self->agents); agent;
         agent = zhashx_next(self->agents))
        if ((!service || strcmp(agent->service, service) == 0) &&
            (!host || strcmp(agent->host, host) == 0))
            found[(*count)++] = agent;
    qsort(found, *count, sizeof *found, s_by_key);
    return found;
}

const char *broker_agents_rolling_first(const broker_agents_t *self)
{
    return zhashx_first(self->rolls) ? (const char *) zhashx_cursor(self->rolls) : NULL;
}

const char *broker_agents_rolling_next(const broker_agents_t *self)
{
    return zhashx_next(self->rolls) ? (const char *) zhashx_cursor(self->rolls) : NULL;
}

/* ---------------------------------------------------------------- rolling restarts */

static const char *s_status_string(const json_t *status, const char *object, const char *name)
{
    return json_string_value(json_object_get(json_object_get(status, object), name));
}

/* Tells the next agent of roll to restart its workers one by one; retires the roll when
   every agent has finished. One agent at a time, so the service loses one worker at most. */
static void s_roll_advance(broker_agents_t *self, broker_roll_t *roll, int64_t now)
{
    char *key;
    while ((key = (char *) zlistx_detach(roll->pending, NULL))) {
        broker_agent_t *agent = (broker_agent_t *) zhashx_lookup(self->agents, key);
        snprintf(roll->current, sizeof roll->current, "%s", key);
        free(key);
        if (!agent)
            continue; // gone since the roll began: its workers are gone too
        json_t *command = json_pack("{s:s, s:s}", "op", "restart", "roll", roll->id);
        broker_agents_send(self, agent, command);
        json_decref(command);
        roll->sent = now;
        sl_log(SL_LOG_INFO, NULL, "roll_agent", "roll=%s service=%s agent=%s", roll->id,
               roll->service, agent->key);
        return;
    }
    sl_log(SL_LOG_INFO, NULL, "roll_done", "roll=%s service=%s", roll->id, roll->service);
    zhashx_delete(self->rolls, roll->service);
}

int broker_agents_roll(broker_agents_t *self, const char *service, broker_agent_t **agents,
                       size_t count, char *id, int64_t now)
{
    if (zhashx_lookup(self->rolls, service))
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
    zhashx_insert(self->rolls, service, roll);
    memcpy(id, roll->id, sizeof roll->id);
    sl_log(SL_LOG_INFO, NULL, "roll_started", "roll=%s service=%s agents=%zu", roll->id, service,
           count);
    s_roll_advance(self, roll, now);
    return 0;
}

/* An agent reported: if it is the one rolling and it says our roll is done, go on. */
static void s_roll_check(broker_agents_t *self, broker_agent_t *agent, int64_t now)
{
    broker_roll_t *roll = (broker_roll_t *) zhashx_lookup(self->rolls, agent->service);
    if (!roll || strcmp(roll->current, agent->key) != 0)
        return;
    const char *done = s_status_string(agent->status, "roll", "done");
    if (done && strcmp(done, roll->id) == 0)
        s_roll_advance(self, roll, now);
}

/* ---------------------------------------------------------------- agent messages */

static broker_agent_t *s_agent_by_routing(broker_agents_t *self, zframe_t *routing)
{
    for (broker_agent_t *agent = zhashx_first(self->agents); agent;
         agent = zhashx_next(self->agents))
        if (zframe_eq(agent->routing, routing))
            return agent;
    return NULL;
}

static void s_forget(broker_agents_t *self, broker_agent_t *agent, const char *reason)
{
    sl_log(SL_LOG_INFO, NULL, "agent_left", "agent=%s service=%s reason=%s", agent->key,
           agent->service, reason);
    zhashx_delete(self->agents, agent->key);
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

static void s_status(broker_agents_t *self, zframe_t *sender, json_t *status, int64_t now)
{
    const char *reason = NULL;
    if (s_status_check(status, &reason) != 0) {
        sl_log_limited(&self->malformed_limit, SL_LOG_WARN, NULL, "agent_malformed", "reason=%s",
                       reason);
        return;
    }
    char key[BROKER_AGENT_KEY_MAX];
    snprintf(key, sizeof key, "%s/%lld", json_string_value(json_object_get(status, "host")),
             (long long) json_integer_value(json_object_get(status, "pid")));
    broker_agent_t *agent = (broker_agent_t *) zhashx_lookup(self->agents, key);
    if (!agent) {
        agent = calloc(1, sizeof *agent);
        if (!agent || !(agent->key = strdup(key))) {
            free(agent);
            return;
        }
        agent->scale_sent = -1;
        snprintf(agent->host, sizeof agent->host, "%s",
                 json_string_value(json_object_get(status, "host")));
        snprintf(agent->service, sizeof agent->service, "%s",
                 json_string_value(json_object_get(status, "service")));
        agent->pid = json_integer_value(json_object_get(status, "pid"));
        zhashx_insert(self->agents, agent->key, agent);
        sl_log(SL_LOG_INFO, NULL, "agent_joined", "agent=%s service=%s", agent->key,
               agent->service);
    }
    if (!agent->routing || !zframe_eq(agent->routing, sender)) {
        zframe_destroy(&agent->routing);
        agent->routing = zframe_dup(sender);
    }
    json_decref(agent->status);
    agent->status = json_incref(status);
    agent->heard = agent->status_at = now;
    agent->expiry = now + self->expiry_ms;
    s_roll_check(self, agent, now);
}

/* ALIVE: nothing new since its last STATUS. One we do not know (we restarted, or forgot it
   after a silence) is asked for a whole STATUS instead of waiting for its next one. */
static void s_alive(broker_agents_t *self, zframe_t *sender, int64_t now)
{
    broker_agent_t *agent = s_agent_by_routing(self, sender);
    if (agent) {
        agent->heard = now;
        agent->expiry = now + self->expiry_ms;
        return;
    }
    json_t *command = json_pack("{s:s}", "op", "status");
    zmsg_t *msg = command ? sl_agent_encode(SL_AGENT_COMMAND, command) : NULL;
    json_decref(command);
    broker_router_send(self->router, sender, &msg);
}

void broker_agents_message(broker_agents_t *self, zframe_t *sender, zmsg_t **msg_p, int64_t now)
{
    sl_agent_msg_t msg;
    const char *reason = NULL;
    if (sl_agent_decode(msg_p, &msg, &reason) != 0) {
        sl_log_limited(&self->malformed_limit, SL_LOG_WARN, NULL, "agent_malformed", "reason=%s",
                       reason);
        return;
    }
    if (msg.command == SL_AGENT_STATUS)
        s_status(self, sender, msg.body, now);
    else if (msg.command == SL_AGENT_ALIVE)
        s_alive(self, sender, now);
    else if (msg.command == SL_AGENT_BYE) {
        broker_agent_t *agent = s_agent_by_routing(self, sender);
        if (agent)
            s_forget(self, agent, "bye");
    } else
        sl_log_limited(&self->malformed_limit, SL_LOG_WARN, NULL, "agent_malformed",
                       "reason=command_from_agent");
    sl_agent_msg_reset(&msg);
}

void broker_agents_postpone(broker_agents_t *self, int64_t ms)
{
    for (broker_agent_t *agent = zhashx_first(self->agents); agent;
         agent = zhashx_next(self->agents))
        agent->expiry += ms;
}

void broker_agents_tick(broker_agents_t *self, int64_t now)
{
    zlistx_t *gone = zlistx_new();
    for (broker_agent_t *agent = zhashx_first(self->agents); gone && agent;
         agent = zhashx_next(self->agents))
        if (agent->expiry <= now)
            zlistx_add_end(gone, agent);
    broker_agent_t *agent;
    while (gone && (agent = (broker_agent_t *) zlistx_detach(gone, NULL)))
        s_forget(self, agent, "expired");
    zlistx_destroy(&gone);
    for (agent = zhashx_first(self->agents); agent; agent = zhashx_next(self->agents))
        s_scale_check(self, agent, now);
    /* A roll whose agent vanished moves on; one whose command was lost is told again. */
    zlistx_t *rolls = zlistx_new();
    for (broker_roll_t *roll = zhashx_first(self->rolls); rolls && roll;
         roll = zhashx_next(self->rolls))
        zlistx_add_end(rolls, roll);
    broker_roll_t *roll;
    while (rolls && (roll = (broker_roll_t *) zlistx_detach(rolls, NULL))) {
        agent = (broker_agent_t *) zhashx_lookup(self->agents, roll->current);
        if (!agent)
            s_roll_advance(self, roll, now);
        else if (now - roll->sent > self->expiry_ms) {
            const char *id = s_status_string(agent->status, "roll", "id");
            if (!id || strcmp(id, roll->id) != 0) {
                json_t *command = json_pack("{s:s, s:s}", "op", "restart", "roll", roll->id);
                broker_agents_send(self, agent, command);
                json_decref(command);
                roll->sent = now;
            }
        }
    }
    zlistx_destroy(&rolls);
}
