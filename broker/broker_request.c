/*  broker_request: lifecycle of the record that tracks one client request inside the
    broker. Holds no policy: what to do with a request is decided in broker_dispatch. */
#include "broker_request.h"

#include <string.h>

broker_request_t *broker_request_new(zframe_t **client_p, sl_mdp_version_t client_version,
                                     zmsg_t **body_p)
{
    assert(client_p && *client_p);
    broker_request_t *self = (broker_request_t *) calloc(1, sizeof(broker_request_t));
    if (!self)
        return NULL;
    self->client = *client_p;
    *client_p = NULL;
    self->client_version = client_version;
    if (body_p) {
        self->body = *body_p;
        *body_p = NULL;
    }
    return self;
}

void broker_request_destroy(broker_request_t **self_p)
{
    assert(self_p);
    broker_request_t *self = *self_p;
    if (!self)
        return;
    assert(!self->queue_handle); /* still queued: the service would hold a dangling pointer */
    zframe_destroy(&self->client);
    zmsg_destroy(&self->body);
    free(self);
    *self_p = NULL;
}

int64_t broker_request_time_left(const broker_request_t *self, int64_t now)
{
    return self->deadline - now;
}

bool broker_request_is(const broker_request_t *self, zframe_t *client, const char *id)
{
    return self->is_envelope && strcmp(self->id, id) == 0 && zframe_eq(self->client, client);
}
