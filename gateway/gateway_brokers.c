/*  gateway_brokers: the choice of broker per request. Why least outstanding first: a slow
    or hung broker accumulates requests in flight, so it is avoided even before liveness
    declares it lost, and a broker with fewer in flight has capacity. The choice is one
    pass over N counters (atomics, no lock); with one broker it is one load. A request's
    place in the table is shared by all brokers, so moving it is a change of its slot's
    broker number, not of the table: the old broker's late answer is then a duplicate. */
#include "gateway_brokers.h"

#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "gateway_pending.h"
#include "sl_request_id.h"

/* One broker's bridge and counters, a cache line of its own: HTTP threads of different
   brokers bump different lines. */
typedef struct {
    alignas(64) atomic_int_fast64_t outstanding; /* assigned and not finished */
    atomic_uint_fast64_t sent;                   /* sends, re-sends included */
    atomic_uint_fast64_t failovers;              /* requests moved from it elsewhere */
    gateway_bridge_t *bridge;                    /* the connection, owned */
} s_member_t;

struct _gateway_brokers_t {
    s_member_t *members;        /* count of them, in --broker order */
    size_t count;               /* at least 1 */
    atomic_uint next_turn;      /* round-robin start among equals */
    gateway_pending_t *pending; /* the in-flight table all bridges share */
};

gateway_brokers_t *gateway_brokers_new(const gateway_brokers_config_t *config, char *error,
                                       size_t size)
{
    assert(config && config->count > 0);
    gateway_brokers_t *self = calloc(1, sizeof *self);
    if (!self)
        goto fail_memory;
    self->members = aligned_alloc(alignof(s_member_t), config->count * sizeof(s_member_t));
    self->pending = gateway_pending_new();
    if (!self->members || !self->pending)
        goto fail_memory;
    memset(self->members, 0, config->count * sizeof(s_member_t));
    for (size_t i = 0; i < config->count; i++) {
        gateway_bridge_config_t bridge = {
            .endpoint = config->endpoints[i],
            .label = config->labels[i],
            .index = (int) i,
            .in_process = i == 0 && config->first_in_process,
            .routes = config->routes,
            .probe_ms = config->probe_ms,
            .heartbeat_ms = config->heartbeat_ms,
            .liveness = config->liveness,
            .curve = &config->curves[i],
            .pending = self->pending,
        };
        self->members[i].bridge = gateway_bridge_new(&bridge);
        self->count = i + 1; /* what destroy must stop */
        if (!self->members[i].bridge) {
            snprintf(error, size, "--broker %s: cannot start the broker connection",
                     config->endpoints[i]);
            gateway_brokers_destroy(&self);
            return NULL;
        }
    }
    return self;

fail_memory:
    snprintf(error, size, "out of memory");
    gateway_brokers_destroy(&self);
    return NULL;
}

void gateway_brokers_destroy(gateway_brokers_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gateway_brokers_t *self = *self_p;
    if (self->pending)
        gateway_pending_close(self->pending);
    for (size_t i = 0; self->members && i < self->count; i++)
        gateway_bridge_destroy(&self->members[i].bridge);
    gateway_pending_destroy(&self->pending);
    free(self->members);
    free(self);
    *self_p = NULL;
}

void gateway_brokers_close(gateway_brokers_t *self)
{
    gateway_pending_close(self->pending);
}

/* ---------------------------------------------------------------- the request path */

bool gateway_brokers_any_trusted(gateway_brokers_t *self)
{
    for (size_t i = 0; i < self->count; i++)
        if (gateway_bridge_trusted(self->members[i].bridge))
            return true;
    return false;
}

/* The broker for a request of service: among the trusted brokers other than avoid (-1:
   none), those whose last probe found a worker of service come first (a broker back from
   a restart or a stall is trusted before its workers have registered again, and would
   answer no_worker); among them the fewest requests outstanding, the scan starting at the
   next turn so equals take turns. With ready_only, -1 if no broker has a worker; otherwise
   -1 only if none is trusted. */
static int s_choose(gateway_brokers_t *self, const char *service, int avoid, bool ready_only)
{
    if (self->count == 1)
        return avoid != 0 && gateway_bridge_trusted(self->members[0].bridge) ? 0 : -1;
    size_t start = atomic_fetch_add_explicit(&self->next_turn, 1, memory_order_relaxed);
    int best = -1;
    bool best_ready = false;
    int_fast64_t fewest = 0;
    for (size_t k = 0; k < self->count; k++) {
        size_t i = (start + k) % self->count;
        s_member_t *member = &self->members[i];
        if ((int) i == avoid || !gateway_bridge_trusted(member->bridge))
            continue;
        bool ready = gateway_bridge_service_ready(member->bridge, service);
        if (ready_only && !ready)
            continue;
        int_fast64_t outstanding = atomic_load_explicit(&member->outstanding, memory_order_relaxed);
        if (best < 0 || (ready && !best_ready) || (ready == best_ready && outstanding < fewest)) {
            best = (int) i;
            best_ready = ready;
            fewest = outstanding;
        }
    }
    return best;
}

