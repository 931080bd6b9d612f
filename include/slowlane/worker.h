/*  slowlane/worker.h: link a request handler into your own program and serve a slowlane
    (or any Majordomo) broker with it.

    An I/O thread owns the broker socket (one per broker, see sl_worker_add_broker): it
    registers the service, heartbeats while your handler runs (so a 60-second job is not
    taken for a dead worker), reconnects with backoff when a broker goes away and registers
    again. Your handler runs on the thread that called sl_worker_run(), one job at a time.

        static int hello(sl_job_t *job, void *arg) {
            sl_job_add_header(job, "Content-Type", "text/plain");
            sl_job_write(job, "hello\n", 6);
            return 0;                              // 0: send the reply; -1: answer 500
        }
        sl_worker_t *worker = sl_worker_new("tcp://127.0.0.1:5555", "hello");
        sl_worker_run(worker, hello, NULL);        // until SIGTERM/SIGINT or sl_worker_stop()
        sl_worker_destroy(&worker);
*/
#ifndef SLOWLANE_WORKER_H
#define SLOWLANE_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _sl_worker_t sl_worker_t;
typedef struct _sl_job_t sl_job_t;

/* Handles one job. Return 0 to send the reply built with the sl_job_* calls (status 200
   unless set), -1 to answer 500. */
typedef int(sl_worker_handler_fn)(sl_job_t *job, void *arg);

/* Creates a worker for service at a broker endpoint ("tcp://host:5555"). NULL on bad
   arguments (service empty or starting with "mmi."). Nothing connects until run. */
sl_worker_t *sl_worker_new(const char *endpoint, const char *service);

/* Destroys the worker and clears the pointer; safe on NULL. */
void sl_worker_destroy(sl_worker_t **self_p);

/* Heartbeat interval and liveness (missed beats before the broker is presumed dead).
   Must match the broker's. Defaults 1000 ms and 3. */
void sl_worker_set_heartbeat(sl_worker_t *self, int heartbeat_ms, int liveness);

/* Reconnect backoff bounds after the broker is lost. Defaults 100 ms .. 5000 ms. */
void sl_worker_set_reconnect(sl_worker_t *self, int min_ms, int max_ms);

/* A stable routing identity (1..255 bytes). A replacement process that connects with the
   same identity tells the broker that its predecessor's job died with it, so the job is
   re-dispatched or failed at once instead of at heartbeat expiry. Default: random. */
void sl_worker_set_identity(sl_worker_t *self, const char *identity);

/* Encrypts and authenticates the connection to a CURVE broker (slowlane-broker
   --curve-secret): this worker's key pair from secret_file (the NAME_secret file of
   `slowlane keygen`), the broker's public key from server_public_file. The broker admits
   the worker only if its public key is in the broker's --curve-clients directory. Returns
   0, or -1 if a file is missing or not a key file (logged; the worker is unchanged).
   Default: plaintext. The broker key applies to every broker of the worker (see
   sl_worker_add_broker) that has none of its own (sl_worker_set_broker_curve_key). */
int sl_worker_set_curve(sl_worker_t *self, const char *secret_file, const char *server_public_file);

/* Adds another broker endpoint; the worker registers with every broker added (and the one
   given to sl_worker_new) and serves jobs from all of them (docs/protocol.md 3.7: every
   broker must then be a slowlane broker). Each broker has its own connection, heartbeats
   and reconnects: losing one never disturbs the others. The capacity (below) counts the
   jobs held from all of them together; the worker shares it out by credit, so a busy
   worker is never hidden from a broker with waiting work, and never holds more than its
   capacity (a job that arrives when it is full goes straight back to its broker).
   Returns 0, or -1 for a bad or duplicate endpoint (or more than 16 brokers). Call before
   sl_worker_run. */
int sl_worker_add_broker(sl_worker_t *self, const char *endpoint);

/* Gives one broker its own CURVE public key (each broker of a cluster may have its own
   key pair): server_public_file, instead of sl_worker_set_curve's, for the broker at
   endpoint (as given to sl_worker_new or sl_worker_add_broker). The worker's own key pair
   still comes from sl_worker_set_curve, without which the connection stays plaintext.
   Returns 0, or -1 for an unknown endpoint or a file that is not a key file (logged). */
int sl_worker_set_broker_curve_key(sl_worker_t *self, const char *endpoint,
                                   const char *server_public_file);

/* Lets the broker hand this worker up to capacity jobs at once (1..1024, default 1). The
   extra jobs wait inside the worker, so the next one is already here when the handler
   finishes instead of a broker round trip later; the handler still runs them one at a
   time. Worth it for short jobs; keep 1 for long or CPU-bound ones, which would make the
   jobs queued behind them wait. Needs a slowlane broker (docs/protocol.md section 3.6).
   With several brokers it is the total across all of them.
   Returns 0, or -1 for a value out of range. Set before sl_worker_run. */
int sl_worker_set_capacity(sl_worker_t *self, int capacity);

/* The Majordomo worker protocol spoken: "0.2" (RFC 18, the default: slowlane's brokers
   and any MDP/0.2 broker) or "0.1" (RFC 7, for a broker that speaks only MDP/0.1, such as
   the ZeroMQ guide's). MDP/0.1 has no PARTIAL: what the handler flushes is kept and sent
   at the front of the one REPLY. It serves one broker with capacity 1 and takes no
   cancellation (sl_job_cancelled stays false); sl_worker_run refuses anything else.
   Returns 0, or -1 for another version. Set before sl_worker_run. */
