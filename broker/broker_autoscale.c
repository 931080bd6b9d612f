/*  broker_autoscale: one service's scaling decision (broker_autoscale.h says what goes in
    and out). The rules, in order:
    - Limits first: below min grows to min, above max shrinks to max, whatever the load.
    - Growth: when the oldest queued request has waited longer than the target, by what waits:
      one worker per waiting request, so that none waits much past the target plus a cold
      start (a burst of 20 on one worker is met in one decision, not in five doublings). When
      work waits and no worker has a free slot but the target is not reached yet, by what
      waits too, at most doubling (the queue may drain by itself). At least 1, and 2 from
      zero; always within max and the hosts' room. It holds instead while workers it started
      have not registered, or a host reports a crash loop: a handler that dies at start must
      not make it start workers for ever.
    - Shrinking: one worker per cooldown, only when workers have been idle with nothing
      queued for the whole cooldown, and no sooner than a cooldown after the last change. So
      bursts closer together than the cooldown never let the count fall: the bound it keeps
      is at most one step down per cooldown, and none within a cooldown of a step up. */
#include "broker_autoscale.h"

#include <string.h>

const char *broker_autoscale_policy_check(const broker_autoscale_policy_t *policy)
{
    if (policy->max < 1 || policy->max > BROKER_AUTOSCALE_MAX_WORKERS)
        return "max must be 1..10000";
    if (policy->min < 0 || policy->min > policy->max)
        return "min must be 0..max";
    if (policy->target_wait_ms < 1 || policy->target_wait_ms > 3600000)
        return "target wait must be 1..3600000 ms";
    if (policy->cooldown_ms < 0 || policy->cooldown_ms > 86400000)
        return "cooldown must be 0..86400000 ms";
    return NULL;
}

/* A whole decimal number at *text up to one of the bytes in ends (or the end), 0..limit;
   moves *text past it. -1 when there is none or it is out of range. */
static int64_t s_number(const char **text, const char *ends, int64_t limit)
{
    const char *at = *text;
    int64_t value = 0;
    size_t digits = 0;
    while (at[digits] >= '0' && at[digits] <= '9') {
        value = value * 10 + (at[digits] - '0');
        if (value > limit)
            return -1;
        digits++;
    }
    if (digits == 0 || (at[digits] && !strchr(ends, at[digits])))
        return -1;
    *text = at + digits;
    return value;
}

const char *broker_autoscale_policy_parse(const char *text, char *service, size_t size,
                                          broker_autoscale_policy_t *policy)
{
    *policy = (broker_autoscale_policy_t){.target_wait_ms = BROKER_AUTOSCALE_TARGET_WAIT_MS,
                                          .cooldown_ms = BROKER_AUTOSCALE_COOLDOWN_MS};
    const char *equals = strchr(text, '=');
    size_t length = equals ? (size_t) (equals - text) : 0;
    if (length == 0 || length >= size)
        return "expected SERVICE=MIN..MAX[,target-wait-ms=W][,cooldown-s=S] (a service name of "
               "1..255 bytes first)";
    memcpy(service, text, length);
    service[length] = '\0';
    const char *at = equals + 1;
    int64_t min = s_number(&at, ".", BROKER_AUTOSCALE_MAX_WORKERS);
    if (min < 0 || strncmp(at, "..", 2) != 0)
        return "expected MIN..MAX after the service, e.g. slow=1..8";
    at += 2;
    int64_t max = s_number(&at, ",", BROKER_AUTOSCALE_MAX_WORKERS);
    if (max < 0)
        return "expected MIN..MAX after the service, e.g. slow=1..8";
    policy->min = (int) min;
    policy->max = (int) max;
    while (*at == ',') {
        at++;
        int64_t *target = NULL, scale = 1, limit = 0;
        if (strncmp(at, "target-wait-ms=", 15) == 0) {
            at += 15;
            target = &policy->target_wait_ms;
            limit = 3600000;
        } else if (strncmp(at, "cooldown-s=", 11) == 0) {
            at += 11;
            target = &policy->cooldown_ms;
            scale = 1000;
            limit = 86400;
        } else
            return "unknown option after MIN..MAX: expected target-wait-ms=W or cooldown-s=S";
        int64_t value = s_number(&at, ",", limit);
        if (value < 0)
            return scale == 1 ? "target-wait-ms must be 1..3600000" : "cooldown-s must be 0..86400";
        *target = value * scale;
    }
    return broker_autoscale_policy_check(policy);
}

