/*  broker_autoscaler: policies per service, the per-tick gathering of figures and the
    application of a changed count (broker_autoscaler.h). The decision itself is
    broker_autoscale.c's.

    Counts: an agent reports its `target` in STATUS within 50 ms of a scale COMMAND, but the
    tick after a change may come first. So a count this broker applied counts as the current
    one until the agents' targets add up to it, or for PENDING_TICKS ticks at most (an agent
    that refused or was gone). Without it a tick would see the old count and grow again.

    Several brokers: every one holds the policy, one decides. An agent's STATUS says whether
    this broker is its leader (the first of its --broker list that is up, supervisor_agent.c).
    This broker decides for the agents that name it, counting every agent's workers, and
    scales only those; with none naming it, it decides nothing. Each broker sends its queue
    of the service to the agents that do not name it (COMMAND load, every tick while work
    waits and once when it empties), they relay it in STATUS loads, and the decider adds those
    queues to its own: the figures cover every broker's queue, a heartbeat or two late. */
#include "broker_autoscaler.h"
#include "broker_service.h"
#include "sl_defaults.h"
#include "sl_log.h"
#include "sl_request_id.h"

#define PENDING_TICKS 3

typedef struct {
    broker_autoscale_policy_t policy;
    broker_autoscale_state_t state;
    broker_autoscale_reason_t held;   /* the last reason that kept the count, logged once */
    int pending;                      /* the count last applied, or -1 */
    int pending_ticks;                /* ticks it has been pending */
    broker_autoscale_decision_t last; /* the last change, or a hold with a reason */
    int64_t last_at;                  /* when (0: none yet) */
    bool deciding;                    /* some agent names this broker its leader */
    bool told_waiting;                /* agents were last told of a queue here (not empty) */
} s_entry_t;

struct _broker_autoscaler_t {
    broker_registry_t *registry; /* borrowed: services are looked up, and kept for min 0 */
    broker_agents_t *agents;     /* borrowed */
    zhashx_t *entries;           /* service name -> s_entry_t (owned) */
    char id[17];                 /* this broker's id in load commands, random per start */
};

static void s_entry_free(void **item)
{
    free(*item);
    *item = NULL;
}

broker_autoscaler_t *broker_autoscaler_new(broker_registry_t *registry, broker_agents_t *agents)
{
    broker_autoscaler_t *self = (broker_autoscaler_t *) calloc(1, sizeof(broker_autoscaler_t));
    if (!self)
        return NULL;
    self->registry = registry;
    self->agents = agents;
    char random[SL_REQUEST_ID_MAX + 1];
    sl_request_id_generate(random);
    snprintf(self->id, sizeof self->id, "%.16s", random);
    self->entries = zhashx_new();
    if (!self->entries) {
        free(self);
        return NULL;
    }
    zhashx_set_destructor(self->entries, s_entry_free);
    return self;
}

void broker_autoscaler_destroy(broker_autoscaler_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhashx_destroy(&(*self_p)->entries);
    free(*self_p);
    *self_p = NULL;
}

static json_t *s_error(int status, const char *message)
{
    return json_pack("{s:b, s:i, s:s, s:s}", "ok", 0, "status", status, "error", "bad_request",
                     "message", message);
}

/* An integer field of command, or fallback when it is absent; -1 if it is not an integer. */
static int64_t s_integer(json_t *command, const char *key, int64_t fallback)
{
    json_t *value = json_object_get(command, key);
    if (!value)
        return fallback;
    return json_is_integer(value) ? json_integer_value(value) : -1;
}

/* Gives service the policy (checked), replacing any; 0, or -1 out of memory. */
static int s_set(broker_autoscaler_t *self, const char *service,
                 const broker_autoscale_policy_t *policy)
{
    broker_service_t *record = broker_registry_service(self->registry, service);
    if (policy->min == 0 && !record) /* its requests wait from now on, not from the next tick */
        record = broker_registry_service_ensure(self->registry, service);
    s_entry_t *entry = (s_entry_t *) zhashx_lookup(self->entries, service);
    if (!entry) {
        entry = (s_entry_t *) calloc(1, sizeof(s_entry_t));
        if (!entry || zhashx_insert(self->entries, service, entry) != 0) {
            free(entry);
            return -1;
        }
    }
    entry->policy = *policy;
    if (record)
        broker_service_set_autoscaled(record, policy->min == 0);
    entry->pending = -1;
    entry->pending_ticks = 0;
    sl_log(SL_LOG_INFO, NULL, "autoscale_on",
           "service=%s min=%d max=%d target_wait_ms=%lld cooldown_ms=%lld", service, policy->min,
           policy->max, (long long) policy->target_wait_ms, (long long) policy->cooldown_ms);
    return 0;
}

