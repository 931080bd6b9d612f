/*  worker_cgi: the CGI/1.1 response parser (see worker_cgi.h). A script is code we run
    but do not trust to be well formed: anything odd is rejected here, so the handler can
    answer 502 instead of passing a broken reply on. */
#include <ctype.h>
#include <string.h>
#include <strings.h>
#include "worker_cgi.h"

//  "404 Not Found" or "404": three digits, then nothing or a space and a reason.
static int s_parse_status(const char *value, size_t size)
{
    if (size < 3 || !isdigit((unsigned char) value[0]) || !isdigit((unsigned char) value[1]) ||
        !isdigit((unsigned char) value[2]) || (size > 3 && value[3] != ' '))
        return -1;
    int status = (value[0] - '0') * 100 + (value[1] - '0') * 10 + (value[2] - '0');
    return status >= 100 && status <= 599 ? status : -1;
}

int worker_cgi_parse(const char *output, size_t size, worker_cgi_reply_t *out, const char **reason)
{
    const char *cursor = output;
    const char *end = output + size;
    int fields = 0;
    bool has_status = false, has_location = false;
    out->status = 200;
    while (true) {
        const char *newline = memchr(cursor, '\n', end - cursor);
        if (!newline || newline - output > WORKER_CGI_MAX_HEADER_BYTES) {
            *reason = "no blank line after the header fields";
            goto fail;
        }
        const char *line_end = newline > cursor && newline[-1] == '\r' ? newline - 1 : newline;
        if (line_end == cursor) { // the blank line
            out->body_offset = newline + 1 - output;
            break;
        }
        const char *colon = memchr(cursor, ':', line_end - cursor);
        if (!colon || colon == cursor) {
            *reason = "header line without a field name";
            goto fail;
        }
        const char *value = colon + 1;
        while (value < line_end && (*value == ' ' || *value == '\t'))
            value++;
        const char *value_end = line_end;
        while (value_end > value && (value_end[-1] == ' ' || value_end[-1] == '\t'))
            value_end--;
        size_t name_size = colon - cursor;
        size_t value_size = value_end - value;
        if (name_size == 6 && strncasecmp(cursor, "Status", 6) == 0) {
            out->status = s_parse_status(value, value_size);
            if (out->status == -1 || has_status) {
                *reason = "bad Status field";
                goto fail;
            }
            has_status = true;
        } else if (sl_headers_builder_add(&out->headers, cursor, name_size, value, value_size) ==
                   -1) {
            *reason = "bad header field";
            goto fail;
        } else if (name_size == 8 && strncasecmp(cursor, "Location", 8) == 0)
            has_location = true;
        fields++;
        cursor = newline + 1;
    }
    if (fields == 0) {
        //  RFC 3875 6.2: a response has at least one CGI field
        *reason = "no header field";
        goto fail;
    }
    if (has_location && !has_status)
        out->status = 302;
    return 0;

fail:
    worker_cgi_reply_reset(out);
    return -1;
}

void worker_cgi_reply_reset(worker_cgi_reply_t *reply)
{
    sl_headers_builder_reset(&reply->headers);
}
