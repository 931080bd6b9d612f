/*  bench_minimal_broker: the yardstick for slowlane-broker's throughput. One ROUTER, MDP/0.2
    frames, workers register with READY, one request in flight per worker, idle workers
    first-in first-out, requests queued FIFO. Deliberately absent: protocol checks,
    heartbeats, deadlines, MMI, per-service queues (all workers serve whatever arrives). It is
    the ceiling for any broker with Majordomo's semantics on this machine, not a product. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define MAX_PARTS   32   /* frames kept per message; bench traffic has at most 5 */
#define MAX_WORKERS 1024 /* linear lookup: the benchmark runs a handful */
#define ID_MAX      256  /* ROUTER routing ids are at most 255 bytes */

/* Command bytes: the client and worker sub-protocols number them differently (RFC 18). */
enum { CLIENT_REQUEST = 0x01, CLIENT_PARTIAL = 0x02, CLIENT_FINAL = 0x03 };
enum { READY = 0x01, REQUEST = 0x02, PARTIAL = 0x03, FINAL = 0x04 };

typedef struct {
    zmq_msg_t parts[MAX_PARTS]; /* parts[0] is the sender's routing id */
    int count;                  /* frames held */
} message_t;

typedef struct request_t {
    message_t message;      /* the client's REQUEST as received */
    struct request_t *next; /* FIFO link */
} request_t;

typedef struct {
    uint8_t id[ID_MAX];      /* routing id */
    size_t id_size;          /* bytes in id */
    uint8_t service[ID_MAX]; /* service frame to echo to the client in replies */
    size_t service_size;     /* bytes in service */
} worker_t;

static volatile sig_atomic_t s_interrupted = 0;
static worker_t s_workers[MAX_WORKERS];
static int s_worker_count = 0;
static int s_idle[MAX_WORKERS]; /* ring of idle worker indexes, oldest first */
static int s_idle_head = 0, s_idle_size = 0;
static request_t *s_queue_head = NULL, *s_queue_tail = NULL;

static void s_on_signal(int signum)
{
    (void) signum;
    s_interrupted = 1;
}

/* Reads one multipart message; frames beyond MAX_PARTS are dropped. Returns -1 on EINTR. */
static int s_recv(void *socket, message_t *message)
{
    message->count = 0;
    int more = 1;
    while (more) {
        zmq_msg_t scratch;
        zmq_msg_t *part = message->count < MAX_PARTS ? &message->parts[message->count] : &scratch;
        zmq_msg_init(part);
        if (zmq_msg_recv(part, socket, 0) < 0) {
            zmq_msg_close(part);
            for (int i = 0; i < message->count && i < MAX_PARTS; i++)
                zmq_msg_close(&message->parts[i]);
            return -1;
        }
        more = zmq_msg_more(part);
        if (part == &scratch)
            zmq_msg_close(part);
        else
            message->count++;
    }
    return 0;
}

static void s_close(message_t *message)
{
    for (int i = 0; i < message->count; i++)
        zmq_msg_close(&message->parts[i]);
    message->count = 0;
}

static void s_send_bytes(void *socket, const void *data, size_t size)
{
    zmq_send(socket, data, size, ZMQ_SNDMORE);
}

/* Sends frames from..count-1 of message (moved, not copied) as the tail of a message. */
static void s_send_tail(void *socket, message_t *message, int from)
{
    for (int i = from; i < message->count; i++)
        zmq_msg_send(&message->parts[i], socket, i + 1 < message->count ? ZMQ_SNDMORE : 0);
}

static int s_worker_find(const void *id, size_t size)
{
    for (int i = 0; i < s_worker_count; i++)
        if (s_workers[i].id_size == size && memcmp(s_workers[i].id, id, size) == 0)
            return i;
    return -1;
}

/* Client REQUEST [client, MDPC02, 0x01, service, body...] becomes worker REQUEST
   [worker, MDPW02, 0x02, client, "", body...]. */
static void s_dispatch(void *socket, int worker, message_t *request)
{
    worker_t *w = &s_workers[worker];
    size_t service_size = zmq_msg_size(&request->parts[3]);
    if (service_size > ID_MAX)
        service_size = ID_MAX;
    memcpy(w->service, zmq_msg_data(&request->parts[3]), service_size);
    w->service_size = service_size;
    uint8_t command = REQUEST;
    s_send_bytes(socket, w->id, w->id_size);
    s_send_bytes(socket, "MDPW02", 6);
    s_send_bytes(socket, &command, 1);
    zmq_msg_send(&request->parts[0], socket, ZMQ_SNDMORE);
    if (request->count > 4) {
        s_send_bytes(socket, "", 0);
        s_send_tail(socket, request, 4);
    } else {
        zmq_send(socket, "", 0, 0);
    }
    s_close(request);
}

