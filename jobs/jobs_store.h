/*  jobs_store: where accepted jobs live, durably: their request, their state, their result.
    The one narrow interface to storage (docs/jobs.md "Storage"): the embedded default is one
    SQLite file in WAL mode with synchronous=FULL, so a job is on disk when submit returns.
    Thread-safe: one lock around every call (the jobs worker's handler thread and the
    dispatcher share one store). Times are wall-clock milliseconds (they outlive the process).
    It decides no policy: retries, backoff and expiry times are the caller's. */
#ifndef JOBS_STORE_H
#define JOBS_STORE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JOBS_ID_MAX      48 /* job ids: [A-Za-z0-9._:-], 1..48 bytes ("id.attempt" is a request id) */
#define JOBS_SERVICE_MAX 255 /* a broker service name */
#define JOBS_TEXT_MAX    255 /* error reasons, progress notes, route prefixes */

typedef enum {
    JOBS_QUEUED = 0, /* accepted, waiting for its (next) attempt */
    JOBS_RUNNING,    /* handed to a broker: waiting for or running on a worker */
    JOBS_DONE,       /* a worker replied: the result is stored */
    JOBS_FAILED,     /* attempts used up, not retryable, or refused: error says why */
    JOBS_CANCELLED,  /* DELETE before it finished */
    JOBS_EXPIRED,    /* past its time to live: request and result are gone */
    JOBS_STATE_COUNT
} jobs_state_t;

/* Outcomes of the calls that change or read a job. */
typedef enum {
    JOBS_STORE_OK = 0,
    JOBS_STORE_NOT_FOUND,   /* no job with that id (or not in the state the call needs) */
    JOBS_STORE_FULL,        /* the disk or file system is full */
    JOBS_STORE_UNAVAILABLE, /* the file cannot be written (read-only, I/O error, gone) */
} jobs_store_status_t;

/* What a submit stores: the request exactly as the worker will see it, and its policy. */
typedef struct {
    const char *id;      /* the job id (unique, chosen by the submitter) */
    const char *service; /* the service that runs it */
    const char *route;   /* the gateway route's prefix, for people */
    bool retryable;      /* may run again after a lost attempt */
    int max_attempts;    /* attempts before failed, >= 1 */
    int64_t timeout_ms;  /* each attempt's deadline */
    int64_t ttl_ms;      /* how long the result is kept once final */
    const char *method;  /* HTTP method */
    const char *path;    /* path without query */
    const char *query;   /* query without '?', may be "" */
    const char *headers; /* header block ("Name: value\r\n"...) */
    size_t headers_size; /* bytes in headers */
    const void *body;    /* request body, may be NULL when body_size is 0 */
    size_t body_size;    /* bytes in body */
} jobs_submission_t;

/* A job's record without its request and result bytes: what status shows. */
typedef struct {
    char id[JOBS_ID_MAX + 1];           /* the job id */
    char service[JOBS_SERVICE_MAX + 1]; /* the service that runs it */
    char route[JOBS_TEXT_MAX + 1];      /* the gateway route it came through */
    jobs_state_t state;                 /* where it is */
    bool retryable;                     /* may run again after a lost attempt */
    bool cancel_requested;              /* DELETE came while it ran */
    int attempts;                       /* attempts started so far */
    int max_attempts;                   /* attempts allowed */
    int broker;                         /* index of the broker of the last attempt, -1 none */
    int64_t timeout_ms;                 /* each attempt's deadline */
    int64_t ttl_ms;                     /* time to live of the result */
    int64_t created_ms;                 /* accepted */
    int64_t started_ms;                 /* last attempt handed to a broker, 0 never */
    int64_t finished_ms;                /* reached its final state, 0 not yet */
    int64_t due_ms;                     /* next attempt not before (queued jobs) */
    int64_t expires_ms;                 /* result and request deleted at, 0 not final */
    int result_status;                  /* the reply's HTTP status, 0 if none */
    int64_t result_size;                /* bytes of the reply's body */
    char error[JOBS_TEXT_MAX + 1];      /* why it failed, "" otherwise */
    char progress[JOBS_TEXT_MAX + 1];   /* the worker's last progress note, "" none */
    char worker[JOBS_TEXT_MAX + 1];     /* the worker that runs or ran the last attempt,
                                           "" unknown (not a slowlane worker, or not yet) */
} jobs_record_t;

/* An attempt to run: the record and the request, owned by the struct (jobs_attempt_reset). */
typedef struct {
    jobs_record_t record; /* after the claim: state running, attempts counted */
    char *method;         /* owned */
    char *path;           /* owned */
    char *query;          /* owned */
    char *headers;        /* owned */
    size_t headers_size;  /* bytes in headers */
    void *body;           /* owned, may be NULL */
    size_t body_size;     /* bytes in body */
} jobs_attempt_t;

typedef struct _jobs_store_t jobs_store_t;

/* Opens (creating if needed) the store in directory dir (created too, mode 0700). NULL with
   one line in error when the directory cannot be made or written, or the file is not a
   slowlane jobs store (a foreign or corrupt database). */
jobs_store_t *jobs_store_open(const char *dir, char *error, size_t error_size);
/* Closes the store; safe on NULL and twice. */
void jobs_store_destroy(jobs_store_t **self_p);
/* The file's path (borrowed), for logs. */
const char *jobs_store_path(const jobs_store_t *self);
/* Copies a one-line reason for the last failure of this store into buffer, for logs and
   replies (the store's own text changes under its lock). */
