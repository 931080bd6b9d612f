/*  worker_held_job: one job a worker holds, as received from a broker: the address its
    replies echo, the link and connection generation it came over, its body until it
    starts, and under MDP/0.1 the PARTIALs kept for its one REPLY. A record, no I/O: which
    jobs are held and where replies go is worker_io's. */
#ifndef WORKER_HELD_JOB_H
#define WORKER_HELD_JOB_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct {
    zframe_t *address;   /* the REQUEST's address frame, echoed in every reply */
    size_t link;         /* index of the link it came over */
    uint64_t generation; /* that link's generation then: a different one now means lost */
    zmsg_t *body;        /* the REQUEST body until the job starts, then NULL */
    zmsg_t *parts;       /* MDP/0.1: the frames of its PARTIALs so far, sent with the FINAL */
} worker_held_job_t;

/* A job over link (at generation), taking *address_p and *body_p (both become NULL). NULL
   out of memory, the two left with the caller. */
worker_held_job_t *worker_held_job_new(size_t link, uint64_t generation, zframe_t **address_p,
                                       zmsg_t **body_p);

/* Destroys it and what it holds; *self_p becomes NULL. Safe on NULL. */
void worker_held_job_destroy(worker_held_job_t **self_p);

/* MDP/0.1 has no PARTIAL: the frames of *body_p (taken) join the job's earlier parts, to go
   out at the front of its one REPLY. Out of memory loses the part, as a full socket would
   lose a PARTIAL. */
void worker_held_job_keep_part(worker_held_job_t *self, zmsg_t **body_p);

#endif
