/*  broker_worker: the record of one registered worker and the identity helpers the worker
    table needs. No protocol decisions here: those are in broker.c. */
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
                                   broker_service_t *service)
{
    assert(identity_p && *identity_p);
    broker_worker_t *self = (broker_worker_t *) calloc(1, sizeof(broker_worker_t));
    if (!self)
        return NULL;
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
    assert(!self->idle_handle && !self->expiry_handle);
    zframe_destroy(&self->identity);
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
