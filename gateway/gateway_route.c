/*  gateway_route: one route's options, parsed the same way wherever they were written: a
    value is accepted or refused here once, with one line that names the option and what it
    wants, and start-up stops on it. */
#include "gateway_route.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sl_defaults.h"
#include "sl_envelope.h"

#define S_MAX_RESULT_TTL_S 31536000 /* a year */
#define S_MAX_ATTEMPTS     100      /* slowlane-jobs refuses more */

void gateway_route_error(char *error, size_t size, const char *fmt, ...)
{
    if (!error || size == 0)
        return;
    va_list args;
    va_start(args, fmt);
    vsnprintf(error, size, fmt, args);
    va_end(args);
}

void gateway_route_set_defaults(gateway_route_t *self)
{
    self->methods = GATEWAY_METHOD_ALL;
    self->timeout_ms = SL_DEFAULT_ROUTE_TIMEOUT_MS;
    self->budget = SL_DEFAULT_ROUTE_BUDGET;
    self->body_limit = SL_DEFAULT_BODY_LIMIT;
    self->retry = GATEWAY_RETRY_IDEMPOTENT;
    self->async = GATEWAY_ASYNC_ALLOW;
    self->cancel = GATEWAY_CANCEL_IDEMPOTENT;
    self->async_timeout_ms = SL_DEFAULT_JOB_TIMEOUT_ROUTE_MS;
    self->result_ttl_ms = SL_DEFAULT_JOB_TTL_MS;
    self->attempts = SL_DEFAULT_JOB_ATTEMPTS;
}

bool gateway_route_retryable(const gateway_route_t *self, const char *method)
{
    switch (self->retry) {
    case GATEWAY_RETRY_ON:
        return true;
    case GATEWAY_RETRY_OFF:
        return false;
    case GATEWAY_RETRY_IDEMPOTENT:
    default: {
        return gateway_method_idempotent(method);
    }
    }
}

bool gateway_route_cancels_on_disconnect(const gateway_route_t *self, const char *method)
{
    /* Idempotent by default: a client that left an idempotent request can ask again and
       loses nothing if it was cancelled, and the worker it held is freed for those still
       waiting. A POST whose client vanished may be half-way through side effects that
       client can no longer learn about: stopping it part-way would leave them less certain
       still, so it runs to its end unless the route says cancel-on-disconnect=on. */
    switch (self->cancel) {
    case GATEWAY_CANCEL_ON:
        return true;
    case GATEWAY_CANCEL_OFF:
        return false;
    case GATEWAY_CANCEL_IDEMPOTENT:
    default:
        return gateway_method_idempotent(method);
    }
}

/* Strict unsigned decimal in min..max: no sign, no spaces, no suffix, no overflow. */
static int s_parse_number(const char *text, size_t size, int64_t min, int64_t max, int64_t *value)
{
    if (size == 0 || size > 19)
        return -1;
    int64_t result = 0;
    for (size_t i = 0; i < size; i++) {
        if (text[i] < '0' || text[i] > '9')
            return -1;
        int digit = text[i] - '0';
        if (result > (max - digit) / 10)
            return -1; // past max: stop before the multiplication can overflow
        result = result * 10 + digit;
    }
    if (result < min || result > max)
        return -1;
    *value = result;
    return 0;
}

static int s_parse_retry(const char *text, size_t size, gateway_retry_t *retry)
{
    if (size == 2 && strncmp(text, "on", 2) == 0)
        *retry = GATEWAY_RETRY_ON;
    else if (size == 3 && strncmp(text, "off", 3) == 0)
        *retry = GATEWAY_RETRY_OFF;
    else if (size == 10 && strncmp(text, "idempotent", 10) == 0)
        *retry = GATEWAY_RETRY_IDEMPOTENT;
    else
        return -1;
    return 0;
}

static int s_parse_cancel(const char *text, size_t size, gateway_cancel_t *cancel)
{
    gateway_retry_t same;
    if (s_parse_retry(text, size, &same) != 0)
        return -1;
    /* The same three words as retry=, for the same reason: a policy by method. */
    *cancel = same == GATEWAY_RETRY_ON    ? GATEWAY_CANCEL_ON
              : same == GATEWAY_RETRY_OFF ? GATEWAY_CANCEL_OFF
                                          : GATEWAY_CANCEL_IDEMPOTENT;
    return 0;
}

