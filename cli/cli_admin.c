/*  cli_admin: `slowlane status | scale | restart | stop | start | broadcast`. Finds the
    gateway through --gateway / SLOWLANE_GATEWAY (default http://localhost:8080) and the
    token through --admin-token / SLOWLANE_ADMIN_TOKEN, --admin-token-file, or the file
    `slowlane up` writes (sl_token_default_path). Commands are asynchronous at the broker;
    by default the CLI then watches the cluster view until the change is done (--wait=false
    to return at once), so `slowlane scale fast 4 && curl ...` finds four workers. */
#include "cli_admin.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sl_defaults.h"
#include "cli_http.h"
#include "sl_flags.h"

#define S_POLL_MS 100

typedef struct {
    cli_http_t http; /* gateway URL and admin token */
    char *host;      /* --host, NULL for all */
    bool json;       /* status: raw JSON */
    bool wait;       /* watch until done */
    int64_t wait_ms; /* for how long */
} s_options_t;

static const char *s_verbs[] = {"status", "scale", "restart", "stop", "start", "broadcast"};

bool cli_admin_owns(const char *verb)
{
    for (size_t i = 0; i < sizeof s_verbs / sizeof s_verbs[0]; i++)
        if (strcmp(verb, s_verbs[i]) == 0)
            return true;
    return false;
}

static int64_t s_now_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t) now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static json_t *s_view(const s_options_t *options)
{
    json_t *view = NULL;
    long status = cli_http_call(&options->http, "GET", "/api/v1/cluster", NULL, &view);
    if (status != 200) {
        cli_http_explain(status, view);
        json_decref(view);
        return NULL;
    }
    return view;
}

/* ---------------------------------------------------------------- status */

static void s_age(int64_t ms, char *buffer, size_t size)
{
    if (ms <= 0)
        snprintf(buffer, size, "-");
    else if (ms < 10000)
        snprintf(buffer, size, "%lldms", (long long) ms);
    else if (ms < 600000)
        snprintf(buffer, size, "%llds", (long long) (ms / 1000));
    else
        snprintf(buffer, size, "%lldm", (long long) (ms / 60000));
}

/* The brokers the gateway sends to (issue 18): up or down, since when, their queues and
   workers. A gateway from before has no "brokers": nothing is printed. */
static void s_print_brokers(json_t *brokers)
{
    if (!json_is_array(brokers) || json_array_size(brokers) == 0)
        return;
    printf("%-32s %-5s %8s %6s %7s %11s\n", "BROKER", "STATE", "SINCE", "QUEUE", "WORKERS",
           "OUTSTANDING");
    for (size_t i = 0; i < json_array_size(brokers); i++) {
        json_t *broker = json_array_get(brokers, i);
        char since[24];
        s_age(json_integer_value(json_object_get(broker, "since_ms")), since, sizeof since);
        long long queued = 0;
        json_t *services = json_object_get(broker, "services");
        for (size_t s = 0; s < json_array_size(services); s++)
            queued += json_integer_value(json_object_get(json_array_get(services, s), "queued"));
        printf("%-32s %-5s %8s %6lld %7lld %11lld\n",
               json_string_value(json_object_get(broker, "endpoint")),
               json_string_value(json_object_get(broker, "state")), since, queued,
               (long long) json_integer_value(json_object_get(broker, "workers")),
               (long long) json_integer_value(json_object_get(broker, "outstanding")));
    }
    printf("\n");
}

/* "  autoscale 2..8, last 4 -> 6 (queue_wait) 3s ago", under its service's line. */
static void s_print_autoscale(json_t *policy)
{
    if (!policy)
        return;
    printf("  autoscale %lld..%lld", (long long) json_integer_value(json_object_get(policy, "min")),
           (long long) json_integer_value(json_object_get(policy, "max")));
    json_t *last = json_object_get(policy, "last");
    if (last) {
        char ago[24];
        s_age(json_integer_value(json_object_get(last, "ago_ms")), ago, sizeof ago);
        printf(", last %lld -> %lld (%s) %s ago",
               (long long) json_integer_value(json_object_get(last, "from")),
               (long long) json_integer_value(json_object_get(last, "to")),
               json_string_value(json_object_get(last, "reason")), ago);
    }
    if (json_is_false(json_object_get(policy, "decider")))
        printf(" (another broker decides)");
    printf("\n");
}

