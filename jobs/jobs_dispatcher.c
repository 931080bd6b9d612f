/*  jobs_dispatcher: the actor that runs stored jobs through the brokers (jobs_dispatcher.h).
    Why an attempt ends without a reply, and what follows (docs/jobs.md "Retries"):
      - the broker answers no_worker or queue_full (or shutting_down, for a job that is not
        retryable): the job never started, it goes back to the queue with backoff and the
        attempt is not counted;
      - worker_died (also when it ends a stream), expired, or shutting_down for a retryable
        job: counted; retried with backoff if the job is retryable and has attempts left,
        else failed;
      - after a restart, the broker says (mmi.request) it no longer holds an attempt that
        was out: its reply went to the dead process; counted, as reply_lost;
      - the broker is lost (its connection closed, or it left liveness probes unanswered):
        the same, for every attempt it held;
      - the attempt's own deadline (its timeout + grace) passes: the same. Its worker has had
        the whole timeout (it sees it in the envelope); before that nothing re-runs a job.
    A reply whose status is 5xx is retried like worker_died while attempts are left; the
    last one is kept as the result. */
#define _GNU_SOURCE /* asprintf */
#include "jobs_dispatcher.h"

#include <czmq.h>
#include <stdio.h>
#include <string.h>

#include "jobs_broker_link.h"
#include "jobs_flight.h"
#include "jobs_outcome.h"
#include "sl_envelope.h"
#include "sl_progress.h"
#include "sl_log.h"
#include "sl_mdp.h"

#define S_MAX_BROKERS     16
#define S_TICK_MS         100 /* claims, deadlines and probes are looked at this often */
#define S_BATCH_DELAY_MS  5   /* a wake claims after this long, so submits batch */
#define S_EXPIRE_EVERY_MS 1000
#define S_SELECT_MAX      256 /* entries handled per sweep; the next tick takes the rest */

typedef struct {
    zsock_t *pipe;                             /* to the owner */
    jobs_store_t *store;                       /* borrowed */
    jobs_dispatcher_config_t config;           /* brokers and curve not kept (see below) */
    jobs_broker_link_t brokers[S_MAX_BROKERS]; /* one client socket each */
    size_t broker_count;                       /* in use */
    jobs_flight_t *flight;                     /* attempts out */
    jobs_outcome_t outcome;                    /* what becomes of them */
    zpoller_t *poller;                         /* pipe, dealers, monitors */
    bool claim_soon;                           /* claim before the next tick ... */
    int64_t claim_soon_at_ms;                  /* ... at this time */
    int64_t tick_at_ms;                        /* probes, deadlines, claims next */
    int64_t expire_at_ms;                      /* when to expire next */
    bool terminated;                           /* $TERM seen */
    sl_log_limit_t late_limit;                 /* late or foreign replies */
} s_actor_t;

struct _jobs_dispatcher_t {
    zactor_t *actor; /* s_actor_t's thread */
};

/* Everything the actor needs at start, handed over through zactor's argument. */
typedef struct {
    const jobs_dispatcher_config_t *config;
    jobs_store_t *store;
    int status; /* set by the actor before it signals: 0 started, -1 failed */
} s_start_t;

static int64_t s_wall_ms(void)
{
    return zclock_time();
}

/* A submission came or a slot was freed: claim soon, not at the next tick. */
static void s_claim_soon(s_actor_t *self)
{
    if (!self->claim_soon)
        self->claim_soon_at_ms = zclock_mono() + S_BATCH_DELAY_MS;
    self->claim_soon = true;
}

/* ---------------------------------------------------------------- outcomes */

/* jobs_outcome decides and writes; a slot it freed is claimed again soon. */
static void s_attempt_lost(s_actor_t *self, jobs_flight_entry_t *entry, const char *reason,
                           bool counted)
{
    if (jobs_outcome_lost(&self->outcome, entry, reason, counted))
        s_claim_soon(self);
}

static void s_on_reply(s_actor_t *self, jobs_flight_entry_t *entry, zmsg_t *body, bool final)
{
    if (jobs_outcome_reply(&self->outcome, entry, body, final))
        s_claim_soon(self);
}

/* The attempts taken up after a restart that went to this broker: asks it, per attempt,
   whether it still holds the request (mmi.request, protocol.md 2.6). A "404" means the reply
   went to the dead process: the attempt ends at once instead of at its deadline. */
