/*  gateway_routes: parsing, validation and matching of the route table.
    Both sources (--route specs and the JSON file) funnel into one validator, so a value is
    accepted or refused the same way wherever it was written. Owns no runtime state: the
    table is sealed once and then only read. */
#include "gateway_routes.h"

#include <assert.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sl_defaults.h"

struct _gateway_routes_t {
    gateway_route_t *routes;  /* index order (the order they were given) */
    size_t count;             /* routes in use */
    size_t cap;               /* routes allocated */
    gateway_route_t **sorted; /* longest prefix first, built by seal */
    bool sealed;              /* read-only from here on */
};

gateway_routes_t *gateway_routes_new(void)
{
    return calloc(1, sizeof(gateway_routes_t));
}

void gateway_routes_destroy(gateway_routes_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gateway_routes_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++) {
        free(self->routes[i].prefix);
        free(self->routes[i].service);
    }
    free(self->routes);
    free(self->sorted);
    free(self);
    *self_p = NULL;
}

/* Prefix: '/' then printable non-space bytes other than '?' and '#'; a trailing '/' is
   dropped so "/api/" and "/api" are the same route. */
static char *s_prefix_normalise(const char *text, size_t size)
{
    if (size == 0 || size > SL_MAX_ROUTE_PREFIX || text[0] != '/')
        return NULL;
    for (size_t i = 0; i < size; i++) {
        unsigned char c = (unsigned char) text[i];
        if (c <= 0x20 || c >= 0x7f || c == '?' || c == '#')
            return NULL;
    }
    while (size > 1 && text[size - 1] == '/')
        size--;
    return strndup(text, size);
}

/* Service: 1..255 printable bytes, and never an mmi.* name (those belong to the broker). */
static bool s_service_valid(const char *text, size_t size)
{
    if (size == 0 || size > SL_MAX_SERVICE_NAME)
        return false;
    for (size_t i = 0; i < size; i++) {
        unsigned char c = (unsigned char) text[i];
        if (c <= 0x20 || c >= 0x7f || c == ',')
            return false;
    }
    return !(size >= 4 && strncmp(text, "mmi.", 4) == 0);
}

/* Appends a route with the defaults; prefix and service are copied after validation. */
static gateway_route_t *s_route_append(gateway_routes_t *self, const char *prefix,
                                       size_t prefix_size, const char *service, size_t service_size,
                                       char *error, size_t error_size)
{
    if (self->sealed) {
        gateway_route_error(error, error_size, "route table is sealed");
        return NULL;
    }
    char *normalised = s_prefix_normalise(prefix, prefix_size);
    if (!normalised) {
        gateway_route_error(
            error, error_size,
            "prefix '%.*s': want '/' then up to %d printable bytes without '?' or '#'",
            (int) prefix_size, prefix, SL_MAX_ROUTE_PREFIX);
        return NULL;
    }
    if (!s_service_valid(service, service_size)) {
        gateway_route_error(error, error_size,
                            "service '%.*s': want 1..%d printable bytes, no ',' and not mmi.*",
                            (int) service_size, service, SL_MAX_SERVICE_NAME);
        free(normalised);
        return NULL;
    }
    if (self->count == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 8;
        gateway_route_t *routes = realloc(self->routes, cap * sizeof *routes);
        if (!routes) {
            free(normalised);
            gateway_route_error(error, error_size, "out of memory");
            return NULL;
        }
        self->routes = routes;
        self->cap = cap;
    }
    gateway_route_t *route = &self->routes[self->count];
    *route = (gateway_route_t){
        .index = self->count,
        .prefix = normalised,
        .prefix_size = strlen(normalised),
        .service = strndup(service, service_size),
    };
    gateway_route_set_defaults(route);
    self->count++;
    return route;
}

/* Removes the last route (a spec that failed half-way must leave no trace). */
static void s_route_drop_last(gateway_routes_t *self)
{
    assert(self->count > 0);
    self->count--;
    free(self->routes[self->count].prefix);
    free(self->routes[self->count].service);
}

int gateway_routes_add_spec(gateway_routes_t *self, const char *spec, char *error,
                            size_t error_size)
{
    char detail[256];
    const char *equals = strchr(spec, '=');
    if (!equals) {
        gateway_route_error(error, error_size, "route '%s': want PREFIX=SERVICE[,option=value...]",
                            spec);
        return -1;
    }
    const char *service = equals + 1;
    const char *comma = strchr(service, ',');
    size_t service_size = comma ? (size_t) (comma - service) : strlen(service);
    gateway_route_t *route = s_route_append(self, spec, (size_t) (equals - spec), service,
                                            service_size, detail, sizeof detail);
    if (!route) {
        gateway_route_error(error, error_size, "route '%s': %s", spec, detail);
        return -1;
    }
    while (comma) {
        const char *option = comma + 1;
        comma = strchr(option, ',');
        size_t option_size = comma ? (size_t) (comma - option) : strlen(option);
        const char *eq = memchr(option, '=', option_size);
        if (!eq) {
            gateway_route_error(error, error_size, "route '%s': option '%.*s' wants name=value",
                                spec, (int) option_size, option);
            s_route_drop_last(self);
            return -1;
        }
        if (gateway_route_set_option(route, option, (size_t) (eq - option), eq + 1,
                                     option_size - (size_t) (eq - option) - 1, detail,
                                     sizeof detail) != 0) {
            gateway_route_error(error, error_size, "route '%s': %s", spec, detail);
            s_route_drop_last(self);
            return -1;
        }
    }
    return 0;
}

