/*  bench_zmq_rtt: the floor under the path's latency (issue #8 row 8). One bare libzmq round
    trip between two processes over TCP loopback, DEALER to ROUTER and back (the socket types
    of gateway -> broker and broker -> worker), paced like bench-latency: one message, then a
    pause, so both processes sleep between messages as they do at low load. No broker logic,
    no envelope, no HTTP: what libzmq and the kernel alone cost per hop. The whole path crosses
    two such hops (gateway <-> broker, broker <-> worker), so twice this p50 is as low as any
    ZeroMQ broker between the gateway and its workers can go on the machine.
    Prints `result zmq_rtt_p50_us N us` and `result zmq_rtt_p99_us N us`.
    Usage: bench-zmq-rtt [round-trips [interval-us]]   (default 5000, 1000) */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

static int64_t s_now_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t) now.tv_sec * 1000000000LL + now.tv_nsec;
}

static int s_compare(const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return x < y ? -1 : x > y;
}

/* The far side: a ROUTER that sends every message straight back to its sender. */
static int s_echo(void *context, const char *endpoint, int ready_fd)
{
    void *router = zmq_socket(context, ZMQ_ROUTER);
    if (!router || zmq_bind(router, endpoint) != 0)
        return 1;
    size_t size = 256;
    char bound[256];
    zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, bound, &size);
    if (write(ready_fd, bound, strlen(bound) + 1) < 0)
        return 1;
    close(ready_fd);
    while (1) {
        zmq_msg_t identity, body;
        zmq_msg_init(&identity);
        zmq_msg_init(&body);
        if (zmq_msg_recv(&identity, router, 0) < 0 || zmq_msg_recv(&body, router, 0) < 0)
            return 0; /* context ended: done */
        zmq_msg_send(&identity, router, ZMQ_SNDMORE);
        zmq_msg_send(&body, router, 0);
    }
}

int main(int argc, char **argv)
{
    long rounds = argc > 1 ? strtol(argv[1], NULL, 10) : 5000;
    long interval_us = argc > 2 ? strtol(argv[2], NULL, 10) : 1000;
    if (rounds <= 0 || interval_us < 0) {
        fprintf(stderr, "bench-zmq-rtt: round-trips must be > 0 and interval-us >= 0\n");
        return 2;
    }
    int ready[2];
    if (pipe(ready) != 0) {
        perror("bench-zmq-rtt: pipe");
        return 1;
    }
    pid_t echo = fork();
    if (echo < 0) {
        perror("bench-zmq-rtt: fork");
        return 1;
    }
    if (echo == 0) {
        close(ready[0]);
        void *context = zmq_ctx_new(); /* after the fork: a context must not cross one */
        _exit(s_echo(context, "tcp://127.0.0.1:*", ready[1]));
    }
    close(ready[1]);
    char endpoint[256] = "";
    ssize_t got = read(ready[0], endpoint, sizeof endpoint - 1);
    close(ready[0]);
    if (got <= 0) {
        fprintf(stderr, "bench-zmq-rtt: the echo process did not start\n");
        return 1;
    }
    void *context = zmq_ctx_new();
    void *dealer = zmq_socket(context, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(dealer, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_connect(dealer, endpoint) != 0) {
        fprintf(stderr, "bench-zmq-rtt: connect %s: %s\n", endpoint, zmq_strerror(zmq_errno()));
        return 1;
    }
    int64_t *samples = malloc((size_t) rounds * sizeof *samples);
    if (!samples)
        return 1;
    char buffer[64];
    /* Warm-up: the connection, and the first-touch costs of both processes. */
    for (int i = 0; i < 200; i++)
        if (zmq_send(dealer, "x", 1, 0) != 1 || zmq_recv(dealer, buffer, sizeof buffer, 0) < 0)
            return 1;
    for (long i = 0; i < rounds; i++) {
        int64_t start = s_now_ns();
        if (zmq_send(dealer, "x", 1, 0) != 1 || zmq_recv(dealer, buffer, sizeof buffer, 0) < 0) {
            fprintf(stderr, "bench-zmq-rtt: %s\n", zmq_strerror(zmq_errno()));
            return 1;
        }
        samples[i] = s_now_ns() - start;
        if (interval_us > 0)
            usleep((useconds_t) interval_us);
    }
    qsort(samples, (size_t) rounds, sizeof *samples, s_compare);
    printf("result zmq_rtt_p50_us %.1f us\n", (double) samples[rounds / 2] / 1e3);
    printf("result zmq_rtt_p99_us %.1f us\n", (double) samples[rounds * 99 / 100] / 1e3);
    free(samples);
    zmq_close(dealer);
    zmq_ctx_term(context);
    kill(echo, SIGTERM);
    waitpid(echo, NULL, 0);
    return 0;
}
