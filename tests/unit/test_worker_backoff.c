/*  test_worker_backoff: unit tests of worker/worker_backoff.c, the timing policy behind the
    supervisor's restarts (100 ms x1.5 capped at 15 s, reset after a healthy run, crash-loop
    stop) and the worker's reconnects (doubling up to a cap). Pure arithmetic: no waiting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sl_defaults.h"
#include "worker_backoff.h"

static void test_restart_backoff_grows_by_half_and_caps(void **state)
{
    worker_backoff_t backoff;
    worker_backoff_init(&backoff, SL_RESTART_BACKOFF_MIN_MS, SL_RESTART_BACKOFF_MAX_MS,
                        SL_RESTART_BACKOFF_FACTOR);
    int64_t expected[] = {100, 150, 225, 337, 505, 757, 1135, 1702, 2553, 3829};
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++)
        assert_int_equal(worker_backoff_next(&backoff), expected[i]);
    for (int i = 0; i < 100; i++)
        assert_true(worker_backoff_next(&backoff) <= SL_RESTART_BACKOFF_MAX_MS);
    assert_int_equal(worker_backoff_next(&backoff), SL_RESTART_BACKOFF_MAX_MS);
}

static void test_reset_starts_over(void **state)
{
    worker_backoff_t backoff;
    worker_backoff_init(&backoff, 100, 5000, 2.0);
    assert_int_equal(worker_backoff_next(&backoff), 100);
    assert_int_equal(worker_backoff_next(&backoff), 200);
    assert_int_equal(worker_backoff_next(&backoff), 400);
    worker_backoff_reset(&backoff);
    assert_int_equal(worker_backoff_next(&backoff), 100);
}

static void test_bad_bounds_are_clamped(void **state)
{
    worker_backoff_t backoff;
    worker_backoff_init(&backoff, 0, -5, 1.0);
    assert_int_equal(worker_backoff_next(&backoff), 1);
    assert_int_equal(worker_backoff_next(&backoff), 1);
}

static void test_crash_window_trips_at_limit_within_window(void **state)
{
    worker_crash_window_t window;
    worker_crash_window_init(&window, 3, 60000);
    assert_false(worker_crash_window_record(&window, 0));
    assert_false(worker_crash_window_record(&window, 1000));
    assert_true(worker_crash_window_record(&window, 2000));
}

static void test_crash_window_forgets_old_restarts(void **state)
{
    worker_crash_window_t window;
    worker_crash_window_init(&window, 3, 60000);
    assert_false(worker_crash_window_record(&window, 0));
    assert_false(worker_crash_window_record(&window, 10000));
    //  The first restart is a full window old: only two remain in it
    assert_false(worker_crash_window_record(&window, 60000));
    assert_true(worker_crash_window_record(&window, 60001));
}

static void test_crash_window_default_policy(void **state)
{
    //  With the default backoff, ten crashes in a row take about 11 s: inside the window
    worker_crash_window_t window;
    worker_backoff_t backoff;
    worker_crash_window_init(&window, SL_CRASH_LOOP_RESTARTS, SL_CRASH_LOOP_WINDOW_MS);
    worker_backoff_init(&backoff, SL_RESTART_BACKOFF_MIN_MS, SL_RESTART_BACKOFF_MAX_MS,
                        SL_RESTART_BACKOFF_FACTOR);
    int64_t now = 0;
    for (int i = 1; i < SL_CRASH_LOOP_RESTARTS; i++) {
        assert_false(worker_crash_window_record(&window, now));
        now += worker_backoff_next(&backoff);
    }
    assert_true(worker_crash_window_record(&window, now));
}

static void test_crash_window_limit_is_clamped(void **state)
{
    worker_crash_window_t window;
    worker_crash_window_init(&window, 1000, 60000);
    assert_int_equal(window.limit, WORKER_CRASH_WINDOW_SLOTS);
    for (int i = 0; i < WORKER_CRASH_WINDOW_SLOTS - 1; i++)
        assert_false(worker_crash_window_record(&window, i));
    assert_true(worker_crash_window_record(&window, 100));
    worker_crash_window_init(&window, 0, 60000);
    assert_true(worker_crash_window_record(&window, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_restart_backoff_grows_by_half_and_caps),
        cmocka_unit_test(test_reset_starts_over),
        cmocka_unit_test(test_bad_bounds_are_clamped),
        cmocka_unit_test(test_crash_window_trips_at_limit_within_window),
        cmocka_unit_test(test_crash_window_forgets_old_restarts),
        cmocka_unit_test(test_crash_window_default_policy),
        cmocka_unit_test(test_crash_window_limit_is_clamped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
