/*  broker_service: per-service queue of waiting requests, line of idle workers and list
    of paused workers (protocol.md 3.7).
    Every list operation is O(1) via the zlistx handle stored in the request or worker;
    only the timer-driven sweeps walk a queue. */
#include "broker_service.h"

struct _broker_service_t {
    char *name;                    /* owned service name */
    zframe_t *name_frame;          /* owned: the name as a frame, echoed in client replies */
    zlistx_t *queue;               /* waiting broker_request_t, oldest first; not owned items */
    size_t queue_limit;            /* most requests the queue may hold, 0: no count bound */
    size_t queue_bytes_limit;      /* most bytes they may hold, 0: no memory bound */
    size_t queued_bytes;           /* bytes the queued requests hold now */
    zlistx_t *idle;                /* idle broker_worker_t, next to serve first */
    zlistx_t *paused;              /* broker_worker_t of several brokers held below their
                                      capacity here and not told DEMAND 1 (protocol.md 3.7) */
    size_t workers;                /* registered workers, idle or busy */
    int64_t last_worker_left;      /* zclock_mono() when the last worker left, 0 never */
    bool autoscaled;               /* an autoscaling policy may start workers for it */
    int64_t held_until;            /* a plain request waits for a first worker until then */
    broker_stats_service_t *stats; /* borrowed counters (broker_stats), NULL if none */
};

broker_service_t *broker_service_new(const char *name, size_t queue_limit)
{
    assert(name);
    broker_service_t *self = (broker_service_t *) calloc(1, sizeof(broker_service_t));
    if (!self)
        return NULL;
    self->name = strdup(name);
    if (!self->name)
        goto fail_name;
    self->name_frame = zframe_new(name, strlen(name));
    if (!self->name_frame)
        goto fail_frame;
    self->queue = zlistx_new();
    if (!self->queue)
        goto fail_queue;
    self->idle = zlistx_new();
    if (!self->idle)
        goto fail_idle;
    self->paused = zlistx_new();
    if (!self->paused)
        goto fail_paused;
    self->queue_limit = queue_limit;
    return self;

fail_paused:
    zlistx_destroy(&self->idle);
fail_idle:
    zlistx_destroy(&self->queue);
fail_queue:
    zframe_destroy(&self->name_frame);
fail_frame:
    free(self->name);
fail_name:
    free(self);
    return NULL;
}

void broker_service_destroy(broker_service_t **self_p)
{
    assert(self_p);
    broker_service_t *self = *self_p;
    if (!self)
        return;
    broker_request_t *request;
    while ((request = broker_service_dequeue(self)))
        broker_request_destroy(&request);
    broker_worker_t *worker;
    while ((worker = broker_service_idle_pop(self)))
        ; /* workers are owned by the broker's table; just unlink them */
    while ((worker = broker_service_paused_pop(self)))
        ;
    zlistx_destroy(&self->paused);
    zlistx_destroy(&self->idle);
    zlistx_destroy(&self->queue);
    zframe_destroy(&self->name_frame);
    free(self->name);
    free(self);
    *self_p = NULL;
}

const char *broker_service_name(broker_service_t *self)
{
    return self->name;
}

zframe_t *broker_service_name_frame(broker_service_t *self)
{
    return self->name_frame;
}

/* What a queued request costs: its body and client frames, the record, and czmq's and the
   allocator's share per frame (measured here: ~100 bytes). An estimate, cheap to take. */
static size_t s_footprint(const broker_request_t *request)
{
    size_t frames = request->body ? zmsg_size(request->body) : 0;
    size_t body = request->body ? zmsg_content_size(request->body) : 0;
    return sizeof(broker_request_t) + zframe_size(request->client) + body + (frames + 1) * 100;
}

void broker_service_set_queue_bytes(broker_service_t *self, size_t bytes)
{
    self->queue_bytes_limit = bytes;
}

size_t broker_service_queued_bytes(const broker_service_t *self)
{
    return self->queued_bytes;
}

/* Takes request off the queue's byte count (the caller detaches it). */
static void s_unqueued(broker_service_t *self, broker_request_t *request)
{
    request->queue_handle = NULL;
    self->queued_bytes -= request->footprint;
    request->footprint = 0;
}

int broker_service_enqueue(broker_service_t *self, broker_request_t *request)
{
    assert(!request->queue_handle);
    size_t footprint = s_footprint(request);
    if ((self->queue_limit && zlistx_size(self->queue) >= self->queue_limit) ||
        (self->queue_bytes_limit && self->queued_bytes + footprint > self->queue_bytes_limit))
        return -1;
    request->queue_handle = zlistx_add_end(self->queue, request);
    if (!request->queue_handle)
        return -1;
    request->footprint = footprint;
    self->queued_bytes += footprint;
    return 0;
}

void broker_service_requeue(broker_service_t *self, broker_request_t *request)
{
    assert(!request->queue_handle);
    request->queue_handle = zlistx_add_start(self->queue, request);
    assert(request->queue_handle);
    /* Back from a worker: it was admitted once and is not refused now */
    request->footprint = s_footprint(request);
    self->queued_bytes += request->footprint;
}

