/*  worker_io: the I/O side of a worker process (see worker_io.h). It owns the jobs: which
    link each came over, which one the handler has, which wait behind it. The connections
    themselves are worker_broker_link.c's; with several brokers, how many slots each may use
    (protocol.md 3.7) is worker_grants.c's. A broker lost costs only that broker's jobs not
    yet started; the others' links never notice. Both threads of the worker run this file's
    code, one at a time under its lock: the I/O thread all of it, the handler thread the
    sending of its replies. */
#include <assert.h>
#include <pthread.h>
#include <string.h>
#include "sl_defaults.h"
#include "sl_log.h"
#include "sl_mdp.h"
#include "worker_broker_link.h"
#include "worker_grants.h"
#include "worker_held_job.h"
#include "worker_io.h"

struct _worker_io_t {
    pthread_mutex_t lock; /* held by the I/O thread except while it sleeps, and by the handler
                             thread while it replies: everything below, and the sockets */
    worker_mailbox_t *to_handler;                       /* to the handler thread */
    worker_mailbox_t *from_handler;                     /* and back */
    worker_io_config_t *config;                         /* borrowed from the caller */
    worker_broker_link_settings_t settings;             /* what every link shares */
    sl_curve_client_t curves[SL_MAX_WORKER_BROKERS];    /* per link: borrowed keys of
                                                           config, never cleared here */
    worker_broker_link_t *links[SL_MAX_WORKER_BROKERS]; /* one per broker */
    size_t link_count;                                  /* = config->broker_count */
    bool several;                                       /* more than one: 3.7 applies */
    worker_grants_t *grants;                            /* per link: jobs held, limits */
    worker_held_job_t *current;                         /* the job in hand, NULL when idle */
    zlist_t *pending;                                   /* worker_held_job_t received behind it */
    bool draining;   /* DRAIN asked: DISCONNECT once the job in hand is done */
    bool drained;    /* DISCONNECT sent: the conversation is over */
    bool terminated; /* $TERM received */
    bool stopped;    /* the I/O thread has ended: its links are gone */
};

//  Broker messages handled per link and wake-up before the handler's messages and the
//  timers get a turn.
#define WORKER_IO_RECV_BATCH 64

static sl_log_limit_t s_refused_limit;

//  True if the connection the job came over is still up: its replies have somewhere to go,
//  and it counts in that broker's jobs held.
static bool s_job_live(worker_io_t *self, const worker_held_job_t *job)
{
    worker_broker_link_t *link = self->links[job->link];
    return worker_broker_link_connected(link) &&
           worker_broker_link_generation(link) == job->generation;
}

static size_t s_jobs_held(worker_io_t *self)
{
    return (self->current ? 1 : 0) + zlist_size(self->pending);
}

//  Several brokers: works out every broker's limit and sends CREDIT to each whose limit
//  changed. Called after every wake-up and, before its FINAL goes out, whenever a job
//  ends, so a lowered limit reaches its broker ahead of the FINAL that frees the slot.
static void s_grant(worker_io_t *self)
{
    if (self->several && !self->drained)
        worker_grants_update(self->grants, self->links, (int) s_jobs_held(self), self->draining);
}

//  Registers a link (again): READY with its share of the free slots as they stand now.
static void s_connect(worker_io_t *self, size_t index)
{
    int credit = self->several ? worker_grants_ready_credit(self->grants, index,
                                                            (int) s_jobs_held(self), self->draining)
                               : -1;
    bool sent = worker_broker_link_connect(self->links[index], credit) == 0;
    worker_grants_ready_sent(self->grants, index, sent, credit);
}

//  A link was lost: its jobs not yet started are its broker's to re-queue or fail (nobody
//  would get their reply), and it no longer has a say in the grants. A job of it in hand
//  keeps running, and keeps its slot, as an orphan.
static void s_forget_link(worker_io_t *self, size_t index)
{
    size_t dropped = 0;
    worker_held_job_t *job = (worker_held_job_t *) zlist_first(self->pending);
    while (job) {
        worker_held_job_t *next = (worker_held_job_t *) zlist_next(self->pending);
        if (job->link == index && !s_job_live(self, job)) {
            zlist_remove(self->pending, job);
            worker_held_job_destroy(&job);
            dropped++;
        }
        job = next;
    }
    worker_grants_forget(self->grants, index);
    if (dropped || (self->current && self->current->link == index))
        sl_log(SL_LOG_WARN, NULL, "broker_jobs_lost", "endpoint=%s busy=%s dropped_jobs=%zu",
               worker_broker_link_endpoint(self->links[index]),
               self->current && self->current->link == index ? "true" : "false", dropped);
}

