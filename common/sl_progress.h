/*  sl_progress: the progress envelope (docs/protocol.md 4.6), a PARTIAL body a worker sends
    for a job that slowlane-jobs runs (its request carries Slowlane-Job-Run): which worker runs
    it, and the handler's last note. Never sent to a synchronous client, so the gateway never
    meets one. Pure codec, like sl_envelope: no I/O, never asserts on input. */
#ifndef SL_PROGRESS_H
#define SL_PROGRESS_H

#include <czmq.h>
#include <stddef.h>

#define SL_PROGRESS_FRAMES    3
#define SL_PROGRESS_TEXT_MAX  255 /* bytes of the worker name and of the note, each */
#define SL_PROGRESS_JOB_FIELD "Slowlane-Job-Run" /* its value: the job id */

/* "SLPRG/1" | worker | note. Both texts are cut to SL_PROGRESS_TEXT_MAX bytes. NULL on
   allocation failure. */
zmsg_t *sl_progress_encode(const char *worker, const char *note);

/* Decodes body into worker and note (NUL-terminated, control bytes replaced by '?', cut to
   the buffers). Returns 0, or -1 unless body is exactly the 3 frames with the magic. */
int sl_progress_decode(zmsg_t *body, char *worker, size_t worker_size, char *note,
                       size_t note_size);

#endif