int gateway_routes_add_jobs(gateway_routes_t *self, char *error, size_t error_size)
{
    for (size_t i = 0; i < self->count; i++)
        if (strcmp(self->routes[i].prefix, SL_JOBS_ROUTE_PREFIX) == 0) {
            gateway_route_error(
                error, error_size,
                "route %s: the jobs API's prefix (give --jobs=false to route it yourself)",
                SL_JOBS_ROUTE_PREFIX);
            return -1;
        }
    char detail[256];
    gateway_route_t *route =
        s_route_append(self, SL_JOBS_ROUTE_PREFIX, strlen(SL_JOBS_ROUTE_PREFIX), SL_JOBS_SERVICE,
                       strlen(SL_JOBS_SERVICE), detail, sizeof detail);
    if (!route) {
        gateway_route_error(error, error_size, "jobs route: %s", detail);
        return -1;
    }
    route->methods = GATEWAY_METHOD_GET | GATEWAY_METHOD_HEAD | GATEWAY_METHOD_DELETE;
    route->timeout_ms = SL_JOBS_REQUEST_TIMEOUT_MS;
    route->budget = SL_JOBS_ROUTE_BUDGET;
    route->body_limit = 0;
    route->async = GATEWAY_ASYNC_OFF;
    route->internal = true;
    return 0;
}

/* One JSON route object. Numbers must be JSON integers; methods a string or an array. */
static int s_load_object(gateway_routes_t *self, json_t *object, size_t position, char *error,
                         size_t error_size)
{
    char detail[256];
    if (!json_is_object(object)) {
        gateway_route_error(error, error_size, "route #%zu: want an object", position);
        return -1;
    }
    json_t *prefix = json_object_get(object, "prefix");
    json_t *service = json_object_get(object, "service");
    if (!json_is_string(prefix) || !json_is_string(service)) {
        gateway_route_error(error, error_size,
                            "route #%zu: \"prefix\" and \"service\" strings are required",
                            position);
        return -1;
    }
    gateway_route_t *route = s_route_append(self, json_string_value(prefix),
                                            json_string_length(prefix), json_string_value(service),
                                            json_string_length(service), detail, sizeof detail);
    if (!route) {
        gateway_route_error(error, error_size, "route #%zu: %s", position, detail);
        return -1;
    }
    const char *key;
    json_t *value;
    json_object_foreach(object, key, value)
    {
        if (strcmp(key, "prefix") == 0 || strcmp(key, "service") == 0)
            continue;
        char text[128];
        const char *span;
        size_t span_size;
        if (strcmp(key, "methods") == 0 && json_is_array(value)) {
            /* ["GET", "POST"] becomes "GET|POST" for the one method parser. */
            text[0] = '\0';
            size_t i;
            json_t *item;
            json_array_foreach(value, i, item)
            {
                if (!json_is_string(item) ||
                    strlen(text) + json_string_length(item) + 2 > sizeof text) {
                    gateway_route_error(error, error_size,
                                        "route #%zu: \"methods\": want method names", position);
                    goto fail;
                }
                if (i > 0)
                    strcat(text, "|");
                strcat(text, json_string_value(item));
            }
            span = text;
            span_size = strlen(text);
        } else if (json_is_string(value)) {
            span = json_string_value(value);
            span_size = json_string_length(value);
        } else if (json_is_integer(value)) {
            if (json_integer_value(value) < 0) {
                gateway_route_error(error, error_size, "route #%zu: \"%s\": negative", position,
                                    key);
                goto fail;
            }
            snprintf(text, sizeof text, "%" JSON_INTEGER_FORMAT, json_integer_value(value));
            span = text;
            span_size = strlen(text);
        } else {
            gateway_route_error(error, error_size,
                                "route #%zu: \"%s\": want a string or an integer", position, key);
            goto fail;
        }
        if (gateway_route_set_option(route, key, strlen(key), span, span_size, detail,
                                     sizeof detail) != 0) {
            gateway_route_error(error, error_size, "route #%zu (%s): %s", position, route->prefix,
                                detail);
            goto fail;
        }
    }
    return 0;
fail:
    s_route_drop_last(self);
    return -1;
}