static void s_ask_recovered(s_actor_t *self, size_t index)
{
    size_t size = jobs_flight_size(self->flight);
    jobs_flight_entry_t **entries = size ? calloc(size, sizeof *entries) : NULL;
    size_t count = entries ? jobs_flight_select(self->flight, (int) index, 0, entries, size) : 0;
    for (size_t i = 0; i < count; i++) {
        if (!entries[i]->recovered || entries[i]->asked)
            continue;
        if (jobs_broker_link_ask(&self->brokers[index], "mmi.request", entries[i]->key) == 0)
            entries[i]->asked = true;
    }
    free(entries);
}

/* DELETE of a running job: asks the broker that has its attempt to cancel it (mmi.cancel,
   protocol.md 3.8). The broker answers the attempt `cancelled`, which ends it like any
   other error; the store makes the job cancelled, since its cancel was requested. An
   attempt whose broker is lost now ends anyway, and the job with it. */
static void s_cancel_attempt(s_actor_t *self, const char *key)
{
    jobs_flight_entry_t *entry = key ? jobs_flight_find(self->flight, key) : NULL;
    if (!entry || entry->broker < 0 || (size_t) entry->broker >= self->broker_count)
        return;
    int rc = jobs_broker_link_ask(&self->brokers[entry->broker], "mmi.cancel", entry->key);
    sl_log(SL_LOG_INFO, entry->id, "job_cancel_sent", "attempt=%d broker=%s%s", entry->attempt,
           self->brokers[entry->broker].endpoint, rc == 0 ? "" : " note=not_sent");
}

/* A broker's answer to mmi.cancel: [code, id]. 404: the attempt was answered before the
   cancel came; that answer decides (a result kept, or the job cancelled by the store). */
static void s_on_cancel_answer(zmsg_t *body)
{
    char *code = zmsg_popstr(body);
    char *key = zmsg_popstr(body);
    sl_log(SL_LOG_INFO, NULL, "job_cancel_answered", "attempt=%s code=%s", key ? key : "-",
           code ? code : "-");
    free(code);
    free(key);
}

/* A broker's answer to mmi.request: [code, id]. */
static void s_on_request_answer(s_actor_t *self, zmsg_t *body)
{
    char *code = zmsg_popstr(body);
    char *key = zmsg_popstr(body);
    jobs_flight_entry_t *entry = key ? jobs_flight_find(self->flight, key) : NULL;
    if (entry && entry->recovered && code && strcmp(code, "404") == 0)
        s_attempt_lost(self, entry, "reply_lost", true);
    else if (entry && entry->recovered)
        sl_log(SL_LOG_INFO, entry->id, "job_still_held", "attempt=%d", entry->attempt);
    free(code);
    free(key);
}

static void s_broker_heard(s_actor_t *self, size_t index)
{
    jobs_broker_link_t *broker = &self->brokers[index];
    if (!broker->alive) {
        sl_log(SL_LOG_INFO, NULL, "jobs_broker_up", "broker=%s", broker->endpoint);
        s_claim_soon(self);
    }
    bool was_alive = broker->alive;
    broker->alive = true;
    broker->heard_ms = zclock_mono();
    if (!was_alive)
        s_ask_recovered(self, index);
}

static void s_on_broker_message(s_actor_t *self, size_t index)
{
    zmsg_t *msg = zmsg_recv(self->brokers[index].dealer);
    if (!msg)
        return;
    s_broker_heard(self, index);
    sl_mdp_msg_t decoded = {0};
    const char *why = NULL;
    if (sl_mdp_decode(&msg, SL_MDP_FROM_BROKER, &decoded, &why) != 0 || decoded.from_worker_side ||
        !decoded.body) {
        sl_log_limited(&self->late_limit, SL_LOG_WARN, NULL, "jobs_reply_malformed",
                       "broker=%s reason=%s", self->brokers[index].endpoint, why ? why : "-");
        sl_mdp_msg_reset(&decoded);
        return;
    }
    if (zframe_streq(decoded.service, "mmi.service")) {
        sl_mdp_msg_reset(&decoded); /* a probe's answer: hearing it was the point */
        return;
    }
    if (zframe_streq(decoded.service, "mmi.request")) {
        s_on_request_answer(self, decoded.body);
        sl_mdp_msg_reset(&decoded);
        return;
    }
    if (zframe_streq(decoded.service, "mmi.cancel")) {
        s_on_cancel_answer(decoded.body);
        sl_mdp_msg_reset(&decoded);
        return;
    }
    zframe_t *id_frame = zmsg_pop(decoded.body);
    char key[JOBS_FLIGHT_KEY_MAX + 1] = "";
    if (id_frame && zframe_size(id_frame) <= JOBS_FLIGHT_KEY_MAX)
        memcpy(key, zframe_data(id_frame), zframe_size(id_frame));
    zframe_destroy(&id_frame);
    jobs_flight_entry_t *entry = jobs_flight_find(self->flight, key);
    if (!entry) {
        sl_log_limited(&self->late_limit, SL_LOG_INFO, NULL, "jobs_reply_late", "attempt=%s",
                       key[0] ? key : "-");
    } else {
        s_on_reply(self, entry, decoded.body, decoded.command == SL_MDP_FINAL);
    }
    sl_mdp_msg_reset(&decoded);
}

