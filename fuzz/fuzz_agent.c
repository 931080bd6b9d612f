/*  fuzz_agent: libFuzzer target for the SLAGENT1 codec (common/sl_agent.c), which reads what any
    peer on the broker's ROUTER sends as an agent, and what a supervisor gets back. Each input,
    split into frames (fuzz_frames.h), is decoded; what decodes is encoded again and must decode
    to the same command and an equal JSON body, and a COMMAND body's op check must give a known
    op or refuse with a reason. Every frame is an exact-size heap copy so overreads show. */
#include <stdint.h>
#include <stdio.h>

#include "fuzz_frames.h"
#include "sl_agent.h"

#define S_MAX_FRAMES 8

static void s_check_round_trip(const sl_agent_msg_t *decoded)
{
    zmsg_t *encoded = sl_agent_encode(decoded->command, decoded->body);
    FUZZ_CHECK(encoded);
    FUZZ_CHECK(sl_agent_is_agent(encoded));
    sl_agent_msg_t again;
    const char *reason = NULL;
    FUZZ_CHECK(sl_agent_decode(&encoded, &again, &reason) == 0);
    FUZZ_CHECK(encoded == NULL);
    FUZZ_CHECK(again.command == decoded->command);
    FUZZ_CHECK((again.body == NULL) == (decoded->body == NULL));
    FUZZ_CHECK(!decoded->body || json_equal(again.body, decoded->body));
    sl_agent_msg_reset(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_frames_t frames;
    fuzz_frames_init(&frames, data, size);
    char *copies[S_MAX_FRAMES];
    const void *spans[S_MAX_FRAMES];
    size_t sizes[S_MAX_FRAMES];
    size_t count = 0;
    const uint8_t *frame;
    size_t frame_size;
    while (count < S_MAX_FRAMES && fuzz_frames_next(&frames, &frame, &frame_size)) {
        copies[count] = fuzz_copy(frame, frame_size);
        spans[count] = copies[count];
        sizes[count] = frame_size;
        count++;
    }
    sl_agent_msg_t decoded;
    const char *reason = NULL;
    if (sl_agent_decode_frames(spans, sizes, count, &decoded, &reason) == 0) {
        FUZZ_CHECK(decoded.command >= SL_AGENT_STATUS && decoded.command <= SL_AGENT_ALIVE);
        bool has_body = decoded.command == SL_AGENT_STATUS || decoded.command == SL_AGENT_COMMAND;
        FUZZ_CHECK(has_body == (decoded.body != NULL));
        FUZZ_CHECK(!decoded.body || json_is_object(decoded.body));
        s_check_round_trip(&decoded);
        if (decoded.command == SL_AGENT_COMMAND) {
            const char *op_reason = NULL;
            int op = sl_agent_op_check(decoded.body, &op_reason);
            FUZZ_CHECK((op >= SL_AGENT_OP_SCALE && op <= SL_AGENT_OP_LOAD) ||
                       (op == -1 && op_reason != NULL));
        }
        sl_agent_msg_reset(&decoded);
    } else
        FUZZ_CHECK(reason != NULL && decoded.body == NULL);
    for (size_t i = 0; i < count; i++)
        free(copies[i]);
    return 0;
}
