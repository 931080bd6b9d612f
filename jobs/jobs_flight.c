/*  jobs_flight: the dispatcher's attempts out, by request id, and their counts. */
#include "jobs_flight.h"

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_BROKERS 16

struct _jobs_flight_t {
    zhashx_t *entries;              /* key -> jobs_flight_entry_t, owned */
    zhashx_t *services;             /* service -> int64_t count, owned */
    int64_t brokers[S_MAX_BROKERS]; /* attempts out per broker */
    size_t broker_count;            /* brokers in use */
    size_t progress_unsaved;        /* entries with progress_unsaved set */
};

static void s_entry_free(void **item)
{
    jobs_flight_entry_t *entry = *item;
    if (entry) {
        free(entry->headers);
        free(entry->body);
        free(entry);
        *item = NULL;
    }
}

static void s_count_free(void **item)
{
    free(*item);
    *item = NULL;
}

jobs_flight_t *jobs_flight_new(size_t broker_count)
{
    if (broker_count == 0 || broker_count > S_MAX_BROKERS)
        return NULL;
    jobs_flight_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->entries = zhashx_new();
    self->services = zhashx_new();
    self->broker_count = broker_count;
    zhashx_set_destructor(self->entries, s_entry_free);
    zhashx_set_destructor(self->services, s_count_free);
    return self;
}

void jobs_flight_destroy(jobs_flight_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    jobs_flight_t *self = *self_p;
    zhashx_destroy(&self->entries);
    zhashx_destroy(&self->services);
    free(self);
    *self_p = NULL;
}

static int64_t *s_service_counter(jobs_flight_t *self, const char *service, bool create)
{
    int64_t *count = zhashx_lookup(self->services, service);
    if (!count && create) {
        count = calloc(1, sizeof *count);
        if (count)
            zhashx_insert(self->services, service, count);
    }
    return count;
}

jobs_flight_entry_t *jobs_flight_add(jobs_flight_t *self, const jobs_record_t *record,
                                     int64_t deadline_ms, bool recovered)
{
    jobs_flight_entry_t *entry = calloc(1, sizeof *entry);
    int64_t *count = s_service_counter(self, record->service, true);
    if (!entry || !count) {
        free(entry);
        return NULL;
    }
    snprintf(entry->key, sizeof entry->key, "%s.%d", record->id, record->attempts);
    snprintf(entry->id, sizeof entry->id, "%s", record->id);
    snprintf(entry->service, sizeof entry->service, "%s", record->service);
    entry->attempt = record->attempts;
    entry->max_attempts = record->max_attempts;
    entry->retryable = record->retryable;
    entry->broker =
        record->broker >= 0 && (size_t) record->broker < self->broker_count ? record->broker : -1;
    entry->deadline_ms = deadline_ms;
    entry->recovered = recovered;
    if (zhashx_insert(self->entries, entry->key, entry) != 0) {
        free(entry);
        return NULL;
    }
    if (recovered)
        return entry;
    (*count)++;
    if (entry->broker >= 0)
        self->brokers[entry->broker]++;
    return entry;
}

void jobs_flight_detach(jobs_flight_t *self, jobs_flight_entry_t *entry)
{
    if (entry->broker >= 0 && !entry->recovered)
        self->brokers[entry->broker]--;
    entry->broker = -1;
}

jobs_flight_entry_t *jobs_flight_find(jobs_flight_t *self, const char *key)
{
    return zhashx_lookup(self->entries, key);
}

void jobs_flight_remove(jobs_flight_t *self, jobs_flight_entry_t *entry)
{
    if (entry->progress_unsaved)
        self->progress_unsaved--;
    if (entry->recovered) {
        zhashx_delete(self->entries, entry->key);
        return;
    }
    int64_t *count = s_service_counter(self, entry->service, false);
    if (count && --(*count) <= 0)
        zhashx_delete(self->services, entry->service);
    if (entry->broker >= 0)
        self->brokers[entry->broker]--;
    zhashx_delete(self->entries, entry->key);
}

int jobs_flight_append(jobs_flight_entry_t *entry, const void *data, size_t size, int64_t limit)
{
    if (size == 0)
        return 0;
    if ((int64_t) (entry->body_size + size) > limit)
        return -1;
    if (entry->body_size + size > entry->body_cap) {
        size_t cap = entry->body_cap ? entry->body_cap : 4096;
        while (cap < entry->body_size + size)
            cap *= 2;
        char *grown = realloc(entry->body, cap);
        if (!grown)
            return -1;
        entry->body = grown;
        entry->body_cap = cap;
    }
    memcpy(entry->body + entry->body_size, data, size);
    entry->body_size += size;
    return 0;
}

int64_t jobs_flight_service_count(jobs_flight_t *self, const char *service)
{
    int64_t *count = s_service_counter(self, service, false);
    return count ? *count : 0;
}

int64_t jobs_flight_broker_count(jobs_flight_t *self, int broker)
{
    return broker >= 0 && (size_t) broker < self->broker_count ? self->brokers[broker] : 0;
}

size_t jobs_flight_size(jobs_flight_t *self)
{
    return zhashx_size(self->entries);
}

size_t jobs_flight_select(jobs_flight_t *self, int broker, int64_t now_ms,
                          jobs_flight_entry_t **out, size_t max)
{
    size_t found = 0;
    for (jobs_flight_entry_t *entry = zhashx_first(self->entries); entry && found < max;
         entry = zhashx_next(self->entries)) {
        bool match = broker >= 0 ? entry->broker == broker : entry->deadline_ms <= now_ms;
        if (match)
            out[found++] = entry;
    }
    return found;
}

void jobs_flight_each(jobs_flight_t *self, void (*each)(jobs_flight_entry_t *entry, void *arg),
                      void *arg)
{
    for (jobs_flight_entry_t *entry = zhashx_first(self->entries); entry;
         entry = zhashx_next(self->entries))
        each(entry, arg);
}

void jobs_flight_progress_saved(jobs_flight_t *self, jobs_flight_entry_t *entry, bool saved,
                                int64_t at_ms)
{
    if (entry->progress_unsaved && saved)
        self->progress_unsaved--;
    else if (!entry->progress_unsaved && !saved)
        self->progress_unsaved++;
    entry->progress_unsaved = !saved;
    entry->progress_saved_ms = at_ms;
}

size_t jobs_flight_progress_unsaved(jobs_flight_t *self)
{
    return self->progress_unsaved;
}
