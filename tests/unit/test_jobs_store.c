/*  Unit tests for jobs_store: a job's life in the store (submit, claim, finish, retry, fail,
    cancel, expiry), attempts that no longer count, reopening after a stop, and the files
    that must stop start-up: foreign, corrupt, unwritable. Each test has its own directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "jobs_store.h"

typedef struct {
    char dir[64];
    jobs_store_t *store;
} fixture_t;

static int s_setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/test_jobs_store.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char error[256] = "";
    f->store = jobs_store_open(f->dir, error, sizeof error);
    assert_non_null(f->store);
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    fixture_t *f = *state;
    jobs_store_destroy(&f->store);
    char command[128];
    snprintf(command, sizeof command, "rm -rf %s", f->dir);
    assert_int_equal(system(command), 0);
    free(f);
    return 0;
}

static jobs_submission_t s_submission(const char *id, const char *service, bool retryable)
{
    static const char body[] = "a\0b binary";
    return (jobs_submission_t){
        .id = id,
        .service = service,
        .route = "/slow",
        .retryable = retryable,
        .max_attempts = 3,
        .timeout_ms = 5000,
        .ttl_ms = 1000,
        .method = "POST",
        .path = "/slow",
        .query = "ms=5",
        .headers = "Accept: */*\r\n",
        .headers_size = 13,
        .body = body,
        .body_size = sizeof body,
    };
}

/* Claim callback: keeps the last attempt. */
static void s_keep(jobs_attempt_t *attempt, void *arg)
{
    jobs_attempt_t *kept = arg;
    jobs_attempt_reset(kept);
    *kept = *attempt;
}

static void test_submit_claim_finish_read(void **state)
{
    fixture_t *f = *state;
    jobs_submission_t job = s_submission("job1", "slow", false);
    bool created = false;
    assert_int_equal(jobs_store_submit(f->store, &job, 1000, &created), JOBS_STORE_OK);
    assert_true(created);
    /* The same id again (a retried submit) changes nothing. */
    assert_int_equal(jobs_store_submit(f->store, &job, 2000, &created), JOBS_STORE_OK);
    assert_false(created);
    jobs_record_t record;
    assert_int_equal(jobs_store_get(f->store, "job1", &record), JOBS_STORE_OK);
    assert_int_equal(record.state, JOBS_QUEUED);
    assert_int_equal(record.created_ms, 1000);
    assert_int_equal(jobs_store_get(f->store, "nope", &record), JOBS_STORE_NOT_FOUND);

    /* Not due before its time, then claimed once with the request byte for byte. */
    jobs_attempt_t attempt = {0};
    assert_int_equal(jobs_store_claim(f->store, "slow", 999, 10, 0, s_keep, &attempt), 0);
    assert_int_equal(jobs_store_claim(f->store, "slow", 1000, 10, 1, s_keep, &attempt), 1);
    assert_string_equal(attempt.record.id, "job1");
    assert_int_equal(attempt.record.attempts, 1);
    assert_int_equal(attempt.record.broker, 1);
    assert_string_equal(attempt.method, "POST");
    assert_string_equal(attempt.query, "ms=5");
    assert_int_equal(attempt.headers_size, 13);
    assert_int_equal(attempt.body_size, job.body_size);
    assert_memory_equal(attempt.body, job.body, job.body_size);
    assert_int_equal(jobs_store_claim(f->store, "slow", 5000, 10, 0, s_keep, &attempt), 0);

    /* A reply for another attempt is ignored; the right one finishes it. */
    assert_int_equal(jobs_store_finish(f->store, "job1", 2,
                                       &(jobs_result_t){200, "", 0, "x", 1, NULL, NULL}, 1500),
                     JOBS_STORE_NOT_FOUND);
    char result[3000];
    for (size_t i = 0; i < sizeof result; i++)
        result[i] = (char) (i * 7);
    assert_int_equal(
        jobs_store_finish(f->store, "job1", 1,
                          &(jobs_result_t){201, "X-A: 1\r\n", 8, result, sizeof result, NULL, NULL},
                          1500),
        JOBS_STORE_OK);
    assert_int_equal(jobs_store_get(f->store, "job1", &record), JOBS_STORE_OK);
    assert_int_equal(record.state, JOBS_DONE);
    assert_int_equal(record.result_status, 201);
    assert_int_equal(record.result_size, sizeof result);
    assert_int_equal(record.expires_ms, 2500);

    int status = 0;
    char *headers = NULL;
    size_t headers_size = 0;
    assert_int_equal(jobs_store_result_head(f->store, "job1", &status, &headers, &headers_size),
                     JOBS_STORE_OK);
    assert_int_equal(status, 201);
    assert_string_equal(headers, "X-A: 1\r\n");
    free(headers);
    /* Read back in pieces that do not divide the size. */
    char back[sizeof result];
    size_t total = 0, read = 0;
    do {
        assert_int_equal(
            jobs_store_result_read(f->store, "job1", (int64_t) total, back + total,
                                   1000 < sizeof back - total ? 1000 : sizeof back - total, &read),
            JOBS_STORE_OK);
        total += read;
    } while (read > 0 && total < sizeof back);
    assert_int_equal(total, sizeof result);
    assert_memory_equal(back, result, sizeof result);
    jobs_attempt_reset(&attempt);
}

