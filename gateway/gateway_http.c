/*  gateway_http: civetweb's begin_request handler and the server around it.
    Each civetweb thread keeps its own exchange with the broker and buffers (made in init_thread),
   so a request allocates almost nothing: the steady-state cost is one envelope, one queue push and
   one semaphore wait (gateway_exchange). civetweb threads have 100 KiB stacks (Debian's build):
    nothing large on the stack here. */
#define _GNU_SOURCE /* sem_clockwait: a semaphore wait on CLOCK_MONOTONIC (glibc 2.30) */
#include "gateway_http.h"

#include <errno.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway_exchange.h"
#include "gateway_framing.h"
#include "gateway_head_buffer.h"
#include "gateway_health.h"
#include "gateway_intake.h"
#include "gateway_relay.h"
#include "gateway_response.h"
#include "sl_defaults.h"
#include "sl_envelope.h"
#include "sl_request_id.h"
#include "sl_log.h"

#define S_SCRATCH_SIZE       16384         /* response head + small body in one write */
#define S_BODY_KEEP_BYTES    (1024 * 1024) /* larger per-thread body buffers are freed */
#define S_DISCARD_MAX_BYTES  (64 * 1024)   /* larger unread bodies close the connection */
#define S_STATUS_CLIENT_GONE 499           /* access log: the client left before the answer */
#define S_WARMUP_MAX_MS      10000         /* longest wait for civetweb's threads to start */

struct _gateway_http_t {
    struct mg_context *context;           /* civetweb */
    const gateway_routes_t *routes;       /* borrowed, sealed */
    gateway_brokers_t *brokers;           /* borrowed */
    bool access_log;                      /* one line per request */
    bool jobs;                            /* the jobs API is routed: async requests allowed */
    atomic_bool refusing;                 /* draining: new requests get 503 */
    atomic_bool warm;                     /* every civetweb thread has started */
    sem_t thread_started;                 /* posted once by each civetweb worker thread */
    atomic_int_fast64_t in_flight;        /* admitted, not yet answered */
    atomic_int_fast64_t *route_in_flight; /* per route index, against its budget */
    sl_log_limit_t civetweb_limit;        /* civetweb's own messages */
    gateway_request_metrics_t *metrics;   /* borrowed request counters, may be NULL */
    gateway_observe_http_t *observe;      /* borrowed /metrics and /dashboard, may be NULL */
    gateway_admin_t *admin;               /* borrowed /api/ admin API, may be NULL */
    gateway_client_watch_t *client_watch; /* borrowed hang-up watcher, may be NULL */
};

/* Per civetweb worker thread, reused by every request the thread serves. */
typedef struct {
    gateway_exchange_t *exchange; /* this thread's requests to the broker, one at a time */
    gateway_relay_t *relay;       /* their answers to the client, and its hang-ups */
    char *scratch;                /* S_SCRATCH_SIZE bytes for response writing */
    gateway_intake_t intake;      /* the request's body and forwarded header block */
} s_thread_t;

/* ---------------------------------------------------------------- helpers */

/* An error answered without reading a request body: a big or unknown-length body would
   have to be read and thrown away to keep the connection, so the connection closes. */
static void s_skip_body(gateway_response_t *response, const struct mg_request_info *info)
{
    if (info->content_length < 0 || info->content_length > S_DISCARD_MAX_BYTES) {
        const char *encoding = mg_get_header(response->conn, "Transfer-Encoding");
        if (info->content_length > 0 || encoding)
            gateway_response_close_connection(response);
    }
}

/* ---------------------------------------------------------------- the request flow */