int broker_autoscaler_configure(broker_autoscaler_t *self, const sl_strlist_t *policies)
{
    for (size_t i = 0; policies && i < policies->count; i++) {
        char service[SL_MAX_SERVICE_NAME + 1];
        broker_autoscale_policy_t policy;
        if (broker_autoscale_policy_parse(policies->items[i], service, sizeof service, &policy) ||
            s_set(self, service, &policy) != 0)
            return -1;
    }
    return 0;
}

json_t *broker_autoscaler_command(broker_autoscaler_t *self, json_t *command, int64_t now)
{
    (void) now;
    const char *service = json_string_value(json_object_get(command, "service"));
    if (!service || !*service || strlen(service) > SL_MAX_SERVICE_NAME)
        return s_error(400, "service is required (1..255 bytes)");
    broker_service_t *record = broker_registry_service(self->registry, service);
    if (json_is_true(json_object_get(command, "off"))) {
        zhashx_delete(self->entries, service);
        if (record) /* requests for it fail fast again once it has no worker */
            broker_service_set_autoscaled(record, false);
        sl_log(SL_LOG_INFO, NULL, "autoscale_off", "service=%s", service);
        return json_pack("{s:b, s:i, s:s, s:s, s:b}", "ok", 1, "status", 200, "op", "autoscale",
                         "service", service, "off", 1);
    }
    broker_autoscale_policy_t policy = {
        .min = (int) s_integer(command, "min", -1),
        .max = (int) s_integer(command, "max", -1),
        .target_wait_ms = s_integer(command, "target_wait_ms", BROKER_AUTOSCALE_TARGET_WAIT_MS),
        .cooldown_ms = s_integer(command, "cooldown_ms", BROKER_AUTOSCALE_COOLDOWN_MS),
    };
    const char *problem = broker_autoscale_policy_check(&policy);
    if (problem)
        return s_error(400, problem);
    if (s_set(self, service, &policy) != 0)
        return NULL;
    return json_pack("{s:b, s:i, s:s, s:s, s:{s:i, s:i, s:I, s:I}}", "ok", 1, "status", 200, "op",
                     "autoscale", "service", service, "policy", "min", policy.min, "max",
                     policy.max, "target_wait_ms", (json_int_t) policy.target_wait_ms,
                     "cooldown_ms", (json_int_t) policy.cooldown_ms);
}

static int s_target_of(const broker_agent_t *agent)
{
    return (int) json_integer_value(json_object_get(agent->status, "target"));
}

/* The agent's own limits (slowlane-worker --min, --max; STATUS limits), or 0..1024 when it
   reports none. */
static int s_limit_of(const broker_agent_t *agent, const char *key, int fallback)
{
    json_t *value = json_object_get(json_object_get(agent->status, "limits"), key);
    return json_is_integer(value) ? (int) json_integer_value(value) : fallback;
}

/* An agent that may be given more: not stopped, no slot of it in a crash loop. */
static bool s_may_grow(const broker_agent_t *agent, bool *crash_loop)
{
    if (json_is_true(json_object_get(agent->status, "stopped")))
        return false;
    json_t *slots = json_object_get(agent->status, "workers");
    for (size_t i = 0; i < json_array_size(slots); i++) {
        const char *state = json_string_value(json_object_get(json_array_get(slots, i), "state"));
        if (state && strcmp(state, "crash_loop") == 0) {
            *crash_loop = true;
            return false;
        }
    }
    return true;
}

/* Moves the agents' targets from their sum to `to`, one worker at a time: a new one to the
   agent that may grow and has the fewest, a surplus one from the agent with the most; sends
   `scale` to each agent whose target changed. */