static void s_print_status(json_t *view)
{
    s_print_brokers(json_object_get(view, "brokers"));
    json_t *services = json_object_get(view, "services");
    printf("%-16s %6s %8s %6s %5s %5s %6s  %s\n", "SERVICE", "QUEUE", "OLDEST", "READY", "IDLE",
           "BUSY", "TARGET", "HOSTS");
    for (size_t i = 0; i < json_array_size(services); i++) {
        json_t *service = json_array_get(services, i);
        char oldest[24], hosts[256] = "";
        s_age(json_integer_value(json_object_get(service, "oldest_wait_ms")), oldest,
              sizeof oldest);
        json_t *list = json_object_get(service, "hosts");
        for (size_t h = 0; h < json_array_size(list); h++)
            snprintf(hosts + strlen(hosts), sizeof hosts - strlen(hosts), "%s%s", h ? "," : "",
                     json_string_value(json_array_get(list, h)));
        printf("%-16s %6lld %8s %6lld %5lld %5lld %6lld  %s%s\n",
               json_string_value(json_object_get(service, "name")),
               (long long) json_integer_value(json_object_get(service, "queue")), oldest,
               (long long) json_integer_value(json_object_get(service, "registered")),
               (long long) json_integer_value(json_object_get(service, "idle")),
               (long long) json_integer_value(json_object_get(service, "busy")),
               (long long) json_integer_value(json_object_get(service, "target")),
               hosts[0] ? hosts : "-",
               json_is_true(json_object_get(service, "rolling")) ? "  (rolling restart)" : "");
        s_print_autoscale(json_object_get(service, "autoscale"));
    }
    json_t *workers = json_object_get(view, "workers");
    printf("\n%-14s %-12s %8s %4s %-10s %8s %7s %8s %8s  %s\n", "HOST", "SERVICE", "PID", "SLOT",
           "STATE", "JOB AGE", "JOBS", "RSS", "RESTARTS", "LAST EXIT");
    for (size_t i = 0; i < json_array_size(workers); i++) {
        json_t *worker = json_array_get(workers, i);
        const char *host = json_string_value(json_object_get(worker, "host"));
        char age[24], rss[24] = "-", pid[24] = "-", slot[16] = "-", last[96] = "-";
        s_age(json_integer_value(json_object_get(worker, "job_age_ms")), age, sizeof age);
        json_int_t kb = json_integer_value(json_object_get(worker, "rss_kb"));
        if (kb > 0)
            snprintf(rss, sizeof rss, "%.1fM", (double) kb / 1024.0);
        if (json_integer_value(json_object_get(worker, "pid")) > 0)
            snprintf(pid, sizeof pid, "%lld",
                     (long long) json_integer_value(json_object_get(worker, "pid")));
        if (json_is_integer(json_object_get(worker, "slot")))
            snprintf(slot, sizeof slot, "%lld",
                     (long long) json_integer_value(json_object_get(worker, "slot")));
        json_t *exit = json_object_get(worker, "last_exit");
        if (json_is_object(exit)) {
            char ago[24];
            s_age(json_integer_value(json_object_get(exit, "ago_ms")), ago, sizeof ago);
            snprintf(last, sizeof last, "%s %s ago",
                     json_string_value(json_object_get(exit, "reason")), ago);
        }
        printf("%-14s %-12s %8s %4s %-10s %8s %7lld %8s %8lld  %s\n", host ? host : "(unmanaged)",
               json_string_value(json_object_get(worker, "service")), pid, slot,
               json_string_value(json_object_get(worker, "state")), age,
               (long long) json_integer_value(json_object_get(worker, "jobs")), rss,
               (long long) json_integer_value(json_object_get(worker, "restarts")), last);
    }
}

/* ---------------------------------------------------------------- waiting */

typedef struct {
    const char *service;
    const char *host; /* NULL: every host */
    const char *id;   /* broadcast id */
    int64_t count;    /* scale target, broadcast recipients */
} s_goal_t;

/* Workers of the goal's service (and host) in the view: live (have a pid), ready
   (registered and idle or busy), and holding broadcast id. */
