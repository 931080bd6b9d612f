/*  slowlane-gateway: flags, start-up order and shutdown. Everything with behaviour lives
    in the gateway_* classes; this file only wires them: routes (validated, then read-only),
    the bridge to the broker, the HTTP server, and a drain on SIGINT/SIGTERM. */
#include <czmq.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "broker_embedded.h"
#include "gateway_admin.h"
#include "gateway_bridge.h"
#include "gateway_cluster.h"
#include "gateway_http.h"
#include "gateway_observe.h"
#include "gateway_routes.h"
#include "sl_defaults.h"
#include "sl_flags.h"
#include "sl_futex_hash.h"
#include "sl_log.h"
#include "sl_token.h"

#define S_PROGRAM "slowlane-gateway"

/* Waits for SIGINT/SIGTERM (blocked in every thread, so only this sigwait sees them). */
static int s_wait_for_signal(const sigset_t *signals)
{
    int number = 0;
    sigwait(signals, &number);
    return number;
}

/* --embed-broker takes the broker-* flags and excludes the ones that point at a broker
   elsewhere. Returns 0, or -1 with one line in error. */
static int s_check_embedding(bool embedding, const broker_options_t *options, const char *broker,
                             const char *curve_secret, const char *curve_server, char *error,
                             size_t size)
{
    const char *changed = broker_options_changed(options, true);
    if (!embedding && changed) {
        snprintf(error, size, "--%s: only with --embed-broker", changed);
        return -1;
    }
    const char *clash = !embedding     ? NULL
                        : broker       ? "--broker"
                        : curve_secret ? "--curve-secret"
                        : curve_server ? "--curve-server"
                                       : NULL;
    if (clash) {
        snprintf(error, size,
                 "%s: not with --embed-broker (the gateway reaches the broker it embeds "
                 "in-process; --broker-curve-secret encrypts the workers' links)",
                 clash);
        return -1;
    }
    return 0;
}

/* Lets admitted requests finish for up to drain_ms, refusing new ones meanwhile. */
static void s_drain(gateway_http_t *http, gateway_bridge_t *bridge, int64_t drain_ms)
{
    gateway_http_refuse(http);
    int64_t until = zclock_mono() + drain_ms;
    while (gateway_http_in_flight(http) > 0 && zclock_mono() < until)
        zclock_sleep(10); /* shutdown only: a short poll is simpler than another signal */
    int64_t left = gateway_http_in_flight(http);
    if (left > 0)
        sl_log(SL_LOG_WARN, NULL, "drain_timeout", "in_flight=%lld", (long long) left);
    gateway_bridge_close(bridge); /* whatever still waits answers 503 now */
}

/* civetweb holds one descriptor per connection (and keeps a thread on it): a soft limit of
   1024 would refuse connections long before the threads run out. Raises the soft limit to the
   hard one and says so if even that is short of threads plus a margin for everything else. */
static void s_raise_fd_limit(int64_t threads)
{
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0)
        return;
    if (limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &limit) != 0)
            getrlimit(RLIMIT_NOFILE, &limit);
    }
    if (limit.rlim_cur != RLIM_INFINITY && (int64_t) limit.rlim_cur < threads + 256)
        sl_log(SL_LOG_WARN, NULL, "fd_limit_low",
               "nofile=%llu threads=%lld detail=\"connections past the limit are refused: raise "
               "LimitNOFILE / ulimit -Hn\"",
               (unsigned long long) limit.rlim_cur, (long long) threads);
}

/* The admin token from --admin-token (or SLOWLANE_ADMIN_TOKEN) or --admin-token-file, into
   token ("" when neither is given: the admin API stays off). -1 with one line in error. */
static int s_admin_token(const char *given, const char *file, char *token, size_t size, char *error,
                         size_t error_size)
{
    const char *reason = NULL;
    if (given && file) {
        snprintf(error, error_size, "--admin-token and --admin-token-file: give one, not both");
        return -1;
    }
    if (given) {
        if (sl_token_check(given, &reason) != 0 || strlen(given) >= size) {
            snprintf(error, error_size, "--admin-token: %s", reason ? reason : "too long");
            return -1;
        }
        snprintf(token, size, "%s", given);
    } else if (file) {
        bool loose = false;
        if (sl_token_read_file(file, token, size, &loose, &reason) != 0) {
            snprintf(error, error_size, "--admin-token-file %s: %s", file, reason);
            return -1;
        }
        if (loose)
            sl_log(SL_LOG_WARN, NULL, "admin_token_file_readable",
                   "detail=\"group or others can read it: chmod 600\"");
    }
    return 0;
}

