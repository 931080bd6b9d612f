/*  worker_io: the I/O thread of a worker process (see worker_io.h). It owns the jobs: which
    link each came over, which one the handler has, which wait behind it, and with several
    brokers how many slots each broker may use (protocol.md 3.7). The connections
    themselves are worker_broker_link.c's; the grant policy is worker_credit.c's. A broker
    lost costs only that broker's jobs not yet started; the others' links never notice. */
#include <assert.h>
#include <string.h>
#include "sl_defaults.h"
#include "sl_log.h"
#include "sl_mdp.h"
#include "worker_broker_link.h"
#include "worker_credit.h"
#include "worker_io.h"

//  A job received from a broker.
typedef struct {
    zframe_t *address;   /* the REQUEST's address frame, echoed in every reply */
    size_t link;         /* index of the link it came over */
    uint64_t generation; /* that link's generation then: a different one now means lost */
    zmsg_t *body;        /* the REQUEST body until the job starts, then NULL */
    zmsg_t *parts;       /* MDP/0.1: the frames of its PARTIALs so far, sent with the FINAL */
} s_job_t;

typedef struct {
    worker_mailbox_t *to_handler;                         /* to the handler thread */
    worker_mailbox_t *from_handler;                       /* and back */
    worker_io_config_t *config;                           /* borrowed from the caller */
    worker_broker_link_settings_t settings;               /* what every link shares */
    sl_curve_client_t curves[SL_MAX_WORKER_BROKERS];      /* per link: borrowed keys of
                                                             config, never cleared here */
    worker_broker_link_t *links[SL_MAX_WORKER_BROKERS];   /* one per broker */
    size_t link_count;                                    /* = config->broker_count */
    bool several;                                         /* more than one: 3.7 applies */
    worker_credit_broker_t grants[SL_MAX_WORKER_BROKERS]; /* per link: jobs held, hungry */
    int announced[SL_MAX_WORKER_BROKERS];                 /* limit last told; -1 unknown */
    int last_served;                                      /* link whose job took a slot last */
    s_job_t *current;                                     /* the job in hand, NULL when idle */
    zlist_t *pending;                                     /* s_job_t received behind it */
    bool draining;   /* DRAIN asked: DISCONNECT once the job in hand is done */
    bool drained;    /* DISCONNECT sent: the conversation is over */
    bool terminated; /* $TERM received */
} s_io_t;

//  Broker messages handled per link and wake-up before the handler's messages and the
//  timers get a turn.
#define WORKER_IO_RECV_BATCH 64

static sl_log_limit_t s_refused_limit;

static void s_job_destroy(s_job_t **job_p)
{
    s_job_t *job = *job_p;
    if (!job)
        return;
    zframe_destroy(&job->address);
    zmsg_destroy(&job->body);
    zmsg_destroy(&job->parts);
    free(job);
    *job_p = NULL;
}

//  True if the connection the job came over is still up: its replies have somewhere to go,
//  and it counts in that broker's jobs held.
static bool s_job_live(s_io_t *self, const s_job_t *job)
{
    worker_broker_link_t *link = self->links[job->link];
    return worker_broker_link_connected(link) &&
           worker_broker_link_generation(link) == job->generation;
}

static size_t s_jobs_held(s_io_t *self)
{
    return (self->current ? 1 : 0) + zlist_size(self->pending);
}

//  Several brokers: works out every broker's limit and sends CREDIT to each whose limit
//  changed. Called after every wake-up and, before its FINAL goes out, whenever a job
//  ends, so a lowered limit reaches its broker ahead of the FINAL that frees the slot.
static void s_grant(s_io_t *self)
{
    if (!self->several || self->drained)
        return;
    int held = 0;
    for (size_t index = 0; index < self->link_count; index++) {
        self->grants[index].connected = worker_broker_link_connected(self->links[index]);
        held += self->grants[index].held;
    }
    int orphans = (int) s_jobs_held(self) - held;
    int limits[SL_MAX_WORKER_BROKERS];
    worker_credit_allocate(self->config->capacity, orphans, self->grants, self->link_count,
                           self->last_served, limits);
    for (size_t index = 0; index < self->link_count; index++) {
        //  A draining worker takes nothing new: every broker keeps only what it holds
        if (self->draining)
            limits[index] = self->grants[index].held;
        if (!self->grants[index].connected || limits[index] == self->announced[index])
            continue;
        worker_broker_link_send_credit(self->links[index], limits[index]);
        self->announced[index] = limits[index];
    }
}