static void s_tally(json_t *view, const s_goal_t *goal, int64_t *live, int64_t *ready,
                    int64_t *got_broadcast)
{
    *live = *ready = *got_broadcast = 0;
    json_t *workers = json_object_get(view, "workers");
    for (size_t i = 0; i < json_array_size(workers); i++) {
        json_t *worker = json_array_get(workers, i);
        const char *service = json_string_value(json_object_get(worker, "service"));
        const char *host = json_string_value(json_object_get(worker, "host"));
        if (!service || strcmp(service, goal->service) != 0 || !host ||
            (goal->host && strcmp(host, goal->host) != 0))
            continue;
        const char *state = json_string_value(json_object_get(worker, "state"));
        *live += json_integer_value(json_object_get(worker, "pid")) > 0;
        *ready += json_is_true(json_object_get(worker, "registered")) && state &&
                  (strcmp(state, "idle") == 0 || strcmp(state, "busy") == 0);
        const char *last = json_string_value(json_object_get(worker, "last_broadcast"));
        *got_broadcast += goal->id && last && strcmp(last, goal->id) == 0 &&
                          json_integer_value(json_object_get(worker, "broadcasts")) > 0;
    }
}

static bool s_rolling(json_t *view, const char *name)
{
    json_t *services = json_object_get(view, "services");
    for (size_t i = 0; i < json_array_size(services); i++) {
        json_t *service = json_array_get(services, i);
        if (strcmp(json_string_value(json_object_get(service, "name")), name) == 0)
            return json_is_true(json_object_get(service, "rolling"));
    }
    return false;
}

/* Polls the view until the verb's goal holds; 0 when it does, 1 at the timeout. */
static int s_wait(const s_options_t *options, const char *verb, const s_goal_t *goal)
{
    int64_t deadline = s_now_ms() + options->wait_ms;
    int64_t live = 0, ready = 0, got = 0;
    while (s_now_ms() < deadline) {
        usleep(S_POLL_MS * 1000);
        json_t *view = s_view(options);
        if (!view)
            return 1;
        s_tally(view, goal, &live, &ready, &got);
        bool done = strcmp(verb, "scale") == 0       ? live == goal->count && ready == goal->count
                    : strcmp(verb, "stop") == 0      ? live == 0
                    : strcmp(verb, "start") == 0     ? ready > 0 && live == ready
                    : strcmp(verb, "restart") == 0   ? !s_rolling(view, goal->service)
                    : strcmp(verb, "broadcast") == 0 ? got >= goal->count
                                                     : true;
        json_decref(view);
        if (done) {
            if (strcmp(verb, "broadcast") == 0)
                printf("%s: broadcast %s handled by %lld workers\n", goal->service, goal->id,
                       (long long) got);
            else
                printf("%s: %lld workers ready%s%s\n", goal->service, (long long) ready,
                       goal->host ? " on " : "", goal->host ? goal->host : "");
            return 0;
        }
    }
    fprintf(stderr, "slowlane: %s %s not done after %lld ms (%lld live, %lld ready)\n", verb,
            goal->service, (long long) options->wait_ms, (long long) live, (long long) ready);
    return 1;
}

/* ---------------------------------------------------------------- verbs */

