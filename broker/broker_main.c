/*  broker_main: the slowlane-broker program. Parses flags (each also SLOWLANE_<FLAG>),
    binds every endpoint or stops with one line naming the one that failed, runs the loop
    until SIGTERM/SIGINT, then tells workers DISCONNECT and exits 0. */
#include <czmq.h>
#include <inttypes.h>
#include <signal.h>
#include "broker.h"
#include "sl_defaults.h"
#include "sl_flags.h"
#include "sl_log.h"

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
    int64_t heartbeat_ms = SL_DEFAULT_HEARTBEAT_MS;
    int64_t liveness = SL_DEFAULT_LIVENESS;
    int64_t queue_limit = SL_DEFAULT_QUEUE_LIMIT;
    int64_t max_deliveries = SL_DEFAULT_MAX_DELIVERIES;
    char *log_level = NULL;
    sl_flag_t flags[] = {
        {"bind", SL_FLAG_LIST, &binds, 0, 0,
         "endpoint to bind, repeatable (default " SL_DEFAULT_BROKER_BIND ")"},
        {"heartbeat-ms", SL_FLAG_INT, &heartbeat_ms, 10, 3600000,
         "heartbeat interval to and from workers, ms (default 1000)"},
        {"liveness", SL_FLAG_INT, &liveness, 1, 1000,
         "heartbeats a worker may miss before it counts as dead (default 3)"},
        {"queue-limit", SL_FLAG_INT, &queue_limit, 1, 100000000,
         "waiting requests per service before queue_full (default 10000)"},
        {"max-deliveries", SL_FLAG_INT, &max_deliveries, 1, 1000,
         "times one request may be handed to a worker (default 3)"},
        {"log-level", SL_FLAG_STRING, &log_level, 0, 0,
         "debug, info, warn or error (default info)"},
    };
    size_t flag_count = sizeof(flags) / sizeof(flags[0]);
    int rc = sl_flags_parse(PROGRAM, flags, flag_count, argc, argv, 1, NULL);
    if (rc != 0) {
        sl_strlist_clear(&binds);
        free(log_level);
        return rc == 1 ? 0 : 2;
    }
    sl_log_level_t level = SL_LOG_INFO;
    if (log_level && sl_log_level_parse(log_level, &level) != 0) {
        fprintf(stderr, PROGRAM ": --log-level: expected debug, info, warn or error\n");
        sl_strlist_clear(&binds);
        free(log_level);
        return 2;
    }
    free(log_level);
    sl_log_init("broker", level);
    if (binds.count == 0)
        sl_strlist_push(&binds, SL_DEFAULT_BROKER_BIND);

    /* We handle SIGINT/SIGTERM ourselves: a flag the loop checks, so shutdown can still
       talk to workers. */
    zsys_handler_set(NULL);
    broker_config_t config = {
        .heartbeat_ms = heartbeat_ms,
        .liveness = liveness,
        .queue_limit = queue_limit,
        .max_deliveries = max_deliveries,
        .log_debug = level == SL_LOG_DEBUG,
    };
    broker_t *broker = broker_new(&config);
    if (!broker) {
        fprintf(stderr, PROGRAM ": cannot create the broker socket: %s\n",
                zmq_strerror(zmq_errno()));
        sl_strlist_clear(&binds);
        return 1;
    }
    for (size_t i = 0; i < binds.count; i++) {
        if (broker_bind(broker, binds.items[i]) != 0) {
            fprintf(stderr, PROGRAM ": cannot bind %s: %s\n", binds.items[i],
                    zmq_strerror(zmq_errno()));
            broker_destroy(&broker);
            sl_strlist_clear(&binds);
            return 1;
        }
    }
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = s_on_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);

    for (size_t i = 0; i < binds.count; i++)
        sl_log(SL_LOG_INFO, NULL, "broker_listening", "endpoint=%s", binds.items[i]);
    sl_log(SL_LOG_INFO, NULL, "broker_started",
           "heartbeat_ms=%" PRId64 " liveness=%" PRId64 " queue_limit=%" PRId64
           " max_deliveries=%" PRId64,
           heartbeat_ms, liveness, queue_limit, max_deliveries);
    rc = broker_run(broker, &s_stop);
    sl_log(SL_LOG_INFO, NULL, "broker_stopping", NULL);
    broker_shutdown(broker);
    broker_destroy(&broker);
    sl_strlist_clear(&binds);
    sl_log(SL_LOG_INFO, NULL, "broker_stopped", NULL);
    return rc == 0 ? 0 : 1;
}
