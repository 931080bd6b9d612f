/*  worker: sl_worker_t of slowlane/worker.h, the handler thread's side. It starts the I/O
    thread (worker_io.c), takes jobs from it through a worker_mailbox, runs the handler on
    the caller's thread and sends the PARTIAL/FINAL bodies (worker_io_reply). Stopping is a
    drain: the job in hand finishes, its reply goes out, then DISCONNECT. The protocol
    lives in worker_io.c. */
#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include "sl_defaults.h"
#include "sl_io_threads.h"
#include "sl_log.h"
#include "sl_mdp.h"
#include "sl_progress.h"
#include "worker_broadcast.h"
#include "worker_hooks.h"
#include "worker_io.h"
#include "worker_job.h"

//  An idle run loop sleeps until the I/O thread, the broadcast pipe or the stop eventfd wakes
//  it, and a stop signal wakes it too (the I/O thread blocks them, libzmq's block all). This
//  bounds only the one case nothing wakes it: a signal that lands between the loop's check
//  and its poll, or on a thread of the application's own. Was 50 ms: 200 idle workers cost
//  8,000 context switches a second and 18% of two cores doing nothing.
#define WORKER_STOP_FALLBACK_MS 1000

struct _sl_worker_t {
    worker_io_config_t config;           /* handed to the I/O thread */
    worker_cancel_t cancel;              /* the job in hand was cancelled (config.cancel) */
    char name[SL_PROGRESS_TEXT_MAX + 1]; /* who runs a job, for progress: the identity */
    uint64_t max_jobs;                   /* stop after this many; 0 = never */
    atomic_uint_fast64_t done;           /* jobs finished */
    volatile sig_atomic_t stop;          /* sl_worker_stop was called */
    int stop_fd;                         /* eventfd written by sl_worker_stop, -1 if none */
    worker_io_t *io;                     /* the I/O side, while running */
    worker_mailbox_t *to_handler;        /* from the I/O thread */
    worker_mailbox_t *from_handler;      /* to it */
    pthread_t io_thread;                 /* while running */
    bool running;                        /* the I/O thread runs */
    worker_event_fn *hook;               /* supervisor's observer, or NULL */
    void *hook_arg;                      /* its argument */
    int broadcast_fd;                    /* supervisor's broadcast pipe (owned), -1 if none */
    sl_worker_broadcast_fn *broadcast;   /* broadcast callback, or NULL */
    void *broadcast_arg;                 /* its argument */
    bool run_inline;                     /* jobs run on the I/O thread (worker_set_inline) */
    sl_worker_handler_fn *handler;       /* while running: the handler */
    void *handler_arg;                   /* its argument */
    pthread_mutex_t job_lock;            /* held around every job and broadcast callback, so the two
                                            never overlap even when jobs run on the I/O thread */
};

sl_worker_t *sl_worker_new(const char *endpoint, const char *service)
{
    if (!endpoint || !*endpoint || !service || !*service || strlen(service) > SL_MAX_SERVICE_NAME ||
        strncmp(service, "mmi.", 4) == 0)
        return NULL;
    sl_worker_t *self = calloc(1, sizeof(sl_worker_t));
    if (!self)
        return NULL;
    //  Without an eventfd the flag still works: sl_job_cancel_fd answers -1
    worker_cancel_init(&self->cancel);
    self->config.cancel = &self->cancel;
    self->config.brokers[0].endpoint = strdup(endpoint);
    self->config.broker_count = 1;
    self->config.service = strdup(service);
    self->config.heartbeat_ms = SL_DEFAULT_HEARTBEAT_MS;
    self->config.liveness = SL_DEFAULT_LIVENESS;
    self->config.reconnect_min_ms = SL_DEFAULT_RECONNECT_MIN_MS;
    self->config.reconnect_max_ms = SL_DEFAULT_RECONNECT_MAX_MS;
    self->config.capacity = SL_DEFAULT_WORKER_CAPACITY;
    self->config.mdp = SL_MDP_V02;
    self->broadcast_fd = -1;
    //  Without it a stop from another thread is seen within WORKER_STOP_FALLBACK_MS
    self->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    pthread_mutex_init(&self->job_lock, NULL);
    if (!self->config.brokers[0].endpoint || !self->config.service)
        sl_worker_destroy(&self);
    return self;
}

