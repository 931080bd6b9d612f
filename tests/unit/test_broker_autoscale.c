/*  test_broker_autoscale: the autoscaler's decisions (broker_autoscale), tick by tick: the
    limits, growth by what waits (a worker per waiting request once the target is passed, at
    most doubling before; within max and the hosts' room), the
    holds that stop it starting workers for ever (workers still starting, a crash loop), the
    cold start from min 0, shrinking one worker per cooldown of idleness, and a flapping load
    that never makes the count fall. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "broker_autoscale.h"

static const broker_autoscale_policy_t s_policy = {
    .min = 1, .max = 10, .target_wait_ms = 500, .cooldown_ms = 30000};

/* A service at rest: `workers` registered and idle, nothing queued, room for 100 more. */
static broker_autoscale_input_t s_idle(int workers)
{
    return (broker_autoscale_input_t){
        .workers = workers, .registered = workers, .idle = workers, .room = 100};
}

/* `workers` registered, all busy, `queued` waiting, the oldest for wait_ms. */
static broker_autoscale_input_t s_busy(int workers, size_t queued, int64_t wait_ms)
{
    return (broker_autoscale_input_t){.workers = workers,
                                      .registered = workers,
                                      .busy = workers,
                                      .queued = queued,
                                      .oldest_wait_ms = wait_ms,
                                      .room = 100};
}

static void test_policy_check(void **state)
{
    (void) state;
    assert_null(broker_autoscale_policy_check(&s_policy));
    broker_autoscale_policy_t bad = s_policy;
    bad.max = 0;
    assert_string_equal(broker_autoscale_policy_check(&bad), "max must be 1..10000");
    bad = s_policy;
    bad.min = 11;
    assert_string_equal(broker_autoscale_policy_check(&bad), "min must be 0..max");
    bad = s_policy;
    bad.target_wait_ms = 0;
    assert_non_null(broker_autoscale_policy_check(&bad));
    bad = s_policy;
    bad.cooldown_ms = -1;
    assert_non_null(broker_autoscale_policy_check(&bad));
    bad = s_policy;
    bad.min = 0; /* allowed: the first request waits for a worker to start */
    assert_null(broker_autoscale_policy_check(&bad));
}

static void test_limits_come_first(void **state)
{
    (void) state;
    broker_autoscale_state_t memory = {0};
    broker_autoscale_input_t input = s_idle(0);
    broker_autoscale_decision_t decision =
        broker_autoscale_decide(&s_policy, &input, &memory, 1000);
    assert_int_equal(decision.to, 1);
    assert_int_equal(decision.reason, BROKER_AUTOSCALE_BELOW_MIN);
    input = s_busy(12, 50, 5000); /* far over the target, but above max */
    decision = broker_autoscale_decide(&s_policy, &input, &memory, 2000);
    assert_int_equal(decision.to, 10);
    assert_string_equal(broker_autoscale_reason_name(decision.reason), "above_max");
}

static void test_step_load_past_the_target_gets_a_worker_per_waiting_request(void **state)
{
    (void) state;
    broker_autoscale_state_t memory = {0};
    broker_autoscale_input_t input = s_busy(1, 6, 800); /* 6 waited past the target */
    broker_autoscale_decision_t decision =
        broker_autoscale_decide(&s_policy, &input, &memory, 1000);
    assert_int_equal(decision.from, 1);
    assert_int_equal(decision.to, 7); /* not 2: one decision meets the whole burst */
    assert_int_equal(decision.reason, BROKER_AUTOSCALE_QUEUE_WAIT);
    input = s_busy(7, 20, 800); /* more than max allows */
    decision = broker_autoscale_decide(&s_policy, &input, &memory, 2000);
    assert_int_equal(decision.to, 10);
    input = s_busy(10, 20, 800);
    decision = broker_autoscale_decide(&s_policy, &input, &memory, 3000);
    assert_int_equal(decision.to, 10);
    assert_int_equal(decision.reason, BROKER_AUTOSCALE_AT_MAX);
}

static void test_all_busy_before_the_target_grows_at_most_doubling(void **state)
{
    (void) state;
    broker_autoscale_state_t memory = {0};
    int workers = 1;
    int expected[] = {2, 4, 8, 10};
    for (size_t i = 0; i < 4; i++) {
        broker_autoscale_input_t input = s_busy(workers, 20, 100); /* under the target */
        broker_autoscale_decision_t decision =
            broker_autoscale_decide(&s_policy, &input, &memory, 1000 * (int64_t) (i + 1));
        assert_int_equal(decision.to, expected[i]);
        assert_int_equal(decision.reason, BROKER_AUTOSCALE_ALL_BUSY);
        workers = decision.to;
    }
}

