/*  jobs_flight: the attempts the dispatcher has out, by "id.attempt" (the request id each
    attempt is sent with), with the counts it decides by: attempts out per service (against
    the per-service limit) and per broker (to pick the least loaded, and to find what a
    lost broker took with it). A streamed reply's pieces gather here until the FINAL.
    Plain bookkeeping: no sockets, no store; one thread (the dispatcher's) uses it. */
#ifndef JOBS_FLIGHT_H
#define JOBS_FLIGHT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jobs_store.h"
#include "sl_defaults.h"

#define JOBS_FLIGHT_KEY_MAX SL_REQUEST_ID_MAX /* "id.attempt": JOBS_ID_MAX + 4 fits */

typedef struct {
    char key[JOBS_FLIGHT_KEY_MAX + 1];  /* "id.attempt": the request id on the wire */
    char id[JOBS_ID_MAX + 1];           /* the job */
    char service[JOBS_SERVICE_MAX + 1]; /* its service */
    int attempt;                        /* this attempt's number */
    int max_attempts;                   /* the job's limit */
    bool retryable;                     /* may run again */
    int broker;                         /* index of the broker it went to */
    int64_t deadline_ms;                /* zclock_mono: given up after this */
    bool streaming;                     /* a first PARTIAL came: status and headers known */
    bool recovered;                     /* out when the last process stopped: not counted
                                           against its service or broker (its reply may
                                           never come, and must not hold back new work) */
    bool asked;                         /* recovered: mmi.request sent to its broker */
    bool unsaved;                       /* ended, but the store refused the outcome: again */
    char lost_reason[32];               /* the outcome to write again: a loss's reason, or
                                           "" for the reply held here */
    bool lost_counted;                  /* ... and whether that loss counts as an attempt */
    int status;                         /* the reply's status, once known */
    char *headers;                      /* owned header block, once known */
    size_t headers_size;                /* bytes in headers */
    char *body;                         /* owned, the reply body gathered so far */
    size_t body_size;                   /* bytes in body */
    size_t body_cap;                    /* bytes allocated */
    char worker[JOBS_TEXT_MAX + 1];     /* the worker running it, from its progress */
    char progress[JOBS_TEXT_MAX + 1];   /* its last progress note */
    bool progress_unsaved;              /* worker/progress not yet in the store */
    int64_t progress_saved_ms;          /* zclock_mono of the last write of them */
} jobs_flight_entry_t;

typedef struct _jobs_flight_t jobs_flight_t;

jobs_flight_t *jobs_flight_new(size_t broker_count);
void jobs_flight_destroy(jobs_flight_t **self_p);
/* Adds an attempt (copied from record); returns the entry, NULL if out of memory or the key
   is there already. A recovered attempt is not counted (see the field). */
jobs_flight_entry_t *jobs_flight_add(jobs_flight_t *self, const jobs_record_t *record,
                                     int64_t deadline_ms, bool recovered);
/* Takes an entry off its broker: it is no longer counted there, and its broker's loss no
   longer selects it. */
void jobs_flight_detach(jobs_flight_t *self, jobs_flight_entry_t *entry);
/* The entry for a request id, or NULL (a late or foreign reply). */
jobs_flight_entry_t *jobs_flight_find(jobs_flight_t *self, const char *key);
/* Removes and frees an entry (it is not valid afterwards). */
void jobs_flight_remove(jobs_flight_t *self, jobs_flight_entry_t *entry);
/* Appends bytes to an entry's body; -1 if that would pass limit bytes or memory ran out. */
int jobs_flight_append(jobs_flight_entry_t *entry, const void *data, size_t size, int64_t limit);
/* Attempts out for a service, for a broker, and in all. */
int64_t jobs_flight_service_count(jobs_flight_t *self, const char *service);
int64_t jobs_flight_broker_count(jobs_flight_t *self, int broker);
size_t jobs_flight_size(jobs_flight_t *self);
/* Every entry that matches: broker's (broker >= 0) or past its deadline at now_ms
   (broker < 0). Fills up to max entries into out; returns how many. Entries stay. */
size_t jobs_flight_select(jobs_flight_t *self, int broker, int64_t now_ms,
                          jobs_flight_entry_t **out, size_t max);
/* Calls each(entry, arg) for every entry; each must not add or remove entries. */
void jobs_flight_each(jobs_flight_t *self, void (*each)(jobs_flight_entry_t *entry, void *arg),
                      void *arg);
/* Records whether entry's progress is in the store (saved, at at_ms) or still to write. */
void jobs_flight_progress_saved(jobs_flight_t *self, jobs_flight_entry_t *entry, bool saved,
                                int64_t at_ms);
/* Entries whose progress is still to write: the flush walks the table only when some are. */
size_t jobs_flight_progress_unsaved(jobs_flight_t *self);
#endif
