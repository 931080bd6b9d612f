/*  cli_jobs: `slowlane jobs`. The listing goes through the admin API (GET /api/v1/jobs: job
    ids are capabilities, so it takes the admin token); show and cancel are the public
    GET /jobs/ID and DELETE /jobs/ID that any holder of the id may call. One line per job,
    or the JSON as the gateway gave it with --json. */
#include "cli_jobs.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_http.h"
#include "sl_defaults.h"
#include "sl_flags.h"

#define S_USAGE                                                                                    \
    "usage: slowlane jobs [list] [--state S] [--service NAME] [--limit N] | show ID | cancel ID\n"

static void s_print_json(json_t *value)
{
    char *text = json_dumps(value, JSON_INDENT(2));
    printf("%s\n", text ? text : "");
    free(text);
}

static const char *s_text(json_t *object, const char *key)
{
    const char *text = json_string_value(json_object_get(object, key));
    return text ? text : "-";
}

static void s_print_list(json_t *answer)
{
    json_t *counts = json_object_get(answer, "counts");
    const char *state;
    json_t *value;
    printf("jobs:");
    json_object_foreach(counts, state, value)
        printf(" %s=%lld", state, (long long) json_integer_value(value));
    printf("\n");
    json_t *jobs = json_object_get(answer, "jobs");
    if (json_array_size(jobs) == 0)
        return;
    printf("%-32s  %-9s  %-16s  %8s  %-24s  %-24s  %s\n", "ID", "STATUS", "SERVICE", "ATTEMPTS",
           "CREATED", "WORKER", "ERROR OR PROGRESS");
    size_t i;
    json_t *job;
    json_array_foreach(jobs, i, job)
    {
        char attempts[32];
        snprintf(attempts, sizeof attempts, "%lld/%lld",
                 (long long) json_integer_value(json_object_get(job, "attempts")),
                 (long long) json_integer_value(json_object_get(job, "max_attempts")));
        const char *detail = json_string_value(json_object_get(job, "error"));
        if (!detail || !*detail)
            detail = s_text(job, "progress");
        printf("%-32s  %-9s  %-16s  %8s  %-24s  %-24s  %s\n", s_text(job, "id"),
               s_text(job, "status"), s_text(job, "service"), attempts, s_text(job, "created_at"),
               s_text(job, "worker"), detail);
    }
}

/* A job id as the path will carry it: the id alphabet only, so nothing is injected. */
static bool s_id_valid(const char *id)
{
    size_t size = strlen(id);
    return size > 0 && size <= 48 &&
           strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-") == size;
}

int cli_jobs_run(int argc, char **argv)
{
    char *gateway = NULL, *token = NULL, *token_file = NULL, *state = NULL, *service = NULL;
    int64_t limit = 50;
    bool json = false;
    sl_strlist_t args = {0};
    cli_http_t http = {.gateway = SL_DEFAULT_GATEWAY_URL};
    sl_flag_t flags[] = {
        CLI_HTTP_FLAGS(gateway, token, token_file),
        {"state", SL_FLAG_STRING, &state, 0, 0,
         "list: only queued|running|done|failed|cancelled|expired"},
        {"service", SL_FLAG_STRING, &service, 0, 0, "list: only this service's jobs"},
        {"limit", SL_FLAG_INT, &limit, 0, 1000, "list: at most this many, newest first (50)"},
        {"json", SL_FLAG_BOOL, &json, 0, 0, "print the gateway's JSON"},
    };
    int rc = sl_flags_parse("slowlane jobs", flags, sizeof flags / sizeof flags[0], argc, argv, 1,
                            &args);
    if (rc != 0) {
        rc = rc > 0 ? 0 : 2;
        goto done;
    }
    const char *verb = args.count > 0 ? args.items[0] : "list";
    bool list = strcmp(verb, "list") == 0 && args.count <= 1;
    bool one = (strcmp(verb, "show") == 0 || strcmp(verb, "cancel") == 0) && args.count == 2;
    if ((!list && !one) || (one && !s_id_valid(args.items[1]))) {
        fputs(S_USAGE, stderr);
        rc = 2;
        goto done;
    }
    if (gateway)
        http.gateway = gateway;
    if (list && cli_http_token(&http, token, token_file) != 0) {
        rc = 2;
        goto done;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char path[512];
    if (list) {
        char *state_q = curl_easy_escape(NULL, state ? state : "", 0);
        char *service_q = curl_easy_escape(NULL, service ? service : "", 0);
        snprintf(path, sizeof path, "/api/v1/jobs?limit=%lld%s%s%s%s", (long long) limit,
                 state ? "&state=" : "", state ? state_q : "", service ? "&service=" : "",
                 service ? service_q : "");
        curl_free(state_q);
        curl_free(service_q);
    } else {
        snprintf(path, sizeof path, "/jobs/%s", args.items[1]);
    }
    json_t *answer = NULL;
    long status = cli_http_call(&http,
                                list                        ? "GET"
                                : strcmp(verb, "show") == 0 ? "GET"
                                                            : "DELETE",
                                path, NULL, &answer);
    if (status == 204) {
        printf("%s: deleted\n", args.items[1]);
    } else if (status < 200 || status > 299) {
        cli_http_explain(status, answer);
        rc = 1;
    } else if (json || !list) {
        if (!list && !json)
            printf("%s: %s\n", s_text(answer, "id"), s_text(answer, "status"));
        if (json || strcmp(verb, "show") == 0)
            s_print_json(answer);
    } else {
        s_print_list(answer);
    }
    json_decref(answer);
    curl_global_cleanup();
done:
    explicit_bzero(http.token, sizeof http.token);
    free(gateway);
    free(token);
    free(token_file);
    free(state);
    free(service);
    sl_strlist_clear(&args);
    return rc;
}