int cli_admin_run(int argc, char **argv)
{
    const char *verb = argv[0];
    char *gateway = NULL, *token = NULL, *token_file = NULL, *host = NULL;
    bool json = false, wait = true;
    int64_t wait_ms = SL_CLI_WAIT_MS, agent_wait_ms = SL_CLI_AGENT_WAIT_MS;
    sl_strlist_t args = {0};
    sl_flag_t flags[] = {
        CLI_HTTP_FLAGS(gateway, token, token_file),
        {"host", SL_FLAG_STRING, &host, 0, 0, "scale/stop/start: only this host"},
        {"json", SL_FLAG_BOOL, &json, 0, 0, "status: print the cluster view as JSON"},
        {"wait", SL_FLAG_BOOL, &wait, 0, 0, "watch the cluster until the change is done (true)"},
        {"wait-ms", SL_FLAG_INT, &wait_ms, 0, 3600000, "for at most this long (30000)"},
        {"agent-wait-ms", SL_FLAG_INT, &agent_wait_ms, 0, 3600000,
         "how long to wait for a service's supervisor that has not reported yet, before the "
         "service counts as unmanaged (3000): more for one that is still starting"},
    };
    char program[64];
    snprintf(program, sizeof program, "slowlane %s", verb);
    int rc = sl_flags_parse(program, flags, sizeof flags / sizeof flags[0], argc, argv, 1, &args);
    if (rc != 0) {
        rc = rc > 0 ? 0 : 2;
        goto done;
    }
    s_options_t options = {.http.gateway = gateway ? gateway : SL_DEFAULT_GATEWAY_URL,
                           .host = host,
                           .json = json,
                           .wait = wait,
                           .wait_ms = wait_ms};
    size_t want = strcmp(verb, "status") == 0                                    ? 0
                  : strcmp(verb, "scale") == 0 || strcmp(verb, "broadcast") == 0 ? 2
                                                                                 : 1;
    if (args.count != want) {
        fprintf(stderr, "usage: slowlane status | scale SERVICE N [--host H] | restart SERVICE | "
                        "stop SERVICE [--host H] | start SERVICE [--host H] | broadcast SERVICE "
                        "MESSAGE\n");
        rc = 2;
        goto done;
    }
    if (cli_http_token(&options.http, token, token_file) != 0) {
        rc = 2;
        goto done;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (strcmp(verb, "status") == 0) {
        json_t *view = s_view(&options);
        rc = view ? 0 : 1;
        if (view && json) {
            char *text = json_dumps(view, JSON_INDENT(2));
            printf("%s\n", text ? text : "");
            free(text);
        } else if (view)
            s_print_status(view);
        json_decref(view);
        goto cleanup;
    }
    const char *service = args.items[0];
    json_t *body = json_object();
    s_goal_t goal = {.service = service, .host = host};
    if (host)
        json_object_set_new(body, "host", json_string(host));
    if (strcmp(verb, "scale") == 0) {
        char *end = NULL;
        long long count = strtoll(args.items[1], &end, 10);
        if (!*args.items[1] || *end || count < 0 || count > SL_MAX_WORKER_SLOTS) {
            fprintf(stderr, "slowlane scale: N must be 0..%d\n", SL_MAX_WORKER_SLOTS);
            json_decref(body);
            rc = 2;
            goto cleanup;
        }
        json_object_set_new(body, "count", json_integer(count));
        goal.count = count;
    }
    if (strcmp(verb, "broadcast") == 0)
        json_object_set_new(body, "message", json_string(args.items[1]));
    char path[512];
    snprintf(path, sizeof path, "/api/v1/services/%s/%s", service, verb);
    json_t *answer = NULL;
    long status = cli_http_call(&options.http, "POST", path, body, &answer);
    /* A supervisor that has just started (`slowlane up` says ready once the gateway can
       serve) registers with its first STATUS a moment later: while waiting is wanted, give
       it --agent-wait-ms (SL_CLI_AGENT_WAIT_MS) before calling the service unmanaged. */
    int64_t agent_deadline = s_now_ms() + agent_wait_ms;
    while (wait && status == 404 && s_now_ms() < agent_deadline &&
           cli_http_error_is(answer, "no_agent")) {
        json_decref(answer);
        usleep(S_POLL_MS * 1000);
        status = cli_http_call(&options.http, "POST", path, body, &answer);
    }
    json_decref(body);
    if (status < 200 || status > 299) {
        cli_http_explain(status, answer);
        rc = 1;
    } else {
        if (strcmp(verb, "broadcast") == 0) {
            goal.id = json_string_value(json_object_get(answer, "id"));
            goal.count = json_integer_value(json_object_get(answer, "workers"));
            printf("%s: broadcast %s sent to %lld workers\n", service, goal.id ? goal.id : "?",
                   (long long) goal.count);
        } else if (strcmp(verb, "restart") == 0)
            printf("%s: rolling restart %s started\n", service,
                   json_string_value(json_object_get(answer, "roll")));
        else
            printf("%s: %s accepted by %zu supervisors\n", service, verb,
                   json_array_size(json_object_get(answer, "agents")));
        fflush(stdout);
        rc = wait ? s_wait(&options, verb, &goal) : 0;
    }
    json_decref(answer);
cleanup:
    curl_global_cleanup();
done:
    explicit_bzero(options.http.token, sizeof options.http.token);
    free(gateway);
    free(token);
    free(token_file);
    free(host);
    sl_strlist_clear(&args);
    return rc;
}
