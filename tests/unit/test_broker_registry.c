/*  test_broker_registry: unit tests of broker/broker_registry.c, the broker's worker and
    service bookkeeping: lookups by identity and name, the expiry list kept in
    last-heard-from order, a service's worker count and last-left time, counters attached
    to new services, and destruction with jobs and queued requests still held. No sockets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "broker_registry.h"

static zframe_t *s_identity(const char *text)
{
    return zframe_new(text, strlen(text));
}

static broker_worker_t *s_add(broker_registry_t *registry, const char *identity,
                              broker_service_t *service, int64_t now)
{
    zframe_t *frame = s_identity(identity);
    broker_worker_t *worker =
        broker_registry_worker_add(registry, &frame, SL_MDP_V02, service, 1, now);
    assert_non_null(worker);
    assert_null(frame); /* ownership moved */
    return worker;
}

static void test_services_are_made_once_with_counters(void **state)
{
    broker_stats_t *stats = broker_stats_new();
    broker_registry_t *registry = broker_registry_new(10, 3000, stats);
    assert_non_null(registry);
    assert_null(broker_registry_service(registry, "echo"));
    broker_service_t *echo = broker_registry_service_ensure(registry, "echo");
    assert_non_null(echo);
    assert_ptr_equal(broker_registry_service_ensure(registry, "echo"), echo);
    assert_ptr_equal(broker_registry_service(registry, "echo"), echo);
    assert_ptr_equal(broker_service_stats(echo), broker_stats_service(stats, "echo"));
    broker_registry_service_retire(registry, echo);
    assert_null(broker_registry_service(registry, "echo"));
    assert_null(broker_registry_service_first(registry));
    broker_registry_destroy(&registry);
    assert_null(registry);
    broker_registry_destroy(&registry); /* safe twice */
    broker_stats_destroy(&stats);
}

static void test_expiry_list_follows_last_heard(void **state)
{
    broker_registry_t *registry = broker_registry_new(10, 3000, NULL);
    broker_service_t *echo = broker_registry_service_ensure(registry, "echo");
    broker_worker_t *a = s_add(registry, "host/1/0", echo, 1000);
    broker_worker_t *b = s_add(registry, "host/1/1", echo, 1100);
    assert_int_equal(broker_service_workers(echo), 2);
    assert_int_equal(a->expiry, 4000);
    assert_int_equal(a->registered, 1000);
    assert_ptr_equal(broker_registry_worker_oldest(registry), a);

    broker_registry_worker_heard(registry, a, 2000);
    assert_int_equal(a->expiry, 5000);
    assert_ptr_equal(broker_registry_worker_oldest(registry), b);
    assert_ptr_equal(broker_registry_worker_first(registry), b);
    assert_ptr_equal(broker_registry_worker_next(registry), a);
    assert_null(broker_registry_worker_next(registry));

    zframe_t *frame = s_identity("host/1/1");
    assert_ptr_equal(broker_registry_worker(registry, frame), b);
    broker_service_idle_push(echo, b);
    broker_registry_worker_remove(registry, b, 2500);
    assert_null(broker_registry_worker(registry, frame));
    assert_null(b->idle_handle);
    assert_int_equal(broker_service_idle(echo), 0);
    assert_int_equal(broker_service_workers(echo), 1);
    assert_int_equal(broker_service_last_worker_left(echo), 2500);
    assert_ptr_equal(broker_registry_worker_oldest(registry), a);
    zframe_destroy(&frame);
    broker_worker_destroy(&b);
    broker_registry_destroy(&registry);
}

static void test_destroy_frees_held_jobs_and_queues(void **state)
{
    broker_registry_t *registry = broker_registry_new(10, 3000, NULL);
    broker_service_t *echo = broker_registry_service_ensure(registry, "echo");
    broker_worker_t *worker = s_add(registry, "host/1/0", echo, 0);
    zframe_t *client = s_identity("client");
    zmsg_t *body = zmsg_new();
    broker_request_t *held = broker_request_new(&client, SL_MDP_V02, &body);
    held->service = echo;
    broker_worker_hold(worker, held);
    client = s_identity("client2");
    body = zmsg_new();
    broker_request_t *queued = broker_request_new(&client, SL_MDP_V02, &body);
    queued->service = echo;
    assert_int_equal(broker_service_enqueue(echo, queued), 0);
    broker_registry_destroy(&registry); /* leak-checked under valgrind */
    assert_null(registry);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_services_are_made_once_with_counters),
        cmocka_unit_test(test_expiry_list_follows_last_heard),
        cmocka_unit_test(test_destroy_frees_held_jobs_and_queues),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
