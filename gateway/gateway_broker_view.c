/*  gateway_broker_view: a broker's entry is built from two sources that may disagree for a
    moment (our trust, its answer); a broker that is not trusted is shown down with no
    queues, since its last answer may be stale. */
#include "gateway_broker_view.h"

#include <stdlib.h>

void gateway_broker_view_stats(const gateway_broker_view_t *self, json_t **answers,
                               int64_t max_age_ms, int64_t wait_ms)
{
    size_t count = gateway_brokers_count(self->brokers);
    for (size_t i = 0; i < count; i++) {
        gateway_bridge_t *bridge = gateway_brokers_bridge(self->brokers, i);
        /* A hung broker is not asked: a scrape must not wait on it. */
        answers[i] = self->stats && self->stats[i] && gateway_bridge_trusted(bridge)
                         ? gateway_broker_stats_get(self->stats[i], max_age_ms, wait_ms)
                         : NULL;
    }
}

void gateway_broker_view_labels(const gateway_broker_view_t *self, const char **labels)
{
    for (size_t i = 0; i < gateway_brokers_count(self->brokers); i++)
        labels[i] = gateway_bridge_label(gateway_brokers_bridge(self->brokers, i));
}

static json_int_t s_integer(json_t *object, const char *key)
{
    json_t *value = json_object_get(object, key);
    return json_is_integer(value) ? json_integer_value(value) : 0;
}

/* [{"name","queued","workers","idle","busy"}] from an mmi.stats answer's services. */
static json_t *s_services(json_t *answer)
{
    json_t *list = json_array();
    size_t i;
    json_t *service;
    json_array_foreach(json_object_get(answer, "services"), i, service)
    {
        json_int_t idle = s_integer(service, "idle"), busy = s_integer(service, "busy");
        json_array_append_new(list, json_pack("{s:O?, s:I, s:I, s:I, s:I}", "name",
                                              json_object_get(service, "name"), "queued",
                                              s_integer(service, "queued"), "workers", idle + busy,
                                              "idle", idle, "busy", busy));
    }
    return list;
}

json_t *gateway_broker_view_json(const gateway_broker_view_t *self, json_t *const *answers)
{
    json_t *list = json_array();
    for (size_t i = 0; i < gateway_brokers_count(self->brokers); i++) {
        gateway_brokers_counters_t counters;
        gateway_brokers_counters(self->brokers, i, &counters);
        json_t *answer = counters.trusted ? answers[i] : NULL;
        json_t *workers = json_object_get(answer, "workers");
        json_array_append_new(
            list,
            json_pack("{s:s, s:s, s:I, s:I, s:o, s:I}", "endpoint",
                      gateway_bridge_label(gateway_brokers_bridge(self->brokers, i)), "state",
                      counters.trusted ? "up" : "down", "since_ms", (json_int_t) counters.since_ms,
                      "outstanding", (json_int_t) counters.outstanding, "services",
                      s_services(answer), "workers", (json_int_t) json_array_size(workers)));
    }
    return list;
}