int main(int argc, char **argv)
{
    char *listen = NULL, *broker = NULL, *routes_file = NULL, *log_level = NULL;
    char *curve_secret = NULL, *curve_server = NULL;
    char *admin_token = NULL, *admin_token_file = NULL;
    char token[SL_ADMIN_TOKEN_MAX + 1] = "";
    sl_curve_client_t curve = {0};
    sl_strlist_t route_specs = {0}, embed_binds = {0};
    broker_options_t broker_options;
    broker_options_init(&broker_options);
    broker_curve_t *broker_curve = NULL; /* the embedded broker's CURVE, if it has one */
    broker_embedded_t *embedded = NULL;
    int64_t threads = 0, max_connections = SL_DEFAULT_MAX_CONNECTIONS,
            keepalive_ms = SL_DEFAULT_KEEPALIVE_MS, read_ms = SL_DEFAULT_REQUEST_READ_MS,
            probe_ms = SL_DEFAULT_PROBE_MS, drain_ms = SL_DEFAULT_GATEWAY_DRAIN_MS;
    bool access_log = true;
    /* String flags start NULL: sl_flags stores an owned copy only when one is given. */
    char default_listen[16];
    snprintf(default_listen, sizeof default_listen, "%d", SL_DEFAULT_LISTEN_PORT);

    sl_flag_t flags[] = {
        {"listen", SL_FLAG_STRING, &listen, 0, 0,
         "HTTP port on all IPv4 interfaces, or ADDRESS:PORT (default 8080)"},
        {"broker", SL_FLAG_STRING, &broker, 0, 0,
         "broker endpoint (default " SL_DEFAULT_BROKER_ENDPOINT ")"},
        {"embed-broker", SL_FLAG_LIST, &embed_binds, 0, 0,
         "run the broker in this process, bound to this endpoint for workers (repeatable; "
         "instead of --broker; its settings: --broker-heartbeat-ms etc.)"},
        {"route", SL_FLAG_LIST, &route_specs, 0, 0,
         "PREFIX=SERVICE[,methods=GET|POST][,timeout-ms=N][,budget=N][,body-limit=N]"
         "[,retry=on|off|idempotent]"},
        {"routes", SL_FLAG_STRING, &routes_file, 0, 0,
         "JSON file of routes: {\"routes\": [{\"prefix\": ..., \"service\": ..., options}]}"},
        {"max-connections", SL_FLAG_INT, &max_connections, 16, SL_MAX_CONNECTIONS,
         "HTTP connections served at once, one civetweb thread each (default 2048); more "
         "wait in the listen backlog"},
        {"threads", SL_FLAG_INT, &threads, 0, SL_MAX_CONNECTIONS,
         "civetweb threads (default 0: the larger of --max-connections and the sum of route "
         "budgets + 16)"},
        {"keepalive-ms", SL_FLAG_INT, &keepalive_ms, 0, 3600000,
         "idle keep-alive connections close after this (default 5000)"},
        {"read-timeout-ms", SL_FLAG_INT, &read_ms, 100, 3600000,
         "time to receive a request's headers and body (default 10000)"},
        {"probe-ms", SL_FLAG_INT, &probe_ms, 10, 600000,
         "interval of the readiness probes, mmi.service (default 500)"},
        {"drain-ms", SL_FLAG_INT, &drain_ms, 0, 3600000,
         "on SIGTERM, time in-flight requests may take (default 5000)"},
        {"access-log", SL_FLAG_BOOL, &access_log, 0, 0,
         "one log line per request (default true; --access-log=false)"},
        {"log-level", SL_FLAG_STRING, &log_level, 0, 0,
         "debug, info, warn or error (default info)"},
        {"admin-token", SL_FLAG_STRING, &admin_token, 0, 0,
         "bearer token of the admin API /api/v1/ (16+ characters); none: the API is off"},
        {"admin-token-file", SL_FLAG_STRING, &admin_token_file, 0, 0,
         "file holding the admin token (one line; keep it 0600)"},
        {"curve-secret", SL_FLAG_STRING, &curve_secret, 0, 0,
         "CURVE: the gateway's secret key file (slowlane keygen); needs --curve-server"},
        {"curve-server", SL_FLAG_STRING, &curve_server, 0, 0,
         "CURVE: the broker's public key file (default off: plaintext)"},
    };
    char error[512];
    int status = 2; /* a bad flag or config value; 1 once it is the system that refuses */
    gateway_bridge_t *bridge = NULL;
    gateway_http_t *http = NULL;
    gateway_metrics_t *metrics = NULL;
    gateway_stats_t *stats = NULL;
    gateway_observe_t *observe = NULL;
    gateway_cluster_t *cluster = NULL;
    gateway_admin_t *admin = NULL;
    gateway_routes_t *routes = NULL;
    size_t own_count = sizeof flags / sizeof flags[0];
    sl_flag_t all_flags[sizeof flags / sizeof flags[0] + BROKER_OPTIONS_FLAG_COUNT];
    memcpy(all_flags, flags, sizeof flags);
    broker_options_flags(&broker_options, true, all_flags + own_count);
    int rc = sl_flags_parse(S_PROGRAM, all_flags, own_count + BROKER_OPTIONS_FLAG_COUNT, argc, argv,
                            1, NULL);
    if (rc != 0) {
        status = rc > 0 ? 0 : 2; /* --help, or sl_flags wrote the line */
        goto free_flags;
    }
    const char *listen_value = listen ? listen : default_listen;
    const char *broker_value = broker ? broker : SL_DEFAULT_BROKER_ENDPOINT;

    sl_log_level_t level;
    if (sl_log_level_parse(log_level ? log_level : "info", &level) != 0) {
        fprintf(stderr, S_PROGRAM ": --log-level: want debug, info, warn or error\n");
        goto free_flags;
    }
    sl_log_init("gateway", level);
    broker_options.log_debug = level == SL_LOG_DEBUG;

    routes = gateway_routes_new();
    if (!routes) {
        status = 1;
        snprintf(error, sizeof error, "out of memory");
        goto fail_config;
    }
    for (size_t i = 0; i < route_specs.count; i++)
        if (gateway_routes_add_spec(routes, route_specs.items[i], error, sizeof error) != 0)
            goto fail_config;
    if (routes_file && gateway_routes_load_file(routes, routes_file, error, sizeof error) != 0)
        goto fail_config;
    if (gateway_routes_seal(routes, error, sizeof error) != 0)
        goto fail_config;
    if (s_check_embedding(embed_binds.count > 0, &broker_options, broker, curve_secret,
                          curve_server, error, sizeof error) != 0)
        goto fail_config;
    if (sl_curve_client_load(&curve, curve_secret, curve_server, error, sizeof error) != 0)
        goto fail_config;
    if (s_admin_token(admin_token, admin_token_file, token, sizeof token, error, sizeof error) != 0)
        goto fail_config;

    /* Signals go to sigwait only: block them before any thread (czmq's, civetweb's) exists,
       and keep czmq from installing handlers of its own. */
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    zsys_handler_set(NULL);

    if (embed_binds.count > 0) {
        broker_curve = broker_curve_new(&broker_options, true, error, sizeof error);
        if (!broker_curve)
            goto fail_config;
        status = 1;
        embedded =
            broker_embedded_new(&broker_options, broker_curve, &embed_binds, error, sizeof error);
        if (!embedded)
            goto fail_bridge;
        broker_value = broker_embedded_endpoint(embedded);
    }

    status = 1;
    bridge = gateway_bridge_new(broker_value, routes, probe_ms, &curve);
    if (!bridge) {
        snprintf(error, sizeof error, "--broker %s: cannot start the broker connection",
                 broker_value);
        goto fail_bridge;
    }
    /* /metrics and /dashboard: request counters, and a connection of their own for the
       broker's mmi.stats. data.json names hosts and pids: it takes the admin token. */
    metrics = gateway_metrics_new(routes);
    stats = gateway_stats_new(broker_value, &curve);
    gateway_observe_config_t observe_config = {
        .metrics = metrics,
        .stats = stats,
        .bridge = bridge,
        .admin_token = token[0] ? token : NULL,
    };
    observe = metrics && stats ? gateway_observe_new(&observe_config) : NULL;
    if (!observe) {
        snprintf(error, sizeof error, "cannot start the metrics (out of memory)");
        goto fail_http;
    }
    /* /api/v1/: a connection of its own for mmi.cluster; off without a token. */
    cluster = gateway_cluster_new(broker_value, &curve);
    admin = cluster ? gateway_admin_new(token[0] ? token : NULL, cluster) : NULL;
    if (!admin) {
        snprintf(error, sizeof error, "cannot start the admin API (out of memory)");
        goto fail_http;
    }
    if (!token[0])
        sl_log(SL_LOG_INFO, NULL, "admin_api_disabled",
               "detail=\"no --admin-token: /api/ answers 403\"");
    /* civetweb serves a connection on one thread from accept to close, idle or not: the
       threads are the connection limit, and the budgets' threads come on top of no idle ones. */
    int64_t thread_count = threads > 0 ? threads : gateway_http_threads_for(routes);
    if (threads == 0 && thread_count < max_connections)
        thread_count = max_connections;
    s_raise_fd_limit(thread_count);
    /* Each connection's thread sleeps on futexes; a hash sized for the CPUs (Linux 6.16+)
       made every wake-up walk the chain of sleepers: 18% of the gateway's CPU under load. */
    int64_t futex_slots = sl_futex_hash_reserve(thread_count);
    if (futex_slots < 0)
        sl_log(SL_LOG_WARN, NULL, "futex_hash_not_sized", "threads=%lld errno=%d",
               (long long) thread_count, errno);
    else if (futex_slots > 0)
        sl_log(SL_LOG_INFO, NULL, "futex_hash_sized", "threads=%lld slots=%lld",
               (long long) thread_count, (long long) futex_slots);
    gateway_http_config_t config = {
        .admin = admin,
        .listen = listen_value,
        .threads = thread_count,
        .keepalive_ms = keepalive_ms,
        .request_read_ms = read_ms,
        .access_log = access_log,
        .metrics = metrics,
        .observe = observe,
    };
    http = gateway_http_new(&config, routes, bridge, error, sizeof error);
    if (!http)
        goto fail_http;

    int64_t budgets = 0;
    for (size_t i = 0; i < gateway_routes_count(routes); i++) {
        const gateway_route_t *route = gateway_routes_at(routes, i);
        budgets += route->budget;
        sl_log(SL_LOG_INFO, NULL, "route",
               "prefix=%s service=%s timeout_ms=%lld budget=%lld "
               "body_limit=%lld retry=%s",
               route->prefix, route->service, (long long) route->timeout_ms,
               (long long) route->budget, (long long) route->body_limit,
               route->retry == GATEWAY_RETRY_ON    ? "on"
               : route->retry == GATEWAY_RETRY_OFF ? "off"
                                                   : "idempotent");
    }
    if (thread_count < budgets + SL_DEFAULT_THREAD_RESERVE)
        sl_log(SL_LOG_WARN, NULL, "threads_below_budgets",
               "threads=%lld budgets=%lld detail=\"a flood on one route can take threads others "
               "need\"",
               (long long) thread_count, (long long) budgets);
    sl_log(SL_LOG_INFO, NULL, "gateway_started",
           "listen=%s broker=%s embedded=%s routes=%zu curve=%s", listen_value, broker_value,
           embedded ? "true" : "false", gateway_routes_count(routes),
           sl_curve_client_enabled(&curve) ? "on" : "off");

    int number = s_wait_for_signal(&signals);
    sl_log(SL_LOG_INFO, NULL, "gateway_stopping", "signal=%d in_flight=%lld", number,
           (long long) gateway_http_in_flight(http));
    s_drain(http, bridge, drain_ms);
    gateway_http_destroy(&http);
    status = 0;

    /* One way out for a clean stop and for every failure: each destroy takes NULL. */
fail_http:
fail_bridge:
fail_config:
    if (status != 0)
        fprintf(stderr, S_PROGRAM ": %s\n", error);
    gateway_admin_destroy(&admin);
    gateway_cluster_destroy(&cluster);
    gateway_observe_destroy(&observe);
    gateway_stats_destroy(&stats);
    gateway_metrics_destroy(&metrics);
    gateway_bridge_destroy(&bridge);
    /* After every socket connected to it: its shutdown tells the workers DISCONNECT. */
    broker_embedded_destroy(&embedded);
    gateway_routes_destroy(&routes);
    if (status == 0)
        sl_log(SL_LOG_INFO, NULL, "gateway_stopped", NULL);
free_flags:
    broker_curve_destroy(&broker_curve); /* after the embedded broker's ROUTER is gone */
    broker_options_clear(&broker_options);
    sl_strlist_clear(&embed_binds);
    sl_curve_client_clear(&curve);
    free(curve_secret);
    free(curve_server);
    free(admin_token);
    free(admin_token_file);
    explicit_bzero(token, sizeof token);
    free(listen);
    free(broker);
    free(routes_file);
    free(log_level);
    sl_strlist_clear(&route_specs);
    return status;
}
