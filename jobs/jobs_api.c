/*  jobs_api: submissions, status, results and cancellation, as HTTP answers in reply
    envelopes (jobs_api.h). Every answer about a job is JSON except a result, which is the
    worker's own reply byte for byte. Results are read from the store in pieces and streamed
    (PARTIALs) when large, so a big one is never in memory whole. */
#include "jobs_api.h"

#include <czmq.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sl_envelope.h"
#include "sl_headers.h"
#include "sl_log.h"

#define S_RESULT_PIECE     (256 * 1024) /* bytes read from the store at a time */
#define S_MAX_ATTEMPTS     100
#define S_MAX_TTL_MS       (400LL * 86400000) /* a little over a year */
#define S_RETRY_AFTER      "5"                /* seconds, on 503 from a store in trouble */
#define S_SUBMIT_MARGIN_MS 20                 /* less time left than this: not stored */
#define S_LIST_DEFAULT     50                 /* jobs in a listing unless limit says */
#define S_LIST_MAX         1000
#define S_ADMIN_FIELD      "Slowlane-Job-Admin"

/* ---------------------------------------------------------------- answers */

static void s_answer_json(sl_job_t *job, int status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    sl_job_set_status(job, status);
    sl_job_add_header(job, "Content-Type", "application/json");
    sl_job_add_header(job, "Cache-Control", "no-store");
    if (text) {
        sl_job_write(job, text, strlen(text));
        sl_job_write(job, "\n", 1);
    }
    free(text);
    json_decref(body);
}

static void s_answer_error(sl_job_t *job, int status, const char *error, const char *detail)
{
    json_t *body = json_pack("{s:s}", "error", error);
    if (detail)
        json_object_set_new(body, "reason", json_string(detail));
    if (status == 503)
        sl_job_add_header(job, "Retry-After", S_RETRY_AFTER);
    s_answer_json(job, status, body);
}

static void s_answer_store_trouble(sl_job_t *job, jobs_store_t *store, jobs_store_status_t status)
{
    const char *error = status == JOBS_STORE_FULL ? "jobs_store_full" : "jobs_store_unavailable";
    char why[256];
    jobs_store_reason(store, why, sizeof why);
    sl_log(SL_LOG_ERROR, sl_job_request_id(job), "jobs_store_refused", "error=%s reason=\"%s\"",
           error, why);
    s_answer_error(job, 503, error, why);
}

/* "2026-12-07T01:40:00.123Z" for wall-clock milliseconds; NULL (JSON null) for 0. */
static json_t *s_time(int64_t ms)
{
    if (ms <= 0)
        return json_null();
    time_t seconds = (time_t) (ms / 1000);
    struct tm utc;
    gmtime_r(&seconds, &utc);
    char text[40];
    size_t used = strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
    snprintf(text + used, sizeof text - used, ".%03dZ", (int) (ms % 1000));
    return json_string(text);
}

static json_t *s_links(const char *id)
{
    char self_link[JOBS_ID_MAX + 16], result_link[JOBS_ID_MAX + 24];
    snprintf(self_link, sizeof self_link, "/jobs/%s", id);
    snprintf(result_link, sizeof result_link, "/jobs/%s/result", id);
    return json_pack("{s:s,s:s}", "self", self_link, "result", result_link);
}

/* The status document of a job. */
static json_t *s_status_json(const jobs_record_t *record)
{
    json_t *body = json_pack("{s:s,s:s,s:s,s:s,s:i,s:i,s:b}", "id", record->id, "status",
                             jobs_state_name(record->state), "service", record->service, "route",
                             record->route, "attempts", record->attempts, "max_attempts",
                             record->max_attempts, "retryable", record->retryable);
    json_object_set_new(body, "created_at", s_time(record->created_ms));
    json_object_set_new(body, "started_at", s_time(record->started_ms));
    json_object_set_new(body, "finished_at", s_time(record->finished_ms));
    json_object_set_new(body, "expires_at", s_time(record->expires_ms));
    if (record->state == JOBS_QUEUED && record->attempts > 0)
        json_object_set_new(body, "next_attempt_at", s_time(record->due_ms));
    if (record->cancel_requested)
        json_object_set_new(body, "cancel_requested", json_true());
    if (record->error[0])
        json_object_set_new(body, "error", json_string(record->error));
    if (record->progress[0])
        json_object_set_new(body, "progress", json_string(record->progress));
    json_object_set_new(body, "worker",
                        record->worker[0] ? json_string(record->worker) : json_null());
    if (record->state == JOBS_DONE)
        json_object_set_new(body, "result",
                            json_pack("{s:i,s:I}", "status", record->result_status, "bytes",
                                      (json_int_t) record->result_size));
    json_object_set_new(body, "links", s_links(record->id));
    return body;
}

