/*  test_gateway_history: the dashboard's ring of points and marks (gateway_history) and the
    quantile the sampler computes per second (gateway_history_quantile): wrap-around, series
    that appear late, the series bound, what a reader asking "since" gets, and marks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "gateway_history.h"
#include "gateway_history_sampler.h"

static json_t *s_series(json_t *root, const char *name)
{
    return json_object_get(json_object_get(root, "series"), name);
}

static void test_ring_keeps_the_newest_points_and_wraps(void **state)
{
    gateway_history_t *history = gateway_history_new(4, 8);
    assert_non_null(history);
    //  No point begun: nothing to set
    assert_int_equal(gateway_history_set(history, "route:/a:rps", 1), -1);
    for (int point = 1; point <= 6; point++) {
        gateway_history_begin(history, 1000 * point);
        assert_int_equal(gateway_history_set(history, "route:/a:rps", point), 0);
    }
    json_t *root = gateway_history_json(history, 0, 0, 1000);
    assert_int_equal(json_integer_value(json_object_get(root, "seq")), 6);
    json_t *times = json_object_get(root, "t");
    json_t *values = s_series(root, "route:/a:rps");
    assert_int_equal(json_array_size(times), 4); /* points 3..6: the first two wrapped away */
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(json_integer_value(json_array_get(times, i)), 1000 * (i + 3));
        assert_true(json_number_value(json_array_get(values, i)) == (double) (i + 3));
    }
    json_decref(root);
    //  A reader that has point 5 gets point 6 only; one that has everything gets nothing
    root = gateway_history_json(history, 5, 0, 1000);
    assert_int_equal(json_array_size(json_object_get(root, "t")), 1);
    assert_true(json_number_value(json_array_get(s_series(root, "route:/a:rps"), 0)) == 6.0);
    json_decref(root);
    root = gateway_history_json(history, 6, 0, 1000);
    assert_int_equal(json_array_size(json_object_get(root, "t")), 0);
    json_decref(root);
    gateway_history_destroy(&history);
    assert_null(history);
}

static void test_a_point_without_a_value_is_null_and_a_late_series_is_padded(void **state)
{
    gateway_history_t *history = gateway_history_new(10, 8);
    gateway_history_begin(history, 1000);
    gateway_history_set(history, "service:s:queued", 3);
    gateway_history_begin(history, 2000); /* s had no value at this point */
    gateway_history_set(history, "service:t:queued", 7);
    gateway_history_set(history, "service:s:oldest_wait_ms", NAN);
    json_t *root = gateway_history_json(history, 0, 0, 1000);
    json_t *s = s_series(root, "service:s:queued");
    json_t *t = s_series(root, "service:t:queued");
    assert_int_equal(json_array_size(s), 2);
    assert_true(json_number_value(json_array_get(s, 0)) == 3.0);
    assert_true(json_is_null(json_array_get(s, 1)));
    assert_true(json_is_null(json_array_get(t, 0)));
    assert_true(json_number_value(json_array_get(t, 1)) == 7.0);
    assert_true(json_is_null(json_array_get(s_series(root, "service:s:oldest_wait_ms"), 1)));
    json_decref(root);
    gateway_history_destroy(&history);
}

static void test_series_past_the_bound_are_not_kept(void **state)
{
    gateway_history_t *history = gateway_history_new(10, 2);
    gateway_history_begin(history, 1000);
    assert_int_equal(gateway_history_set(history, "a", 1), 0);
    assert_int_equal(gateway_history_set(history, "b", 1), 0);
    assert_int_equal(gateway_history_set(history, "c", 1), -1);
    assert_int_equal(gateway_history_set(history, "a", 2), 0); /* known ones still update */
    char long_name[GATEWAY_HISTORY_NAME_MAX + 10];
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    assert_int_equal(gateway_history_set(history, long_name, 1), -1);
    //  The bound is the memory figure's: points x series floats, names and the marks
    assert_true(gateway_history_bytes(history) >= 10 * 2 * sizeof(float));
    assert_true(gateway_history_bytes(history) < 10 * 2 * sizeof(float) + 128 * 1024);
    json_t *root = gateway_history_json(history, 0, 0, 1000);
    assert_int_equal(json_object_size(json_object_get(root, "series")), 2);
    json_decref(root);
    gateway_history_destroy(&history);
}

static void test_marks_come_once_to_a_reader_that_passes_mark_seq_back(void **state)
{
    gateway_history_t *history = gateway_history_new(10, 8);
    gateway_history_mark(history, 1500, "scale", "fast", "count=4");
    gateway_history_mark(history, 1600, "worker_died", "slow", "1 worker died");
    json_t *root = gateway_history_json(history, 0, 0, 1000);
    json_t *marks = json_object_get(root, "marks");
    assert_int_equal(json_array_size(marks), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(marks, 0), "kind")),
                        "scale");
    assert_string_equal(json_string_value(json_object_get(json_array_get(marks, 1), "subject")),
                        "slow");
    json_int_t seen = json_integer_value(json_object_get(root, "mark_seq"));
    assert_int_equal(seen, 2);
    json_decref(root);
    gateway_history_mark(history, 1700, "broker_lost", "tcp://b:5555", "broker lost");
    root = gateway_history_json(history, 0, (uint64_t) seen, 1000);
    marks = json_object_get(root, "marks");
    assert_int_equal(json_array_size(marks), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(marks, 0), "kind")),
                        "broker_lost");
    json_decref(root);
    //  Only the newest GATEWAY_HISTORY_MARKS are kept
    for (int i = 0; i < GATEWAY_HISTORY_MARKS + 10; i++)
        gateway_history_mark(history, 2000 + i, "scale", "fast", "");
    root = gateway_history_json(history, 0, 0, 1000);
    assert_int_equal(json_array_size(json_object_get(root, "marks")), GATEWAY_HISTORY_MARKS);
    json_decref(root);
    gateway_history_destroy(&history);
}

static void test_quantile_interpolates_inside_a_bucket(void **state)
{
    const double bounds[] = {1, 2, 5};
    const double none[] = {0, 0, 0, 0};
    assert_true(isnan(gateway_history_quantile(0.5, bounds, none, 3)));
    //  10 in (0, 1], 10 in (1, 2]: the median is the top of the first, p99 near 2
    const double counts[] = {10, 10, 0, 0};
    assert_true(fabs(gateway_history_quantile(0.5, bounds, counts, 3) - 1.0) < 1e-9);
    assert_true(fabs(gateway_history_quantile(0.99, bounds, counts, 3) - 1.98) < 1e-9);
    //  A rank in the unbounded bucket is reported as the last finite bound
    const double slow[] = {0, 0, 0, 4};
    assert_true(gateway_history_quantile(0.5, bounds, slow, 3) == 5.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ring_keeps_the_newest_points_and_wraps),
        cmocka_unit_test(test_a_point_without_a_value_is_null_and_a_late_series_is_padded),
        cmocka_unit_test(test_series_past_the_bound_are_not_kept),
        cmocka_unit_test(test_marks_come_once_to_a_reader_that_passes_mark_seq_back),
        cmocka_unit_test(test_quantile_interpolates_inside_a_bucket),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
