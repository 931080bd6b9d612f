/*  fuzz_mdp_decode: libFuzzer target for the Majordomo codec (common/sl_mdp.c). Each input,
    split into frames (fuzz_frames.h), is decoded in both directions; a message that decodes
    is encoded again and must come back as the very same frames and decode to the same
    struct. It checks the codec only: routing-id frames and broker state are not involved. */
#include <stdint.h>
#include <stdio.h>

#include "fuzz_frames.h"
#include "sl_defaults.h"
#include "sl_mdp.h"

static bool s_frames_equal(zframe_t *left, zframe_t *right)
{
    if (!left || !right)
        return left == right;
    return zframe_eq(left, right);
}

/* Encodes decoded with the encoder the codec offers for its kind of message. */
static zmsg_t *s_encode(const sl_mdp_msg_t *decoded)
{
    zmsg_t *body = decoded->body ? zmsg_dup(decoded->body) : NULL;
    zmsg_t *msg = NULL;
    if (!decoded->from_worker_side) {
        if (decoded->command == SL_MDP_REQUEST) {
            char *service = zframe_strdup(decoded->service);
            msg = sl_mdp_encode_client_request(decoded->version, service, &body);
            free(service);
        } else
            msg = sl_mdp_encode_client_reply(decoded->version, decoded->command, decoded->service,
                                             &body);
    } else {
        switch (decoded->command) {
        case SL_MDP_READY: {
            char *service = zframe_strdup(decoded->service);
            // The capacity frame (protocol.md 3.6) and the credit frame (3.7) exist in
            // MDP/0.2 only.
            if (decoded->credit >= 0)
                msg = sl_mdp_encode_ready_credit(service, decoded->capacity, decoded->credit);
            else
                msg = decoded->capacity > 1
                          ? sl_mdp_encode_ready_capacity(service, decoded->capacity)
                          : sl_mdp_encode_ready(decoded->version, service);
            if (decoded->cancels)
                sl_mdp_ready_add_cancel(msg);
            free(service);
            break;
        }
        case SL_MDP_HEARTBEAT:
        case SL_MDP_DISCONNECT:
            msg = sl_mdp_encode_worker_signal(decoded->version, decoded->command);
            break;
        case SL_MDP_CREDIT:
            msg = sl_mdp_encode_credit(decoded->credit);
            break;
        case SL_MDP_DEMAND:
            msg = sl_mdp_encode_demand(decoded->demand);
            break;
        case SL_MDP_HANDBACK:
            msg = sl_mdp_encode_handback(zframe_data(decoded->address),
                                         zframe_size(decoded->address));
            break;
        case SL_MDP_CANCEL:
            msg =
                sl_mdp_encode_cancel(zframe_data(decoded->address), zframe_size(decoded->address));
            break;
        default:
            msg = sl_mdp_encode_worker_job(decoded->version, decoded->command, decoded->address,
                                           &body);
            break;
        }
    }
    FUZZ_CHECK(body == NULL); /* every encoder takes the body */
    return msg;
}