void sl_worker_destroy(sl_worker_t **self_p)
{
    assert(self_p);
    sl_worker_t *self = *self_p;
    if (!self)
        return;
    for (size_t index = 0; index < self->config.broker_count; index++) {
        free(self->config.brokers[index].endpoint);
        zcert_destroy(&self->config.brokers[index].server_key);
    }
    free(self->config.service);
    free(self->config.identity);
    sl_curve_client_clear(&self->config.curve);
    pthread_mutex_destroy(&self->job_lock);
    worker_cancel_close(&self->cancel);
    if (self->stop_fd >= 0)
        close(self->stop_fd);
    free(self);
    *self_p = NULL;
}

void sl_worker_set_heartbeat(sl_worker_t *self, int heartbeat_ms, int liveness)
{
    assert(self);
    if (heartbeat_ms > 0)
        self->config.heartbeat_ms = heartbeat_ms;
    if (liveness > 0)
        self->config.liveness = liveness;
}

void sl_worker_set_reconnect(sl_worker_t *self, int min_ms, int max_ms)
{
    assert(self);
    if (min_ms > 0)
        self->config.reconnect_min_ms = min_ms;
    if (max_ms >= self->config.reconnect_min_ms)
        self->config.reconnect_max_ms = max_ms;
}

void sl_worker_set_identity(sl_worker_t *self, const char *identity)
{
    assert(self);
    size_t size = identity ? strlen(identity) : 0;
    if (size == 0 || size > SL_MAX_ADDRESS_BYTES)
        return; // outside 1..255 bytes ZeroMQ refuses it: keep the random one
    free(self->config.identity);
    self->config.identity = strdup(identity);
}

int sl_worker_set_curve(sl_worker_t *self, const char *secret_file, const char *server_public_file)
{
    assert(self && !self->running);
    if (!secret_file || !*secret_file || !server_public_file || !*server_public_file)
        return -1;
    sl_curve_client_t keys;
    char error[512];
    if (sl_curve_client_load(&keys, secret_file, server_public_file, error, sizeof error) != 0) {
        char quoted[600];
        sl_log(SL_LOG_ERROR, NULL, "curve_keys_invalid", "reason=%s",
               sl_log_quote(error, quoted, sizeof quoted));
        return -1;
    }
    sl_curve_client_clear(&self->config.curve);
    self->config.curve = keys;
    return 0;
}

//  The broker of self with this endpoint, or NULL.
static worker_io_broker_t *s_find_broker(sl_worker_t *self, const char *endpoint)
{
    for (size_t index = 0; endpoint && index < self->config.broker_count; index++)
        if (streq(self->config.brokers[index].endpoint, endpoint))
            return &self->config.brokers[index];
    return NULL;
}

int sl_worker_add_broker(sl_worker_t *self, const char *endpoint)
{
    assert(self && !self->running);
    //  The obvious mistakes are refused here, where the caller can still say which flag
    //  was wrong; anything else zmq_connect refuses makes sl_worker_run fail
    if (!endpoint || !strstr(endpoint, "://") || strpbrk(endpoint, " \t\r\n")) {
        sl_log(SL_LOG_ERROR, NULL, "bad_endpoint", "endpoint=%s", endpoint ? endpoint : "");
        return -1;
    }
    if (s_find_broker(self, endpoint)) {
        sl_log(SL_LOG_ERROR, NULL, "duplicate_broker", "endpoint=%s", endpoint);
        return -1;
    }
    if (self->config.broker_count == SL_MAX_WORKER_BROKERS) {
        sl_log(SL_LOG_ERROR, NULL, "too_many_brokers", "endpoint=%s max=%d", endpoint,
               SL_MAX_WORKER_BROKERS);
        return -1;
    }
    char *copy = strdup(endpoint);
    if (!copy)
        return -1;
    self->config.brokers[self->config.broker_count++] =
        (worker_io_broker_t){.endpoint = copy, .server_key = NULL};
    return 0;
}

