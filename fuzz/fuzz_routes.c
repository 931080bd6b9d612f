/*  fuzz_routes: libFuzzer target for the gateway's route table parser (gateway/gateway_routes.c).
    Input frames (fuzz_frames.h): frame 0 is a mode byte then a method, frame 1 a path; in
    spec mode every later frame is one --route spec, in file mode frame 2 is a --routes JSON
    file (fed through a memfd, no disk). The table is sealed and matched; answers are checked. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_frames.h"
#include "gateway_routes.h"
#include "sl_defaults.h"
#include "sl_envelope.h"

#define S_MAX_SPECS 32

static bool s_prefix_matches(const gateway_route_t *route, const char *path)
{
    size_t size = strlen(path);
    if (route->prefix_size == 1)
        return size >= 1 && path[0] == '/';
    return size >= route->prefix_size && memcmp(path, route->prefix, route->prefix_size) == 0 &&
           (size == route->prefix_size || path[route->prefix_size] == '/');
}

static void s_check_route(const gateway_route_t *route, size_t index)
{
    FUZZ_CHECK(route->index == index);
    FUZZ_CHECK(route->prefix && route->prefix[0] == '/');
    FUZZ_CHECK(route->prefix_size == strlen(route->prefix));
    FUZZ_CHECK(route->prefix_size == 1 || route->prefix[route->prefix_size - 1] != '/');
    FUZZ_CHECK(route->service && strlen(route->service) >= 1 &&
               strlen(route->service) <= SL_MAX_SERVICE_NAME);
    FUZZ_CHECK(route->methods != 0 && (route->methods & ~GATEWAY_METHOD_ALL) == 0);
    FUZZ_CHECK(route->timeout_ms >= 1 && route->timeout_ms <= SL_ENVELOPE_TIMEOUT_MAX_MS);
    FUZZ_CHECK(route->budget >= 1 && route->budget <= SL_MAX_ROUTE_BUDGET);
    FUZZ_CHECK(route->body_limit >= 0 && route->body_limit <= SL_MAX_BODY_LIMIT);
    FUZZ_CHECK(route->retry == GATEWAY_RETRY_IDEMPOTENT || route->retry == GATEWAY_RETRY_ON ||
               route->retry == GATEWAY_RETRY_OFF);
}

/* The JSON file, written to an anonymous in-memory file opened by its /proc path. */
static int s_load_json(gateway_routes_t *routes, const uint8_t *data, size_t size)
{
    static int fd = -1;
    if (fd < 0) {
        fd = memfd_create("fuzz_routes", MFD_CLOEXEC);
        FUZZ_CHECK(fd >= 0);
    }
    FUZZ_CHECK(ftruncate(fd, 0) == 0);
    FUZZ_CHECK(pwrite(fd, data, size, 0) == (ssize_t) size);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    char error[256];
    error[0] = '\0';
    int rc = gateway_routes_load_file(routes, path, error, sizeof error);
    FUZZ_CHECK(rc == 0 || (rc == -1 && error[0] != '\0'));
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_frames_t frames;
    fuzz_frames_init(&frames, data, size);
    const uint8_t *frame = NULL;
    size_t frame_size = 0;
    uint8_t mode = 0;
    char *method = NULL, *path = NULL;
    if (fuzz_frames_next(&frames, &frame, &frame_size) && frame_size > 0) {
        mode = frame[0];
        method = fuzz_strdup(frame + 1, frame_size - 1);
    } else
        method = fuzz_strdup((const uint8_t *) "GET", 3);
    path = fuzz_frames_next(&frames, &frame, &frame_size) ? fuzz_strdup(frame, frame_size)
                                                          : fuzz_strdup((const uint8_t *) "/", 1);

    gateway_routes_t *routes = gateway_routes_new();
    FUZZ_CHECK(routes);
    size_t expected = 0;
    if (mode & 1) {
        if (fuzz_frames_next(&frames, &frame, &frame_size) &&
            s_load_json(routes, frame, frame_size) == 0)
            expected = gateway_routes_count(routes);
        FUZZ_CHECK(gateway_routes_count(routes) == expected); /* a bad file adds nothing */
    } else {
        for (size_t specs = 0;
             specs < S_MAX_SPECS && fuzz_frames_next(&frames, &frame, &frame_size); specs++) {
            char *spec = fuzz_strdup(frame, frame_size);
            char error[128];
            error[0] = '\0';
            int rc = gateway_routes_add_spec(routes, spec, error, sizeof error);
            FUZZ_CHECK(rc == 0 || (rc == -1 && error[0] != '\0'));
            expected += rc == 0;
            FUZZ_CHECK(gateway_routes_count(routes) == expected); /* a bad spec adds nothing */
            free(spec);
        }
    }
    for (size_t index = 0; index < gateway_routes_count(routes); index++)
        s_check_route(gateway_routes_at(routes, index), index);

    char error[64];
    error[0] = '\0';
    if (gateway_routes_seal(routes, error, sizeof error) == 0) {
        FUZZ_CHECK(gateway_routes_seal(routes, error, sizeof error) == 0); /* twice is fine */
        FUZZ_CHECK(gateway_routes_add_spec(routes, "/sealed=sealed", error, sizeof error) == -1);
        const gateway_route_t *route = NULL;
        unsigned allowed = 0;
        unsigned bit = gateway_method_bit(method);
        gateway_route_result_t result =
            gateway_routes_match(routes, method, path, &route, &allowed);
        size_t count = gateway_routes_count(routes);
        switch (result) {
        case GATEWAY_ROUTE_FOUND:
            FUZZ_CHECK(route && s_prefix_matches(route, path) && (route->methods & bit));
            /* The longest matching prefix wins, whatever the methods of shorter ones. */
            for (size_t index = 0; index < count; index++) {
                const gateway_route_t *other = gateway_routes_at(routes, index);
                if (s_prefix_matches(other, path))
                    FUZZ_CHECK(other->prefix_size <= route->prefix_size);
            }
            (void) gateway_route_retryable(route, method);
            break;
        case GATEWAY_ROUTE_NOT_FOUND:
            for (size_t index = 0; index < count; index++)
                FUZZ_CHECK(!s_prefix_matches(gateway_routes_at(routes, index), path));
            break;
        case GATEWAY_ROUTE_METHOD_NOT_ALLOWED:
            FUZZ_CHECK(allowed != 0 && (allowed & bit) == 0);
            break;
        default:
            FUZZ_CHECK(!"unknown match result");
        }
        char small[8], large[128];
        gateway_methods_format(allowed | bit, small, sizeof small);
        FUZZ_CHECK(strlen(small) < sizeof small);
        gateway_methods_format(allowed | bit, large, sizeof large);
        FUZZ_CHECK(strlen(large) < sizeof large);
    } else
        FUZZ_CHECK(error[0] != '\0');

    gateway_routes_destroy(&routes);
    FUZZ_CHECK(routes == NULL);
    gateway_routes_destroy(&routes);
    free(path);
    free(method);
    return 0;
}
