/*  worker_mailbox: one direction of the hand-off between a worker's handler thread and its
    I/O thread: a queue of messages and an eventfd that is readable while the queue holds
    any, so the reader sleeps in poll() beside its other descriptors. It replaced a zactor
    pipe (an inproc ZeroMQ PAIR): each libzmq operation on a socket checks its command
    mailbox with getpid() and poll(), about 14 system calls a job on each side, at 0.5 to
    0.9 us each on this kind of VM. Here a message costs a lock and, only when the queue
    changes between empty and not, one write() or read(). It knows nothing of what the
    messages say. */
#ifndef WORKER_MAILBOX_H
#define WORKER_MAILBOX_H

#include <czmq.h>

typedef struct _worker_mailbox_t worker_mailbox_t;

/* An empty mailbox; NULL if no eventfd or memory could be had. */
worker_mailbox_t *worker_mailbox_new(void);

/* Destroys it and every message still in it; *self_p becomes NULL. */
void worker_mailbox_destroy(worker_mailbox_t **self_p);

/* Appends *msg_p (taken; *msg_p becomes NULL). Any thread. */
void worker_mailbox_post(worker_mailbox_t *self, zmsg_t **msg_p);

/* Appends a message of the one string frame text. */
void worker_mailbox_post_str(worker_mailbox_t *self, const char *text);

/* The oldest message (the caller's), or NULL if there is none. */
zmsg_t *worker_mailbox_take(worker_mailbox_t *self);

/* The descriptor to poll for reading: readable while the mailbox holds a message. */
int worker_mailbox_fd(const worker_mailbox_t *self);

#endif
