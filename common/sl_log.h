/*  sl_log: the one logger. One line per event in logfmt on stderr:
        ts=2026-11-24T12:00:00.123Z level=info comp=broker event=worker_ready rid=... key=value ...
    Thread-safe (one write(2) per line). Never pass secrets or bodies to it. */
#ifndef SL_LOG_H
#define SL_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { SL_LOG_DEBUG = 0, SL_LOG_INFO, SL_LOG_WARN, SL_LOG_ERROR } sl_log_level_t;

/* Per-call-site limiter for events that the network can trigger at any rate. */
typedef struct {
    int64_t window_start_ms; /* start of the current one-second window */
    int emitted;             /* lines written in this window */
    int suppressed;          /* lines dropped in this window, reported with the next one */
} sl_log_limit_t;

/* Sets the component name (copied) and the lowest level written. Call once at start-up. */
void sl_log_init(const char *component, sl_log_level_t level);

/* Sets the component name of the calling thread's lines (a string that outlives the thread;
   NULL: back to the process's). For a component embedded in another's process. */
void sl_log_thread_component(const char *component);

/* Parses "debug|info|warn|error"; returns -1 on anything else. */
int sl_log_level_parse(const char *text, sl_log_level_t *level);

/* Writes one line: event is a short snake_case name; request_id may be NULL; fmt adds
   key=value pairs (printf-style) and may be NULL. Values containing spaces must be quoted
   by the caller (use %s only with values known to be tokens, or sl_log_quote). */
void sl_log(sl_log_level_t level, const char *request_id, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* As sl_log, but writes at most SL_LOG_RATE_PER_SECOND lines a second through limit. */
void sl_log_limited(sl_log_limit_t *limit, sl_log_level_t level, const char *request_id,
                    const char *event, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Copies text into buffer as a logfmt value: quoted and escaped when it holds spaces,
   quotes, '=' or control characters; truncated to fit. Returns buffer. */
const char *sl_log_quote(const char *text, char *buffer, size_t size);

#endif