static broker_autoscale_decision_t s_change(broker_autoscale_state_t *state, int from, int to,
                                            broker_autoscale_reason_t reason, int64_t now)
{
    if (to != from) {
        state->changed_at = now;
        state->idle_since = 0; /* a shrink needs a whole new cooldown of idleness */
    }
    return (broker_autoscale_decision_t){from, to, reason};
}

static int s_min(int64_t a, int64_t b)
{
    return (int) (a < b ? a : b);
}

broker_autoscale_decision_t broker_autoscale_decide(const broker_autoscale_policy_t *policy,
                                                    const broker_autoscale_input_t *input,
                                                    broker_autoscale_state_t *state, int64_t now)
{
    int workers = input->workers;
    if (workers < policy->min)
        return s_change(state, workers, policy->min, BROKER_AUTOSCALE_BELOW_MIN, now);
    if (workers > policy->max)
        return s_change(state, workers, policy->max, BROKER_AUTOSCALE_ABOVE_MAX, now);

    bool waiting = input->queued > 0;
    broker_autoscale_reason_t grow = BROKER_AUTOSCALE_HOLD;
    if (waiting && workers == 0)
        grow = BROKER_AUTOSCALE_COLD_START;
    else if (waiting && input->oldest_wait_ms > policy->target_wait_ms)
        grow = BROKER_AUTOSCALE_QUEUE_WAIT;
    else if (waiting && input->idle == 0 && input->registered > 0 &&
             input->busy >= input->registered)
        grow = BROKER_AUTOSCALE_ALL_BUSY;
    if (grow != BROKER_AUTOSCALE_HOLD) {
        state->idle_since = 0;
        broker_autoscale_reason_t held = BROKER_AUTOSCALE_HOLD;
        if (input->crash_loop)
            held = BROKER_AUTOSCALE_CRASH_LOOP;
        else if (input->registered < workers)
            held = BROKER_AUTOSCALE_STARTING;
        else if (workers >= policy->max)
            held = BROKER_AUTOSCALE_AT_MAX;
        else if (input->room <= 0)
            held = BROKER_AUTOSCALE_NO_ROOM;
        if (held != BROKER_AUTOSCALE_HOLD)
            return (broker_autoscale_decision_t){workers, workers, held};
        int64_t step = (int64_t) input->queued;
        int64_t most = workers > 0 ? workers : 2; /* at most double; 2 from zero */
        if (grow != BROKER_AUTOSCALE_QUEUE_WAIT && step > most)
            step = most;
        if (step < 1)
            step = 1;
        int to = s_min(workers + step, s_min(policy->max, (int64_t) workers + input->room));
        return s_change(state, workers, to, grow, now);
    }

    if (waiting || input->idle == 0) {
        state->idle_since = 0;
        return (broker_autoscale_decision_t){workers, workers, BROKER_AUTOSCALE_HOLD};
    }
    if (state->idle_since == 0)
        state->idle_since = now;
    bool idle_long = now - state->idle_since >= policy->cooldown_ms;
    bool settled = state->changed_at == 0 || now - state->changed_at >= policy->cooldown_ms;
    if (workers > policy->min && idle_long && settled)
        return s_change(state, workers, workers - 1, BROKER_AUTOSCALE_IDLE, now);
    return (broker_autoscale_decision_t){workers, workers, BROKER_AUTOSCALE_HOLD};
}

const char *broker_autoscale_reason_name(broker_autoscale_reason_t reason)
{
    static const char *const names[] = {
        [BROKER_AUTOSCALE_HOLD] = "hold",
        [BROKER_AUTOSCALE_BELOW_MIN] = "below_min",
        [BROKER_AUTOSCALE_ABOVE_MAX] = "above_max",
        [BROKER_AUTOSCALE_QUEUE_WAIT] = "queue_wait",
        [BROKER_AUTOSCALE_ALL_BUSY] = "all_busy",
        [BROKER_AUTOSCALE_COLD_START] = "cold_start",
        [BROKER_AUTOSCALE_IDLE] = "idle",
        [BROKER_AUTOSCALE_STARTING] = "starting",
        [BROKER_AUTOSCALE_CRASH_LOOP] = "crash_loop",
        [BROKER_AUTOSCALE_NO_ROOM] = "no_room",
        [BROKER_AUTOSCALE_AT_MAX] = "at_max",
    };
    size_t index = (size_t) reason;
    return index < sizeof names / sizeof names[0] && names[index] ? names[index] : "unknown";
}