static int s_parse_async(const char *text, size_t size, gateway_async_t *async)
{
    if (size == 5 && strncmp(text, "allow", 5) == 0)
        *async = GATEWAY_ASYNC_ALLOW;
    else if (size == 3 && strncmp(text, "off", 3) == 0)
        *async = GATEWAY_ASYNC_OFF;
    else if (size == 6 && strncmp(text, "always", 6) == 0)
        *async = GATEWAY_ASYNC_ALWAYS;
    else
        return -1;
    return 0;
}

int gateway_route_set_option(gateway_route_t *self, const char *name, size_t name_size,
                             const char *value, size_t value_size, char *error, size_t error_size)
{
#define S_IS(literal) (name_size == strlen(literal) && strncmp(name, literal, name_size) == 0)
    if (S_IS("methods"))
        return gateway_methods_parse(value, value_size, &self->methods, error, error_size);
    if (S_IS("timeout-ms")) {
        if (s_parse_number(value, value_size, 1, SL_ENVELOPE_TIMEOUT_MAX_MS, &self->timeout_ms) ==
            0)
            return 0;
        gateway_route_error(error, error_size, "timeout-ms '%.*s': want 1..%lld", (int) value_size,
                            value, (long long) SL_ENVELOPE_TIMEOUT_MAX_MS);
        return -1;
    }
    if (S_IS("budget")) {
        if (s_parse_number(value, value_size, 1, SL_MAX_ROUTE_BUDGET, &self->budget) == 0)
            return 0;
        gateway_route_error(error, error_size, "budget '%.*s': want 1..%d", (int) value_size, value,
                            SL_MAX_ROUTE_BUDGET);
        return -1;
    }
    if (S_IS("body-limit")) {
        if (s_parse_number(value, value_size, 0, SL_MAX_BODY_LIMIT, &self->body_limit) == 0)
            return 0;
        gateway_route_error(error, error_size, "body-limit '%.*s': want 0..%lld bytes",
                            (int) value_size, value, (long long) SL_MAX_BODY_LIMIT);
        return -1;
    }
    if (S_IS("retry")) {
        if (s_parse_retry(value, value_size, &self->retry) == 0)
            return 0;
        gateway_route_error(error, error_size, "retry '%.*s': want on, off or idempotent",
                            (int) value_size, value);
        return -1;
    }
    if (S_IS("async")) {
        if (s_parse_async(value, value_size, &self->async) == 0)
            return 0;
        gateway_route_error(error, error_size, "async '%.*s': want allow, off or always",
                            (int) value_size, value);
        return -1;
    }
    if (S_IS("async-timeout-ms")) {
        if (s_parse_number(value, value_size, 1, SL_ENVELOPE_TIMEOUT_MAX_MS,
                           &self->async_timeout_ms) == 0)
            return 0;
        gateway_route_error(error, error_size, "async-timeout-ms '%.*s': want 1..%lld",
                            (int) value_size, value, (long long) SL_ENVELOPE_TIMEOUT_MAX_MS);
        return -1;
    }
    if (S_IS("result-ttl-s")) {
        int64_t seconds = 0;
        if (s_parse_number(value, value_size, 1, S_MAX_RESULT_TTL_S, &seconds) == 0) {
            self->result_ttl_ms = seconds * 1000;
            return 0;
        }
        gateway_route_error(error, error_size, "result-ttl-s '%.*s': want 1..%d", (int) value_size,
                            value, S_MAX_RESULT_TTL_S);
        return -1;
    }
    if (S_IS("attempts")) {
        if (s_parse_number(value, value_size, 1, S_MAX_ATTEMPTS, &self->attempts) == 0)
            return 0;
        gateway_route_error(error, error_size, "attempts '%.*s': want 1..%d", (int) value_size,
                            value, S_MAX_ATTEMPTS);
        return -1;
    }
    if (S_IS("cancel-on-disconnect")) {
        if (s_parse_cancel(value, value_size, &self->cancel) == 0)
            return 0;
        gateway_route_error(error, error_size,
                            "cancel-on-disconnect '%.*s': want on, off or idempotent",
                            (int) value_size, value);
        return -1;
    }
#undef S_IS
    gateway_route_error(
        error, error_size,
        "unknown option '%.*s' (use methods, timeout-ms, budget, body-limit, retry, async, "
        "async-timeout-ms, result-ttl-s, attempts, cancel-on-disconnect)",
        (int) name_size, name);
    return -1;
}