void jobs_store_reason(jobs_store_t *self, char *buffer, size_t size);

/* Stores a new job, queued, due at once. On disk when it returns OK. If a job with that id
   exists already (the same submission sent twice), it is left as it is and *created is
   false. */
jobs_store_status_t jobs_store_submit(jobs_store_t *self, const jobs_submission_t *submission,
                                      int64_t now_ms, bool *created);
/* Reads one job's record. */
jobs_store_status_t jobs_store_get(jobs_store_t *self, const char *id, jobs_record_t *record);

/* Cancels: a queued job becomes cancelled (it never starts); a running one is marked
   cancel_requested (its result will be thrown away). *record is the job after the call.
   A final job is left as it is. */
jobs_store_status_t jobs_store_cancel(jobs_store_t *self, const char *id, int64_t now_ms,
                                      jobs_record_t *record);
/* Deletes a final job and its result. NOT_FOUND for an unknown or unfinished job. */
jobs_store_status_t jobs_store_delete(jobs_store_t *self, const char *id);

/* Reads up to size bytes of a done job's result body from offset into buffer; *read is how
   many (0 at the end). The body is never loaded whole. */
jobs_store_status_t jobs_store_result_read(jobs_store_t *self, const char *id, int64_t offset,
                                           void *buffer, size_t size, size_t *read);
/* A done job's result head: status and header block (a new string the caller frees). */
jobs_store_status_t jobs_store_result_head(jobs_store_t *self, const char *id, int *status,
                                           char **headers, size_t *headers_size);

/* Calls each(service, arg) for every service with queued jobs due at now_ms. */
void jobs_store_due_services(jobs_store_t *self, int64_t now_ms,
                             void (*each)(const char *service, void *arg), void *arg);
/* Claims up to limit due queued jobs of service, oldest due first: each becomes running
   with one more attempt, on broker, started now. Calls each(attempt, arg) per job (the
   attempt is the callee's: it must call jobs_attempt_reset). Returns how many. */
int jobs_store_claim(jobs_store_t *self, const char *service, int64_t now_ms, int limit, int broker,
                     void (*each)(jobs_attempt_t *attempt, void *arg), void *arg);
/* What a reply leaves in the store. */
typedef struct {
    int status;          /* the reply's HTTP status */
    const char *headers; /* its header block */
    size_t headers_size; /* bytes in headers */
    const void *body;    /* its body */
    size_t body_size;    /* bytes in body */
    const char *worker;  /* the worker that ran the attempt, "" or NULL unknown */
    const char *note;    /* its last progress note, "" or NULL none */
} jobs_result_t;

/* Records the reply of attempt number attempt of a running job: done, with the result kept
   until now + its ttl (or cancelled, result dropped, if a cancel was requested), with its
   worker and last note in the same write. NOT_FOUND if the job is not running that attempt
   any more (a late or duplicate reply). */
jobs_store_status_t jobs_store_finish(jobs_store_t *self, const char *id, int attempt,
                                      const jobs_result_t *result, int64_t now_ms);
/* Puts a running job's attempt back in the queue, due at due_ms, with the reason it ended.
   counted false: the attempt never started (no worker, queue full), so it does not count
   against the job's attempts and the next one reuses its number. A job whose cancel was
   requested becomes cancelled instead, finished at now_ms. */
jobs_store_status_t jobs_store_requeue(jobs_store_t *self, const char *id, int attempt,
                                       bool counted, int64_t due_ms, const char *reason,
                                       int64_t now_ms);
/* Ends a running job's attempt as failed for reason. */
jobs_store_status_t jobs_store_fail(jobs_store_t *self, const char *id, int attempt,
                                    const char *reason, int64_t now_ms);
/* The worker that runs a running job's attempt, and its last progress note. */
typedef struct {
    const char *id;     /* the job */
    int attempt;        /* its attempt the note is of */
    const char *worker; /* the worker running it */
    const char *note;   /* its last note, "" none */
} jobs_progress_t;

/* Records count progress notes in one transaction (one write to disk for all of them). A
   note of a job no longer running that attempt changes nothing; with count 1 that answers
   NOT_FOUND. */
jobs_store_status_t jobs_store_progress(jobs_store_t *self, const jobs_progress_t *notes,
                                        size_t count);
/* Calls each(record, arg) for every running job: after a restart, the attempts that were
   out when the previous process stopped. */
void jobs_store_running(jobs_store_t *self, void (*each)(const jobs_record_t *record, void *arg),
                        void *arg);
/* Final jobs past their time to live become expired (request and result deleted); expired
   ones older than keep_ms past that are deleted. Returns how many changed. */
int jobs_store_expire(jobs_store_t *self, int64_t now_ms, int64_t keep_ms);
/* Jobs in each state. */
void jobs_store_counts(jobs_store_t *self, int64_t counts[JOBS_STATE_COUNT]);
/* Calls each(record, arg) for up to limit jobs, newest first, in state (or any state if
   state is JOBS_STATE_COUNT) and of service (or any if NULL). */
void jobs_store_list(jobs_store_t *self, jobs_state_t state, const char *service, int limit,
                     void (*each)(const jobs_record_t *record, void *arg), void *arg);

/* Frees what an attempt owns and zeroes it; safe twice. */
void jobs_attempt_reset(jobs_attempt_t *attempt);
/* "queued", "running", ... (static); jobs_state_parse is its inverse (-1 if unknown). */
const char *jobs_state_name(jobs_state_t state);
int jobs_state_parse(const char *name, jobs_state_t *state);
#endif