static void test_requeue_fail_and_cancel(void **state)
{
    fixture_t *f = *state;
    jobs_submission_t a = s_submission("a", "slow", true);
    jobs_submission_t b = s_submission("b", "slow", false);
    jobs_submission_t c = s_submission("c", "fast", false);
    assert_int_equal(jobs_store_submit(f->store, &a, 10, NULL), JOBS_STORE_OK);
    assert_int_equal(jobs_store_submit(f->store, &b, 11, NULL), JOBS_STORE_OK);
    assert_int_equal(jobs_store_submit(f->store, &c, 12, NULL), JOBS_STORE_OK);
    jobs_attempt_t attempt = {0};
    /* Oldest first, only the service asked for. */
    assert_int_equal(jobs_store_claim(f->store, "slow", 100, 1, 0, s_keep, &attempt), 1);
    assert_string_equal(attempt.record.id, "a");
    assert_int_equal(jobs_store_requeue(f->store, "a", 1, true, 500, "worker_died", 100),
                     JOBS_STORE_OK);
    jobs_record_t record;
    assert_int_equal(jobs_store_get(f->store, "a", &record), JOBS_STORE_OK);
    assert_int_equal(record.state, JOBS_QUEUED);
    assert_int_equal(record.due_ms, 500);
    assert_string_equal(record.error, "worker_died");
    /* b is due before a now. */
    assert_int_equal(jobs_store_claim(f->store, "slow", 200, 5, 0, s_keep, &attempt), 1);
    assert_string_equal(attempt.record.id, "b");
    assert_int_equal(jobs_store_fail(f->store, "b", 1, "not_retryable", 300), JOBS_STORE_OK);
    assert_int_equal(jobs_store_get(f->store, "b", &record), JOBS_STORE_OK);
    assert_int_equal(record.state, JOBS_FAILED);
    assert_int_equal(record.finished_ms, 300);
    /* A failed job's attempt cannot be finished afterwards. */
    assert_int_equal(
        jobs_store_finish(f->store, "b", 1, &(jobs_result_t){200, "", 0, "", 0, NULL, NULL}, 400),
        JOBS_STORE_NOT_FOUND);

    /* Cancel: queued c never starts; running a is marked and its reply thrown away. */
    assert_int_equal(jobs_store_cancel(f->store, "c", 600, &record), JOBS_STORE_OK);
    assert_int_equal(record.state, JOBS_CANCELLED);
    assert_int_equal(jobs_store_claim(f->store, "fast", 700, 5, 0, s_keep, &attempt), 0);
    assert_int_equal(jobs_store_claim(f->store, "slow", 700, 5, 0, s_keep, &attempt), 1);
    assert_string_equal(attempt.record.id, "a");
    assert_int_equal(attempt.record.attempts, 2);
    assert_int_equal(jobs_store_cancel(f->store, "a", 710, &record), JOBS_STORE_OK);
    assert_int_equal(record.state, JOBS_RUNNING);
    assert_true(record.cancel_requested);
    assert_int_equal(jobs_store_finish(f->store, "a", 2,
                                       &(jobs_result_t){200, "", 0, "late", 4, NULL, NULL}, 800),
                     JOBS_STORE_OK);
    assert_int_equal(jobs_store_get(f->store, "a", &record), JOBS_STORE_OK);
    assert_int_equal(record.state, JOBS_CANCELLED);
    assert_int_equal(record.result_status, 0);
    /* A final job is not cancelled again, and can be deleted. */
    assert_int_equal(jobs_store_cancel(f->store, "b", 900, &record), JOBS_STORE_OK);
    assert_int_equal(record.state, JOBS_FAILED);
    assert_int_equal(jobs_store_delete(f->store, "b"), JOBS_STORE_OK);
    assert_int_equal(jobs_store_get(f->store, "b", &record), JOBS_STORE_NOT_FOUND);

    int64_t counts[JOBS_STATE_COUNT];
    jobs_store_counts(f->store, counts);
    assert_int_equal(counts[JOBS_CANCELLED], 2);
    assert_int_equal(counts[JOBS_QUEUED] + counts[JOBS_RUNNING] + counts[JOBS_FAILED], 0);
    jobs_attempt_reset(&attempt);
}

