/*  jobs_main: slowlane-jobs, the composition root of the jobs component. Parses and checks
    every flag (each also SLOWLANE_<FLAG>) once, opens the store (a foreign, corrupt or
    unwritable one stops start-up with one line), starts the dispatcher, then serves the
    slowlane.jobs service on every broker until SIGTERM. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <slowlane/worker.h>

#include "jobs_api.h"
#include "jobs_dispatcher.h"
#include "jobs_store.h"
#include "sl_curve.h"
#include "sl_defaults.h"
#include "sl_flags.h"
#include "sl_log.h"

#define PROGRAM "slowlane-jobs"

static char s_default_log_level[] = "info";
static char s_default_data_dir[] = SL_DEFAULT_JOBS_DATA_DIR;

typedef struct {
    sl_strlist_t brokers;
    char *data_dir;
    char *identity;
    char *log_level;
    char *curve_secret;
    sl_strlist_t curve_servers;
    int64_t heartbeat_ms;
    int64_t liveness;
    int64_t max_in_flight;
    int64_t retry_base_ms;
    int64_t retry_max_ms;
    int64_t grace_ms;
    int64_t expired_keep_s;
    int64_t max_result_bytes;
    int64_t capacity;
} s_options_t;

/* CURVE: --curve-server gives one public key for every broker, or one per --broker in
   order; curves gets each broker's keys (all off when none is given). 0, or -1 with the
   line in error. */
static int s_load_curves(s_options_t *options, sl_curve_client_t *curves, char *error, size_t size)
{
    size_t given = options->curve_servers.count;
    if (given > 1 && given != options->brokers.count) {
        snprintf(error, size,
                 "--curve-server: %zu keys for %zu brokers: give one key for every broker or one "
                 "per --broker, in order",
                 given, options->brokers.count);
        return -1;
    }
    for (size_t i = 0; i < options->brokers.count; i++) {
        const char *server = given == 0 ? NULL : options->curve_servers.items[given == 1 ? 0 : i];
        if (sl_curve_client_load(&curves[i], options->curve_secret, server, error, size) != 0)
            return -1;
    }
    return 0;
}

static int s_run(s_options_t *options, sl_curve_client_t *curves)
{
    char error[512] = "";
    jobs_store_t *store = jobs_store_open(options->data_dir, error, sizeof error);
    if (!store) {
        fprintf(stderr, "%s: --data-dir: %s\n", PROGRAM, error);
        return 1;
    }
    char identity[200];
    if (options->identity && *options->identity) {
        snprintf(identity, sizeof identity, "%s", options->identity);
    } else {
        char host[128] = "localhost";
        gethostname(host, sizeof host - 1);
        snprintf(identity, sizeof identity, "slowlane-jobs/%s", host);
    }
    jobs_dispatcher_config_t config = {
        .brokers = options->brokers.items,
        .broker_count = options->brokers.count,
        .curves = curves,
        .identity = identity,
        .heartbeat_ms = options->heartbeat_ms,
        .liveness = options->liveness,
        .max_in_flight = options->max_in_flight,
        .retry_base_ms = options->retry_base_ms,
        .retry_max_ms = options->retry_max_ms,
        .grace_ms = options->grace_ms,
        .expired_keep_ms = options->expired_keep_s * 1000,
        .max_result_bytes = options->max_result_bytes,
    };
    int rc = 1;
    jobs_dispatcher_t *dispatcher = jobs_dispatcher_new(&config, store);
    sl_worker_t *worker = sl_worker_new(options->brokers.items[0], SL_JOBS_SERVICE);
    if (!dispatcher || !worker) {
        fprintf(stderr, "%s: cannot start (see the log above)\n", PROGRAM);
        goto done;
    }
    for (size_t i = 1; i < options->brokers.count; i++)
        sl_worker_add_broker(worker, options->brokers.items[i]);
    sl_worker_set_heartbeat(worker, (int) options->heartbeat_ms, (int) options->liveness);
    /* A stable identity: after a crash the broker hands the new process the requests the
       old one held at once (protocol.md 3.3), instead of at heartbeat expiry. */
    char api_identity[sizeof identity + 8];
    snprintf(api_identity, sizeof api_identity, "%s/api", identity);
    sl_worker_set_identity(worker, api_identity);
    sl_worker_set_capacity(worker, (int) options->capacity);
    /* Each broker its own public key, paired in order, as for the supervisor's workers. */
    if (sl_curve_client_enabled(&curves[0])) {
        size_t given = options->curve_servers.count;
        if (sl_worker_set_curve(worker, options->curve_secret, options->curve_servers.items[0]) !=
            0)
            goto done;
        for (size_t i = 1; given > 1 && i < options->brokers.count; i++)
            if (sl_worker_set_broker_curve_key(worker, options->brokers.items[i],
                                               options->curve_servers.items[i]) != 0)
                goto done;
    }
    int64_t counts[JOBS_STATE_COUNT];
    jobs_store_counts(store, counts);
    sl_log(SL_LOG_INFO, NULL, "jobs_started",
           "store=%s brokers=%zu queued=%lld running=%lld done=%lld failed=%lld",
           jobs_store_path(store), options->brokers.count, (long long) counts[JOBS_QUEUED],
           (long long) counts[JOBS_RUNNING], (long long) counts[JOBS_DONE],
           (long long) counts[JOBS_FAILED]);
    jobs_api_t api = {.store = store, .dispatcher = dispatcher};
    rc = sl_worker_run(worker, jobs_api_handle, &api) == 0 ? 0 : 1;
    sl_log(SL_LOG_INFO, NULL, "jobs_stopped", NULL);
done:
    sl_worker_destroy(&worker);
    jobs_dispatcher_destroy(&dispatcher);
    jobs_store_destroy(&store);
    return rc;
}

