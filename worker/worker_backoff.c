/*  worker_backoff: exponential backoff and the crash-loop window (see worker_backoff.h).
    Both the reconnecting I/O actor and the restarting supervisor use these, so the numbers
    in sl_defaults.h mean the same thing everywhere. */
#include <assert.h>
#include "worker_backoff.h"

void worker_backoff_init(worker_backoff_t *self, int64_t min_ms, int64_t max_ms, double factor)
{
    assert(self);
    assert(factor >= 1.0);
    self->min_ms = min_ms > 0 ? min_ms : 1;
    self->max_ms = max_ms >= self->min_ms ? max_ms : self->min_ms;
    self->factor = factor;
    self->current_ms = self->min_ms;
}

int64_t worker_backoff_next(worker_backoff_t *self)
{
    int64_t delay = self->current_ms;
    double grown = (double) self->current_ms * self->factor;
    //  Compare in double: a long run of failures must not overflow int64 before the cap
    self->current_ms = grown >= (double) self->max_ms ? self->max_ms : (int64_t) grown;
    if (self->current_ms < self->min_ms)
        self->current_ms = self->min_ms;
    return delay;
}

void worker_backoff_reset(worker_backoff_t *self)
{
    self->current_ms = self->min_ms;
}

void worker_crash_window_init(worker_crash_window_t *self, int limit, int64_t window_ms)
{
    assert(self);
    if (limit < 1)
        limit = 1;
    if (limit > WORKER_CRASH_WINDOW_SLOTS)
        limit = WORKER_CRASH_WINDOW_SLOTS;
    self->limit = limit;
    self->window_ms = window_ms;
    self->count = 0;
    self->head = 0;
}

bool worker_crash_window_record(worker_crash_window_t *self, int64_t now_ms)
{
    //  Forget restarts that fell out of the window, oldest first
    while (self->count > 0 && now_ms - self->restarts[self->head] >= self->window_ms) {
        self->head = (self->head + 1) % WORKER_CRASH_WINDOW_SLOTS;
        self->count--;
    }
    if (self->count == WORKER_CRASH_WINDOW_SLOTS) {
        self->head = (self->head + 1) % WORKER_CRASH_WINDOW_SLOTS;
        self->count--;
    }
    self->restarts[(self->head + self->count) % WORKER_CRASH_WINDOW_SLOTS] = now_ms;
    self->count++;
    return self->count >= self->limit;
}
