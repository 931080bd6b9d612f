/*  broker_stats: counters kept by service name (see broker_stats.h). Plain integers the
    event loop bumps; publishing them is broker_stats_json's job. */
#include "broker_stats.h"

struct _broker_stats_t {
    zhashx_t *services; /* name -> broker_stats_service_t (owned) */
    uint64_t unknown;   /* requests for services that do not exist */
};

/* Queue-wait bucket bounds, ms: from "dispatched at once" to the default deadline. */
static const int64_t s_wait_bounds_ms[BROKER_STATS_WAIT_BUCKETS] = {
    1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000};

static const char *s_exit_names[BROKER_EXIT_COUNT] = {"replaced", "expired", "disconnected",
                                                      "protocol_error"};

static void s_service_destroy(void **item)
{
    broker_stats_service_t *stats = (broker_stats_service_t *) *item;
    if (stats) {
        free(stats->name);
        free(stats);
    }
    *item = NULL;
}

broker_stats_t *broker_stats_new(void)
{
    broker_stats_t *self = (broker_stats_t *) calloc(1, sizeof(broker_stats_t));
    if (!self)
        return NULL;
    self->services = zhashx_new();
    if (!self->services) {
        free(self);
        return NULL;
    }
    zhashx_set_destructor(self->services, s_service_destroy);
    return self;
}

void broker_stats_destroy(broker_stats_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhashx_destroy(&(*self_p)->services);
    free(*self_p);
    *self_p = NULL;
}

broker_stats_service_t *broker_stats_service(broker_stats_t *self, const char *name)
{
    if (!self)
        return NULL;
    broker_stats_service_t *stats = (broker_stats_service_t *) zhashx_lookup(self->services, name);
    if (stats)
        return stats;
    stats = (broker_stats_service_t *) calloc(1, sizeof(broker_stats_service_t));
    if (!stats)
        return NULL;
    stats->name = strdup(name);
    if (!stats->name || zhashx_insert(self->services, name, stats) != 0) {
        free(stats->name);
        free(stats);
        return NULL;
    }
    return stats;
}

void broker_stats_queue_wait(broker_stats_service_t *stats, int64_t wait_ms)
{
    if (wait_ms < 0)
        wait_ms = 0;
    size_t bucket = 0;
    while (bucket < BROKER_STATS_WAIT_BUCKETS && wait_ms > s_wait_bounds_ms[bucket])
        bucket++;
    stats->wait_buckets[bucket]++;
    stats->wait_sum_ms += (uint64_t) wait_ms;
}

void broker_stats_unknown_service(broker_stats_t *self)
{
    if (self)
        self->unknown++;
}

broker_exit_reason_t broker_stats_exit_reason(const char *reason)
{
    for (int i = 0; i < BROKER_EXIT_COUNT; i++)
        if (streq(reason, s_exit_names[i]))
            return (broker_exit_reason_t) i;
    return BROKER_EXIT_PROTOCOL;
}

int64_t broker_stats_wait_bound_ms(size_t index)
{
    assert(index < BROKER_STATS_WAIT_BUCKETS);
    return s_wait_bounds_ms[index];
}

const char *broker_stats_exit_name(broker_exit_reason_t reason)
{
    assert(reason < BROKER_EXIT_COUNT);
    return s_exit_names[reason];
}

broker_stats_service_t *broker_stats_service_first(const broker_stats_t *self)
{
    return (broker_stats_service_t *) zhashx_first(self->services);
}

broker_stats_service_t *broker_stats_service_next(const broker_stats_t *self)
{
    return (broker_stats_service_t *) zhashx_next(self->services);
}

uint64_t broker_stats_unknown(const broker_stats_t *self)
{
    return self->unknown;
}