static void s_lose_link(worker_io_t *self, size_t index, const char *reason)
{
    worker_broker_link_lose(self->links[index], reason);
    s_forget_link(self, index);
}

//  Ends the conversation: DISCONNECT on every link (given time to leave the socket) and no
//  more sends.
static void s_finish_drain(worker_io_t *self)
{
    for (size_t index = 0; index < self->link_count; index++)
        worker_broker_link_disconnect(self->links[index],
                                      self->config->heartbeat_ms * self->config->liveness);
    self->drained = true;
    worker_mailbox_post_str(self->to_handler, "DRAINED");
}

//  Sends a PARTIAL of the job in hand (body taken), if its broker is still the one we talk
//  to.
static void s_send_partial(worker_io_t *self, zmsg_t **body_p)
{
    if (self->current && self->config->mdp == SL_MDP_V01)
        worker_held_job_keep_part(self->current, body_p);
    if (self->current && *body_p && !self->drained && s_job_live(self, self->current))
        worker_broker_link_send_reply(self->links[self->current->link], false,
                                      self->current->address, body_p);
    zmsg_destroy(body_p);
}

//  The job in hand is done: its slot is freed, the grants are brought up to date (a
//  lowered limit must travel ahead of the FINAL), then the FINAL (body taken) goes out.
static void s_finish_job(worker_io_t *self, zmsg_t **final_p)
{
    worker_held_job_t *job = self->current;
    self->current = NULL;
    assert(job);
    bool live = s_job_live(self, job);
    if (live)
        worker_grants_released(self->grants, job->link);
    s_grant(self);
    if (job->parts) {
        //  MDP/0.1: the parts kept so far, then the FINAL's own frames, as one REPLY
        worker_held_job_keep_part(job, final_p);
        *final_p = job->parts;
        job->parts = NULL;
    }
    if (live && !self->drained)
        worker_broker_link_send_reply(self->links[job->link], true, job->address, final_p);
    else
        sl_log(SL_LOG_WARN, NULL, "reply_dropped", "reason=broker_lost endpoint=%s",
               worker_broker_link_endpoint(self->links[job->link]));
    zmsg_destroy(final_p);
    worker_held_job_destroy(&job);
}

//  worker_job_send_fn for inline jobs: a PARTIAL goes straight to the broker.
static int s_send_partial_inline(zmsg_t **body_p, void *arg)
{
    s_send_partial((worker_io_t *) arg, body_p);
    return 0;
}

//  Runs the job in hand on this thread (config->run_inline) and sends its FINAL; drains
//  after it if the worker is done (max jobs).
static void s_run_inline(worker_io_t *self)
{
    bool stop = false;
    zmsg_t *final = self->config->run_inline(&self->current->body, s_send_partial_inline, self,
                                             self->config->inline_arg, &stop);
    s_finish_job(self, &final);
    if (stop)
        self->draining = true;
    if (self->draining && !self->drained)
        s_finish_drain(self);
}

//  Starts job (taken) as the job in hand: on this thread (run_inline) or the handler's.
static void s_start_job(worker_io_t *self, worker_held_job_t *job)
{
    assert(!self->current);
    self->current = job;
    if (self->config->run_inline)
        s_run_inline(self);
    else {
        zmsg_t *body = job->body ? job->body : zmsg_new();
        job->body = NULL;
        //  The handler is done with the last job: what was raised for it is not this one's
        if (self->config->cancel)
            worker_cancel_reset(self->config->cancel);
        zmsg_pushstr(body, "JOB");
        worker_mailbox_post(self->to_handler, &body);
    }
}

