/*  sl_futex_hash: PR_FUTEX_HASH (Linux 6.16+, include/uapi/linux/prctl.h), with the
    constants spelled out because Debian 12's kernel headers predate it. On an older kernel
    prctl answers EINVAL for the unknown option, which is read as "no private hash". */
#include "sl_futex_hash.h"

#include <errno.h>
#include <sys/prctl.h>

#include "sl_defaults.h"

#ifndef PR_FUTEX_HASH
#define PR_FUTEX_HASH           78
#define PR_FUTEX_HASH_SET_SLOTS 1
#define PR_FUTEX_HASH_GET_SLOTS 2
#endif

int64_t sl_futex_hash_slots_for(int64_t thread_count)
{
    int64_t wanted = thread_count > 0 ? 4 * thread_count : 0;
    int64_t slots = SL_FUTEX_HASH_MIN_SLOTS;
    while (slots < wanted && slots < SL_FUTEX_HASH_MAX_SLOTS)
        slots *= 2;
    return slots;
}

int64_t sl_futex_hash_reserve(int64_t thread_count)
{
    if (prctl(PR_FUTEX_HASH, PR_FUTEX_HASH_GET_SLOTS, 0, 0, 0) < 0)
        return errno == EINVAL ? 0 : -1;
    int64_t slots = sl_futex_hash_slots_for(thread_count);
    if (prctl(PR_FUTEX_HASH, PR_FUTEX_HASH_SET_SLOTS, (unsigned long) slots, 0, 0) != 0)
        return -1;
    return prctl(PR_FUTEX_HASH, PR_FUTEX_HASH_GET_SLOTS, 0, 0, 0);
}
