/*  test_gateway_routes: the gateway's route table. Parsing of --route specs and the JSON
    --routes file (good values, and each kind of bad value refused with a line naming it),
    the checks at seal time, matching (longest prefix on a segment boundary, 404/405), and
    the per-method policies (retry, cancel-on-disconnect). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "gateway_routes.h"
#include "sl_defaults.h"

static gateway_routes_t *s_table(const char **specs, size_t count)
{
    gateway_routes_t *routes = gateway_routes_new();
    assert_non_null(routes);
    char error[256];
    for (size_t i = 0; i < count; i++)
        assert_int_equal(gateway_routes_add_spec(routes, specs[i], error, sizeof error), 0);
    assert_int_equal(gateway_routes_seal(routes, error, sizeof error), 0);
    return routes;
}

/* Writes text to a temporary file and returns its path (static buffer). */
static const char *s_temp_file(const char *text)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/test_gateway_routes_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t) strlen(text));
    close(fd);
    return path;
}

static void test_spec_defaults(void **state)
{
    (void) state;
    const char *specs[] = {"/fast=fast"};
    gateway_routes_t *routes = s_table(specs, 1);
    const gateway_route_t *route = gateway_routes_at(routes, 0);
    assert_string_equal(route->prefix, "/fast");
    assert_string_equal(route->service, "fast");
    assert_int_equal(route->methods, GATEWAY_METHOD_ALL);
    assert_int_equal(route->timeout_ms, SL_DEFAULT_ROUTE_TIMEOUT_MS);
    assert_int_equal(route->budget, SL_DEFAULT_ROUTE_BUDGET);
    assert_int_equal(route->body_limit, SL_DEFAULT_BODY_LIMIT);
    assert_int_equal(route->retry, GATEWAY_RETRY_IDEMPOTENT);
    assert_int_equal(route->cancel, GATEWAY_CANCEL_IDEMPOTENT);
    gateway_routes_destroy(&routes);
    assert_null(routes);
    gateway_routes_destroy(&routes); /* safe twice */
}

static void test_spec_options(void **state)
{
    (void) state;
    const char *specs[] = {
        "/api/=api,methods=GET|post,timeout-ms=1500,budget=7,body-limit=1024,retry=off"};
    gateway_routes_t *routes = s_table(specs, 1);
    const gateway_route_t *route = gateway_routes_at(routes, 0);
    assert_string_equal(route->prefix, "/api"); /* trailing slash dropped */
    assert_string_equal(route->service, "api");
    assert_int_equal(route->methods, GATEWAY_METHOD_GET | GATEWAY_METHOD_POST);
    assert_int_equal(route->timeout_ms, 1500);
    assert_int_equal(route->budget, 7);
    assert_int_equal(route->body_limit, 1024);
    assert_int_equal(route->retry, GATEWAY_RETRY_OFF);
    gateway_routes_destroy(&routes);
}