broker_request_t *broker_service_dequeue(broker_service_t *self)
{
    void *handle = zlistx_first(self->queue) ? zlistx_cursor(self->queue) : NULL;
    if (!handle)
        return NULL;
    broker_request_t *request = (broker_request_t *) zlistx_detach(self->queue, handle);
    s_unqueued(self, request);
    return request;
}

size_t broker_service_queued(broker_service_t *self)
{
    return zlistx_size(self->queue);
}

void broker_service_take_expired(broker_service_t *self, int64_t now, zlistx_t *expired)
{
    broker_request_t *request = (broker_request_t *) zlistx_first(self->queue);
    while (request) {
        if (request->deadline <= now) {
            /* detach_cur moves the cursor back one, so next() continues correctly */
            zlistx_detach_cur(self->queue);
            s_unqueued(self, request);
            zlistx_add_end(expired, request);
        }
        request = (broker_request_t *) zlistx_next(self->queue);
    }
}

void broker_service_take_all(broker_service_t *self, zlistx_t *taken)
{
    broker_request_t *request;
    while ((request = broker_service_dequeue(self)))
        zlistx_add_end(taken, request);
}

void broker_service_worker_joined(broker_service_t *self)
{
    self->workers++;
}

void broker_service_worker_left(broker_service_t *self, int64_t now)
{
    assert(self->workers > 0);
    self->workers--;
    self->last_worker_left = now;
}

size_t broker_service_workers(broker_service_t *self)
{
    return self->workers;
}

int64_t broker_service_last_worker_left(broker_service_t *self)
{
    return self->last_worker_left;
}

void broker_service_set_autoscaled(broker_service_t *self, bool autoscaled)
{
    self->autoscaled = autoscaled;
}

bool broker_service_waits_for_workers(broker_service_t *self, int64_t now, int64_t grace_ms)
{
    return self->workers > 0 || self->autoscaled || now - self->last_worker_left <= grace_ms ||
           now < self->held_until;
}

void broker_service_hold_until(broker_service_t *self, int64_t until)
{
    if (until > self->held_until)
        self->held_until = until;
}

void broker_service_idle_push(broker_service_t *self, broker_worker_t *worker)
{
    assert(!worker->idle_handle);
    worker->idle_handle = zlistx_add_end(self->idle, worker);
    assert(worker->idle_handle);
}

void broker_service_idle_push_front(broker_service_t *self, broker_worker_t *worker)
{
    assert(!worker->idle_handle);
    worker->idle_handle = zlistx_add_start(self->idle, worker);
    assert(worker->idle_handle);
}

broker_worker_t *broker_service_idle_pop(broker_service_t *self)
{
    void *handle = zlistx_first(self->idle) ? zlistx_cursor(self->idle) : NULL;
    if (!handle)
        return NULL;
    broker_worker_t *worker = (broker_worker_t *) zlistx_detach(self->idle, handle);
    worker->idle_handle = NULL;
    return worker;
}

void broker_service_idle_remove(broker_service_t *self, broker_worker_t *worker)
{
    if (worker->idle_handle) {
        zlistx_detach(self->idle, worker->idle_handle);
        worker->idle_handle = NULL;
    }
}

size_t broker_service_idle(broker_service_t *self)
{
    return zlistx_size(self->idle);
}

void broker_service_paused_push(broker_service_t *self, broker_worker_t *worker)
{
    assert(!worker->paused_handle);
    worker->paused_handle = zlistx_add_end(self->paused, worker);
    assert(worker->paused_handle);
}

void broker_service_paused_remove(broker_service_t *self, broker_worker_t *worker)
{
    if (worker->paused_handle) {
        zlistx_detach(self->paused, worker->paused_handle);
        worker->paused_handle = NULL;
    }
}

broker_worker_t *broker_service_paused_pop(broker_service_t *self)
{
    void *handle = zlistx_first(self->paused) ? zlistx_cursor(self->paused) : NULL;
    if (!handle)
        return NULL;
    broker_worker_t *worker = (broker_worker_t *) zlistx_detach(self->paused, handle);
    worker->paused_handle = NULL;
    return worker;
}

size_t broker_service_paused(broker_service_t *self)
{
    return zlistx_size(self->paused);
}

broker_stats_service_t *broker_service_stats(broker_service_t *self)
{
    return self->stats;
}

void broker_service_set_stats(broker_service_t *self, broker_stats_service_t *stats)
{
    self->stats = stats;
}

broker_request_t *broker_service_oldest(broker_service_t *self)
{
    return (broker_request_t *) zlistx_head(self->queue);
}

broker_request_t *broker_service_queue_find(broker_service_t *self, zframe_t *client,
                                            const char *id)
{
    for (broker_request_t *request = zlistx_first(self->queue); request;
         request = zlistx_next(self->queue))
        if (broker_request_is(request, client, id))
            return request;
    return NULL;
}

void broker_service_unqueue(broker_service_t *self, broker_request_t *request)
{
    assert(request->queue_handle);
    zlistx_detach(self->queue, request->queue_handle);
    s_unqueued(self, request);
}
