/*  worker_job: the request a handler reads and the reply it writes (see worker_job.h).
    A reply is a reply envelope, or for a plain MDP request its frames (one unless the
    handler asked for more, sl_job_next_frame); once flushed, every later part is raw chunk
    bytes, as docs/architecture.md fixes. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "sl_envelope.h"
#include "sl_headers.h"
#include "sl_log.h"
#include "sl_progress.h"
#include "worker_cancel.h"
#include "worker_job.h"

struct _sl_job_t {
    bool is_http;                  /* the body was a valid request envelope */
    sl_request_envelope_t request; /* decoded envelope when is_http */
    zframe_t *opaque_body;         /* all frames joined when !is_http */
    zmsg_t *opaque_frames;         /* and each one, when there are more than one */
    size_t *frame_ends;            /* a plain reply's frame boundaries, offsets in out */
    size_t frame_count;            /* boundaries in frame_ends */
    int64_t received_ms;           /* monotonic clock at receipt */
    int status;                    /* reply status, 200 unless set */
    sl_headers_builder_t headers;  /* reply header block */
    char *out;                     /* reply bytes not yet sent */
    size_t out_size;               /* bytes used in out */
    size_t out_cap;                /* bytes allocated for out */
    bool flushed;                  /* a PARTIAL went out: status and headers are fixed */
    worker_job_send_fn *send;      /* where PARTIALs go */
    void *send_arg;                /* its argument */
    const worker_cancel_t *cancel; /* borrowed: raised when the client cancels; or NULL */
    bool async;                    /* slowlane-jobs runs it (Slowlane-Job-Run): progress goes */
    const char *worker_name;       /* borrowed: named in progress envelopes */
};

static sl_log_limit_t s_malformed_limit;

//  Joins every frame of body into one frame: an opaque request's body as one byte string.
//  A body of one frame (the usual case) is that frame, taken without a copy.
static zframe_t *s_join_frames(zmsg_t *body)
{
    if (body && zmsg_size(body) == 1)
        return zmsg_pop(body);
    size_t size = body ? zmsg_content_size(body) : 0;
    zframe_t *joined = zframe_new(NULL, size);
    if (!joined)
        return NULL;
    byte *cursor = zframe_data(joined);
    for (zframe_t *frame = body ? zmsg_first(body) : NULL; frame; frame = zmsg_next(body)) {
        memcpy(cursor, zframe_data(frame), zframe_size(frame));
        cursor += zframe_size(frame);
    }
    return joined;
}

sl_job_t *worker_job_new(zmsg_t **body_p, int64_t received_ms)
{
    assert(body_p);
    zmsg_t *body = *body_p;
    *body_p = NULL;
    sl_job_t *self = calloc(1, sizeof(sl_job_t));
    if (!self)
        goto fail_alloc;
    self->received_ms = received_ms;
    self->status = 200;
    if (sl_envelope_kind(body) == SL_BODY_REQUEST) {
        if (sl_request_envelope_decode(body, &self->request) == 0)
            self->is_http = true;
        else {
            //  Not ours after all: a malformed envelope is served as opaque bytes, the
            //  same as any body a plain MDP client might send
            sl_request_envelope_reset(&self->request);
            sl_log_limited(&s_malformed_limit, SL_LOG_WARN, NULL, "malformed_envelope",
                           "served_as=opaque");
        }
    }
    if (self->is_http) {
        size_t size;
        self->async = sl_headers_find(self->request.headers, self->request.headers_size,
                                      SL_PROGRESS_JOB_FIELD, &size) != NULL;
    } else {
        if (body && zmsg_size(body) > 1) {
            self->opaque_frames = zmsg_dup(body); /* kept: sl_job_frame reads them */
            if (!self->opaque_frames)
                goto fail_body;
        }
        self->opaque_body = s_join_frames(body);
        if (!self->opaque_body)
            goto fail_body;
    }
    zmsg_destroy(&body);
    return self;

fail_body:
    zmsg_destroy(&self->opaque_frames);
    free(self);
fail_alloc:
    zmsg_destroy(&body);
    return NULL;
}