/* Everything after admission: body, envelope, broker, answer. */
static void s_forward(gateway_http_t *self, s_thread_t *thread, gateway_response_t *response,
                      const struct mg_request_info *info, const gateway_framing_t *framing,
                      const gateway_route_t *route, char *id, int64_t deadline_ms)
{
    if (!gateway_brokers_any_trusted(self->brokers)) {
        /* Broker down: answer now, not at the deadline, and before reading any body. */
        s_skip_body(response, info);
        gateway_response_error(response, 503, "broker_unavailable", NULL);
        return;
    }
    if (framing->content_length > 0 || framing->chunked)
        gateway_intake_continue(response->conn, info);
    int64_t body_size = framing->content_length < 0 && !framing->chunked
                            ? 0
                            : gateway_intake_read_body(&thread->intake, response->conn,
                                                       framing->content_length, route->body_limit);
    if (body_size == -3) {
        gateway_response_close_connection(response);
        gateway_response_error(response, 503, "gateway_out_of_memory", NULL);
        return;
    }
    if (body_size == -2) {
        gateway_response_close_connection(response);
        gateway_response_error(response, 413, "body_too_large", NULL);
        return;
    }
    if (body_size < 0 && framing->chunked) {
        /* civetweb's chunked decoder says -1 both for a client gone and for a body that
           breaks the chunked coding (a bad size, a chunk extension, which it cannot read):
           answer 400, which a client that is still there reads. */
        gateway_response_close_connection(response);
        if (gateway_response_error(response, 400, "bad_chunked_body", NULL) != 0) {
            response->status = 0; /* nobody read it: logged as the client gone */
            response->cause = "client_gone";
        }
        return;
    }
    if (body_size < 0) {
        gateway_response_close_connection(response);
        response->cause = "client_gone";
        return;
    }
    int status = gateway_intake_headers(&thread->intake, info, id);
    if (status != 0) {
        gateway_response_error(response, status, status == 431 ? "header_too_large" : "bad_header",
                               NULL);
        return;
    }
    const char *path = info->local_uri;
    if (!gateway_framing_path_valid(path)) {
        gateway_response_error(response, 400, "bad_path", NULL);
        return;
    }
    const char *service = route->service;
    bool retryable = gateway_route_retryable(route, info->request_method);
    bool cancel = gateway_route_cancels_on_disconnect(route, info->request_method);
    if (self->jobs &&
        (route->async == GATEWAY_ASYNC_ALWAYS ||
         (route->async == GATEWAY_ASYNC_ALLOW && gateway_intake_prefers_async(info)))) {
        /* A job: the jobs service stores it and answers 202 (docs/jobs.md). Sending the
           submission again is harmless (the job id makes it idempotent), so it is retryable
           whatever the method; the job's own policy travels in its fields. */
        char job_id[SL_REQUEST_ID_MAX + 1];
        if (gateway_intake_job_fields(&thread->intake, route, retryable, job_id) != 0) {
            gateway_response_error(response, 503, "gateway_out_of_memory", NULL);
            return;
        }
        service = SL_JOBS_SERVICE;
        retryable = true;
        /* A job's life is not its connection's, which is the point of asking for one; and
           its submission is stored in milliseconds. */
        cancel = false;
        deadline_ms = zclock_mono() + SL_JOBS_REQUEST_TIMEOUT_MS;
    }
    /* The envelope's bytes stay where they are (civetweb's request, this thread's buffers)
       until the exchange ends: views, not a copy, go to the bridge. */
    gateway_exchange_request_t request = {
        .service = service,
        .method = info->request_method,
        .path = path,
        .query = info->query_string,
        .headers = thread->intake.headers.data,
        .headers_size = thread->intake.headers.size,
        .body = thread->intake.body,
        .body_size = (size_t) body_size,
        .retryable = retryable,
        .deadline_ms = deadline_ms,
    };
    switch (gateway_exchange_begin(thread->exchange, &request, id)) {
    case GATEWAY_EXCHANGE_REFUSED:
        gateway_response_error(
            response, 503, atomic_load(&self->refusing) ? "shutting_down" : "broker_unavailable",
            NULL);
        break;
    case GATEWAY_EXCHANGE_TOO_LATE:
        gateway_response_error(response, 504, "deadline", NULL);
        break;
    case GATEWAY_EXCHANGE_STARTED:
        gateway_relay_await(thread->relay, thread->exchange, response, cancel);
        break;
    }
    gateway_exchange_end(thread->exchange);
}