//  Registers a link (again): READY with its share of the free slots as they stand now.
static void s_connect(s_io_t *self, size_t index)
{
    int credit = -1;
    if (self->several) {
        //  Counted as connected for the allocation: the broker may dispatch on READY
        self->grants[index] = (worker_credit_broker_t){.connected = true};
        int held = 0;
        for (size_t other = 0; other < self->link_count; other++)
            held += self->grants[other].held;
        int limits[SL_MAX_WORKER_BROKERS];
        worker_credit_allocate(self->config->capacity, (int) s_jobs_held(self) - held, self->grants,
                               self->link_count, self->last_served, limits);
        credit = self->draining ? 0 : limits[index];
    }
    if (worker_broker_link_connect(self->links[index], credit) == 0)
        self->announced[index] = credit;
    else
        self->grants[index].connected = false;
}

//  A link was lost: its jobs not yet started are its broker's to re-queue or fail (nobody
//  would get their reply), and it no longer has a say in the grants. A job of it in hand
//  keeps running, and keeps its slot, as an orphan.
static void s_forget_link(s_io_t *self, size_t index)
{
    size_t dropped = 0;
    s_job_t *job = (s_job_t *) zlist_first(self->pending);
    while (job) {
        s_job_t *next = (s_job_t *) zlist_next(self->pending);
        if (job->link == index && !s_job_live(self, job)) {
            zlist_remove(self->pending, job);
            s_job_destroy(&job);
            dropped++;
        }
        job = next;
    }
    self->grants[index] = (worker_credit_broker_t){0};
    self->announced[index] = -1;
    if (dropped || (self->current && self->current->link == index))
        sl_log(SL_LOG_WARN, NULL, "broker_jobs_lost", "endpoint=%s busy=%s dropped_jobs=%zu",
               worker_broker_link_endpoint(self->links[index]),
               self->current && self->current->link == index ? "true" : "false", dropped);
}

static void s_lose_link(s_io_t *self, size_t index, const char *reason)
{
    worker_broker_link_lose(self->links[index], reason);
    s_forget_link(self, index);
}

//  Ends the conversation: DISCONNECT on every link (given time to leave the socket) and no
//  more sends.
static void s_finish_drain(s_io_t *self)
{
    for (size_t index = 0; index < self->link_count; index++)
        worker_broker_link_disconnect(self->links[index],
                                      self->config->heartbeat_ms * self->config->liveness);
    self->drained = true;
    worker_mailbox_post_str(self->to_handler, "DRAINED");
}

//  MDP/0.1 has no PARTIAL: the frames of *body_p (taken) join the job's earlier parts, and
//  go out at the front of its one REPLY. Out of memory loses the part, as a full socket
//  would lose a PARTIAL.
static void s_keep_part(s_job_t *job, zmsg_t **body_p)
{
    if (!job->parts)
        job->parts = zmsg_new();
    zframe_t *frame;
    while (job->parts && *body_p && (frame = zmsg_pop(*body_p)))
        zmsg_append(job->parts, &frame);
    zmsg_destroy(body_p);
}

//  Sends a PARTIAL of the job in hand (body taken), if its broker is still the one we talk
//  to.
static void s_send_partial(s_io_t *self, zmsg_t **body_p)
{
    if (self->current && self->config->mdp == SL_MDP_V01)
        s_keep_part(self->current, body_p);
    if (self->current && *body_p && !self->drained && s_job_live(self, self->current))
        worker_broker_link_send_reply(self->links[self->current->link], false,
                                      self->current->address, body_p);
    zmsg_destroy(body_p);
}

//  The job in hand is done: its slot is freed, the grants are brought up to date (a
//  lowered limit must travel ahead of the FINAL), then the FINAL (body taken) goes out.
static void s_finish_job(s_io_t *self, zmsg_t **final_p)
{
    s_job_t *job = self->current;
    self->current = NULL;
    assert(job);
    bool live = s_job_live(self, job);
    if (live)
        self->grants[job->link].held--;
    s_grant(self);
    if (job->parts) {
        //  MDP/0.1: the parts kept so far, then the FINAL's own frames, as one REPLY
        s_keep_part(job, final_p);
        *final_p = job->parts;
        job->parts = NULL;
    }
    if (live && !self->drained)
        worker_broker_link_send_reply(self->links[job->link], true, job->address, final_p);
    else
        sl_log(SL_LOG_WARN, NULL, "reply_dropped", "reason=broker_lost endpoint=%s",
               worker_broker_link_endpoint(self->links[job->link]));
    zmsg_destroy(final_p);
    s_job_destroy(&job);
}

//  worker_job_send_fn for inline jobs: a PARTIAL goes straight to the broker.
static int s_send_partial_inline(zmsg_t **body_p, void *arg)
{
    s_send_partial((s_io_t *) arg, body_p);
    return 0;
}

