/*  slowlane-gateway: the composition root. Flags into plain configuration (s_options),
    checked once; then the objects built and wired in start-up order (s_gateway): routes
    (validated, then read-only), the embedded broker if asked for (gateway_embedded_broker),
    the brokers (one bridge each), metrics and admin, the HTTP server; and a drain on
    SIGINT/SIGTERM. Everything with behaviour lives in the gateway_* classes. */
#include <czmq.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "gateway_admin.h"
#include "gateway_broker_stats.h"
#include "gateway_brokers.h"
#include "gateway_client_watch.h"
#include "gateway_cluster.h"
#include "gateway_embedded_broker.h"
#include "gateway_http.h"
#include "gateway_history_sampler.h"
#include "gateway_observe_http.h"
#include "gateway_routes.h"
#include "sl_defaults.h"
#include "sl_flags.h"
#include "sl_futex_hash.h"
#include "sl_io_threads.h"
#include "sl_log.h"
#include "sl_sched.h"
#include "sl_token.h"

#define S_PROGRAM "slowlane-gateway"

/* Waits for SIGINT/SIGTERM (blocked in every thread, so only this sigwait sees them). */
static int s_wait_for_signal(const sigset_t *signals)
{
    int number = 0;
    sigwait(signals, &number);
    return number;
}

