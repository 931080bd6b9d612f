/*  bench_direct_server: the baseline of the latency-overhead benchmark (latency_bench.sh):
    "calling the handler directly". The same HTTP server the gateway runs (civetweb, same
    keep-alive and TCP_NODELAY options), and on every request the same code the request
    meets at both ends of the real path: the gateway's header block and request envelope
    (sl_request_envelope_encode), the worker's job (worker_job_new), the builtin:echo handler
    itself (worker_handler_echo), its FINAL (worker_job_final) and the gateway's response
    writer (gateway_response_from_final). What it leaves out is exactly the path being
    measured: the gateway's slot and bridge, the DEALER, the broker, the worker's I/O actor
    and the sockets between them. So the slowlane round trip minus this one's is the path's
    overhead, not the cost of HTTP or of the handler.

    bench-direct-server --listen 127.0.0.1:PORT [--threads N]   (until SIGINT/SIGTERM) */
#include <civetweb.h>
#include <czmq.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway_response.h"
#include "sl_envelope.h"
#include "sl_request_id.h"
#include "sl_headers.h"
#include "worker_handlers.h"
#include "worker_job.h"

#define S_SCRATCH_SIZE 16384 /* as the gateway's per-thread response buffer */

static _Thread_local char s_scratch[S_SCRATCH_SIZE];
static _Thread_local sl_headers_builder_t s_headers;

/* The headers the gateway does not forward (gateway_http.c): hop-by-hop and its own id. */
static const char *s_dropped[] = {
    "Connection", "Keep-Alive", "Proxy-Connection", "TE",           "Transfer-Encoding",
    "Upgrade",    "Trailer",    "Expect",           "X-Request-Id",
};

static bool s_is_dropped(const char *name)
{
    for (size_t i = 0; i < sizeof s_dropped / sizeof *s_dropped; i++)
        if (strcasecmp(name, s_dropped[i]) == 0)
            return true;
    return false;
}

static int s_begin_request(struct mg_connection *conn)
{
    const struct mg_request_info *info = mg_get_request_info(conn);
    char id[SL_REQUEST_ID_MAX + 1];
    sl_request_id_generate(id);
    gateway_response_t response;
    gateway_response_init(&response, conn, id, s_scratch, sizeof s_scratch);

    s_headers.size = 0;
    if (s_headers.data)
        s_headers.data[0] = '\0';
    for (int i = 0; i < info->num_headers; i++) {
        const char *name = info->http_headers[i].name;
        const char *value = info->http_headers[i].value ? info->http_headers[i].value : "";
        if (!s_is_dropped(name))
            sl_headers_builder_add(&s_headers, name, strlen(name), value, strlen(value));
    }
    sl_headers_builder_add(&s_headers, "X-Request-Id", 12, id, strlen(id));
    sl_envelope_meta_t meta = {.timeout_ms = 30000, .retryable = true};
    snprintf(meta.id, sizeof meta.id, "%s", id);
    zmsg_t *envelope = sl_request_envelope_encode(
        &meta, info->request_method, info->local_uri_raw ? info->local_uri_raw : info->local_uri,
        info->query_string ? info->query_string : "", s_headers.data ? s_headers.data : "",
        s_headers.size, NULL, 0);
    sl_job_t *job = worker_job_new(&envelope, zclock_mono());
    int rc = worker_handler_echo(job, NULL);
    zmsg_t *final = worker_job_final(job, rc);
    worker_job_destroy(&job);
    gateway_response_from_final(&response, &final);
    gateway_response_finish(&response);
    return response.status > 0 ? response.status : 500;
}

int main(int argc, char **argv)
{
    const char *listen = "127.0.0.1:8090";
    const char *threads = "16";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--listen") == 0)
            listen = argv[i + 1];
        else if (strcmp(argv[i], "--threads") == 0)
            threads = argv[i + 1];
        else {
            fprintf(stderr, "usage: bench-direct-server --listen ADDRESS:PORT [--threads N]\n");
            return 2;
        }
    }
    zsys_init();
    // Blocked before civetweb starts its threads, so they inherit the mask and sigwait gets it.
    sigset_t wanted;
    sigemptyset(&wanted);
    sigaddset(&wanted, SIGINT);
    sigaddset(&wanted, SIGTERM);
    sigprocmask(SIG_BLOCK, &wanted, NULL);
    const char *options[] = {
        "listening_ports",   listen, "num_threads", threads,
        "enable_keep_alive", "yes",  "tcp_nodelay", "1",
        "decode_url",        "no",   NULL,
    };
    struct mg_callbacks callbacks = {.begin_request = s_begin_request};
    struct mg_context *context = mg_start(&callbacks, NULL, options);
    if (!context) {
        fprintf(stderr, "bench-direct-server: cannot listen on %s\n", listen);
        return 1;
    }
    printf("bench-direct-server: listening on %s\n", listen);
    fflush(stdout);
    int signal_number = 0;
    sigwait(&wanted, &signal_number);
    mg_stop(context);
    return 0;
}