/* ---------------------------------------------------------------- submission */

/* A header's value as a number in min..max; -1 if absent or bad. */
static int64_t s_header_number(sl_job_t *job, const char *name, int64_t min, int64_t max)
{
    char *text = sl_job_header(job, name);
    char *end = NULL;
    long long value = text ? strtoll(text, &end, 10) : -1;
    bool valid = text && end != text && *end == '\0' && value >= min && value <= max;
    free(text);
    return valid ? value : -1;
}

/* The request's header block without the Slowlane-Job-* fields: what the worker will see,
   as a synchronous request's worker sees it. */
static int s_forwarded_headers(sl_job_t *job, sl_headers_builder_t *out)
{
    size_t size = 0;
    const char *block = sl_job_headers(job, &size);
    sl_headers_iter_t iter;
    sl_headers_iter_init(&iter, block, size);
    const char *name, *value;
    size_t name_size, value_size;
    int rc;
    size_t prefix = strlen(JOBS_HEADER_PREFIX);
    while ((rc = sl_headers_iter_next(&iter, &name, &name_size, &value, &value_size)) == 1) {
        if (name_size >= prefix && strncasecmp(name, JOBS_HEADER_PREFIX, prefix) == 0)
            continue;
        if (sl_headers_builder_add(out, name, name_size, value, value_size) != 0)
            return -1;
    }
    return rc;
}

static void s_submit(jobs_api_t *self, sl_job_t *job)
{
    char *id = sl_job_header(job, JOBS_HEADER_ID);
    char *service = sl_job_header(job, JOBS_HEADER_SERVICE);
    char *route = sl_job_header(job, JOBS_HEADER_ROUTE);
    int64_t retry = s_header_number(job, JOBS_HEADER_RETRY, 0, 1);
    int64_t attempts = s_header_number(job, JOBS_HEADER_ATTEMPTS, 1, S_MAX_ATTEMPTS);
    int64_t timeout = s_header_number(job, JOBS_HEADER_TIMEOUT, 1, SL_ENVELOPE_TIMEOUT_MAX_MS);
    int64_t ttl = s_header_number(job, JOBS_HEADER_TTL, 1, S_MAX_TTL_MS);
    sl_headers_builder_t headers = {0};
    if (!id || strlen(id) > JOBS_ID_MAX || !sl_request_id_valid(id, strlen(id)) || !service ||
        !*service || strlen(service) > JOBS_SERVICE_MAX || strncmp(service, "mmi.", 4) == 0 ||
        retry < 0 || attempts < 0 || timeout < 0 || ttl < 0 ||
        s_forwarded_headers(job, &headers) != 0) {
        s_answer_error(job, 400, "bad_submission", "missing or invalid Slowlane-Job-* fields");
        goto done;
    }
    if (sl_job_time_left_ms(job) < S_SUBMIT_MARGIN_MS) {
        /* The gateway has given up on this submission (504): storing it now would run a job
           whose id nobody was told. */
        s_answer_error(job, 503, "submission_too_late", "the gateway's deadline had passed");
        goto done;
    }
    size_t body_size = 0;
    const void *body = sl_job_body(job, &body_size);
    jobs_submission_t submission = {
        .id = id,
        .service = service,
        .route = route ? route : "",
        .retryable = retry == 1,
        .max_attempts = (int) attempts,
        .timeout_ms = timeout,
        .ttl_ms = ttl,
        .method = sl_job_method(job),
        .path = sl_job_path(job),
        .query = sl_job_query(job),
        .headers = headers.data ? headers.data : "",
        .headers_size = headers.size,
        .body = body,
        .body_size = body_size,
    };
    bool created = false;
    jobs_store_status_t status =
        jobs_store_submit(self->store, &submission, zclock_time(), &created);
    if (status != JOBS_STORE_OK) {
        s_answer_store_trouble(job, self->store, status);
        goto done;
    }
    if (created)
        jobs_dispatcher_wake(self->dispatcher);
    jobs_record_t record;
    if ((status = jobs_store_get(self->store, id, &record)) != JOBS_STORE_OK) {
        s_answer_store_trouble(job, self->store, status);
        goto done;
    }
    sl_log(SL_LOG_INFO, id, "job_accepted", "service=%s retryable=%d max_attempts=%d bytes=%zu%s",
           service, (int) retry, (int) attempts, body_size, created ? "" : " note=resubmitted");
    char location[JOBS_ID_MAX + 16];
    snprintf(location, sizeof location, "/jobs/%s", id);
    sl_job_add_header(job, "Location", location);
    sl_job_add_header(job, "Preference-Applied", "respond-async");
    s_answer_json(job, 202, s_status_json(&record));
done:
    sl_headers_builder_reset(&headers);
    free(id);
    free(service);
    free(route);
}

