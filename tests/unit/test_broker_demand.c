/*  test_broker_demand: unit tests of the broker's records for workers of several brokers
    (docs/protocol.md 3.7): a worker's limit (broker_worker), the HANDBACK's exact match of
    a job's address, the service's paused list (broker_service) and when broker_demand tells
    a worker DEMAND 1 or 0, seen through demand_sent and the paused list. The router is
    never bound: its sends to peers that are not there are dropped, as ROUTER does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "broker_demand.h"
#include "broker_registry.h"

typedef struct {
    broker_router_t *router;
    broker_registry_t *registry;
    broker_service_t *service;
} fixture_t;

static int s_setup(void **state)
{
    fixture_t *fixture = (fixture_t *) calloc(1, sizeof(fixture_t));
    fixture->router = broker_router_new(NULL);
    fixture->registry = broker_registry_new(10, 3000, NULL);
    fixture->service = broker_registry_service_ensure(fixture->registry, "echo");
    assert_non_null(fixture->router);
    assert_non_null(fixture->service);
    *state = fixture;
    return 0;
}

static int s_teardown(void **state)
{
    fixture_t *fixture = (fixture_t *) *state;
    broker_registry_destroy(&fixture->registry);
    broker_router_destroy(&fixture->router);
    free(fixture);
    return 0;
}

static broker_worker_t *s_worker(fixture_t *fixture, const char *identity, int capacity)
{
    zframe_t *frame = zframe_new(identity, strlen(identity));
    broker_worker_t *worker = broker_registry_worker_add(fixture->registry, &frame, SL_MDP_V02,
                                                         fixture->service, capacity, 1000);
    assert_non_null(worker);
    return worker;
}

static broker_request_t *s_request(fixture_t *fixture, const char *client)
{
    zframe_t *frame = zframe_new(client, strlen(client));
    zmsg_t *body = zmsg_new();
    zmsg_addstr(body, "body");
    broker_request_t *request = broker_request_new(&frame, SL_MDP_V02, &body);
    assert_non_null(request);
    request->service = fixture->service;
    return request;
}

static void test_limit_is_capacity_or_credit(void **state)
{
    fixture_t *fixture = (fixture_t *) *state;
    broker_worker_t *plain = s_worker(fixture, "plain", 4);
    assert_int_equal(plain->limit, 4);
    assert_false(plain->credit_mode);
    broker_worker_t *shared = s_worker(fixture, "shared", 4);
    broker_worker_set_credit(shared, 2);
    assert_true(shared->credit_mode);
    assert_int_equal(shared->limit, 2);
    broker_request_t *first = s_request(fixture, "c1");
    broker_request_t *second = s_request(fixture, "c2");
    broker_worker_hold(shared, first);
    assert_true(broker_worker_has_room(shared));
    broker_worker_hold(shared, second);
    assert_false(broker_worker_has_room(shared)); /* at its limit, though below capacity */
    shared->limit = 1;                            /* a CREDIT lowered it under its jobs */
    broker_worker_release(shared, first);
    assert_false(broker_worker_has_room(shared));
    broker_request_destroy(&first);
    /* the registry destroys what shared still holds */
}

static void test_handback_names_the_job_exactly(void **state)
{
    fixture_t *fixture = (fixture_t *) *state;
    broker_worker_t *single = s_worker(fixture, "single", 1);
    zframe_t *client = zframe_new("c1", 2);
    zframe_t *other = zframe_new("c2", 2);
    assert_null(broker_worker_job_named(single, client)); /* holds nothing */
    broker_request_t *request = s_request(fixture, "c1");
    broker_worker_hold(single, request);
    /* A FINAL at capacity 1 answers the one job whatever it echoes; a HANDBACK must name it. */
    assert_ptr_equal(broker_worker_job_for(single, other), request);
    assert_null(broker_worker_job_named(single, other));
    assert_ptr_equal(broker_worker_job_named(single, client), request);

    broker_worker_t *wide = s_worker(fixture, "wide", 2);
    broker_request_t *tagged = s_request(fixture, "c3");
    broker_worker_hold(wide, tagged);
    uint32_t slot = (uint32_t) tagged->slot;
    byte tag[BROKER_JOB_TAG_SIZE];
    memcpy(tag, &slot, 4);
    memcpy(tag + 4, &tagged->tag, 4);
    zframe_t *tag_frame = zframe_new(tag, sizeof tag);
    assert_ptr_equal(broker_worker_job_named(wide, tag_frame), tagged);
    tag[4] ^= 1;
    zframe_t *stale = zframe_new(tag, sizeof tag);
    assert_null(broker_worker_job_named(wide, stale));
    zframe_destroy(&client);
    zframe_destroy(&other);
    zframe_destroy(&tag_frame);
    zframe_destroy(&stale);
}

