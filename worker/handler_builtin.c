/*  handler_builtin: the builtin:* handlers (busy, sleep, echo, stream) and the --handler
    spec parser (program: is not a handler but a worker program, which it only checks).
    The builtins exist for demos and tests: busy is the seed's doSomeWork,
    the CPU-bound slow lane; stream exercises PARTIAL replies. Each stops early when its job
    is cancelled (sl_job_cancelled). exec: lives in handler_exec.c. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "sl_defaults.h"
#include "sl_envelope.h"
#include "worker_handlers.h"

#define WORKER_STREAM_DEFAULT_CHUNKS 3
#define WORKER_STREAM_MAX_CHUNKS     10000

static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

//  Reads integer query parameter name into *value (fallback when absent). -1 if present
//  but not a decimal in min..max: the handler answers 400.
static int s_int_param(sl_job_t *job, const char *name, int64_t fallback, int64_t min, int64_t max,
                       int64_t *value)
{
    char *text = sl_job_query_param(job, name);
    *value = fallback;
    if (!text)
        return 0;
    char *end = NULL;
    errno = 0;
    long long parsed = strtoll(text, &end, 10);
    int rc = (*text && !*end && errno == 0 && parsed >= min && parsed <= max) ? 0 : -1;
    if (rc == 0)
        *value = parsed;
    free(text);
    return rc;
}

static int s_text_reply(sl_job_t *job, int status, const char *fmt, long long number)
{
    char text[128];
    int size = snprintf(text, sizeof text, fmt, number);
    sl_job_set_status(job, status);
    sl_job_add_header(job, "Content-Type", "text/plain");
    return sl_job_write(job, text, (size_t) size);
}

static int s_bad_request(sl_job_t *job, const char *text)
{
    sl_job_set_status(job, 400);
    sl_job_add_header(job, "Content-Type", "text/plain");
    return sl_job_write(job, text, strlen(text));
}

//  The work never runs past the request's deadline: nobody would read the answer.
static int64_t s_bounded_ms(sl_job_t *job, int64_t ms)
{
    int64_t left = sl_job_time_left_ms(job);
    return ms < left ? ms : left;
}

int worker_handler_busy(sl_job_t *job, void *arg)
{
    int64_t ms;
    if (s_int_param(job, "ms", SL_BUSY_DEFAULT_MS, 0, SL_ENVELOPE_TIMEOUT_MAX_MS, &ms) == -1)
        return s_bad_request(job, "bad ms parameter\n");
    ms = s_bounded_ms(job, ms);
    int64_t until = s_now_ms() + ms;
    //  Real arithmetic, not a pause: this handler stands for CPU-bound work
    volatile double sink = 0;
    while (s_now_ms() < until && !sl_job_cancelled(job))
        for (int i = 1; i < 10000; i++)
            sink += 1.0 / i;
    //  Cancelled: its client has gone, this reply is dropped; the worker is free sooner
    if (sl_job_cancelled(job))
        return s_text_reply(job, 499, "cancelled (asked for %lld ms)\n", (long long) ms);
    return s_text_reply(job, 200, "busy %lld ms\n", (long long) ms);
}

//  Sleeps ms, or less if the job is cancelled meanwhile (its cancel fd wakes the poll).
//  With progress, notes "slept X of Y ms" each second (only a job of slowlane-jobs gets them).
static void s_sleep_ms(sl_job_t *job, int64_t ms, bool progress)
{
    int64_t start = s_now_ms(), until = start + ms;
    struct pollfd cancel = {sl_job_cancel_fd(job), POLLIN, 0};
    //  A signal (SIGTERM's drain) must not cut the job short: sleep the rest
    for (int64_t left = ms; left > 0 && !sl_job_cancelled(job); left = until - s_now_ms()) {
        int64_t step = progress && left > 1000 ? 1000 : left > 60000 ? 60000 : left;
        poll(&cancel, cancel.fd == -1 ? 0 : 1, (int) step);
        if (progress && s_now_ms() < until) {
            char note[64];
            snprintf(note, sizeof note, "slept %lld of %lld ms", (long long) (s_now_ms() - start),
                     (long long) ms);
            sl_job_progress(job, note);
        }
    }
}

int worker_handler_sleep(sl_job_t *job, void *arg)
{
    int64_t ms;
    if (s_int_param(job, "ms", SL_BUSY_DEFAULT_MS, 0, SL_ENVELOPE_TIMEOUT_MAX_MS, &ms) == -1)
        return s_bad_request(job, "bad ms parameter\n");
    ms = s_bounded_ms(job, ms);
    s_sleep_ms(job, ms, true);
    if (sl_job_cancelled(job))
        return s_text_reply(job, 499, "cancelled (asked for %lld ms)\n", (long long) ms);
    return s_text_reply(job, 200, "slept %lld ms\n", (long long) ms);
}

//  Written and read on the handler thread only (broadcasts run between jobs).
static char s_last_broadcast[SL_BROADCAST_ID_MAX + 1];

void worker_handler_broadcast(const char *id, const void *data, size_t size, void *arg)
{
    snprintf(s_last_broadcast, sizeof s_last_broadcast, "%s", id);
}

const char *worker_handler_last_broadcast(void)
{
    return s_last_broadcast;
}

int worker_handler_echo(sl_job_t *job, void *arg)
{
    size_t size = 0;
    if (!sl_job_is_http(job)) {
        /* A plain request comes back frame for frame, empty ones included */
        size_t count = sl_job_frame_count(job);
        for (size_t i = 0; i < count; i++) {
            const void *frame = sl_job_frame(job, i, &size);
            if (sl_job_write(job, frame, size) == -1 ||
                (i + 1 < count && sl_job_next_frame(job) == -1))
                return -1;
        }
        return 0;
    }
    const void *body = sl_job_body(job, &size);
    const char *query = sl_job_query(job);
    sl_job_add_header(job, "Content-Type", "text/plain");
    if (s_last_broadcast[0])
        sl_job_add_header(job, "X-Slowlane-Broadcast", s_last_broadcast);
    if (sl_job_write(job, query, strlen(query)) == -1 || sl_job_write(job, "\n", 1) == -1)
        return -1;
    return sl_job_write(job, body, size);
}