/* Each bad spec is refused, the error names the offending part, and nothing is added. */
static void test_spec_bad(void **state)
{
    (void) state;
    static const struct {
        const char *spec;
        const char *named;
    } cases[] = {
        {"/fast", "PREFIX=SERVICE"},
        {"fast=fast", "prefix 'fast'"},
        {"/a?b=svc", "prefix '/a?b'"},
        {"/fast=", "service ''"},
        {"/fast=mmi.service", "service 'mmi.service'"},
        {"/fast=fast,timeout-ms=abc", "timeout-ms 'abc'"},
        {"/fast=fast,timeout-ms=0", "timeout-ms '0'"},
        {"/fast=fast,timeout-ms=-5", "timeout-ms '-5'"},
        {"/fast=fast,timeout-ms=99999999999999999999", "timeout-ms"},
        {"/fast=fast,timeout-ms=86400001", "timeout-ms '86400001'"},
        {"/fast=fast,budget=0", "budget '0'"},
        /* 19 digits: once a signed overflow in the parser (found by fuzz_routes) */
        {"/fast=fast,budget=9999999999999999999", "budget"},
        {"/fast=fast,body-limit=999999999999999999999", "body-limit"},
        {"/fast=fast,body-limit=1e6", "body-limit '1e6'"},
        {"/fast=fast,body-limit=999999999999", "body-limit"},
        {"/fast=fast,methods=GET|FETCH", "FETCH"},
        {"/fast=fast,methods=", "method ''"},
        {"/fast=fast,retry=maybe", "retry 'maybe'"},
        {"/fast=fast,cancel-on-disconnect=yes", "cancel-on-disconnect 'yes'"},
        {"/fast=fast,cancel-on-disconnect=", "cancel-on-disconnect ''"},
        {"/fast=fast,colour=blue", "unknown option 'colour'"},
        {"/fast=fast,budget", "option 'budget'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gateway_routes_t *routes = gateway_routes_new();
        char error[256] = "";
        assert_int_equal(gateway_routes_add_spec(routes, cases[i].spec, error, sizeof error), -1);
        if (!strstr(error, cases[i].named))
            fail_msg("spec %s: error '%s' does not name '%s'", cases[i].spec, error,
                     cases[i].named);
        assert_int_equal(gateway_routes_count(routes), 0);
        gateway_routes_destroy(&routes);
    }
}

static void test_seal_checks(void **state)
{
    (void) state;
    char error[256] = "";
    gateway_routes_t *routes = gateway_routes_new();
    assert_int_equal(gateway_routes_seal(routes, error, sizeof error), -1);
    assert_non_null(strstr(error, "no routes"));
    gateway_routes_destroy(&routes);

    /* Same prefix, overlapping methods: ambiguous, refused. */
    routes = gateway_routes_new();
    assert_int_equal(gateway_routes_add_spec(routes, "/x=a,methods=GET|POST", error, sizeof error),
                     0);
    assert_int_equal(gateway_routes_add_spec(routes, "/x=b,methods=PUT", error, sizeof error), 0);
    assert_int_equal(gateway_routes_add_spec(routes, "/x/=c,methods=POST", error, sizeof error), 0);
    assert_int_equal(gateway_routes_seal(routes, error, sizeof error), -1);
    assert_non_null(strstr(error, "POST"));
    assert_non_null(strstr(error, "/x"));
    gateway_routes_destroy(&routes);
}

static void test_match(void **state)
{
    (void) state;
    const char *specs[] = {"/=root",
                           "/fast=fast,methods=GET|POST",
                           "/fast/deep=deep",
                           "/slow=slow,methods=GET",
                           "/split=reader,methods=GET",
                           "/split=writer,methods=POST"};
    gateway_routes_t *routes = s_table(specs, 6);
    const gateway_route_t *route = NULL;
    unsigned allowed = 0;

    assert_int_equal(gateway_routes_match(routes, "GET", "/fast", &route, &allowed),
                     GATEWAY_ROUTE_FOUND);
    assert_string_equal(route->service, "fast");
    assert_int_equal(gateway_routes_match(routes, "GET", "/fast/x/y", &route, &allowed),
                     GATEWAY_ROUTE_FOUND);
    assert_string_equal(route->service, "fast");
    /* Longest prefix wins. */
    assert_int_equal(gateway_routes_match(routes, "GET", "/fast/deep/1", &route, &allowed),
                     GATEWAY_ROUTE_FOUND);
    assert_string_equal(route->service, "deep");
    /* Segment boundary: /faster is not under /fast; it falls to the root route. */
    assert_int_equal(gateway_routes_match(routes, "GET", "/faster", &route, &allowed),
                     GATEWAY_ROUTE_FOUND);
    assert_string_equal(route->service, "root");
    assert_int_equal(gateway_routes_match(routes, "GET", "/fastdeep", &route, &allowed),
                     GATEWAY_ROUTE_FOUND);
    assert_string_equal(route->service, "root");
    /* A method the longest prefix does not take: 405 with what it does take, never the
       shorter prefix's route. */
    assert_int_equal(gateway_routes_match(routes, "DELETE", "/slow", &route, &allowed),
                     GATEWAY_ROUTE_METHOD_NOT_ALLOWED);
    assert_int_equal(allowed, GATEWAY_METHOD_GET);
    assert_int_equal(gateway_routes_match(routes, "PROPFIND", "/fast", &route, &allowed),
                     GATEWAY_ROUTE_METHOD_NOT_ALLOWED);
    /* Same prefix split by method. */
    assert_int_equal(gateway_routes_match(routes, "POST", "/split/1", &route, &allowed),
                     GATEWAY_ROUTE_FOUND);
    assert_string_equal(route->service, "writer");
    assert_int_equal(gateway_routes_match(routes, "GET", "/split", &route, &allowed),
                     GATEWAY_ROUTE_FOUND);
    assert_string_equal(route->service, "reader");
    assert_int_equal(gateway_routes_match(routes, "PUT", "/split", &route, &allowed),
                     GATEWAY_ROUTE_METHOD_NOT_ALLOWED);
    assert_int_equal(allowed, GATEWAY_METHOD_GET | GATEWAY_METHOD_POST);
    char text[64];
    assert_string_equal(gateway_methods_format(allowed, text, sizeof text), "GET, POST");
    gateway_routes_destroy(&routes);

    /* Without a root route, an unknown path is 404. */
    const char *narrow[] = {"/fast=fast"};
    routes = s_table(narrow, 1);
    assert_int_equal(gateway_routes_match(routes, "GET", "/other", &route, &allowed),
                     GATEWAY_ROUTE_NOT_FOUND);
    assert_int_equal(gateway_routes_match(routes, "GET", "/", &route, &allowed),
                     GATEWAY_ROUTE_NOT_FOUND);
    gateway_routes_destroy(&routes);
}

static void test_retryable(void **state)
{
    (void) state;
    const char *specs[] = {"/a=a", "/b=b,retry=on", "/c=c,retry=off"};
    gateway_routes_t *routes = s_table(specs, 3);
    const gateway_route_t *a = gateway_routes_at(routes, 0), *b = gateway_routes_at(routes, 1),
                          *c = gateway_routes_at(routes, 2);
    assert_true(gateway_route_retryable(a, "GET"));
    assert_true(gateway_route_retryable(a, "PUT"));
    assert_true(gateway_route_retryable(a, "DELETE"));
    assert_false(gateway_route_retryable(a, "POST"));
    assert_false(gateway_route_retryable(a, "PATCH"));
    assert_true(gateway_route_retryable(b, "POST"));
    assert_false(gateway_route_retryable(c, "GET"));
    gateway_routes_destroy(&routes);
}

/* cancel-on-disconnect: idempotent methods by default (a client that left can ask again and
   loses nothing), every method with on, none with off. */
static void test_cancels_on_disconnect(void **state)
{
    (void) state;
    const char *specs[] = {"/a=a", "/b=b,cancel-on-disconnect=on", "/c=c,cancel-on-disconnect=off",
                           "/d=d,cancel-on-disconnect=idempotent,retry=on"};
    gateway_routes_t *routes = s_table(specs, 4);
    const gateway_route_t *a = gateway_routes_at(routes, 0), *b = gateway_routes_at(routes, 1),
                          *c = gateway_routes_at(routes, 2), *d = gateway_routes_at(routes, 3);
    assert_true(gateway_route_cancels_on_disconnect(a, "GET"));
    assert_true(gateway_route_cancels_on_disconnect(a, "HEAD"));
    assert_true(gateway_route_cancels_on_disconnect(a, "PUT"));
    assert_true(gateway_route_cancels_on_disconnect(a, "DELETE"));
    assert_false(gateway_route_cancels_on_disconnect(a, "POST"));
    assert_false(gateway_route_cancels_on_disconnect(a, "PATCH"));
    assert_true(gateway_route_cancels_on_disconnect(b, "POST"));
    assert_false(gateway_route_cancels_on_disconnect(c, "GET"));
    /* Its own policy, not retry's: a POST retried is still not cancelled. */
    assert_false(gateway_route_cancels_on_disconnect(d, "POST"));
    assert_true(gateway_route_retryable(d, "POST"));
    gateway_routes_destroy(&routes);
}

static void test_file_good(void **state)
{
    (void) state;
    const char *path = s_temp_file(
        "{\"routes\": [\n"
        "  {\"prefix\": \"/fast\", \"service\": \"fast\", \"methods\": [\"GET\", \"POST\"],\n"
        "   \"timeout-ms\": 2000, \"budget\": 64, \"body-limit\": 4096, \"retry\": \"on\",\n"
        "   \"cancel-on-disconnect\": \"off\"},\n"
        "  {\"prefix\": \"/slow\", \"service\": \"slow\", \"methods\": \"GET\"}\n"
        "]}\n");
    gateway_routes_t *routes = gateway_routes_new();
    char error[256] = "";
    assert_int_equal(gateway_routes_load_file(routes, path, error, sizeof error), 0);
    /* Flags and file add up. */
    assert_int_equal(gateway_routes_add_spec(routes, "/echo=echo", error, sizeof error), 0);
    assert_int_equal(gateway_routes_seal(routes, error, sizeof error), 0);
    assert_int_equal(gateway_routes_count(routes), 3);
    const gateway_route_t *fast = gateway_routes_at(routes, 0);
    assert_string_equal(fast->service, "fast");
    assert_int_equal(fast->methods, GATEWAY_METHOD_GET | GATEWAY_METHOD_POST);
    assert_int_equal(fast->timeout_ms, 2000);
    assert_int_equal(fast->budget, 64);
    assert_int_equal(fast->body_limit, 4096);
    assert_int_equal(fast->retry, GATEWAY_RETRY_ON);
    assert_int_equal(fast->cancel, GATEWAY_CANCEL_OFF);
    assert_int_equal(gateway_routes_at(routes, 1)->methods, GATEWAY_METHOD_GET);
    gateway_routes_destroy(&routes);
    unlink(path);

    /* A bare array is accepted too. */
    path = s_temp_file("[{\"prefix\": \"/x\", \"service\": \"x\"}]");
    routes = gateway_routes_new();
    assert_int_equal(gateway_routes_load_file(routes, path, error, sizeof error), 0);
    assert_int_equal(gateway_routes_count(routes), 1);
    gateway_routes_destroy(&routes);
    unlink(path);
}

static void test_file_bad(void **state)
{
    (void) state;
    static const struct {
        const char *text;
        const char *named;
    } cases[] = {
        {"{\"routes\": [", "routes file"}, /* not JSON */
        {"{\"routes\": {}}", "must be an array"},
        {"{\"routes\": [], \"extra\": 1}", "nothing else"},
        {"[{\"prefix\": \"/x\"}]", "\"service\""},
        {"[{\"prefix\": \"/x\", \"service\": \"x\", \"budgets\": 3}]", "unknown option 'budgets'"},
        {"[{\"prefix\": \"/x\", \"service\": \"x\", \"budget\": -3}]", "negative"},
        {"[{\"prefix\": \"/x\", \"service\": \"x\", \"cancel-on-disconnect\": true}]",
         "cancel-on-disconnect"},
        {"[{\"prefix\": \"/x\", \"service\": \"x\", \"timeout-ms\": 1.5}]", "timeout-ms"},
        {"[{\"prefix\": \"/x\", \"service\": \"x\", \"methods\": [\"GET\", 7]}]", "methods"},
        {"[{\"prefix\": \"/ok\", \"service\": \"ok\"}, {\"prefix\": \"nope\", \"service\": \"x\"}]",
         "route #2"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *path = s_temp_file(cases[i].text);
        gateway_routes_t *routes = gateway_routes_new();
        char error[512] = "";
        assert_int_equal(gateway_routes_load_file(routes, path, error, sizeof error), -1);
        if (!strstr(error, cases[i].named))
            fail_msg("file %s: error '%s' does not name '%s'", cases[i].text, error,
                     cases[i].named);
        /* A bad file adds nothing, not even its good routes. */
        assert_int_equal(gateway_routes_count(routes), 0);
        gateway_routes_destroy(&routes);
        unlink(path);
    }
    gateway_routes_t *routes = gateway_routes_new();
    char error[512] = "";
    assert_int_equal(
        gateway_routes_load_file(routes, "/nonexistent/routes.json", error, sizeof error), -1);
    assert_non_null(strstr(error, "/nonexistent/routes.json"));
    gateway_routes_destroy(&routes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_defaults),
        cmocka_unit_test(test_spec_options),
        cmocka_unit_test(test_spec_bad),
        cmocka_unit_test(test_seal_checks),
        cmocka_unit_test(test_match),
        cmocka_unit_test(test_retryable),
        cmocka_unit_test(test_file_good),
        cmocka_unit_test(test_file_bad),
        cmocka_unit_test(test_cancels_on_disconnect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
