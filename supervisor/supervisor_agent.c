/*  supervisor_agent: the supervisor as its host's agent at every broker (SLAGENT1,
    docs/protocol.md section 7). One DEALER per --broker, each with its own membership: the
    first message on a connection is a whole STATUS, news goes to every broker, ALIVE fills
    the quiet heartbeats, and a broker's COMMAND status is answered on its own socket.
    Commands from any broker become supervisor_command_t for the loop to apply; a broadcast
    id already delivered is dropped here, whichever broker repeats it. It applies nothing
    and reads no slot: the loop (supervisor.c) hands commands to the policy and snapshots
    to the agent; the STATUS body is supervisor_status.c's.

    Plain libzmq, not czmq: the supervisor forks its workers, and a child must start from a
    clean czmq (whose global context would be inherited half-alive). Children close the
    agent's descriptors first thing (supervisor_child.c). */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <zmq.h>
#include "sl_agent.h"
#include "sl_curve.h"
#include "sl_defaults.h"
#include "sl_io_threads.h"
#include "sl_log.h"
#include "supervisor_agent.h"
#include "supervisor_clock.h"
#include "supervisor_loads.h"
#include "supervisor_status.h"

#define S_MAX_FRAMES         4
#define S_MAX_READS_PER_TURN 1000 /* messages one broker's turn takes before the loop runs */

/* The agent's connection to one broker and what that broker has heard from us. */
typedef struct {
    const char *endpoint;     /* borrowed from the config */
    const char *curve_server; /* this broker's public key file, borrowed; NULL: plaintext */
    void *dealer;             /* the DEALER to it; NULL: closed, or could not open */
    int64_t next_status_ms;   /* the heartbeat's STATUS or ALIVE is due */
    int64_t last_sent_ms;     /* last STATUS or ALIVE tried */
    int64_t last_full_ms;     /* last STATUS sent; 0: this broker may not have one from us */
    bool owed;                /* news went to other brokers, not yet to this one */
    int64_t last_ok_ms;       /* a message to it last left (or the agent started) */
    int reads;                /* messages taken from it this turn */
} supervisor_agent_link_t;

struct _supervisor_agent_t {
    const supervisor_config_t *config; /* borrowed, read-only */
    void *context;                     /* libzmq context, ours; NULL while suspended */
    supervisor_agent_link_t *links;    /* one per broker, in --broker order */
    int link_count;                    /* config->broker_count */
    int reading;                       /* link supervisor_agent_receive reads now */
    int64_t turn_ms;                   /* when supervisor_agent_due last looked */
    bool turn_changed;                 /* ... and whether the policy had news then */
    bool turn_activity;                /* ... or jobs to report */
    sl_agent_msg_t command;            /* the last command: its strings are lent to the loop */
    char seen[SL_BROADCAST_SEEN][SL_BROADCAST_ID_MAX + 1]; /* broadcast ids already delivered */
    int seen_next;                                         /* ring position in seen */
    int leader;                                            /* our leader's link, -1: none */
    supervisor_loads_t loads;                              /* the brokers' queues we relay */
    sl_log_limit_t malformed_limit;                        /* bad messages from the brokers */
};

/* Ends a context, joining its threads. The supervisor takes SIGCHLD at any time, and a signal
   interrupts zmq_ctx_term half-way (EINTR): given up then, the context leaked and its threads
   ran on across the next fork. */
static void s_context_end(void *context)
{
    while (zmq_ctx_term(context) == -1 && zmq_errno() == EINTR)
        ;
}

