/*  jobs_store_runs: the attempts' side of the store: which services have due jobs, claiming
    them, recording a reply, a retry or a failure, the attempts still out after a restart,
    expiry, counts and listings. An attempt is named by the job id and its attempt number:
    a reply for any other attempt (late, duplicate) changes nothing. */
#include "jobs_store_private.h"

#include <stdlib.h>
#include <string.h>

static char *s_dup_column(sqlite3_stmt *statement, int column, size_t *size_out)
{
    const void *bytes = sqlite3_column_blob(statement, column);
    size_t size = (size_t) sqlite3_column_bytes(statement, column);
    char *copy = malloc(size + 1);
    if (!copy)
        return NULL;
    if (size)
        memcpy(copy, bytes, size);
    copy[size] = '\0';
    if (size_out)
        *size_out = size;
    return copy;
}

void jobs_store_due_services(jobs_store_t *self, int64_t now_ms,
                             void (*each)(const char *service, void *arg), void *arg)
{
    pthread_mutex_lock(&self->lock);
    sqlite3_stmt *statement = jobs_store_statement(self, S_DUE_SERVICES);
    if (statement) {
        sqlite3_bind_int64(statement, 1, now_ms);
        while (sqlite3_step(statement) == SQLITE_ROW)
            each((const char *) sqlite3_column_text(statement, 0), arg);
        sqlite3_reset(statement);
    }
    pthread_mutex_unlock(&self->lock);
}

int jobs_store_claim(jobs_store_t *self, const char *service, int64_t now_ms, int limit, int broker,
                     void (*each)(jobs_attempt_t *attempt, void *arg), void *arg)
{
    if (limit <= 0)
        return 0;
    pthread_mutex_lock(&self->lock);
    jobs_attempt_t *attempts = calloc((size_t) limit, sizeof *attempts);
    int count = 0;
    if (!attempts || jobs_store_begin(self) != JOBS_STORE_OK)
        goto done;
    sqlite3_stmt *select = jobs_store_statement(self, S_CLAIM_SELECT);
    if (!select)
        goto rollback;
    jobs_store_bind_text(select, 1, service);
    sqlite3_bind_int64(select, 2, now_ms);
    sqlite3_bind_int(select, 3, limit);
    while (count < limit && sqlite3_step(select) == SQLITE_ROW) {
        jobs_attempt_t *attempt = &attempts[count];
        jobs_store_record_read(select, 0, &attempt->record);
        int c = JOBS_RECORD_COLUMN_COUNT;
        attempt->method = s_dup_column(select, c++, NULL);
        attempt->path = s_dup_column(select, c++, NULL);
        attempt->query = s_dup_column(select, c++, NULL);
        attempt->headers = s_dup_column(select, c++, &attempt->headers_size);
        attempt->body = s_dup_column(select, c++, &attempt->body_size);
        count++;
        if (!attempt->method || !attempt->path || !attempt->query || !attempt->headers ||
            !attempt->body)
            break;
    }
    sqlite3_reset(select);
    for (int i = 0; i < count; i++) {
        sqlite3_stmt *update = jobs_store_statement(self, S_CLAIM_UPDATE);
        if (!update || !attempts[i].body)
            goto rollback;
        jobs_store_bind_text(update, 1, attempts[i].record.id);
        sqlite3_bind_int64(update, 2, now_ms);
        sqlite3_bind_int(update, 3, broker);
        if (jobs_store_run(self, update) != JOBS_STORE_OK)
            goto rollback;
        attempts[i].record.state = JOBS_RUNNING;
        attempts[i].record.attempts++;
        attempts[i].record.started_ms = now_ms;
        attempts[i].record.broker = broker;
    }
    if (jobs_store_commit(self) != JOBS_STORE_OK)
        goto undo;
    pthread_mutex_unlock(&self->lock);
    for (int i = 0; i < count; i++)
        each(&attempts[i], arg);
    free(attempts);
    return count;

rollback:
    jobs_store_rollback(self);
undo:
    for (int i = 0; i < count; i++)
        jobs_attempt_reset(&attempts[i]);
    count = 0;
done:
    pthread_mutex_unlock(&self->lock);
    free(attempts);
    return count;
}