//  Runs the job in hand on this thread (config->run_inline) and sends its FINAL; drains
//  after it if the worker is done (max jobs).
static void s_run_inline(s_io_t *self)
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
static void s_start_job(s_io_t *self, s_job_t *job)
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
static void s_next_job(s_io_t *self)
{
    while (!self->current && !self->drained && zlist_size(self->pending))
        s_start_job(self, (s_job_t *) zlist_pop(self->pending));
}

//  A REQUEST over link index (address and body taken from mdp): queued, started, or with
//  every slot taken handed back (several brokers) or refused (one broker, as always).
static void s_take_request(s_io_t *self, size_t index, sl_mdp_msg_t *mdp)
{
    if (self->drained) {
        //  After DISCONNECT the broker re-queues or fails it
        sl_log_limited(&s_refused_limit, SL_LOG_WARN, NULL, "request_refused", "reason=draining");
        return;
    }
    bool full = s_jobs_held(self) >= (size_t) self->config->capacity;
    s_job_t *job = full ? NULL : calloc(1, sizeof(s_job_t));
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
        self->grants[index].hungry = true;
        self->announced[index] = -1;
        sl_log(SL_LOG_DEBUG, NULL, "job_handed_back", "endpoint=%s",
               worker_broker_link_endpoint(self->links[index]));
        return;
    }
    job->address = mdp->address;
    mdp->address = NULL;
    job->body = mdp->body;
    mdp->body = NULL;
    job->link = index;
    job->generation = worker_broker_link_generation(self->links[index]);
    self->grants[index].held++;
    self->last_served = (int) index;
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
static void s_cancel_job(s_io_t *self, size_t index, zframe_t *address)
{
    s_job_t *job = self->current;
    if (job && job->link == index && s_job_live(self, job) && zframe_eq(job->address, address)) {
        if (self->config->cancel)
            worker_cancel_raise(self->config->cancel);
        sl_log(SL_LOG_INFO, NULL, "job_cancelled", "endpoint=%s started=true",
               worker_broker_link_endpoint(self->links[index]));
        return;
    }
    for (job = (s_job_t *) zlist_first(self->pending); job;
         job = (s_job_t *) zlist_next(self->pending))
        if (job->link == index && s_job_live(self, job) && zframe_eq(job->address, address))
            break;
    if (!job)
        return;
    zlist_remove(self->pending, job);
    self->grants[index].held--;
    s_grant(self);
    zmsg_t *final = zmsg_new();
    if (final && !self->drained)
        worker_broker_link_send_reply(self->links[index], true, job->address, &final);
    zmsg_destroy(&final);
    s_job_destroy(&job);
    sl_log(SL_LOG_INFO, NULL, "job_cancelled", "endpoint=%s started=false",
           worker_broker_link_endpoint(self->links[index]));
}

//  Handles one message from link index. Returns -1 if none was waiting, 0 otherwise.
static int s_handle_broker(s_io_t *self, size_t index)
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
        self->grants[index].hungry = mdp.demand;
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
static void s_handle_command(s_io_t *self, zmsg_t *msg)
{
    char *command = zmsg_popstr(msg);
    if (!command) {
        zmsg_destroy(&msg);
        return;
    }
    if (streq(command, "$TERM"))
        self->terminated = true;
    else if (streq(command, "PARTIAL"))
        s_send_partial(self, &msg);
    else if (streq(command, "FINAL") && self->current) {
        s_finish_job(self, &msg);
        s_next_job(self);
        if (self->draining && !self->drained && !self->current)
            s_finish_drain(self);
    } else if (streq(command, "DRAIN")) {
        self->draining = true;
        if (!self->current && !self->drained)
            s_finish_drain(self);
    }
    zstr_free(&command);
    zmsg_destroy(&msg);
}

//  Everything the handler thread sent since the last wake-up.
static void s_handle_commands(s_io_t *self)
{
    zmsg_t *msg;
    while (!self->terminated && (msg = worker_mailbox_take(self->from_handler)))
        s_handle_command(self, msg);
}

//  One broker: no new READY while a job is in hand, or the broker would hand us a second
//  one (protocol.md 2.3). Several: a restarted broker must see us again at once, with the
//  credit our orphans leave it.
static bool s_may_reconnect(s_io_t *self)
{
    return !self->drained && (self->several || !self->current);
}

//  Heartbeat and reconnect timers of every link, run whenever the poll wakes.
static void s_run_timers(s_io_t *self)
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

