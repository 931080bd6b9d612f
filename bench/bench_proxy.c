/*  bench_proxy: the yardstick of the worker-capacity benchmark (bench/capacity_bench.sh).
    Two roles in one program, both raw libzmq:
      bench-proxy proxy FRONTEND BACKEND   zmq_proxy between a ROUTER (clients) and a DEALER
                                           (echo peers), both bound: the least any middle
                                           process can do per request.
      bench-proxy echo BACKEND [K]         an echo peer on a DEALER: takes up to K (default 16)
                                           waiting requests per wake-up, then answers them all.
    An echo peer answers bench-client's MDP/0.2 REQUEST [id, MDPC02, 0x01, service, body] with
    the same frames and the command byte set to FINAL (0x03), moving the frames back without
    copying, so the messages are the size of the ones slowlane's path carries. */
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

/* Bench traffic has 5 frames with the routing id, bench-floor-server up to 25; longer
   messages are dropped. */
#define MAX_PARTS    25
#define MAX_BATCH    64 /* most requests an echo peer holds at once */
#define CLIENT_FINAL 0x03

static volatile sig_atomic_t s_interrupted = 0;

static void s_on_signal(int signum)
{
    (void) signum;
    s_interrupted = 1;
}

typedef struct {
    zmq_msg_t parts[MAX_PARTS];
    int count;
} message_t;

/* Receives one whole message without waiting; -1 if none is there (or it was too long). */
static int s_recv_message(void *socket, message_t *message)
{
    message->count = 0;
    bool more = true, fits = true;
    while (more) {
        zmq_msg_t scratch;
        zmq_msg_t *part = message->count < MAX_PARTS ? &message->parts[message->count] : &scratch;
        zmq_msg_init(part);
        if (zmq_msg_recv(part, socket, message->count ? 0 : ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(part);
            break;
        }
        more = zmq_msg_more(part);
        if (part == &scratch) {
            zmq_msg_close(part);
            fits = false;
        } else
            message->count++;
    }
    if (more || !fits || message->count < 3) {
        for (int i = 0; i < message->count; i++)
            zmq_msg_close(&message->parts[i]);
        return -1;
    }
    return 0;
}

static int s_echo(const char *endpoint, int capacity)
{
    void *context = zmq_ctx_new();
    void *socket = zmq_socket(context, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(socket, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_connect(socket, endpoint) != 0) {
        fprintf(stderr, "bench-proxy: cannot connect to %s\n", endpoint);
        return 1;
    }
    static message_t batch[MAX_BATCH];
    while (!s_interrupted) {
        zmq_pollitem_t item = {.socket = socket, .events = ZMQ_POLLIN};
        if (zmq_poll(&item, 1, 200) <= 0)
            continue;
        int held = 0;
        while (held < capacity && s_recv_message(socket, &batch[held]) == 0)
            held++;
        for (int job = 0; job < held; job++) {
            message_t *message = &batch[job];
            /* Frame 0 is the client's routing id, added by the proxy's ROUTER. */
            zmq_msg_t *command = &message->parts[2];
            if (zmq_msg_size(command) == 1)
                *(uint8_t *) zmq_msg_data(command) = CLIENT_FINAL;
            for (int i = 0; i < message->count; i++)
                if (zmq_msg_send(&message->parts[i], socket,
                                 i + 1 < message->count ? ZMQ_SNDMORE : 0) < 0)
                    zmq_msg_close(&message->parts[i]);
        }
    }
    zmq_close(socket);
    zmq_ctx_term(context);
    return 0;
}

static int s_proxy(const char *frontend_endpoint, const char *backend_endpoint)
{
    void *context = zmq_ctx_new();
    void *frontend = zmq_socket(context, ZMQ_ROUTER);
    void *backend = zmq_socket(context, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(frontend, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(backend, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_bind(frontend, frontend_endpoint) != 0 || zmq_bind(backend, backend_endpoint) != 0) {
        fprintf(stderr, "bench-proxy: cannot bind %s / %s\n", frontend_endpoint, backend_endpoint);
        return 1;
    }
    zmq_proxy(frontend, backend, NULL); /* returns when a signal interrupts it */
    zmq_close(frontend);
    zmq_close(backend);
    zmq_ctx_term(context);
    return 0;
}

int main(int argc, char *argv[])
{
    struct sigaction action = {.sa_handler = s_on_signal};
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    if (argc == 4 && strcmp(argv[1], "proxy") == 0)
        return s_proxy(argv[2], argv[3]);
    if ((argc == 3 || argc == 4) && strcmp(argv[1], "echo") == 0) {
        int capacity = argc == 4 ? atoi(argv[3]) : 16;
        if (capacity >= 1 && capacity <= MAX_BATCH)
            return s_echo(argv[2], capacity);
    }
    fprintf(stderr,
            "usage: bench-proxy proxy FRONTEND BACKEND\n"
            "       bench-proxy echo BACKEND [K]   (K 1..%d, default 16)\n",
            MAX_BATCH);
    return 2;
}