/* One admitted request's hold on its route budget and on the drain count. */
typedef struct {
    gateway_http_t *server;       /* whose in_flight */
    atomic_int_fast64_t *counter; /* the route's in-flight counter */
} s_admission_t;

static void s_admission_release(void *arg)
{
    s_admission_t *admission = arg;
    atomic_fetch_sub(admission->counter, 1);
    atomic_fetch_sub(&admission->server->in_flight, 1);
}

/* Route, limits and admission; returns the route used (NULL for own endpoints/errors). */
static const gateway_route_t *s_handle(gateway_http_t *self, s_thread_t *thread,
                                       gateway_response_t *response,
                                       const struct mg_request_info *info,
                                       const gateway_framing_t *framing, char *id,
                                       int64_t deadline_base_ms)
{
    /* RFC 9112's framing and head syntax first, whatever the request is for: a request
       whose end is in doubt is answered and its connection closed before anything reads it. */
    if (framing->status) {
        if (framing->close)
            gateway_response_close_connection(response);
        gateway_response_error(response, framing->status, framing->cause, NULL);
        return NULL;
    }
    /* After a chunked body, or a head without fields, civetweb alone knows where the next
       request starts in its buffer; gateway_framing must know it to check that request:
       close instead. */
    if (framing->consumed < 0)
        gateway_response_close_connection(response);
    const char *path = info->local_uri;
    if (path && strcmp(path, "/healthz") == 0) {
        s_skip_body(response, info);
        gateway_health_healthz(response);
        return NULL;
    }
    if (path && strcmp(path, "/readyz") == 0) {
        s_skip_body(response, info);
        gateway_health_readyz(self->brokers, self->routes, atomic_load(&self->warm), response);
        return NULL;
    }
    if (self->admin && gateway_admin_owns(path)) {
        gateway_admin_handle(self->admin, response, response->conn, info);
        return NULL;
    }
    if (self->observe && gateway_observe_http_owns(path)) {
        s_skip_body(response, info);
        gateway_observe_http_handle(self->observe, response, info);
        return NULL;
    }
    if (atomic_load(&self->refusing)) {
        s_skip_body(response, info);
        gateway_response_close_connection(response);
        gateway_response_error(response, 503, "shutting_down", NULL);
        return NULL;
    }
    const gateway_route_t *route = NULL;
    unsigned allowed = 0;
    gateway_route_result_t found =
        path ? gateway_routes_match(self->routes, info->request_method, path, &route, &allowed)
             : GATEWAY_ROUTE_NOT_FOUND;
    if (found == GATEWAY_ROUTE_NOT_FOUND) {
        s_skip_body(response, info);
        gateway_response_error(response, 404, "no_route", NULL);
        return NULL;
    }
    if (found == GATEWAY_ROUTE_METHOD_NOT_ALLOWED) {
        char methods[128], allow[160];
        snprintf(allow, sizeof allow, "Allow: %s\r\n",
                 gateway_methods_format(allowed, methods, sizeof methods));
        s_skip_body(response, info);
        gateway_response_error(response, 405, "method_not_allowed", allow);
        return NULL;
    }
    if (info->content_length > route->body_limit) {
        /* Refused on the announced length: the body is never read. */
        gateway_response_close_connection(response);
        gateway_response_error(response, 413, "body_too_large", NULL);
        return route;
    }
    atomic_int_fast64_t *counter = &self->route_in_flight[route->index];
    if (atomic_fetch_add(counter, 1) >= route->budget) {
        atomic_fetch_sub(counter, 1);
        /* Closing matters: an idle keep-alive connection holds a civetweb thread, and a
           flood that keeps its connections would take the threads other routes need. */
        s_skip_body(response, info);
        gateway_response_close_connection(response);
        gateway_response_error(response, 503, "over_budget", NULL);
        return route;
    }
    atomic_fetch_add(&self->in_flight, 1);
    s_admission_t admission = {.server = self, .counter = counter};
    gateway_response_on_last_write(response, s_admission_release, &admission);
    s_forward(self, thread, response, info, framing, route, id,
              deadline_base_ms + route->timeout_ms);
    gateway_response_finish(response); /* released already unless nothing was written */
    return route;
}

