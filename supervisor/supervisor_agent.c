/*  supervisor_agent: the supervisor as its host's agent at the broker (SLAGENT1,
    docs/protocol.md section 7). Decodes COMMANDs (scale, restart, stop, start, broadcast)
    into supervisor_command_t and encodes STATUS from a supervisor_snapshot_t, every
    heartbeat and soon after a change, so the broker's cluster view is never more than a
    heartbeat old. It applies nothing and reads no slot: the loop (supervisor.c) hands
    commands to the policy and snapshots to the agent.

    Plain libzmq, not czmq: the supervisor forks its workers, and a child must start from a
    clean czmq (whose global context would be inherited half-alive). Children close the
    agent's descriptors first thing (supervisor_child.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include <zmq.h>
#include "sl_agent.h"
#include "sl_curve.h"
#include "sl_defaults.h"
#include "sl_log.h"
#include "supervisor_agent.h"
#include "supervisor_clock.h"
#include "supervisor_status.h"

#define S_MAX_FRAMES         4
#define S_MAX_READS_PER_TURN 1000 /* messages one turn takes before the loop runs again */

struct _supervisor_agent_t {
    const supervisor_config_t *config; /* borrowed, read-only */
    void *context;                     /* libzmq context, ours */
    void *dealer;                      /* the DEALER to the broker */
    int64_t next_status_ms;            /* the heartbeat's STATUS or ALIVE is due */
    int64_t last_sent_ms;              /* last STATUS or ALIVE sent */
    int64_t last_full_ms;   /* last STATUS sent; 0: the broker may not have one from us */
    int64_t turn_ms;        /* when supervisor_agent_due last looked */
    int reads;              /* messages taken this turn */
    sl_agent_msg_t command; /* the last command: its strings are lent to the loop */
    char seen[SL_BROADCAST_SEEN][SL_BROADCAST_ID_MAX + 1]; /* broadcast ids already delivered */
    int seen_next;                                         /* ring position in seen */
    sl_log_limit_t malformed_limit;                        /* bad messages from the broker */
};

/* Ends a context, joining its threads. The supervisor takes SIGCHLD at any time, and a signal
   interrupts zmq_ctx_term half-way (EINTR): given up then, the context leaked and its threads
   ran on across the next fork. */
static void s_context_end(void *context)
{
    while (zmq_ctx_term(context) == -1 && zmq_errno() == EINTR)
        ;
}