//  The handler is free: hands it the next job received ahead, if any.
static void s_next_job(worker_io_t *self)
{
    while (!self->current && !self->drained && zlist_size(self->pending))
        s_start_job(self, (worker_held_job_t *) zlist_pop(self->pending));
}

//  A REQUEST over link index (address and body taken from mdp): queued, started, or with
//  every slot taken handed back (several brokers) or refused (one broker, as always).
static void s_take_request(worker_io_t *self, size_t index, sl_mdp_msg_t *mdp)
{
    if (self->drained) {
        //  After DISCONNECT the broker re-queues or fails it
        sl_log_limited(&s_refused_limit, SL_LOG_WARN, NULL, "request_refused", "reason=draining");
        return;
    }
    bool full = s_jobs_held(self) >= (size_t) self->config->capacity;
    worker_held_job_t *job =
        full ? NULL
             : worker_held_job_new(index, worker_broker_link_generation(self->links[index]),
                                   &mdp->address, &mdp->body);
    if (!job) {
        //  Out of memory is a full worker too: the job is not started, its broker has it
        if (!self->several) {
            sl_log_limited(&s_refused_limit, SL_LOG_WARN, NULL, "request_refused", "reason=%s",
                           full ? "busy" : "out_of_memory");
            return;
        }
        //  3.7: two brokers sent into one free slot. Never started: back at once, and the
        //  broker counts as having waiting work; it sends nothing more until our next CREDIT
        worker_broker_link_send_handback(self->links[index], mdp->address);
        worker_grants_handed_back(self->grants, index);
        sl_log(SL_LOG_DEBUG, NULL, "job_handed_back", "endpoint=%s",
               worker_broker_link_endpoint(self->links[index]));
        return;
    }
    worker_grants_taken(self->grants, index);
    //  An idle worker starts it at once; a busy one queues it (capacity > 1)
    if (!self->current && !zlist_size(self->pending))
        s_start_job(self, job);
    else
        zlist_append(self->pending, job);
}

//  CANCEL from link index (protocol.md 3.8): that broker has answered the job's client and
//  drops our replies. The job in hand is told (sl_job_cancelled); its handler decides how
//  soon it stops, and its FINAL frees the slot. A job waiting behind it never starts: an
//  empty FINAL frees its slot now. A job not here any more finished while the CANCEL was
//  on its way: nothing to do (the broker sent nothing after the CANCEL into that slot).
static void s_cancel_job(worker_io_t *self, size_t index, zframe_t *address)
{
    worker_held_job_t *job = self->current;
    if (job && job->link == index && s_job_live(self, job) && zframe_eq(job->address, address)) {
        if (self->config->cancel)
            worker_cancel_raise(self->config->cancel);
        sl_log(SL_LOG_INFO, NULL, "job_cancelled", "endpoint=%s started=true",
               worker_broker_link_endpoint(self->links[index]));
        return;
    }
    for (job = (worker_held_job_t *) zlist_first(self->pending); job;
         job = (worker_held_job_t *) zlist_next(self->pending))
        if (job->link == index && s_job_live(self, job) && zframe_eq(job->address, address))
            break;
    if (!job)
        return;
    zlist_remove(self->pending, job);
    worker_grants_released(self->grants, index);
    s_grant(self);
    zmsg_t *final = zmsg_new();
    if (final && !self->drained)
        worker_broker_link_send_reply(self->links[index], true, job->address, &final);
    zmsg_destroy(&final);
    worker_held_job_destroy(&job);
    sl_log(SL_LOG_INFO, NULL, "job_cancelled", "endpoint=%s started=false",
           worker_broker_link_endpoint(self->links[index]));
}