static void s_worker_idle(void *socket, int worker)
{
    if (s_queue_head) {
        request_t *request = s_queue_head;
        s_queue_head = request->next;
        if (!s_queue_head)
            s_queue_tail = NULL;
        s_dispatch(socket, worker, &request->message);
        free(request);
        return;
    }
    s_idle[(s_idle_head + s_idle_size) % MAX_WORKERS] = worker;
    s_idle_size++;
}

static void s_handle(void *socket, message_t *message)
{
    if (message->count < 3 || zmq_msg_size(&message->parts[2]) != 1)
        return;
    const char *protocol = zmq_msg_data(&message->parts[1]);
    uint8_t command = *(uint8_t *) zmq_msg_data(&message->parts[2]);
    bool from_worker = zmq_msg_size(&message->parts[1]) == 6 && memcmp(protocol, "MDPW02", 6) == 0;
    if (!from_worker) {
        if (command != CLIENT_REQUEST || message->count < 4)
            return;
        if (s_idle_size > 0) {
            int worker = s_idle[s_idle_head];
            s_idle_head = (s_idle_head + 1) % MAX_WORKERS;
            s_idle_size--;
            s_dispatch(socket, worker, message);
            return;
        }
        request_t *request = malloc(sizeof *request);
        if (!request)
            return;
        request->message.count = message->count;
        for (int i = 0; i < message->count; i++) {
            zmq_msg_init(&request->message.parts[i]);
            zmq_msg_move(&request->message.parts[i], &message->parts[i]);
        }
        request->next = NULL;
        if (s_queue_tail)
            s_queue_tail->next = request;
        else
            s_queue_head = request;
        s_queue_tail = request;
        return;
    }
    const void *id = zmq_msg_data(&message->parts[0]);
    size_t id_size = zmq_msg_size(&message->parts[0]);
    if (command == READY) {
        if (s_worker_count == MAX_WORKERS || id_size > ID_MAX || s_worker_find(id, id_size) >= 0)
            return;
        worker_t *w = &s_workers[s_worker_count];
        memcpy(w->id, id, id_size);
        w->id_size = id_size;
        s_worker_idle(socket, s_worker_count++);
    } else if ((command == PARTIAL || command == FINAL) && message->count >= 5) {
        /* [worker, MDPW02, cmd, client, "", body...] -> [client, MDPC02, cmd', service, body...] */
        int worker = s_worker_find(id, id_size);
        if (worker < 0)
            return;
        uint8_t client_command = command == FINAL ? CLIENT_FINAL : CLIENT_PARTIAL;
        zmq_msg_send(&message->parts[3], socket, ZMQ_SNDMORE);
        s_send_bytes(socket, "MDPC02", 6);
        s_send_bytes(socket, &client_command, 1);
        zmq_send(socket, s_workers[worker].service, s_workers[worker].service_size,
                 message->count > 5 ? ZMQ_SNDMORE : 0);
        s_send_tail(socket, message, 5);
        if (command == FINAL)
            s_worker_idle(socket, worker);
    }
    /* HEARTBEAT, DISCONNECT and anything else: ignored on purpose (see banner). */
}

int main(int argc, char *argv[])
{
    const char *bind = "tcp://127.0.0.1:5555";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--bind") == 0 && i + 1 < argc)
            bind = argv[++i];
        else {
            fprintf(stderr, "usage: bench-minimal-broker [--bind ENDPOINT]\n");
            return 2;
        }
    }
    struct sigaction action = {.sa_handler = s_on_signal};
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);

    void *context = zmq_ctx_new();
    void *socket = zmq_socket(context, ZMQ_ROUTER);
    int linger = 0;
    zmq_setsockopt(socket, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_bind(socket, bind) != 0) {
        fprintf(stderr, "bench-minimal-broker: cannot bind %s: %s\n", bind, zmq_strerror(errno));
        return 1;
    }
    message_t message;
    while (!s_interrupted) {
        if (s_recv(socket, &message) != 0)
            break;
        s_handle(socket, &message);
        s_close(&message); /* frames already sent are empty; closing them is a no-op */
    }
    while (s_queue_head) {
        request_t *next = s_queue_head->next;
        s_close(&s_queue_head->message);
        free(s_queue_head);
        s_queue_head = next;
    }
    zmq_close(socket);
    zmq_ctx_term(context);
    return 0;
}