void worker_job_destroy(sl_job_t **self_p)
{
    assert(self_p);
    sl_job_t *self = *self_p;
    if (!self)
        return;
    sl_request_envelope_reset(&self->request);
    zframe_destroy(&self->opaque_body);
    zmsg_destroy(&self->opaque_frames);
    free(self->frame_ends);
    sl_headers_builder_reset(&self->headers);
    free(self->out);
    free(self);
    *self_p = NULL;
}

void worker_job_set_sender(sl_job_t *self, worker_job_send_fn *send, void *arg)
{
    self->send = send;
    self->send_arg = arg;
}

void worker_job_set_cancel(sl_job_t *self, const worker_cancel_t *cancel)
{
    self->cancel = cancel;
}

void worker_job_set_worker_name(sl_job_t *self, const char *name)
{
    self->worker_name = name;
}

int worker_job_announce(sl_job_t *self)
{
    return self->async ? sl_job_progress(self, "") : 0;
}

int sl_job_progress(sl_job_t *job, const char *note)
{
    //  Only slowlane-jobs reads these: a synchronous client never gets one
    if (!job->async)
        return 0;
    if (!job->send)
        return -1;
    zmsg_t *body = sl_progress_encode(job->worker_name ? job->worker_name : "", note);
    return body ? job->send(&body, job->send_arg) : -1;
}

//  The body of the next reply part: the reply envelope for the first part of an HTTP job,
//  raw bytes otherwise. Empties the output buffer.
static zmsg_t *s_take_part(sl_job_t *self)
{
    zmsg_t *part = NULL;
    if (self->is_http && !self->flushed) {
        const char *headers = self->headers.data ? self->headers.data : "";
        part = sl_reply_envelope_encode(self->status, headers, self->headers.size, self->out,
                                        self->out_size);
    } else {
        part = zmsg_new();
        size_t start = 0;
        for (size_t i = 0; part && i < self->frame_count; i++) {
            zmsg_addmem(part, self->out + start, self->frame_ends[i] - start);
            start = self->frame_ends[i];
        }
        if (part)
            zmsg_addmem(part, self->out + start, self->out_size - start);
    }
    self->out_size = 0;
    self->frame_count = 0;
    return part;
}

zmsg_t *worker_job_final(sl_job_t *self, int handler_result)
{
    if (handler_result != 0 && !self->flushed) {
        if (self->is_http)
            worker_job_reset_reply(self, 500, "handler failed\n");
        else {
            self->out_size = 0; // a plain MDP client gets an empty reply: MDP has no errors
            self->frame_count = 0;
        }
    }
    return s_take_part(self);
}

void worker_job_reset_reply(sl_job_t *self, int status, const char *text)
{
    if (self->flushed)
        return;
    self->status = status;
    sl_headers_builder_reset(&self->headers);
    self->out_size = 0;
    sl_job_add_header(self, "Content-Type", "text/plain");
    sl_job_write(self, text, strlen(text));
}

/* --- slowlane/worker.h: reading the request --- */

bool sl_job_is_http(const sl_job_t *job)
{
    return job->is_http;
}

const char *sl_job_request_id(const sl_job_t *job)
{
    return job->is_http ? job->request.meta.id : "";
}

const char *sl_job_method(const sl_job_t *job)
{
    return job->is_http ? job->request.method : "";
}

const char *sl_job_path(const sl_job_t *job)
{
    return job->is_http ? job->request.path : "";
}

const char *sl_job_query(const sl_job_t *job)
{
    return job->is_http ? job->request.query : "";
}

char *sl_job_header(const sl_job_t *job, const char *name)
{
    if (!job->is_http)
        return NULL;
    size_t size = 0;
    const char *value =
        sl_headers_find(job->request.headers, job->request.headers_size, name, &size);
    return value ? strndup(value, size) : NULL;
}

