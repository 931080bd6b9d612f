/*  broker_registry: the worker table, the service table and the expiry list (see
    broker_registry.h). The tables hold the records; the records' own fields (a worker's
    jobs, a service's queue and idle list) are broker_worker's and broker_service's. */
#include "broker_registry.h"

struct _broker_registry_t {
    zhashx_t *workers;     /* identity frame -> broker_worker_t (owned) */
    zhashx_t *services;    /* name -> broker_service_t (owned) */
    zlistx_t *expiry;      /* workers, least recently heard from first */
    size_t queue_limit;    /* for new services */
    size_t queue_bytes;    /* ... and their memory bound */
    int64_t expiry_ms;     /* heartbeat_ms x liveness: silence that kills a worker */
    broker_stats_t *stats; /* borrowed: counters new services attach */
    size_t held_only;      /* services made to hold a plain request, no worker yet */
    int64_t heartbeat_ms;  /* the broker's own interval */
    int64_t liveness;      /* intervals a worker may be silent */
    int64_t peer_max_ms;   /* the longest worker interval honoured (--max-peer-heartbeat-ms) */
};

broker_registry_t *broker_registry_new(size_t queue_limit, int64_t expiry_ms, broker_stats_t *stats)
{
    broker_registry_t *self = (broker_registry_t *) calloc(1, sizeof(broker_registry_t));
    if (!self)
        return NULL;
    self->queue_limit = queue_limit;
    self->expiry_ms = expiry_ms;
    self->stats = stats;
    self->workers = zhashx_new();
    if (!self->workers)
        goto fail_workers;
    /* Keys are the workers' own identity frames: binary-safe and never copied. */
    zhashx_set_key_hasher(self->workers, broker_worker_identity_hash);
    zhashx_set_key_comparator(self->workers, broker_worker_identity_compare);
    zhashx_set_key_duplicator(self->workers, NULL);
    zhashx_set_key_destructor(self->workers, NULL);
    self->services = zhashx_new();
    if (!self->services)
        goto fail_services;
    zhashx_set_destructor(self->services, (zhashx_destructor_fn *) broker_service_destroy);
    self->expiry = zlistx_new();
    if (!self->expiry)
        goto fail_expiry;
    return self;

fail_expiry:
    zhashx_destroy(&self->services);
fail_services:
    zhashx_destroy(&self->workers);
fail_workers:
    free(self);
    return NULL;
}

void broker_registry_destroy(broker_registry_t **self_p)
{
    assert(self_p);
    broker_registry_t *self = *self_p;
    if (!self)
        return;
    broker_worker_t *worker;
    while ((worker = (broker_worker_t *) zlistx_first(self->expiry))) {
        zlistx_detach(self->expiry, worker->expiry_handle);
        worker->expiry_handle = NULL;
        broker_service_idle_remove(worker->service, worker);
        broker_service_paused_remove(worker->service, worker);
        zhashx_delete(self->workers, worker->identity);
        broker_request_t *job;
        while ((job = broker_worker_take_newest(worker)))
            broker_request_destroy(&job);
        broker_worker_destroy(&worker);
    }
    zlistx_destroy(&self->expiry);
    zhashx_destroy(&self->workers);
    zhashx_destroy(&self->services);
    free(self);
    *self_p = NULL;
}

broker_worker_t *broker_registry_worker(const broker_registry_t *self, zframe_t *identity)
{
    return (broker_worker_t *) zhashx_lookup(self->workers, identity);
}

broker_service_t *broker_registry_service(const broker_registry_t *self, const char *name)
{
    return (broker_service_t *) zhashx_lookup(self->services, name);
}

broker_service_t *broker_registry_service_ensure(broker_registry_t *self, const char *name)
{
    broker_service_t *service = (broker_service_t *) zhashx_lookup(self->services, name);
    if (service && !broker_service_stats(service)) { /* made to hold: counted from now on */
        broker_service_set_stats(service, broker_stats_service(self->stats, name));
        self->held_only--;
    }
    if (service)
        return service;
    service = broker_service_new(name, self->queue_limit);
    if (!service)
        return NULL;
    broker_service_set_queue_bytes(service, self->queue_bytes);
    zhashx_insert(self->services, name, service);
    broker_service_set_stats(service, broker_stats_service(self->stats, name));
    return service;
}

broker_worker_t *broker_registry_worker_add(broker_registry_t *self, zframe_t **identity_p,
                                            sl_mdp_version_t version, broker_service_t *service,
                                            int capacity, int64_t now)
{
    broker_worker_t *worker = broker_worker_new(identity_p, version, service, capacity);
    if (!worker)
        return NULL;
    zhashx_insert(self->workers, worker->identity, worker);
    worker->registered = now;
    worker->heard_at = now;
    worker->expiry = now + broker_registry_worker_window(self, worker);
    worker->expiry_handle = zlistx_add_end(self->expiry, worker);
    broker_service_worker_joined(service);
    return worker;
}

/* Any message from a worker proves it alive: the expiry list so stays ordered by
   last-heard-from, and only its head is ever looked at for expiry. */
