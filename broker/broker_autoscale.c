/*  broker_autoscale: one service's scaling decision (broker_autoscale.h says what goes in
    and out). The rules, in order:
    - Limits first: below min grows to min, above max shrinks to max, whatever the load.
    - Growth: when the oldest queued request has waited longer than the target, or work waits
      and no worker has a free slot. It grows by what waits, at most doubling per decision (at
      least 1, and 2 from zero), within max and the hosts' room. It holds instead while workers
      it started have not registered, or a host reports a crash loop: a handler that dies at
      start must not make it start workers for ever.
    - Shrinking: one worker per cooldown, only when workers have been idle with nothing
      queued for the whole cooldown, and no sooner than a cooldown after the last change. So
      bursts closer together than the cooldown never let the count fall: the bound it keeps
      is at most one step down per cooldown, and none within a cooldown of a step up. */
#include "broker_autoscale.h"

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
        if (step > most)
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
