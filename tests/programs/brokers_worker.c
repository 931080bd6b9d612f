/*  brokers_worker: a worker of several brokers through the C API alone (sl_worker_new, then
    sl_worker_add_broker for each further endpoint), for tests/system/test_worker_brokers.py
    until slowlane-worker takes a repeated --broker. Its handler sleeps for the number of
    milliseconds the request body names, and answers "start end overlap" (monotonic
    nanoseconds, and 1 if it ever saw two jobs at once: it then also exits with status 3).
    Usage: slowlane-test-brokers-worker SERVICE CAPACITY HEARTBEAT_MS LIVENESS BROKER...
    CURVE: BROKERS_WORKER_CURVE_SECRET and _SERVER (sl_worker_set_curve), and
    BROKERS_WORKER_LAST_BROKER_KEY (sl_worker_set_broker_curve_key for the last broker). */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "slowlane/worker.h"

static atomic_int s_running;  /* jobs inside the handler now */
static atomic_int s_overlaps; /* times a job started while another ran */

static long long s_now_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long long) now.tv_sec * 1000000000LL + now.tv_nsec;
}

static int s_sleeper(sl_job_t *job, void *arg)
{
    if (atomic_fetch_add(&s_running, 1) != 0)
        atomic_fetch_add(&s_overlaps, 1);
    long long start = s_now_ns();
    size_t size = 0;
    const char *body = sl_job_body(job, &size);
    char text[32] = "";
    memcpy(text, body, size < sizeof text - 1 ? size : sizeof text - 1);
    long milliseconds = strtol(text, NULL, 10);
    if (milliseconds > 0) {
        //  The whole time, also when SIGTERM lands on this thread: a drain lets jobs finish
        struct timespec pause = {milliseconds / 1000, (milliseconds % 1000) * 1000000L};
        while (nanosleep(&pause, &pause) == -1 && errno == EINTR)
            ;
    }
    long long end = s_now_ns();
    atomic_fetch_sub(&s_running, 1);
    char reply[96];
    int length =
        snprintf(reply, sizeof reply, "%lld %lld %d", start, end, atomic_load(&s_overlaps) ? 1 : 0);
    return sl_job_write(job, reply, (size_t) length);
}

int main(int argc, char *argv[])
{
    if (argc < 6) {
        fprintf(stderr, "usage: %s SERVICE CAPACITY HEARTBEAT_MS LIVENESS BROKER...\n", argv[0]);
        return 2;
    }
    sl_worker_t *worker = sl_worker_new(argv[5], argv[1]);
    if (!worker)
        return 2;
    int rc = sl_worker_set_capacity(worker, atoi(argv[2]));
    sl_worker_set_heartbeat(worker, atoi(argv[3]), atoi(argv[4]));
    sl_worker_set_reconnect(worker, 50, 200);
    for (int index = 6; rc == 0 && index < argc; index++)
        rc = sl_worker_add_broker(worker, argv[index]);
    //  CURVE from the environment: the worker's pair and a broker key for all, and the last
    //  broker's own key
    const char *secret = getenv("BROKERS_WORKER_CURVE_SECRET");
    const char *server = getenv("BROKERS_WORKER_CURVE_SERVER");
    const char *last_key = getenv("BROKERS_WORKER_LAST_BROKER_KEY");
    if (rc == 0 && secret && server)
        rc = sl_worker_set_curve(worker, secret, server);
    if (rc == 0 && last_key)
        rc = sl_worker_set_broker_curve_key(worker, argv[argc - 1], last_key);
    if (rc == 0)
        rc = sl_worker_run(worker, s_sleeper, NULL);
    sl_worker_destroy(&worker);
    if (atomic_load(&s_overlaps))
        return 3;
    return rc == 0 ? 0 : 2;
}