static void test_grows_by_what_waits_and_by_the_room(void **state)
{
    (void) state;
    broker_autoscale_state_t memory = {0};
    broker_autoscale_input_t input = s_busy(4, 1, 800); /* one waits: one more */
    assert_int_equal(broker_autoscale_decide(&s_policy, &input, &memory, 1000).to, 5);
    input = s_busy(4, 20, 800);
    input.room = 1; /* the hosts' own --max leave room for one */
    assert_int_equal(broker_autoscale_decide(&s_policy, &input, &memory, 2000).to, 5);
    input.room = 0;
    broker_autoscale_decision_t decision =
        broker_autoscale_decide(&s_policy, &input, &memory, 3000);
    assert_int_equal(decision.to, 4);
    assert_int_equal(decision.reason, BROKER_AUTOSCALE_NO_ROOM);
}

static void test_all_busy_grows_before_the_target_wait(void **state)
{
    (void) state;
    broker_autoscale_state_t memory = {0};
    broker_autoscale_input_t input = s_busy(3, 1, 20);
    broker_autoscale_decision_t decision =
        broker_autoscale_decide(&s_policy, &input, &memory, 1000);
    assert_int_equal(decision.to, 4);
    assert_int_equal(decision.reason, BROKER_AUTOSCALE_ALL_BUSY);
    /* An idle worker is about to take it: no growth for a short wait */
    input.idle = 1;
    input.busy = 2;
    decision = broker_autoscale_decide(&s_policy, &input, &memory, 2000);
    assert_int_equal(decision.to, 3);
    assert_int_equal(decision.reason, BROKER_AUTOSCALE_HOLD);
}

static void test_no_growth_while_workers_start_or_a_host_crash_loops(void **state)
{
    (void) state;
    broker_autoscale_state_t memory = {0};
    broker_autoscale_input_t input = s_busy(4, 20, 5000);
    input.registered = 2; /* two it started have not registered: a broken handler, maybe */
    input.busy = 2;
    broker_autoscale_decision_t decision =
        broker_autoscale_decide(&s_policy, &input, &memory, 1000);
    assert_int_equal(decision.to, 4);
    assert_string_equal(broker_autoscale_reason_name(decision.reason), "starting");
    input = s_busy(4, 20, 5000);
    input.crash_loop = true;
    decision = broker_autoscale_decide(&s_policy, &input, &memory, 2000);
    assert_int_equal(decision.to, 4);
    assert_string_equal(broker_autoscale_reason_name(decision.reason), "crash_loop");
    /* A thousand ticks of the same: never a worker more */
    for (int64_t t = 3000; t < 1003000; t += 1000)
        assert_int_equal(broker_autoscale_decide(&s_policy, &input, &memory, t).to, 4);
}

static void test_cold_start_from_min_zero(void **state)
{
    (void) state;
    broker_autoscale_policy_t policy = s_policy;
    policy.min = 0;
    broker_autoscale_state_t memory = {0};
    broker_autoscale_input_t input = s_idle(0);
    assert_int_equal(broker_autoscale_decide(&policy, &input, &memory, 1000).to, 0);
    input.queued = 1; /* the first request: one worker, at once, whatever it has waited */
    broker_autoscale_decision_t decision = broker_autoscale_decide(&policy, &input, &memory, 2000);
    assert_int_equal(decision.to, 1);
    assert_int_equal(decision.reason, BROKER_AUTOSCALE_COLD_START);
    input.queued = 20;
    assert_int_equal(broker_autoscale_decide(&policy, &input, &memory, 3000).to, 2);
}