/* Opens the context and the DEALER to the broker; 0, or -1 with both left NULL. */
static int s_open(supervisor_agent_t *self)
{
    const supervisor_config_t *config = self->config;
    self->context = zmq_ctx_new();
    if (!self->context)
        goto fail_context;
    self->dealer = zmq_socket(self->context, ZMQ_DEALER);
    if (!self->dealer)
        goto fail_socket;
    int linger = 0, hwm = SL_AGENT_HWM, immediate = 1, reconnect = 100, reconnect_max = 1000;
    zmq_setsockopt(self->dealer, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(self->dealer, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(self->dealer, ZMQ_RCVHWM, &hwm, sizeof hwm);
    //  STATUS is re-sent every heartbeat: none needs to wait for a broker that is away
    zmq_setsockopt(self->dealer, ZMQ_IMMEDIATE, &immediate, sizeof immediate);
    zmq_setsockopt(self->dealer, ZMQ_RECONNECT_IVL, &reconnect, sizeof reconnect);
    zmq_setsockopt(self->dealer, ZMQ_RECONNECT_IVL_MAX, &reconnect_max, sizeof reconnect_max);
    int64_t max_size = SL_MAX_MESSAGE_BYTES;
    zmq_setsockopt(self->dealer, ZMQ_MAXMSGSIZE, &max_size, sizeof max_size);
    //  The agent is one more client of the broker: under CURVE it needs the workers' keys too
    sl_curve_client_t keys;
    char error[256];
    if (sl_curve_client_load(&keys, config->curve_secret, config->curve_server, error,
                             sizeof error) != 0)
        goto fail_connect; // checked at start-up: only a key file changed since gets here
    sl_curve_client_apply(&keys, self->dealer);
    sl_curve_client_clear(&keys);
    if (zmq_connect(self->dealer, config->broker) != 0)
        goto fail_connect;
    self->next_status_ms = 0; // a new connection: tell the broker who we are at once
    self->last_full_ms = 0;
    return 0;

fail_connect:
    sl_log(SL_LOG_WARN, NULL, "agent_failed", "broker=%s errno=%d detail=unmanaged", config->broker,
           zmq_errno());
    zmq_close(self->dealer);
fail_socket:
    s_context_end(self->context);
fail_context:
    self->dealer = self->context = NULL;
    return -1;
}

/* Closes the DEALER and ends the context, joining its threads; linger_ms lets queued
   messages leave first. */
static void s_close(supervisor_agent_t *self, int linger_ms)
{
    if (!self->context)
        return;
    zmq_setsockopt(self->dealer, ZMQ_LINGER, &linger_ms, sizeof linger_ms);
    zmq_close(self->dealer);
    s_context_end(self->context);
    self->dealer = self->context = NULL;
}

supervisor_agent_t *supervisor_agent_new(const supervisor_config_t *config)
{
    supervisor_agent_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->config = config;
    if (s_open(self) != 0) {
        free(self);
        return NULL;
    }
    sl_log(SL_LOG_INFO, NULL, "agent_started", "broker=%s host=%s", config->broker, config->host);
    return self;
}

void supervisor_agent_suspend(supervisor_agent_t *self)
{
    //  A short linger: an answer to a command (which may be what causes this fork) leaves
    s_close(self, 100);
}

//  Returns 0, or -1 if the message was dropped (no broker connected yet, or a full queue).
static int s_send(supervisor_agent_t *self, const char *command, const char *body)
{
    int more = body ? ZMQ_SNDMORE : 0;
    //  Non-blocking: with no broker connected the message is dropped, and the next
    //  STATUS says it all again
    if (zmq_send(self->dealer, SL_AGENT_PROTOCOL, strlen(SL_AGENT_PROTOCOL),
                 ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1)
        return -1;
    if (zmq_send(self->dealer, command, strlen(command), more | ZMQ_DONTWAIT) == -1)
        return -1;
    if (body && zmq_send(self->dealer, body, strlen(body), ZMQ_DONTWAIT) == -1)
        return -1;
    return 0;
}

void supervisor_agent_destroy(supervisor_agent_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    supervisor_agent_t *self = *self_p;
    if (self->dealer)
        s_send(self, "BYE", NULL);
    //  Give the BYE a moment to leave, so the broker forgets us now and not at expiry
    s_close(self, 200);
    sl_agent_msg_reset(&self->command);
    free(self);
    *self_p = NULL;
}

int supervisor_agent_fd(supervisor_agent_t *self)
{
    int fd = -1;
    size_t size = sizeof fd;
    if (!self->dealer || zmq_getsockopt(self->dealer, ZMQ_FD, &fd, &size) != 0)
        return -1;
    return fd;
}

//  Exactly once per worker: a broadcast id the agent has delivered is never delivered
//  again (the broker or an operator may repeat a command).
static bool s_seen(supervisor_agent_t *self, const char *id)
{
    for (int i = 0; i < SL_BROADCAST_SEEN; i++)
        if (strcmp(self->seen[i], id) == 0)
            return true;
    snprintf(self->seen[self->seen_next], sizeof self->seen[0], "%s", id);
    self->seen_next = (self->seen_next + 1) % SL_BROADCAST_SEEN;
    return false;
}

//  A COMMAND's body into *command; false (logged) if it is refused.
static bool s_decode_command(supervisor_agent_t *self, const json_t *body,
                             supervisor_command_t *command)
{
    const char *reason = NULL;
    int op = sl_agent_op_check(body, &reason);
    if (op < 0) {
        sl_log_limited(&self->malformed_limit, SL_LOG_WARN, NULL, "agent_command_refused",
                       "reason=%s", reason);
        return false;
    }
    sl_log(SL_LOG_INFO, NULL, "agent_command", "op=%s",
           json_string_value(json_object_get(body, "op")));
    *command = (supervisor_command_t){.op = (sl_agent_op_t) op};
    if (op == SL_AGENT_OP_SCALE)
        command->count = (int) json_integer_value(json_object_get(body, "count"));
    else if (op == SL_AGENT_OP_RESTART)
        command->roll = json_string_value(json_object_get(body, "roll"));
    else if (op == SL_AGENT_OP_BROADCAST) {
        const char *id = json_string_value(json_object_get(body, "id"));
        json_t *message = json_object_get(body, "message");
        if (s_seen(self, id)) {
            sl_log(SL_LOG_INFO, NULL, "broadcast_repeated", "id=%s action=ignored", id);
            command->op = SL_AGENT_OP_STATUS; // nothing to deliver; the STATUS still goes
        } else {
            command->id = id;
            command->message = json_string_value(message);
            command->size = json_string_length(message);
        }
    }
    return true;
}

//  One multipart message off the DEALER: 1 a command (kept in self->command), 0 a message
//  that is none (dropped), -1 when none is waiting.
static int s_receive(supervisor_agent_t *self, supervisor_command_t *command)
{
    zmq_msg_t parts[S_MAX_FRAMES];
    const void *data[S_MAX_FRAMES];
    size_t size[S_MAX_FRAMES];
    size_t count = 0;
    bool more = true, too_many = false;
    while (more) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, self->dealer, ZMQ_DONTWAIT) == -1) {
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
        if (msg.command == SL_AGENT_COMMAND && s_decode_command(self, msg.body, command)) {
            self->command = msg; // the command's strings live in its body
            rc = 1;
        } else
            sl_agent_msg_reset(&msg);
    } else
        sl_log_limited(&self->malformed_limit, SL_LOG_WARN, NULL, "agent_message_malformed",
                       "reason=%s", reason);
    for (size_t i = 0; i < count; i++)
        zmq_msg_close(&parts[i]);
    return rc;
}

int supervisor_agent_receive(supervisor_agent_t *self, supervisor_command_t *command)
{
    sl_agent_msg_reset(&self->command); // the last command has been applied
    //  Closed around a fork (supervisor_agent_suspend): reopen, or try again next turn
    if (!self->dealer && s_open(self) != 0)
        return -1;
    //  ZMQ_FD is edge-triggered: read until ZMQ_EVENTS says nothing is left
    while (self->reads < S_MAX_READS_PER_TURN) {
        self->reads++;
        int events = 0;
        size_t size = sizeof events;
        if (zmq_getsockopt(self->dealer, ZMQ_EVENTS, &events, &size) != 0 || !(events & ZMQ_POLLIN))
            break;
        int rc = s_receive(self, command);
        if (rc == -1)
            break;
        if (rc == 1)
            return 1;
    }
    self->reads = 0;
    return 0;
}

supervisor_agent_due_t supervisor_agent_due(supervisor_agent_t *self, bool changed, bool activity)
{
    int64_t now = supervisor_now_ms();
    self->turn_ms = now;
    bool prompt = changed && now - self->last_sent_ms >= SL_AGENT_STATUS_MIN_MS;
    if (!prompt && now < self->next_status_ms)
        return SUPERVISOR_AGENT_QUIET;
    //  A whole STATUS of 1,000 workers costs the broker milliseconds to parse: send it when
    //  there is news, and every SL_AGENT_FULL_STATUS_EVERY heartbeats for the clocks and
    //  memory figures; in between only ALIVE (protocol.md section 7.1).
    bool full = changed || activity || self->last_full_ms == 0 ||
                now - self->last_full_ms >= self->config->heartbeat_ms * SL_AGENT_FULL_STATUS_EVERY;
    return full ? SUPERVISOR_AGENT_STATUS : SUPERVISOR_AGENT_ALIVE;
}

bool supervisor_agent_send(supervisor_agent_t *self, const supervisor_snapshot_t *snapshot)
{
    int64_t now = self->turn_ms;
    bool sent;
    if (snapshot) {
        char *status = supervisor_status_encode(self->config, snapshot);
        sent = status && s_send(self, "STATUS", status) == 0;
        free(status);
    } else
        sent = s_send(self, "ALIVE", NULL) == 0;
    //  Dropped (no broker): whatever reaches the next broker must be a whole STATUS
    self->last_full_ms = !sent ? 0 : snapshot ? now : self->last_full_ms;
    self->last_sent_ms = now;
    //  Not connected yet: try again soon, so a new supervisor shows up at once
    self->next_status_ms = now + (sent ? self->config->heartbeat_ms : SL_AGENT_STATUS_MIN_MS);
    //  Sending may have taken the edge of ZMQ_FD: look again next turn, at once
    int events = 0;
    size_t size = sizeof events;
    return zmq_getsockopt(self->dealer, ZMQ_EVENTS, &events, &size) == 0 && (events & ZMQ_POLLIN);
}

int64_t supervisor_agent_wait_ms(supervisor_agent_t *self, bool changed)
{
    int64_t now = self->turn_ms;
    int64_t wait = self->next_status_ms - now;
    if (changed) {
        int64_t soon = self->last_sent_ms + SL_AGENT_STATUS_MIN_MS - now;
        if (soon < wait)
            wait = soon;
    }
    return wait < 0 ? 0 : wait;
}