/* Opens link's DEALER in the agent's context; 0, or -1 (logged) with it left NULL. */
static int s_link_open(supervisor_agent_t *self, supervisor_agent_link_t *link)
{
    link->dealer = zmq_socket(self->context, ZMQ_DEALER);
    if (!link->dealer)
        goto fail_socket;
    int linger = 0, hwm = SL_AGENT_HWM, immediate = 1, reconnect = 100, reconnect_max = 1000;
    zmq_setsockopt(link->dealer, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(link->dealer, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(link->dealer, ZMQ_RCVHWM, &hwm, sizeof hwm);
    //  STATUS is re-sent every heartbeat: none needs to wait for a broker that is away
    zmq_setsockopt(link->dealer, ZMQ_IMMEDIATE, &immediate, sizeof immediate);
    zmq_setsockopt(link->dealer, ZMQ_RECONNECT_IVL, &reconnect, sizeof reconnect);
    zmq_setsockopt(link->dealer, ZMQ_RECONNECT_IVL_MAX, &reconnect_max, sizeof reconnect_max);
    int64_t max_size = SL_MAX_MESSAGE_BYTES;
    zmq_setsockopt(link->dealer, ZMQ_MAXMSGSIZE, &max_size, sizeof max_size);
    //  This broker's own I/O thread: a host name whose lookup hangs stalls only this link
    uint64_t affinity = sl_io_threads_affinity(self->context, (size_t) (link - self->links));
    zmq_setsockopt(link->dealer, ZMQ_AFFINITY, &affinity, sizeof affinity);
    //  The agent is one more client of the broker: under CURVE it needs the workers' keys too
    sl_curve_client_t keys;
    char error[256];
    if (sl_curve_client_load(&keys, self->config->curve_secret, link->curve_server, error,
                             sizeof error) != 0)
        goto fail_connect; // checked at start-up: only a key file changed since gets here
    sl_curve_client_apply(&keys, link->dealer);
    sl_curve_client_clear(&keys);
    if (zmq_connect(link->dealer, link->endpoint) != 0)
        goto fail_connect;
    link->next_status_ms = 0; // a new connection: tell the broker who we are at once
    link->last_full_ms = 0;
    return 0;

fail_connect:
    zmq_close(link->dealer);
fail_socket:
    sl_log(SL_LOG_WARN, NULL, "agent_failed", "broker=%s errno=%d detail=unmanaged_there",
           link->endpoint, zmq_errno());
    link->dealer = NULL;
    return -1;
}

/* Opens the context and a DEALER to every broker; 0 if at least one is open, else -1 with
   the context ended (the supervisor runs on unmanaged, and tries again later). */
static int s_open(supervisor_agent_t *self)
{
    self->context = zmq_ctx_new();
    if (!self->context)
        return -1;
    sl_io_threads_size(self->context, (size_t) self->link_count);
    int opened = 0;
    for (int i = 0; i < self->link_count; i++)
        opened += s_link_open(self, &self->links[i]) == 0;
    if (opened == 0) {
        s_context_end(self->context);
        self->context = NULL;
        return -1;
    }
    return 0;
}

/* Closes every DEALER and ends the context, joining its threads; linger_ms lets queued
   messages leave first. */
static void s_close(supervisor_agent_t *self, int linger_ms)
{
    if (!self->context)
        return;
    for (int i = 0; i < self->link_count; i++) {
        supervisor_agent_link_t *link = &self->links[i];
        if (!link->dealer)
            continue;
        zmq_setsockopt(link->dealer, ZMQ_LINGER, &linger_ms, sizeof linger_ms);
        zmq_close(link->dealer);
        link->dealer = NULL;
    }
    s_context_end(self->context);
    self->context = NULL;
}

supervisor_agent_t *supervisor_agent_new(const supervisor_config_t *config)
{
    assert(config->broker_count >= 1 && config->broker_count <= SL_MAX_BROKERS);
    supervisor_agent_t *self = calloc(1, sizeof *self);
    if (!self)
        goto fail_self;
    self->links = calloc((size_t) config->broker_count, sizeof *self->links);
    if (!self->links)
        goto fail_links;
    self->config = config;
    self->link_count = config->broker_count;
    for (int i = 0; i < self->link_count; i++) {
        self->links[i].endpoint = config->brokers[i];
        self->links[i].curve_server = config->curve_servers ? config->curve_servers[i] : NULL;
        //  Up until shown otherwise: the first broker leads from the start, not after the
        //  others happen to connect first
        self->links[i].last_ok_ms = supervisor_now_ms();
    }
    self->leader = 0;
    if (s_open(self) != 0)
        goto fail_open;
    for (int i = 0; i < self->link_count; i++)
        if (self->links[i].dealer)
            sl_log(SL_LOG_INFO, NULL, "agent_started", "broker=%s host=%s", self->links[i].endpoint,
                   config->host);
    return self;

fail_open:
    free(self->links);
fail_links:
    free(self);
fail_self:
    return NULL;
}

void supervisor_agent_suspend(supervisor_agent_t *self)
{
    //  A short linger: an answer to a command (which may be what causes this fork) leaves
    s_close(self, 100);
}

//  Returns 0, or -1 if the message was dropped (the broker not connected, or a full queue).
static int s_send(supervisor_agent_link_t *link, const char *command, const char *body)
{
    int more = body ? ZMQ_SNDMORE : 0;
    //  Non-blocking: with no broker connected the message is dropped, and the next
    //  STATUS says it all again
    if (zmq_send(link->dealer, SL_AGENT_PROTOCOL, strlen(SL_AGENT_PROTOCOL),
                 ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1)
        return -1;
    if (zmq_send(link->dealer, command, strlen(command), more | ZMQ_DONTWAIT) == -1)
        return -1;
    if (body && zmq_send(link->dealer, body, strlen(body), ZMQ_DONTWAIT) == -1)
        return -1;
    return 0;
}

void supervisor_agent_destroy(supervisor_agent_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    supervisor_agent_t *self = *self_p;
    for (int i = 0; i < self->link_count; i++)
        if (self->links[i].dealer)
            s_send(&self->links[i], "BYE", NULL);
    //  Give the BYEs a moment to leave, so the brokers forget us now and not at expiry
    s_close(self, 200);
    sl_agent_msg_reset(&self->command);
    free(self->links);
    free(self);
    *self_p = NULL;
}

int supervisor_agent_fds(supervisor_agent_t *self, int *fds, int size)
{
    int used = 0;
    for (int i = 0; i < self->link_count && used < size; i++) {
        int fd = -1;
        size_t fd_size = sizeof fd;
        if (self->links[i].dealer &&
            zmq_getsockopt(self->links[i].dealer, ZMQ_FD, &fd, &fd_size) == 0)
            fds[used++] = fd;
    }
    return used;
}

//  ZMQ_EVENTS of a link's DEALER, 0 if closed.
static int s_events(const supervisor_agent_link_t *link)
{
    int events = 0;
    size_t size = sizeof events;
    if (!link->dealer || zmq_getsockopt(link->dealer, ZMQ_EVENTS, &events, &size) != 0)
        return 0;
    return events;
}

//  Exactly once per worker: a broadcast id the agent has delivered is never delivered
//  again, whichever broker repeats it (a gateway retries an unanswered command through
//  another broker; an operator may repeat one).
static bool s_seen(supervisor_agent_t *self, const char *id)
{
    for (int i = 0; i < SL_BROADCAST_SEEN; i++)
        if (strcmp(self->seen[i], id) == 0)
            return true;
    snprintf(self->seen[self->seen_next], sizeof self->seen[0], "%s", id);
    self->seen_next = (self->seen_next + 1) % SL_BROADCAST_SEEN;
    return false;
}

//  A COMMAND's body from link into *command: 1 for the loop to apply, 0 handled here (a
//  status request, a repeated broadcast: link owes its broker a whole STATUS) or refused
//  (logged).
static int s_decode_command(supervisor_agent_t *self, supervisor_agent_link_t *link,
                            const json_t *body, supervisor_command_t *command)
{
    const char *reason = NULL;
    int op = sl_agent_op_check(body, &reason);
    if (op < 0) {
        sl_log_limited(&self->malformed_limit, SL_LOG_WARN, NULL, "agent_command_refused",
                       "broker=%s reason=%s", link->endpoint, reason);
        return 0;
    }
    if (op == SL_AGENT_OP_LOAD) {
        //  Every heartbeat from a broker with a queue: no log line; news goes to all brokers
        if (supervisor_loads_update(&self->loads, body, supervisor_now_ms()))
            for (int i = 0; i < self->link_count; i++)
                self->links[i].owed = true;
        return 0;
    }
    sl_log(SL_LOG_INFO, NULL, "agent_command", "op=%s broker=%s",
           json_string_value(json_object_get(body, "op")), link->endpoint);
    *command = (supervisor_command_t){.op = (sl_agent_op_t) op};
    if (op == SL_AGENT_OP_SCALE)
        command->count = (int) json_integer_value(json_object_get(body, "count"));
    else if (op == SL_AGENT_OP_RESTART)
        command->roll = json_string_value(json_object_get(body, "roll"));
    else if (op == SL_AGENT_OP_BROADCAST) {
        const char *id = json_string_value(json_object_get(body, "id"));
        json_t *message = json_object_get(body, "message");
        if (s_seen(self, id)) {
            sl_log(SL_LOG_INFO, NULL, "broadcast_repeated", "id=%s broker=%s action=ignored", id,
                   link->endpoint);
            op = SL_AGENT_OP_STATUS; // nothing to deliver; the STATUS still goes
        } else {
            command->id = id;
            command->message = json_string_value(message);
            command->size = json_string_length(message);
        }
    }
    if (op == SL_AGENT_OP_STATUS) {
        //  This broker lacks our state (it restarted, or asks after a repeat): a whole
        //  STATUS to it at once, not to every broker
        link->next_status_ms = 0;
        link->last_full_ms = 0;
        return 0;
    }
    return 1;
}

//  One multipart message off link's DEALER: 1 a command for the loop (kept in
//  self->command), 0 a message handled or dropped, -1 when none is waiting.
static int s_receive(supervisor_agent_t *self, supervisor_agent_link_t *link,
                     supervisor_command_t *command)
{
    zmq_msg_t parts[S_MAX_FRAMES];
    const void *data[S_MAX_FRAMES];
    size_t size[S_MAX_FRAMES];
    size_t count = 0;
    bool more = true, too_many = false;
    while (more) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, link->dealer, ZMQ_DONTWAIT) == -1) {
            zmq_msg_close(&part);
            break;
        }
        more = zmq_msg_more(&part);
        if (count < S_MAX_FRAMES) {
            parts[count] = part;
            data[count] = zmq_msg_data(&parts[count]);
            size[count] = zmq_msg_size(&parts[count]);
            count++;
        } else {
            too_many = true;
            zmq_msg_close(&part);
        }
    }
    if (count == 0)
        return -1;
    int rc = 0;
    sl_agent_msg_t msg;
    const char *reason = "too_many_frames";
    if (!too_many && sl_agent_decode_frames(data, size, count, &msg, &reason) == 0) {
        if (msg.command == SL_AGENT_COMMAND && s_decode_command(self, link, msg.body, command)) {
            self->command = msg; // the command's strings live in its body
            rc = 1;
        } else
            sl_agent_msg_reset(&msg);
    } else
        sl_log_limited(&self->malformed_limit, SL_LOG_WARN, NULL, "agent_message_malformed",
                       "broker=%s reason=%s", link->endpoint, reason);
    for (size_t i = 0; i < count; i++)
        zmq_msg_close(&parts[i]);
    return rc;
}

