/*  broker_worker: the record of one registered worker and the identity helpers the worker
    table needs. No protocol decisions here: those are in broker.c, and the
    tables that hold records are broker_registry's. */
#include "broker_worker.h"

/* Fills buffer with the identity as text: as-is when printable, else hex, truncated. */
static void s_identity_text(zframe_t *identity, char *buffer, size_t size)
{
    const unsigned char *data = zframe_data(identity);
    size_t length = zframe_size(identity);
    bool printable = length > 0;
    for (size_t i = 0; i < length && printable; i++)
        printable = data[i] > 32 && data[i] < 127 && data[i] != '"' && data[i] != '=';
    size_t out = 0;
    if (printable) {
        for (size_t i = 0; i < length && out + 1 < size; i++)
            buffer[out++] = (char) data[i];
    } else {
        static const char hex[] = "0123456789abcdef";
        for (size_t i = 0; i < length && out + 2 < size; i++) {
            buffer[out++] = hex[data[i] >> 4];
            buffer[out++] = hex[data[i] & 15];
        }
    }
    buffer[out] = 0;
}

broker_worker_t *broker_worker_new(zframe_t **identity_p, sl_mdp_version_t version,
                                   broker_service_t *service, int capacity)
{
    assert(identity_p && *identity_p && capacity >= 1);
    broker_worker_t *self = (broker_worker_t *) calloc(1, sizeof(broker_worker_t));
    if (!self)
        return NULL;
    self->jobs = (broker_request_t **) calloc((size_t) capacity, sizeof(broker_request_t *));
    self->free_slots = (int *) calloc((size_t) capacity, sizeof(int));
    if (!self->jobs || !self->free_slots) {
        free(self->jobs);
        free(self->free_slots);
        free(self);
        return NULL;
    }
    self->capacity = capacity;
    self->limit = capacity; /* a single-broker worker: every slot is this broker's */
    for (int slot = 0; slot < capacity; slot++)
        self->free_slots[slot] = capacity - 1 - slot; /* slot 0 is handed out first */
    self->identity = *identity_p;
    *identity_p = NULL;
    self->version = version;
    self->service = service;
    self->state = BROKER_WORKER_IDLE;
    s_identity_text(self->identity, self->name, sizeof(self->name));
    return self;
}

void broker_worker_destroy(broker_worker_t **self_p)
{
    assert(self_p);
    broker_worker_t *self = *self_p;
    if (!self)
        return;
    assert(!self->idle_handle && !self->paused_handle && !self->expiry_handle && self->busy == 0);
    zframe_destroy(&self->identity);
    free(self->jobs);
    free(self->free_slots);
    free(self);
    *self_p = NULL;
}

bool broker_worker_identity_is_generated(zframe_t *identity)
{
    return zframe_size(identity) > 0 && zframe_data(identity)[0] == 0;
}

/* FNV-1a: identities are short, so a simple byte hash is both fast and well spread. */
size_t broker_worker_identity_hash(const void *key)
{
    zframe_t *frame = (zframe_t *) key;
    const unsigned char *data = zframe_data(frame);
    size_t length = zframe_size(frame);
    uint64_t hash = 1469598103934665603ULL;
    for (size_t i = 0; i < length; i++) {
        hash ^= data[i];
        hash *= 1099511628211ULL;
    }
    return (size_t) hash;
}

int broker_worker_identity_compare(const void *key1, const void *key2)
{
    zframe_t *a = (zframe_t *) key1;
    zframe_t *b = (zframe_t *) key2;
    size_t size_a = zframe_size(a), size_b = zframe_size(b);
    if (size_a != size_b)
        return size_a < size_b ? -1 : 1;
    return memcmp(zframe_data(a), zframe_data(b), size_a);
}

bool broker_worker_has_room(const broker_worker_t *self)
{
    return self->busy < self->limit;
}

void broker_worker_set_credit(broker_worker_t *self, int credit)
{
    assert(credit >= 0 && credit <= self->capacity);
    self->credit_mode = true;
    self->limit = credit;
}

void broker_worker_hold(broker_worker_t *self, broker_request_t *request)
{
    assert(self->busy < self->capacity && !request->worker);
    int slot = self->free_slots[self->capacity - 1 - self->busy];
    self->busy++;
    self->jobs[slot] = request;
    request->worker = self;
    request->slot = slot;
    request->tag = ++self->sequence;
    self->state = BROKER_WORKER_BUSY;
}

void broker_worker_release(broker_worker_t *self, broker_request_t *request)
{
    assert(request->worker == self && self->jobs[request->slot] == request);
    self->jobs[request->slot] = NULL;
    self->busy--;
    self->free_slots[self->capacity - 1 - self->busy] = request->slot;
    request->worker = NULL;
    if (self->busy == 0)
        self->state = BROKER_WORKER_IDLE;
}

broker_request_t *broker_worker_job_for(broker_worker_t *self, zframe_t *address)
{
    if (self->capacity == 1)
        return self->jobs[0];
    if (!address || zframe_size(address) != BROKER_JOB_TAG_SIZE)
        return NULL;
    uint32_t slot, tag;
    memcpy(&slot, zframe_data(address), 4);
    memcpy(&tag, zframe_data(address) + 4, 4);
    if (slot >= (uint32_t) self->capacity || !self->jobs[slot] || self->jobs[slot]->tag != tag)
        return NULL;
    return self->jobs[slot];
}

broker_request_t *broker_worker_job_named(broker_worker_t *self, zframe_t *address)
{
    if (self->capacity > 1)
        return broker_worker_job_for(self, address);
    broker_request_t *job = self->jobs[0];
    return job && address && zframe_eq(address, job->client) ? job : NULL;
}

broker_request_t *broker_worker_take_newest(broker_worker_t *self)
{
    broker_request_t *newest = NULL;
    for (int slot = 0; slot < self->capacity && self->busy > 0; slot++) {
        broker_request_t *request = self->jobs[slot];
        /* Sequence order, robust to wrap-around: the later tag is ahead by less than 2^31. */
        if (request && (!newest || (int32_t) (request->tag - newest->tag) > 0))
            newest = request;
    }
    if (newest)
        broker_worker_release(self, newest);
    return newest;
}

broker_request_t *broker_worker_find(const broker_worker_t *self, zframe_t *client, const char *id)
{
    for (int slot = 0; slot < self->capacity; slot++)
        if (self->jobs[slot] && !self->jobs[slot]->cancelled &&
            broker_request_is(self->jobs[slot], client, id))
            return self->jobs[slot];
    return NULL;
}
