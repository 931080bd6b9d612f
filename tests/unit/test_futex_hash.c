/*  test_futex_hash: unit tests of common/sl_futex_hash.c, the gateway's private futex hash
    sized for its threads (Linux 6.16+; on an older kernel there is none to size). */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <cmocka.h>

#include "sl_defaults.h"
#include "sl_futex_hash.h"

#define S_PR_FUTEX_HASH           78
#define S_PR_FUTEX_HASH_GET_SLOTS 2
#define S_THREADS                 8

static void test_four_slots_a_thread_in_powers_of_two(void **state)
{
    assert_int_equal(sl_futex_hash_slots_for(0), SL_FUTEX_HASH_MIN_SLOTS);
    assert_int_equal(sl_futex_hash_slots_for(4), 16);
    assert_int_equal(sl_futex_hash_slots_for(5), 32);
    assert_int_equal(sl_futex_hash_slots_for(2048), 8192);
    assert_int_equal(sl_futex_hash_slots_for(2049), 16384);
    assert_int_equal(sl_futex_hash_slots_for(SL_MAX_CONNECTIONS), SL_FUTEX_HASH_MAX_SLOTS);
    assert_int_equal(sl_futex_hash_slots_for(1 << 30), SL_FUTEX_HASH_MAX_SLOTS);
}

static sem_t s_started;
static sem_t s_release;

static void *s_sleeper(void *arg)
{
    sem_post(&s_started);
    sem_wait(&s_release); /* a futex wait in the hash being tested */
    return NULL;
}

static void test_reserve_sets_the_hash_and_threads_keep_it(void **state)
{
    int64_t slots = sl_futex_hash_reserve(2048);
    if (slots == 0) {
        /* No private hash on this kernel: the option itself must be unknown to it. */
        assert_int_equal(prctl(S_PR_FUTEX_HASH, S_PR_FUTEX_HASH_GET_SLOTS, 0, 0, 0), -1);
        assert_int_equal(errno, EINVAL);
        return;
    }
    assert_int_equal(slots, 8192);
    assert_int_equal(prctl(S_PR_FUTEX_HASH, S_PR_FUTEX_HASH_GET_SLOTS, 0, 0, 0), 8192);
    /* The kernel re-sizes a default hash as threads are created (by CPU count, not thread
       count); a size set on purpose must survive that. */
    sem_init(&s_started, 0, 0);
    sem_init(&s_release, 0, 0);
    pthread_t threads[S_THREADS];
    for (int i = 0; i < S_THREADS; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, s_sleeper, NULL), 0);
    for (int i = 0; i < S_THREADS; i++)
        sem_wait(&s_started);
    assert_int_equal(prctl(S_PR_FUTEX_HASH, S_PR_FUTEX_HASH_GET_SLOTS, 0, 0, 0), 8192);
    for (int i = 0; i < S_THREADS; i++)
        sem_post(&s_release);
    for (int i = 0; i < S_THREADS; i++)
        assert_int_equal(pthread_join(threads[i], NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_four_slots_a_thread_in_powers_of_two),
        cmocka_unit_test(test_reserve_sets_the_hash_and_threads_keep_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