const char *sl_job_headers(const sl_job_t *job, size_t *size)
{
    if (size)
        *size = job->is_http ? job->request.headers_size : 0;
    return job->is_http ? job->request.headers : "";
}

char *sl_job_query_param(const sl_job_t *job, const char *name)
{
    const char *query = sl_job_query(job);
    size_t name_size = strlen(name);
    const char *cursor = query;
    while (*cursor) {
        const char *end = strchr(cursor, '&');
        if (!end)
            end = cursor + strlen(cursor);
        const char *equals = memchr(cursor, '=', end - cursor);
        const char *key_end = equals ? equals : end;
        if ((size_t) (key_end - cursor) == name_size && memcmp(cursor, name, name_size) == 0)
            return equals ? strndup(equals + 1, end - equals - 1) : strdup("");
        cursor = *end ? end + 1 : end;
    }
    return NULL;
}

const void *sl_job_body(const sl_job_t *job, size_t *size)
{
    zframe_t *body = job->is_http ? job->request.body : job->opaque_body;
    if (size)
        *size = body ? zframe_size(body) : 0;
    return body ? zframe_data(body) : (const void *) "";
}

size_t sl_job_frame_count(const sl_job_t *job)
{
    return job->opaque_frames ? zmsg_size(job->opaque_frames) : 1;
}

const void *sl_job_frame(const sl_job_t *job, size_t index, size_t *size)
{
    if (!job->opaque_frames)
        return index == 0 ? sl_job_body(job, size) : NULL;
    /* czmq's list has no index: a walk, fine for the few frames a request has */
    zframe_t *frame = zmsg_first(job->opaque_frames);
    for (size_t i = 0; frame && i < index; i++)
        frame = zmsg_next(job->opaque_frames);
    if (size)
        *size = frame ? zframe_size(frame) : 0;
    return frame ? zframe_data(frame) : NULL;
}

int64_t sl_job_time_left_ms(const sl_job_t *job)
{
    if (!job->is_http || job->request.meta.timeout_ms <= 0)
        return INT64_MAX;
    int64_t left = job->request.meta.timeout_ms - (zclock_mono() - job->received_ms);
    return left > 0 ? left : 0;
}

bool sl_job_cancelled(const sl_job_t *job)
{
    return job->cancel && worker_cancel_raised(job->cancel);
}

int sl_job_cancel_fd(const sl_job_t *job)
{
    return job->cancel ? job->cancel->fd : -1;
}

/* --- slowlane/worker.h: writing the reply --- */

int sl_job_set_status(sl_job_t *job, int status)
{
    if (status < 100 || status > 599 || job->flushed)
        return -1;
    job->status = status;
    return 0;
}

int sl_job_add_header(sl_job_t *job, const char *name, const char *value)
{
    if (job->flushed || !name || !value)
        return -1;
    return sl_headers_builder_add(&job->headers, name, strlen(name), value, strlen(value));
}

int sl_job_write(sl_job_t *job, const void *data, size_t size)
{
    if (size == 0)
        return 0;
    if (job->out_size + size > job->out_cap) {
        //  Small first: most replies are short, and malloc serves small blocks fastest
        size_t cap = job->out_cap ? job->out_cap : 1024;
        while (cap < job->out_size + size)
            cap *= 2;
        char *grown = realloc(job->out, cap);
        if (!grown)
            return -1;
        job->out = grown;
        job->out_cap = cap;
    }
    memcpy(job->out + job->out_size, data, size);
    job->out_size += size;
    return 0;
}

int sl_job_next_frame(sl_job_t *job)
{
    if (job->is_http)
        return -1;
    size_t *grown = realloc(job->frame_ends, (job->frame_count + 1) * sizeof *grown);
    if (!grown)
        return -1;
    job->frame_ends = grown;
    job->frame_ends[job->frame_count++] = job->out_size;
    return 0;
}

int sl_job_flush(sl_job_t *job)
{
    if (!job->send)
        return -1;
    zmsg_t *part = s_take_part(job);
    if (!part)
        return -1;
    job->flushed = true;
    return job->send(&part, job->send_arg);
}
