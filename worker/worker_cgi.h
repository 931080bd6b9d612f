/*  worker_cgi: reading a CGI/1.1 script's output (RFC 3875 section 6): header fields, a
    blank line, the body. Pure: bytes in, a reply out; running the script is
    handler_exec.c's job. */
#ifndef WORKER_CGI_H
#define WORKER_CGI_H

#include <stddef.h>
#include "sl_headers.h"

#define WORKER_CGI_MAX_HEADER_BYTES 65536 /* a header section longer than this is malformed */

typedef struct {
    int status;                   /* from Status:, 302 for a bare Location:, else 200 */
    sl_headers_builder_t headers; /* the other fields, validated */
    size_t body_offset;           /* where the body starts in the output */
} worker_cgi_reply_t;

/* Parses output into out (zeroed by the caller). Lines end in LF or CRLF. Returns 0, or -1
   with *reason set (no blank line, no field at all, a line without a colon, a bad name or
   value, a Status that is not "NNN reason" with NNN in 100..599). out is reset on failure. */
int worker_cgi_parse(const char *output, size_t size, worker_cgi_reply_t *out, const char **reason);

/* Frees the header block. */
void worker_cgi_reply_reset(worker_cgi_reply_t *reply);

#endif
