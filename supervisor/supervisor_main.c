/*  supervisor_main: slowlane-worker's command line. Parses and checks every flag (each also
    SLOWLANE_<FLAG>) once, resolves the handler, then hands over to supervisor_run. Any bad
    value stops start-up here with one line, before a single child is forked. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sl_curve.h"
#include "sl_defaults.h"
#include "sl_flags.h"
#include "sl_log.h"
#include "supervisor.h"
#include "supervisor_session.h"

#define PROGRAM "slowlane-worker"

static char s_default_log_level[] = "info";
static char s_default_mdp[] = "0.2";

//  sl_flags copies a given string over the default; only those copies are ours to free.
static void s_free_flag(char *value, const char *fallback)
{
    if (value != fallback)
        free(value);
}

//  Every --broker by shape, at most SL_MAX_BROKERS and none twice (a worker registered twice
//  with one broker would take its own identity over); NULL or the one line.
static const char *s_check_brokers(const supervisor_config_t *config, char *line, size_t size)
{
    if (config->broker_count > SL_MAX_BROKERS) {
        snprintf(line, size, "--broker: %d endpoints, at most %d", config->broker_count,
                 SL_MAX_BROKERS);
        return line;
    }
    for (int i = 0; i < config->broker_count; i++) {
        //  The supervisor creates no ZeroMQ socket before it forks, so each endpoint is
        //  checked by shape here and for real by each child and the agent
        const char *broker = config->brokers[i];
        const char *port = strrchr(broker, ':');
        bool tcp_ok = strncmp(broker, "tcp://", 6) == 0 && port > broker + 6 && port[1] != '\0';
        if (!tcp_ok && (strncmp(broker, "ipc://", 6) != 0 || broker[6] == '\0')) {
            snprintf(line, size, "--broker: '%.256s' is not tcp://HOST:PORT or ipc://PATH", broker);
            return line;
        }
        for (int j = 0; j < i; j++)
            if (strcmp(config->brokers[j], broker) == 0) {
                snprintf(line, size, "--broker: '%.256s' is given twice", broker);
                return line;
            }
    }
    return NULL;
}

//  CURVE: --curve-server gives one key for every broker or one per --broker in order;
//  servers (config->broker_count long) gets the key file of each broker. Key files are
//  read here once to stop a bad one before any fork (reading them makes no ZeroMQ
//  context), and again by each child and the agent for their own sockets. NULL or the line.
static const char *s_check_curve(supervisor_config_t *config, const sl_strlist_t *given,
                                 const char **servers, char *line, size_t size)
{
    int count = (int) given->count;
    if (count > 1 && count != config->broker_count) {
        snprintf(line, size,
                 "--curve-server: %d keys for %d brokers: give one key for every broker or one "
                 "per --broker, in order",
                 count, config->broker_count);
        return line;
    }
    bool enabled = false;
    for (int i = 0; i < config->broker_count; i++) {
        servers[i] = count == 0 ? NULL : given->items[count == 1 ? 0 : i];
        sl_curve_client_t keys;
        if (sl_curve_client_load(&keys, config->curve_secret, servers[i], line, size) != 0)
            return line;
        enabled = sl_curve_client_enabled(&keys);
        sl_curve_client_clear(&keys);
    }
    if (enabled)
        config->curve_servers = servers;
    else
        config->curve_secret = NULL; /* empty values: off */
    return NULL;
}

//  The one line for a bad value, or NULL if the configuration can run.
static const char *s_check(supervisor_config_t *config, const char *log_level, const char *handler,
                           const sl_strlist_t *curve_servers, const char **servers)
{
    static char line[512];
    const char *reason = NULL;
    const char *service = config->service;
    //  The host is part of each worker's identity (host/pid/slot) and of the admin API's
    //  paths and queries: a short printable token
    size_t host_size = strlen(config->host);
    if (host_size == 0 || host_size > 64 || strcspn(config->host, " /\t\r\n\"") != host_size)
        return "--host: must be 1..64 bytes without spaces, quotes or '/'";
    if (sl_log_level_parse(log_level, &config->log_level) == -1) {
        snprintf(line, sizeof line, "--log-level: '%.64s' is not debug, info, warn or error",
                 log_level);
        return line;
    }
    if (!service || !*service || strlen(service) > SL_MAX_SERVICE_NAME ||
        strncmp(service, "mmi.", 4) == 0)
        return !service || !*service ? "--service: required"
                                     : "--service: must be 1..255 bytes and not mmi.*";
    if (s_check_brokers(config, line, sizeof line))
        return line;
    if (config->min_workers > config->max_workers) {
        snprintf(line, sizeof line, "--min %d is above --max %d", config->min_workers,
                 config->max_workers);
        return line;
    }
    if (config->count < config->min_workers || config->count > config->max_workers) {
        snprintf(line, sizeof line, "--count %d is outside --min %d .. --max %d", config->count,
                 config->min_workers, config->max_workers);
        return line;
    }
    if (worker_handler_resolve(handler, &config->handler, &reason) == -1) {
        snprintf(line, sizeof line, "--handler: %s", reason);
        return line;
    }
    if (strcmp(config->mdp, "0.2") != 0 && strcmp(config->mdp, "0.1") != 0) {
        snprintf(line, sizeof line, "--mdp: '%.32s' is not 0.1 or 0.2", config->mdp);
        return line;
    }
    //  RFC 7 cannot share a slot between brokers or declare several; a program: worker
    //  speaks its SDK's protocol (MDP/0.2)
    if (strcmp(config->mdp, "0.1") == 0 &&
        (config->broker_count > 1 || config->capacity > 1 || config->handler.program))
        return "--mdp 0.1: one --broker, --capacity 1 and a builtin: or exec: handler only";
    return s_check_curve(config, curve_servers, servers, line, sizeof line);
}

