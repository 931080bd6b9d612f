/*  sl_agent: the SLAGENT1 codec (see sl_agent.h and docs/protocol.md section 7). Every
    check on input from the network is here, once, so the broker and the supervisor act
    only on well-formed messages. */
#include "sl_agent.h"

#include <string.h>

#include "sl_defaults.h"

static const char *s_names[] = {NULL, "STATUS", "BYE", "COMMAND", "ALIVE"};

bool sl_agent_is_agent(zmsg_t *msg)
{
    zframe_t *first = msg ? zmsg_first(msg) : NULL;
    return first && zframe_size(first) == strlen(SL_AGENT_PROTOCOL) &&
           memcmp(zframe_data(first), SL_AGENT_PROTOCOL, strlen(SL_AGENT_PROTOCOL)) == 0;
}

const char *sl_agent_command_name(sl_agent_command_t command)
{
    return command >= SL_AGENT_STATUS && command <= SL_AGENT_ALIVE ? s_names[command] : "?";
}

int sl_agent_decode_frames(const void *const *data, const size_t *size, size_t count,
                           sl_agent_msg_t *out, const char **reason)
{
    memset(out, 0, sizeof *out);
    if (count < 2 || size[0] != strlen(SL_AGENT_PROTOCOL) ||
        memcmp(data[0], SL_AGENT_PROTOCOL, size[0]) != 0) {
        *reason = "not_slagent1";
        return -1;
    }
    int command = 0;
    for (int i = SL_AGENT_STATUS; i <= SL_AGENT_ALIVE; i++)
        if (size[1] == strlen(s_names[i]) && memcmp(data[1], s_names[i], size[1]) == 0)
            command = i;
    if (!command) {
        *reason = "unknown_command";
        return -1;
    }
    if (command == SL_AGENT_BYE || command == SL_AGENT_ALIVE) {
        if (count != 2) {
            *reason = command == SL_AGENT_BYE ? "bye_with_body" : "alive_with_body";
            return -1;
        }
        out->command = (sl_agent_command_t) command;
        return 0;
    }
    if (count != 3) {
        *reason = "want_one_json_frame";
        return -1;
    }
    json_error_t error;
    json_t *body = json_loadb(data[2], size[2], JSON_REJECT_DUPLICATES, &error);
    if (!body || !json_is_object(body)) {
        json_decref(body);
        *reason = "body_not_json_object";
        return -1;
    }
    out->command = (sl_agent_command_t) command;
    out->body = body;
    return 0;
}

int sl_agent_decode(zmsg_t **msg_p, sl_agent_msg_t *out, const char **reason)
{
    zmsg_t *msg = *msg_p;
    *msg_p = NULL;
    const void *data[4];
    size_t size[4];
    size_t count = 0;
    int rc = -1;
    *reason = "too_many_frames";
    if (msg && zmsg_size(msg) <= 4) {
        for (zframe_t *frame = zmsg_first(msg); frame; frame = zmsg_next(msg)) {
            data[count] = zframe_data(frame);
            size[count++] = zframe_size(frame);
        }
        rc = sl_agent_decode_frames(data, size, count, out, reason);
    }
    zmsg_destroy(&msg);
    return rc;
}

void sl_agent_msg_reset(sl_agent_msg_t *msg)
{
    json_decref(msg->body);
    msg->body = NULL;
}

zmsg_t *sl_agent_encode(sl_agent_command_t command, const json_t *body)
{
    zmsg_t *msg = zmsg_new();
    if (!msg)
        return NULL;
    zmsg_addstr(msg, SL_AGENT_PROTOCOL);
    zmsg_addstr(msg, sl_agent_command_name(command));
    if (body) {
        char *text = json_dumps(body, JSON_COMPACT);
        if (!text) {
            zmsg_destroy(&msg);
            return NULL;
        }
        zmsg_addmem(msg, text, strlen(text));
        free(text);
    }
    return msg;
}

/* An id is 1..SL_BROADCAST_ID_MAX visible ASCII bytes: it goes into logs and headers. */
static bool s_id_ok(const json_t *value)
{
    const char *id = json_string_value(value);
    size_t length = id ? strlen(id) : 0;
    if (length == 0 || length > SL_BROADCAST_ID_MAX || length != json_string_length(value))
        return false;
    for (size_t i = 0; i < length; i++)
        if (id[i] <= ' ' || id[i] > '~')
            return false;
    return true;
}

int sl_agent_op_check(const json_t *command, const char **reason)
{
    const char *op = json_string_value(json_object_get(command, "op"));
    if (!op) {
        *reason = "op_missing";
        return -1;
    }
    if (strcmp(op, "scale") == 0) {
        json_t *count = json_object_get(command, "count");
        if (!json_is_integer(count) || json_integer_value(count) < 0 ||
            json_integer_value(count) > SL_MAX_WORKER_SLOTS) {
            *reason = "count_out_of_range";
            return -1;
        }
        return SL_AGENT_OP_SCALE;
    }
    if (strcmp(op, "restart") == 0) {
        json_t *roll = json_object_get(command, "roll");
        if (roll && !s_id_ok(roll)) {
            *reason = "bad_roll_id";
            return -1;
        }
        return SL_AGENT_OP_RESTART;
    }
    if (strcmp(op, "stop") == 0)
        return SL_AGENT_OP_STOP;
    if (strcmp(op, "start") == 0)
        return SL_AGENT_OP_START;
    if (strcmp(op, "status") == 0)
        return SL_AGENT_OP_STATUS;
    if (strcmp(op, "load") == 0) {
        json_t *queued = json_object_get(command, "queued");
        json_t *wait = json_object_get(command, "oldest_wait_ms");
        if (!s_id_ok(json_object_get(command, "broker")) || !json_is_integer(queued) ||
            json_integer_value(queued) < 0 || !json_is_integer(wait) ||
            json_integer_value(wait) < 0) {
            *reason = "bad_load";
            return -1;
        }
        return SL_AGENT_OP_LOAD;
    }
    if (strcmp(op, "broadcast") == 0) {
        json_t *message = json_object_get(command, "message");
        if (!s_id_ok(json_object_get(command, "id"))) {
            *reason = "bad_broadcast_id";
            return -1;
        }
        if (!json_is_string(message) || json_string_length(message) > SL_BROADCAST_MAX_BYTES) {
            *reason = "bad_message";
            return -1;
        }
        return SL_AGENT_OP_BROADCAST;
    }
    *reason = "unknown_op";
    return -1;
}

void sl_agent_spread(int64_t count, size_t agents, int64_t *share)
{
    for (size_t i = 0; i < agents; i++)
        share[i] = count / (int64_t) agents + ((int64_t) i < count % (int64_t) agents ? 1 : 0);
}
