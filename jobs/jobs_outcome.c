/*  jobs_outcome: attempts' outcomes and progress notes, written to the store (see
    jobs_outcome.h). */
#include "jobs_outcome.h"

#include <stdio.h>
#include <string.h>

#include "sl_envelope.h"
#include "sl_progress.h"

static int64_t s_wall_ms(void)
{
    return zclock_time();
}

static void s_save_progress(jobs_outcome_t *self, jobs_flight_entry_t *entry);
static bool s_store_trouble(jobs_store_status_t status);

static int64_t s_backoff_ms(const jobs_outcome_t *self, int attempt)
{
    int64_t delay = self->retry_base_ms;
    for (int i = 1; i < attempt && delay < self->retry_max_ms; i++)
        delay *= 2;
    return delay < self->retry_max_ms ? delay : self->retry_max_ms;
}

/* The store could not take an attempt's outcome (disk full, I/O error): the entry stays,
   still counted against its service, and the outcome is written again at the next tick. */
static void s_keep_unsaved(jobs_outcome_t *self, jobs_flight_entry_t *entry, const char *reason,
                           bool counted)
{
    char why[256];
    jobs_store_reason(self->store, why, sizeof why);
    sl_log_limited(&self->limit, SL_LOG_ERROR, entry->id, "job_outcome_unsaved",
                   "attempt=%d outcome=%s reason=\"%s\"", entry->attempt,
                   reason ? reason : "result", why);
    entry->unsaved = true;
    jobs_flight_detach(self->flight, entry); /* its broker's loss no longer concerns it */
    if (reason != entry->lost_reason)
        snprintf(entry->lost_reason, sizeof entry->lost_reason, "%s", reason ? reason : "");
    entry->lost_counted = counted;
    entry->deadline_ms = zclock_mono() + self->unsaved_retry_ms;
}

static bool s_store_trouble(jobs_store_status_t status)
{
    return status == JOBS_STORE_FULL || status == JOBS_STORE_UNAVAILABLE;
}

bool jobs_outcome_lost(jobs_outcome_t *self, jobs_flight_entry_t *entry, const char *reason,
                       bool counted)
{
    jobs_store_status_t status;
    const char *outcome;
    /* A failed job keeps naming the worker of its last attempt (rare: no extra write else) */
    if (counted && entry->progress_unsaved)
        s_save_progress(self, entry);
    if (!counted) {
        status = jobs_store_requeue(self->store, entry->id, entry->attempt, false,
                                    s_wall_ms() + s_backoff_ms(self, entry->attempt), reason,
                                    s_wall_ms());
        outcome = "requeued";
    } else if (entry->retryable && entry->attempt < entry->max_attempts) {
        status = jobs_store_requeue(self->store, entry->id, entry->attempt, true,
                                    s_wall_ms() + s_backoff_ms(self, entry->attempt), reason,
                                    s_wall_ms());
        outcome = "retry";
    } else {
        status = jobs_store_fail(self->store, entry->id, entry->attempt, reason, s_wall_ms());
        outcome = "failed";
    }
    if (s_store_trouble(status)) {
        s_keep_unsaved(self, entry, reason, counted);
        return false;
    }
    sl_log(SL_LOG_INFO, entry->id, "job_attempt_ended",
           "attempt=%d service=%s reason=%s outcome=%s", entry->attempt, entry->service, reason,
           outcome);
    jobs_flight_remove(self->flight, entry);
    return true;
}

/* A whole reply: the result, or a retry for a 5xx with attempts left. */
static bool s_attempt_replied(jobs_outcome_t *self, jobs_flight_entry_t *entry)
{
    if (entry->status >= 500 && entry->retryable && entry->attempt < entry->max_attempts) {
        char reason[32];
        snprintf(reason, sizeof reason, "status_%d", entry->status);
        return jobs_outcome_lost(self, entry, reason, true);
    }
    jobs_result_t result = {.status = entry->status,
                            .headers = entry->headers,
                            .headers_size = entry->headers_size,
                            .body = entry->body,
                            .body_size = entry->body_size,
                            .worker = entry->worker,
                            .note = entry->progress};
    jobs_store_status_t status =
        jobs_store_finish(self->store, entry->id, entry->attempt, &result, s_wall_ms());
    if (s_store_trouble(status)) {
        /* Kept in memory and written again: the reply is not lost while this process lives. */
        s_keep_unsaved(self, entry, NULL, false);
        return false;
    }
    sl_log(SL_LOG_INFO, entry->id, "job_finished", "attempt=%d service=%s status=%d bytes=%zu%s",
           entry->attempt, entry->service, entry->status, entry->body_size,
           status == JOBS_STORE_NOT_FOUND ? " note=cancelled_or_late" : "");
    jobs_flight_remove(self->flight, entry);
    return true;
}

/* ---------------------------------------------------------------- progress */

/* Writes the entry's worker and note now (an attempt that ends without a result: the job's
   status keeps naming the worker of its last attempt). A store in trouble keeps them for the
   next flush: a note is worth less than a result, so it is not retried harder than that. */
static void s_save_progress(jobs_outcome_t *self, jobs_flight_entry_t *entry)
{
    jobs_progress_t note = {entry->id, entry->attempt, entry->worker, entry->progress};
    jobs_store_status_t status = jobs_store_progress(self->store, &note, 1);
    jobs_flight_progress_saved(self->flight, entry, !s_store_trouble(status), zclock_mono());
}

/* A progress envelope (protocol.md 4.6): the worker that runs the attempt and its note, kept
   here and written by the next flush (jobs_outcome_flush_progress), so a job of a few
   milliseconds, whose result carries them, costs no write of its own. */