static void s_count(const jobs_record_t *record, void *arg)
{
    (*(int *) arg)++;
}

static void test_expiry_and_reopen(void **state)
{
    fixture_t *f = *state;
    jobs_submission_t a = s_submission("a", "slow", true);
    jobs_submission_t b = s_submission("b", "slow", true);
    assert_int_equal(jobs_store_submit(f->store, &a, 0, NULL), JOBS_STORE_OK);
    assert_int_equal(jobs_store_submit(f->store, &b, 0, NULL), JOBS_STORE_OK);
    jobs_attempt_t attempt = {0};
    assert_int_equal(jobs_store_claim(f->store, "slow", 0, 1, 0, s_keep, &attempt), 1);
    assert_int_equal(
        jobs_store_finish(f->store, "a", 1, &(jobs_result_t){200, "", 0, "r", 1, NULL, NULL}, 100),
        JOBS_STORE_OK);
    assert_int_equal(jobs_store_claim(f->store, "slow", 0, 1, 1, s_keep, &attempt), 1);
    /* ttl 1000: not yet at 1099, expired at 1100, deleted after keep. */
    assert_int_equal(jobs_store_expire(f->store, 1099, 5000), 0);
    assert_int_equal(jobs_store_expire(f->store, 1100, 5000), 1);
    jobs_record_t record;
    assert_int_equal(jobs_store_get(f->store, "a", &record), JOBS_STORE_OK);
    assert_int_equal(record.state, JOBS_EXPIRED);
    size_t read = 0;
    char buffer[4];
    assert_int_equal(jobs_store_result_read(f->store, "a", 0, buffer, 4, &read),
                     JOBS_STORE_NOT_FOUND);

    /* After a stop, b's attempt is still out, under the same attempt number. */
    jobs_store_destroy(&f->store);
    char error[256] = "";
    f->store = jobs_store_open(f->dir, error, sizeof error);
    assert_non_null(f->store);
    int running = 0;
    jobs_store_running(f->store, s_count, &running);
    assert_int_equal(running, 1);
    assert_int_equal(
        jobs_store_finish(f->store, "b", 1, &(jobs_result_t){200, "", 0, "r", 1, NULL, NULL}, 200),
        JOBS_STORE_OK);
    /* At 6100: a (expired at 1100) is deleted, b (expires at 1200) expires. */
    assert_int_equal(jobs_store_expire(f->store, 6100, 5000), 2);
    assert_int_equal(jobs_store_get(f->store, "a", &record), JOBS_STORE_NOT_FOUND);
    int listed = 0;
    jobs_store_list(f->store, JOBS_STATE_COUNT, NULL, 10, s_count, &listed);
    assert_int_equal(listed, 1);
    listed = 0;
    jobs_store_list(f->store, JOBS_DONE, "other", 10, s_count, &listed);
    assert_int_equal(listed, 0);
    jobs_attempt_reset(&attempt);
}

static void s_write_file(const char *path, const char *bytes, size_t size)
{
    FILE *file = fopen(path, "wb");
    assert_non_null(file);
    assert_int_equal(fwrite(bytes, 1, size, file), size);
    fclose(file);
}

