/*  sl_log: logfmt lines on stderr, one write(2) each so lines from threads and processes
    never interleave. Owns the component name and the level; owns nothing else. */
#include "sl_log.h"
#include "sl_defaults.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static char s_component[32] = "slowlane";
/* A thread that serves another component in this process (the broker embedded in the
   gateway) names it here; NULL: the process's component. */
static _Thread_local const char *s_thread_component = NULL;
static sl_log_level_t s_level = SL_LOG_INFO;
static const char *s_level_names[] = {"debug", "info", "warn", "error"};

void sl_log_init(const char *component, sl_log_level_t level)
{
    snprintf(s_component, sizeof s_component, "%s", component ? component : "slowlane");
    s_level = level;
}

void sl_log_thread_component(const char *component)
{
    s_thread_component = component;
}

int sl_log_level_parse(const char *text, sl_log_level_t *level)
{
    for (int i = SL_LOG_DEBUG; i <= SL_LOG_ERROR; i++) {
        if (text && strcasecmp(text, s_level_names[i]) == 0) {
            *level = (sl_log_level_t) i;
            return 0;
        }
    }
    return -1;
}

const char *sl_log_quote(const char *text, char *buffer, size_t size)
{
    if (size == 0)
        return buffer;
    bool needs_quotes = (text == NULL || *text == '\0');
    for (const char *p = text; p && *p; p++)
        if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p == 0x7f)
            needs_quotes = true;
    if (!needs_quotes) {
        snprintf(buffer, size, "%s", text);
        return buffer;
    }
    size_t used = 0;
    buffer[used++] = '"';
    for (const char *p = text; p && *p && used + 3 < size; p++) {
        unsigned char c = (unsigned char) *p;
        if (c == '"' || c == '\\') {
            buffer[used++] = '\\';
            buffer[used++] = (char) c;
        } else if (c < ' ' || c == 0x7f) {
            buffer[used++] = '?'; // control bytes from the network never reach a terminal
        } else {
            buffer[used++] = (char) c;
        }
    }
    if (used < size - 1)
        buffer[used++] = '"';
    buffer[used] = '\0';
    return buffer;
}

static void s_log_write(sl_log_level_t level, const char *request_id, const char *event,
                        const char *suffix, const char *fmt, va_list args)
{
    char line[2048];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm utc;
    gmtime_r(&now.tv_sec, &utc);
    int used = snprintf(
        line, sizeof line, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s comp=%s event=%s",
        utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
        now.tv_nsec / 1000000, s_level_names[level],
        s_thread_component ? s_thread_component : s_component, event ? event : "unknown");
    if (request_id && *request_id && used < (int) sizeof line)
        used += snprintf(line + used, sizeof line - used, " rid=%s", request_id);
    if (fmt && *fmt && used < (int) sizeof line - 1) {
        line[used++] = ' ';
        used += vsnprintf(line + used, sizeof line - used, fmt, args);
    }
    if (suffix && used < (int) sizeof line)
        used += snprintf(line + used, sizeof line - used, "%s", suffix);
    if (used > (int) sizeof line - 2)
        used = (int) sizeof line - 2; // truncated: still one whole line
    line[used++] = '\n';
    ssize_t rc = write(STDERR_FILENO, line, (size_t) used);
    (void) rc;
}

void sl_log(sl_log_level_t level, const char *request_id, const char *event, const char *fmt, ...)
{
    if (level < s_level)
        return;
    va_list args;
    va_start(args, fmt);
    s_log_write(level, request_id, event, NULL, fmt, args);
    va_end(args);
}

static int64_t s_mono_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t) now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

void sl_log_limited(sl_log_limit_t *limit, sl_log_level_t level, const char *request_id,
                    const char *event, const char *fmt, ...)
{
    if (level < s_level)
        return;
    int64_t now = s_mono_ms();
    if (now - limit->window_start_ms >= 1000) {
        limit->window_start_ms = now;
        limit->emitted = 0;
    }
    if (limit->emitted >= SL_LOG_RATE_PER_SECOND) {
        limit->suppressed++;
        return;
    }
    limit->emitted++;
    char suffix[48] = "";
    if (limit->suppressed > 0) {
        snprintf(suffix, sizeof suffix, " suppressed=%d", limit->suppressed);
        limit->suppressed = 0;
    }
    va_list args;
    va_start(args, fmt);
    s_log_write(level, request_id, event, suffix, fmt, args);
    va_end(args);
}
