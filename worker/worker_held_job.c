/*  worker_held_job: a job held by a worker (see worker_held_job.h). */
#include <stdlib.h>
#include "worker_held_job.h"

worker_held_job_t *worker_held_job_new(size_t link, uint64_t generation, zframe_t **address_p,
                                       zmsg_t **body_p)
{
    worker_held_job_t *self = calloc(1, sizeof(worker_held_job_t));
    if (!self)
        return NULL;
    self->link = link;
    self->generation = generation;
    self->address = *address_p;
    *address_p = NULL;
    self->body = *body_p;
    *body_p = NULL;
    return self;
}

void worker_held_job_destroy(worker_held_job_t **self_p)
{
    worker_held_job_t *self = *self_p;
    if (!self)
        return;
    zframe_destroy(&self->address);
    zmsg_destroy(&self->body);
    zmsg_destroy(&self->parts);
    free(self);
    *self_p = NULL;
}

void worker_held_job_keep_part(worker_held_job_t *self, zmsg_t **body_p)
{
    if (!self->parts)
        self->parts = zmsg_new();
    zframe_t *frame;
    while (self->parts && *body_p && (frame = zmsg_pop(*body_p)))
        zmsg_append(self->parts, &frame);
    zmsg_destroy(body_p);
}
