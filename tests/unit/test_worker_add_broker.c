/*  test_worker_add_broker: unit tests of the several-brokers calls of slowlane/worker.h,
    sl_worker_add_broker and sl_worker_set_broker_curve_key, and of sl_worker_set_mdp, whose
    MDP/0.1 allows one broker only: what they accept and refuse.
    Nothing connects (sl_worker_run is not called); what the worker then does on the wire is
    tests/system/test_worker_brokers.py's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <czmq.h>
#include <stdio.h>
#include <unistd.h>

#include "sl_defaults.h"
#include "slowlane/worker.h"

static void test_add_broker_accepts_new_endpoints_and_refuses_duplicates(void **state)
{
    sl_worker_t *worker = sl_worker_new("tcp://127.0.0.1:5555", "svc");
    assert_non_null(worker);
    assert_int_equal(sl_worker_add_broker(worker, "tcp://127.0.0.1:5556"), 0);
    assert_int_equal(sl_worker_add_broker(worker, "ipc:///tmp/slowlane-broker"), 0);
    //  The one given to sl_worker_new counts too
    assert_int_equal(sl_worker_add_broker(worker, "tcp://127.0.0.1:5555"), -1);
    assert_int_equal(sl_worker_add_broker(worker, "tcp://127.0.0.1:5556"), -1);
    sl_worker_destroy(&worker);
    assert_null(worker);
}

static void test_add_broker_refuses_bad_endpoints(void **state)
{
    sl_worker_t *worker = sl_worker_new("tcp://127.0.0.1:5555", "svc");
    assert_int_equal(sl_worker_add_broker(worker, NULL), -1);
    assert_int_equal(sl_worker_add_broker(worker, ""), -1);
    assert_int_equal(sl_worker_add_broker(worker, "127.0.0.1:5556"), -1);
    assert_int_equal(sl_worker_add_broker(worker, "tcp://a:1 tcp://b:2"), -1);
    sl_worker_destroy(&worker);
}

static void test_add_broker_has_a_bound(void **state)
{
    sl_worker_t *worker = sl_worker_new("tcp://127.0.0.1:6000", "svc");
    char endpoint[64];
    for (int index = 1; index < SL_MAX_WORKER_BROKERS; index++) {
        snprintf(endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", 6000 + index);
        assert_int_equal(sl_worker_add_broker(worker, endpoint), 0);
    }
    assert_int_equal(sl_worker_add_broker(worker, "tcp://127.0.0.1:7000"), -1);
    sl_worker_destroy(&worker);
}

static void test_broker_curve_key_needs_a_known_endpoint_and_a_key_file(void **state)
{
    char path[] = "/tmp/slowlane-test-broker-key-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    zcert_t *cert = zcert_new();
    assert_int_equal(zcert_save_public(cert, path), 0);
    zcert_destroy(&cert);
    sl_worker_t *worker = sl_worker_new("tcp://127.0.0.1:5555", "svc");
    assert_int_equal(sl_worker_add_broker(worker, "tcp://127.0.0.1:5556"), 0);
    assert_int_equal(sl_worker_set_broker_curve_key(worker, "tcp://127.0.0.1:5556", path), 0);
    assert_int_equal(sl_worker_set_broker_curve_key(worker, "tcp://127.0.0.1:5555", path), 0);
    //  Set twice: the second replaces the first (no leak under ASan)
    assert_int_equal(sl_worker_set_broker_curve_key(worker, "tcp://127.0.0.1:5556", path), 0);
    assert_int_equal(sl_worker_set_broker_curve_key(worker, "tcp://127.0.0.1:5557", path), -1);
    assert_int_equal(
        sl_worker_set_broker_curve_key(worker, "tcp://127.0.0.1:5556", "/nonexistent/key"), -1);
    assert_int_equal(sl_worker_set_broker_curve_key(worker, "tcp://127.0.0.1:5556", ""), -1);
    sl_worker_destroy(&worker);
    unlink(path);
}

static int s_never_called(sl_job_t *job, void *arg)
{
    (void) job;
    (void) arg;
    fail_msg("no job can reach a worker that refused to start");
    return -1;
}

static void test_set_mdp_takes_the_two_versions_and_0_1_serves_one_broker_one_slot(void **state)
{
    sl_worker_t *worker = sl_worker_new("tcp://127.0.0.1:5555", "svc");
    assert_int_equal(sl_worker_set_mdp(worker, "0.3"), -1);
    assert_int_equal(sl_worker_set_mdp(worker, ""), -1);
    assert_int_equal(sl_worker_set_mdp(worker, NULL), -1);
    assert_int_equal(sl_worker_set_mdp(worker, "0.2"), 0);
    assert_int_equal(sl_worker_set_mdp(worker, "0.1"), 0);
    //  RFC 7 cannot share a slot between brokers nor declare several: run refuses at once
    assert_int_equal(sl_worker_set_capacity(worker, 2), 0);
    assert_int_equal(sl_worker_run(worker, s_never_called, NULL), -1);
    assert_int_equal(sl_worker_set_capacity(worker, 1), 0);
    assert_int_equal(sl_worker_add_broker(worker, "tcp://127.0.0.1:5556"), 0);
    assert_int_equal(sl_worker_run(worker, s_never_called, NULL), -1);
    sl_worker_destroy(&worker);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_broker_accepts_new_endpoints_and_refuses_duplicates),
        cmocka_unit_test(test_add_broker_refuses_bad_endpoints),
        cmocka_unit_test(test_add_broker_has_a_bound),
        cmocka_unit_test(test_set_mdp_takes_the_two_versions_and_0_1_serves_one_broker_one_slot),
        cmocka_unit_test(test_broker_curve_key_needs_a_known_endpoint_and_a_key_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
