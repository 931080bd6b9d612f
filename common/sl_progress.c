/*  sl_progress: encodes and decodes the progress envelope (see sl_progress.h). */
#include "sl_progress.h"

#include <string.h>

#include "sl_envelope.h"

static void s_add_text(zmsg_t *msg, const char *text)
{
    size_t size = text ? strlen(text) : 0;
    zmsg_addmem(msg, text ? text : "", size > SL_PROGRESS_TEXT_MAX ? SL_PROGRESS_TEXT_MAX : size);
}

zmsg_t *sl_progress_encode(const char *worker, const char *note)
{
    zmsg_t *msg = zmsg_new();
    if (!msg)
        return NULL;
    zmsg_addstr(msg, SL_ENVELOPE_PROGRESS_MAGIC);
    s_add_text(msg, worker);
    s_add_text(msg, note);
    return msg;
}

/* A frame's bytes as printable text: what a status document or a log line may show. */
static void s_copy_text(zframe_t *frame, char *out, size_t out_size)
{
    size_t size = zframe_size(frame);
    if (size > out_size - 1)
        size = out_size - 1;
    const byte *data = zframe_data(frame);
    for (size_t index = 0; index < size; index++)
        out[index] = (data[index] < 0x20 || data[index] == 0x7f) ? '?' : (char) data[index];
    out[size] = '\0';
}

int sl_progress_decode(zmsg_t *body, char *worker, size_t worker_size, char *note, size_t note_size)
{
    if (!body || zmsg_size(body) != SL_PROGRESS_FRAMES || !worker || !note || worker_size == 0 ||
        note_size == 0)
        return -1;
    zframe_t *magic = zmsg_first(body);
    size_t magic_size = strlen(SL_ENVELOPE_PROGRESS_MAGIC);
    if (zframe_size(magic) != magic_size ||
        memcmp(zframe_data(magic), SL_ENVELOPE_PROGRESS_MAGIC, magic_size) != 0)
        return -1;
    s_copy_text(zmsg_next(body), worker, worker_size);
    s_copy_text(zmsg_next(body), note, note_size);
    return 0;
}
