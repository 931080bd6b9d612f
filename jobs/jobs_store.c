/*  jobs_store: opening and checking the database file, submitting, reading and cancelling
    jobs. The attempts' side (claims, results, retries, expiry) is jobs_store_runs.c; both
    share jobs_store_private.h. SQL lives here and there, nowhere else: the rest of the
    component sees only jobs_store.h, so another backend would replace these two files. */
#include "jobs_store_private.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_APPLICATION_ID  0x534c4a42 /* "SLJB": says the file is ours */
#define S_SCHEMA_VERSION  2          /* PRAGMA user_version of this layout */
#define S_BUSY_TIMEOUT_MS 5000       /* another process holding the file (a backup) */
#define S_FILE_NAME       "jobs.sqlite3"

static const char *s_sql[S_STATEMENT_COUNT] = {
    [S_SUBMIT] = "INSERT OR IGNORE INTO jobs (id, service, route, state, retryable, max_attempts, "
                 "timeout_ms, ttl_ms, created_ms, due_ms, method, path, query, headers, body) "
                 "VALUES (?1, ?2, ?3, 0, ?4, ?5, ?6, ?7, ?8, ?8, ?9, ?10, ?11, ?12, ?13)",
    [S_GET] = "SELECT " JOBS_RECORD_COLUMNS " FROM jobs WHERE id = ?1",
    [S_CANCEL_QUEUED] = "UPDATE jobs SET state = 4, finished_ms = ?2, expires_ms = ?2 + ttl_ms, "
                        "body = NULL, headers = NULL WHERE id = ?1 AND state = 0",
    [S_CANCEL_RUNNING] = "UPDATE jobs SET cancel_requested = 1 WHERE id = ?1 AND state = 1",
    [S_DELETE] = "DELETE FROM jobs WHERE id = ?1 AND state >= 2",
    [S_ROWID_DONE] = "SELECT rowid FROM jobs WHERE id = ?1 AND state = 2",
    [S_RESULT_HEAD] = "SELECT result_status, result_headers FROM jobs WHERE id = ?1 AND state = 2",
    [S_DUE_SERVICES] = "SELECT DISTINCT service FROM jobs WHERE state = 0 AND due_ms <= ?1",
    [S_CLAIM_SELECT] = "SELECT " JOBS_RECORD_COLUMNS ", method, path, query, headers, body "
                       "FROM jobs WHERE state = 0 AND service = ?1 AND due_ms <= ?2 "
                       "ORDER BY due_ms, rowid LIMIT ?3",
    [S_CLAIM_UPDATE] = "UPDATE jobs SET state = 1, attempts = attempts + 1, started_ms = ?2, "
                       "broker = ?3, worker = '', progress = '' WHERE id = ?1 AND state = 0",
    [S_FINISH] = "UPDATE jobs SET state = 2, finished_ms = ?3, expires_ms = ?3 + ttl_ms, "
                 "error = '', result_status = ?4, result_headers = ?5, result_body = ?6, "
                 "body = NULL, headers = NULL, worker = ?7, progress = ?8 "
                 "WHERE id = ?1 AND attempts = ?2 AND state = 1 AND cancel_requested = 0",
    [S_FINISH_CANCELLED] = "UPDATE jobs SET state = 4, finished_ms = ?3, expires_ms = ?3 + "
                           "ttl_ms, body = NULL, headers = NULL "
                           "WHERE id = ?1 AND attempts = ?2 AND state = 1",
    [S_REQUEUE] = "UPDATE jobs SET state = CASE WHEN cancel_requested THEN 4 ELSE 0 END, "
                  "attempts = attempts - ?5, due_ms = ?3, error = ?4, "
                  "finished_ms = CASE WHEN cancel_requested THEN ?6 ELSE 0 END, "
                  "expires_ms = CASE WHEN cancel_requested THEN ?6 + ttl_ms ELSE 0 END, "
                  "body = CASE WHEN cancel_requested THEN NULL ELSE body END, "
                  "headers = CASE WHEN cancel_requested THEN NULL ELSE headers END "
                  "WHERE id = ?1 AND attempts = ?2 AND state = 1",
    [S_FAIL] = "UPDATE jobs SET state = CASE WHEN cancel_requested THEN 4 ELSE 3 END, "
               "error = ?3, finished_ms = ?4, expires_ms = ?4 + ttl_ms, body = NULL, "
               "headers = NULL WHERE id = ?1 AND attempts = ?2 AND state = 1",
    [S_PROGRESS] = "UPDATE jobs SET worker = ?3, progress = ?4 "
                   "WHERE id = ?1 AND attempts = ?2 AND state = 1",
    [S_RUNNING] = "SELECT " JOBS_RECORD_COLUMNS " FROM jobs WHERE state = 1",
    [S_EXPIRE] = "UPDATE jobs SET state = 5, result_body = NULL, result_headers = NULL, "
                 "body = NULL, headers = NULL WHERE state IN (2, 3, 4) AND expires_ms <= ?1",
    [S_EXPIRED_DELETE] = "DELETE FROM jobs WHERE state = 5 AND expires_ms + ?2 <= ?1",
    [S_COUNTS] = "SELECT state, count(*) FROM jobs GROUP BY state",
    [S_LIST] = "SELECT " JOBS_RECORD_COLUMNS " FROM jobs WHERE (?1 < 0 OR state = ?1) "
               "AND (?2 IS NULL OR service = ?2) ORDER BY rowid DESC LIMIT ?3",
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
};

