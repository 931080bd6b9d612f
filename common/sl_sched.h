/*  sl_sched: the CPU slice a latency-sensitive process asks of the scheduler. Linux 6.12's
    EEVDF scheduler lets any SCHED_OTHER thread ask for a shorter slice than the default
    (sched_attr.sched_runtime, 0.1 to 100 ms): a thread with a short slice gets an early
    deadline, so when it wakes it preempts a CPU hog at once instead of waiting for the
    hog's slice to end, and the group it runs in carries its shortest slice. No privilege
    is needed. Older kernels take the call and ignore the slice. What the threads do is not
    its business. */
#ifndef SL_SCHED_H
#define SL_SCHED_H

#include <stdint.h>

/* The --slice-us flag's help, the same for every program that has it. */
#define SL_SCHED_SLICE_FLAG_HELP                                                                   \
    "CPU slice asked of the scheduler, microseconds: short ones run sooner after a wake-up "       \
    "and preempt CPU hogs (Linux 6.12+; 0: the kernel's default)"

/* Asks slices of slice_us microseconds for the calling thread, and so for every thread it
   starts afterwards (they inherit it): call it once logging is set up and before any other
   thread starts. Keeps the thread's nice value; leaves a thread that is not SCHED_OTHER (a
   real-time one) alone. 0: nothing asked. A refusal is logged (slice_refused) and changes
   nothing else: the process runs at the kernel's default. */
void sl_sched_ask_slice_us(int64_t slice_us);

#endif