int gateway_routes_load_file(gateway_routes_t *self, const char *path, char *error,
                             size_t error_size)
{
    json_error_t json_error;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &json_error);
    if (!root) {
        gateway_route_error(error, error_size, "routes file %s:%d: %s", path, json_error.line,
                            json_error.text);
        return -1;
    }
    json_t *list = root;
    if (json_is_object(root)) {
        list = json_object_get(root, "routes");
        if (json_object_size(root) != 1 || !list) {
            gateway_route_error(error, error_size,
                                "routes file %s: want {\"routes\": [...]} and nothing else", path);
            json_decref(root);
            return -1;
        }
    }
    if (!json_is_array(list)) {
        gateway_route_error(error, error_size, "routes file %s: \"routes\" must be an array", path);
        json_decref(root);
        return -1;
    }
    size_t added = 0, i;
    json_t *item;
    char detail[384];
    json_array_foreach(list, i, item)
    {
        if (s_load_object(self, item, i + 1, detail, sizeof detail) != 0) {
            gateway_route_error(error, error_size, "routes file %s: %s", path, detail);
            while (added--)
                s_route_drop_last(self);
            json_decref(root);
            return -1;
        }
        added++;
    }
    json_decref(root);
    return 0;
}

/* Longest prefix first; equal lengths by text so equal prefixes sit side by side. */
static int s_compare_routes(const void *a, const void *b)
{
    const gateway_route_t *left = *(gateway_route_t *const *) a;
    const gateway_route_t *right = *(gateway_route_t *const *) b;
    if (left->prefix_size != right->prefix_size)
        return left->prefix_size > right->prefix_size ? -1 : 1;
    int order = strcmp(left->prefix, right->prefix);
    if (order != 0)
        return order;
    return left->index < right->index ? -1 : 1;
}

int gateway_routes_seal(gateway_routes_t *self, char *error, size_t error_size)
{
    if (self->sealed)
        return 0;
    size_t own = 0;
    for (size_t i = 0; i < self->count; i++)
        own += !self->routes[i].internal;
    if (own == 0) {
        gateway_route_error(error, error_size,
                            "no routes: give --route PREFIX=SERVICE or --routes FILE");
        return -1;
    }
    self->sorted = calloc(self->count, sizeof *self->sorted);
    if (!self->sorted) {
        gateway_route_error(error, error_size, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < self->count; i++)
        self->sorted[i] = &self->routes[i];
    qsort(self->sorted, self->count, sizeof *self->sorted, s_compare_routes);
    for (size_t i = 0; i < self->count; i++) {
        for (size_t j = i + 1; j < self->count; j++) {
            const gateway_route_t *a = self->sorted[i], *b = self->sorted[j];
            if (strcmp(a->prefix, b->prefix) != 0)
                break;
            if (a->methods & b->methods) {
                char methods[128];
                gateway_route_error(
                    error, error_size, "routes for %s overlap on methods %s (services %s and %s)",
                    a->prefix,
                    gateway_methods_format(a->methods & b->methods, methods, sizeof methods),
                    a->service, b->service);
                free(self->sorted);
                self->sorted = NULL;
                return -1;
            }
        }
    }
    self->sealed = true;
    return 0;
}

/* Prefix match on a segment boundary: "/" matches everything. */
static bool s_prefix_matches(const gateway_route_t *route, const char *path, size_t path_size)
{
    if (route->prefix_size == 1)
        return path_size >= 1 && path[0] == '/';
    if (path_size < route->prefix_size || memcmp(path, route->prefix, route->prefix_size) != 0)
        return false;
    return path_size == route->prefix_size || path[route->prefix_size] == '/';
}

gateway_route_result_t gateway_routes_match(const gateway_routes_t *self, const char *method,
                                            const char *path, const gateway_route_t **route,
                                            unsigned *allowed)
{
    assert(self->sealed);
    size_t path_size = strlen(path);
    unsigned bit = gateway_method_bit(method);
    unsigned seen = 0;
    const gateway_route_t *matched = NULL;
    for (size_t i = 0; i < self->count; i++) {
        const gateway_route_t *candidate = self->sorted[i];
        /* Once a prefix matched, only routes with that same prefix are alternatives. */
        if (matched && strcmp(candidate->prefix, matched->prefix) != 0)
            break;
        if (!matched && !s_prefix_matches(candidate, path, path_size))
            continue;
        matched = candidate;
        seen |= candidate->methods;
        if (candidate->methods & bit) {
            *route = candidate;
            return GATEWAY_ROUTE_FOUND;
        }
    }
    if (!matched)
        return GATEWAY_ROUTE_NOT_FOUND;
    if (allowed)
        *allowed = seen;
    return GATEWAY_ROUTE_METHOD_NOT_ALLOWED;
}

size_t gateway_routes_count(const gateway_routes_t *self)
{
    return self->count;
}

const gateway_route_t *gateway_routes_at(const gateway_routes_t *self, size_t index)
{
    assert(index < self->count);
    return &self->routes[index];
}
