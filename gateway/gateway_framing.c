/*  gateway_framing: RFC 9112's rules for a request head, applied to what civetweb parsed.
    civetweb 1.15 parses the head in place: it writes a NUL over each separator (the spaces
    of the request line, each field's colon, each CR and LF) and hands out pointers into that
    buffer. Some faults leave no trace in the strings it returns (a space before a colon, a
    bare LF, a folded line, after which it silently ignores every later field), but they do
    in where the strings sit: the layout check below reads those positions. The field rules
    after it work on the strings alone and are pure. */
#include "gateway_framing.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include <stdint.h>

#include "sl_defaults.h"
#include "sl_headers.h"

/* The cause of a refusal that is the gateway's own failing: it cannot see the buffer civetweb
   parsed the head in (gateway_head_buffer), so it cannot vouch for the head. */
#define S_UNVERIFIABLE "framing_unverifiable"

static void s_refuse(gateway_framing_t *verdict, int status, const char *cause)
{
    verdict->status = status;
    verdict->cause = cause;
    verdict->close = true;
}

static bool s_is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* ---------------------------------------------------------------- field values */

int gateway_framing_content_length(const char *value, int64_t *length)
{
    const char *end = value + strlen(value);
    while (end > value && s_is_ows(end[-1]))
        end--;
    if (end == value)
        return -1;
    int64_t total = 0;
    bool too_large = false;
    for (const char *cursor = value; cursor < end; cursor++) {
        if (*cursor < '0' || *cursor > '9')
            return -1;
        int digit = *cursor - '0';
        if (total > (INT64_MAX - digit) / 10)
            too_large = true; /* keep scanning: "99...9x" is still not a number */
        else
            total = total * 10 + digit;
    }
    if (too_large)
        return -2;
    *length = total;
    return 0;
}

static bool s_is_unreserved_or_sub_delim(unsigned char c)
{
    return isalnum(c) || (c && strchr("-._~!$&'()*+,;=", c));
}

bool gateway_framing_host_valid(const char *value)
{
    const unsigned char *cursor = (const unsigned char *) value;
    if (*cursor == '[') { /* IP-literal: IPv6address or IPvFuture, loosely */
        cursor++;
        while (*cursor && *cursor != ']') {
            if (!isxdigit(*cursor) && *cursor != ':' && *cursor != '.' && *cursor != 'v' &&
                *cursor != 'V' && !s_is_unreserved_or_sub_delim(*cursor))
                return false;
            cursor++;
        }
        if (*cursor != ']')
            return false;
        cursor++;
    } else { /* reg-name or IPv4address */
        while (*cursor && *cursor != ':' && !s_is_ows((char) *cursor)) {
            if (*cursor == '%') {
                if (!isxdigit(cursor[1]) || !isxdigit(cursor[2]))
                    return false;
                cursor += 3;
                continue;
            }
            if (!s_is_unreserved_or_sub_delim(*cursor))
                return false;
            cursor++;
        }
    }
    if (*cursor == ':') /* port = *DIGIT */
        for (cursor++; *cursor; cursor++)
            if (!isdigit(*cursor))
                break;
    while (s_is_ows((char) *cursor)) /* trailing OWS is not part of the value */
        cursor++;
    return *cursor == '\0';
}

bool gateway_framing_path_valid(const char *path)
{
    if (!path || path[0] != '/')
        return false;
    for (const unsigned char *in = (const unsigned char *) path; *in; in++) {
        unsigned char c = *in;
        if (c == '%') {
            if (!isxdigit(in[1]) || !isxdigit(in[2]) || (in[1] == '0' && in[2] == '0'))
                return false;
            in += 2;
            continue;
        }
        bool plain = isalnum(c) || (c && strchr("-._~!$&'()*+,;=:@/", c));
        if (!plain)
            return false;
    }
    return true;
}

/* Transfer codings of every Transfer-Encoding line, in order (RFC 9112 section 6.1). */
typedef struct {
    int codings;       /* list members seen */
    int chunked;       /* how many of them are "chunked" */
    bool last_chunked; /* the final coding is "chunked" */
    bool unknown;      /* a coding other than chunked (gzip, identity, ...) */
    bool malformed;    /* a member that is not a token (with parameters) */
} s_codings_t;

