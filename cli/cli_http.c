/*  cli_http: the CLI's one way to the gateway: an HTTP call with the admin token (libcurl),
    its JSON answer, the one line that says why a call failed, and where the token comes
    from (--admin-token, SLOWLANE_ADMIN_TOKEN, --admin-token-file, or the file `slowlane up`
    writes). The verbs (cli_admin, cli_jobs) decide what to ask. */
#include "cli_http.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl_token.h"

#define S_HTTP_TIMEOUT_S 15

typedef struct {
    char *data; /* response body, NUL-terminated */
    size_t size;
} s_buffer_t;

static size_t s_collect(char *data, size_t size, size_t count, void *arg)
{
    s_buffer_t *buffer = arg;
    char *grown = realloc(buffer->data, buffer->size + size * count + 1);
    if (!grown)
        return 0;
    memcpy(grown + buffer->size, data, size * count);
    buffer->size += size * count;
    grown[buffer->size] = '\0';
    buffer->data = grown;
    return size * count;
}

/* True if an error answer names this cause. */
bool cli_http_error_is(const json_t *answer, const char *cause)
{
    const char *error = json_string_value(json_object_get(answer, "error"));
    return error && strcmp(error, cause) == 0;
}

long cli_http_call(const cli_http_t *options, const char *method, const char *path, json_t *body,
                   json_t **answer)
{
    *answer = NULL;
    CURL *curl = curl_easy_init();
    if (!curl)
        return 0;
    char url[2048], authorization[SL_ADMIN_TOKEN_MAX + 32];
    size_t base = strlen(options->gateway);
    while (base > 0 && options->gateway[base - 1] == '/')
        base--;
    snprintf(url, sizeof url, "%.*s%s", (int) base, options->gateway, path);
    snprintf(authorization, sizeof authorization, "Authorization: Bearer %s", options->token);
    struct curl_slist *headers = curl_slist_append(NULL, authorization);
    headers = curl_slist_append(headers, "Content-Type: application/json");
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    s_buffer_t buffer = {0};
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long) S_HTTP_TIMEOUT_S);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, s_collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &buffer);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    if (strcmp(method, "POST") == 0)
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, text ? text : "{}");
    else if (strcmp(method, "GET") != 0)
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    long status = 0;
    CURLcode rc = curl_easy_perform(curl);
    if (rc == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    else
        fprintf(stderr, "slowlane: cannot reach the gateway at %s: %s\n", options->gateway,
                curl_easy_strerror(rc));
    if (buffer.data) {
        json_error_t error;
        *answer = json_loads(buffer.data, 0, &error);
    }
    free(buffer.data);
    free(text);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return status;
}

/* Says why a call failed, in one line. */
void cli_http_explain(long status, json_t *answer)
{
    const char *message = json_string_value(json_object_get(answer, "message"));
    const char *error = json_string_value(json_object_get(answer, "error"));
    if (status == 401)
        fprintf(stderr, "slowlane: the gateway refused the admin token (401): check "
                        "SLOWLANE_ADMIN_TOKEN or the token file\n");
    else if (status)
        fprintf(stderr, "slowlane: %s (%ld)%s%s\n", error ? error : "failed", status,
                message ? ": " : "", message ? message : "");
}

int cli_http_token(cli_http_t *options, const char *given, const char *file)
{
    const char *reason = NULL;
    bool loose = false;
    char path[1024];
    if (given && *given) {
        snprintf(options->token, sizeof options->token, "%s", given);
        return 0;
    }
    if (file && *file) {
        if (sl_token_read_file(file, options->token, sizeof options->token, &loose, &reason) == 0)
            return 0;
        fprintf(stderr, "slowlane: --admin-token-file %s: %s\n", file, reason);
        return -1;
    }
    if (sl_token_default_path(path, sizeof path) == 0 &&
        sl_token_read_file(path, options->token, sizeof options->token, &loose, &reason) == 0)
        return 0;
    fprintf(stderr, "slowlane: no admin token: set SLOWLANE_ADMIN_TOKEN (or --admin-token-file); "
                    "`slowlane up` writes one to ~/.config/slowlane/admin-token\n");
    return -1;
}
