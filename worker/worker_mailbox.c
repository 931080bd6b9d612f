/*  worker_mailbox: a locked queue of messages with an eventfd (see worker_mailbox.h). The
    invariant, kept under the lock: the eventfd's counter is non-zero exactly while the queue
    is not empty. */
#include "worker_mailbox.h"

#include <pthread.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct _worker_mailbox_t {
    pthread_mutex_t lock; /* guards queue and the eventfd's counter */
    zlist_t *queue;       /* zmsg_t, oldest first */
    int fd;               /* eventfd: readable while queue is not empty */
};

worker_mailbox_t *worker_mailbox_new(void)
{
    worker_mailbox_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    self->queue = zlist_new();
    pthread_mutex_init(&self->lock, NULL);
    if (self->fd == -1 || !self->queue)
        worker_mailbox_destroy(&self);
    return self;
}

void worker_mailbox_destroy(worker_mailbox_t **self_p)
{
    worker_mailbox_t *self = *self_p;
    if (!self)
        return;
    zmsg_t *msg;
    while (self->queue && (msg = (zmsg_t *) zlist_pop(self->queue)))
        zmsg_destroy(&msg);
    zlist_destroy(&self->queue);
    if (self->fd != -1)
        close(self->fd);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

void worker_mailbox_post(worker_mailbox_t *self, zmsg_t **msg_p)
{
    zmsg_t *msg = *msg_p;
    *msg_p = NULL;
    if (!msg)
        return;
    pthread_mutex_lock(&self->lock);
    bool was_empty = zlist_size(self->queue) == 0;
    if (zlist_append(self->queue, msg) != 0)
        zmsg_destroy(&msg); // out of memory: lost, as a full socket would lose it
    else if (was_empty) {
        uint64_t one = 1;
        ssize_t written = write(self->fd, &one, sizeof one);
        (void) written; // fails only with a counter near 2^64
    }
    pthread_mutex_unlock(&self->lock);
}

void worker_mailbox_post_str(worker_mailbox_t *self, const char *text)
{
    zmsg_t *msg = zmsg_new();
    if (msg)
        zmsg_addstr(msg, text);
    worker_mailbox_post(self, &msg);
}

zmsg_t *worker_mailbox_take(worker_mailbox_t *self)
{
    pthread_mutex_lock(&self->lock);
    zmsg_t *msg = (zmsg_t *) zlist_pop(self->queue);
    if (msg && zlist_size(self->queue) == 0) {
        uint64_t count;
        ssize_t got = read(self->fd, &count, sizeof count);
        (void) got; // the counter was non-zero: the invariant
    }
    pthread_mutex_unlock(&self->lock);
    return msg;
}

int worker_mailbox_fd(const worker_mailbox_t *self)
{
    return self->fd;
}