/* ---------------------------------------------------------------- brokers */

static void s_broker_lost(s_actor_t *self, size_t index, const char *reason)
{
    jobs_broker_link_t *broker = &self->brokers[index];
    if (broker->alive)
        sl_log(SL_LOG_WARN, NULL, "jobs_broker_lost", "broker=%s reason=%s attempts_out=%lld",
               broker->endpoint, reason,
               (long long) jobs_flight_broker_count(self->flight, (int) index));
    broker->alive = false;
    jobs_flight_entry_t *lost[S_SELECT_MAX];
    size_t count;
    while ((count = jobs_flight_select(self->flight, (int) index, 0, lost, S_SELECT_MAX)) > 0)
        for (size_t i = 0; i < count; i++)
            s_attempt_lost(self, lost[i], "broker_lost", true);
}

static void s_on_monitor(s_actor_t *self, size_t index)
{
    jobs_broker_link_event_t event = jobs_broker_link_event(&self->brokers[index]);
    if (event == JOBS_LINK_DISCONNECTED)
        s_broker_lost(self, index, "disconnected");
    else if (event == JOBS_LINK_CONNECTED)
        self->brokers[index].probe_due_ms = 0; /* ask at once: alive as soon as it answers */
}

static void s_probe(s_actor_t *self, int64_t now_ms)
{
    int64_t window = self->config.heartbeat_ms * self->config.liveness;
    for (size_t i = 0; i < self->broker_count; i++) {
        jobs_broker_link_t *broker = &self->brokers[i];
        if (broker->alive && now_ms - broker->heard_ms > window)
            s_broker_lost(self, i, "silent");
        if (now_ms < broker->probe_due_ms)
            continue;
        broker->probe_due_ms = now_ms + self->config.heartbeat_ms;
        jobs_broker_link_ask(broker, "mmi.service", SL_JOBS_SERVICE);
    }
}

static int s_brokers_open(s_actor_t *self, const jobs_dispatcher_config_t *config)
{
    for (size_t i = 0; i < config->broker_count; i++) {
        char identity[256];
        snprintf(identity, sizeof identity, "%s/%zu", config->identity, i);
        jobs_broker_link_t *broker = &self->brokers[i];
        self->broker_count++; /* closed at the end whether it opened or not */
        if (jobs_broker_link_open(broker, config->brokers[i], identity, &config->curves[i]) != 0)
            return -1;
        zpoller_add(self->poller, broker->dealer);
        zpoller_add(self->poller, broker->monitor);
    }
    return 0;
}

/* ---------------------------------------------------------------- claims */

/* The alive broker with the fewest attempts out, or -1. */
static int s_pick_broker(s_actor_t *self)
{
    int best = -1;
    for (size_t i = 0; i < self->broker_count; i++)
        if (self->brokers[i].alive &&
            (best < 0 || jobs_flight_broker_count(self->flight, (int) i) <
                             jobs_flight_broker_count(self->flight, best)))
            best = (int) i;
    return best;
}

/* Claim callback: one attempt into the flight table and onto its broker. */
static void s_send_attempt(jobs_attempt_t *attempt, void *arg)
{
    s_actor_t *self = arg;
    const jobs_record_t *record = &attempt->record;
    int64_t deadline = zclock_mono() + record->timeout_ms + self->config.grace_ms;
    jobs_flight_entry_t *entry = jobs_flight_add(self->flight, record, deadline, false);
    if (!entry) {
        jobs_store_requeue(self->store, record->id, record->attempts, false, s_wall_ms(),
                           "dispatcher_out_of_memory", s_wall_ms());
        jobs_attempt_reset(attempt);
        return;
    }
    sl_envelope_meta_t meta = {.timeout_ms = record->timeout_ms, .retryable = record->retryable};
    snprintf(meta.id, sizeof meta.id, "%s", entry->key);
    /* The worker sees the request as a synchronous one's worker does, and the job's id: its
       handler may report progress (protocol.md 4.6) and use the id as an idempotency key. */
    char *headers = NULL;
    int headers_size =
        asprintf(&headers, "%.*s%s: %s\r\n", (int) attempt->headers_size,
                 attempt->headers ? attempt->headers : "", SL_PROGRESS_JOB_FIELD, record->id);
    zmsg_t *body = headers_size >= 0
                       ? sl_request_envelope_encode(&meta, attempt->method, attempt->path,
                                                    attempt->query, headers, (size_t) headers_size,
                                                    attempt->body, attempt->body_size)
                       : NULL;
    if (headers_size >= 0)
        free(headers);
    zmsg_t *request =
        body ? sl_mdp_encode_client_request(SL_MDP_V02, record->service, &body) : NULL;
    int rc = jobs_broker_link_send(&self->brokers[entry->broker], &request);
    sl_log(SL_LOG_INFO, record->id, "job_dispatched", "attempt=%d service=%s broker=%s%s",
           record->attempts, record->service, self->brokers[entry->broker].endpoint,
           rc == 0 ? "" : " send=failed");
    if (rc != 0)
        s_attempt_lost(self, entry, "send_failed", false);
    jobs_attempt_reset(attempt);
}