void broker_registry_worker_heard(broker_registry_t *self, broker_worker_t *worker, int64_t now)
{
    //  What expiry sees: the figure a flood on the broker's port must keep under the window
    broker_stats_service_t *stats = broker_service_stats(worker->service);
    if (stats && now - worker->heard_at > (int64_t) stats->worst_silence_ms)
        stats->worst_silence_ms = (uint64_t) (now - worker->heard_at);
    worker->heard_at = now;
    worker->expiry = now + broker_registry_worker_window(self, worker);
    zlistx_move_end(self->expiry, worker->expiry_handle);
}

void broker_registry_worker_beat(broker_registry_t *self, broker_worker_t *worker, int64_t now)
{
    /* A quarter of each new gap: one late beat moves the estimate a little, a peer that
       beats every 2.5 s is known as one after its first two beats */
    if (worker->beat_at) {
        int64_t gap = now - worker->beat_at;
        worker->beat_ms = worker->beat_ms ? (3 * worker->beat_ms + gap) / 4 : gap;
    }
    worker->beat_at = now;
    broker_registry_worker_heard(self, worker, now);
}

void broker_registry_set_queue_bytes(broker_registry_t *self, size_t bytes)
{
    self->queue_bytes = bytes;
}

void broker_registry_set_peer_heartbeat(broker_registry_t *self, int64_t heartbeat_ms,
                                        int64_t liveness, int64_t peer_max_ms)
{
    self->heartbeat_ms = heartbeat_ms;
    self->liveness = liveness;
    self->peer_max_ms = peer_max_ms;
}

int64_t broker_registry_worker_interval(const broker_registry_t *self,
                                        const broker_worker_t *worker)
{
    /* Until its interval is known (its second HEARTBEAT), the broker's own. A plain peer
       whose interval is longer than the broker's whole expiry is expired once, and taken
       back at its next beat with the gap as its interval (broker_lapsed) */
    int64_t interval = worker->beat_ms < self->peer_max_ms ? worker->beat_ms : self->peer_max_ms;
    return interval > self->heartbeat_ms ? interval : self->heartbeat_ms;
}

int64_t broker_registry_worker_window(const broker_registry_t *self, const broker_worker_t *worker)
{
    if (self->liveness <= 0)
        return self->expiry_ms;
    return broker_registry_worker_interval(self, worker) * self->liveness;
}

void broker_registry_worker_remove(broker_registry_t *self, broker_worker_t *worker, int64_t now)
{
    broker_service_idle_remove(worker->service, worker);
    broker_service_paused_remove(worker->service, worker);
    zlistx_detach(self->expiry, worker->expiry_handle);
    worker->expiry_handle = NULL;
    zhashx_delete(self->workers, worker->identity);
    broker_service_worker_left(worker->service, now);
}

void broker_registry_workers_postpone(broker_registry_t *self, int64_t ms)
{
    for (broker_worker_t *worker = (broker_worker_t *) zlistx_first(self->expiry); worker;
         worker = (broker_worker_t *) zlistx_next(self->expiry)) {
        worker->expiry += ms;
        worker->heard_at += ms;
        if (worker->beat_at)
            worker->beat_at += ms;
    }
}

broker_worker_t *broker_registry_worker_oldest(const broker_registry_t *self)
{
    return (broker_worker_t *) zlistx_head(self->expiry);
}

broker_worker_t *broker_registry_worker_first(const broker_registry_t *self)
{
    return (broker_worker_t *) zlistx_first(self->expiry);
}

broker_worker_t *broker_registry_worker_next(const broker_registry_t *self)
{
    return (broker_worker_t *) zlistx_next(self->expiry);
}

broker_service_t *broker_registry_service_first(const broker_registry_t *self)
{
    return (broker_service_t *) zhashx_first(self->services);
}

broker_service_t *broker_registry_service_next(const broker_registry_t *self)
{
    return (broker_service_t *) zhashx_next(self->services);
}

broker_service_t *broker_registry_service_hold(broker_registry_t *self, const char *name,
                                               size_t most)
{
    broker_service_t *service = (broker_service_t *) zhashx_lookup(self->services, name);
    if (service || self->held_only >= most)
        return service;
    /* No counters (mmi.stats keeps a service's for ever): a client that names services at
       random must not grow the broker's memory; the first worker attaches them */
    service = broker_service_new(name, self->queue_limit);
    if (!service)
        return NULL;
    broker_service_set_queue_bytes(service, self->queue_bytes);
    if (zhashx_insert(self->services, name, service) != 0) {
        broker_service_destroy(&service);
        return NULL;
    }
    self->held_only++;
    return service;
}

void broker_registry_service_retire(broker_registry_t *self, broker_service_t *service)
{
    if (!broker_service_stats(service) && self->held_only > 0)
        self->held_only--;
    zhashx_delete(self->services, broker_service_name(service));
}

int64_t broker_registry_expiry_ms(const broker_registry_t *self)
{
    return self->expiry_ms;
}