static void s_codings_add(s_codings_t *codings, const char *value)
{
    const char *cursor = value;
    while (*cursor) {
        while (s_is_ows(*cursor) || *cursor == ',') /* empty members are allowed and ignored */
            cursor++;
        if (!*cursor)
            break;
        const char *name = cursor;
        while (*cursor && *cursor != ',' && *cursor != ';' && !s_is_ows(*cursor))
            cursor++;
        size_t name_size = (size_t) (cursor - name);
        bool parameters = false;
        while (*cursor && *cursor != ',') { /* OWS, then parameters up to the next member */
            if (!s_is_ows(*cursor))
                parameters = true;
            cursor++;
        }
        codings->codings++;
        bool chunked = name_size == 7 && strncasecmp(name, "chunked", 7) == 0;
        if (!sl_header_name_valid(name, name_size) || (chunked && parameters))
            codings->malformed = true; /* chunked takes no parameters */
        else if (!chunked)
            codings->unknown = true;
        codings->chunked += chunked;
        codings->last_chunked = chunked;
    }
}

/* ---------------------------------------------------------------- the rules */

void gateway_framing_check_fields(const char *version, const struct mg_header *headers, int count,
                                  gateway_framing_t *verdict)
{
    *verdict = (gateway_framing_t){.content_length = -1, .consumed = -1};
    bool http11 = version && strcmp(version, "1.1") == 0;
    int hosts = 0, lengths = 0, encodings = 0;
    const char *host = NULL, *length = NULL;
    s_codings_t codings = {0};
    for (int index = 0; index < count; index++) {
        const char *name = headers[index].name, *value = headers[index].value;
        /* field-name = token; civetweb also takes "(", "/", "@" ... (RFC 9110 section 5.1) */
        if (!sl_header_name_valid(name, strlen(name))) {
            s_refuse(verdict, 400, "bad_header_name");
            return;
        }
        if (strcasecmp(name, "Host") == 0) {
            hosts++;
            host = value;
        } else if (strcasecmp(name, "Content-Length") == 0) {
            lengths++;
            length = value;
        } else if (strcasecmp(name, "Transfer-Encoding") == 0) {
            encodings++;
            s_codings_add(&codings, value);
        }
    }
    if (encodings > 0) {
        /* "A server or client that receives an HTTP/1.0 message containing a
           Transfer-Encoding header field MUST treat the message as if the framing is
           faulty" (RFC 9112 section 6.1). */
        if (!http11) {
            s_refuse(verdict, 400, "transfer_encoding_in_http10");
            return;
        }
        /* "If ... the chunked transfer coding is not the final encoding ... the server MUST
           respond with the 400 (Bad Request) status code and then close the connection." */
        if (codings.malformed || codings.codings == 0 || !codings.last_chunked ||
            codings.chunked > 1) {
            s_refuse(verdict, 400, "bad_transfer_encoding");
            return;
        }
        /* "A server that receives a request message with a transfer coding it does not
           understand SHOULD respond with 501 (Not Implemented)." */
        if (codings.unknown) {
            s_refuse(verdict, 501, "unknown_transfer_encoding");
            return;
        }
        /* "A server MAY reject a request that contains both Content-Length and
           Transfer-Encoding" -- it does: a proxy that read the other one disagrees. */
        if (lengths > 0) {
            s_refuse(verdict, 400, "content_length_with_transfer_encoding");
            return;
        }
        verdict->chunked = true;
    } else if (lengths > 0) {
        /* A second Content-Length, even an equal one, is refused: two parsers that pick
           different lines are exactly how requests are smuggled (RFC 9112 section 6.3). */
        if (lengths > 1) {
            s_refuse(verdict, 400, "duplicate_content_length");
            return;
        }
        int rc = gateway_framing_content_length(length, &verdict->content_length);
        if (rc != 0) {
            verdict->content_length = -1;
            s_refuse(verdict, rc == -2 ? 413 : 400,
                     rc == -2 ? "content_length_too_large" : "bad_content_length");
            return;
        }
    }
    /* "A server MUST respond with a 400 (Bad Request) status code to any HTTP/1.1 request
       message that lacks a Host header field and to any request message that contains more
       than one Host header field line or a Host header field with an invalid field value."
       (RFC 9112 section 3.2) */
    if (hosts > 1 || (http11 && hosts == 0)) {
        s_refuse(verdict, 400, hosts > 1 ? "duplicate_host" : "missing_host");
        return;
    }
    if (host && !gateway_framing_host_valid(host))
        s_refuse(verdict, 400, "bad_host");
}

/* Where the request target ends in civetweb's buffer: before the handler runs, civetweb
   writes a NUL over the "?" that starts the query (query_string points after it). */
static const char *s_target_end(const struct mg_request_info *info)
{
    if (info->query_string)
        return info->query_string + strlen(info->query_string);
    return info->request_uri + strlen(info->request_uri);
}

/* ---------------------------------------------------------------- the raw head */

/* RFC 9110 tchar, without a library call: this runs over every field name of every request. */
static bool s_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-')
        return true;
    switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
        return true;
    default:
        return false;
    }
}