int main(int argc, char **argv)
{
    char *service = NULL, *handler = NULL, *host = NULL;
    char *log_level = s_default_log_level;
    char *mdp = s_default_mdp;
    char *curve_secret = NULL;
    sl_strlist_t brokers = {0}, curve_servers = {0};
    const char *servers[SL_MAX_BROKERS]; /* each broker's key file, after the checks */
    int64_t count = SL_DEFAULT_WORKER_COUNT, heartbeat_ms = SL_DEFAULT_HEARTBEAT_MS;
    int64_t capacity = SL_DEFAULT_WORKER_CAPACITY;
    int64_t liveness = SL_DEFAULT_LIVENESS, job_timeout_ms = SL_DEFAULT_JOB_TIMEOUT_MS;
    int64_t max_requests = 0, max_rss_mb = 0, nice = 0;
    bool own_session = false;
    int64_t slice_us = 0;
    int64_t min_workers = 0, max_workers = SL_MAX_WORKER_SLOTS;
    int64_t drain_timeout_ms = SL_DEFAULT_DRAIN_TIMEOUT_MS;
    int64_t crash_loop_restarts = SL_CRASH_LOOP_RESTARTS;
    int64_t crash_loop_window_ms = SL_CRASH_LOOP_WINDOW_MS;
    sl_flag_t flags[] = {
        {"broker", SL_FLAG_LIST, &brokers, 0, 0,
         "broker endpoint (tcp://host:port; default " SL_DEFAULT_BROKER_ENDPOINT "); give "
         "several for several brokers: every worker serves all, the agent reports to each"},
        {"service", SL_FLAG_STRING, &service, 0, 0, "service name the workers serve (required)"},
        {"handler", SL_FLAG_STRING, &handler, 0, 0,
         "builtin:busy|builtin:sleep|builtin:echo|builtin:stream|exec:COMMAND, or "
         "program:COMMAND to run COMMAND as each worker process (docs/workers.md) (required)"},
        {"capacity", SL_FLAG_INT, &capacity, 1, SL_MAX_WORKER_CAPACITY,
         "jobs the broker may hand each worker at once; they wait in the worker and run one "
         "at a time (1 for long or CPU-bound jobs)"},
        {"mdp", SL_FLAG_STRING, &mdp, 0, 0,
         "worker protocol: 0.2 (RFC 18: slowlane's brokers, the default) or 0.1 (RFC 7: a "
         "broker that speaks only MDP/0.1; one broker, capacity 1, no agent)"},
        {"count", SL_FLAG_INT, &count, 1, SL_MAX_WORKER_SLOTS,
         "worker processes (the admin API can scale them later)"},
        {"min", SL_FLAG_INT, &min_workers, 0, SL_MAX_WORKER_SLOTS,
         "never fewer workers on this host, whatever a scale or the autoscaler asks (0)"},
        {"max", SL_FLAG_INT, &max_workers, 1, SL_MAX_WORKER_SLOTS,
         "never more workers on this host (1024); the autoscaler gives it no more"},
        {"host", SL_FLAG_STRING, &host, 0, 0,
         "host name reported to the broker's cluster view (default: the system host name)"},
        {"heartbeat-ms", SL_FLAG_INT, &heartbeat_ms, 10, 3600000, "heartbeat interval"},
        {"liveness", SL_FLAG_INT, &liveness, 1, 100, "missed heartbeats before the broker is dead"},
        {"job-timeout-ms", SL_FLAG_INT, &job_timeout_ms, 0, 86400000,
         "kill and restart a worker whose job runs longer (0 = off)"},
        {"max-requests", SL_FLAG_INT, &max_requests, 0, INT64_MAX,
         "recycle a worker after this many jobs (0 = off)"},
        {"max-rss-mb", SL_FLAG_INT, &max_rss_mb, 0, 1048576,
         "recycle a worker above this resident memory (0 = off)"},
        {"nice", SL_FLAG_INT, &nice, -20, 19, "CPU priority of the workers (19 = lowest)"},
        {"slice-us", SL_FLAG_INT, &slice_us, 0, SL_MAX_SLICE_US,
         "CPU slice the workers ask of the scheduler, microseconds: short ones run sooner "
         "after a wake-up, for workers of quick jobs (Linux 6.12+; 0: the kernel's default)"},
        {"own-session", SL_FLAG_BOOL, &own_session, 0, 0,
         "run in a session of its own: on Linux a scheduling group, whose nice --nice sets, "
         "so busy workers yield to other sessions and stop delaying the one they left "
         "(slowlane up: the slow lane); start it with setsid(1) or from systemd"},
        {"drain-timeout-ms", SL_FLAG_INT, &drain_timeout_ms, 0, 86400000,
         "time a stopping worker may take to finish its job"},
        {"crash-loop-restarts", SL_FLAG_INT, &crash_loop_restarts, 1, 64,
         "unplanned restarts within the window that stop a slot"},
        {"crash-loop-window-ms", SL_FLAG_INT, &crash_loop_window_ms, 1, 86400000,
         "crash-loop window"},
        {"log-level", SL_FLAG_STRING, &log_level, 0, 0, "debug|info|warn|error"},
        {"curve-secret", SL_FLAG_STRING, &curve_secret, 0, 0,
         "CURVE: the workers' secret key file (slowlane keygen); needs --curve-server"},
        {"curve-server", SL_FLAG_LIST, &curve_servers, 0, 0,
         "CURVE: the brokers' public key file: one for every broker, or one per --broker in "
         "order (default off: plaintext)"},
    };
    int rc = sl_flags_parse(PROGRAM, flags, sizeof flags / sizeof flags[0], argc, argv, 1, NULL);
    if (rc != 0) {
        rc = rc == 1 ? 0 : 2;
        goto done;
    }
    if (brokers.count == 0)
        sl_strlist_push(&brokers, SL_DEFAULT_BROKER_ENDPOINT);
    char host_name[256] = "localhost";
    if (host && *host)
        snprintf(host_name, sizeof host_name, "%s", host);
    else {
        gethostname(host_name, sizeof host_name - 1);
        host_name[sizeof host_name - 1] = '\0';
    }
    supervisor_config_t config = {
        .host = host_name,
        .brokers = (const char *const *) brokers.items,
        .broker_count = (int) brokers.count,
        .service = service,
        .handler_spec = handler,
        .count = (int) count,
        .min_workers = (int) min_workers,
        .max_workers = (int) max_workers,
        .capacity = (int) capacity,
        .mdp = mdp,
        .heartbeat_ms = (int) heartbeat_ms,
        .liveness = (int) liveness,
        .job_timeout_ms = job_timeout_ms,
        .max_requests = max_requests,
        .max_rss_mb = max_rss_mb,
        .nice = (int) nice,
        .slice_us = slice_us,
        .drain_timeout_ms = drain_timeout_ms,
        .crash_loop_restarts = (int) crash_loop_restarts,
        .crash_loop_window_ms = crash_loop_window_ms,
        .curve_secret = curve_secret,
    };
    const char *problem = s_check(&config, log_level, handler, &curve_servers, servers);
    if (problem) {
        fprintf(stderr, PROGRAM ": %s\n", problem);
        rc = 2;
        goto done;
    }
    sl_log_init("supervisor", config.log_level);
    if (own_session && supervisor_session_own(config.nice) == -1) {
        fprintf(stderr, PROGRAM ": --own-session: this process leads a process group (a "
                                "shell's job); start it with setsid(1) or from systemd\n");
        rc = 2;
        goto done;
    }
    if (config.curve_secret)
        sl_log(SL_LOG_INFO, NULL, "curve_on", NULL);
    rc = supervisor_run(&config);
    worker_handler_reset(&config.handler);
done:
    sl_strlist_clear(&brokers);
    s_free_flag(service, NULL);
    s_free_flag(handler, NULL);
    s_free_flag(host, NULL);
    s_free_flag(log_level, s_default_log_level);
    s_free_flag(mdp, s_default_mdp);
    s_free_flag(curve_secret, NULL);
    sl_strlist_clear(&curve_servers);
    return rc;
}
