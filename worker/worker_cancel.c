/*  worker_cancel: the cancelled flag and its eventfd (see worker_cancel.h). */
#include "worker_cancel.h"

#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

int worker_cancel_init(worker_cancel_t *self)
{
    atomic_init(&self->raised, false);
    self->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    return self->fd == -1 ? -1 : 0;
}

void worker_cancel_close(worker_cancel_t *self)
{
    if (self->fd != -1)
        close(self->fd);
    self->fd = -1;
}

void worker_cancel_raise(worker_cancel_t *self)
{
    atomic_store(&self->raised, true);
    uint64_t one = 1;
    if (self->fd != -1) {
        /* A failure can only be EAGAIN (the counter is already up, the fd readable). */
        ssize_t written = write(self->fd, &one, sizeof one);
        (void) written;
    }
}

void worker_cancel_reset(worker_cancel_t *self)
{
    /* Called before every job: no system call unless the last job was cancelled (the
       eventfd is written only by a raise, on this same thread). */
    if (!atomic_exchange(&self->raised, false))
        return;
    uint64_t count;
    if (self->fd != -1)
        while (read(self->fd, &count, sizeof count) > 0)
            ;
}

bool worker_cancel_raised(const worker_cancel_t *self)
{
    return atomic_load(&self->raised);
}
