/*  Unit tests for sl_flags: command-line forms, environment fallback, flag-wins rule and
    the one-line errors that stop start-up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sl_flags.h"

typedef struct {
    char *broker;
    int64_t heartbeat_ms;
    bool verbose;
    sl_strlist_t binds;
    sl_flag_t flags[4];
} fixture_t;

static void s_fixture_init(fixture_t *f)
{
    memset(f, 0, sizeof *f);
    f->broker = "tcp://127.0.0.1:5555";
    f->heartbeat_ms = 1000;
    f->flags[0] = (sl_flag_t){"broker", SL_FLAG_STRING, &f->broker, 0, 0, "broker endpoint"};
    f->flags[1] = (sl_flag_t){"heartbeat-ms", SL_FLAG_INT, &f->heartbeat_ms, 10, 60000, "beat"};
    f->flags[2] = (sl_flag_t){"verbose", SL_FLAG_BOOL, &f->verbose, 0, 0, "chatty"};
    f->flags[3] = (sl_flag_t){"bind", SL_FLAG_LIST, &f->binds, 0, 0, "endpoints"};
    unsetenv("SLOWLANE_BROKER");
    unsetenv("SLOWLANE_HEARTBEAT_MS");
    unsetenv("SLOWLANE_VERBOSE");
    unsetenv("SLOWLANE_BIND");
}

static int s_parse(fixture_t *f, int argc, char **argv)
{
    return sl_flags_parse("test", f->flags, 4, argc, argv, 1, NULL);
}

static void test_defaults_stay_when_nothing_is_given(void **state)
{
    fixture_t f;
    s_fixture_init(&f);
    char *argv[] = {"prog"};
    assert_int_equal(s_parse(&f, 1, argv), 0);
    assert_string_equal(f.broker, "tcp://127.0.0.1:5555");
    assert_int_equal(f.heartbeat_ms, 1000);
    assert_false(f.verbose);
    assert_int_equal(f.binds.count, 0);
}

static void test_both_value_forms_and_repeatable_lists(void **state)
{
    fixture_t f;
    s_fixture_init(&f);
    char *argv[] = {"prog",      "--broker", "tcp://b:1", "--heartbeat-ms=250",
                    "--verbose", "--bind",   "tcp://*:1", "--bind=tcp://*:2"};
    assert_int_equal(s_parse(&f, 8, argv), 0);
    assert_string_equal(f.broker, "tcp://b:1");
    assert_int_equal(f.heartbeat_ms, 250);
    assert_true(f.verbose);
    assert_int_equal(f.binds.count, 2);
    assert_string_equal(f.binds.items[0], "tcp://*:1");
    assert_string_equal(f.binds.items[1], "tcp://*:2");
    sl_strlist_clear(&f.binds);
    free(f.broker); // a copy made by the parser, unlike the literal default
}

static void test_environment_fills_in_and_flag_wins(void **state)
{
    fixture_t f;
    s_fixture_init(&f);
    setenv("SLOWLANE_BROKER", "tcp://env:9", 1);
    setenv("SLOWLANE_HEARTBEAT_MS", "300", 1);
    setenv("SLOWLANE_BIND", "tcp://*:7 tcp://*:8", 1);
    char *argv[] = {"prog", "--heartbeat-ms", "400"};
    assert_int_equal(s_parse(&f, 3, argv), 0);
    assert_string_equal(f.broker, "tcp://env:9");
    assert_int_equal(f.heartbeat_ms, 400);
    assert_int_equal(f.binds.count, 2);
    assert_string_equal(f.binds.items[1], "tcp://*:8");
    sl_strlist_clear(&f.binds);
    free(f.broker);
}

static void test_bad_values_stop_start_up(void **state)
{
    fixture_t f;
    s_fixture_init(&f);
    char *not_a_number[] = {"prog", "--heartbeat-ms", "12x"};
    assert_int_equal(s_parse(&f, 3, not_a_number), -1);
    char *out_of_range[] = {"prog", "--heartbeat-ms", "5"};
    assert_int_equal(s_parse(&f, 3, out_of_range), -1);
    char *unknown[] = {"prog", "--nope"};
    assert_int_equal(s_parse(&f, 2, unknown), -1);
    char *missing_value[] = {"prog", "--broker"};
    assert_int_equal(s_parse(&f, 2, missing_value), -1);
    char *bad_bool[] = {"prog", "--verbose=maybe"};
    assert_int_equal(s_parse(&f, 2, bad_bool), -1);
    char *stray[] = {"prog", "stray"};
    assert_int_equal(s_parse(&f, 2, stray), -1);
    setenv("SLOWLANE_HEARTBEAT_MS", "soon", 1);
    char *plain[] = {"prog"};
    assert_int_equal(s_parse(&f, 1, plain), -1);
    unsetenv("SLOWLANE_HEARTBEAT_MS");
}

static void test_positional_arguments_are_collected_when_allowed(void **state)
{
    fixture_t f;
    s_fixture_init(&f);
    sl_strlist_t rest = {0};
    char *argv[] = {"prog", "scale", "--verbose", "fast", "4"};
    assert_int_equal(sl_flags_parse("test", f.flags, 4, 5, argv, 1, &rest), 0);
    assert_int_equal(rest.count, 3);
    assert_string_equal(rest.items[0], "scale");
    assert_string_equal(rest.items[2], "4");
    assert_true(f.verbose);
    sl_strlist_clear(&rest);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_stay_when_nothing_is_given),
        cmocka_unit_test(test_both_value_forms_and_repeatable_lists),
        cmocka_unit_test(test_environment_fills_in_and_flag_wins),
        cmocka_unit_test(test_bad_values_stop_start_up),
        cmocka_unit_test(test_positional_arguments_are_collected_when_allowed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
