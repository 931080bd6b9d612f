/*  bench_latency: low-load HTTP round-trip latency for latency_bench.sh. One keep-alive TCP
    connection (TCP_NODELAY), one request at a time, paced: each request starts --interval-us
    after the previous one started (or at once if that one took longer), so nothing queues
    anywhere and every process on the path sleeps between requests, as at low load. Each round
    trip is timed from the write of the request to the last byte of the answer with
    CLOCK_MONOTONIC. Prints the percentiles (microseconds) and, with --csv, every sample.

    bench-latency --port P [--host 127.0.0.1] [--path /fast] [--requests 10000]
                  [--warmup 500] [--interval-us 1000] [--csv FILE]
    Exit status 1 if any answer was not a 200 (counted in "errors"). */
#define _GNU_SOURCE /* strcasestr */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int64_t s_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int s_connect(const char *host, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t) port)};
    inet_pton(AF_INET, host, &address.sin_addr);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *) &address, sizeof address) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* One request and its whole answer (Content-Length bodies only). Returns the status, or -1
   if the connection failed or the answer has no length. */
static int s_round_trip(int fd, const char *request, size_t request_size)
{
    if (write(fd, request, request_size) != (ssize_t) request_size)
        return -1;
    char buffer[65536];
    size_t have = 0;
    char *head_end = NULL;
    while (!head_end) {
        ssize_t n = read(fd, buffer + have, sizeof buffer - 1 - have);
        if (n <= 0)
            return -1;
        have += (size_t) n;
        buffer[have] = '\0';
        head_end = strstr(buffer, "\r\n\r\n");
        if (!head_end && have == sizeof buffer - 1)
            return -1;
    }
    int status = atoi(buffer + 9);
    const char *length_field = strcasestr(buffer, "\r\nContent-Length:");
    if (!length_field || length_field > head_end)
        return -1;
    size_t length = strtoul(length_field + 17, NULL, 10);
    size_t total = (size_t) (head_end + 4 - buffer) + length;
    while (have < total) {
        ssize_t n = read(fd, buffer, sizeof buffer < total - have ? sizeof buffer : total - have);
        if (n <= 0)
            return -1;
        have += (size_t) n;
    }
    return status;
}

static int s_compare(const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return x < y ? -1 : x > y;
}

static double s_percentile_us(const int64_t *sorted, int count, double q)
{
    int index = (int) (q / 100.0 * (count - 1) + 0.5);
    return sorted[index] / 1000.0;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1", *path = "/fast", *csv = NULL;
    int port = 0, requests = 10000, warmup = 500;
    int64_t interval_ns = 1000 * 1000;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--host") == 0)
            host = argv[i + 1];
        else if (strcmp(argv[i], "--port") == 0)
            port = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--path") == 0)
            path = argv[i + 1];
        else if (strcmp(argv[i], "--requests") == 0)
            requests = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--warmup") == 0)
            warmup = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--interval-us") == 0)
            interval_ns = atoll(argv[i + 1]) * 1000;
        else if (strcmp(argv[i], "--csv") == 0)
            csv = argv[i + 1];
        else
            port = 0;
    }
    if (port <= 0 || requests <= 0 || warmup < 0) {
        fprintf(stderr, "usage: bench-latency --port P [--host H] [--path /fast] [--requests N] "
                        "[--warmup N] [--interval-us US] [--csv FILE]\n");
        return 2;
    }
    int fd = s_connect(host, port);
    if (fd < 0) {
        fprintf(stderr, "bench-latency: cannot connect to %s:%d: %s\n", host, port,
                strerror(errno));
        return 1;
    }
    char request[1024];
    int request_size = snprintf(
        request, sizeof request,
        "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: bench-latency\r\n\r\n", path, host, port);
    int64_t *samples = calloc((size_t) requests, sizeof *samples);
    int errors = 0;
    int64_t next = s_now_ns();
    for (int i = -warmup; i < requests; i++) {
        struct timespec at = {.tv_sec = next / 1000000000, .tv_nsec = next % 1000000000};
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL);
        int64_t start = s_now_ns();
        next = start + interval_ns;
        int status = s_round_trip(fd, request, (size_t) request_size);
        int64_t took = s_now_ns() - start;
        if (status != 200) {
            errors++;
            if (status < 0) { // the connection broke: a new one, as a client would
                close(fd);
                fd = s_connect(host, port);
                if (fd < 0)
                    break;
            }
        }
        if (i >= 0)
            samples[i] = took;
    }
    if (fd >= 0)
        close(fd);
    if (csv) {
        FILE *file = fopen(csv, "w");
        if (file) {
            fprintf(file, "request,latency_us\n");
            for (int i = 0; i < requests; i++)
                fprintf(file, "%d,%.1f\n", i, samples[i] / 1000.0);
            fclose(file);
        }
    }
    qsort(samples, (size_t) requests, sizeof *samples, s_compare);
    double sum = 0;
    for (int i = 0; i < requests; i++)
        sum += samples[i] / 1000.0;
    printf("requests: %d\nerrors: %d\n", requests, errors);
    printf("min_us: %.1f\nmean_us: %.1f\n", samples[0] / 1000.0, sum / requests);
    printf("p50_us: %.1f\np90_us: %.1f\np99_us: %.1f\np99.9_us: %.1f\nmax_us: %.1f\n",
           s_percentile_us(samples, requests, 50), s_percentile_us(samples, requests, 90),
           s_percentile_us(samples, requests, 99), s_percentile_us(samples, requests, 99.9),
           samples[requests - 1] / 1000.0);
    free(samples);
    return errors ? 1 : 0;
}
