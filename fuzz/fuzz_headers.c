/*  fuzz_headers: libFuzzer target for the header-block codec (common/sl_headers.c). Input
    frames (fuzz_frames.h): frame 0 is a header block to iterate, validate and search; frame 1
    the name to find; later frames are name/value pairs for the builder, whose block must
    read back as what was added. Every span is an exact-size heap copy so overreads show. */
#include <stdint.h>
#include <stdio.h>
#include <strings.h>

#include "fuzz_frames.h"
#include "sl_headers.h"

#define S_MAX_PAIRS 64

typedef struct {
    char *name;        /* exact-size copy */
    size_t name_size;  /* bytes in name */
    char *value;       /* exact-size copy */
    size_t value_size; /* bytes in value */
} s_pair_t;

static bool s_is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* Iterates block to the end, checking each field; returns the iterator's last result. */
static int s_iterate(const char *block, size_t size, size_t *fields)
{
    sl_headers_iter_t iter;
    sl_headers_iter_init(&iter, block, size);
    const char *name, *value;
    size_t name_size, value_size;
    int rc;
    *fields = 0;
    while ((rc = sl_headers_iter_next(&iter, &name, &name_size, &value, &value_size)) == 1) {
        FUZZ_CHECK(name >= block && name + name_size <= block + size);
        FUZZ_CHECK(value >= block && value + value_size <= block + size);
        FUZZ_CHECK(sl_header_name_valid(name, name_size));
        FUZZ_CHECK(sl_header_value_valid(value, value_size));
        FUZZ_CHECK(value_size == 0 ||
                   (!s_is_space(value[0]) && !s_is_space(value[value_size - 1])));
        (*fields)++;
    }
    FUZZ_CHECK(rc == 0 || rc == -1);
    /* A failed iterator stays failed; a finished one stays finished. */
    FUZZ_CHECK(sl_headers_iter_next(&iter, NULL, NULL, NULL, NULL) == rc);
    return rc;
}

static void s_check_block(const char *block, size_t size, const char *wanted)
{
    size_t fields;
    int rc = s_iterate(block, size, &fields);
    bool valid = sl_headers_valid(block, size);
    FUZZ_CHECK(valid == (rc == 0));
    size_t value_size = 0;
    const char *found = sl_headers_find(block, size, wanted, &value_size);
    if (found) {
        FUZZ_CHECK(valid);
        FUZZ_CHECK(found >= block && found + value_size <= block + size);
    }
    if (!valid)
        return;
    /* The find must agree with a plain scan of the fields. */
    sl_headers_iter_t iter;
    sl_headers_iter_init(&iter, block, size);
    const char *name, *value;
    size_t name_size, size_of_value;
    const char *expected = NULL;
    size_t expected_size = 0;
    size_t wanted_size = strlen(wanted);
    while (sl_headers_iter_next(&iter, &name, &name_size, &value, &size_of_value) == 1)
        if (name_size == wanted_size && strncasecmp(name, wanted, wanted_size) == 0) {
            expected = value;
            expected_size = size_of_value;
            break;
        }
    FUZZ_CHECK(found == expected);
    if (found)
        FUZZ_CHECK(value_size == expected_size);
}

static void s_check_builder(s_pair_t *pairs, size_t count)
{
    sl_headers_builder_t builder = {0};
    bool added[S_MAX_PAIRS];
    size_t accepted = 0;
    for (size_t index = 0; index < count; index++) {
        s_pair_t *pair = &pairs[index];
        size_t before = builder.size;
        int rc = sl_headers_builder_add(&builder, pair->name, pair->name_size, pair->value,
                                        pair->value_size);
        bool valid = sl_header_name_valid(pair->name, pair->name_size) &&
                     sl_header_value_valid(pair->value, pair->value_size);
        FUZZ_CHECK((rc == 0) == valid);
        if (rc != 0)
            FUZZ_CHECK(builder.size == before); /* block unchanged */
        else
            FUZZ_CHECK(builder.data[builder.size] == '\0');
        added[index] = rc == 0;
        accepted += rc == 0;
    }
    char *block = fuzz_copy((const uint8_t *) builder.data, builder.size);
    size_t fields;
    FUZZ_CHECK(s_iterate(block, builder.size, &fields) == 0);
    FUZZ_CHECK(fields == accepted);

    /* Reads back in order: same names, values trimmed of spaces and tabs. */
    sl_headers_iter_t iter;
    sl_headers_iter_init(&iter, block, builder.size);
    for (size_t index = 0; index < count; index++) {
        if (!added[index])
            continue;
        const char *name, *value;
        size_t name_size, value_size;
        FUZZ_CHECK(sl_headers_iter_next(&iter, &name, &name_size, &value, &value_size) == 1);
        FUZZ_CHECK(name_size == pairs[index].name_size &&
                   memcmp(name, pairs[index].name, name_size) == 0);
        const char *start = pairs[index].value;
        const char *end = start + pairs[index].value_size;
        while (start < end && s_is_space(*start))
            start++;
        while (end > start && s_is_space(end[-1]))
            end--;
        FUZZ_CHECK(value_size == (size_t) (end - start));
        FUZZ_CHECK(value_size == 0 || memcmp(value, start, value_size) == 0);
    }
    FUZZ_CHECK(sl_headers_iter_next(&iter, NULL, NULL, NULL, NULL) == 0);
    free(block);
    sl_headers_builder_reset(&builder);
    sl_headers_builder_reset(&builder); /* safe twice */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_frames_t frames;
    fuzz_frames_init(&frames, data, size);
    const uint8_t *frame = NULL;
    size_t frame_size = 0;

    char *block = NULL;
    size_t block_size = 0;
    if (fuzz_frames_next(&frames, &frame, &frame_size)) {
        block = fuzz_copy(frame, frame_size);
        block_size = frame_size;
    }
    char *wanted = fuzz_frames_next(&frames, &frame, &frame_size)
                       ? fuzz_strdup(frame, frame_size)
                       : fuzz_strdup((const uint8_t *) "Content-Type", 12);
    s_check_block(block, block_size, wanted);
    if (block_size == 0)
        s_check_block(NULL, 0, wanted); /* a NULL block is an empty one */

    s_pair_t pairs[S_MAX_PAIRS];
    size_t count = 0;
    const uint8_t *name;
    size_t name_size;
    while (count < S_MAX_PAIRS && fuzz_frames_next(&frames, &name, &name_size)) {
        if (!fuzz_frames_next(&frames, &frame, &frame_size))
            frame_size = 0;
        pairs[count].name = fuzz_copy(name, name_size);
        pairs[count].name_size = name_size;
        pairs[count].value = fuzz_copy(frame, frame_size);
        pairs[count].value_size = frame_size;
        count++;
    }
    s_check_builder(pairs, count);
    for (size_t index = 0; index < count; index++) {
        free(pairs[index].name);
        free(pairs[index].value);
    }
    free(wanted);
    free(block);
    return 0;
}