static void s_access_log(const struct mg_request_info *info, const gateway_response_t *response,
                         const gateway_route_t *route, int64_t start_us)
{
    char path[256], prefix[128];
    sl_log(SL_LOG_INFO, response->request_id, "access",
           "method=%s path=%s status=%d duration_us=%lld bytes=%lld route=%s service=%s%s%s",
           info->request_method,
           sl_log_quote(info->local_uri ? info->local_uri : "-", path, sizeof path),
           response->status ? response->status : S_STATUS_CLIENT_GONE,
           (long long) (zclock_usecs() - start_us), (long long) response->bytes,
           route ? sl_log_quote(route->prefix, prefix, sizeof prefix) : "-",
           route ? route->service : "-", response->cause ? " error=" : "",
           response->cause ? response->cause : "");
}

static int s_begin_request(struct mg_connection *conn)
{
    int64_t start_us = zclock_usecs();
    int64_t arrival_ms = zclock_mono();
    gateway_http_t *self = mg_get_user_data(mg_get_context(conn));
    s_thread_t *thread = mg_get_thread_pointer(conn);
    const struct mg_request_info *info = mg_get_request_info(conn);

    char id[SL_REQUEST_ID_MAX + 1];
    const char *given = mg_get_header(conn, "X-Request-Id");
    if (given && sl_request_id_valid(given, strlen(given)))
        snprintf(id, sizeof id, "%s", given);
    else
        sl_request_id_generate(id);

    gateway_response_t response;
    const gateway_route_t *route = NULL;
    if (!thread || !thread->exchange) {
        char scratch[512];
        gateway_response_init(&response, conn, id, scratch, sizeof scratch);
        gateway_response_close_connection(&response);
        gateway_response_error(&response, 503, "gateway_out_of_memory", NULL);
    } else {
        gateway_response_init(&response, conn, id, thread->scratch, S_SCRATCH_SIZE);
        gateway_head_buffer_t buffer;
        gateway_framing_t framing;
        gateway_framing_check(info, gateway_head_buffer_get(&buffer) ? &buffer : NULL, &framing);
        route = s_handle(self, thread, &response, info, &framing, id, arrival_ms);
        gateway_head_buffer_consumed(framing.status == 0 ? framing.consumed : -1);
        gateway_intake_trim(&thread->intake, S_BODY_KEEP_BYTES);
    }
    gateway_request_metrics_request(self->metrics, route, response.status, response.cause,
                                    zclock_usecs() - start_us);
    if (self->access_log)
        s_access_log(info, &response, route, start_us);
    return response.status ? response.status : S_STATUS_CLIENT_GONE;
}

/* civetweb's own refusals (a malformed request line, an oversized head, a Transfer-Encoding
   it does not know): the status RFC 9112 asks for, in the same JSON shape, then a close. */
static int s_http_error(struct mg_connection *conn, int status, const char *message)
{
    char id[SL_REQUEST_ID_MAX + 1];
    sl_request_id_generate(id);
    gateway_framing_t verdict;
    gateway_framing_civetweb_error(mg_get_request_info(conn), status, &verdict);
    char scratch[512];
    gateway_response_t response;
    gateway_response_init(&response, conn, id, scratch, sizeof scratch);
    gateway_response_close_connection(&response);
    gateway_response_error(&response, verdict.status, verdict.cause, NULL);
    gateway_http_t *self = mg_get_user_data(mg_get_context(conn));
    char quoted[128];
    if (self && self->access_log)
        sl_log(SL_LOG_INFO, id, "access", "status=%d error=%s detail=%s", verdict.status,
               verdict.cause, sl_log_quote(message ? message : "", quoted, sizeof quoted));
    return 0;
}