int gateway_brokers_register(gateway_brokers_t *self, gateway_slot_t *slot, char *id,
                             const char *service, bool retryable, int64_t deadline_ms)
{
    int index = s_choose(self, service, -1, false);
    if (index < 0)
        return -1;
    /* Assigned before the table makes it visible: no lock on the way. */
    gateway_slot_prepare(slot, id, service, retryable, deadline_ms, index);
    if (gateway_pending_add(self->pending, slot) != 0)
        return -1;
    memcpy(id, gateway_slot_id(slot), SL_REQUEST_ID_MAX + 1);
    atomic_fetch_add_explicit(&self->members[index].outstanding, 1, memory_order_relaxed);
    return index;
}

void gateway_brokers_send(gateway_brokers_t *self, int index, gateway_slot_t *slot,
                          const sl_frame_view_t envelope[SL_ENVELOPE_REQUEST_FRAMES])
{
    assert(index >= 0 && (size_t) index < self->count);
    atomic_fetch_add_explicit(&self->members[index].sent, 1, memory_order_relaxed);
    gateway_bridge_send(self->members[index].bridge, slot, envelope);
}

/* Moves slot's counts from broker *index to chosen. */
static void s_move(gateway_brokers_t *self, gateway_slot_t *slot, int *index, int chosen)
{
    int previous = *index;
    if (chosen == previous)
        return;
    atomic_fetch_sub_explicit(&self->members[previous].outstanding, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&self->members[previous].failovers, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&self->members[chosen].outstanding, 1, memory_order_relaxed);
    gateway_slot_assign_broker(slot, chosen);
    *index = chosen;
}

bool gateway_brokers_reroute_elsewhere(gateway_brokers_t *self, gateway_slot_t *slot,
                                       const char *service, bool ready_only, int *index)
{
    int chosen = s_choose(self, service, *index, ready_only);
    if (chosen < 0)
        return false;
    s_move(self, slot, index, chosen);
    return true;
}

bool gateway_brokers_reroute(gateway_brokers_t *self, gateway_slot_t *slot, const char *service,
                             int *index)
{
    int chosen = s_choose(self, service, -1, false);
    if (chosen < 0) {
        /* No broker now: wait as a single broker's requests do, for a probe to find the
           service again (gateway_pending_resend wakes it). */
        gateway_slot_await_broker(slot);
        gateway_pending_note_awaiting(self->pending, 1);
        return false;
    }
    s_move(self, slot, index, chosen);
    return true;
}

void gateway_brokers_cancel(gateway_brokers_t *self, int index, const char *id)
{
    assert(index >= 0 && (size_t) index < self->count);
    gateway_bridge_cancel(self->members[index].bridge, id);
}

void gateway_brokers_release(gateway_brokers_t *self, gateway_slot_t *slot, int index)
{
    if (!gateway_slot_registered(slot))
        return;
    assert(index >= 0 && (size_t) index < self->count);
    gateway_bridge_release(self->members[index].bridge, slot);
    atomic_fetch_sub_explicit(&self->members[index].outstanding, 1, memory_order_relaxed);
    gateway_pending_remove(self->pending, slot);
    gateway_slot_unregister(slot);
}

/* ---------------------------------------------------------------- views */

size_t gateway_brokers_count(gateway_brokers_t *self)
{
    return self->count;
}

gateway_bridge_t *gateway_brokers_bridge(gateway_brokers_t *self, size_t index)
{
    assert(index < self->count);
    return self->members[index].bridge;
}

void gateway_brokers_counters(gateway_brokers_t *self, size_t index,
                              gateway_brokers_counters_t *counters)
{
    assert(index < self->count);
    s_member_t *member = &self->members[index];
    counters->trusted = gateway_bridge_trusted(member->bridge);
    counters->since_ms = zclock_mono() - gateway_bridge_state_since(member->bridge);
    counters->outstanding = atomic_load(&member->outstanding);
    counters->sent = atomic_load(&member->sent);
    counters->failovers = atomic_load(&member->failovers);
    counters->broker_lost = gateway_bridge_lost_count(member->bridge);
    gateway_bridge_trust_changes(member->bridge, &counters->trusts, &counters->untrusts);
    gateway_bridge_cancel_counts(member->bridge, &counters->cancels);
}

/* How good a broker state is, for the set's: the best broker's. */
static int s_state_rank(const char *state)
{
    return strcmp(state, "connected") == 0      ? 3
           : strcmp(state, "unresponsive") == 0 ? 2
           : strcmp(state, "disconnected") == 0 ? 1
                                                : 0;
}

bool gateway_brokers_ready(gateway_brokers_t *self, bool *ready, size_t count,
                           const char **broker_state)
{
    bool *one = count ? calloc(count, sizeof *one) : NULL;
    if (count && !one)
        return false;
    if (ready)
        memset(ready, 0, count * sizeof *ready);
    const char *best = NULL;
    bool any_all = false;
    for (size_t i = 0; i < self->count; i++) {
        const char *state = NULL;
        any_all |= gateway_bridge_ready(self->members[i].bridge, one, count, &state);
        if (!best || s_state_rank(state) > s_state_rank(best))
            best = state;
        for (size_t r = 0; ready && r < count; r++)
            ready[r] = ready[r] || one[r];
    }
    free(one);
    /* Every route served by some trusted broker, not necessarily the same one. */
    bool all = best && strcmp(best, "connected") == 0;
    for (size_t r = 0; ready && r < count; r++)
        all = all && ready[r];
    if (!ready)
        all = any_all;
    if (broker_state)
        *broker_state = gateway_pending_closed(self->pending) ? "closing" : best;
    return all && !gateway_pending_closed(self->pending);
}
