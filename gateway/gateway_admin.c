/*  gateway_admin: /api/v1/ (see gateway_admin.h). Every request is authenticated before
    its path is even looked at, so an unauthenticated caller learns nothing about which
    paths exist. Routes:
        GET  /api/v1/cluster
        POST /api/v1/services/{service}/{scale|restart|stop|start|broadcast|autoscale}  JSON body */
#include "gateway_admin.h"
#include "gateway_intake.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include "sl_defaults.h"
#include "sl_log.h"
#include "sl_token.h"

#define S_PREFIX          "/api/"
#define S_SERVICES_PREFIX "/api/v1/services/"

struct _gateway_admin_t {
    char *token;                 /* owned bearer token, NULL: API disabled */
    gateway_cluster_t *cluster;  /* borrowed */
    gateway_history_t *history;  /* borrowed: commands are marked there; NULL: none */
    sl_log_limit_t denied_limit; /* 401 lines */
};

gateway_admin_t *gateway_admin_new(const char *token, gateway_cluster_t *cluster,
                                   gateway_history_t *history)
{
    gateway_admin_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cluster = cluster;
    self->history = history;
    if (token && !(self->token = strdup(token))) {
        free(self);
        return NULL;
    }
    return self;
}

void gateway_admin_destroy(gateway_admin_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gateway_admin_t *self = *self_p;
    if (self->token) {
        explicit_bzero(self->token, strlen(self->token));
        free(self->token);
    }
    free(self);
    *self_p = NULL;
}

bool gateway_admin_owns(const char *path)
{
    return path && strncmp(path, S_PREFIX, strlen(S_PREFIX)) == 0;
}

static void s_send_json(gateway_response_t *response, int status, json_t *body, const char *cause)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    if (!text) {
        gateway_response_error(response, 503, "gateway_out_of_memory", NULL);
        return;
    }
    size_t size = strlen(text);
    const char *extra = status == 503 ? "Retry-After: 1\r\n" : NULL;
    gateway_response_send(response, status, "application/json", extra, extra ? strlen(extra) : 0,
                          text, size);
    // cause may live inside body, which the caller frees before the access log is written.
    if (cause) {
        snprintf(response->cause_text, sizeof response->cause_text, "%s", cause);
        response->cause = response->cause_text;
    }
    free(text);
}

static void s_error(gateway_response_t *response, int status, const char *error,
                    const char *message)
{
    json_t *body = json_pack("{s:s, s:s, s:s}", "error", error, "message", message, "request_id",
                             response->request_id);
    s_send_json(response, status, body, error);
    json_decref(body);
}

/* True if the request carries "Authorization: Bearer <our token>". */
static bool s_authorized(gateway_admin_t *self, struct mg_connection *conn)
{
    const char *header = mg_get_header(conn, "Authorization");
    if (!header || strncasecmp(header, "Bearer ", 7) != 0)
        return false;
    const char *given = header + 7;
    while (*given == ' ')
        given++;
    return sl_token_equal(self->token, given);
}

/* Reads the request body (at most SL_ADMIN_BODY_MAX) into a new string; NULL with *status
   set (413 too large, 400 unreadable) on failure, "" when there is none. */
static char *s_read_body(struct mg_connection *conn, const struct mg_request_info *info,
                         int *status)
{
    long long length = info->content_length;
    if (length > SL_ADMIN_BODY_MAX) {
        *status = 413;
        return NULL;
    }
    /* A command's body comes with its length: a chunked one would otherwise read as none
       and run the command with no arguments (RFC 9110 section 15.5.12: 411). */
    if (length < 0 && mg_get_header(conn, "Transfer-Encoding")) {
        *status = 411;
        return NULL;
    }
    gateway_intake_continue(conn, info);
    size_t size = length > 0 ? (size_t) length : 0;
    char *body = malloc(size + 1);
    if (!body) {
        *status = 503;
        return NULL;
    }
    size_t got = 0;
    while (got < size) {
        int n = mg_read(conn, body + got, size - got);
        if (n <= 0)
            break;
        got += (size_t) n;
    }
    if (got < size) {
        free(body);
        *status = 400;
        return NULL;
    }
    body[size] = '\0';
    return body;
}