int sl_worker_set_broker_curve_key(sl_worker_t *self, const char *endpoint,
                                   const char *server_public_file)
{
    assert(self && !self->running);
    worker_io_broker_t *broker = s_find_broker(self, endpoint);
    if (!broker || !server_public_file || !*server_public_file)
        return -1;
    char error[512];
    zcert_t *key = sl_curve_load_public(server_public_file, error, sizeof error);
    if (!key) {
        char quoted[600];
        sl_log(SL_LOG_ERROR, NULL, "curve_keys_invalid", "endpoint=%s reason=%s", endpoint,
               sl_log_quote(error, quoted, sizeof quoted));
        return -1;
    }
    zcert_destroy(&broker->server_key);
    broker->server_key = key;
    return 0;
}

int sl_worker_set_capacity(sl_worker_t *self, int capacity)
{
    assert(self && !self->running);
    if (capacity < 1 || capacity > SL_MAX_WORKER_CAPACITY)
        return -1;
    self->config.capacity = capacity;
    return 0;
}

int sl_worker_set_mdp(sl_worker_t *self, const char *version)
{
    assert(self && !self->running);
    if (!version || !(streq(version, "0.1") || streq(version, "0.2")))
        return -1;
    self->config.mdp = streq(version, "0.1") ? SL_MDP_V01 : SL_MDP_V02;
    return 0;
}

void worker_set_inline(sl_worker_t *self, bool run_inline)
{
    assert(self && !self->running);
    self->run_inline = run_inline;
}

void sl_worker_set_max_jobs(sl_worker_t *self, uint64_t max_jobs)
{
    assert(self);
    self->max_jobs = max_jobs;
}

void sl_worker_stop(sl_worker_t *self)
{
    //  A sig_atomic_t store and write(2) only: callable from a signal handler
    self->stop = 1;
    if (self->stop_fd >= 0) {
        int saved_errno = errno;
        uint64_t one = 1;
        ssize_t written = write(self->stop_fd, &one, sizeof one);
        (void) written; // a full counter already wakes the loop
        errno = saved_errno;
    }
}

uint64_t sl_worker_jobs_done(sl_worker_t *self)
{
    return atomic_load(&self->done);
}

void worker_set_event_hook(sl_worker_t *self, worker_event_fn *fn, void *arg)
{
    self->hook = fn;
    self->hook_arg = arg;
}

void sl_worker_set_broadcast_handler(sl_worker_t *self, sl_worker_broadcast_fn *handler, void *arg)
{
    assert(self);
    self->broadcast = handler;
    self->broadcast_arg = arg;
}

void worker_set_broadcast_fd(sl_worker_t *self, int fd)
{
    self->broadcast_fd = fd;
}

static void s_emit(sl_worker_t *self, worker_event_t event)
{
    if (self->hook)
        self->hook(event, self->hook_arg);
}

//  worker_job_send_fn: a PARTIAL from sl_job_flush goes straight to its broker.
static int s_send_partial(zmsg_t **body_p, void *arg)
{
    sl_worker_t *self = arg;
    worker_io_reply(self->io, false, body_p);
    return 0;
}

//  Runs the handler on one REQUEST body (ownership taken) and returns the FINAL body, never
//  NULL. PARTIALs go through partial(partial_arg).
static zmsg_t *s_execute(sl_worker_t *self, zmsg_t **body_p, worker_job_send_fn *partial,
                         void *partial_arg)
{
    pthread_mutex_lock(&self->job_lock);
    s_emit(self, WORKER_EVENT_JOB_START);
    sl_job_t *job = worker_job_new(body_p, zclock_mono());
    zmsg_t *final = NULL;
    if (job) {
        worker_job_set_sender(job, partial, partial_arg);
        worker_job_set_cancel(job, &self->cancel);
        worker_job_set_worker_name(job, self->name);
        worker_job_announce(job);
        sl_log(SL_LOG_DEBUG, sl_job_request_id(job), "job_started", NULL);
        int rc = self->handler(job, self->handler_arg);
        if (rc != 0)
            sl_log(SL_LOG_WARN, sl_job_request_id(job), "handler_failed", NULL);
        sl_log(SL_LOG_DEBUG, sl_job_request_id(job), "job_finished", "rc=%d", rc);
        final = worker_job_final(job, rc);
        worker_job_destroy(&job);
    }
    pthread_mutex_unlock(&self->job_lock);
    //  Out of memory still owes the broker a FINAL, or the job would hang until expiry
    if (!final)
        final = zmsg_new();
    return final;
}

