/*  sl_futex_hash: sizes the kernel's futex hash of this process for the threads it will
    block. Since Linux 6.16 a threaded process gets a private futex hash, sized by the
    number of CPUs, not of threads: 16 buckets on a 2-core machine, however many threads
    wait in it. The gateway parks one civetweb thread per connection (2,048 by default) on
    futexes, so every wake-up walked a chain of ~128 sleeping threads. Owns nothing else. */
#ifndef SL_FUTEX_HASH_H
#define SL_FUTEX_HASH_H

#include <stdint.h>

/* Buckets for thread_count threads: the kernel's own rule of four a thread, rounded up to
   a power of two, within SL_FUTEX_HASH_MIN_SLOTS..SL_FUTEX_HASH_MAX_SLOTS. */
int64_t sl_futex_hash_slots_for(int64_t thread_count);

/* Gives this process a private futex hash of sl_futex_hash_slots_for(thread_count) buckets.
   Returns the number of buckets set, 0 if the kernel has no per-process hash (before
   Linux 6.16 every process shares the global one, sized for the machine: nothing to do),
   or -1 if the kernel refused (errno set; the process runs on with the default hash).
   Call before starting the threads, from any thread. */
int64_t sl_futex_hash_reserve(int64_t thread_count);

#endif