/* ---------------------------------------------------------------- status, result, cancel */

/* Copies the stored header block onto the reply; -1 if it will not parse. */
static int s_result_headers(sl_job_t *job, const char *block, size_t size)
{
    sl_headers_iter_t iter;
    sl_headers_iter_init(&iter, block, size);
    const char *name, *value;
    size_t name_size, value_size;
    int rc;
    while ((rc = sl_headers_iter_next(&iter, &name, &name_size, &value, &value_size)) == 1) {
        char name_text[260], value_text[8200];
        snprintf(name_text, sizeof name_text, "%.*s", (int) name_size, name);
        snprintf(value_text, sizeof value_text, "%.*s", (int) value_size, value);
        if (sl_job_add_header(job, name_text, value_text) != 0)
            return -1;
    }
    return rc;
}

static void s_result(jobs_api_t *self, sl_job_t *job, const jobs_record_t *record)
{
    if (record->state == JOBS_EXPIRED) {
        s_answer_json(job, 410, s_status_json(record));
        return;
    }
    if (record->state != JOBS_DONE) {
        s_answer_json(job, 409, s_status_json(record));
        return;
    }
    int status = 0;
    char *headers = NULL;
    size_t headers_size = 0;
    jobs_store_status_t outcome =
        jobs_store_result_head(self->store, record->id, &status, &headers, &headers_size);
    if (outcome != JOBS_STORE_OK) {
        if (outcome == JOBS_STORE_NOT_FOUND) /* expired or deleted since the record was read */
            s_answer_error(job, 410, "result_gone", NULL);
        else
            s_answer_store_trouble(job, self->store, outcome);
        free(headers);
        return;
    }
    /* The first piece before anything is answered: a result deleted or expired since the
       record was read is then a clear 410, not a 200 with a short body. */
    char *piece = malloc(S_RESULT_PIECE);
    size_t read = 0;
    jobs_store_status_t first =
        piece ? jobs_store_result_read(self->store, record->id, 0, piece, S_RESULT_PIECE, &read)
              : JOBS_STORE_UNAVAILABLE;
    if (first != JOBS_STORE_OK) {
        if (first == JOBS_STORE_NOT_FOUND)
            s_answer_error(job, 410, "result_gone", NULL);
        else
            s_answer_store_trouble(job, self->store, first);
        free(headers);
        free(piece);
        return;
    }
    sl_job_set_status(job, status);
    int rc = s_result_headers(job, headers, headers_size);
    free(headers);
    if (rc != 0) {
        s_answer_error(job, 500, "stored_result_unreadable", NULL);
        free(piece);
        return;
    }
    int64_t offset = 0;
    bool stream = record->result_size > S_RESULT_PIECE;
    while (read > 0) {
        sl_job_write(job, piece, read);
        offset += (int64_t) read;
        if (offset >= record->result_size)
            break;
        if (stream && sl_job_flush(job) != 0)
            break;
        if (jobs_store_result_read(self->store, record->id, offset, piece, S_RESULT_PIECE, &read) !=
            JOBS_STORE_OK)
            break;
    }
    free(piece);
    if (offset != record->result_size)
        sl_log(SL_LOG_ERROR, record->id, "job_result_short", "bytes=%lld of=%lld",
               (long long) offset, (long long) record->result_size);
}

static void s_cancel(jobs_api_t *self, sl_job_t *job, const jobs_record_t *before)
{
    if (before->state >= JOBS_DONE) {
        /* Final: DELETE removes the job and its result. */
        jobs_store_status_t status = jobs_store_delete(self->store, before->id);
        if (status == JOBS_STORE_OK || status == JOBS_STORE_NOT_FOUND) {
            sl_log(SL_LOG_INFO, before->id, "job_deleted", "state=%s",
                   jobs_state_name(before->state));
            sl_job_set_status(job, 204);
        } else {
            s_answer_store_trouble(job, self->store, status);
        }
        return;
    }
    jobs_record_t after;
    jobs_store_status_t status = jobs_store_cancel(self->store, before->id, zclock_time(), &after);
    if (status != JOBS_STORE_OK) {
        s_answer_store_trouble(job, self->store, status);
        return;
    }
    sl_log(SL_LOG_INFO, before->id, "job_cancel", "state=%s", jobs_state_name(after.state));
    if (after.state == JOBS_RUNNING)
        jobs_dispatcher_cancel(self->dispatcher, after.id, after.attempts);
    /* 200: cancelled now; 202: it runs: its worker is told (protocol.md 3.8), and whatever
       it answers is thrown away. */
    s_answer_json(job, after.state == JOBS_CANCELLED ? 200 : 202, s_status_json(&after));
}