int main(int argc, char **argv)
{
    s_options_t options = {
        .data_dir = s_default_data_dir,
        .log_level = s_default_log_level,
        .heartbeat_ms = SL_DEFAULT_HEARTBEAT_MS,
        .liveness = SL_DEFAULT_LIVENESS,
        .max_in_flight = SL_DEFAULT_JOBS_MAX_IN_FLIGHT,
        .retry_base_ms = SL_DEFAULT_JOBS_RETRY_BASE_MS,
        .retry_max_ms = SL_DEFAULT_JOBS_RETRY_MAX_MS,
        .grace_ms = SL_DEFAULT_JOBS_GRACE_MS,
        .expired_keep_s = SL_DEFAULT_JOBS_EXPIRED_KEEP_S,
        .max_result_bytes = SL_DEFAULT_JOBS_MAX_RESULT_BYTES,
        .capacity = 16,
    };
    sl_flag_t flags[] = {
        {"broker", SL_FLAG_LIST, &options.brokers, 0, 0,
         "broker endpoint (default " SL_DEFAULT_BROKER_ENDPOINT "); give every broker: the "
         "jobs service registers with each, and jobs run through any that is up"},
        {"data-dir", SL_FLAG_STRING, &options.data_dir, 0, 0,
         "directory of the job store (created, mode 0700; default " SL_DEFAULT_JOBS_DATA_DIR ")"},
        {"identity", SL_FLAG_STRING, &options.identity, 0, 0,
         "stable name of this jobs process at the brokers, so replies reach it after a restart "
         "(default slowlane-jobs/HOSTNAME; unique per process)"},
        {"heartbeat-ms", SL_FLAG_INT, &options.heartbeat_ms, 10, 3600000, "heartbeat interval"},
        {"liveness", SL_FLAG_INT, &options.liveness, 1, 100,
         "missed heartbeats before a broker is lost"},
        {"max-in-flight", SL_FLAG_INT, &options.max_in_flight, 1, 100000,
         "attempts out at once per service; the rest wait in the store"},
        {"retry-base-ms", SL_FLAG_INT, &options.retry_base_ms, 1, 86400000,
         "delay before the first retry; doubles per attempt"},
        {"retry-max-ms", SL_FLAG_INT, &options.retry_max_ms, 1, 86400000, "longest retry delay"},
        {"grace-ms", SL_FLAG_INT, &options.grace_ms, 0, 86400000,
         "time past an attempt's timeout before it is given up as failed"},
        {"expired-keep-s", SL_FLAG_INT, &options.expired_keep_s, 0, 31536000,
         "how long an expired job still answers 410 before it is forgotten (404)"},
        {"max-result-bytes", SL_FLAG_INT, &options.max_result_bytes, 1024, SL_MAX_MESSAGE_BYTES,
         "largest result kept; a larger one fails its job"},
        {"capacity", SL_FLAG_INT, &options.capacity, 1, SL_MAX_WORKER_CAPACITY,
         "job API requests taken from the brokers at once"},
        {"curve-secret", SL_FLAG_STRING, &options.curve_secret, 0, 0,
         "this process's CURVE key pair (NAME_secret of slowlane keygen)"},
        {"curve-server", SL_FLAG_LIST, &options.curve_servers, 0, 0,
         "the brokers' CURVE public key files: one for every broker, or one per --broker in "
         "order"},
        {"log-level", SL_FLAG_STRING, &options.log_level, 0, 0, "debug|info|warn|error"},
    };
    size_t count = sizeof flags / sizeof flags[0];
    int parsed = sl_flags_parse(PROGRAM, flags, count, argc, argv, 1, NULL);
    if (parsed != 0)
        return parsed == 1 ? 0 : 2;
    sl_log_level_t level;
    if (sl_log_level_parse(options.log_level, &level) != 0) {
        fprintf(stderr, "%s: --log-level: '%.64s' is not debug, info, warn or error\n", PROGRAM,
                options.log_level);
        return 2;
    }
    if (options.brokers.count == 0)
        sl_strlist_push(&options.brokers, SL_DEFAULT_BROKER_ENDPOINT);
    if (options.brokers.count > SL_MAX_BROKERS) {
        fprintf(stderr, "%s: --broker: %zu endpoints, at most %d\n", PROGRAM, options.brokers.count,
                SL_MAX_BROKERS);
        return 2;
    }
    if (options.retry_max_ms < options.retry_base_ms) {
        fprintf(stderr, "%s: --retry-max-ms: must be at least --retry-base-ms\n", PROGRAM);
        return 2;
    }
    sl_curve_client_t curves[SL_MAX_BROKERS] = {0};
    char error[512];
    if (s_load_curves(&options, curves, error, sizeof error) != 0) {
        fprintf(stderr, "%s: %s\n", PROGRAM, error);
        for (size_t i = 0; i < options.brokers.count; i++)
            sl_curve_client_clear(&curves[i]);
        return 2;
    }
    sl_log_init("jobs", level);
    umask(077); /* the store holds request bodies and results: this user's alone */
    int rc = s_run(&options, curves);
    for (size_t i = 0; i < options.brokers.count; i++)
        sl_curve_client_clear(&curves[i]);
    sl_strlist_clear(&options.brokers);
    if (options.data_dir != s_default_data_dir)
        free(options.data_dir);
    if (options.log_level != s_default_log_level)
        free(options.log_level);
    free(options.identity);
    free(options.curve_secret);
    sl_strlist_clear(&options.curve_servers);
    return rc;
}
