/*  bench_floor_server: the floor under row 1 of the gateway benchmark (gateway_bench.sh).
    The bare skeleton of `slowlane up`'s data path, with none of slowlane's code: civetweb
    (the gateway's options), each HTTP thread with a DEALER of its own on an inproc:// link to
    a zmq_proxy thread in the same process (where `slowlane up` runs its broker), whose DEALER
    side is bound over TCP for echo peers in other processes (bench-proxy echo, where the
    workers run). A request crosses the same threads and sockets as on the real path: HTTP
    thread -> proxy thread -> libzmq I/O thread -> TCP -> peer's I/O thread -> peer -> and back.
    Left out: routing by service, worker readiness, heartbeats, deadlines, retries, the
    envelope, the request table, access log and metrics. No broker between an HTTP server and
    worker processes can do less per request, so what this serves is as far as the design the
    issue asks for can go on the machine at that minute.

    bench-floor-server --listen 127.0.0.1:PORT --backend tcp://127.0.0.1:PORT [--threads N]
                       [--body-frames N]   (the request body split into N frames, default 1)
    (runs until SIGINT/SIGTERM; start `bench-proxy echo BACKEND` peers against it) */
#include <civetweb.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define S_FRONTEND      "inproc://bench-floor"
#define S_REPLY_TIMEOUT 30000 /* ms, as a route's default deadline */
#define S_CLIENT_HEADER "MDPC02"
#define S_REQUEST       0x01
#define S_HEADER_PARTS  3 /* header, command, service */
#define S_BODY_MAX      16384
#define S_FRAMES_MAX    24 /* the echo peers' limit (bench_proxy.c) less the routing id */

static int s_body_frames = 1; /* --body-frames: 9 is the shape of slowlane's request envelope */

static void *s_context;