typedef struct {
    char **names;
    size_t count;
} s_services_t;

static void s_collect_service(const char *service, void *arg)
{
    s_services_t *services = arg;
    char **grown = realloc(services->names, (services->count + 1) * sizeof *grown);
    if (!grown)
        return;
    services->names = grown;
    services->names[services->count] = strdup(service);
    if (services->names[services->count])
        services->count++;
}

static void s_claim(s_actor_t *self)
{
    self->claim_soon = false;
    if (s_pick_broker(self) < 0)
        return;
    s_services_t services = {0};
    jobs_store_due_services(self->store, s_wall_ms(), s_collect_service, &services);
    for (size_t i = 0; i < services.count; i++) {
        int64_t room =
            self->config.max_in_flight - jobs_flight_service_count(self->flight, services.names[i]);
        int broker = s_pick_broker(self);
        if (room > 0 && broker >= 0)
            jobs_store_claim(self->store, services.names[i], s_wall_ms(), (int) room, broker,
                             s_send_attempt, self);
        free(services.names[i]);
    }
    free(services.names);
}

/* ---------------------------------------------------------------- the loop */

static void s_recover(s_actor_t *self);

static void s_sweep_deadlines(s_actor_t *self, int64_t now_ms)
{
    jobs_flight_entry_t *due[S_SELECT_MAX];
    size_t count = jobs_flight_select(self->flight, -1, now_ms, due, S_SELECT_MAX);
    for (size_t i = 0; i < count; i++) {
        if (due[i]->unsaved ? jobs_outcome_retry_unsaved(&self->outcome, due[i])
                            : jobs_outcome_lost(&self->outcome, due[i], "timeout", true))
            s_claim_soon(self);
    }
}

/* The owner's word: $TERM, WAKE (a submission), or CANCEL and an attempt's key. */
static void s_on_pipe(s_actor_t *self)
{
    zmsg_t *msg = zmsg_recv(self->pipe);
    char *command = msg ? zmsg_popstr(msg) : NULL;
    if (!command || strcmp(command, "$TERM") == 0)
        self->terminated = true;
    else if (strcmp(command, "CANCEL") == 0) {
        char *key = zmsg_popstr(msg);
        s_cancel_attempt(self, key);
        free(key);
    } else
        s_claim_soon(self);
    free(command);
    zmsg_destroy(&msg);
}