/* ---------------------------------------------------------------- the operator's listing */

static void s_list_one(const jobs_record_t *record, void *arg)
{
    json_array_append_new((json_t *) arg, s_status_json(record));
}

/* GET /jobs?state=S&service=NAME&limit=N from the gateway's admin side (the field that asks
   for it is one a client cannot send: the gateway drops client Slowlane-Job-* fields): the
   count of jobs in each state and the newest jobs that match, limit 50 by default, 0 for
   the counts alone. Job ids are capabilities, so this is for the admin token's holders. */
static void s_list(jobs_api_t *self, sl_job_t *job)
{
    char *state_text = sl_job_query_param(job, "state");
    char *service = sl_job_query_param(job, "service");
    char *limit_text = sl_job_query_param(job, "limit");
    jobs_state_t state = JOBS_STATE_COUNT;
    char *end = NULL;
    long limit = limit_text ? strtol(limit_text, &end, 10) : S_LIST_DEFAULT;
    if ((state_text && jobs_state_parse(state_text, &state) != 0) ||
        (limit_text && (end == limit_text || *end || limit < 0 || limit > S_LIST_MAX)) ||
        (service && (!*service || strlen(service) > JOBS_SERVICE_MAX))) {
        s_answer_error(job, 400, "bad_query",
                       "state=queued|running|done|failed|cancelled|expired, service=NAME, "
                       "limit=0..1000");
        goto done;
    }
    int64_t counts[JOBS_STATE_COUNT];
    jobs_store_counts(self->store, counts);
    json_t *by_state = json_object();
    for (int i = 0; i < JOBS_STATE_COUNT; i++)
        json_object_set_new(by_state, jobs_state_name((jobs_state_t) i), json_integer(counts[i]));
    json_t *list = json_array();
    if (limit > 0)
        jobs_store_list(self->store, state, service, (int) limit, s_list_one, list);
    s_answer_json(job, 200, json_pack("{s:o, s:o}", "counts", by_state, "jobs", list));
done:
    free(state_text);
    free(service);
    free(limit_text);
}

/* /jobs/ID or /jobs/ID/result: the id (into id) and whether the result is asked for. -1 if
   the path is neither. */
static int s_parse_path(const char *path, char id[JOBS_ID_MAX + 1], bool *result)
{
    if (strncmp(path, "/jobs/", 6) != 0)
        return -1;
    const char *start = path + 6;
    const char *slash = strchr(start, '/');
    size_t size = slash ? (size_t) (slash - start) : strlen(start);
    if (size == 0 || size > JOBS_ID_MAX || !sl_request_id_valid(start, size))
        return -1;
    memcpy(id, start, size);
    id[size] = '\0';
    *result = slash != NULL;
    return !slash || strcmp(slash, "/result") == 0 ? 0 : -1;
}

int jobs_api_handle(sl_job_t *job, void *arg)
{
    jobs_api_t *self = arg;
    if (!sl_job_is_http(job)) {
        static const char text[] = "slowlane.jobs answers HTTP envelopes only\n";
        sl_job_write(job, text, sizeof text - 1);
        return 0;
    }
    char *service = sl_job_header(job, JOBS_HEADER_SERVICE);
    bool submission = service != NULL;
    free(service);
    if (submission) {
        s_submit(self, job);
        return 0;
    }
    char *admin = sl_job_header(job, S_ADMIN_FIELD);
    bool listing = admin && strcmp(admin, "list") == 0 && strcmp(sl_job_path(job), "/jobs") == 0;
    free(admin);
    if (listing) {
        s_list(self, job);
        return 0;
    }
    char id[JOBS_ID_MAX + 1];
    bool result = false;
    if (s_parse_path(sl_job_path(job), id, &result) != 0) {
        s_answer_error(job, 404, "no_such_resource", "paths are /jobs/ID and /jobs/ID/result");
        return 0;
    }
    const char *method = sl_job_method(job);
    bool read = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    if (!read && !(strcmp(method, "DELETE") == 0 && !result)) {
        sl_job_add_header(job, "Allow", result ? "GET, HEAD" : "GET, HEAD, DELETE");
        s_answer_error(job, 405, "method_not_allowed", NULL);
        return 0;
    }
    jobs_record_t record;
    jobs_store_status_t status = jobs_store_get(self->store, id, &record);
    if (status == JOBS_STORE_NOT_FOUND) {
        s_answer_error(job, 404, "unknown_job", NULL);
        return 0;
    }
    if (status != JOBS_STORE_OK) {
        s_answer_store_trouble(job, self->store, status);
        return 0;
    }
    if (!read)
        s_cancel(self, job, &record);
    else if (result)
        s_result(self, job, &record);
    else
        s_answer_json(job, 200, s_status_json(&record));
    return 0;
}