//  Handles one message from link index. Returns -1 if none was waiting, 0 otherwise.
static int s_handle_broker(worker_io_t *self, size_t index)
{
    sl_mdp_msg_t mdp;
    bool registered = false;
    int result = worker_broker_link_recv(self->links[index], &mdp, &registered);
    if (result == -2) {
        s_lose_link(self, index, "unexpected_answer");
        return 0;
    }
    if (result <= 0)
        return result;
    if (registered)
        worker_mailbox_post_str(self->to_handler, "REGISTERED");
    switch (mdp.command) {
    case SL_MDP_REQUEST:
        s_take_request(self, index, &mdp);
        break;
    case SL_MDP_HEARTBEAT:
        break;
    case SL_MDP_DEMAND:
        //  Sent only to a READY with a credit frame; a lone broker's has no effect
        worker_grants_set_hungry(self->grants, index, mdp.demand);
        break;
    case SL_MDP_CANCEL:
        s_cancel_job(self, index, mdp.address);
        break;
    case SL_MDP_DISCONNECT:
        s_lose_link(self, index, "disconnect");
        break;
    default:
        sl_log_limited(&s_refused_limit, SL_LOG_WARN, NULL, "unexpected_command", "command=%s",
                       sl_mdp_command_name(mdp.command));
        break;
    }
    sl_mdp_msg_reset(&mdp);
    return 0;
}

//  One message from the handler thread.
static void s_handle_command(worker_io_t *self, zmsg_t *msg)
{
    char *command = zmsg_popstr(msg);
    if (!command) {
        zmsg_destroy(&msg);
        return;
    }
    //  "READ" asks for nothing more than the wake-up: every wake-up reads what waits
    if (streq(command, "$TERM"))
        self->terminated = true;
    else if (streq(command, "DRAIN")) {
        self->draining = true;
        if (!self->current && !self->drained)
            s_finish_drain(self);
    }
    zstr_free(&command);
    zmsg_destroy(&msg);
}

//  Everything the handler thread sent since the last wake-up.
static void s_handle_commands(worker_io_t *self)
{
    zmsg_t *msg;
    while (!self->terminated && (msg = worker_mailbox_take(self->from_handler)))
        s_handle_command(self, msg);
}

//  One broker: no new READY while a job is in hand, or the broker would hand us a second
//  one (protocol.md 2.3). Several: a restarted broker must see us again at once, with the
//  credit our orphans leave it.
static bool s_may_reconnect(worker_io_t *self)
{
    return !self->drained && (self->several || !self->current);
}

//  Heartbeat and reconnect timers of every link, run whenever the poll wakes.
static void s_run_timers(worker_io_t *self)
{
    if (self->drained)
        return;
    int64_t now = zclock_mono();
    for (size_t index = 0; index < self->link_count; index++) {
        worker_broker_link_t *link = self->links[index];
        if (worker_broker_link_tick(link, now))
            s_forget_link(self, index);
        else if (s_may_reconnect(self) && worker_broker_link_reconnect_due(link, now))
            s_connect(self, index);
    }
}

static long s_poll_timeout(worker_io_t *self)
{
    int64_t now = zclock_mono();
    int64_t wake = now + 1000;
    if (!self->drained)
        for (size_t index = 0; index < self->link_count; index++) {
            int64_t at = worker_broker_link_wake_at(self->links[index], s_may_reconnect(self));
            if (at < wake)
                wake = at;
        }
    return wake > now ? (long) (wake - now) : 0;
}

//  Handles a batch of what link index's broker sent: with capacity K several jobs are
//  usually waiting. A link lost on the way (DISCONNECT) has a new socket or none: stop
//  reading it.
static void s_read_link(worker_io_t *self, size_t index)
{
    zsock_t *dealer = worker_broker_link_socket(self->links[index]);
    for (int taken = 0; taken < WORKER_IO_RECV_BATCH && !self->terminated &&
                        worker_broker_link_socket(self->links[index]) == dealer;
         taken++)
        if (s_handle_broker(self, index) == -1)
            break;
}

//  The monitor of link index, polled on its connection generation, has events: if the
//  connection closed, what the broker sent before it closed is read first, then the link
//  is lost (unless that already lost it, or the conversation is over).
static void s_link_events(worker_io_t *self, size_t index, uint64_t generation)
{
    worker_broker_link_t *link = self->links[index];
    if (worker_broker_link_generation(link) != generation || !worker_broker_link_closed(link) ||
        self->drained)
        return;
    s_read_link(self, index);
    if (!self->terminated && worker_broker_link_generation(link) == generation)
        s_lose_link(self, index, "connection_closed");
}