static void s_cluster(gateway_admin_t *self, gateway_response_t *response)
{
    json_t *view = gateway_cluster_view(self->cluster, 0, SL_ADMIN_BROKER_TIMEOUT_MS);
    if (!view) {
        s_error(response, 503, "broker_unavailable", "the broker did not answer");
        return;
    }
    s_send_json(response, 200, view, NULL);
    json_decref(view);
}

/* GET /api/v1/jobs?state=S&service=NAME&limit=N: the jobs service's counts and listing
   (docs/jobs.md), passed on as it answers. */
static void s_jobs(gateway_admin_t *self, gateway_response_t *response,
                   const struct mg_request_info *info)
{
    json_t *answer =
        gateway_cluster_jobs(self->cluster, info->query_string, SL_ADMIN_BROKER_TIMEOUT_MS);
    if (!answer) {
        s_error(response, 503, "broker_unavailable", "no broker answered");
        return;
    }
    json_int_t code = json_integer_value(json_object_get(answer, "status"));
    json_object_del(answer, "status");
    if (code == 503 && json_object_get(answer, "error"))
        json_object_set_new(answer, "message",
                            json_string("no jobs service (slowlane-jobs) "
                                        "is registered with the brokers"));
    s_send_json(response, code >= 200 && code <= 599 ? (int) code : 502, answer,
                json_string_value(json_object_get(answer, "error")));
    json_decref(answer);
}

/* POST /api/v1/services/{service}/{action}: the body's fields (count, host, message, id)
   and the path's service and action make the command. */
//  A command the broker took, as a mark on the dashboard's time axis: "count=4 host=b". Each
//  part is bounded, so the four together always fit.
static void s_mark(gateway_admin_t *self, const char *action, const char *service, json_t *command,
                   json_t *answer)
{
    if (!self->history)
        return;
    char count[32] = "", bounds[64] = "", host[80] = "", id[80] = "";
    json_t *wanted = json_object_get(command, "count");
    if (json_is_integer(wanted))
        snprintf(count, sizeof count, "count=%lld ", (long long) json_integer_value(wanted));
    if (strcmp(action, "autoscale") == 0)
        snprintf(bounds, sizeof bounds,
                 json_is_true(json_object_get(command, "off")) ? "off " : "%lld..%lld ",
                 (long long) json_integer_value(json_object_get(command, "min")),
                 (long long) json_integer_value(json_object_get(command, "max")));
    const char *host_name = json_string_value(json_object_get(command, "host"));
    if (host_name)
        snprintf(host, sizeof host, "host=%.64s ", host_name);
    const char *broadcast = json_string_value(json_object_get(answer, "id"));
    if (broadcast)
        snprintf(id, sizeof id, "id=%.64s", broadcast);
    char text[sizeof count + sizeof bounds + sizeof host + sizeof id];
    snprintf(text, sizeof text, "%s%s%s%s", count, bounds, host, id);
    struct timeval now;
    gettimeofday(&now, NULL);
    gateway_history_mark(self->history, (int64_t) now.tv_sec * 1000 + now.tv_usec / 1000, action,
                         service, text);
}