static void s_on_progress(jobs_outcome_t *self, jobs_flight_entry_t *entry, zmsg_t *body)
{
    char worker[sizeof entry->worker], note[sizeof entry->progress];
    if (sl_progress_decode(body, worker, sizeof worker, note, sizeof note) != 0)
        return; /* a malformed note is not worth failing the job */
    snprintf(entry->worker, sizeof entry->worker, "%s", worker);
    snprintf(entry->progress, sizeof entry->progress, "%s", note);
    jobs_flight_progress_saved(self->flight, entry, false, entry->progress_saved_ms);
}

/* ---------------------------------------------------------------- replies */

static bool s_on_error_envelope(jobs_outcome_t *self, jobs_flight_entry_t *entry, zmsg_t *body)
{
    sl_error_code_t code;
    char message[128];
    if (sl_error_envelope_decode(body, &code, message, sizeof message) != 0)
        return jobs_outcome_lost(self, entry, "bad_reply", true);
    /* queue_full and no_worker: the broker never handed it to a worker now (a retryable job
       it re-queued after a worker died is no longer run by that worker). shutting_down: a
       stopping broker answers so for retryable jobs its workers still run. */
    bool started = code == SL_ERROR_WORKER_DIED || code == SL_ERROR_EXPIRED ||
                   code == SL_ERROR_BAD_REQUEST || code == SL_ERROR_CANCELLED ||
                   (code == SL_ERROR_SHUTTING_DOWN && entry->retryable);
    return jobs_outcome_lost(self, entry, sl_error_code_name(code), started);
}

bool jobs_outcome_reply(jobs_outcome_t *self, jobs_flight_entry_t *entry, zmsg_t *body, bool final)
{
    if (!final && sl_envelope_kind(body) == SL_BODY_PROGRESS &&
        zmsg_size(body) == SL_PROGRESS_FRAMES) {
        s_on_progress(self, entry, body);
        return false;
    }
    if (!entry->streaming) {
        sl_body_kind_t kind = sl_envelope_kind(body);
        if (kind == SL_BODY_ERROR && final)
            return s_on_error_envelope(self, entry, body);
        sl_reply_envelope_t reply = {0};
        if (kind != SL_BODY_REPLY || sl_reply_envelope_decode(body, &reply) != 0)
            return jobs_outcome_lost(self, entry, "bad_reply", true);
        entry->status = reply.status;
        entry->headers = reply.headers;
        entry->headers_size = reply.headers_size;
        reply.headers = NULL;
        int rc = jobs_flight_append(entry, zframe_data(reply.body), zframe_size(reply.body),
                                    self->max_result_bytes);
        sl_reply_envelope_reset(&reply);
        if (rc != 0)
            return jobs_outcome_lost(self, entry, "result_too_large", true);
        entry->streaming = true;
    } else if (final && sl_envelope_kind(body) == SL_BODY_ERROR) {
        /* The worker died (or the broker stopped) mid-stream: the broker ends the stream with
           an error envelope in the FINAL, not with the last chunk. */
        return s_on_error_envelope(self, entry, body);
    } else {
        for (zframe_t *frame = zmsg_first(body); frame; frame = zmsg_next(body))
            if (jobs_flight_append(entry, zframe_data(frame), zframe_size(frame),
                                   self->max_result_bytes) != 0)
                return jobs_outcome_lost(self, entry, "result_too_large", true);
    }
    return final ? s_attempt_replied(self, entry) : false;
}

bool jobs_outcome_retry_unsaved(jobs_outcome_t *self, jobs_flight_entry_t *entry)
{
    if (entry->lost_reason[0])
        return jobs_outcome_lost(self, entry, entry->lost_reason, entry->lost_counted);
    return s_attempt_replied(self, entry);
}

/* The flush's gathering: the entries whose note is due, at most S_FLUSH_MAX a flush. */
#define S_FLUSH_MAX 256
typedef struct {
    jobs_flight_entry_t *entries[S_FLUSH_MAX];
    jobs_progress_t notes[S_FLUSH_MAX];
    size_t count;
    int64_t now;
} s_flush_t;

static void s_flush_one(jobs_flight_entry_t *entry, void *arg)
{
    s_flush_t *flush = arg;
    /* The first note of an attempt at once (its status names its worker within a tick),
       later ones at most every JOBS_OUTCOME_PROGRESS_MS. */
    if (!entry->progress_unsaved || flush->count == S_FLUSH_MAX ||
        (entry->progress_saved_ms &&
         flush->now - entry->progress_saved_ms < JOBS_OUTCOME_PROGRESS_MS))
        return;
    flush->entries[flush->count] = entry;
    flush->notes[flush->count] =
        (jobs_progress_t){entry->id, entry->attempt, entry->worker, entry->progress};
    flush->count++;
}

void jobs_outcome_flush_progress(jobs_outcome_t *self)
{
    if (jobs_flight_progress_unsaved(self->flight) == 0)
        return;
    s_flush_t *flush = calloc(1, sizeof *flush);
    if (!flush)
        return; /* the next tick tries again */
    flush->now = zclock_mono();
    jobs_flight_each(self->flight, s_flush_one, flush);
    /* One transaction, one write to disk, for every note due */
    bool saved = !s_store_trouble(jobs_store_progress(self->store, flush->notes, flush->count));
    for (size_t i = 0; i < flush->count; i++)
        jobs_flight_progress_saved(self->flight, flush->entries[i], saved, flush->now);
    free(flush);
}