static const char *s_schema =
    "CREATE TABLE IF NOT EXISTS jobs ("
    " id TEXT NOT NULL UNIQUE, service TEXT NOT NULL, route TEXT NOT NULL,"
    " state INTEGER NOT NULL, retryable INTEGER NOT NULL,"
    " cancel_requested INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,"
    " max_attempts INTEGER NOT NULL, broker INTEGER NOT NULL DEFAULT -1,"
    " timeout_ms INTEGER NOT NULL, ttl_ms INTEGER NOT NULL, created_ms INTEGER NOT NULL,"
    " started_ms INTEGER NOT NULL DEFAULT 0, finished_ms INTEGER NOT NULL DEFAULT 0,"
    " due_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL DEFAULT 0,"
    " error TEXT NOT NULL DEFAULT '', progress TEXT NOT NULL DEFAULT '',"
    " worker TEXT NOT NULL DEFAULT '',"
    " method TEXT, path TEXT, query TEXT, headers BLOB, body BLOB,"
    " result_status INTEGER NOT NULL DEFAULT 0, result_headers BLOB, result_body BLOB);"
    "CREATE INDEX IF NOT EXISTS jobs_queue ON jobs (state, service, due_ms);"
    "CREATE INDEX IF NOT EXISTS jobs_expiry ON jobs (state, expires_ms);";

/* ---------------------------------------------------------------- shared helpers */

sqlite3_stmt *jobs_store_statement(jobs_store_t *self, jobs_statement_t which)
{
    sqlite3_stmt *statement = self->statements[which];
    if (!statement) {
        int rc = sqlite3_prepare_v3(self->db, s_sql[which], -1, SQLITE_PREPARE_PERSISTENT,
                                    &statement, NULL);
        if (rc != SQLITE_OK) {
            jobs_store_failure(self, rc);
            return NULL;
        }
        self->statements[which] = statement;
    }
    sqlite3_reset(statement);
    sqlite3_clear_bindings(statement);
    return statement;
}

jobs_store_status_t jobs_store_failure(jobs_store_t *self, int rc)
{
    snprintf(self->reason, sizeof self->reason, "%s: %s", sqlite3_errstr(rc),
             sqlite3_errmsg(self->db));
    int primary = rc & 0xff;
    if (primary == SQLITE_FULL)
        return JOBS_STORE_FULL;
    return JOBS_STORE_UNAVAILABLE;
}

jobs_store_status_t jobs_store_run(jobs_store_t *self, sqlite3_stmt *statement)
{
    if (!statement)
        return JOBS_STORE_UNAVAILABLE;
    int rc = sqlite3_step(statement);
    sqlite3_reset(statement);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return jobs_store_failure(self, rc);
    return JOBS_STORE_OK;
}

static void s_copy_text(char *target, size_t size, const unsigned char *text)
{
    snprintf(target, size, "%s", text ? (const char *) text : "");
}

