/*  sl_request_id: 128 random bits per thread, taken once (getrandom, else /dev/urandom, else
    the clock), mixed with the thread's counter; a fork reseeds the child's threads. */
#include "sl_request_id.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

/* Fills buffer with size random bytes: getrandom(2), else /dev/urandom. Both failing
   means a broken host; ids must still differ, so fall back to the clock and a counter. */
static void s_random_bytes(unsigned char *buffer, size_t size)
{
    size_t filled = 0;
    while (filled < size) {
        ssize_t got = getrandom(buffer + filled, size - filled, 0);
        if (got > 0)
            filled += got;
        else if (got < 0 && errno != EINTR)
            break;
    }
    if (filled == size)
        return;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        while (filled < size) {
            ssize_t got = read(fd, buffer + filled, size - filled);
            if (got > 0)
                filled += got;
            else if (got < 0 && errno == EINTR)
                continue;
            else
                break;
        }
        close(fd);
    }
    if (filled == size)
        return;
    static _Atomic unsigned long long counter;
    unsigned long long mix = (unsigned long long) zclock_usecs() ^
                             ((unsigned long long) getpid() << 40) ^
                             ++counter * 0x9e3779b97f4a7c15ULL;
    for (size_t index = filled; index < size; index++) {
        mix ^= mix >> 33;
        mix *= 0xff51afd7ed558ccdULL;
        buffer[index] = (unsigned char) (mix >> 56);
    }
}

/* Bumped in a forked child so its threads reseed: a parent's stream must not repeat there. */
static _Atomic unsigned s_id_generation = 1;

static void s_id_after_fork(void)
{
    s_id_generation++;
}

static void s_id_register_fork_handler(void)
{
    pthread_atfork(NULL, NULL, s_id_after_fork);
}

/* splitmix64's finaliser: a bijection, so distinct inputs give distinct outputs. */
static uint64_t s_mix64(uint64_t value)
{
    value ^= value >> 30;
    value *= 0xbf58476d1ce4e5b9ULL;
    value ^= value >> 27;
    value *= 0x94d049bb133111ebULL;
    return value ^ (value >> 31);
}

void sl_request_id_generate(char *buffer)
{
    /* A getrandom(2) per id is a syscall on every gateway request. Each thread instead takes
       128 random bits once and mixes them with its own counter: ids from one thread never
       repeat (the mix is a bijection of the counter), and threads differ by their keys. */
    static pthread_once_t fork_once = PTHREAD_ONCE_INIT;
    static _Thread_local uint64_t key[2];
    static _Thread_local uint64_t counter;
    static _Thread_local unsigned generation;
    if (generation != s_id_generation) {
        pthread_once(&fork_once, s_id_register_fork_handler);
        s_random_bytes((unsigned char *) key, sizeof key);
        counter = 0;
        generation = s_id_generation;
    }
    counter++;
    uint64_t words[2] = {s_mix64(key[0] + counter * 0x9e3779b97f4a7c15ULL),
                         s_mix64(key[1] ^ counter)};
    static const char hex[] = "0123456789abcdef";
    unsigned char bytes[16];
    memcpy(bytes, words, sizeof bytes);
    for (size_t index = 0; index < sizeof bytes; index++) {
        buffer[index * 2] = hex[bytes[index] >> 4];
        buffer[index * 2 + 1] = hex[bytes[index] & 0x0f];
    }
    buffer[32] = '\0';
}