//  True if the DEALER of link index has a message waiting. Asked after every wake-up and
//  every send: a socket's descriptor only signals the first message after the socket has
//  been found empty, and any operation on the socket, a send too, may take that signal.
static bool s_link_readable(worker_io_t *self, size_t index)
{
    zsock_t *dealer = worker_broker_link_socket(self->links[index]);
    return dealer && (zsock_events(dealer) & ZMQ_POLLIN);
}

//  One sleep and what it woke for, entered and left with the lock held. Returns -1 if the
//  poll failed for good.
static int s_wake(worker_io_t *self)
{
    zmq_pollitem_t items[1 + 2 * SL_MAX_WORKER_BROKERS] = {
        {NULL, worker_mailbox_fd(self->from_handler), ZMQ_POLLIN, 0}};
    //  item 1 + i is link polled[i]'s DEALER, or its monitor if monitors[i]. A DEALER is
    //  polled as its descriptor, never as a socket: the handler thread may send on it
    //  while this thread sleeps
    size_t polled[2 * SL_MAX_WORKER_BROKERS];
    bool monitors[2 * SL_MAX_WORKER_BROKERS];
    uint64_t generations[2 * SL_MAX_WORKER_BROKERS];
    size_t count = 0;
    bool waiting = false;
    for (size_t index = 0; index < self->link_count; index++) {
        worker_broker_link_t *link = self->links[index];
        zsock_t *dealer = worker_broker_link_socket(link);
        if (!dealer)
            continue;
        waiting = waiting || s_link_readable(self, index);
        items[1 + count] = (zmq_pollitem_t){NULL, zsock_fd(dealer), ZMQ_POLLIN, 0};
        polled[count] = index;
        monitors[count] = false;
        generations[count++] = worker_broker_link_generation(link);
        zsock_t *monitor = worker_broker_link_monitor(link);
        if (!monitor)
            continue;
        int monitor_fd = worker_broker_link_monitor_fd(link);
        items[1 + count] = monitor_fd >= 0
                               ? (zmq_pollitem_t){NULL, monitor_fd, ZMQ_POLLIN, 0}
                               : (zmq_pollitem_t){zsock_resolve(monitor), 0, ZMQ_POLLIN, 0};
        polled[count] = index;
        monitors[count] = true;
        generations[count++] = worker_broker_link_generation(link);
    }
    long timeout = waiting ? 0 : s_poll_timeout(self);
    pthread_mutex_unlock(&self->lock);
    int rc = zmq_poll(items, (int) (1 + count), timeout);
    int poll_errno = zmq_errno();
    pthread_mutex_lock(&self->lock);
    //  EINTR is SIGTERM arriving: draining is the handler thread's call, not ours
    if (rc == -1 && poll_errno != EINTR)
        return -1;
    if (rc > 0 && (items[0].revents & ZMQ_POLLIN))
        s_handle_commands(self);
    //  Every DEALER before any monitor: a closed connection's last words are read first.
    //  Each is asked, woken or not: the handler thread's sends take wake-ups
    for (size_t index = 0; index < self->link_count && !self->terminated; index++)
        if (s_link_readable(self, index))
            s_read_link(self, index);
    for (size_t item = 0; rc > 0 && item < count && !self->terminated; item++)
        if (monitors[item] && (items[1 + item].revents & ZMQ_POLLIN))
            s_link_events(self, polled[item], generations[item]);
    s_run_timers(self);
    s_grant(self);
    return 0;
}

//  Builds the links of config; -1 out of memory.
static int s_links_new(worker_io_t *self)
{
    worker_io_config_t *config = self->config;
    self->settings = (worker_broker_link_settings_t){
        .service = config->service,
        .identity = config->identity,
        .heartbeat_ms = config->heartbeat_ms,
        .liveness = config->liveness,
        .reconnect_min_ms = config->reconnect_min_ms,
        .reconnect_max_ms = config->reconnect_max_ms,
        .capacity = config->capacity,
        .version = config->mdp == SL_MDP_V01 ? SL_MDP_V01 : SL_MDP_V02};
    self->link_count = config->broker_count;
    self->several = config->broker_count > 1;
    for (size_t index = 0; index < self->link_count; index++) {
        self->curves[index] = config->curve;
        if (config->brokers[index].server_key)
            self->curves[index].server = config->brokers[index].server_key;
        self->links[index] = worker_broker_link_new(
            &self->settings, index, config->brokers[index].endpoint, &self->curves[index]);
        if (!self->links[index])
            return -1;
    }
    return 0;
}