int supervisor_agent_receive(supervisor_agent_t *self, supervisor_command_t *command)
{
    sl_agent_msg_reset(&self->command); // the last command has been applied
    //  Closed around a fork (supervisor_agent_suspend): reopen, or try again next turn
    if (!self->context && s_open(self) != 0)
        return -1;
    //  ZMQ_FD is edge-triggered: read each broker until ZMQ_EVENTS says nothing is left
    //  (or its share of the turn is used: supervisor_agent_wait_ms brings us back at once)
    for (; self->reading < self->link_count; self->reading++) {
        supervisor_agent_link_t *link = &self->links[self->reading];
        while (link->reads < S_MAX_READS_PER_TURN && (s_events(link) & ZMQ_POLLIN)) {
            link->reads++;
            int rc = s_receive(self, link, command);
            if (rc == -1)
                break;
            if (rc == 1)
                return 1; // the next call goes on with this broker
        }
        link->reads = 0;
    }
    self->reading = 0;
    return 0;
}

//  What link's broker is due now. A broker that is not connected (ZMQ_IMMEDIATE: nothing
//  sent would reach it) is tried again soon without a snapshot being taken for it: with one
//  broker of several down, that would be a /proc read of every worker every 50 ms.
static supervisor_agent_due_t s_link_due(supervisor_agent_t *self, supervisor_agent_link_t *link,
                                         int64_t now)
{
    if (!link->dealer)
        return SUPERVISOR_AGENT_QUIET;
    bool news = self->turn_changed || link->owed;
    bool prompt = news && now - link->last_sent_ms >= SL_AGENT_STATUS_MIN_MS;
    if (!prompt && now < link->next_status_ms)
        return SUPERVISOR_AGENT_QUIET;
    if (!(s_events(link) & ZMQ_POLLOUT)) {
        link->last_sent_ms = now;
        link->next_status_ms = now + SL_AGENT_STATUS_MIN_MS;
        link->last_full_ms = 0; // whatever reaches it when it is back must be a whole STATUS
        return SUPERVISOR_AGENT_QUIET;
    }
    //  A whole STATUS of 1,000 workers costs the broker milliseconds to parse: send it when
    //  there is news, and every SL_AGENT_FULL_STATUS_EVERY heartbeats for the clocks and
    //  memory figures; in between only ALIVE (protocol.md section 7.1).
    bool full = news || self->turn_activity || link->last_full_ms == 0 ||
                now - link->last_full_ms >= self->config->heartbeat_ms * SL_AGENT_FULL_STATUS_EVERY;
    return full ? SUPERVISOR_AGENT_STATUS : SUPERVISOR_AGENT_ALIVE;
}

