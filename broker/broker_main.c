/*  broker_main: the slowlane-broker program. Parses flags (each also SLOWLANE_<FLAG>),
    binds every endpoint or stops with one line naming the one that failed, runs the loop
    until SIGTERM/SIGINT, then tells workers DISCONNECT and exits 0. */
#include <czmq.h>
#include <signal.h>
#include "broker.h"
#include "broker_curve.h"
#include "broker_options.h"
#include "broker_serve.h"
#include "sl_defaults.h"
#include "sl_flags.h"
#include "sl_log.h"
#include "sl_sched.h"

#define PROGRAM "slowlane-broker"

static volatile sig_atomic_t s_stop = 0;

static void s_on_signal(int signum)
{
    (void) signum;
    s_stop = 1;
}

int main(int argc, char **argv)
{
    sl_strlist_t binds = {0};
    char *log_level = NULL;
    int64_t slice_us = SL_DEFAULT_SLICE_US;
    broker_options_t options;
    broker_options_init(&options);
    sl_flag_t flags[3 + BROKER_OPTIONS_FLAG_COUNT] = {
        {"bind", SL_FLAG_LIST, &binds, 0, 0,
         "endpoint to bind, repeatable (default " SL_DEFAULT_BROKER_BIND ")"},
        {"log-level", SL_FLAG_STRING, &log_level, 0, 0,
         "debug, info, warn or error (default info)"},
        {"slice-us", SL_FLAG_INT, &slice_us, 0, SL_MAX_SLICE_US, SL_SCHED_SLICE_FLAG_HELP},
    };
    broker_options_flags(&options, false, flags + 3);
    size_t flag_count = sizeof(flags) / sizeof(flags[0]);
    int rc = sl_flags_parse(PROGRAM, flags, flag_count, argc, argv, 1, NULL);
    if (rc != 0) {
        sl_strlist_clear(&binds);
        free(log_level);
        broker_options_clear(&options);
        return rc == 1 ? 0 : 2;
    }
    char check_error[512];
    if (broker_options_check(&options, false, check_error, sizeof check_error) != 0) {
        fprintf(stderr, PROGRAM ": %s\n", check_error);
        sl_strlist_clear(&binds);
        free(log_level);
        broker_options_clear(&options);
        return 2;
    }
    sl_log_level_t level = SL_LOG_INFO;
    if (log_level && sl_log_level_parse(log_level, &level) != 0) {
        fprintf(stderr, PROGRAM ": --log-level: expected debug, info, warn or error\n");
        sl_strlist_clear(&binds);
        free(log_level);
        broker_options_clear(&options);
        return 2;
    }
    free(log_level);
    sl_log_init("broker", level);
    //  Before any thread starts: every thread inherits it
    sl_sched_ask_slice_us(slice_us);
    options.log_debug = level == SL_LOG_DEBUG;
    if (binds.count == 0)
        sl_strlist_push(&binds, SL_DEFAULT_BROKER_BIND);

    char curve_error[512];
    broker_curve_t *curve = broker_curve_new(&options, false, curve_error, sizeof curve_error);
    if (!curve) {
        fprintf(stderr, PROGRAM ": %s\n", curve_error);
        sl_strlist_clear(&binds);
        broker_options_clear(&options);
        return 2;
    }

    /* We handle SIGINT/SIGTERM ourselves: a flag the loop checks, so shutdown can still
       talk to workers. */
    zsys_handler_set(NULL);
    broker_config_t config = broker_options_config(&options);
    broker_t *broker = broker_new(&config, broker_curve_cert(curve));
    if (!broker) {
        fprintf(stderr, PROGRAM ": cannot create the broker socket: %s\n",
                zmq_strerror(zmq_errno()));
        sl_strlist_clear(&binds);
        broker_curve_destroy(&curve);
        broker_options_clear(&options);
        return 1;
    }
    for (size_t i = 0; i < binds.count; i++) {
        if (broker_bind(broker, binds.items[i]) != 0) {
            fprintf(stderr, PROGRAM ": cannot bind %s: %s\n", binds.items[i],
                    zmq_strerror(zmq_errno()));
            broker_destroy(&broker);
            sl_strlist_clear(&binds);
            broker_curve_destroy(&curve);
            broker_options_clear(&options);
            return 1;
        }
    }
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = s_on_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);

    rc = broker_serve(&broker, &options, curve, &binds, &s_stop);
    sl_strlist_clear(&binds);
    broker_curve_destroy(&curve); /* after the broker's ROUTER is gone */
    broker_options_clear(&options);
    return rc == 0 ? 0 : 1;
}