static void s_apply(broker_autoscaler_t *self, broker_agent_t **agents, size_t count, int to)
{
    int *targets = (int *) calloc(count, sizeof(int));
    bool *growable = (bool *) calloc(count, sizeof(bool));
    if (!targets || !growable)
        goto done;
    int sum = 0;
    for (size_t i = 0; i < count; i++) {
        bool ignored = false;
        targets[i] = s_target_of(agents[i]);
        growable[i] = s_may_grow(agents[i], &ignored);
        sum += targets[i];
    }
    int *before = (int *) calloc(count, sizeof(int));
    if (!before)
        goto done;
    memcpy(before, targets, count * sizeof(int));
    while (sum != to) {
        size_t pick = count;
        for (size_t i = 0; i < count; i++) {
            if (sum < to
                    ? growable[i] &&
                          targets[i] < s_limit_of(agents[i], "max_workers", SL_MAX_WORKER_SLOTS) &&
                          (pick == count || targets[i] < targets[pick])
                    : targets[i] > s_limit_of(agents[i], "min_workers", 0) &&
                          (pick == count || targets[i] > targets[pick]))
                pick = i;
        }
        if (pick == count)
            break; /* no agent can take or give one more */
        targets[pick] += sum < to ? 1 : -1;
        sum += sum < to ? 1 : -1;
    }
    for (size_t i = 0; i < count; i++) {
        if (targets[i] == before[i])
            continue;
        json_t *command = json_pack("{s:s, s:i}", "op", "scale", "count", targets[i]);
        if (command)
            broker_agents_send(self->agents, agents[i], command);
        json_decref(command);
    }
    free(before);
done:
    free(growable);
    free(targets);
}

/* Whether agent names this broker its leader; an agent that does not say (one broker, or a
   supervisor from before the field) counts as naming it. */
static bool s_leads(const broker_agent_t *agent)
{
    json_t *leader = json_object_get(agent->status, "leader");
    return !leader || json_is_true(leader);
}

/* Adds the queues other brokers reported through the agents (STATUS loads, the freshest
   report of each broker) to input. */
static void s_add_relayed(const broker_autoscaler_t *self, broker_agent_t **agents, size_t count,
                          broker_autoscale_input_t *input)
{
    json_t *freshest = json_object(); /* broker id -> its load with the least age */
    if (!freshest)
        return;
    for (size_t i = 0; i < count; i++) {
        json_t *loads = json_object_get(agents[i]->status, "loads");
        for (size_t j = 0; j < json_array_size(loads); j++) {
            json_t *load = json_array_get(loads, j);
            const char *broker = json_string_value(json_object_get(load, "broker"));
            if (!broker || strcmp(broker, self->id) == 0)
                continue;
            json_t *known = json_object_get(freshest, broker);
            if (!known || json_integer_value(json_object_get(load, "age_ms")) <
                              json_integer_value(json_object_get(known, "age_ms")))
                json_object_set(freshest, broker, load);
        }
    }
    const char *broker;
    json_t *load;
    json_object_foreach(freshest, broker, load)
    {
        json_int_t queued = json_integer_value(json_object_get(load, "queued"));
        json_int_t wait = json_integer_value(json_object_get(load, "oldest_wait_ms"));
        if (queued > 0)
            input->queued += (size_t) queued;
        if (wait > input->oldest_wait_ms)
            input->oldest_wait_ms = wait;
    }
    json_decref(freshest);
}

/* Tells the agents that do not name this broker leader of its queue of the service: every
   tick while work waits, and once when it empties. */
static void s_tell_load(broker_autoscaler_t *self, s_entry_t *entry, broker_agent_t **agents,
                        size_t count, size_t queued, int64_t oldest_wait_ms)
{
    if (queued == 0 && !entry->told_waiting)
        return;
    entry->told_waiting = queued > 0;
    json_t *command = json_pack("{s:s, s:s, s:I, s:I}", "op", "load", "broker", self->id, "queued",
                                (json_int_t) queued, "oldest_wait_ms", (json_int_t) oldest_wait_ms);
    for (size_t i = 0; command && i < count; i++)
        if (!s_leads(agents[i]))
            broker_agents_send(self->agents, agents[i], command);
    json_decref(command);
}

