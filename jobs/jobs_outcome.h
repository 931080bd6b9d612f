/*  jobs_outcome: what becomes of an attempt, by the rules in jobs_dispatcher.c's banner and
    docs/jobs.md "Retries": a reply (kept as the result, or a 5xx retried), an error
    envelope or a loss (requeued uncounted, retried with backoff, or failed), and the
    progress envelopes a worker sends while it runs (protocol.md 4.6). It writes the store
    and removes finished entries from the flight table; an outcome the store refuses (disk
    full) stays in the entry and is written again (jobs_outcome_retry_unsaved). It owns no
    socket and no timer: the dispatcher calls it. */
#ifndef JOBS_OUTCOME_H
#define JOBS_OUTCOME_H
#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "jobs_flight.h"
#include "jobs_store.h"
#include "sl_log.h"

typedef struct {
    jobs_store_t *store;      /* borrowed */
    jobs_flight_t *flight;    /* borrowed */
    int64_t retry_base_ms;    /* first retry's delay; doubles per attempt */
    int64_t retry_max_ms;     /* longest retry delay */
    int64_t max_result_bytes; /* a larger streamed reply fails the attempt */
    int64_t unsaved_retry_ms; /* an unsaved outcome is written again this much later */
    sl_log_limit_t limit;     /* store trouble, logged at a limited rate */
} jobs_outcome_t;

/* The attempt ended without a result: requeued (not counted), retried or failed. Returns
   true if its entry is gone (a slot freed), false if the store refused and it stays. */
bool jobs_outcome_lost(jobs_outcome_t *self, jobs_flight_entry_t *entry, const char *reason,
                       bool counted);

/* A PARTIAL or FINAL body for entry, after the request-id frame: a progress note, a piece
   of the reply, the whole reply, or an error envelope. Returns true if the entry is gone. */
bool jobs_outcome_reply(jobs_outcome_t *self, jobs_flight_entry_t *entry, zmsg_t *body, bool final);

/* Writes again the outcome of an entry the store refused before. True if it is gone. */
bool jobs_outcome_retry_unsaved(jobs_outcome_t *self, jobs_flight_entry_t *entry);

/* Writes the progress notes held back (at most one write per job per
   JOBS_OUTCOME_PROGRESS_MS), so the last note of a quiet handler is not lost. */
void jobs_outcome_flush_progress(jobs_outcome_t *self);

#define JOBS_OUTCOME_PROGRESS_MS 500

#endif