static void test_shrinks_one_per_cooldown_of_idleness_down_to_min(void **state)
{
    (void) state;
    broker_autoscale_state_t memory = {0};
    broker_autoscale_input_t input = s_busy(2, 2, 800);
    assert_int_equal(broker_autoscale_decide(&s_policy, &input, &memory, 0).to, 4);
    int workers = 4;
    int64_t steps_at[3] = {0};
    int steps = 0;
    for (int64_t t = 1000; t <= 200000; t += 1000) {
        input = s_idle(workers);
        broker_autoscale_decision_t decision =
            broker_autoscale_decide(&s_policy, &input, &memory, t);
        if (decision.to != workers) {
            assert_int_equal(decision.to, workers - 1); /* one at a time */
            assert_int_equal(decision.reason, BROKER_AUTOSCALE_IDLE);
            assert_true(steps < 3);
            steps_at[steps++] = t;
            workers = decision.to;
        }
    }
    assert_int_equal(workers, 1); /* down to min, never below */
    assert_int_equal(steps, 3);
    /* The first waits a cooldown after the growth and of idleness; each next one another */
    assert_true(steps_at[0] >= 30000);
    assert_true(steps_at[1] - steps_at[0] >= 30000);
    assert_true(steps_at[2] - steps_at[1] >= 30000);
}

static void test_a_flapping_load_never_makes_the_count_fall(void **state)
{
    (void) state;
    broker_autoscale_state_t memory = {0};
    int workers = 2;
    int falls = 0;
    int highest = workers;
    /* Ten minutes: a burst every 5 s (all busy, work waiting 1 s), idle in between */
    for (int64_t t = 0; t < 600000; t += 1000) {
        bool burst = (t / 1000) % 5 == 0;
        broker_autoscale_input_t input = burst ? s_busy(workers, 3, 1000) : s_idle(workers);
        broker_autoscale_decision_t decision =
            broker_autoscale_decide(&s_policy, &input, &memory, t);
        falls += decision.to < workers;
        workers = decision.to;
        highest = workers > highest ? workers : highest;
    }
    assert_int_equal(falls, 0);
    assert_int_equal(workers, highest);
    assert_int_equal(workers, 10); /* every burst still queued: grown to max and held there */
}

static void test_policy_parse(void **state)
{
    (void) state;
    char service[256];
    broker_autoscale_policy_t policy;
    assert_null(broker_autoscale_policy_parse("slow=1..8", service, sizeof service, &policy));
    assert_string_equal(service, "slow");
    assert_int_equal(policy.min, 1);
    assert_int_equal(policy.max, 8);
    assert_int_equal(policy.target_wait_ms, BROKER_AUTOSCALE_TARGET_WAIT_MS);
    assert_int_equal(policy.cooldown_ms, BROKER_AUTOSCALE_COOLDOWN_MS);
    assert_null(broker_autoscale_policy_parse("a.b=0..3,cooldown-s=60,target-wait-ms=250", service,
                                              sizeof service, &policy));
    assert_string_equal(service, "a.b");
    assert_int_equal(policy.min, 0);
    assert_int_equal(policy.max, 3);
    assert_int_equal(policy.target_wait_ms, 250);
    assert_int_equal(policy.cooldown_ms, 60000);
    /* Each bad form names what is wrong; none is taken half-way */
    const char *bad[] = {"slow",
                         "=1..8",
                         "slow=1",
                         "slow=1..",
                         "slow=..8",
                         "slow=8..1",
                         "slow=0..0",
                         "slow=1..10001",
                         "slow=1..8,",
                         "slow=1..8,x=1",
                         "slow=1..8,cooldown-s=-1",
                         "slow=1..8,target-wait-ms=0",
                         "slow=1..8,cooldown-s=86401",
                         "slow=1..8 ",
                         "slow=1..99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_non_null(broker_autoscale_policy_parse(bad[i], service, sizeof service, &policy));
    char small[4];
    assert_non_null(broker_autoscale_policy_parse("toolong=1..2", small, sizeof small, &policy));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policy_check),
        cmocka_unit_test(test_policy_parse),
        cmocka_unit_test(test_limits_come_first),
        cmocka_unit_test(test_step_load_past_the_target_gets_a_worker_per_waiting_request),
        cmocka_unit_test(test_all_busy_before_the_target_grows_at_most_doubling),
        cmocka_unit_test(test_grows_by_what_waits_and_by_the_room),
        cmocka_unit_test(test_all_busy_grows_before_the_target_wait),
        cmocka_unit_test(test_no_growth_while_workers_start_or_a_host_crash_loops),
        cmocka_unit_test(test_cold_start_from_min_zero),
        cmocka_unit_test(test_shrinks_one_per_cooldown_of_idleness_down_to_min),
        cmocka_unit_test(test_a_flapping_load_never_makes_the_count_fall),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