//  A job from the I/O thread, on the handler thread; its FINAL goes straight to its broker.
static void s_run_job(sl_worker_t *self, zmsg_t *msg)
{
    zmsg_t *final = s_execute(self, &msg, s_send_partial, self);
    worker_io_reply(self->io, true, &final);
    atomic_fetch_add(&self->done, 1);
    s_emit(self, WORKER_EVENT_JOB_END);
}

//  worker_io_inline_fn: a job run on the I/O thread (worker_set_inline).
static zmsg_t *s_run_inline(zmsg_t **body_p, worker_job_send_fn *partial, void *partial_arg,
                            void *arg, bool *stop)
{
    sl_worker_t *self = arg;
    zmsg_t *final = s_execute(self, body_p, partial, partial_arg);
    uint64_t done = atomic_fetch_add(&self->done, 1) + 1;
    s_emit(self, WORKER_EVENT_JOB_END);
    *stop = self->max_jobs && done >= self->max_jobs;
    return final;
}

//  Reads exactly size bytes from a blocking pipe; -1 at end of file or on error.
static int s_read_full(int fd, void *buffer, size_t size)
{
    size_t done = 0;
    while (done < size) {
        ssize_t got = read(fd, (char *) buffer + done, size - done);
        if (got == -1 && errno == EINTR)
            continue;
        if (got <= 0)
            return -1;
        done += (size_t) got;
    }
    return 0;
}

//  One broadcast record from the supervisor (worker_broadcast.h). The supervisor writes
//  whole records only, so once the length is there the rest follows without waiting on
//  anyone. A broken record or a closed pipe stops listening: the supervisor is gone.
static void s_read_broadcast(sl_worker_t *self)
{
    unsigned char head[WORKER_BROADCAST_HEAD_BYTES];
    char *body = NULL;
    uint32_t size;
    worker_broadcast_t broadcast;
    if (s_read_full(self->broadcast_fd, head, sizeof head) == -1 ||
        worker_broadcast_decode_head(head, &size) == -1)
        goto fail;
    body = malloc(size + 1);
    if (!body || s_read_full(self->broadcast_fd, body, size) == -1)
        goto fail;
    body[size] = '\0';
    if (worker_broadcast_decode_body(body, size, &broadcast) == -1)
        goto fail;
    sl_log(SL_LOG_INFO, NULL, "broadcast_received", "id=%s bytes=%zu pid=%d", broadcast.id,
           broadcast.size, (int) getpid());
    if (self->broadcast) {
        pthread_mutex_lock(&self->job_lock); // jobs may run on the I/O thread: not during one
        self->broadcast(broadcast.id, broadcast.data, broadcast.size, self->broadcast_arg);
        pthread_mutex_unlock(&self->job_lock);
    }
    free(body);
    s_emit(self, WORKER_EVENT_BROADCAST);
    return;
fail:
    free(body);
    close(self->broadcast_fd);
    self->broadcast_fd = -1;
}

//  Ends the I/O thread (it finishes with "$TERM") and frees the I/O side and its mailboxes.
static void s_io_stop(sl_worker_t *self)
{
    if (self->running) {
        worker_mailbox_post_str(self->from_handler, "$TERM");
        pthread_join(self->io_thread, NULL);
        self->running = false;
    }
    worker_io_destroy(&self->io);
    worker_mailbox_destroy(&self->to_handler);
    worker_mailbox_destroy(&self->from_handler);
}

//  Starts the I/O thread and waits for its first word. Returns 0, or -1 if it could not
//  start or failed (a bad endpoint: it said so).
static int s_io_start(sl_worker_t *self)
{
    self->to_handler = worker_mailbox_new();
    self->from_handler = worker_mailbox_new();
    if (self->to_handler && self->from_handler)
        self->io = worker_io_new(&self->config, self->to_handler, self->from_handler);
    if (!self->io) {
        s_io_stop(self);
        return -1;
    }
    //  Before its sockets: each broker's link on an I/O thread of its own
    sl_io_threads_request(self->config.broker_count);
    //  The I/O thread inherits a mask without the stop signals, so they land on this
    //  thread and interrupt its poll (libzmq's own threads block every signal)
    sigset_t stop_signals, previous;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, &previous);
    self->running = pthread_create(&self->io_thread, NULL, worker_io_thread, self->io) == 0;
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    zmsg_t *status = NULL;
    while (self->running && !(status = worker_mailbox_take(self->to_handler))) {
        //  A signal during start-up interrupts the wait; the answer still comes
        struct pollfd fd = {worker_mailbox_fd(self->to_handler), POLLIN, 0};
        poll(&fd, 1, -1);
    }
    char *word = status ? zmsg_popstr(status) : NULL;
    bool started = word && streq(word, "OK");
    zstr_free(&word);
    zmsg_destroy(&status);
    if (!started)
        s_io_stop(self);
    return started ? 0 : -1;
}