static int s_log_message(const struct mg_connection *conn, const char *message)
{
    gateway_http_t *self = conn ? mg_get_user_data(mg_get_context(conn)) : NULL;
    char quoted[256];
    if (self)
        sl_log_limited(&self->civetweb_limit, SL_LOG_WARN, NULL, "civetweb", "message=%s",
                       sl_log_quote(message, quoted, sizeof quoted));
    return 1; /* never civetweb's own error log */
}

static s_thread_t *s_thread_new(gateway_http_t *server)
{
    s_thread_t *thread = calloc(1, sizeof *thread);
    if (!thread)
        return NULL;
    thread->exchange = gateway_exchange_new(server->brokers, server->metrics);
    thread->relay = gateway_relay_new(server->client_watch, &server->refusing);
    thread->scratch = malloc(S_SCRATCH_SIZE);
    if (!thread->exchange || !thread->relay || !thread->scratch) {
        gateway_exchange_destroy(&thread->exchange);
        gateway_relay_destroy(&thread->relay);
        free(thread->scratch);
        free(thread);
        return NULL;
    }
    return thread;
}

static void *s_init_thread(const struct mg_context *context, int thread_type)
{
    if (thread_type != 1)
        return NULL; /* master and timer threads serve no requests */
    gateway_head_buffer_watch();
    gateway_http_t *self = mg_get_user_data(context);
    s_thread_t *thread = s_thread_new(self);
    sem_post(&self->thread_started); /* started, even without its buffers: it answers 503 */
    return thread;
}

static void s_exit_thread(const struct mg_context *context, int thread_type, void *pointer)
{
    if (thread_type == 1)
        gateway_head_buffer_unwatch();
    s_thread_t *thread = pointer;
    if (!thread)
        return;
    gateway_exchange_destroy(&thread->exchange);
    gateway_relay_destroy(&thread->relay);
    free(thread->scratch);
    gateway_intake_reset(&thread->intake);
    free(thread);
}

/* ---------------------------------------------------------------- lifecycle */

/* mg_start2 returns once it has created its threads, not once they run: on a busy machine
   the last of thousands may take half a second to start, and requests taken meanwhile wait
   for CPU behind them. So /readyz says "starting" until every thread has run its init, and
   the start-up waits for that. Returns how long it took. */
static int64_t s_wait_threads_started(gateway_http_t *self, int64_t threads)
{
    int64_t begun = zclock_mono(), until_ms = begun + S_WARMUP_MAX_MS;
    struct timespec until = {.tv_sec = until_ms / 1000, .tv_nsec = (until_ms % 1000) * 1000000L};
    int64_t started = 0;
    while (started < threads) {
        if (sem_clockwait(&self->thread_started, CLOCK_MONOTONIC, &until) == 0)
            started++;
        else if (errno != EINTR)
            break;
    }
    if (started < threads)
        /* civetweb runs on with the threads it could create: serve with those. */
        sl_log(SL_LOG_WARN, NULL, "http_threads_missing", "started=%lld threads=%lld",
               (long long) started, (long long) threads);
    atomic_store(&self->warm, true);
    return zclock_mono() - begun;
}

int64_t gateway_http_threads_for(const gateway_routes_t *routes)
{
    int64_t threads = SL_DEFAULT_THREAD_RESERVE;
    /* The jobs API's route is not counted: its requests (a status, a submission stored)
       take a millisecond and share the reserve; its budget bounds them. */
    for (size_t i = 0; i < gateway_routes_count(routes); i++)
        if (!gateway_routes_at(routes, i)->internal)
            threads += gateway_routes_at(routes, i)->budget;
    return threads > SL_MAX_GATEWAY_THREADS ? SL_MAX_GATEWAY_THREADS : threads;
}