int worker_handler_stream(sl_job_t *job, void *arg)
{
    int64_t chunks, ms;
    if (s_int_param(job, "n", WORKER_STREAM_DEFAULT_CHUNKS, 1, WORKER_STREAM_MAX_CHUNKS, &chunks) ==
            -1 ||
        s_int_param(job, "ms", 0, 0, SL_ENVELOPE_TIMEOUT_MAX_MS, &ms) == -1)
        return s_bad_request(job, "bad n or ms parameter\n");
    sl_job_add_header(job, "Content-Type", "text/plain");
    for (int64_t chunk = 0; chunk < chunks; chunk++) {
        char text[64];
        int size = snprintf(text, sizeof text, "chunk %lld\n", (long long) chunk);
        if (sl_job_write(job, text, (size_t) size) == -1)
            return -1;
        snprintf(text, sizeof text, "chunk %lld of %lld", (long long) chunk + 1,
                 (long long) chunks);
        sl_job_progress(job, text);
        //  The last chunk travels in the FINAL
        if (chunk + 1 < chunks) {
            if (sl_job_flush(job) == -1)
                return -1;
            s_sleep_ms(job, s_bounded_ms(job, ms), false);
            if (sl_job_cancelled(job))
                return 0; /* nobody reads the rest: the FINAL only frees the slot */
        }
    }
    return 0;
}

int worker_handler_resolve(const char *spec, worker_handler_t *out, const char **reason)
{
    static const struct {
        const char *name;
        sl_worker_handler_fn *fn;
    } builtins[] = {{"builtin:busy", worker_handler_busy},
                    {"builtin:sleep", worker_handler_sleep},
                    {"builtin:echo", worker_handler_echo},
                    {"builtin:stream", worker_handler_stream}};
    memset(out, 0, sizeof *out);
    if (!spec) {
        *reason = "no handler given";
        return -1;
    }
    for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++)
        if (strcmp(spec, builtins[i].name) == 0) {
            out->fn = builtins[i].fn;
            out->never_blocks = out->fn == worker_handler_echo;
            return 0;
        }
    if (strncmp(spec, "exec:", 5) == 0) {
        const char *command = spec + 5;
        if (strspn(command, " \t") == strlen(command)) {
            *reason = "exec: needs a command (exec:COMMAND)";
            return -1;
        }
        out->fn = worker_handler_exec;
        out->arg = strdup(command);
        return out->arg ? 0 : -1;
    }
    if (strncmp(spec, "program:", 8) == 0) {
        const char *command = spec + 8;
        if (strspn(command, " \t") == strlen(command)) {
            *reason = "program: needs a command (program:COMMAND)";
            return -1;
        }
        out->program = strdup(command);
        return out->program ? 0 : -1;
    }
    *reason = "unknown handler (builtin:busy, builtin:sleep, builtin:echo, builtin:stream, "
              "exec:COMMAND, program:COMMAND)";
    return -1;
}

void worker_handler_reset(worker_handler_t *handler)
{
    free(handler->arg);
    handler->arg = NULL;
    free(handler->program);
    handler->program = NULL;
    handler->fn = NULL;
}