static void s_command(gateway_admin_t *self, gateway_response_t *response,
                      struct mg_connection *conn, const struct mg_request_info *info,
                      const char *service, const char *action)
{
    int status = 0;
    char *text = s_read_body(conn, info, &status);
    if (!text) {
        gateway_response_close_connection(response);
        s_error(response, status,
                status == 413   ? "body_too_large"
                : status == 411 ? "length_required"
                                : "bad_request",
                "cannot read the request body");
        return;
    }
    json_error_t error;
    json_t *command = *text ? json_loads(text, 0, &error) : json_object();
    free(text);
    if (!json_is_object(command)) {
        json_decref(command);
        s_error(response, 400, "bad_request", "the body must be a JSON object");
        return;
    }
    json_object_set_new(command, "op", json_string(action));
    json_object_set_new(command, "service", json_string(service));
    json_t *answer = gateway_cluster_command(self->cluster, command, SL_ADMIN_BROKER_TIMEOUT_MS);
    if (!answer) {
        json_decref(command);
        s_error(response, 503, "broker_unavailable", "the broker did not answer");
        return;
    }
    json_int_t code = json_integer_value(json_object_get(answer, "status"));
    if (code < 200 || code > 599)
        code = json_is_true(json_object_get(answer, "ok")) ? 202 : 502;
    char quoted[300];
    // host points into command: command is released only after the log line.
    const char *host = json_string_value(json_object_get(command, "host"));
    sl_log(SL_LOG_INFO, response->request_id, "admin_command", "op=%s service=%s host=%s status=%d",
           action, sl_log_quote(service, quoted, sizeof quoted), host ? host : "-", (int) code);
    if (code >= 200 && code < 300)
        s_mark(self, action, service, command, answer);
    json_decref(command);
    json_object_set_new(answer, "request_id", json_string(response->request_id));
    s_send_json(response, (int) code, answer,
                json_is_true(json_object_get(answer, "ok"))
                    ? NULL
                    : json_string_value(json_object_get(answer, "error")));
    json_decref(answer);
}

void gateway_admin_handle(gateway_admin_t *self, gateway_response_t *response,
                          struct mg_connection *conn, const struct mg_request_info *info)
{
    const char *path = info->local_uri;
    if (!self->token) {
        gateway_response_close_connection(response); // the body, if any, stays unread
        s_error(response, 403, "admin_disabled",
                "the admin API is off: start the gateway with --admin-token, "
                "SLOWLANE_ADMIN_TOKEN or --admin-token-file");
        return;
    }
    if (!s_authorized(self, conn)) {
        sl_log_limited(&self->denied_limit, SL_LOG_WARN, response->request_id, "admin_denied",
                       "reason=%s",
                       mg_get_header(conn, "Authorization") ? "bad_token" : "no_token");
        gateway_response_close_connection(response);
        static const char challenge[] = "WWW-Authenticate: Bearer realm=\"slowlane\"\r\n";
        json_t *body = json_pack("{s:s, s:s, s:s}", "error", "unauthorized", "message",
                                 "send Authorization: Bearer <admin token>", "request_id",
                                 response->request_id);
        char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
        json_decref(body);
        gateway_response_send(response, 401, "application/json", challenge, sizeof challenge - 1,
                              text ? text : "", text ? strlen(text) : 0);
        response->cause = "unauthorized";
        free(text);
        return;
    }
    const char *method = info->request_method;
    if (strcmp(path, "/api/v1/cluster") == 0) {
        if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
            gateway_response_close_connection(response);
            gateway_response_error(response, 405, "method_not_allowed", "Allow: GET, HEAD\r\n");
            return;
        }
        s_cluster(self, response);
        return;
    }
    if (strcmp(path, "/api/v1/jobs") == 0) {
        if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
            gateway_response_close_connection(response);
            gateway_response_error(response, 405, "method_not_allowed", "Allow: GET, HEAD\r\n");
            return;
        }
        s_jobs(self, response, info);
        return;
    }
    size_t prefix = strlen(S_SERVICES_PREFIX);
    const char *slash =
        strncmp(path, S_SERVICES_PREFIX, prefix) == 0 ? strchr(path + prefix, '/') : NULL;
    if (slash && slash > path + prefix && (size_t) (slash - path - prefix) <= SL_MAX_SERVICE_NAME) {
        char service[SL_MAX_SERVICE_NAME + 1];
        snprintf(service, sizeof service, "%.*s", (int) (slash - path - prefix), path + prefix);
        const char *action = slash + 1;
        static const char *actions[] = {"scale", "restart",   "stop",
                                        "start", "broadcast", "autoscale"};
        for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++)
            if (strcmp(action, actions[i]) == 0) {
                if (strcmp(method, "POST") != 0) {
                    gateway_response_close_connection(response);
                    gateway_response_error(response, 405, "method_not_allowed", "Allow: POST\r\n");
                    return;
                }
                s_command(self, response, conn, info, service, actions[i]);
                return;
            }
    }
    gateway_response_close_connection(response);
    s_error(response, 404, "not_found", "see docs/admin-api.md for the admin API's paths");
}
