/*  bench_client: a pipelined MDP/0.2 client for the broker throughput benchmark.
    Keeps --outstanding requests (default 100) in flight on one DEALER, sends a new one for
    every FINAL, and prints the replies per second over --seconds (or until --requests
    replies). Opaque bodies only: it measures the broker's switching, not the envelope. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

enum { REQUEST = 0x01, PARTIAL = 0x02, FINAL = 0x03 };

static volatile sig_atomic_t s_interrupted = 0;

static void s_on_signal(int signum)
{
    (void) signum;
    s_interrupted = 1;
}

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

static void s_send_request(void *socket, const char *service, const void *body, size_t size)
{
    uint8_t command = REQUEST;
    zmq_send(socket, "MDPC02", 6, ZMQ_SNDMORE);
    zmq_send(socket, &command, 1, ZMQ_SNDMORE);
    zmq_send(socket, service, strlen(service), ZMQ_SNDMORE);
    zmq_send(socket, body, size, 0);
}

/* Receives one reply; returns its command byte and whether the body starts with the warm-up
   marker, or -1 on timeout/interrupt. */
static int s_recv_reply(void *socket, int timeout_ms, bool *warmup)
{
    zmq_pollitem_t item = {.socket = socket, .events = ZMQ_POLLIN};
    if (zmq_poll(&item, 1, timeout_ms) <= 0)
        return -1;
    int command = 0;
    int index = 0;
    int more = 1;
    *warmup = false;
    while (more) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, socket, 0) < 0) {
            zmq_msg_close(&part);
            return -1;
        }
        if (index == 1 && zmq_msg_size(&part) == 1)
            command = *(uint8_t *) zmq_msg_data(&part);
        if (index == 3 && zmq_msg_size(&part) >= 6 && memcmp(zmq_msg_data(&part), "warmup", 6) == 0)
            *warmup = true;
        more = zmq_msg_more(&part);
        zmq_msg_close(&part);
        index++;
    }
    return command;
}

int main(int argc, char *argv[])
{
    const char *endpoint = "tcp://127.0.0.1:5555";
    const char *service = "echo";
    double seconds = 5.0;
    long requests = 0;
    int outstanding = 100;
    size_t size = 16;
    int warmup_ms = 500;
    for (int i = 1; i < argc; i++) {
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (!value)
            goto usage;
        if (strcmp(argv[i], "--broker") == 0)
            endpoint = value;
        else if (strcmp(argv[i], "--service") == 0)
            service = value;
        else if (strcmp(argv[i], "--seconds") == 0)
            seconds = atof(value);
        else if (strcmp(argv[i], "--requests") == 0)
            requests = atol(value);
        else if (strcmp(argv[i], "--outstanding") == 0)
            outstanding = atoi(value);
        else if (strcmp(argv[i], "--size") == 0)
            size = (size_t) atol(value);
        else if (strcmp(argv[i], "--warmup-ms") == 0)
            warmup_ms = atoi(value);
        else
            goto usage;
        i++;
    }
    if (outstanding <= 0 || (seconds <= 0 && requests <= 0) || size < 6)
        goto usage;
    struct sigaction action = {.sa_handler = s_on_signal};
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);

    void *context = zmq_ctx_new();
    void *socket = zmq_socket(context, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(socket, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_connect(socket, endpoint) != 0) {
        fprintf(stderr, "bench-client: cannot connect to %s: %s\n", endpoint, zmq_strerror(errno));
        return 1;
    }
    char *body = malloc(size);
    char *warm = malloc(size);
    memset(body, 'x', size);
    memset(warm, 'x', size);
    memcpy(warm, "warmup", 6);

    /* Wait until the service answers: slowlane drops an opaque request for a service that
       never had a worker (a plain MDP client gets no error), so probe until one comes back. */
    double give_up = s_now() + 10.0;
    bool answered = false;
    while (!answered && !s_interrupted && s_now() < give_up) {
        s_send_request(socket, service, warm, size);
        bool is_warm;
        answered = s_recv_reply(socket, 200, &is_warm) == FINAL;
    }
    if (!answered) {
        fprintf(stderr, "bench-client: no reply from service '%s' at %s\n", service, endpoint);
        return 1;
    }
    /* Warm-up with the full pipeline (lets every worker register and connections settle);
       replies to warm-up requests are never counted. */
    for (int i = 0; i < outstanding; i++)
        s_send_request(socket, service, warm, size);
    double warm_end = s_now() + warmup_ms / 1000.0;
    while (!s_interrupted && s_now() < warm_end) {
        bool is_warm;
        int command = s_recv_reply(socket, 1000, &is_warm);
        if (command == FINAL)
            s_send_request(socket, service, warm, size);
        else if (command < 0)
            break;
    }
    /* Measure: the pipeline stays full; each counted reply was sent after warm-up ended. */
    double start = s_now();
    double end = seconds > 0 ? start + seconds : 1e300;
    long replies = 0, sent = 0;
    int in_flight = outstanding;
    while (!s_interrupted && in_flight > 0) {
        bool is_warm;
        int command = s_recv_reply(socket, 5000, &is_warm);
        if (command < 0) {
            fprintf(stderr, "bench-client: no reply for 5 s, %d in flight\n", in_flight);
            break;
        }
        if (command != FINAL)
            continue; /* PARTIALs are not replies */
        in_flight--;
        if (!is_warm)
            replies++;
        double now = s_now();
        if (now < end && (requests <= 0 || sent < requests)) {
            s_send_request(socket, service, body, size);
            sent++;
            in_flight++;
        }
        if (now >= end && in_flight > 0 && replies > 0)
            break; /* the window closed: do not wait for the tail */
    }
    double elapsed = s_now() - start;
    printf("replies/s: %.0f (replies=%ld seconds=%.2f outstanding=%d size=%zu)\n",
           elapsed > 0 ? replies / elapsed : 0.0, replies, elapsed, outstanding, size);
    free(body);
    free(warm);
    zmq_close(socket);
    zmq_ctx_term(context);
    return replies > 0 ? 0 : 1;

usage:
    fprintf(stderr,
            "usage: bench-client [--broker EP] [--service NAME] [--seconds S | --requests N]\n"
            "                    [--outstanding N] [--size BYTES] [--warmup-ms MS]\n");
    return 2;
}
