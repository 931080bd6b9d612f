/*  supervisor_loads: the brokers' queue figures the agent relays (supervisor_loads.h). */
#include "supervisor_loads.h"

#include <stdio.h>
#include <string.h>

bool supervisor_loads_update(supervisor_loads_t *self, const json_t *command, int64_t now)
{
    const char *broker = json_string_value(json_object_get(command, "broker"));
    int64_t queued = json_integer_value(json_object_get(command, "queued"));
    int64_t wait = json_integer_value(json_object_get(command, "oldest_wait_ms"));
    supervisor_load_t *entry = NULL, *oldest = &self->entries[0];
    for (size_t i = 0; i < SL_MAX_BROKERS && !entry; i++) {
        supervisor_load_t *candidate = &self->entries[i];
        if (strcmp(candidate->broker, broker) == 0 || candidate->broker[0] == '\0')
            entry = candidate;
        else if (candidate->at_ms < oldest->at_ms)
            oldest = candidate;
    }
    if (!entry)
        entry = oldest;
    bool fresh = strcmp(entry->broker, broker) != 0;
    /* An unchanged empty queue is no news; a waiting one is (its wait grows) */
    bool news = fresh ? queued > 0 : queued > 0 || entry->queued != queued;
    snprintf(entry->broker, sizeof entry->broker, "%s", broker);
    entry->queued = queued;
    entry->oldest_wait_ms = wait;
    entry->at_ms = now;
    return news;
}

char *supervisor_loads_encode(const supervisor_loads_t *self, int64_t now, int64_t max_age_ms)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < SL_MAX_BROKERS; i++) {
        const supervisor_load_t *entry = &self->entries[i];
        int64_t age = now - entry->at_ms;
        if (entry->broker[0] == '\0' || age > max_age_ms)
            continue;
        json_array_append_new(
            list, json_pack("{s:s, s:I, s:I, s:I}", "broker", entry->broker, "queued",
                            (json_int_t) entry->queued, "oldest_wait_ms",
                            (json_int_t) (entry->queued > 0 ? entry->oldest_wait_ms + age : 0),
                            "age_ms", (json_int_t) age));
    }
    char *text = list ? json_dumps(list, JSON_COMPACT) : NULL;
    json_decref(list);
    return text;
}