/* Lets admitted requests finish for up to drain_ms, refusing new ones meanwhile. */
static void s_drain(gateway_http_t *http, gateway_brokers_t *brokers, int64_t drain_ms)
{
    gateway_http_refuse(http);
    int64_t until = zclock_mono() + drain_ms;
    while (gateway_http_in_flight(http) > 0 && zclock_mono() < until)
        zclock_sleep(10); /* shutdown only: a short poll is simpler than another signal */
    int64_t left = gateway_http_in_flight(http);
    if (left > 0)
        sl_log(SL_LOG_WARN, NULL, "drain_timeout", "in_flight=%lld", (long long) left);
    gateway_brokers_close(brokers); /* whatever still waits answers 503 now */
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

/* Every flag's value: plain configuration, read-only once parsed. */
typedef struct {
    char *listen, *routes_file, *log_level;    /* owned, NULL when not given */
    sl_strlist_t brokers;                      /* --broker, in order */
    char *curve_secret;                        /* owned, NULL when not given */
    sl_strlist_t curve_servers;                /* --curve-server: one, or one a broker */
    char *admin_token, *admin_token_file;      /* owned, NULL when not given */
    sl_strlist_t route_specs;                  /* --route */
    gateway_embedded_broker_config_t embedded; /* --embed-broker, --broker-* */
    int64_t threads, max_connections, keepalive_ms, read_ms, probe_ms, drain_ms;
    int64_t heartbeat_ms, liveness; /* a broker silent heartbeat_ms x liveness is lost */
    int64_t slice_us;               /* CPU slice asked of the scheduler, 0: the default */
    bool access_log;
    bool jobs;               /* the /jobs route and async requests (docs/jobs.md) */
    char default_listen[16]; /* SL_DEFAULT_LISTEN_PORT as text */
} s_options_t;

/* Parses argv into options. Returns sl_flags_parse's answer: 0, > 0 after --help, < 0 on a
   bad flag (sl_flags wrote the line). */
static int s_options_parse(s_options_t *options, int argc, char **argv)
{
    *options = (s_options_t){
        .max_connections = SL_DEFAULT_MAX_CONNECTIONS,
        .keepalive_ms = SL_DEFAULT_KEEPALIVE_MS,
        .read_ms = SL_DEFAULT_REQUEST_READ_MS,
        .probe_ms = SL_DEFAULT_PROBE_MS,
        .drain_ms = SL_DEFAULT_GATEWAY_DRAIN_MS,
        .heartbeat_ms = SL_DEFAULT_HEARTBEAT_MS,
        .liveness = SL_DEFAULT_LIVENESS,
        .slice_us = SL_DEFAULT_SLICE_US,
        .access_log = true,
        .jobs = true,
    };
    gateway_embedded_broker_config_init(&options->embedded);
    snprintf(options->default_listen, sizeof options->default_listen, "%d", SL_DEFAULT_LISTEN_PORT);
    /* String flags start NULL: sl_flags stores an owned copy only when one is given. */
    sl_flag_t flags[] = {
        {"listen", SL_FLAG_STRING, &options->listen, 0, 0,
         "HTTP port on all IPv4 interfaces, or ADDRESS:PORT (default 8080)"},
        {"broker", SL_FLAG_LIST, &options->brokers, 0, 0,
         "broker endpoint, repeatable: requests go to the trusted broker with the fewest in "
         "flight (default " SL_DEFAULT_BROKER_ENDPOINT "; with --embed-broker: more brokers)"},
        {"route", SL_FLAG_LIST, &options->route_specs, 0, 0,
         "PREFIX=SERVICE[,methods=GET|POST][,timeout-ms=N][,budget=N][,body-limit=N]"
         "[,retry=on|off|idempotent][,async=allow|off|always][,async-timeout-ms=N]"
         "[,result-ttl-s=N][,attempts=N][,cancel-on-disconnect=on|off|idempotent]"},
        {"jobs", SL_FLAG_BOOL, &options->jobs, 0, 0,
         "route /jobs to slowlane-jobs and accept Prefer: respond-async (default true; "
         "--jobs=false)"},
        {"routes", SL_FLAG_STRING, &options->routes_file, 0, 0,
         "JSON file of routes: {\"routes\": [{\"prefix\": ..., \"service\": ..., options}]}"},
        {"max-connections", SL_FLAG_INT, &options->max_connections, 16, SL_MAX_CONNECTIONS,
         "HTTP connections served at once, one civetweb thread each (default 2048); more "
         "wait in the listen backlog"},
        {"threads", SL_FLAG_INT, &options->threads, 0, SL_MAX_CONNECTIONS,
         "civetweb threads (default 0: the larger of --max-connections and the sum of route "
         "budgets + 16)"},
        {"keepalive-ms", SL_FLAG_INT, &options->keepalive_ms, 0, 3600000,
         "idle keep-alive connections close after this (default 5000)"},
        {"read-timeout-ms", SL_FLAG_INT, &options->read_ms, 100, 3600000,
         "time to receive a request's headers and body (default 10000)"},
        {"probe-ms", SL_FLAG_INT, &options->probe_ms, 10, 600000,
         "interval of the readiness probes, mmi.service (default 500)"},
        {"heartbeat-ms", SL_FLAG_INT, &options->heartbeat_ms, 10, 600000,
         "a broker is probed at least this often (default 1000)"},
        {"liveness", SL_FLAG_INT, &options->liveness, 1, 100,
         "a broker silent for heartbeat-ms x liveness is lost: its requests move to another "
         "(default 3)"},
        {"drain-ms", SL_FLAG_INT, &options->drain_ms, 0, 3600000,
         "on SIGTERM, time in-flight requests may take (default 5000)"},
        {"access-log", SL_FLAG_BOOL, &options->access_log, 0, 0,
         "one log line per request (default true; --access-log=false)"},
        {"log-level", SL_FLAG_STRING, &options->log_level, 0, 0,
         "debug, info, warn or error (default info)"},
        {"admin-token", SL_FLAG_STRING, &options->admin_token, 0, 0,
         "bearer token of the admin API /api/v1/ (16+ characters); none: the API is off"},
        {"admin-token-file", SL_FLAG_STRING, &options->admin_token_file, 0, 0,
         "file holding the admin token (one line; keep it 0600)"},
        {"curve-secret", SL_FLAG_STRING, &options->curve_secret, 0, 0,
         "CURVE: the gateway's secret key file (slowlane keygen); needs --curve-server"},
        {"curve-server", SL_FLAG_LIST, &options->curve_servers, 0, 0,
         "CURVE: the broker's public key file (default off: plaintext); one for every "
         "--broker, or one per --broker in order"},
        {"slice-us", SL_FLAG_INT, &options->slice_us, 0, SL_MAX_SLICE_US, SL_SCHED_SLICE_FLAG_HELP},
    };
    size_t own_count = sizeof flags / sizeof flags[0];
    sl_flag_t all_flags[sizeof flags / sizeof flags[0] + GATEWAY_EMBEDDED_BROKER_FLAG_COUNT];
    memcpy(all_flags, flags, sizeof flags);
    gateway_embedded_broker_config_flags(&options->embedded, all_flags + own_count);
    return sl_flags_parse(S_PROGRAM, all_flags, own_count + GATEWAY_EMBEDDED_BROKER_FLAG_COUNT,
                          argc, argv, 1, NULL);
}

static void s_options_clear(s_options_t *options)
{
    gateway_embedded_broker_config_clear(&options->embedded);
    free(options->curve_secret);
    sl_strlist_clear(&options->curve_servers);
    free(options->admin_token);
    free(options->admin_token_file);
    free(options->listen);
    sl_strlist_clear(&options->brokers);
    free(options->routes_file);
    free(options->log_level);
    sl_strlist_clear(&options->route_specs);
}

/* What main builds: configuration loaded from the options, then the live objects. */
typedef struct {
    gateway_routes_t *routes;            /* validated, then read-only */
    size_t broker_count;                 /* brokers: the embedded one first, then --broker */
    const char **endpoints;              /* what each broker's sockets connect to (borrowed) */
    const char **labels;                 /* each broker's name: endpoint, or "embedded" */
    sl_curve_client_t *curves;           /* each broker's CURVE keys, or none */
    char token[SL_ADMIN_TOKEN_MAX + 1];  /* the admin token, "" when the API is off */
    gateway_embedded_broker_t *embedded; /* the broker in this process, or NULL */
    gateway_brokers_t *brokers;          /* requests to the brokers */
    gateway_request_metrics_t *metrics;  /* request counters */
    gateway_broker_stats_t **stats;      /* each broker's counters */
    gateway_observe_http_t *observe;     /* /metrics and /dashboard */
    gateway_history_t *history;          /* the dashboard's charts */
    gateway_history_sampler_t *sampler;  /* fills history once a second */
    gateway_cluster_t *cluster;          /* mmi.cluster for the admin API */
    gateway_admin_t *admin;              /* /api/v1/ */
    gateway_client_watch_t *watch;       /* hang-ups of waiting clients */
    gateway_http_t *http;                /* the server */
    int64_t threads;                     /* civetweb threads */
} s_gateway_t;

/* The brokers: the embedded one first (its endpoint is known once it runs), then each
   --broker (or the default), each with its CURVE keys: one --curve-server applies to every
   --broker, N pair with the N --brokers in order. Returns 0, or -1 with one line in error. */
static int s_configure_brokers(s_gateway_t *gateway, const s_options_t *options, char *error,
                               size_t size)
{
    bool embedding = gateway_embedded_broker_config_wanted(&options->embedded);
    size_t remote = options->brokers.count;
    size_t servers = options->curve_servers.count;
    size_t tcp = remote ? remote : embedding ? 0 : 1; /* no --broker, no embedding: the default */
    gateway->broker_count = (embedding ? 1 : 0) + tcp;
    gateway->endpoints = calloc(gateway->broker_count, sizeof *gateway->endpoints);
    gateway->labels = calloc(gateway->broker_count, sizeof *gateway->labels);
    gateway->curves = calloc(gateway->broker_count, sizeof *gateway->curves);
    gateway->stats = calloc(gateway->broker_count, sizeof *gateway->stats);
    if (!gateway->endpoints || !gateway->labels || !gateway->curves || !gateway->stats) {
        snprintf(error, size, "out of memory");
        return -1;
    }
    if (servers > 1 && servers != remote) {
        snprintf(error, size,
                 "--curve-server: given %zu times for %zu --broker: give one for every broker, "
                 "or one per --broker in order",
                 servers, remote);
        return -1;
    }
    size_t first = embedding ? 1 : 0;
    if (embedding)
        gateway->labels[0] = "embedded"; /* endpoint set once the broker runs */
    for (size_t i = first; i < gateway->broker_count; i++) {
        size_t nth = i - first;
        gateway->endpoints[i] = remote ? options->brokers.items[nth] : SL_DEFAULT_BROKER_ENDPOINT;
        gateway->labels[i] = gateway->endpoints[i];
        const char *server =
            servers == 0 ? NULL : options->curve_servers.items[servers == 1 ? 0 : nth];
        if (sl_curve_client_load(&gateway->curves[i], options->curve_secret, server, error, size) !=
            0)
            return -1;
    }
    return 0;
}

/* Routes, the embedding check, the gateway's CURVE keys and the admin token: everything
   that can be wrong with the flags, before any thread exists. Returns 0, or -1 with one
   line in error. */
static int s_configure(s_gateway_t *gateway, const s_options_t *options, char *error, size_t size)
{
    gateway->routes = gateway_routes_new();
    if (!gateway->routes) {
        snprintf(error, size, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < options->route_specs.count; i++)
        if (gateway_routes_add_spec(gateway->routes, options->route_specs.items[i], error, size) !=
            0)
            return -1;
    if (options->routes_file &&
        gateway_routes_load_file(gateway->routes, options->routes_file, error, size) != 0)
        return -1;
    if (options->jobs && gateway_routes_add_jobs(gateway->routes, error, size) != 0)
        return -1;
    if (gateway_routes_seal(gateway->routes, error, size) != 0)
        return -1;
    if (gateway_embedded_broker_config_check(&options->embedded, options->brokers.count,
                                             options->curve_secret, options->curve_servers.count,
                                             error, size) != 0)
        return -1;
    if (s_configure_brokers(gateway, options, error, size) != 0)
        return -1;
    return s_admin_token(options->admin_token, options->admin_token_file, gateway->token,
                         sizeof gateway->token, error, size);
}

/* civetweb serves a connection on one thread from accept to close, idle or not: the
   threads are the connection limit, and the budgets' threads come on top of no idle ones.
   Sizes the process for them (descriptors, futex hash). */
static int64_t s_thread_count(const s_options_t *options, const gateway_routes_t *routes)
{
    int64_t threads = options->threads > 0 ? options->threads : gateway_http_threads_for(routes);
    if (options->threads == 0 && threads < options->max_connections)
        threads = options->max_connections;
    s_raise_fd_limit(threads);
    /* Each connection's thread sleeps on futexes; a hash sized for the CPUs (Linux 6.16+)
       made every wake-up walk the chain of sleepers: 18% of the gateway's CPU under load. */
    int64_t futex_slots = sl_futex_hash_reserve(threads);
    if (futex_slots < 0)
        sl_log(SL_LOG_WARN, NULL, "futex_hash_not_sized", "threads=%lld errno=%d",
               (long long) threads, errno);
    else if (futex_slots > 0)
        sl_log(SL_LOG_INFO, NULL, "futex_hash_sized", "threads=%lld slots=%lld",
               (long long) threads, (long long) futex_slots);
    return threads;
}

/* One line per route, and a warning when the threads cannot cover the budgets. */
static void s_log_routes(const gateway_routes_t *routes, int64_t threads)
{
    int64_t budgets = 0;
    for (size_t i = 0; i < gateway_routes_count(routes); i++) {
        const gateway_route_t *route = gateway_routes_at(routes, i);
        budgets += route->budget;
        sl_log(SL_LOG_INFO, NULL, "route",
               "prefix=%s service=%s timeout_ms=%lld budget=%lld "
               "body_limit=%lld retry=%s async=%s cancel_on_disconnect=%s",
               route->prefix, route->service, (long long) route->timeout_ms,
               (long long) route->budget, (long long) route->body_limit,
               route->retry == GATEWAY_RETRY_ON    ? "on"
               : route->retry == GATEWAY_RETRY_OFF ? "off"
                                                   : "idempotent",
               route->async == GATEWAY_ASYNC_ALWAYS ? "always"
               : route->async == GATEWAY_ASYNC_OFF  ? "off"
                                                    : "allow",
               route->cancel == GATEWAY_CANCEL_ON    ? "on"
               : route->cancel == GATEWAY_CANCEL_OFF ? "off"
                                                     : "idempotent");
    }
    if (threads < budgets + SL_DEFAULT_THREAD_RESERVE)
        sl_log(SL_LOG_WARN, NULL, "threads_below_budgets",
               "threads=%lld budgets=%lld detail=\"a flood on one route can take threads others "
               "need\"",
               (long long) threads, (long long) budgets);
}

/* Builds and starts the live objects in order. Returns 0, or -1 with one line in error and
 *status 2 when the configuration was at fault, 1 when the system refused. */
static int s_start(s_gateway_t *gateway, const s_options_t *options, char *error, size_t size,
                   int *status)
{
    *status = 1;
    if (gateway_embedded_broker_config_wanted(&options->embedded)) {
        bool bad_config;
        gateway->embedded =
            gateway_embedded_broker_new(&options->embedded, error, size, &bad_config);
        if (!gateway->embedded) {
            *status = bad_config ? 2 : 1;
            return -1;
        }
        gateway->endpoints[0] = gateway_embedded_broker_endpoint(gateway->embedded);
    }
    gateway_brokers_config_t brokers = {
        .endpoints = gateway->endpoints,
        .labels = gateway->labels,
        .curves = gateway->curves,
        .count = gateway->broker_count,
        .first_in_process = gateway->embedded != NULL,
        .routes = gateway->routes,
        .probe_ms = options->probe_ms,
        .heartbeat_ms = options->heartbeat_ms,
        .liveness = options->liveness,
    };
    gateway->brokers = gateway_brokers_new(&brokers, error, size);
    if (!gateway->brokers)
        return -1;
    /* /metrics and /dashboard: request counters, and a connection of their own to each
       broker for its mmi.stats. data.json names hosts and pids: it takes the admin token. */
    const char *token = gateway->token[0] ? gateway->token : NULL;
    gateway->metrics = gateway_request_metrics_new(gateway->routes);
    bool stats_started = true;
    for (size_t i = 0; i < gateway->broker_count; i++) {
        gateway->stats[i] = gateway_broker_stats_new(gateway->endpoints[i], i, &gateway->curves[i]);
        stats_started = stats_started && gateway->stats[i];
    }
    gateway_broker_view_t view = {.brokers = gateway->brokers, .stats = gateway->stats};
    /* /api/v1/: a connection of its own to each broker for mmi.cluster (and the jobs
       service's counts for /metrics); off without a token. */
    gateway->cluster = gateway_cluster_new(&view, gateway->endpoints, gateway->curves);
    /* The dashboard's charts: 15 minutes of points, sampled on a thread of their own */
    gateway->history = gateway_history_new(GATEWAY_HISTORY_POINTS, GATEWAY_HISTORY_SERIES);
    gateway->sampler = gateway->history && gateway->metrics && stats_started
                           ? gateway_history_sampler_new(gateway->history, gateway->metrics, &view)
                           : NULL;
    if (!gateway->sampler) {
        snprintf(error, size, "cannot start the dashboard's history (out of memory)");
        return -1;
    }
    gateway->admin =
        gateway->cluster ? gateway_admin_new(token, gateway->cluster, gateway->history) : NULL;
    if (!gateway->admin) {
        snprintf(error, size, "cannot start the admin API (out of memory)");
        return -1;
    }
    gateway_observe_http_config_t observe_config = {
        .metrics = gateway->metrics,
        .brokers = view,
        .admin_token = token,
        .jobs = options->jobs ? gateway->cluster : NULL,
        .history = gateway->history,
    };
    gateway->observe =
        gateway->metrics && stats_started ? gateway_observe_http_new(&observe_config) : NULL;
    if (!gateway->observe) {
        snprintf(error, size, "cannot start the metrics (out of memory)");
        return -1;
    }
    if (!token)
        sl_log(SL_LOG_INFO, NULL, "admin_api_disabled",
               "detail=\"no --admin-token: /api/ answers 403\"");
    gateway->threads = s_thread_count(options, gateway->routes);
    gateway->watch = gateway_client_watch_new();
    if (!gateway->watch) {
        snprintf(error, size, "cannot start the client watcher: %s", strerror(errno));
        return -1;
    }
    gateway_http_config_t config = {
        .admin = gateway->admin,
        .listen = options->listen ? options->listen : options->default_listen,
        .threads = gateway->threads,
        .keepalive_ms = options->keepalive_ms,
        .request_read_ms = options->read_ms,
        .access_log = options->access_log,
        .metrics = gateway->metrics,
        .observe = gateway->observe,
        .client_watch = gateway->watch,
    };
    gateway->http = gateway_http_new(&config, gateway->routes, gateway->brokers, error, size);
    return gateway->http ? 0 : -1;
}

/* Destroys what s_configure and s_start made, in reverse order; each destroy takes NULL. */
static void s_stop(s_gateway_t *gateway)
{
    gateway_http_destroy(&gateway->http);
    gateway_client_watch_destroy(&gateway->watch); /* after the threads that watch */
    gateway_admin_destroy(&gateway->admin);
    gateway_cluster_destroy(&gateway->cluster);
    gateway_observe_http_destroy(&gateway->observe);
    gateway_history_sampler_destroy(&gateway->sampler); /* before the counters it reads */
    for (size_t i = 0; gateway->stats && i < gateway->broker_count; i++)
        gateway_broker_stats_destroy(&gateway->stats[i]);
    gateway_request_metrics_destroy(&gateway->metrics);
    gateway_history_destroy(&gateway->history);
    gateway_brokers_destroy(&gateway->brokers);
    /* After every socket connected to it: its shutdown tells the workers DISCONNECT. */
    gateway_embedded_broker_destroy(&gateway->embedded);
    gateway_routes_destroy(&gateway->routes);
    for (size_t i = 0; gateway->curves && i < gateway->broker_count; i++)
        sl_curve_client_clear(&gateway->curves[i]);
    free(gateway->curves);
    free(gateway->stats);
    free(gateway->endpoints);
    free(gateway->labels);
    explicit_bzero(gateway->token, sizeof gateway->token);
}

int main(int argc, char **argv)
{
    s_options_t options;
    s_gateway_t gateway = {0};
    char error[512];
    int status = 2; /* a bad flag or config value; 1 once it is the system that refuses */
    int rc = s_options_parse(&options, argc, argv);
    if (rc != 0) {
        status = rc > 0 ? 0 : 2; /* --help, or sl_flags wrote the line */
        goto done;
    }
    sl_log_level_t level;
    if (sl_log_level_parse(options.log_level ? options.log_level : "info", &level) != 0) {
        fprintf(stderr, S_PROGRAM ": --log-level: want debug, info, warn or error\n");
        goto done;
    }
    sl_log_init("gateway", level);
    //  Before any thread starts: every thread inherits it
    sl_sched_ask_slice_us(options.slice_us);
    options.embedded.options.log_debug = level == SL_LOG_DEBUG;
    if (s_configure(&gateway, &options, error, sizeof error) != 0) {
        status = gateway.routes ? 2 : 1; /* no routes object: out of memory */
        goto fail;
    }
    /* Signals go to sigwait only: block them before any thread (czmq's, civetweb's) exists,
       and keep czmq from installing handlers of its own. */
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    sl_io_threads_request(gateway.broker_count); /* before czmq makes its context */
    zsys_handler_set(NULL);
    if (s_start(&gateway, &options, error, sizeof error, &status) != 0)
        goto fail;

    s_log_routes(gateway.routes, gateway.threads);
    for (size_t i = 0; i < gateway.broker_count; i++)
        sl_log(SL_LOG_INFO, NULL, "broker", "broker=%s endpoint=%s curve=%s", gateway.labels[i],
               gateway.endpoints[i], sl_curve_client_enabled(&gateway.curves[i]) ? "on" : "off");
    sl_log(SL_LOG_INFO, NULL, "gateway_started",
           "listen=%s broker=%s brokers=%zu io_threads=%d embedded=%s routes=%zu "
           "heartbeat_ms=%lld liveness=%lld",
           options.listen ? options.listen : options.default_listen, gateway.endpoints[0],
           gateway.broker_count, zmq_ctx_get(zsys_init(), ZMQ_IO_THREADS),
           gateway.embedded ? "true" : "false", gateway_routes_count(gateway.routes),
           (long long) options.heartbeat_ms, (long long) options.liveness);
    int number = s_wait_for_signal(&signals);
    sl_log(SL_LOG_INFO, NULL, "gateway_stopping", "signal=%d in_flight=%lld", number,
           (long long) gateway_http_in_flight(gateway.http));
    s_drain(gateway.http, gateway.brokers, options.drain_ms);
    s_stop(&gateway);
    sl_log(SL_LOG_INFO, NULL, "gateway_stopped", NULL);
    status = 0;
    goto done;

fail:
    fprintf(stderr, S_PROGRAM ": %s\n", error);
    s_stop(&gateway);
done:
    s_options_clear(&options);
    return status;
}
