/*  bench_echo_worker: a lean MDP/0.2 echo worker for the throughput benchmark.
    Registers one service (READY), answers each REQUEST with a FINAL carrying the same body,
    heartbeats while idle and re-registers on DISCONNECT or a silent broker. Raw libzmq, no
    envelope handling, no allocation per job: it should never be what limits the benchmark.
    Works with slowlane-broker and bench-minimal-broker alike. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define MAX_PARTS 64 /* a request with more frames is dropped: bench traffic has 5 */

enum {
    READY = 0x01,
    REQUEST = 0x02,
    PARTIAL = 0x03,
    FINAL = 0x04,
    HEARTBEAT = 0x05,
    DISCONNECT = 0x06
};

static volatile sig_atomic_t s_interrupted = 0;

static void s_on_signal(int signum)
{
    (void) signum;
    s_interrupted = 1;
}

static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sends one small frame; more says whether further frames follow. */
static int s_send_bytes(void *socket, const void *data, size_t size, bool more)
{
    return zmq_send(socket, data, size, more ? ZMQ_SNDMORE : 0) < 0 ? -1 : 0;
}

static void s_send_command(void *socket, uint8_t command, const char *service)
{
    s_send_bytes(socket, "MDPW02", 6, true);
    s_send_bytes(socket, &command, 1, service != NULL);
    if (service)
        s_send_bytes(socket, service, strlen(service), false);
}

/* A fresh socket per conversation: RFC 18 says a worker that receives DISCONNECT MUST close
   its socket and reconnect on a new one. */
static void *s_connect(void *context, const char *endpoint, const char *service)
{
    void *socket = zmq_socket(context, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(socket, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_connect(socket, endpoint) != 0) {
        fprintf(stderr, "bench-echo-worker: cannot connect to %s: %s\n", endpoint,
                zmq_strerror(errno));
        exit(1);
    }
    s_send_command(socket, READY, service);
    return socket;
}

int main(int argc, char *argv[])
{
    const char *endpoint = "tcp://127.0.0.1:5555";
    const char *service = "echo";
    int heartbeat_ms = 1000;
    int liveness = 3;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--broker") == 0 && i + 1 < argc)
            endpoint = argv[++i];
        else if (strcmp(argv[i], "--service") == 0 && i + 1 < argc)
            service = argv[++i];
        else if (strcmp(argv[i], "--heartbeat-ms") == 0 && i + 1 < argc)
            heartbeat_ms = atoi(argv[++i]);
        else if (strcmp(argv[i], "--liveness") == 0 && i + 1 < argc)
            liveness = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench-echo-worker [--broker EP] [--service NAME] "
                            "[--heartbeat-ms MS] [--liveness N]\n");
            return 2;
        }
    }
    if (heartbeat_ms <= 0 || liveness <= 0) {
        fprintf(stderr, "bench-echo-worker: --heartbeat-ms and --liveness must be > 0\n");
        return 2;
    }
    struct sigaction action = {.sa_handler = s_on_signal};
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);

    void *context = zmq_ctx_new();
    void *socket = s_connect(context, endpoint, service);
    int64_t last_sent = s_now_ms();
    int64_t last_heard = last_sent;
    /* The minimal broker sends no heartbeats at all: only a broker that has shown it
       heartbeats can be declared dead for falling silent. */
    bool broker_heartbeats = false;
    zmq_msg_t parts[MAX_PARTS];

    while (!s_interrupted) {
        zmq_pollitem_t item = {.socket = socket, .events = ZMQ_POLLIN};
        int64_t now = s_now_ms();
        long wait = (long) (last_sent + heartbeat_ms - now);
        if (zmq_poll(&item, 1, wait > 0 ? wait : 0) < 0)
            break; /* EINTR on SIGTERM */
        now = s_now_ms();
        if (item.revents & ZMQ_POLLIN) {
            int count = 0;
            int more = 1;
            while (more) {
                zmq_msg_t scratch; /* frames past MAX_PARTS are read and dropped */
                zmq_msg_t *part = count < MAX_PARTS ? &parts[count] : &scratch;
                zmq_msg_init(part);
                if (zmq_msg_recv(part, socket, 0) < 0) {
                    zmq_msg_close(part);
                    break;
                }
                more = zmq_msg_more(part);
                if (part == &scratch)
                    zmq_msg_close(part);
                count++;
            }
            int kept = count < MAX_PARTS ? count : MAX_PARTS;
            last_heard = now;
            uint8_t command = 0;
            bool valid = count <= MAX_PARTS && count >= 2 && zmq_msg_size(&parts[0]) == 6 &&
                         memcmp(zmq_msg_data(&parts[0]), "MDPW02", 6) == 0 &&
                         zmq_msg_size(&parts[1]) == 1;
            if (valid)
                command = *(uint8_t *) zmq_msg_data(&parts[1]);
            if (valid && command == REQUEST && count >= 4) {
                /* Echo: protocol frame, FINAL, then address, empty and body frames moved
                   unchanged from the request (zmq_msg_send takes them, no copy). */
                *(uint8_t *) zmq_msg_data(&parts[1]) = FINAL;
                for (int i = 0; i < count; i++)
                    zmq_msg_send(&parts[i], socket, i + 1 < count ? ZMQ_SNDMORE : 0);
                for (int i = 0; i < count; i++)
                    zmq_msg_close(&parts[i]);
                last_sent = now;
                continue;
            }
            for (int i = 0; i < kept; i++)
                zmq_msg_close(&parts[i]);
            if (valid && command == HEARTBEAT)
                broker_heartbeats = true;
            else if (valid && command == DISCONNECT) {
                zmq_close(socket);
                socket = s_connect(context, endpoint, service);
                last_sent = last_heard = s_now_ms();
            }
        } else if (broker_heartbeats && now - last_heard > (int64_t) heartbeat_ms * liveness) {
            /* Silent broker (crashed or restarted): start a new conversation. */
            zmq_close(socket);
            socket = s_connect(context, endpoint, service);
            last_sent = last_heard = now;
            broker_heartbeats = false;
        }
        if (now - last_sent >= heartbeat_ms) {
            s_send_command(socket, HEARTBEAT, NULL);
            last_sent = now;
        }
    }
    s_send_command(socket, DISCONNECT, NULL);
    zmq_close(socket);
    zmq_ctx_term(context);
    return 0;
}
