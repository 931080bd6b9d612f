/*  supervisor_clock: the one clock every supervisor timer reads (restarts, job timeouts,
    drains, STATUS pacing): CLOCK_MONOTONIC, so a wall-clock step moves no deadline. */
#ifndef SUPERVISOR_CLOCK_H
#define SUPERVISOR_CLOCK_H

#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC in milliseconds. */
static inline int64_t supervisor_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
