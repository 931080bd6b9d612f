/*  sl_sched: see sl_sched.h. glibc has no wrapper for sched_setattr(2), and the kernel
    headers' struct clashes with glibc's sched_param: the first version of the struct
    (48 bytes) is declared here, as the man page does. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "sl_log.h"
#include "sl_sched.h"

typedef struct {
    uint32_t size;
    uint32_t sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime; /* SCHED_OTHER: the slice asked, in nanoseconds */
    uint64_t sched_deadline;
    uint64_t sched_period;
} s_sched_attr_t;

void sl_sched_ask_slice_us(int64_t slice_us)
{
    if (slice_us <= 0 || sched_getscheduler(0) != SCHED_OTHER)
        return;
    errno = 0;
    int nice = getpriority(PRIO_PROCESS, 0); // this thread's, on Linux
    s_sched_attr_t attr = {.size = sizeof attr,
                           .sched_policy = SCHED_OTHER,
                           .sched_nice = nice,
                           .sched_runtime = (uint64_t) slice_us * 1000};
    if ((nice == -1 && errno != 0) || syscall(SYS_sched_setattr, 0, &attr, 0) == -1)
        sl_log(SL_LOG_WARN, NULL, "slice_refused", "slice_us=%lld errno=%d", (long long) slice_us,
               errno);
}