void jobs_store_record_read(sqlite3_stmt *statement, int first, jobs_record_t *record)
{
    memset(record, 0, sizeof *record);
    int c = first;
    s_copy_text(record->id, sizeof record->id, sqlite3_column_text(statement, c++));
    s_copy_text(record->service, sizeof record->service, sqlite3_column_text(statement, c++));
    s_copy_text(record->route, sizeof record->route, sqlite3_column_text(statement, c++));
    int state = sqlite3_column_int(statement, c++);
    record->state = state >= 0 && state < JOBS_STATE_COUNT ? (jobs_state_t) state : JOBS_FAILED;
    record->retryable = sqlite3_column_int(statement, c++) != 0;
    record->cancel_requested = sqlite3_column_int(statement, c++) != 0;
    record->attempts = sqlite3_column_int(statement, c++);
    record->max_attempts = sqlite3_column_int(statement, c++);
    record->broker = sqlite3_column_int(statement, c++);
    record->timeout_ms = sqlite3_column_int64(statement, c++);
    record->ttl_ms = sqlite3_column_int64(statement, c++);
    record->created_ms = sqlite3_column_int64(statement, c++);
    record->started_ms = sqlite3_column_int64(statement, c++);
    record->finished_ms = sqlite3_column_int64(statement, c++);
    record->due_ms = sqlite3_column_int64(statement, c++);
    record->expires_ms = sqlite3_column_int64(statement, c++);
    record->result_status = sqlite3_column_int(statement, c++);
    record->result_size = sqlite3_column_int64(statement, c++);
    s_copy_text(record->error, sizeof record->error, sqlite3_column_text(statement, c++));
    s_copy_text(record->progress, sizeof record->progress, sqlite3_column_text(statement, c++));
    s_copy_text(record->worker, sizeof record->worker, sqlite3_column_text(statement, c++));
}

jobs_store_status_t jobs_store_begin(jobs_store_t *self)
{
    return jobs_store_run(self, jobs_store_statement(self, S_BEGIN));
}

jobs_store_status_t jobs_store_commit(jobs_store_t *self)
{
    jobs_store_status_t status = jobs_store_run(self, jobs_store_statement(self, S_COMMIT));
    if (status != JOBS_STORE_OK)
        jobs_store_rollback(self);
    return status;
}

void jobs_store_rollback(jobs_store_t *self)
{
    if (!sqlite3_get_autocommit(self->db))
        jobs_store_run(self, jobs_store_statement(self, S_ROLLBACK));
}

void jobs_store_bind_text(sqlite3_stmt *statement, int index, const char *text)
{
    sqlite3_bind_text(statement, index, text ? text : "", -1, SQLITE_STATIC);
}

void jobs_store_bind_blob(sqlite3_stmt *statement, int index, const void *data, size_t size)
{
    if (size == 0)
        sqlite3_bind_zeroblob(statement, index, 0);
    else
        sqlite3_bind_blob64(statement, index, data, size, SQLITE_STATIC);
}

/* ---------------------------------------------------------------- opening */

