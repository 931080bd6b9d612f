/*  sl_headers: the header block of the envelope, "Name: value\r\n" repeated (HTTP/1.1 field
    syntax, no obs-fold). Reading, validating and building it; nothing else. */
#ifndef SL_HEADERS_H
#define SL_HEADERS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    const char *cursor; /* next unread byte */
    const char *end;    /* one past the block */
} sl_headers_iter_t;

/* A growable header block being built. */
typedef struct {
    char *data;  /* owned, NUL-terminated */
    size_t size; /* bytes used, excluding the NUL */
    size_t cap;  /* bytes allocated */
} sl_headers_builder_t;

void sl_headers_iter_init(sl_headers_iter_t *iter, const char *block, size_t size);

/* Returns 1 and the next field (spans into the block, value without surrounding spaces),
   0 at the end, -1 if the block is malformed (bad name, CR or LF or NUL inside a value,
   missing CRLF). */
int sl_headers_iter_next(sl_headers_iter_t *iter, const char **name, size_t *name_size,
                         const char **value, size_t *value_size);

/* Checks a whole block with the iterator. */
bool sl_headers_valid(const char *block, size_t size);

/* Finds the first field named name (case-insensitive); returns its value span or NULL. */
const char *sl_headers_find(const char *block, size_t size, const char *name, size_t *value_size);

/* RFC 9110 token characters, 1..256 bytes. */
bool sl_header_name_valid(const char *name, size_t size);
/* No CR, LF or NUL; at most 8192 bytes. */
bool sl_header_value_valid(const char *value, size_t size);

/* Appends "name: value\r\n". Returns 0, or -1 (block unchanged) if name or value is invalid. */
int sl_headers_builder_add(sl_headers_builder_t *builder, const char *name, size_t name_size,
                           const char *value, size_t value_size);
void sl_headers_builder_reset(sl_headers_builder_t *builder);

#endif