static void s_decide(broker_autoscaler_t *self, const char *name, s_entry_t *entry, int64_t now)
{
    size_t count = 0;
    broker_agent_t **agents = broker_agents_list(self->agents, name, NULL, &count);
    broker_agent_t **led = (broker_agent_t **) calloc(count ? count : 1, sizeof *led);
    if (!agents || !led || count == 0) {
        free(agents);
        free(led);
        return; /* no supervisor of the service: nothing to scale */
    }
    /* With min 0, the service's record is kept (and made) even with no worker, so that its
       requests wait in the queue for the worker a cold start brings (broker_dispatch) */
    broker_service_t *service = entry->policy.min == 0
                                    ? broker_registry_service_ensure(self->registry, name)
                                    : broker_registry_service(self->registry, name);
    if (service && entry->policy.min == 0)
        broker_service_set_autoscaled(service, true);
    broker_autoscale_input_t input = {0};
    if (service) {
        input.registered = (int) broker_service_workers(service);
        input.idle = (int) broker_service_idle(service);
        input.busy = input.registered - input.idle;
        input.queued = broker_service_queued(service);
        broker_request_t *oldest = broker_service_oldest(service);
        input.oldest_wait_ms = oldest ? now - oldest->received : 0;
    }
    s_tell_load(self, entry, agents, count, input.queued, input.oldest_wait_ms);

    size_t led_count = 0;
    int others = 0; /* workers of the agents another broker leads */
    for (size_t i = 0; i < count; i++) {
        int target = s_target_of(agents[i]);
        input.workers += target;
        if (!s_leads(agents[i])) {
            others += target;
            continue;
        }
        led[led_count++] = agents[i];
        int most = s_limit_of(agents[i], "max_workers", SL_MAX_WORKER_SLOTS);
        if (s_may_grow(agents[i], &input.crash_loop) && most > target)
            input.room += most - target;
    }
    if ((led_count > 0) != entry->deciding) {
        entry->deciding = led_count > 0;
        sl_log(SL_LOG_INFO, NULL, "autoscale_role", "service=%s role=%s agents=%zu led=%zu", name,
               entry->deciding ? "decider" : "follower", count, led_count);
        entry->pending = -1;
    }
    if (led_count == 0) {
        free(agents);
        free(led);
        return; /* another broker decides: this one relays its queue (above) */
    }
    s_add_relayed(self, agents, count, &input);
    if (entry->pending >= 0) {
        if (input.workers == entry->pending || ++entry->pending_ticks > PENDING_TICKS)
            entry->pending = -1;
        else
            input.workers = entry->pending;
    }
    broker_autoscale_decision_t decision =
        broker_autoscale_decide(&entry->policy, &input, &entry->state, now);
    bool changed = decision.to != decision.from;
    /* Every change, and a hold for a reason other than the last one: one line, one count */
    bool logged =
        changed || (decision.reason != BROKER_AUTOSCALE_HOLD && decision.reason != entry->held);
    if (logged) {
        sl_log(SL_LOG_INFO, NULL, changed ? "autoscale" : "autoscale_held",
               "service=%s from=%d to=%d reason=%s queued=%zu oldest_wait_ms=%lld busy=%d "
               "idle=%d registered=%d room=%d",
               name, decision.from, decision.to, broker_autoscale_reason_name(decision.reason),
               input.queued, (long long) input.oldest_wait_ms, input.busy, input.idle,
               input.registered, input.room);
        if (service && broker_service_stats(service))
            broker_service_stats(service)->autoscale[decision.reason]++;
    }
    entry->held = changed ? BROKER_AUTOSCALE_HOLD : decision.reason;
    if (changed || decision.reason != BROKER_AUTOSCALE_HOLD) {
        entry->last = decision;
        entry->last_at = now;
    }
    if (changed) {
        /* Only the agents this broker leads change; the others keep what their leader said */
        s_apply(self, led, led_count, decision.to - others);
        entry->pending = decision.to;
        entry->pending_ticks = 0;
    }
    free(agents);
    free(led);
}

void broker_autoscaler_tick(broker_autoscaler_t *self, int64_t now)
{
    for (s_entry_t *entry = (s_entry_t *) zhashx_first(self->entries); entry;
         entry = (s_entry_t *) zhashx_next(self->entries))
        s_decide(self, (const char *) zhashx_cursor(self->entries), entry, now);
}

json_t *broker_autoscaler_describe(const broker_autoscaler_t *self, const char *service,
                                   int64_t now)
{
    const s_entry_t *entry = (const s_entry_t *) zhashx_lookup(self->entries, service);
    if (!entry)
        return NULL;
    json_t *described =
        json_pack("{s:i, s:i, s:I, s:I, s:b}", "min", entry->policy.min, "max", entry->policy.max,
                  "target_wait_ms", (json_int_t) entry->policy.target_wait_ms, "cooldown_ms",
                  (json_int_t) entry->policy.cooldown_ms, "decider", entry->deciding);
    if (described && entry->last_at)
        json_object_set_new(described, "last",
                            json_pack("{s:i, s:i, s:s, s:I}", "from", entry->last.from, "to",
                                      entry->last.to, "reason",
                                      broker_autoscale_reason_name(entry->last.reason), "ago_ms",
                                      (json_int_t) (now - entry->last_at)));
    return described;
}