/* mkdir -p with mode 0700 for what it creates. */
static int s_make_directory(const char *dir)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s", dir) >= (int) sizeof path)
        return -1;
    for (char *slash = path + 1; *slash; slash++) {
        if (*slash != '/')
            continue;
        *slash = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            return -1;
        *slash = '/';
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

/* One integer from a PRAGMA; -1 on failure. */
static int64_t s_pragma_int(jobs_store_t *self, const char *sql, int *rc_out)
{
    sqlite3_stmt *statement = NULL;
    int64_t value = -1;
    int rc = sqlite3_prepare_v2(self->db, sql, -1, &statement, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(statement);
        if (rc == SQLITE_ROW) {
            value = sqlite3_column_int64(statement, 0);
            rc = SQLITE_OK;
        }
    }
    sqlite3_finalize(statement);
    *rc_out = rc;
    return value;
}

/* One text from a PRAGMA into buffer; -1 on failure. */
static int s_pragma_text(jobs_store_t *self, const char *sql, char *buffer, size_t size)
{
    sqlite3_stmt *statement = NULL;
    int rc = sqlite3_prepare_v2(self->db, sql, -1, &statement, NULL);
    if (rc == SQLITE_OK && sqlite3_step(statement) == SQLITE_ROW)
        s_copy_text(buffer, size, sqlite3_column_text(statement, 0));
    else
        rc = SQLITE_ERROR;
    sqlite3_finalize(statement);
    return rc == SQLITE_OK ? 0 : -1;
}

/* Checks that the file is ours and whole, sets WAL and FULL sync, creates the schema.
   Returns 0 or -1 with error set. */
static int s_prepare_file(jobs_store_t *self, char *error, size_t error_size)
{
    int rc = SQLITE_OK;
    sqlite3_busy_timeout(self->db, S_BUSY_TIMEOUT_MS);
    int64_t application_id = s_pragma_int(self, "PRAGMA application_id", &rc);
    if (rc != SQLITE_OK) {
        snprintf(error, error_size, "%s is not a slowlane jobs store: %s", self->path,
                 sqlite3_errstr(rc));
        return -1;
    }
    int64_t version = s_pragma_int(self, "PRAGMA user_version", &rc);
    int64_t tables = s_pragma_int(self, "SELECT count(*) FROM sqlite_schema", &rc);
    bool fresh = application_id == 0 && version == 0 && tables == 0;
    if (!fresh && application_id != S_APPLICATION_ID) {
        snprintf(error, error_size,
                 "%s is not a slowlane jobs store (application_id %lld): move it away or "
                 "choose another --data-dir",
                 self->path, (long long) application_id);
        return -1;
    }
    /* Version 1 (issue 20's first store) lacks the worker column: added in place. */
    bool upgrade = !fresh && version == 1;
    if (!fresh && version != S_SCHEMA_VERSION && !upgrade) {
        snprintf(error, error_size, "%s has store version %lld, this program reads version %d",
                 self->path, (long long) version, S_SCHEMA_VERSION);
        return -1;
    }
    char answer[64] = "";
    if (!fresh && (s_pragma_text(self, "PRAGMA quick_check", answer, sizeof answer) != 0 ||
                   strcmp(answer, "ok") != 0)) {
        snprintf(error, error_size, "%s is corrupt (quick_check: %s): restore it from a backup",
                 self->path, answer[0] ? answer : "failed");
        return -1;
    }
    if (s_pragma_text(self, "PRAGMA journal_mode = WAL", answer, sizeof answer) != 0 ||
        strcmp(answer, "wal") != 0) {
        snprintf(error, error_size, "%s: cannot use write-ahead logging: %s", self->path,
                 sqlite3_errmsg(self->db));
        return -1;
    }
    char *message = NULL;
    rc = sqlite3_exec(self->db, "PRAGMA synchronous = FULL", NULL, NULL, &message);
    if (rc == SQLITE_OK) {
        sqlite3_free(message);
        message = NULL;
        char schema[2048];
        snprintf(schema, sizeof schema,
                 "BEGIN IMMEDIATE; %s %s PRAGMA application_id = %d; PRAGMA user_version = %d; "
                 "COMMIT;",
                 s_schema,
                 upgrade ? "ALTER TABLE jobs ADD COLUMN worker TEXT NOT NULL DEFAULT '';" : "",
                 S_APPLICATION_ID, S_SCHEMA_VERSION);
        rc = sqlite3_exec(self->db, schema, NULL, NULL, &message);
    }
    if (rc != SQLITE_OK) {
        snprintf(error, error_size, "%s: cannot write: %s", self->path,
                 message ? message : sqlite3_errstr(rc));
        sqlite3_free(message);
        return -1;
    }
    return 0;
}

jobs_store_t *jobs_store_open(const char *dir, char *error, size_t error_size)
{
    if (!dir || !*dir) {
        snprintf(error, error_size, "no data directory given");
        return NULL;
    }
    if (s_make_directory(dir) != 0) {
        snprintf(error, error_size, "data directory %s cannot be created: %s", dir,
                 strerror(errno));
        return NULL;
    }
    if (access(dir, W_OK | X_OK) != 0) {
        snprintf(error, error_size, "data directory %s is not writable: %s", dir, strerror(errno));
        return NULL;
    }
    jobs_store_t *self = calloc(1, sizeof *self);
    if (!self)
        goto fail_alloc;
    pthread_mutex_init(&self->lock, NULL);
    size_t size = strlen(dir) + sizeof "/" S_FILE_NAME;
    self->path = malloc(size);
    if (!self->path)
        goto fail_path;
    snprintf(self->path, size, "%s/%s", dir, S_FILE_NAME);
    int rc =
        sqlite3_open_v2(self->path, &self->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(error, error_size, "%s cannot be opened: %s", self->path, sqlite3_errstr(rc));
        goto fail_open;
    }
    if (s_prepare_file(self, error, error_size) != 0)
        goto fail_open;
    return self;

fail_open:
    sqlite3_close_v2(self->db);
    free(self->path);
fail_path:
    pthread_mutex_destroy(&self->lock);
    free(self);
    return NULL;
fail_alloc:
    snprintf(error, error_size, "out of memory");
    return NULL;
}

void jobs_store_destroy(jobs_store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    jobs_store_t *self = *self_p;
    for (int i = 0; i < S_STATEMENT_COUNT; i++)
        sqlite3_finalize(self->statements[i]);
    sqlite3_close_v2(self->db);
    pthread_mutex_destroy(&self->lock);
    free(self->path);
    free(self);
    *self_p = NULL;
}

const char *jobs_store_path(const jobs_store_t *self)
{
    return self->path;
}

void jobs_store_reason(jobs_store_t *self, char *buffer, size_t size)
{
    pthread_mutex_lock(&self->lock);
    snprintf(buffer, size, "%s", self->reason);
    pthread_mutex_unlock(&self->lock);
}

/* ---------------------------------------------------------------- submitting and reading */

jobs_store_status_t jobs_store_submit(jobs_store_t *self, const jobs_submission_t *submission,
                                      int64_t now_ms, bool *created)
{
    pthread_mutex_lock(&self->lock);
    jobs_store_status_t status = JOBS_STORE_UNAVAILABLE;
    sqlite3_stmt *statement = jobs_store_statement(self, S_SUBMIT);
    if (statement) {
        jobs_store_bind_text(statement, 1, submission->id);
        jobs_store_bind_text(statement, 2, submission->service);
        jobs_store_bind_text(statement, 3, submission->route);
        sqlite3_bind_int(statement, 4, submission->retryable);
        sqlite3_bind_int(statement, 5, submission->max_attempts);
        sqlite3_bind_int64(statement, 6, submission->timeout_ms);
        sqlite3_bind_int64(statement, 7, submission->ttl_ms);
        sqlite3_bind_int64(statement, 8, now_ms);
        jobs_store_bind_text(statement, 9, submission->method);
        jobs_store_bind_text(statement, 10, submission->path);
        jobs_store_bind_text(statement, 11, submission->query);
        jobs_store_bind_blob(statement, 12, submission->headers, submission->headers_size);
        jobs_store_bind_blob(statement, 13, submission->body, submission->body_size);
        status = jobs_store_run(self, statement);
        if (created)
            *created = status == JOBS_STORE_OK && sqlite3_changes(self->db) == 1;
    }
    pthread_mutex_unlock(&self->lock);
    return status;
}

/* Reads a record by id, lock held. */
static jobs_store_status_t s_get(jobs_store_t *self, const char *id, jobs_record_t *record)
{
    sqlite3_stmt *statement = jobs_store_statement(self, S_GET);
    if (!statement)
        return JOBS_STORE_UNAVAILABLE;
    jobs_store_bind_text(statement, 1, id);
    int rc = sqlite3_step(statement);
    jobs_store_status_t status = JOBS_STORE_OK;
    if (rc == SQLITE_ROW)
        jobs_store_record_read(statement, 0, record);
    else if (rc == SQLITE_DONE)
        status = JOBS_STORE_NOT_FOUND;
    else
        status = jobs_store_failure(self, rc);
    sqlite3_reset(statement);
    return status;
}

jobs_store_status_t jobs_store_get(jobs_store_t *self, const char *id, jobs_record_t *record)
{
    pthread_mutex_lock(&self->lock);
    jobs_store_status_t status = s_get(self, id, record);
    pthread_mutex_unlock(&self->lock);
    return status;
}

jobs_store_status_t jobs_store_cancel(jobs_store_t *self, const char *id, int64_t now_ms,
                                      jobs_record_t *record)
{
    pthread_mutex_lock(&self->lock);
    jobs_store_status_t status = jobs_store_begin(self);
    if (status == JOBS_STORE_OK) {
        sqlite3_stmt *queued = jobs_store_statement(self, S_CANCEL_QUEUED);
        if (queued) {
            jobs_store_bind_text(queued, 1, id);
            sqlite3_bind_int64(queued, 2, now_ms);
        }
        status = jobs_store_run(self, queued);
        sqlite3_stmt *running =
            status == JOBS_STORE_OK ? jobs_store_statement(self, S_CANCEL_RUNNING) : NULL;
        if (running) {
            jobs_store_bind_text(running, 1, id);
            status = jobs_store_run(self, running);
        }
        if (status == JOBS_STORE_OK)
            status = jobs_store_commit(self);
        else
            jobs_store_rollback(self);
    }
    if (status == JOBS_STORE_OK)
        status = s_get(self, id, record);
    pthread_mutex_unlock(&self->lock);
    return status;
}

jobs_store_status_t jobs_store_delete(jobs_store_t *self, const char *id)
{
    pthread_mutex_lock(&self->lock);
    sqlite3_stmt *statement = jobs_store_statement(self, S_DELETE);
    if (statement)
        jobs_store_bind_text(statement, 1, id);
    jobs_store_status_t status = jobs_store_run(self, statement);
    if (status == JOBS_STORE_OK && sqlite3_changes(self->db) == 0)
        status = JOBS_STORE_NOT_FOUND;
    pthread_mutex_unlock(&self->lock);
    return status;
}

jobs_store_status_t jobs_store_result_head(jobs_store_t *self, const char *id, int *status_out,
                                           char **headers, size_t *headers_size)
{
    pthread_mutex_lock(&self->lock);
    jobs_store_status_t status = JOBS_STORE_UNAVAILABLE;
    sqlite3_stmt *statement = jobs_store_statement(self, S_RESULT_HEAD);
    if (statement) {
        jobs_store_bind_text(statement, 1, id);
        int rc = sqlite3_step(statement);
        if (rc == SQLITE_ROW) {
            *status_out = sqlite3_column_int(statement, 0);
            const void *bytes = sqlite3_column_blob(statement, 1);
            size_t size = (size_t) sqlite3_column_bytes(statement, 1);
            *headers = malloc(size + 1);
            if (*headers) {
                if (size)
                    memcpy(*headers, bytes, size);
                (*headers)[size] = '\0';
                *headers_size = size;
                status = JOBS_STORE_OK;
            }
        } else if (rc == SQLITE_DONE) {
            status = JOBS_STORE_NOT_FOUND;
        } else {
            status = jobs_store_failure(self, rc);
        }
        sqlite3_reset(statement);
    }
    pthread_mutex_unlock(&self->lock);
    return status;
}

jobs_store_status_t jobs_store_result_read(jobs_store_t *self, const char *id, int64_t offset,
                                           void *buffer, size_t size, size_t *read)
{
    *read = 0;
    pthread_mutex_lock(&self->lock);
    jobs_store_status_t status = JOBS_STORE_UNAVAILABLE;
    sqlite3_stmt *statement = jobs_store_statement(self, S_ROWID_DONE);
    if (statement) {
        jobs_store_bind_text(statement, 1, id);
        int rc = sqlite3_step(statement);
        sqlite3_int64 rowid = rc == SQLITE_ROW ? sqlite3_column_int64(statement, 0) : 0;
        sqlite3_reset(statement);
        if (rc == SQLITE_DONE) {
            status = JOBS_STORE_NOT_FOUND;
        } else if (rc != SQLITE_ROW) {
            status = jobs_store_failure(self, rc);
        } else {
            sqlite3_blob *blob = NULL;
            rc = sqlite3_blob_open(self->db, "main", "jobs", "result_body", rowid, 0, &blob);
            if (rc == SQLITE_OK) {
                int64_t total = sqlite3_blob_bytes(blob);
                int64_t left = offset < total ? total - offset : 0;
                size_t count = (size_t) left < size ? (size_t) left : size;
                rc = count ? sqlite3_blob_read(blob, buffer, (int) count, (int) offset) : SQLITE_OK;
                if (rc == SQLITE_OK)
                    *read = count;
            }
            status = rc == SQLITE_OK ? JOBS_STORE_OK : jobs_store_failure(self, rc);
            sqlite3_blob_close(blob);
        }
    }
    pthread_mutex_unlock(&self->lock);
    return status;
}

/* ---------------------------------------------------------------- names */

static const char *s_state_names[JOBS_STATE_COUNT] = {
    "queued", "running", "done", "failed", "cancelled", "expired",
};

const char *jobs_state_name(jobs_state_t state)
{
    return state >= 0 && state < JOBS_STATE_COUNT ? s_state_names[state] : "unknown";
}

int jobs_state_parse(const char *name, jobs_state_t *state)
{
    for (int i = 0; i < JOBS_STATE_COUNT; i++)
        if (name && strcmp(name, s_state_names[i]) == 0) {
            *state = (jobs_state_t) i;
            return 0;
        }
    return -1;
}