static void s_actor(zsock_t *pipe, void *arg)
{
    s_start_t *start = arg;
    s_actor_t self = {.pipe = pipe, .store = start->store, .config = *start->config};
    self.config.brokers = NULL;
    self.config.curves = NULL;
    self.flight = jobs_flight_new(start->config->broker_count);
    self.outcome = (jobs_outcome_t){.store = self.store,
                                    .flight = self.flight,
                                    .retry_base_ms = self.config.retry_base_ms,
                                    .retry_max_ms = self.config.retry_max_ms,
                                    .max_result_bytes = self.config.max_result_bytes,
                                    .unsaved_retry_ms = S_TICK_MS};
    self.poller = zpoller_new(pipe, NULL);
    if (self.poller)
        zpoller_set_nonstop(self.poller, true); /* SIGTERM is the owner's: it sends $TERM */
    if (!self.flight || !self.poller || s_brokers_open(&self, start->config) != 0) {
        start->status = -1;
        zsock_signal(pipe, 1);
        goto done;
    }
    s_recover(&self);
    zsock_signal(pipe, 0);
    while (!self.terminated) {
        /* Two clocks: the tick (probes, deadlines, claims, expiry) runs on its own time
           whatever wakes the poller, so no stream of messages or submissions can starve
           it; a claim asked for sooner (a submission, a freed slot) runs S_BATCH_DELAY_MS
           after it was asked, so a burst of submissions is claimed in one transaction. */
        int64_t now = zclock_mono();
        int64_t next = self.claim_soon && self.claim_soon_at_ms < self.tick_at_ms
                           ? self.claim_soon_at_ms
                           : self.tick_at_ms;
        zsock_t *which = zpoller_wait(self.poller, (int) (next > now ? next - now : 0));
        if (which == pipe)
            s_on_pipe(&self);
        for (size_t i = 0; which && i < self.broker_count; i++) {
            if (which == self.brokers[i].dealer)
                s_on_broker_message(&self, i);
            else if (which == (zsock_t *) self.brokers[i].monitor)
                s_on_monitor(&self, i);
        }
        now = zclock_mono();
        if (now >= self.tick_at_ms) {
            s_probe(&self, now);
            s_sweep_deadlines(&self, now);
            jobs_outcome_flush_progress(&self.outcome);
            s_claim(&self);
            self.tick_at_ms = now + S_TICK_MS;
            if (now >= self.expire_at_ms) {
                jobs_store_expire(self.store, s_wall_ms(), self.config.expired_keep_ms);
                self.expire_at_ms = now + S_EXPIRE_EVERY_MS;
            }
        } else if (self.claim_soon && now >= self.claim_soon_at_ms) {
            s_claim(&self);
        }
    }
done:
    for (size_t i = 0; i < S_MAX_BROKERS; i++)
        jobs_broker_link_close(&self.brokers[i]);
    zpoller_destroy(&self.poller);
    jobs_flight_destroy(&self.flight);
}

/* Attempts out when the last process stopped: back in the table with what is left of their
   deadline. Their brokers route replies to our identity, so one that comes is kept; one
   answered while no process was there never comes, and its attempt ends at its deadline.
   They do not count against their service's attempts out, or a crash with the limit out
   would hold back every new job of the service until those deadlines. */
static void s_recover_one(const jobs_record_t *record, void *arg)
{
    s_actor_t *self = arg;
    int64_t left = record->started_ms + record->timeout_ms - s_wall_ms();
    if (left < 0)
        left = 0;
    jobs_flight_entry_t *entry =
        jobs_flight_add(self->flight, record, zclock_mono() + left + self->config.grace_ms, true);
    sl_log(SL_LOG_INFO, record->id, "job_recovered", "attempt=%d service=%s broker=%d%s",
           record->attempts, record->service, record->broker, entry ? "" : " note=no_memory");
}

static void s_recover(s_actor_t *self)
{
    jobs_store_running(self->store, s_recover_one, self);
    if (jobs_flight_size(self->flight) > 0)
        sl_log(SL_LOG_INFO, NULL, "jobs_recovered", "attempts_out=%zu",
               jobs_flight_size(self->flight));
}

/* ---------------------------------------------------------------- public */

jobs_dispatcher_t *jobs_dispatcher_new(const jobs_dispatcher_config_t *config, jobs_store_t *store)
{
    if (!config || !store || config->broker_count == 0 || config->broker_count > S_MAX_BROKERS)
        return NULL;
    jobs_dispatcher_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    s_start_t start = {.config = config, .store = store};
    self->actor = zactor_new(s_actor, &start);
    if (self->actor && start.status != 0)
        zactor_destroy(&self->actor);
    if (!self->actor) {
        free(self);
        return NULL;
    }
    return self;
}

void jobs_dispatcher_destroy(jobs_dispatcher_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zactor_destroy(&(*self_p)->actor);
    free(*self_p);
    *self_p = NULL;
}

void jobs_dispatcher_cancel(jobs_dispatcher_t *self, const char *id, int attempt)
{
    if (!self)
        return;
    char key[JOBS_FLIGHT_KEY_MAX + 1];
    int size = snprintf(key, sizeof key, "%s.%d", id, attempt);
    if (size <= 0 || (size_t) size >= sizeof key)
        return;
    void *pipe = zsock_resolve(self->actor);
    /* A full pipe drops the request: the job stays cancel_requested, and its result is
       thrown away when the attempt ends. Both parts go, or neither (multipart is atomic). */
    if (zmq_send(pipe, "CANCEL", 6, ZMQ_SNDMORE | ZMQ_DONTWAIT) == 6)
        zmq_send(pipe, key, (size_t) size, ZMQ_DONTWAIT);
}

void jobs_dispatcher_wake(jobs_dispatcher_t *self)
{
    if (self)
        zmq_send(zsock_resolve(self->actor), "WAKE", 4, ZMQ_DONTWAIT);
}