/* What the decoder promises about a message it accepted. */
static void s_check_decoded(const sl_mdp_msg_t *decoded, sl_mdp_direction_t direction)
{
    FUZZ_CHECK(decoded->version == SL_MDP_V01 || decoded->version == SL_MDP_V02);
    FUZZ_CHECK(decoded->command >= SL_MDP_READY && decoded->command <= SL_MDP_CANCEL);
    FUZZ_CHECK(strcmp(sl_mdp_command_name(decoded->command), "UNKNOWN") != 0);
    if (decoded->service) {
        size_t size = zframe_size(decoded->service);
        FUZZ_CHECK(size >= 1 && size <= 255);
        FUZZ_CHECK(memchr(zframe_data(decoded->service), '\0', size) == NULL);
    }
    if (!decoded->from_worker_side) {
        FUZZ_CHECK(decoded->service && decoded->body && !decoded->address);
        FUZZ_CHECK(direction == SL_MDP_TO_BROKER ? decoded->command == SL_MDP_REQUEST
                                                 : decoded->command != SL_MDP_REQUEST);
        return;
    }
    switch (decoded->command) {
    case SL_MDP_READY:
        FUZZ_CHECK(direction == SL_MDP_TO_BROKER);
        FUZZ_CHECK(decoded->service && !decoded->address && !decoded->body);
        FUZZ_CHECK(decoded->capacity >= 1 && decoded->capacity <= SL_MAX_WORKER_CAPACITY);
        FUZZ_CHECK(decoded->capacity == 1 || decoded->version == SL_MDP_V02);
        FUZZ_CHECK(decoded->credit <= decoded->capacity);
        FUZZ_CHECK(decoded->credit == -1 || decoded->version == SL_MDP_V02);
        FUZZ_CHECK(!decoded->cancels || decoded->version == SL_MDP_V02);
        break;
    case SL_MDP_HEARTBEAT:
    case SL_MDP_DISCONNECT:
        FUZZ_CHECK(!decoded->service && !decoded->address && !decoded->body);
        break;
    case SL_MDP_CREDIT:
    case SL_MDP_DEMAND:
        FUZZ_CHECK(decoded->version == SL_MDP_V02);
        FUZZ_CHECK(!decoded->service && !decoded->address && !decoded->body);
        FUZZ_CHECK((decoded->command == SL_MDP_DEMAND) == (direction == SL_MDP_FROM_BROKER));
        FUZZ_CHECK(decoded->command == SL_MDP_DEMAND ||
                   (decoded->credit >= 0 && decoded->credit <= SL_MAX_WORKER_CAPACITY));
        break;
    case SL_MDP_HANDBACK:
    case SL_MDP_CANCEL:
        FUZZ_CHECK(decoded->version == SL_MDP_V02);
        FUZZ_CHECK((decoded->command == SL_MDP_CANCEL) == (direction == SL_MDP_FROM_BROKER));
        FUZZ_CHECK(decoded->address && !decoded->body && !decoded->service);
        break;
    default:
        FUZZ_CHECK(decoded->address && decoded->body && !decoded->service);
        FUZZ_CHECK(zframe_size(decoded->address) >= 1 && zframe_size(decoded->address) <= 255);
        FUZZ_CHECK((decoded->command == SL_MDP_REQUEST) == (direction == SL_MDP_FROM_BROKER));
        break;
    }
    /* MDP/0.1 has no PARTIAL. */
    FUZZ_CHECK(!(decoded->version == SL_MDP_V01 && decoded->command == SL_MDP_PARTIAL));
}

static void s_decode_one(const uint8_t *data, size_t size, sl_mdp_direction_t direction)
{
    zmsg_t *msg = fuzz_frames_message(data, size);
    sl_mdp_msg_t decoded;
    const char *reason = NULL;
    int rc = sl_mdp_decode(&msg, direction, &decoded, &reason);
    FUZZ_CHECK(msg == NULL); /* ownership is taken whatever the outcome */
    if (rc != 0) {
        FUZZ_CHECK(rc == -1 && reason != NULL);
        FUZZ_CHECK(!decoded.service && !decoded.address && !decoded.body);
        sl_mdp_msg_reset(&decoded);
        return;
    }
    s_check_decoded(&decoded, direction);

    /* The wire format is canonical: encoding what was decoded gives back the input. One
       exception: protocol.md 3.6 allows a READY to say `capacity=1`, the same as no capacity
       frame, and the encoder writes it the short way. */
    zmsg_t *encoded = s_encode(&decoded);
    zmsg_t *original = fuzz_frames_message(data, size);
    if (decoded.command == SL_MDP_READY && decoded.capacity == 1 &&
        zmsg_size(original) == zmsg_size(encoded) + 1) {
        zframe_t *last = zmsg_last(original);
        FUZZ_CHECK(zframe_streq(last, "capacity=1"));
        zmsg_remove(original, last);
        zframe_destroy(&last);
    }
    FUZZ_CHECK(fuzz_messages_equal(encoded, original));
    zmsg_destroy(&original);

    sl_mdp_msg_t again;
    FUZZ_CHECK(sl_mdp_decode(&encoded, direction, &again, NULL) == 0);
    FUZZ_CHECK(again.version == decoded.version);
    FUZZ_CHECK(again.from_worker_side == decoded.from_worker_side);
    FUZZ_CHECK(again.command == decoded.command);
    FUZZ_CHECK(again.capacity == decoded.capacity);
    FUZZ_CHECK(s_frames_equal(again.service, decoded.service));
    FUZZ_CHECK(s_frames_equal(again.address, decoded.address));
    FUZZ_CHECK((again.body == NULL) == (decoded.body == NULL));
    if (again.body)
        FUZZ_CHECK(fuzz_messages_equal(again.body, decoded.body));
    sl_mdp_msg_reset(&again);
    sl_mdp_msg_reset(&decoded);
    sl_mdp_msg_reset(&decoded); /* safe on a reset struct */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    s_decode_one(data, size, SL_MDP_TO_BROKER);
    s_decode_one(data, size, SL_MDP_FROM_BROKER);
    return 0;
}
