/*  broker_lapsed: expired plain workers that may only beat slowly (broker_lapsed.h). Keyed
    by the routing id in hex: expiries are rare, so the encoding's cost does not matter. */
#include "broker_lapsed.h"

struct _broker_lapsed_t {
    zhashx_t *entries; /* hex identity -> broker_lapsed_entry_t (owned) */
};

static void s_entry_free(void **item)
{
    free(*item);
    *item = NULL;
}

broker_lapsed_t *broker_lapsed_new(void)
{
    broker_lapsed_t *self = (broker_lapsed_t *) calloc(1, sizeof(broker_lapsed_t));
    if (!self)
        return NULL;
    self->entries = zhashx_new();
    if (!self->entries) {
        free(self);
        return NULL;
    }
    zhashx_set_destructor(self->entries, s_entry_free);
    return self;
}

void broker_lapsed_destroy(broker_lapsed_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhashx_destroy(&(*self_p)->entries);
    free(*self_p);
    *self_p = NULL;
}

/* The least recently heard entry's key, or NULL. */
static const char *s_oldest(broker_lapsed_t *self)
{
    const char *oldest = NULL;
    int64_t oldest_at = INT64_MAX;
    for (broker_lapsed_entry_t *entry = (broker_lapsed_entry_t *) zhashx_first(self->entries);
         entry; entry = (broker_lapsed_entry_t *) zhashx_next(self->entries))
        if (entry->heard_at < oldest_at) {
            oldest_at = entry->heard_at;
            oldest = (const char *) zhashx_cursor(self->entries);
        }
    return oldest;
}

void broker_lapsed_note(broker_lapsed_t *self, const broker_worker_t *worker, const char *service)
{
    char *key = zframe_strhex(worker->identity);
    broker_lapsed_entry_t *entry = (broker_lapsed_entry_t *) calloc(1, sizeof *entry);
    if (!key || !entry) {
        free(key);
        free(entry);
        return;
    }
    snprintf(entry->service, sizeof entry->service, "%s", service);
    entry->version = worker->version;
    entry->capacity = worker->capacity;
    entry->heard_at = worker->heard_at;
    if (zhashx_size(self->entries) >= BROKER_LAPSED_MAX) {
        const char *oldest = s_oldest(self);
        if (oldest) {
            char *doomed = strdup(oldest);
            if (doomed)
                zhashx_delete(self->entries, doomed);
            free(doomed);
        }
    }
    zhashx_update(self->entries, key, entry);
    free(key);
}

bool broker_lapsed_take(broker_lapsed_t *self, zframe_t *identity, int64_t now, int64_t within_ms,
                        broker_lapsed_entry_t *out)
{
    if (zhashx_size(self->entries) == 0)
        return false;
    char *key = zframe_strhex(identity);
    broker_lapsed_entry_t *entry =
        key ? (broker_lapsed_entry_t *) zhashx_lookup(self->entries, key) : NULL;
    bool fresh = entry && now - entry->heard_at <= within_ms;
    if (fresh)
        *out = *entry;
    if (entry)
        zhashx_delete(self->entries, key);
    free(key);
    return fresh;
}

void broker_lapsed_purge(broker_lapsed_t *self, int64_t now, int64_t within_ms)
{
    zlistx_t *stale = zlistx_new();
    if (!stale)
        return;
    zlistx_set_destructor(stale, (zlistx_destructor_fn *) zstr_free);
    for (broker_lapsed_entry_t *entry = (broker_lapsed_entry_t *) zhashx_first(self->entries);
         entry; entry = (broker_lapsed_entry_t *) zhashx_next(self->entries))
        if (now - entry->heard_at > within_ms)
            zlistx_add_end(stale, strdup((const char *) zhashx_cursor(self->entries)));
    for (char *key = (char *) zlistx_first(stale); key; key = (char *) zlistx_next(stale))
        zhashx_delete(self->entries, key);
    zlistx_destroy(&stale);
}
