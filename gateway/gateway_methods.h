/*  gateway_methods: HTTP method names as bits, sets of them as a route allows them, and
    the idempotent ones (RFC 9110 section 9.2.2). Pure: no state, no I/O. */
#ifndef GATEWAY_METHODS_H
#define GATEWAY_METHODS_H
#include <stdbool.h>
#include <stddef.h>

/* Method bits for gateway_route_t.methods. */
enum {
    GATEWAY_METHOD_GET = 1u << 0,
    GATEWAY_METHOD_HEAD = 1u << 1,
    GATEWAY_METHOD_POST = 1u << 2,
    GATEWAY_METHOD_PUT = 1u << 3,
    GATEWAY_METHOD_DELETE = 1u << 4,
    GATEWAY_METHOD_PATCH = 1u << 5,
    GATEWAY_METHOD_OPTIONS = 1u << 6,
    GATEWAY_METHOD_TRACE = 1u << 7,
    GATEWAY_METHOD_OTHER = 1u << 8, /* any token not named above */
    GATEWAY_METHOD_ALL = (1u << 9) - 1
};

/* Method bit for a method name (GATEWAY_METHOD_OTHER for tokens not in the list). */
unsigned gateway_method_bit(const char *method);
/* True for GET, HEAD, OPTIONS, TRACE, PUT and DELETE. */
bool gateway_method_idempotent(const char *method);
/* Writes "GET, POST" for a method set into buffer (for the Allow header). Returns buffer. */
const char *gateway_methods_format(unsigned methods, char *buffer, size_t size);
/* Parses "GET|POST" (names separated by '|', any case) into *methods. Returns 0, or -1 with
   one line in error naming the unknown method. */
int gateway_methods_parse(const char *text, size_t size, unsigned *methods, char *error,
                          size_t error_size);
#endif