//  The first link that took a message within heartbeat x liveness; -1 if none did.
static int s_leader(const supervisor_agent_t *self, int64_t now)
{
    int64_t expiry = (int64_t) self->config->heartbeat_ms * self->config->liveness;
    for (int i = 0; i < self->link_count; i++)
        if (now - self->links[i].last_ok_ms <= expiry)
            return i;
    return -1;
}

supervisor_agent_due_t supervisor_agent_due(supervisor_agent_t *self, bool changed, bool activity)
{
    self->turn_ms = supervisor_now_ms();
    int leader = s_leader(self, self->turn_ms);
    if (leader != self->leader) {
        sl_log(SL_LOG_INFO, NULL, "agent_leader", "broker=%s previous=%s",
               leader >= 0 ? self->links[leader].endpoint : "none",
               self->leader >= 0 ? self->links[self->leader].endpoint : "none");
        self->leader = leader;
        for (int i = 0; i < self->link_count; i++)
            self->links[i].owed = true; // the old leader and the new must both hear it
    }
    self->turn_changed = changed;
    self->turn_activity = activity;
    supervisor_agent_due_t due = SUPERVISOR_AGENT_QUIET;
    for (int i = 0; i < self->link_count; i++) {
        supervisor_agent_due_t link_due = s_link_due(self, &self->links[i], self->turn_ms);
        if (link_due > due)
            due = link_due;
    }
    return due;
}

