/*  bench_wakeup: what one thread wake-up costs on this machine, the unit every hop of the
    path pays. Two processes pass one byte back and forth over two pipes; each round trip is
    two wake-ups. Run it as is (the scheduler places the two processes, usually on two CPUs)
    and under `taskset -c 0` (both on one CPU) to see what crossing CPUs adds.
    Prints `result wakeup_round_trip_us N us`. Usage: bench-wakeup [round-trips] */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int s_pass(int from, int to, char *byte)
{
    return read(from, byte, 1) == 1 && write(to, byte, 1) == 1 ? 0 : -1;
}

int main(int argc, char **argv)
{
    long rounds = argc > 1 ? strtol(argv[1], NULL, 10) : 20000;
    if (rounds <= 0) {
        fprintf(stderr, "bench-wakeup: round-trips must be a positive number\n");
        return 2;
    }
    int there[2], back[2];
    if (pipe(there) != 0 || pipe(back) != 0) {
        perror("bench-wakeup: pipe");
        return 1;
    }
    char byte = 'x';
    pid_t echo = fork();
    if (echo < 0) {
        perror("bench-wakeup: fork");
        return 1;
    }
    if (echo == 0) {
        for (long i = 0; i < rounds; i++)
            if (s_pass(there[0], back[1], &byte) != 0)
                _exit(1);
        _exit(0);
    }
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (long i = 0; i < rounds; i++)
        if (write(there[1], &byte, 1) != 1 || read(back[0], &byte, 1) != 1) {
            perror("bench-wakeup: pipe i/o");
            return 1;
        }
    clock_gettime(CLOCK_MONOTONIC, &end);
    int status = 0;
    waitpid(echo, &status, 0);
    double us =
        ((double) (end.tv_sec - start.tv_sec) * 1e9 + (double) (end.tv_nsec - start.tv_nsec)) /
        1e3 / (double) rounds;
    printf("result wakeup_round_trip_us %.1f us\n", us);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
