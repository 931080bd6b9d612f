/*  gateway_methods: HTTP method names as bits, sets of them as a route allows them, and
    the idempotent ones (RFC 9110 section 9.2.2). Pure: no state, no I/O. */
#include "gateway_methods.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *name;
    unsigned bit;
} s_methods[] = {
    {"GET", GATEWAY_METHOD_GET},         {"HEAD", GATEWAY_METHOD_HEAD},
    {"POST", GATEWAY_METHOD_POST},       {"PUT", GATEWAY_METHOD_PUT},
    {"DELETE", GATEWAY_METHOD_DELETE},   {"PATCH", GATEWAY_METHOD_PATCH},
    {"OPTIONS", GATEWAY_METHOD_OPTIONS}, {"TRACE", GATEWAY_METHOD_TRACE},
};
#define S_METHOD_COUNT (sizeof s_methods / sizeof s_methods[0])

unsigned gateway_method_bit(const char *method)
{
    for (size_t i = 0; i < S_METHOD_COUNT; i++)
        if (strcmp(method, s_methods[i].name) == 0)
            return s_methods[i].bit;
    return GATEWAY_METHOD_OTHER;
}

bool gateway_method_idempotent(const char *method)
{
    unsigned bit = gateway_method_bit(method);
    return (bit & (GATEWAY_METHOD_GET | GATEWAY_METHOD_HEAD | GATEWAY_METHOD_OPTIONS |
                   GATEWAY_METHOD_TRACE | GATEWAY_METHOD_PUT | GATEWAY_METHOD_DELETE)) != 0;
}

const char *gateway_methods_format(unsigned methods, char *buffer, size_t size)
{
    size_t used = 0;
    buffer[0] = '\0';
    for (size_t i = 0; i < S_METHOD_COUNT; i++) {
        if (!(methods & s_methods[i].bit))
            continue;
        int written =
            snprintf(buffer + used, size - used, "%s%s", used ? ", " : "", s_methods[i].name);
        if (written < 0 || (size_t) written >= size - used)
            break;
        used += (size_t) written;
    }
    return buffer;
}

/* "GET|POST": names separated by '|' (a ',' would end the option in a --route spec). */
int gateway_methods_parse(const char *text, size_t size, unsigned *methods, char *error,
                          size_t error_size)
{
    unsigned result = 0;
    const char *cursor = text, *end = text + size;
    while (cursor <= end) {
        const char *bar = memchr(cursor, '|', (size_t) (end - cursor));
        const char *stop = bar ? bar : end;
        size_t length = (size_t) (stop - cursor);
        bool known = false;
        for (size_t i = 0; i < S_METHOD_COUNT; i++) {
            if (strlen(s_methods[i].name) == length &&
                strncasecmp(cursor, s_methods[i].name, length) == 0) {
                result |= s_methods[i].bit;
                known = true;
            }
        }
        if (!known) {
            snprintf(error, error_size,
                     "unknown method '%.*s' (use GET|HEAD|POST|PUT|DELETE|PATCH|OPTIONS|TRACE)",
                     (int) length, cursor);
            return -1;
        }
        if (!bar)
            break;
        cursor = bar + 1;
    }
    *methods = result;
    return 0;
}