gateway_http_t *gateway_http_new(const gateway_http_config_t *config,
                                 const gateway_routes_t *routes, gateway_brokers_t *brokers,
                                 char *error, size_t error_size)
{
    gateway_http_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(error, error_size, "out of memory");
        return NULL;
    }
    self->routes = routes;
    self->brokers = brokers;
    self->access_log = config->access_log;
    for (size_t i = 0; i < gateway_routes_count(routes); i++)
        self->jobs = self->jobs || gateway_routes_at(routes, i)->internal;
    self->metrics = config->metrics;
    self->observe = config->observe;
    self->admin = config->admin;
    self->client_watch = config->client_watch;
    atomic_init(&self->refusing, false);
    atomic_init(&self->warm, false);
    atomic_init(&self->in_flight, 0);
    size_t count = gateway_routes_count(routes);
    self->route_in_flight = calloc(count ? count : 1, sizeof *self->route_in_flight);
    if (!self->route_in_flight || sem_init(&self->thread_started, 0, 0) != 0) {
        snprintf(error, error_size, "out of memory");
        free(self->route_in_flight);
        free(self);
        return NULL;
    }
    for (size_t i = 0; i < count; i++)
        atomic_init(&self->route_in_flight[i], 0);

    int64_t threads = config->threads > 0 ? config->threads : gateway_http_threads_for(routes);
    char threads_text[24], keepalive_text[24], read_text[24], max_head_text[24];
    snprintf(max_head_text, sizeof max_head_text, "%d", SL_GATEWAY_MAX_REQUEST_HEAD);
    snprintf(threads_text, sizeof threads_text, "%lld", (long long) threads);
    snprintf(keepalive_text, sizeof keepalive_text, "%lld", (long long) config->keepalive_ms);
    snprintf(read_text, sizeof read_text, "%lld", (long long) config->request_read_ms);
    const char *options[] = {
        "listening_ports",
        config->listen,
        "num_threads",
        threads_text,
        "enable_keep_alive",
        "yes",
        "keep_alive_timeout_ms",
        keepalive_text,
        "request_timeout_ms",
        read_text,
        "tcp_nodelay",
        "1",
        "decode_url", // the raw path is matched and forwarded: see s_path_valid
        "no",
        "max_request_size",
        max_head_text,
        "enable_auth_domain_check", // an absolute-form target is served when its port is ours
        "no",                       // (RFC 9112 section 3.2.2), not dropped for its host name
        "listen_backlog", // a burst of connects as large as the threads can take waits in the
                          // kernel
        threads_text,
        NULL,
    };
    struct mg_callbacks callbacks = {
        .begin_request = s_begin_request,
        .http_error = s_http_error,
        .log_message = s_log_message,
        .init_thread = s_init_thread,
        .exit_thread = s_exit_thread,
    };
    char text[256] = "";
    unsigned code = 0;
    struct mg_error_data error_data = {
        .code = &code, .text = text, .text_buffer_size = sizeof text};
    struct mg_init_data init = {
        .callbacks = &callbacks, .user_data = self, .configuration_options = options};
    self->context = mg_start2(&init, &error_data);
    if (!self->context) {
        snprintf(error, error_size, "cannot listen on %s: %s", config->listen,
                 text[0] ? text : "civetweb failed to start");
        sem_destroy(&self->thread_started);
        free(self->route_in_flight);
        free(self);
        return NULL;
    }
    int64_t warmup_ms = s_wait_threads_started(self, threads);
    sl_log(SL_LOG_INFO, NULL, "http_listening",
           "listen=%s threads=%lld keepalive_ms=%lld warmup_ms=%lld", config->listen,
           (long long) threads, (long long) config->keepalive_ms, (long long) warmup_ms);
    return self;
}

void gateway_http_refuse(gateway_http_t *self)
{
    atomic_store(&self->refusing, true);
}

int64_t gateway_http_in_flight(gateway_http_t *self)
{
    return atomic_load(&self->in_flight);
}

void gateway_http_destroy(gateway_http_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gateway_http_t *self = *self_p;
    mg_stop(self->context);
    sem_destroy(&self->thread_started);
    free(self->route_in_flight);
    free(self);
    *self_p = NULL;
}
