/*  gateway_cancels: mmi.cancel's question and answers (docs/protocol.md 3.8). The
    answers are counted, not matched to their question: the request was given up when it was
    asked for, and what the broker did with it only tells an operator whether cancelling
    frees workers (202s), empties queues (200s), or comes too late (404s). */
#include "gateway_cancels.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "sl_defaults.h"
#include "sl_envelope.h"
#include "sl_log.h"
#include "sl_mdp.h"

/* What an answer said, as indexes into the counters. */
enum { S_SENT, S_REMOVED, S_STOPPED, S_NOT_HELD, S_OTHER, S_COUNTERS };

struct _gateway_cancels_t {
    const char *label;                         /* the broker's name in logs, borrowed */
    atomic_uint_fast64_t counters[S_COUNTERS]; /* indexed by the enum above */
};

gateway_cancels_t *gateway_cancels_new(const char *label)
{
    gateway_cancels_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->label = label;
    for (size_t i = 0; i < S_COUNTERS; i++)
        atomic_init(&self->counters[i], 0);
    return self;
}

void gateway_cancels_destroy(gateway_cancels_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

zmsg_t *gateway_cancels_request(const char *id)
{
    zmsg_t *body = zmsg_new();
    if (!body || zmsg_addstr(body, id) != 0) {
        zmsg_destroy(&body);
        return NULL;
    }
    return sl_mdp_encode_client_request(SL_MDP_V02, GATEWAY_CANCELS_SERVICE, &body);
}

void gateway_cancels_sent(gateway_cancels_t *self)
{
    atomic_fetch_add_explicit(&self->counters[S_SENT], 1, memory_order_relaxed);
}

void gateway_cancels_answered(gateway_cancels_t *self, zmsg_t *body)
{
    static const char *names[S_COUNTERS] = {"", "removed", "stopped", "not_held", "other"};
    zframe_t *code = body ? zmsg_first(body) : NULL;
    zframe_t *asked = body ? zmsg_next(body) : NULL;
    int answer = code && zframe_streq(code, "200")   ? S_REMOVED
                 : code && zframe_streq(code, "202") ? S_STOPPED
                 : code && zframe_streq(code, "404") ? S_NOT_HELD
                                                     : S_OTHER;
    atomic_fetch_add_explicit(&self->counters[answer], 1, memory_order_relaxed);
    /* The id is the broker's echo of ours: logged only if it is one we could have sent. */
    char id[SL_REQUEST_ID_MAX + 1] = "";
    size_t size = asked ? zframe_size(asked) : 0;
    if (size > 0 && size <= SL_REQUEST_ID_MAX &&
        sl_request_id_valid((const char *) zframe_data(asked), size)) {
        memcpy(id, zframe_data(asked), size);
        id[size] = '\0';
    }
    sl_log(SL_LOG_DEBUG, id[0] ? id : NULL, "cancel_answered", "broker=%s answer=%s", self->label,
           names[answer]);
}

void gateway_cancels_counts(gateway_cancels_t *self, gateway_cancels_counts_t *counts)
{
    uint64_t value[S_COUNTERS];
    for (size_t i = 0; i < S_COUNTERS; i++)
        value[i] = atomic_load_explicit(&self->counters[i], memory_order_relaxed);
    *counts = (gateway_cancels_counts_t){.sent = value[S_SENT],
                                         .removed = value[S_REMOVED],
                                         .stopped = value[S_STOPPED],
                                         .not_held = value[S_NOT_HELD],
                                         .other = value[S_OTHER]};
}