/* civetweb's worker threads (thread_type 1) each get their own socket to the proxy. */
static void *s_init_thread(const struct mg_context *ctx, int thread_type)
{
    (void) ctx;
    if (thread_type != 1)
        return NULL;
    void *socket = zmq_socket(s_context, ZMQ_DEALER);
    if (!socket)
        return NULL;
    int linger = 0, timeout = S_REPLY_TIMEOUT;
    zmq_setsockopt(socket, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(socket, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    if (zmq_connect(socket, S_FRONTEND) != 0) {
        zmq_close(socket);
        return NULL;
    }
    return socket;
}

static void s_exit_thread(const struct mg_context *ctx, int thread_type, void *socket)
{
    (void) ctx;
    (void) thread_type;
    if (socket)
        zmq_close(socket);
}

static int s_answer(struct mg_connection *conn, int status, const char *body, size_t size)
{
    const char *reason = status == 200   ? "OK"
                         : status == 502 ? "Bad Gateway"
                         : status == 504 ? "Gateway Timeout"
                                         : "Internal Server Error";
    mg_printf(conn, "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n\r\n",
              status, reason, size);
    mg_write(conn, body, size);
    return status;
}

static int s_begin_request(struct mg_connection *conn)
{
    void *socket = mg_get_thread_pointer(conn);
    const struct mg_request_info *info = mg_get_request_info(conn);
    if (!socket)
        return s_answer(conn, 500, "no socket\n", 10);
    /* The request's method, path and headers as the body: the bytes a real request carries. */
    char body[S_BODY_MAX];
    int size = snprintf(body, sizeof body, "%s %s\n", info->request_method, info->local_uri);
    for (int i = 0; i < info->num_headers && size > 0 && (size_t) size < sizeof body; i++)
        size += snprintf(body + size, sizeof body - (size_t) size, "%s: %s\n",
                         info->http_headers[i].name, info->http_headers[i].value);
    if (size < 0 || (size_t) size >= sizeof body)
        size = 0;
    uint8_t command = S_REQUEST;
    zmq_send(socket, S_CLIENT_HEADER, strlen(S_CLIENT_HEADER), ZMQ_SNDMORE);
    zmq_send(socket, &command, 1, ZMQ_SNDMORE);
    zmq_send(socket, "fast", 4, ZMQ_SNDMORE);
    /* With --body-frames N, N-1 short frames first, like an envelope's magic, id and meta. */
    for (int frame = 1; frame < s_body_frames; frame++)
        zmq_send(socket, "SLREQ/1", 7, ZMQ_SNDMORE);
    zmq_send(socket, body, (size_t) size, 0);
    /* The peer answers with the same frames; the last one is the body. */
    zmq_msg_t part;
    zmq_msg_init(&part);
    int parts = 0;
    bool more = true;
    while (more) {
        if (zmq_msg_recv(&part, socket, 0) < 0) {
            zmq_msg_close(&part);
            return s_answer(conn, 504, "timeout\n", 8);
        }
        parts++;
        more = zmq_msg_more(&part);
    }
    int status = parts == S_HEADER_PARTS + s_body_frames ? 200 : 502;
    s_answer(conn, status, zmq_msg_data(&part), zmq_msg_size(&part) > 1 ? 1 : zmq_msg_size(&part));
    zmq_msg_close(&part);
    return status;
}

typedef struct {
    void *frontend;
    void *backend;
} s_proxy_t;

static void *s_proxy_thread(void *arg)
{
    s_proxy_t *proxy = arg;
    zmq_proxy(proxy->frontend, proxy->backend, NULL); /* returns on zmq_ctx_shutdown */
    zmq_close(proxy->frontend);
    zmq_close(proxy->backend);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *listen = NULL, *backend = NULL, *threads = "64";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--listen") == 0)
            listen = argv[i + 1];
        else if (strcmp(argv[i], "--backend") == 0)
            backend = argv[i + 1];
        else if (strcmp(argv[i], "--threads") == 0)
            threads = argv[i + 1];
        else if (strcmp(argv[i], "--body-frames") == 0)
            s_body_frames = atoi(argv[i + 1]);
        else
            listen = NULL;
    }
    if (!listen || !backend || argc % 2 == 0 || s_body_frames < 1 ||
        s_body_frames > S_FRAMES_MAX - S_HEADER_PARTS) {
        fprintf(stderr,
                "usage: bench-floor-server --listen ADDRESS:PORT --backend ENDPOINT "
                "[--threads N] [--body-frames 1..%d]\n",
                S_FRAMES_MAX - S_HEADER_PARTS);
        return 2;
    }
    s_context = zmq_ctx_new();
    s_proxy_t proxy = {zmq_socket(s_context, ZMQ_ROUTER), zmq_socket(s_context, ZMQ_DEALER)};
    int linger = 0;
    zmq_setsockopt(proxy.frontend, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(proxy.backend, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_bind(proxy.frontend, S_FRONTEND) != 0 || zmq_bind(proxy.backend, backend) != 0) {
        fprintf(stderr, "bench-floor-server: cannot bind %s\n", backend);
        return 1;
    }
    // Blocked before any thread starts, so they inherit the mask and sigwait gets it.
    sigset_t wanted;
    sigemptyset(&wanted);
    sigaddset(&wanted, SIGINT);
    sigaddset(&wanted, SIGTERM);
    sigprocmask(SIG_BLOCK, &wanted, NULL);
    pthread_t proxy_thread;
    if (pthread_create(&proxy_thread, NULL, s_proxy_thread, &proxy) != 0)
        return 1;
    const char *options[] = {
        "listening_ports",   listen, "num_threads", threads,
        "enable_keep_alive", "yes",  "tcp_nodelay", "1",
        "decode_url",        "no",   NULL,
    };
    struct mg_callbacks callbacks = {
        .begin_request = s_begin_request,
        .init_thread = s_init_thread,
        .exit_thread = s_exit_thread,
    };
    struct mg_context *server = mg_start(&callbacks, NULL, options);
    if (!server) {
        fprintf(stderr, "bench-floor-server: cannot listen on %s\n", listen);
        return 1;
    }
    printf("bench-floor-server: listening on %s, peers on %s\n", listen, backend);
    fflush(stdout);
    int signal_number = 0;
    sigwait(&wanted, &signal_number);
    mg_stop(server);
    zmq_ctx_shutdown(s_context);
    pthread_join(proxy_thread, NULL);
    zmq_ctx_term(s_context);
    return 0;
}