static void test_paused_workers_hear_demand_once(void **state)
{
    fixture_t *fixture = (fixture_t *) *state;
    broker_worker_t *plain = s_worker(fixture, "plain", 1);
    broker_worker_t *full = s_worker(fixture, "full", 2);
    broker_worker_set_credit(full, 2); /* every slot is this broker's: nothing to ask for */
    broker_demand_worker_changed(fixture->router, full);
    broker_worker_t *paused = s_worker(fixture, "paused", 2);
    broker_worker_set_credit(paused, 0);
    broker_demand_worker_changed(fixture->router, paused);
    assert_non_null(paused->paused_handle);
    assert_null(full->paused_handle);
    assert_null(plain->paused_handle);
    assert_int_equal(broker_service_paused(fixture->service), 1);
    assert_false(paused->demand_sent); /* nothing waits yet */

    broker_request_t *waiting = s_request(fixture, "c1");
    assert_int_equal(broker_service_enqueue(fixture->service, waiting), 0);
    broker_demand_service_waiting(fixture->router, fixture->service);
    assert_true(paused->demand_sent);
    assert_null(paused->paused_handle); /* told: not visited again */
    assert_int_equal(broker_service_paused(fixture->service), 0);
    assert_false(plain->demand_sent);
    assert_false(full->demand_sent);

    /* Its limit rises while work waits: it takes it (dispatch's job), then with nothing
       waiting and its limit unused it hears DEMAND 0 and is paused again. */
    broker_request_t *taken = broker_service_dequeue(fixture->service);
    paused->limit = 2;
    broker_worker_hold(paused, taken);
    broker_demand_worker_changed(fixture->router, paused);
    assert_false(paused->demand_sent);
    assert_null(paused->paused_handle); /* its limit is its capacity now */
    paused->limit = 1;                  /* a CREDIT gave a slot to another broker */
    broker_demand_worker_changed(fixture->router, paused);
    assert_non_null(paused->paused_handle);
}

static void test_demand_1_for_a_worker_paused_while_work_waits(void **state)
{
    fixture_t *fixture = (fixture_t *) *state;
    broker_worker_t *worker = s_worker(fixture, "late", 1);
    broker_worker_set_credit(worker, 1);
    broker_request_t *held = s_request(fixture, "c1");
    broker_worker_hold(worker, held);
    broker_request_t *waiting = s_request(fixture, "c2");
    assert_int_equal(broker_service_enqueue(fixture->service, waiting), 0);
    broker_demand_worker_changed(fixture->router, worker);
    assert_false(worker->demand_sent); /* its limit is its capacity: it hides no slot */
    worker->limit = 0;                 /* CREDIT 0: another broker gets its next slot */
    broker_demand_worker_changed(fixture->router, worker);
    assert_true(worker->demand_sent);
    assert_null(worker->paused_handle);
    /* A hand-back means demand to the worker without a DEMAND 1. */
    broker_worker_t *racer = s_worker(fixture, "racer", 1);
    broker_worker_set_credit(racer, 0);
    broker_demand_worker_changed(fixture->router, racer);
    assert_true(racer->demand_sent); /* work waits and it is paused: told at once */
    broker_worker_t *quiet = s_worker(fixture, "quiet", 1);
    broker_worker_set_credit(quiet, 1);
    broker_demand_worker_handed_back(quiet);
    assert_true(quiet->demand_sent);
    assert_null(quiet->paused_handle);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_limit_is_capacity_or_credit, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_handback_names_the_job_exactly, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_paused_workers_hear_demand_once, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_demand_1_for_a_worker_paused_while_work_waits, s_setup,
                                        s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
