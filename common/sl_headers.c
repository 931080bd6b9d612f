/*  sl_headers: the envelope's header block, "Name: value\r\n" repeated (docs/protocol.md 4.4).
    Reads, validates and builds blocks. It is the one place that decides what a header field
    may contain, so CR/LF/NUL injection is refused here for every component; it knows
    nothing of which headers mean what (the gateway and worker decide that). */
#include "sl_headers.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define S_NAME_MAX  256
#define S_VALUE_MAX 8192

/* RFC 9110 5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
   "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA */
static bool s_is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool s_is_space(char c)
{
    return c == ' ' || c == '\t';
}

bool sl_header_name_valid(const char *name, size_t size)
{
    if (!name || size < 1 || size > S_NAME_MAX)
        return false;
    for (size_t index = 0; index < size; index++)
        if (!s_is_tchar((unsigned char) name[index]))
            return false;
    return true;
}

bool sl_header_value_valid(const char *value, size_t size)
{
    if (size > S_VALUE_MAX || (size > 0 && !value))
        return false;
    for (size_t index = 0; index < size; index++)
        if (value[index] == '\r' || value[index] == '\n' || value[index] == '\0')
            return false;
    return true;
}

void sl_headers_iter_init(sl_headers_iter_t *iter, const char *block, size_t size)
{
    iter->cursor = block;
    iter->end = block ? block + size : block;
}

/* A malformed block leaves cursor NULL so every later call also reports -1. */
int sl_headers_iter_next(sl_headers_iter_t *iter, const char **name, size_t *name_size,
                         const char **value, size_t *value_size)
{
    if (!iter->cursor)
        return iter->end ? -1 : 0; /* NULL block: empty; NULL cursor alone: failed */
    if (iter->cursor == iter->end)
        return 0;
    const char *cursor = iter->cursor;
    const char *end = iter->end;
    const char *name_start = cursor;
    while (cursor < end && *cursor != ':')
        cursor++;
    if (cursor == end || !sl_header_name_valid(name_start, cursor - name_start))
        goto malformed;
    const char *name_end = cursor++;
    /* The value runs to the CR of the CRLF; a lone CR or LF, or a NUL, is malformed. */
    const char *value_start = cursor;
    while (cursor < end && *cursor != '\r' && *cursor != '\n' && *cursor != '\0')
        cursor++;
    if (end - cursor < 2 || cursor[0] != '\r' || cursor[1] != '\n')
        goto malformed;
    const char *value_end = cursor;
    while (value_start < value_end && s_is_space(*value_start))
        value_start++;
    while (value_end > value_start && s_is_space(value_end[-1]))
        value_end--;
    if (!sl_header_value_valid(value_start, value_end - value_start))
        goto malformed;
    iter->cursor = cursor + 2;
    if (name)
        *name = name_start;
    if (name_size)
        *name_size = name_end - name_start;
    if (value)
        *value = value_start;
    if (value_size)
        *value_size = value_end - value_start;
    return 1;

malformed:
    iter->cursor = NULL; /* end stays non-NULL: this state means "failed" */
    return -1;
}

bool sl_headers_valid(const char *block, size_t size)
{
    if (size > 0 && !block)
        return false;
    sl_headers_iter_t iter;
    sl_headers_iter_init(&iter, block, size);
    int rc;
    while ((rc = sl_headers_iter_next(&iter, NULL, NULL, NULL, NULL)) == 1)
        ;
    return rc == 0;
}

/* Refuses a malformed block as a whole rather than answering from its valid prefix, so a
   lookup can never see a field that validation would have rejected. */
const char *sl_headers_find(const char *block, size_t size, const char *name, size_t *value_size)
{
    if (!name || !sl_headers_valid(block, size))
        return NULL;
    size_t wanted = strlen(name);
    sl_headers_iter_t iter;
    sl_headers_iter_init(&iter, block, size);
    const char *field_name, *value;
    size_t field_name_size, size_of_value;
    while (sl_headers_iter_next(&iter, &field_name, &field_name_size, &value, &size_of_value) ==
           1) {
        if (field_name_size == wanted && strncasecmp(field_name, name, wanted) == 0) {
            if (value_size)
                *value_size = size_of_value;
            return value;
        }
    }
    return NULL;
}

int sl_headers_builder_add(sl_headers_builder_t *builder, const char *name, size_t name_size,
                           const char *value, size_t value_size)
{
    if (!sl_header_name_valid(name, name_size) || !sl_header_value_valid(value, value_size))
        return -1;
    /* Trim as the iterator will, so what is built reads back unchanged. */
    while (value_size > 0 && s_is_space(*value)) {
        value++;
        value_size--;
    }
    while (value_size > 0 && s_is_space(value[value_size - 1]))
        value_size--;
    size_t needed = builder->size + name_size + 2 + value_size + 2 + 1;
    if (needed > builder->cap) {
        size_t cap = builder->cap ? builder->cap : 256;
        while (cap < needed)
            cap *= 2;
        char *data = realloc(builder->data, cap);
        if (!data)
            return -1;
        builder->data = data;
        builder->cap = cap;
    }
    char *out = builder->data + builder->size;
    memcpy(out, name, name_size);
    out += name_size;
    memcpy(out, ": ", 2);
    out += 2;
    if (value_size)
        memcpy(out, value, value_size);
    out += value_size;
    memcpy(out, "\r\n", 3); /* with the NUL */
    builder->size += name_size + 2 + value_size + 2;
    return 0;
}

void sl_headers_builder_reset(sl_headers_builder_t *builder)
{
    if (!builder)
        return;
    free(builder->data);
    builder->data = NULL;
    builder->size = 0;
    builder->cap = 0;
}