static long s_poll_timeout(s_io_t *self)
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
static void s_read_link(s_io_t *self, size_t index)
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
static void s_link_events(s_io_t *self, size_t index, uint64_t generation)
{
    worker_broker_link_t *link = self->links[index];
    if (worker_broker_link_generation(link) != generation || !worker_broker_link_closed(link) ||
        self->drained)
        return;
    s_read_link(self, index);
    if (!self->terminated && worker_broker_link_generation(link) == generation)
        s_lose_link(self, index, "connection_closed");
}

//  One poll and what it woke for. Returns -1 if the poll failed for good.
static int s_wake(s_io_t *self)
{
    zmq_pollitem_t items[1 + 2 * SL_MAX_WORKER_BROKERS] = {
        {NULL, worker_mailbox_fd(self->from_handler), ZMQ_POLLIN, 0}};
    //  item 1 + i is link polled[i]'s DEALER, or its monitor if monitors[i]
    size_t polled[2 * SL_MAX_WORKER_BROKERS];
    bool monitors[2 * SL_MAX_WORKER_BROKERS];
    uint64_t generations[2 * SL_MAX_WORKER_BROKERS];
    size_t count = 0;
    for (size_t index = 0; index < self->link_count; index++) {
        worker_broker_link_t *link = self->links[index];
        zsock_t *sockets[2] = {worker_broker_link_socket(link), worker_broker_link_monitor(link)};
        for (int kind = 0; kind < 2 && sockets[0]; kind++) {
            if (!sockets[kind])
                continue;
            int monitor_fd = kind == 1 ? worker_broker_link_monitor_fd(link) : -1;
            items[1 + count] =
                monitor_fd >= 0 ? (zmq_pollitem_t){NULL, monitor_fd, ZMQ_POLLIN, 0}
                                : (zmq_pollitem_t){zsock_resolve(sockets[kind]), 0, ZMQ_POLLIN, 0};
            polled[count] = index;
            monitors[count] = kind == 1;
            generations[count++] = worker_broker_link_generation(link);
        }
    }
    int rc = zmq_poll(items, (int) (1 + count), s_poll_timeout(self));
    //  EINTR is SIGTERM arriving: draining is the handler thread's call, not ours
    if (rc == -1 && zmq_errno() != EINTR)
        return -1;
    if (rc > 0 && (items[0].revents & ZMQ_POLLIN))
        s_handle_commands(self);
    //  Every DEALER before any monitor: a closed connection's last words are read first.
    for (int pass = 0; pass < 2; pass++)
        for (size_t item = 0; rc > 0 && item < count; item++) {
            if (monitors[item] != (pass == 1) || !(items[1 + item].revents & ZMQ_POLLIN))
                continue;
            if (monitors[item])
                s_link_events(self, polled[item], generations[item]);
            else
                s_read_link(self, polled[item]);
        }
    s_run_timers(self);
    s_grant(self);
    return 0;
}

//  Builds the links of config; -1 out of memory.
static int s_links_new(s_io_t *self)
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
        self->announced[index] = -1;
        self->links[index] = worker_broker_link_new(
            &self->settings, index, config->brokers[index].endpoint, &self->curves[index]);
        if (!self->links[index])
            return -1;
    }
    return 0;
}

void *worker_io_thread(void *args)
{
    worker_io_mailboxes_t *mailboxes = args;
    s_io_t self = {.to_handler = mailboxes->to_handler,
                   .from_handler = mailboxes->from_handler,
                   .config = mailboxes->config,
                   .last_served = -1};
    assert(self.config && self.config->capacity >= 1);
    assert(self.config->broker_count >= 1 && self.config->broker_count <= SL_MAX_WORKER_BROKERS);
    self.pending = zlist_new();
    assert(self.pending);
    bool started = s_links_new(&self) == 0;
    for (size_t index = 0; started && index < self.link_count; index++) {
        s_connect(&self, index);
        if (!worker_broker_link_connected(self.links[index])) {
            sl_log(SL_LOG_ERROR, NULL, "bad_endpoint", "endpoint=%s",
                   self.config->brokers[index].endpoint);
            started = false;
        }
    }
    worker_mailbox_post_str(self.to_handler, started ? "OK" : "FAILED");
    while (started && !self.terminated)
        if (s_wake(&self) == -1)
            break;
    for (size_t index = 0; index < self.link_count; index++)
        worker_broker_link_destroy(&self.links[index]);
    s_job_destroy(&self.current);
    s_job_t *job;
    while ((job = (s_job_t *) zlist_pop(self.pending)))
        s_job_destroy(&job);
    zlist_destroy(&self.pending);
    return NULL;
}