/* Runs one update of a running attempt; NOT_FOUND when no row changed. Lock held. */
static jobs_store_status_t s_update(jobs_store_t *self, sqlite3_stmt *statement)
{
    jobs_store_status_t status = jobs_store_run(self, statement);
    if (status == JOBS_STORE_OK && sqlite3_changes(self->db) == 0)
        status = JOBS_STORE_NOT_FOUND;
    return status;
}

jobs_store_status_t jobs_store_finish(jobs_store_t *self, const char *id, int attempt,
                                      const jobs_result_t *result, int64_t now_ms)
{
    pthread_mutex_lock(&self->lock);
    jobs_store_status_t status = JOBS_STORE_UNAVAILABLE;
    sqlite3_stmt *statement = jobs_store_statement(self, S_FINISH);
    if (statement) {
        jobs_store_bind_text(statement, 1, id);
        sqlite3_bind_int(statement, 2, attempt);
        sqlite3_bind_int64(statement, 3, now_ms);
        sqlite3_bind_int(statement, 4, result->status);
        jobs_store_bind_blob(statement, 5, result->headers, result->headers_size);
        jobs_store_bind_blob(statement, 6, result->body, result->body_size);
        jobs_store_bind_text(statement, 7, result->worker);
        jobs_store_bind_text(statement, 8, result->note);
        status = s_update(self, statement);
    }
    if (status == JOBS_STORE_NOT_FOUND) {
        /* Not finished as done: it may be a cancelled job's reply, thrown away. */
        statement = jobs_store_statement(self, S_FINISH_CANCELLED);
        if (statement) {
            jobs_store_bind_text(statement, 1, id);
            sqlite3_bind_int(statement, 2, attempt);
            sqlite3_bind_int64(statement, 3, now_ms);
            status = s_update(self, statement);
        }
    }
    pthread_mutex_unlock(&self->lock);
    return status;
}

jobs_store_status_t jobs_store_requeue(jobs_store_t *self, const char *id, int attempt,
                                       bool counted, int64_t due_ms, const char *reason,
                                       int64_t now_ms)
{
    pthread_mutex_lock(&self->lock);
    sqlite3_stmt *statement = jobs_store_statement(self, S_REQUEUE);
    jobs_store_status_t status = JOBS_STORE_UNAVAILABLE;
    if (statement) {
        jobs_store_bind_text(statement, 1, id);
        sqlite3_bind_int(statement, 2, attempt);
        sqlite3_bind_int64(statement, 3, due_ms);
        jobs_store_bind_text(statement, 4, reason);
        sqlite3_bind_int(statement, 5, counted ? 0 : 1);
        sqlite3_bind_int64(statement, 6, now_ms);
        status = s_update(self, statement);
    }
    pthread_mutex_unlock(&self->lock);
    return status;
}

jobs_store_status_t jobs_store_fail(jobs_store_t *self, const char *id, int attempt,
                                    const char *reason, int64_t now_ms)
{
    pthread_mutex_lock(&self->lock);
    sqlite3_stmt *statement = jobs_store_statement(self, S_FAIL);
    jobs_store_status_t status = JOBS_STORE_UNAVAILABLE;
    if (statement) {
        jobs_store_bind_text(statement, 1, id);
        sqlite3_bind_int(statement, 2, attempt);
        jobs_store_bind_text(statement, 3, reason);
        sqlite3_bind_int64(statement, 4, now_ms);
        status = s_update(self, statement);
    }
    pthread_mutex_unlock(&self->lock);
    return status;
}

