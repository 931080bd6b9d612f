/*  supervisor_agent: the supervisor as its host's agent at the broker (SLAGENT1,
    docs/protocol.md section 7). Reports the whole slot table as STATUS every heartbeat and
    soon after a change, so the broker's cluster view is never more than a heartbeat old;
    applies COMMANDs (scale, restart, stop, start, broadcast) through the supervisor_* calls.
    It decides no policy of its own: restarts and recycling stay in supervisor.c.

    Plain libzmq, not czmq: the supervisor forks its workers, and a child must start from a
    clean czmq (whose global context would be inherited half-alive). Children close the
    agent's descriptors first thing (supervisor_child.c). */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include <zmq.h>
#include "sl_agent.h"
#include "sl_curve.h"
#include "sl_log.h"
#include "supervisor_private.h"

#define S_MAX_FRAMES 4

struct _supervisor_agent_t {
    supervisor_state_t *state; /* borrowed: the supervisor */
    void *context;             /* libzmq context, ours */
    void *dealer;              /* the DEALER to the broker */
    int64_t next_status_ms;    /* the heartbeat's STATUS or ALIVE is due */
    int64_t last_sent_ms;      /* last STATUS or ALIVE sent */
    int64_t last_full_ms;      /* last STATUS sent; 0: the broker may not have one from us */
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
    const supervisor_state_t *state = self->state;
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
    if (sl_curve_client_load(&keys, state->config->curve_secret, state->config->curve_server, error,
                             sizeof error) != 0)
        goto fail_connect; // checked at start-up: only a key file changed since gets here
    sl_curve_client_apply(&keys, self->dealer);
    sl_curve_client_clear(&keys);
    if (zmq_connect(self->dealer, state->config->broker) != 0)
        goto fail_connect;
    self->next_status_ms = 0; // a new connection: tell the broker who we are at once
    self->last_full_ms = 0;
    return 0;

fail_connect:
    sl_log(SL_LOG_WARN, NULL, "agent_failed", "broker=%s errno=%d detail=unmanaged",
           state->config->broker, zmq_errno());
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

supervisor_agent_t *supervisor_agent_new(supervisor_state_t *state)
{
    supervisor_agent_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->state = state;
    if (s_open(self) != 0) {
        free(self);
        return NULL;
    }
    sl_log(SL_LOG_INFO, NULL, "agent_started", "broker=%s host=%s", state->config->broker,
           state->config->host);
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

static const char *s_slot_state(const supervisor_state_t *state, const supervisor_slot_t *slot)
{
    if (slot->pid) {
        if (slot->stop_reason)
            return "stopping";
        if (!slot->ready)
            return "starting";
        bool busy = slot->job_started_ms ||
                    (state->counters && atomic_load(&state->counters[slot->index].busy) > 0);
        return busy ? "busy" : "idle";
    }
    if (slot->stopped)
        return "crash_loop";
    if (!supervisor_slot_wanted(state, slot->index))
        return "stopped";
    return "restarting";
}

static json_t *s_slot_json(supervisor_state_t *state, supervisor_slot_t *slot, int64_t now)
{
    if (slot->pid)
        slot->rss_kb = supervisor_rss_kb(slot->pid);
    //  The shared counters see every job; the event pipe only when a policy needs it
    uint64_t jobs = slot->jobs;
    int64_t job_started = slot->job_started_ms;
    if (state->counters && slot->pid) {
        supervisor_counters_t *counters = &state->counters[slot->index];
        if (atomic_load(&counters->jobs) > jobs)
            jobs = atomic_load(&counters->jobs);
        if (!job_started)
            job_started = atomic_load(&counters->job_started_ms);
    }
    json_t *worker =
        json_pack("{s:i, s:I, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:s}", "slot", slot->index, "pid",
                  (json_int_t) slot->pid, "state", s_slot_state(state, slot), "job_age_ms",
                  (json_int_t) (slot->pid && job_started ? now - job_started : 0), "jobs",
                  (json_int_t) jobs, "restarts", (json_int_t) slot->restarts, "rss_kb",
                  (json_int_t) (slot->pid ? slot->rss_kb : -1), "uptime_ms",
                  (json_int_t) (slot->pid ? now - slot->started_ms : 0), "broadcasts",
                  (json_int_t) slot->broadcasts, "last_broadcast", slot->last_broadcast);
    if (!worker)
        return NULL;
    if (slot->last_exit_ms)
        json_object_set_new(worker, "last_exit",
                            json_pack("{s:s, s:s, s:I}", "reason", slot->last_exit, "detail",
                                      slot->last_exit_detail, "ago_ms",
                                      (json_int_t) (now - slot->last_exit_ms)));
    else
        json_object_set_new(worker, "last_exit", json_null());
    return worker;
}

//  The STATUS body: everything the cluster view shows about this supervisor.
static char *s_status(supervisor_agent_t *self)
{
    supervisor_state_t *state = self->state;
    const supervisor_config_t *config = state->config;
    int64_t now = supervisor_now_ms();
    json_t *workers = json_array();
    for (int i = 0; i < state->slot_count; i++) {
        json_t *worker = s_slot_json(state, &state->slots[i], now);
        if (worker)
            json_array_append_new(workers, worker);
    }
    json_t *status = json_pack(
        "{s:s, s:I, s:s, s:s, s:i, s:b, s:I, s:i, s:{s:I, s:I, s:I}, s:{s:I, s:I, s:I}, "
        "s:{s:b, s:s, s:s}, s:o}",
        "host", config->host, "pid", (json_int_t) getpid(), "service", config->service, "handler",
        config->handler_spec ? config->handler_spec : "", "target", state->target, "stopped",
        state->paused, "uptime_ms", (json_int_t) (now - state->started_ms), "heartbeat_ms",
        config->heartbeat_ms, "limits", "max_rss_mb", (json_int_t) config->max_rss_mb,
        "max_requests", (json_int_t) config->max_requests, "job_timeout_ms",
        (json_int_t) config->job_timeout_ms, "recycled", "max_rss", (json_int_t) state->recycles[0],
        "max_requests", (json_int_t) state->recycles[1], "job_timeout",
        (json_int_t) state->recycles[2], "roll", "active", state->roll_next <= state->slot_count,
        "id", state->roll_id, "done", state->roll_done, "workers", workers);
    char *text = status ? json_dumps(status, JSON_COMPACT) : NULL;
    json_decref(status);
    return text;
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

static void s_apply(supervisor_agent_t *self, json_t *command)
{
    const char *reason = NULL;
    int op = sl_agent_op_check(command, &reason);
    if (op < 0) {
        sl_log_limited(&self->malformed_limit, SL_LOG_WARN, NULL, "agent_command_refused",
                       "reason=%s", reason);
        return;
    }
    sl_log(SL_LOG_INFO, NULL, "agent_command", "op=%s",
           json_string_value(json_object_get(command, "op")));
    switch ((sl_agent_op_t) op) {
    case SL_AGENT_OP_SCALE:
        supervisor_scale(self->state, (int) json_integer_value(json_object_get(command, "count")));
        break;
    case SL_AGENT_OP_RESTART:
        supervisor_roll(self->state, json_string_value(json_object_get(command, "roll")));
        break;
    case SL_AGENT_OP_STOP:
        supervisor_pause(self->state, true);
        break;
    case SL_AGENT_OP_START:
        supervisor_pause(self->state, false);
        break;
    case SL_AGENT_OP_STATUS:
        break; //  the broker does not know us (it restarted): the STATUS below answers it
    case SL_AGENT_OP_BROADCAST: {
        const char *id = json_string_value(json_object_get(command, "id"));
        json_t *message = json_object_get(command, "message");
        if (s_seen(self, id))
            sl_log(SL_LOG_INFO, NULL, "broadcast_repeated", "id=%s action=ignored", id);
        else
            supervisor_broadcast(self->state, id, json_string_value(message),
                                 json_string_length(message));
        break;
    }
    }
    self->state->changed = true;
}

//  One multipart message off the DEALER; false when none is waiting.
static bool s_receive(supervisor_agent_t *self)
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
        return false;
    sl_agent_msg_t msg;
    const char *reason = "too_many_frames";
    if (!too_many && sl_agent_decode_frames(data, size, count, &msg, &reason) == 0) {
        if (msg.command == SL_AGENT_COMMAND)
            s_apply(self, msg.body);
        sl_agent_msg_reset(&msg);
    } else
        sl_log_limited(&self->malformed_limit, SL_LOG_WARN, NULL, "agent_message_malformed",
                       "reason=%s", reason);
    for (size_t i = 0; i < count; i++)
        zmq_msg_close(&parts[i]);
    return true;
}

int64_t supervisor_agent_process(supervisor_agent_t *self)
{
    supervisor_state_t *state = self->state;
    //  Closed around a fork (supervisor_agent_suspend): reopen, or try again next turn
    if (!self->dealer && s_open(self) != 0)
        return 1000;
    //  ZMQ_FD is edge-triggered: read until ZMQ_EVENTS says nothing is left
    for (int i = 0; i < 1000; i++) {
        int events = 0;
        size_t size = sizeof events;
        if (zmq_getsockopt(self->dealer, ZMQ_EVENTS, &events, &size) != 0 ||
            !(events & ZMQ_POLLIN) || !s_receive(self))
            break;
    }
    int64_t now = supervisor_now_ms();
    bool prompt = state->changed && now - self->last_sent_ms >= SL_AGENT_STATUS_MIN_MS;
    if (prompt || now >= self->next_status_ms) {
        //  A whole STATUS of 1,000 workers costs the broker milliseconds to parse: send it
        //  when there is news, and every SL_AGENT_FULL_STATUS_EVERY heartbeats for the
        //  clocks and memory figures; in between only ALIVE (protocol.md section 7.1).
        bool full =
            state->changed || state->activity || self->last_full_ms == 0 ||
            now - self->last_full_ms >= state->config->heartbeat_ms * SL_AGENT_FULL_STATUS_EVERY;
        bool sent;
        if (full) {
            char *status = s_status(self);
            sent = status && s_send(self, "STATUS", status) == 0;
            free(status);
            state->changed = state->activity = false;
        } else
            sent = s_send(self, "ALIVE", NULL) == 0;
        //  Dropped (no broker): whatever reaches the next broker must be a whole STATUS
        self->last_full_ms = !sent ? 0 : full ? now : self->last_full_ms;
        self->last_sent_ms = now;
        //  Not connected yet: try again soon, so a new supervisor shows up at once
        self->next_status_ms = now + (sent ? state->config->heartbeat_ms : SL_AGENT_STATUS_MIN_MS);
        //  Sending may have taken the edge of ZMQ_FD: look again next turn, at once
        int events = 0;
        size_t size = sizeof events;
        if (zmq_getsockopt(self->dealer, ZMQ_EVENTS, &events, &size) == 0 && (events & ZMQ_POLLIN))
            return 0;
    }
    int64_t wait = self->next_status_ms - now;
    if (state->changed) {
        int64_t soon = self->last_sent_ms + SL_AGENT_STATUS_MIN_MS - now;
        if (soon < wait)
            wait = soon;
    }
    return wait < 0 ? 0 : wait;
}