const char *gateway_framing_scan(const char *raw, size_t size, gateway_framing_head_t *head)
{
    const unsigned char *in = (const unsigned char *) raw;
    size_t at = 0;
    *head = (gateway_framing_head_t){0};
    /* "a server that is expecting to receive and parse a request-line SHOULD ignore at least
       one empty line (CRLF) received prior to the request-line" (section 2.2) -- one, and
       nothing else: civetweb takes a second one for the end of a head, and then reads the
       request's body from inside the head. */
    if (size >= 2 && in[0] == '\r' && in[1] == '\n')
        at = 2;
    else if (size > 0 && (isspace(in[0]) || in[0] == '\0'))
        return "bad_leading_whitespace";
    if (at < size && (isspace(in[at]) || in[at] == '\0'))
        return "bad_leading_whitespace";
    head->leading = at;
    /* "request-line = method SP request-target SP HTTP-version" (section 3): one SP each. */
    head->method = at;
    while (at < size && s_tchar(in[at]))
        at++;
    if (at == head->method || at >= size || in[at] != ' ')
        return "bad_request_line";
    head->target = ++at;
    while (at < size && in[at] > ' ' && in[at] < 0x7f)
        at++;
    if (at == head->target || at >= size || in[at] != ' ')
        return "bad_request_line";
    head->version = ++at;
    if (size - at < 8 || memcmp(in + at, "HTTP/", 5) != 0 || !isdigit(in[at + 5]) ||
        in[at + 6] != '.' || !isdigit(in[at + 7]))
        return "bad_request_line";
    at += 8;
    while (true) {
        /* "the line terminator for the start-line and fields is the sequence CRLF"; a
           recipient MAY take a bare LF for one -- the gateway does not: a front proxy that
           does not would see a different head (section 2.2). */
        if (size - at < 2 || in[at] != '\r' || in[at + 1] != '\n')
            return "bad_line_ending";
        at += 2;
        if (size - at >= 2 && in[at] == '\r' && in[at + 1] == '\n') {
            head->length = at + 2;
            return NULL;
        }
        if (at < size && (in[at] == ' ' || in[at] == '\t'))
            return "obs_fold"; /* section 5.2: reject, or replace by SP; civetweb drops it */
        if (head->fields >= SL_MAX_HEADERS)
            return "too_many_headers";
        head->names[head->fields++] = at;
        size_t name = at;
        while (at < size && s_tchar(in[at]))
            at++;
        if (at < size && (in[at] == ' ' || in[at] == '\t') && at > name)
            return "space_before_colon"; /* section 5.1 */
        if (at == name || at >= size || in[at] != ':')
            return "bad_header_name";
        at++;
        /* field-value: VCHAR, SP, HTAB and obs-text; no other control byte (section 5.5) */
        while (at < size && (in[at] >= ' ' || in[at] == '\t') && in[at] != 0x7f)
            at++;
        if (at < size && in[at] != '\r' && in[at] != '\n')
            return "bad_header_value";
    }
}

/* civetweb read the same head: its strings start where the raw head's parts do. */
static bool s_same_head(const struct mg_request_info *info, const gateway_head_buffer_t *buffer,
                        const gateway_framing_head_t *head)
{
    const char *start = buffer->start;
    if (!info->request_method || !info->request_uri || !info->http_version ||
        info->request_method != start + head->method || info->request_uri != start + head->target ||
        info->http_version != start + head->version + 5 || info->num_headers != head->fields)
        return false;
    for (int index = 0; index < info->num_headers; index++)
        if (info->http_headers[index].name != start + head->names[index])
            return false;
    return true;
}

/* True if a raw request target carries "%00" (an encoded NUL). */
static bool s_has_encoded_nul(const char *target)
{
    for (const char *p = target ? strchr(target, '%') : NULL; p; p = strchr(p + 1, '%'))
        if (p[1] == '0' && p[2] == '0')
            return true;
    return false;
}