static void test_foreign_corrupt_unwritable(void **state)
{
    fixture_t *f = *state;
    char dir[128], path[512], error[256];
    /* A file that is not a database at all. */
    snprintf(dir, sizeof dir, "%s/garbage", f->dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(path, sizeof path, "%s/jobs.sqlite3", dir);
    char junk[4096];
    memset(junk, 'z', sizeof junk);
    s_write_file(path, junk, sizeof junk);
    assert_null(jobs_store_open(dir, error, sizeof error));
    assert_non_null(strstr(error, "is not a slowlane jobs store"));
    /* Another program's SQLite database. */
    snprintf(dir, sizeof dir, "%s/foreign", f->dir);
    snprintf(path, sizeof path, "rm -f %s/*; mkdir -p %s", dir, dir);
    assert_int_equal(system(path), 0);
    snprintf(path, sizeof path, "%s/jobs.sqlite3", dir);
    {
        char command[1024];
        snprintf(command, sizeof command,
                 "python3 -c \"import sqlite3; c=sqlite3.connect('%s'); "
                 "c.execute('create table t(x)'); c.commit()\"",
                 path);
        assert_int_equal(system(command), 0);
    }
    assert_null(jobs_store_open(dir, error, sizeof error));
    assert_non_null(strstr(error, "application_id 0"));
    /* Our store with a damaged page: the header kept, the rest overwritten. */
    snprintf(dir, sizeof dir, "%s/corrupt", f->dir);
    jobs_store_t *store = jobs_store_open(dir, error, sizeof error);
    assert_non_null(store);
    for (int i = 0; i < 200; i++) {
        char id[16];
        snprintf(id, sizeof id, "j%d", i);
        jobs_submission_t job = s_submission(id, "slow", true);
        assert_int_equal(jobs_store_submit(store, &job, i, NULL), JOBS_STORE_OK);
    }
    jobs_store_destroy(&store);
    snprintf(path, sizeof path, "%s/jobs.sqlite3", dir);
    FILE *file = fopen(path, "r+b");
    assert_non_null(file);
    /* Page 1 (the header: still "SQLite format 3", still ours) kept, page 2 overwritten. */
    assert_int_equal(fseek(file, 4096, SEEK_SET), 0);
    assert_int_equal(fwrite(junk, 1, 4096, file), 4096);
    fclose(file);
    store = jobs_store_open(dir, error, sizeof error);
    bool opened = store != NULL;
    jobs_store_destroy(&store);
    assert_false(opened);
    assert_non_null(strstr(error, "corrupt"));
    /* A directory this process may not write (root may write anything: skip that part). */
    if (geteuid() != 0) {
        snprintf(dir, sizeof dir, "%s/readonly", f->dir);
        assert_int_equal(mkdir(dir, 0500), 0);
        assert_null(jobs_store_open(dir, error, sizeof error));
        assert_non_null(strstr(error, "not writable"));
    }
}

static void test_progress_names_the_worker_until_the_next_attempt(void **state)
{
    fixture_t *f = *state;
    jobs_submission_t job = s_submission("p1", "slow", true);
    assert_int_equal(jobs_store_submit(f->store, &job, 1000, NULL), JOBS_STORE_OK);
    /* Not running: nothing to note. */
    jobs_progress_t early = {"p1", 0, "host/1/0", "x"};
    assert_int_equal(jobs_store_progress(f->store, &early, 1), JOBS_STORE_NOT_FOUND);
    jobs_attempt_t attempt = {0};
    assert_int_equal(jobs_store_claim(f->store, "slow", 1000, 10, 0, s_keep, &attempt), 1);
    /* Several notes in one transaction; one of a job not running changes nothing. */
    jobs_progress_t notes[] = {{"p1", 1, "host/1/0", "page 3 of 10"}, {"nope", 1, "h", "n"}};
    assert_int_equal(jobs_store_progress(f->store, notes, 2), JOBS_STORE_OK);
    jobs_record_t record;
    assert_int_equal(jobs_store_get(f->store, "p1", &record), JOBS_STORE_OK);
    assert_string_equal(record.worker, "host/1/0");
    assert_string_equal(record.progress, "page 3 of 10");
    /* A late note of an older attempt changes nothing. */
    assert_int_equal(jobs_store_requeue(f->store, "p1", 1, true, 1000, "worker_died", 1000),
                     JOBS_STORE_OK);
    assert_int_equal(jobs_store_claim(f->store, "slow", 1000, 10, 0, s_keep, &attempt), 1);
    jobs_progress_t old = {"p1", 1, "host/1/0", "old"};
    assert_int_equal(jobs_store_progress(f->store, &old, 1), JOBS_STORE_NOT_FOUND);
    /* The new attempt starts with no worker and no note. */
    assert_int_equal(jobs_store_get(f->store, "p1", &record), JOBS_STORE_OK);
    assert_int_equal(record.attempts, 2);
    assert_string_equal(record.worker, "");
    assert_string_equal(record.progress, "");
    /* A short job's worker and note come with its result, in the same write. */
    jobs_result_t result = {.status = 200, .worker = "host/2/1", .note = "all 10 pages"};
    assert_int_equal(jobs_store_finish(f->store, "p1", 2, &result, 1100), JOBS_STORE_OK);
    assert_int_equal(jobs_store_get(f->store, "p1", &record), JOBS_STORE_OK);
    assert_int_equal(record.state, JOBS_DONE);
    assert_string_equal(record.worker, "host/2/1");
    assert_string_equal(record.progress, "all 10 pages");
    jobs_attempt_reset(&attempt);
}

static void test_version_1_store_is_upgraded_and_a_newer_one_refused(void **state)
{
    fixture_t *f = *state;
    char dir[128], path[256], command[2048], error[256];
    snprintf(dir, sizeof dir, "%s/v1", f->dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(path, sizeof path, "%s/jobs.sqlite3", dir);
    /* The layout of version 1 (issue 20's first release), with one queued job. */
    snprintf(command, sizeof command,
             "python3 -c \"import sqlite3; c=sqlite3.connect('%s'); c.executescript('"
             "CREATE TABLE jobs (id TEXT NOT NULL UNIQUE, service TEXT NOT NULL, route TEXT NOT "
             "NULL, state INTEGER NOT NULL, retryable INTEGER NOT NULL, cancel_requested INTEGER "
             "NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0, max_attempts INTEGER NOT "
             "NULL, broker INTEGER NOT NULL DEFAULT -1, timeout_ms INTEGER NOT NULL, ttl_ms "
             "INTEGER NOT NULL, created_ms INTEGER NOT NULL, started_ms INTEGER NOT NULL DEFAULT "
             "0, finished_ms INTEGER NOT NULL DEFAULT 0, due_ms INTEGER NOT NULL, expires_ms "
             "INTEGER NOT NULL DEFAULT 0, error TEXT NOT NULL DEFAULT \\'\\', progress TEXT NOT "
             "NULL DEFAULT \\'\\', method TEXT, path TEXT, query TEXT, headers BLOB, body BLOB, "
             "result_status INTEGER NOT NULL DEFAULT 0, result_headers BLOB, result_body BLOB);"
             "INSERT INTO jobs (id, service, route, state, retryable, max_attempts, timeout_ms, "
             "ttl_ms, created_ms, due_ms) VALUES (\\'old\\', \\'slow\\', \\'/slow\\', 0, 1, 3, "
             "5000, 1000, 5, 5);"
             "PRAGMA application_id = 1397508674; PRAGMA user_version = 1;'); c.commit()\"",
             path);
    assert_int_equal(system(command), 0);
    jobs_store_t *store = jobs_store_open(dir, error, sizeof error);
    assert_non_null(store);
    jobs_record_t record;
    assert_int_equal(jobs_store_get(store, "old", &record), JOBS_STORE_OK);
    assert_int_equal(record.state, JOBS_QUEUED);
    assert_string_equal(record.worker, "");
    jobs_store_destroy(&store);
    /* A store written by a newer program is not touched. */
    snprintf(command, sizeof command,
             "python3 -c \"import sqlite3; c=sqlite3.connect('%s'); "
             "c.execute('PRAGMA user_version = 3'); c.commit()\"",
             path);
    assert_int_equal(system(command), 0);
    assert_null(jobs_store_open(dir, error, sizeof error));
    assert_non_null(strstr(error, "has store version 3"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_submit_claim_finish_read, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_requeue_fail_and_cancel, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_expiry_and_reopen, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_foreign_corrupt_unwritable, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_progress_names_the_worker_until_the_next_attempt,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_version_1_store_is_upgraded_and_a_newer_one_refused,
                                        s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