//  status (a JSON object's text) with "leader" and "loads" added: the body every broker
//  gets but for the leader flag. Spliced rather than encoded per broker: the body of 1,000
//  workers is ~165 KB of JSON. NULL out of memory.
static char *s_with_leader(const char *status, bool leader, const char *loads)
{
    size_t size = strlen(status);
    if (size < 2 || status[size - 1] != '}')
        return NULL;
    const char *comma = size > 2 ? "," : ""; // "{}" takes no comma
    size_t room = size + strlen(loads) + 40;
    char *body = malloc(room);
    if (!body)
        return NULL;
    snprintf(body, room, "%.*s%s\"leader\":%s,\"loads\":%s}", (int) (size - 1), status, comma,
             leader ? "true" : "false", loads);
    return body;
}

void supervisor_agent_send(supervisor_agent_t *self, const supervisor_snapshot_t *snapshot)
{
    int64_t now = self->turn_ms;
    char *status = snapshot ? supervisor_status_encode(self->config, snapshot) : NULL;
    int64_t expiry = (int64_t) self->config->heartbeat_ms * self->config->liveness;
    char *loads = status ? supervisor_loads_encode(&self->loads, now, expiry) : NULL;
    for (int i = 0; i < self->link_count; i++) {
        supervisor_agent_link_t *link = &self->links[i];
        supervisor_agent_due_t due = s_link_due(self, link, now);
        bool full = false, sent = false;
        if (due == SUPERVISOR_AGENT_STATUS) {
            char *body = status && loads ? s_with_leader(status, i == self->leader, loads) : NULL;
            sent = full = body && s_send(link, "STATUS", body) == 0;
            free(body);
        } else if (due == SUPERVISOR_AGENT_ALIVE)
            sent = s_send(link, "ALIVE", NULL) == 0;
        if (sent)
            link->last_ok_ms = now;
        //  The policy takes news as reported once any broker has it: a broker that did not
        //  get this STATUS is owed one, within SL_AGENT_STATUS_MIN_MS
        if (full)
            link->owed = false;
        else if (status && (self->turn_changed || self->turn_activity))
            link->owed = true;
        if (due == SUPERVISOR_AGENT_QUIET)
            continue;
        //  Dropped (no broker): whatever reaches the next broker must be a whole STATUS
        link->last_full_ms = !sent ? 0 : full ? now : link->last_full_ms;
        link->last_sent_ms = now;
        //  Not connected yet: try again soon, so a new supervisor shows up at once
        link->next_status_ms = now + (sent ? self->config->heartbeat_ms : SL_AGENT_STATUS_MIN_MS);
    }
    free(loads);
    free(status);
}

int64_t supervisor_agent_wait_ms(supervisor_agent_t *self, bool changed)
{
    int64_t now = self->turn_ms;
    int64_t wait = INT64_MAX;
    for (int i = 0; i < self->link_count; i++) {
        supervisor_agent_link_t *link = &self->links[i];
        if (!link->dealer)
            continue;
        //  Input left behind (a turn's share used up, or sending took ZMQ_FD's edge)
        if (s_events(link) & ZMQ_POLLIN)
            return 0;
        int64_t due = link->next_status_ms;
        if (changed || link->owed) {
            int64_t soon = link->last_sent_ms + SL_AGENT_STATUS_MIN_MS;
            if (soon < due)
                due = soon;
        }
        if (due - now < wait)
            wait = due - now;
    }
    if (wait == INT64_MAX)
        return 1000; // no broker open: reopened on the next receive
    return wait < 0 ? 0 : wait;
}
