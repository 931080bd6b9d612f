/*  test_worker_credit: unit tests of worker/worker_credit.c, the grant policy of a worker
    of several brokers (docs/protocol.md 3.7, "What a worker grants"). Pure arithmetic: each
    test gives K, the jobs held per broker, who is hungry and who was served last, and
    checks the limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "worker_credit.h"

#define UP(jobs, waiting)                                                                          \
    {                                                                                              \
        .connected = true, .held = (jobs), .hungry = (waiting)                                     \
    }
#define DOWN                                                                                       \
    {                                                                                              \
        .connected = false, .held = 0, .hungry = false                                             \
    }

static void test_nobody_hungry_every_broker_may_use_every_free_slot(void **state)
{
    //  3.7: "every broker's limit is its jobs there plus all free slots"
    worker_credit_broker_t brokers[] = {UP(0, false), UP(0, false)};
    int limits[2];
    worker_credit_allocate(1, 0, brokers, 2, -1, limits);
    assert_int_equal(limits[0], 1);
    assert_int_equal(limits[1], 1);
    brokers[0].held = 1; // A's job in hand: B may send nothing more
    worker_credit_allocate(1, 0, brokers, 2, 0, limits);
    assert_int_equal(limits[0], 1);
    assert_int_equal(limits[1], 0);
}

static void test_free_slots_add_to_what_each_holds(void **state)
{
    worker_credit_broker_t brokers[] = {UP(3, false), UP(5, false), UP(0, false)};
    int limits[3];
    worker_credit_allocate(16, 2, brokers, 3, 1, limits); // 2 orphans: 16-2-8 = 6 free
    assert_int_equal(limits[0], 9);
    assert_int_equal(limits[1], 11);
    assert_int_equal(limits[2], 6);
}

static void test_a_freed_slot_goes_to_the_hungry_broker_only(void **state)
{
    //  "When some brokers have, the free slots are shared among those brokers only ... and
    //  every other broker's limit is its jobs there"
    worker_credit_broker_t brokers[] = {UP(0, false), UP(0, true)};
    int limits[2];
    worker_credit_allocate(1, 0, brokers, 2, 0, limits);
    assert_int_equal(limits[0], 0);
    assert_int_equal(limits[1], 1);
}

static void test_capacity_one_alternates_between_two_hungry_brokers(void **state)
{
    //  "one slot at a time in turn, starting with the broker after the one that was given
    //  the last slot": A served last, the slot goes to B, then back to A
    worker_credit_broker_t brokers[] = {UP(0, true), UP(0, true)};
    int limits[2];
    worker_credit_allocate(1, 0, brokers, 2, 0, limits);
    assert_int_equal(limits[0], 0);
    assert_int_equal(limits[1], 1);
    brokers[1].held = 1; // B used it
    worker_credit_allocate(1, 0, brokers, 2, 1, limits);
    assert_int_equal(limits[0], 0);
    assert_int_equal(limits[1], 1);
    brokers[1].held = 0; // B's job ended
    worker_credit_allocate(1, 0, brokers, 2, 1, limits);
    assert_int_equal(limits[0], 1);
    assert_int_equal(limits[1], 0);
}

static void test_same_inputs_same_limits(void **state)
{
    //  Recomputed on every wake-up: nothing changed must mean no CREDIT
    worker_credit_broker_t brokers[] = {UP(1, true), UP(0, true), UP(0, true)};
    int first[3], second[3];
    worker_credit_allocate(2, 0, brokers, 3, 0, first);
    worker_credit_allocate(2, 0, brokers, 3, 0, second);
    assert_memory_equal(first, second, sizeof first);
    assert_int_equal(first[0], 1);
    assert_int_equal(first[1], 1); // the one free slot: the broker after A
    assert_int_equal(first[2], 0);
}

static void test_capacity_sixteen_is_shared_in_turn(void **state)
{
    //  16 slots, two hungry brokers holding nothing yet: 8 each, the first to B (after A)
    worker_credit_broker_t brokers[] = {UP(0, true), UP(0, true)};
    int limits[2];
    worker_credit_allocate(16, 0, brokers, 2, 0, limits);
    assert_int_equal(limits[0], 8);
    assert_int_equal(limits[1], 8);
    //  Saturated, 8 and 8; A's job ends and B was served last: the slot returns to A, so
    //  neither limit changes and no CREDIT goes out
    brokers[0].held = 7;
    brokers[1].held = 8;
    worker_credit_allocate(16, 0, brokers, 2, 1, limits);
    assert_int_equal(limits[0], 8);
    assert_int_equal(limits[1], 8);
    //  An odd count: the extra slot goes to the broker after the one served last
    brokers[0].held = 0;
    brokers[1].held = 0;
    worker_credit_allocate(3, 0, brokers, 2, 1, limits);
    assert_int_equal(limits[0], 2);
    assert_int_equal(limits[1], 1);
}

static void test_a_lost_broker_gets_nothing_and_orphans_keep_their_slots(void **state)
{
    worker_credit_broker_t brokers[] = {DOWN, UP(0, false)};
    int limits[2];
    worker_credit_allocate(1, 1, brokers, 2, 0, limits); // the lost broker's job still runs
    assert_int_equal(limits[0], 0);
    assert_int_equal(limits[1], 0);
    worker_credit_allocate(1, 0, brokers, 2, 0, limits);
    assert_int_equal(limits[1], 1);
    //  A hungry broker that is not connected is skipped in the turn
    worker_credit_broker_t hungry[] = {{.connected = false, .hungry = true}, UP(0, true)};
    worker_credit_allocate(2, 0, hungry, 2, 1, limits);
    assert_int_equal(limits[0], 0);
    assert_int_equal(limits[1], 2);
}

static void test_full_worker_grants_nothing_more(void **state)
{
    worker_credit_broker_t brokers[] = {UP(1, true), UP(1, true)};
    int limits[2];
    worker_credit_allocate(2, 0, brokers, 2, 0, limits);
    assert_int_equal(limits[0], 1);
    assert_int_equal(limits[1], 1);
    worker_credit_allocate(2, 1, brokers, 2, 0, limits); // over by a race: never negative
    assert_true(limits[0] >= 0 && limits[1] >= 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nobody_hungry_every_broker_may_use_every_free_slot),
        cmocka_unit_test(test_free_slots_add_to_what_each_holds),
        cmocka_unit_test(test_a_freed_slot_goes_to_the_hungry_broker_only),
        cmocka_unit_test(test_capacity_one_alternates_between_two_hungry_brokers),
        cmocka_unit_test(test_same_inputs_same_limits),
        cmocka_unit_test(test_capacity_sixteen_is_shared_in_turn),
        cmocka_unit_test(test_a_lost_broker_gets_nothing_and_orphans_keep_their_slots),
        cmocka_unit_test(test_full_worker_grants_nothing_more),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