jobs_store_status_t jobs_store_progress(jobs_store_t *self, const jobs_progress_t *notes,
                                        size_t count)
{
    if (count == 0)
        return JOBS_STORE_OK;
    pthread_mutex_lock(&self->lock);
    bool batch = count > 1;
    jobs_store_status_t status = batch ? jobs_store_begin(self) : JOBS_STORE_OK;
    for (size_t i = 0; i < count && status != JOBS_STORE_UNAVAILABLE && status != JOBS_STORE_FULL;
         i++) {
        sqlite3_stmt *statement = jobs_store_statement(self, S_PROGRESS);
        status = JOBS_STORE_UNAVAILABLE;
        if (statement) {
            jobs_store_bind_text(statement, 1, notes[i].id);
            sqlite3_bind_int(statement, 2, notes[i].attempt);
            jobs_store_bind_text(statement, 3, notes[i].worker);
            jobs_store_bind_text(statement, 4, notes[i].note);
            status = s_update(self, statement);
        }
    }
    if (batch && (status == JOBS_STORE_OK || status == JOBS_STORE_NOT_FOUND))
        status = jobs_store_commit(self);
    else if (batch)
        jobs_store_rollback(self);
    pthread_mutex_unlock(&self->lock);
    return status;
}

/* Runs a SELECT of records and calls each per row, lock held. */
static void s_each_record(sqlite3_stmt *statement,
                          void (*each)(const jobs_record_t *record, void *arg), void *arg)
{
    jobs_record_t record;
    while (sqlite3_step(statement) == SQLITE_ROW) {
        jobs_store_record_read(statement, 0, &record);
        each(&record, arg);
    }
    sqlite3_reset(statement);
}

void jobs_store_running(jobs_store_t *self, void (*each)(const jobs_record_t *record, void *arg),
                        void *arg)
{
    pthread_mutex_lock(&self->lock);
    sqlite3_stmt *statement = jobs_store_statement(self, S_RUNNING);
    if (statement)
        s_each_record(statement, each, arg);
    pthread_mutex_unlock(&self->lock);
}

int jobs_store_expire(jobs_store_t *self, int64_t now_ms, int64_t keep_ms)
{
    pthread_mutex_lock(&self->lock);
    int changed = 0;
    sqlite3_stmt *expire = jobs_store_statement(self, S_EXPIRE);
    if (expire) {
        sqlite3_bind_int64(expire, 1, now_ms);
        if (jobs_store_run(self, expire) == JOBS_STORE_OK)
            changed += sqlite3_changes(self->db);
    }
    sqlite3_stmt *removal = jobs_store_statement(self, S_EXPIRED_DELETE);
    if (removal) {
        sqlite3_bind_int64(removal, 1, now_ms);
        sqlite3_bind_int64(removal, 2, keep_ms);
        if (jobs_store_run(self, removal) == JOBS_STORE_OK)
            changed += sqlite3_changes(self->db);
    }
    pthread_mutex_unlock(&self->lock);
    return changed;
}

void jobs_store_counts(jobs_store_t *self, int64_t counts[JOBS_STATE_COUNT])
{
    memset(counts, 0, sizeof(int64_t) * JOBS_STATE_COUNT);
    pthread_mutex_lock(&self->lock);
    sqlite3_stmt *statement = jobs_store_statement(self, S_COUNTS);
    if (statement) {
        while (sqlite3_step(statement) == SQLITE_ROW) {
            int state = sqlite3_column_int(statement, 0);
            if (state >= 0 && state < JOBS_STATE_COUNT)
                counts[state] = sqlite3_column_int64(statement, 1);
        }
        sqlite3_reset(statement);
    }
    pthread_mutex_unlock(&self->lock);
}

void jobs_store_list(jobs_store_t *self, jobs_state_t state, const char *service, int limit,
                     void (*each)(const jobs_record_t *record, void *arg), void *arg)
{
    pthread_mutex_lock(&self->lock);
    sqlite3_stmt *statement = jobs_store_statement(self, S_LIST);
    if (statement) {
        sqlite3_bind_int(statement, 1, state == JOBS_STATE_COUNT ? -1 : (int) state);
        if (service)
            jobs_store_bind_text(statement, 2, service);
        sqlite3_bind_int(statement, 3, limit);
        s_each_record(statement, each, arg);
    }
    pthread_mutex_unlock(&self->lock);
}

void jobs_attempt_reset(jobs_attempt_t *attempt)
{
    free(attempt->method);
    free(attempt->path);
    free(attempt->query);
    free(attempt->headers);
    free(attempt->body);
    memset(attempt, 0, sizeof *attempt);
}