worker_io_t *worker_io_new(worker_io_config_t *config, worker_mailbox_t *to_handler,
                           worker_mailbox_t *from_handler)
{
    assert(config && config->capacity >= 1);
    assert(config->broker_count >= 1 && config->broker_count <= SL_MAX_WORKER_BROKERS);
    worker_io_t *self = calloc(1, sizeof(worker_io_t));
    if (!self)
        return NULL;
    self->to_handler = to_handler;
    self->from_handler = from_handler;
    self->config = config;
    self->pending = zlist_new();
    self->grants = worker_grants_new(config->capacity, config->broker_count);
    if (!self->pending || !self->grants || pthread_mutex_init(&self->lock, NULL) != 0) {
        zlist_destroy(&self->pending);
        worker_grants_destroy(&self->grants);
        free(self);
        return NULL;
    }
    return self;
}

void worker_io_destroy(worker_io_t **self_p)
{
    worker_io_t *self = *self_p;
    if (!self)
        return;
    for (size_t index = 0; index < self->link_count; index++)
        worker_broker_link_destroy(&self->links[index]);
    worker_held_job_destroy(&self->current);
    worker_held_job_t *job;
    while ((job = (worker_held_job_t *) zlist_pop(self->pending)))
        worker_held_job_destroy(&job);
    zlist_destroy(&self->pending);
    worker_grants_destroy(&self->grants);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

void *worker_io_thread(void *io)
{
    worker_io_t *self = io;
    pthread_mutex_lock(&self->lock);
    bool started = s_links_new(self) == 0;
    for (size_t index = 0; started && index < self->link_count; index++) {
        s_connect(self, index);
        if (!worker_broker_link_connected(self->links[index])) {
            sl_log(SL_LOG_ERROR, NULL, "bad_endpoint", "endpoint=%s",
                   self->config->brokers[index].endpoint);
            started = false;
        }
    }
    worker_mailbox_post_str(self->to_handler, started ? "OK" : "FAILED");
    while (started && !self->terminated)
        if (s_wake(self) == -1)
            break;
    //  A poll that failed for good ends the conversation: the handler thread stops too
    if (started && !self->terminated) {
        sl_log(SL_LOG_ERROR, NULL, "io_failed", "errno=%d", zmq_errno());
        worker_mailbox_post_str(self->to_handler, "DRAINED");
    }
    //  Closed on this thread, where libzmq's own close happens in the normal case
    for (size_t index = 0; index < self->link_count; index++)
        worker_broker_link_destroy(&self->links[index]);
    self->stopped = true;
    pthread_mutex_unlock(&self->lock);
    return NULL;
}

void worker_io_reply(worker_io_t *self, bool final, zmsg_t **body_p)
{
    pthread_mutex_lock(&self->lock);
    //  Once the I/O thread has ended there is nowhere to send it: the body is dropped
    if (!self->stopped && !final)
        s_send_partial(self, body_p);
    else if (!self->stopped && self->current) {
        s_finish_job(self, body_p);
        s_next_job(self);
        if (self->draining && !self->drained && !self->current)
            s_finish_drain(self);
    }
    zmsg_destroy(body_p);
    //  The send may have taken the wake-up of a message that arrived meanwhile. And a lone
    //  broker's link lost during the job may reconnect now that the worker is idle: the I/O
    //  thread's sleep did not count on it (s_may_reconnect)
    bool wake = false;
    for (size_t index = 0; index < self->link_count && !self->stopped && !wake; index++)
        wake =
            s_link_readable(self, index) || (!self->several && !self->current && !self->drained &&
                                             !worker_broker_link_connected(self->links[index]));
    if (wake)
        worker_mailbox_post_str(self->from_handler, "READ");
    pthread_mutex_unlock(&self->lock);
}