void gateway_framing_check(const struct mg_request_info *info, const gateway_head_buffer_t *buffer,
                           gateway_framing_t *verdict)
{
    *verdict = (gateway_framing_t){.content_length = -1, .consumed = -1};
    /* civetweb keeps at most MG_MAX_HEADERS fields and drops the rest without a word: a
       full table means some may be gone, and a request missing headers must not pass. */
    if (info->num_headers >= SL_MAX_HEADERS) {
        s_refuse(verdict, 431, "too_many_headers");
        return;
    }
    size_t header_bytes = 0;
    for (int index = 0; index < info->num_headers; index++)
        header_bytes +=
            strlen(info->http_headers[index].name) + strlen(info->http_headers[index].value) + 4;
    if (header_bytes > SL_MAX_HEADER_BYTES) {
        s_refuse(verdict, 431, "header_too_large");
        return;
    }
    /* "A server that receives a request-target longer than any URI it wishes to parse MUST
       respond with a 414 (URI Too Long) status code" (RFC 9112 section 3). */
    if (info->request_uri && s_target_end(info) - info->request_uri > GATEWAY_FRAMING_MAX_TARGET) {
        s_refuse(verdict, 414, "uri_too_long");
        return;
    }
    /* The head as the client sent it (gateway_head_buffer keeps a copy civetweb does not
       write over), by RFC 9112's grammar; then civetweb must have read the same one. */
    if (!buffer || !buffer->valid_end ||
        (uintptr_t) info->request_method < (uintptr_t) buffer->start ||
        (uintptr_t) info->request_method >= (uintptr_t) buffer->valid_end) {
        s_refuse(verdict, 503, S_UNVERIFIABLE);
        return;
    }
    gateway_framing_head_t head;
    const char *fault =
        gateway_framing_scan(buffer->raw, (size_t) (buffer->valid_end - buffer->start), &head);
    if (fault) {
        s_refuse(verdict, strcmp(fault, "too_many_headers") == 0 ? 431 : 400, fault);
        return;
    }
    if (!s_same_head(info, buffer, &head)) {
        s_refuse(verdict, 400, "ambiguous_head");
        return;
    }
    gateway_framing_check_fields(info->http_version, info->http_headers, info->num_headers,
                                 verdict);
    if (verdict->status)
        return;
    /* What civetweb takes off its buffer for this request before the next one's head. Not
       known after a chunked body (civetweb alone counts its size lines): the connection
       closes after it, so no next head depends on it. */
    if (!verdict->chunked)
        verdict->consumed =
            (int64_t) head.length + (verdict->content_length > 0 ? verdict->content_length : 0);
    /* civetweb runs with decode_url=no: paths reach the gateway and its workers encoded, and
       a worker that decodes "%00" gets a NUL that cuts its path short. Refused for every
       request, the gateway's own endpoints included. */
    if (s_has_encoded_nul(info->request_uri))
        s_refuse(verdict, 400, "bad_path");
}

/* The methods civetweb 1.15 accepts; any other token is refused by it with a bare 400. */
static const char *s_civetweb_methods[] = {
    "GET",   "POST",     "PUT",   "DELETE", "HEAD",   "OPTIONS",   "CONNECT",
    "PATCH", "PROPFIND", "MKCOL", "LOCK",   "UNLOCK", "PROPPATCH", "REPORT",
};

static bool s_civetweb_method(const char *method)
{
    for (size_t i = 0; i < sizeof s_civetweb_methods / sizeof *s_civetweb_methods; i++)
        if (strcmp(method, s_civetweb_methods[i]) == 0)
            return true;
    return false;
}

void gateway_framing_civetweb_error(const struct mg_request_info *info, int status,
                                    gateway_framing_t *verdict)
{
    *verdict = (gateway_framing_t){.content_length = -1, .consumed = -1};
    /* civetweb resets info before each request and NUL-terminates the head before it
       splits it, so what it set is readable; a version of "1.0" or "1.1" means it got past
       the request line. */
    const char *version = info->http_version;
    bool line_parsed = info->request_method && version &&
                       (strcmp(version, "1.0") == 0 || strcmp(version, "1.1") == 0);
    switch (status) {
    case 400:
        if (line_parsed && info->num_headers > 0) {
            /* A Transfer-Encoding other than "chunked": civetweb says 400 to all of them. */
            gateway_framing_check_fields(version, info->http_headers, info->num_headers, verdict);
            if (verdict->status)
                return;
        }
        /* "An origin server that receives a request method that is unrecognized or not
           implemented SHOULD respond with the 501 (Not Implemented) status code." */
        if (line_parsed &&
            sl_header_name_valid(info->request_method, strlen(info->request_method)) &&
            !s_civetweb_method(info->request_method))
            s_refuse(verdict, 501, "method_not_implemented");
        else
            s_refuse(verdict, 400, "bad_request");
        return;
    case 411: /* civetweb's answer to a Content-Length it cannot read (negative, not a number) */
        s_refuse(verdict, 400, "bad_content_length");
        return;
    case 413: /* a head that fills civetweb's buffer (1.15 says 400 "Malformed message" instead) */
        s_refuse(verdict, 431, "header_too_large");
        return;
    case 505:
        s_refuse(verdict, 505, "http_version_not_supported");
        return;
    default:
        s_refuse(verdict, status, status == 405 ? "method_not_allowed" : "http_error");
        return;
    }
}
