/*  fuzz_frames: the input format all slowlane fuzz targets share. A fuzz input is a run of
    frames, each a length prefix and then that many bytes: one length byte 0..254, or 255 and
    then a two-byte big-endian length. A last frame longer than what is left takes what is left.
    fuzz/make_corpus.py writes the same format. Only the fuzz targets use this header. */
#ifndef FUZZ_FRAMES_H
#define FUZZ_FRAMES_H

#include <czmq.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const uint8_t *cursor; /* next unread byte of the input */
    const uint8_t *end;    /* one past the input */
} fuzz_frames_t;

static inline void fuzz_frames_init(fuzz_frames_t *frames, const uint8_t *data, size_t size)
{
    frames->cursor = data;
    frames->end = data + size;
}

/* Returns 1 and the next frame's span (inside the input), or 0 when the input is used up. */
static inline int fuzz_frames_next(fuzz_frames_t *frames, const uint8_t **frame, size_t *size)
{
    if (frames->cursor >= frames->end)
        return 0;
    size_t left = (size_t) (frames->end - frames->cursor);
    size_t length = *frames->cursor++;
    left--;
    if (length == 255) {
        length = 0;
        for (int index = 0; index < 2 && left > 0; index++, left--)
            length = (length << 8) | *frames->cursor++;
    }
    if (length > left)
        length = left;
    *frame = frames->cursor;
    *size = length;
    frames->cursor += length;
    return 1;
}

/* A heap copy of exactly size bytes (plus nothing), so AddressSanitizer sees any overread:
   czmq keeps small frames inside its own struct, where a read past the end goes unnoticed.
   Never NULL: a zero-size copy is a one-byte allocation. */
static inline char *fuzz_copy(const uint8_t *data, size_t size)
{
    char *copy = malloc(size ? size : 1);
    if (!copy)
        abort();
    if (size)
        memcpy(copy, data, size);
    return copy;
}

/* The same bytes as a NUL-terminated string (stops at an embedded NUL when read as one). */
static inline char *fuzz_strdup(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 1);
    if (!copy)
        abort();
    if (size)
        memcpy(copy, data, size);
    copy[size] = '\0';
    return copy;
}

/* Every frame of the input as a czmq message (possibly empty). */
static inline zmsg_t *fuzz_frames_message(const uint8_t *data, size_t size)
{
    fuzz_frames_t frames;
    fuzz_frames_init(&frames, data, size);
    zmsg_t *msg = zmsg_new();
    const uint8_t *frame;
    size_t frame_size;
    while (fuzz_frames_next(&frames, &frame, &frame_size))
        zmsg_addmem(msg, frame, frame_size);
    return msg;
}

/* True if two messages hold the same frames, byte for byte. */
static inline bool fuzz_messages_equal(zmsg_t *left, zmsg_t *right)
{
    if (zmsg_size(left) != zmsg_size(right))
        return false;
    zframe_t *a = zmsg_first(left);
    zframe_t *b = zmsg_first(right);
    for (; a && b; a = zmsg_next(left), b = zmsg_next(right))
        if (!zframe_eq(a, b))
            return false;
    return true;
}

/* A failed property: print what and abort, so libFuzzer saves the input as a crash. */
#define FUZZ_CHECK(condition)                                                                      \
    do {                                                                                           \
        if (!(condition)) {                                                                        \
            fprintf(stderr, "fuzz check failed: %s (%s:%d)\n", #condition, __FILE__, __LINE__);    \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
