/*  jobs_store_private: what jobs_store.c (opening, submitting, reading, cancelling) and
    jobs_store_runs.c (claims, results, retries, expiry) share: the store's struct, its
    prepared statements and the helpers around them. Nothing outside jobs_store*.c includes it. */
#ifndef JOBS_STORE_PRIVATE_H
#define JOBS_STORE_PRIVATE_H
#include <pthread.h>
#include <sqlite3.h>

#include "jobs_store.h"

/* Every statement the store runs, prepared once on first use. */
typedef enum {
    S_SUBMIT = 0,
    S_GET,
    S_CANCEL_QUEUED,
    S_CANCEL_RUNNING,
    S_DELETE,
    S_ROWID_DONE,
    S_RESULT_HEAD,
    S_DUE_SERVICES,
    S_CLAIM_SELECT,
    S_CLAIM_UPDATE,
    S_FINISH,
    S_FINISH_CANCELLED,
    S_REQUEUE,
    S_FAIL,
    S_PROGRESS,
    S_RUNNING,
    S_EXPIRE,
    S_EXPIRED_DELETE,
    S_COUNTS,
    S_LIST,
    S_BEGIN,
    S_COMMIT,
    S_ROLLBACK,
    S_STATEMENT_COUNT
} jobs_statement_t;

struct _jobs_store_t {
    sqlite3 *db;                                 /* the one connection */
    pthread_mutex_t lock;                        /* every call holds it */
    sqlite3_stmt *statements[S_STATEMENT_COUNT]; /* prepared on first use */
    char *path;                                  /* the database file */
    char reason[256];                            /* the last failure, one line */
};

/* The record's columns, in the order every SELECT of a record lists them. */
#define JOBS_RECORD_COLUMNS                                                                        \
    "id, service, route, state, retryable, cancel_requested, attempts, max_attempts, broker, "     \
    "timeout_ms, ttl_ms, created_ms, started_ms, finished_ms, due_ms, expires_ms, "                \
    "result_status, length(result_body), error, progress, worker"
#define JOBS_RECORD_COLUMN_COUNT 21

/* The statement, reset and unbound, or NULL (reason set) if it would not prepare. */
sqlite3_stmt *jobs_store_statement(jobs_store_t *self, jobs_statement_t which);
/* Steps a statement that returns no rows and resets it. Returns the outcome for the caller. */
jobs_store_status_t jobs_store_run(jobs_store_t *self, sqlite3_stmt *statement);
/* Maps a SQLite result code to an outcome, recording the reason. */
jobs_store_status_t jobs_store_failure(jobs_store_t *self, int rc);
/* Fills record from the current row of statement, whose first columns are
   JOBS_RECORD_COLUMNS starting at column first. */
void jobs_store_record_read(sqlite3_stmt *statement, int first, jobs_record_t *record);
/* BEGIN IMMEDIATE / COMMIT / ROLLBACK, lock already held. */
jobs_store_status_t jobs_store_begin(jobs_store_t *self);
jobs_store_status_t jobs_store_commit(jobs_store_t *self);
void jobs_store_rollback(jobs_store_t *self);
/* Binds text (NULL: "") or a blob that is never NULL (empty when size is 0). */
void jobs_store_bind_text(sqlite3_stmt *statement, int index, const char *text);
void jobs_store_bind_blob(sqlite3_stmt *statement, int index, const void *data, size_t size);
#endif
