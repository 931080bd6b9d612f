/*  worker: sl_worker_t of slowlane/worker.h, the handler thread's side. It starts the I/O
    actor (worker_io.c), takes jobs from it, runs the handler on the caller's thread and
    hands back PARTIAL/FINAL bodies. Stopping is a drain: the job in hand finishes, its reply
    goes out, then DISCONNECT. The broker protocol itself lives in worker_io.c. */
#include <assert.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "sl_defaults.h"
#include "sl_log.h"
#include "sl_mdp.h"
#include "worker_hooks.h"
#include "worker_io.h"
#include "worker_job.h"

//  How often an idle run loop looks at the stop flag and zsys_interrupted: the latency of
//  a drain when the signal lands on another thread.
#define WORKER_STOP_POLL_MS 50

struct _sl_worker_t {
    worker_io_config_t config;  /* handed to the I/O actor */
    uint64_t max_jobs;          /* stop after this many; 0 = never */
    atomic_uint_fast64_t done;  /* jobs finished */
    volatile sig_atomic_t stop; /* sl_worker_stop was called */
    zactor_t *io;               /* the I/O actor while running */
    worker_event_fn *hook;      /* supervisor's observer, or NULL */
    void *hook_arg;             /* its argument */
};

sl_worker_t *sl_worker_new(const char *endpoint, const char *service)
{
    if (!endpoint || !*endpoint || !service || !*service || strlen(service) > SL_MAX_SERVICE_NAME ||
        strncmp(service, "mmi.", 4) == 0)
        return NULL;
    sl_worker_t *self = calloc(1, sizeof(sl_worker_t));
    if (!self)
        return NULL;
    self->config.endpoint = strdup(endpoint);
    self->config.service = strdup(service);
    self->config.heartbeat_ms = SL_DEFAULT_HEARTBEAT_MS;
    self->config.liveness = SL_DEFAULT_LIVENESS;
    self->config.reconnect_min_ms = SL_DEFAULT_RECONNECT_MIN_MS;
    self->config.reconnect_max_ms = SL_DEFAULT_RECONNECT_MAX_MS;
    if (!self->config.endpoint || !self->config.service)
        sl_worker_destroy(&self);
    return self;
}

void sl_worker_destroy(sl_worker_t **self_p)
{
    assert(self_p);
    sl_worker_t *self = *self_p;
    if (!self)
        return;
    zactor_destroy(&self->io);
    free(self->config.endpoint);
    free(self->config.service);
    free(self->config.identity);
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

void sl_worker_set_max_jobs(sl_worker_t *self, uint64_t max_jobs)
{
    assert(self);
    self->max_jobs = max_jobs;
}

void sl_worker_stop(sl_worker_t *self)
{
    //  Only a sig_atomic_t store: callable from a signal handler
    self->stop = 1;
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

static void s_emit(sl_worker_t *self, worker_event_t event)
{
    if (self->hook)
        self->hook(event, self->hook_arg);
}

//  worker_job_send_fn: a PARTIAL from sl_job_flush goes to the I/O actor.
static int s_send_partial(zmsg_t **body_p, void *arg)
{
    sl_worker_t *self = arg;
    zmsg_pushstr(*body_p, "PARTIAL");
    return zmsg_send(body_p, self->io);
}

static void s_run_job(sl_worker_t *self, zmsg_t *msg, sl_worker_handler_fn *handler, void *arg)
{
    s_emit(self, WORKER_EVENT_JOB_START);
    sl_job_t *job = worker_job_new(&msg, zclock_mono());
    zmsg_t *final = NULL;
    if (job) {
        worker_job_set_sender(job, s_send_partial, self);
        sl_log(SL_LOG_DEBUG, sl_job_request_id(job), "job_started", NULL);
        int rc = handler(job, arg);
        if (rc != 0)
            sl_log(SL_LOG_WARN, sl_job_request_id(job), "handler_failed", NULL);
        final = worker_job_final(job, rc);
        worker_job_destroy(&job);
    }
    //  Out of memory still owes the broker a FINAL, or the job would hang until expiry
    if (!final)
        final = zmsg_new();
    zmsg_pushstr(final, "FINAL");
    zmsg_send(&final, self->io);
    atomic_fetch_add(&self->done, 1);
    s_emit(self, WORKER_EVENT_JOB_END);
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
    assert(!self->io);
    self->io = zactor_new(worker_io_actor, &self->config);
    if (!self->io)
        return -1;
    //  A signal during start-up interrupts the receive; the answer still comes
    char *status = zstr_recv(self->io);
    for (int attempt = 0; !status && attempt < 10; attempt++)
        status = zstr_recv(self->io);
    bool started = status && streq(status, "OK");
    zstr_free(&status);
    if (!started) {
        zactor_destroy(&self->io);
        return -1;
    }
    sl_log(SL_LOG_INFO, NULL, "worker_started", "service=%s endpoint=%s", self->config.service,
           self->config.endpoint);
    bool draining = false;
    while (true) {
        if (!draining && s_should_stop(self)) {
            //  The actor answers DRAINED once no job is in hand and DISCONNECT is out
            zstr_send(self->io, "DRAIN");
            draining = true;
        }
        zmq_pollitem_t item = {zsock_resolve(self->io), 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, WORKER_STOP_POLL_MS) <= 0)
            continue;
        zmsg_t *msg = zmsg_recv(self->io);
        if (!msg)
            continue; // interrupted: the loop head turns that into a drain
        char *command = zmsg_popstr(msg);
        if (command && streq(command, "JOB")) {
            //  Also while draining: a job the broker handed us before our DISCONNECT is
            //  the job in hand, and it is finished
            s_run_job(self, msg, handler, arg);
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
    zactor_destroy(&self->io);
    sl_log(SL_LOG_INFO, NULL, "worker_stopped", "jobs=%llu",
           (unsigned long long) atomic_load(&self->done));
    return 0;
}