int sl_worker_set_mdp(sl_worker_t *self, const char *version);

/* Stop after this many jobs (0: never); sl_worker_run then returns 0. For recycling. */
void sl_worker_set_max_jobs(sl_worker_t *self, uint64_t max_jobs);

/* Handles one broadcast: a message an operator sent to every live worker of the service
   (`slowlane broadcast SERVICE MESSAGE`, POST /api/v1/services/NAME/broadcast), e.g. new
   configuration. id is unique per broadcast (borrowed, printable, at most 64 bytes); data
   is the message (borrowed, size bytes, not NUL-terminated). Runs on the handler thread
   between jobs, never during one, and at most once per broadcast id. */
typedef void(sl_worker_broadcast_fn)(const char *id, const void *data, size_t size, void *arg);

/* Sets the broadcast callback (NULL: broadcasts are acknowledged and dropped). Broadcasts
   reach a worker through the slowlane-worker supervisor that forked it (docs/admin-api.md);
   a program that calls sl_worker_run itself, without a supervisor, receives none. */
void sl_worker_set_broadcast_handler(sl_worker_t *self, sl_worker_broadcast_fn *handler, void *arg);

/* Serves jobs until sl_worker_stop(), SIGTERM/SIGINT (czmq's zsys_interrupted) or max jobs.
   A job in hand is finished and its reply sent before the worker says DISCONNECT. Returns
   0 on a clean stop, -1 if the worker could not start (bad endpoint). */
int sl_worker_run(sl_worker_t *self, sl_worker_handler_fn *handler, void *arg);

/* Asks run to return after the job in hand. Safe from any thread or a signal handler. */
void sl_worker_stop(sl_worker_t *self);

/* Jobs finished so far. */
uint64_t sl_worker_jobs_done(sl_worker_t *self);

/* --- The job: the request (read) --- */

/* True if the request came as a slowlane HTTP envelope; false for a plain MDP body, in
   which case method, path, query and headers are "" and the body is all frames joined. */
bool sl_job_is_http(const sl_job_t *job);
const char *sl_job_request_id(const sl_job_t *job); /* borrowed; "" if none */
const char *sl_job_method(const sl_job_t *job);     /* borrowed */
const char *sl_job_path(const sl_job_t *job);       /* borrowed */
const char *sl_job_query(const sl_job_t *job);      /* borrowed; without '?' */
/* Value of the first header named name (case-insensitive), a new string the caller frees,
   or NULL. */
char *sl_job_header(const sl_job_t *job, const char *name);
/* The raw header block "Name: value\r\n"... (borrowed). */
const char *sl_job_headers(const sl_job_t *job, size_t *size);
/* Value of query parameter name (not percent-decoded), a new string the caller frees, or
   NULL. */
char *sl_job_query_param(const sl_job_t *job, const char *name);
const void *sl_job_body(const sl_job_t *job, size_t *size); /* borrowed */
/* A plain MDP request's frames one by one (sl_job_body joins them): how many there are (1
   for an HTTP request: its body), and frame index (borrowed; NULL past the last). */
size_t sl_job_frame_count(const sl_job_t *job);
const void *sl_job_frame(const sl_job_t *job, size_t index, size_t *size);
/* Milliseconds left before the request's deadline; INT64_MAX if it has none. */
int64_t sl_job_time_left_ms(const sl_job_t *job);
/* True once the job's client cancelled it (DELETE of an async job, a synchronous client
   that went away; docs/protocol.md 3.8). Its reply will be thrown away: a long handler
   should check this between steps and return early, and the worker is then free for the
   next job. Never true for a job run by a broker that cannot cancel. */
bool sl_job_cancelled(const sl_job_t *job);
/* A file descriptor that becomes readable when the job is cancelled, to add to a poll()
   set so a handler waiting on I/O wakes at once; -1 if there is none. Borrowed: never
   read from or close it. */
int sl_job_cancel_fd(const sl_job_t *job);
/* Reports progress: note (up to 255 bytes, e.g. "page 3 of 10" or "42%") shows as the
   `progress` of the job's status document (GET /jobs/ID), with the worker running it.
   Only jobs run by slowlane-jobs carry notes; for any other request this does nothing and
   returns 0. Cheap: the latest note is kept, not every one. Returns 0 or -1. */
int sl_job_progress(sl_job_t *job, const char *note);

/* --- The job: the reply (write) --- */

/* Sets the HTTP status (100..599). Returns 0 or -1. Ignored for plain MDP requests. */
int sl_job_set_status(sl_job_t *job, int status);
/* Adds a response header; -1 if name or value is invalid (CR/LF are refused). */
int sl_job_add_header(sl_job_t *job, const char *name, const char *value);
/* Appends to the reply body. Returns 0 or -1 (out of memory). */
int sl_job_write(sl_job_t *job, const void *data, size_t size);
/* For a plain MDP request: ends the reply frame being written, so what follows goes into
   the next frame (a reply of several frames; an empty frame is two calls in a row).
   Returns 0, or -1 for an HTTP request (its body is one byte stream) or out of memory. */
int sl_job_next_frame(sl_job_t *job);
/* Sends what was written so far as an MDP/0.2 PARTIAL (the first one carries the status
   and headers); the client sees a chunked HTTP response. Returns 0 or -1 (the status and
   headers can no longer change after the first flush). */
int sl_job_flush(sl_job_t *job);

#ifdef __cplusplus
}
#endif
#endif