static bool s_should_stop(sl_worker_t *self)
{
    return self->stop || zsys_interrupted ||
           (self->max_jobs && atomic_load(&self->done) >= self->max_jobs);
}

int sl_worker_run(sl_worker_t *self, sl_worker_handler_fn *handler, void *arg)
{
    assert(self);
    assert(handler);
    assert(!self->running);
    //  RFC 7 has no way to share a slot between brokers or to declare more than one
    if (self->config.mdp == SL_MDP_V01 &&
        (self->config.broker_count > 1 || self->config.capacity > 1)) {
        sl_log(SL_LOG_ERROR, NULL, "mdp_unsupported",
               "mdp=0.1 brokers=%zu capacity=%d reason=one_broker_and_capacity_1_only",
               self->config.broker_count, self->config.capacity);
        return -1;
    }
    self->handler = handler;
    self->handler_arg = arg;
    self->config.run_inline = self->run_inline ? s_run_inline : NULL;
    self->config.inline_arg = self;
    if (self->config.identity)
        snprintf(self->name, sizeof self->name, "%s", self->config.identity);
    else {
        //  A random routing id names nothing a person can find: host and pid do
        char host[128] = "";
        gethostname(host, sizeof host - 1);
        snprintf(self->name, sizeof self->name, "%s/%d", host, (int) getpid());
    }
    if (s_io_start(self) != 0)
        return -1;
    sl_log(SL_LOG_INFO, NULL, "worker_started", "service=%s endpoint=%s brokers=%zu mdp=%s",
           self->config.service, self->config.brokers[0].endpoint, self->config.broker_count,
           self->config.mdp == SL_MDP_V01 ? "0.1" : "0.2");
    bool draining = false;
    while (true) {
        if (!draining && s_should_stop(self)) {
            //  The I/O thread answers DRAINED once no job is in hand and DISCONNECT is out
            worker_mailbox_post_str(self->from_handler, "DRAIN");
            draining = true;
        }
        //  fds[1] is -1 (ignored) once the broadcast pipe is closed
        struct pollfd fds[] = {{worker_mailbox_fd(self->to_handler), POLLIN, 0},
                               {self->broadcast_fd, POLLIN, 0},
                               {self->stop_fd, POLLIN, 0}};
        if (poll(fds, 3, draining ? -1 : WORKER_STOP_FALLBACK_MS) <= 0)
            continue; // a signal or the fallback: the loop head looks at the flags
        if (fds[2].revents) {
            uint64_t count; // the flag says it all; emptied so the poll sleeps again
            ssize_t got = read(self->stop_fd, &count, sizeof count);
            (void) got;
        }
        if (self->broadcast_fd >= 0 && fds[1].revents)
            s_read_broadcast(self); // between jobs: never while the handler runs
        zmsg_t *msg = worker_mailbox_take(self->to_handler);
        if (!msg)
            continue;
        char *command = zmsg_popstr(msg);
        if (command && streq(command, "JOB")) {
            //  Also while draining: a job the broker handed us before our DISCONNECT is
            //  the job in hand, and it is finished
            s_run_job(self, msg);
            msg = NULL;
        } else if (command && streq(command, "REGISTERED"))
            s_emit(self, WORKER_EVENT_REGISTERED);
        else if (command && streq(command, "DRAINED")) {
            zstr_free(&command);
            zmsg_destroy(&msg);
            break;
        }
        zstr_free(&command);
        zmsg_destroy(&msg);
    }
    s_io_stop(self);
    sl_log(SL_LOG_INFO, NULL, "worker_stopped", "jobs=%llu",
           (unsigned long long) atomic_load(&self->done));
    return 0;
}
