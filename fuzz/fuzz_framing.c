/*  fuzz_framing: libFuzzer target for the gateway's RFC 9112 checks (gateway/gateway_framing.c).
    Frame 0 (fuzz_frames.h) is what a client sent. It is split in place the way civetweb 1.15
    does before it calls the gateway (a model written from civetweb's behaviour: NULs over the
    separators, pointers into its buffer, the query cut at "?"), in a buffer of civetweb's size
    whose bytes past what was received are what an earlier request left ("\r\0", the end of a
    parsed head, over and over), then checked; or, where civetweb itself would refuse the head,
    its refusal is mapped. The verdict must be one of the statuses the gateway answers with; a
    request let through must be framed one way only, and its head must pass a strict RFC 9112
    reading of the raw bytes written here from the RFC's grammar (s_strict_head_length).
    Frames 1.. are single field values for the value parsers, each an exact-size string so
    over-reads show. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <strings.h>

#include "fuzz_frames.h"
#include "gateway_framing.h"
#include "sl_defaults.h"

static const char *s_methods[] = {
    "GET",   "POST",     "PUT",   "DELETE", "HEAD",   "OPTIONS",   "CONNECT",
    "PATCH", "PROPFIND", "MKCOL", "LOCK",   "UNLOCK", "PROPPATCH", "REPORT",
};

/* Length of the head at buf (civetweb's get_http_header_len): -1 for a control byte, 0 for
   no end yet, else up to and including the empty line ("\n\n" or "\r\n\r\n"). */
static int s_head_length(const char *buf, int size)
{
    for (int i = 0; i < size; i++) {
        unsigned char c = (unsigned char) buf[i];
        if (c < 128 && c != '\r' && c != '\n' && !isprint(c))
            return -1;
        if (i < size - 1 && buf[i] == '\n' && buf[i + 1] == '\n')
            return i + 2;
        if (i < size - 3 && buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' &&
            buf[i + 3] == '\n')
            return i + 4;
    }
    return 0;
}

/* Ends the word at *cursor (NULs over the whitespace after it); -1 where civetweb refuses. */
static int s_end_word(char **cursor, bool end_of_line)
{
    while (isgraph((unsigned char) **cursor))
        (*cursor)++;
    if (end_of_line ? (**cursor != '\r' && **cursor != '\n') : **cursor != ' ')
        return -1;
    do {
        **cursor = '\0';
        (*cursor)++;
    } while (isspace((unsigned char) **cursor));
    return end_of_line || isgraph((unsigned char) **cursor) ? 0 : -1;
}

/* civetweb's field-line split; the number of fields or -1. */
static int s_split_fields(char **buf, struct mg_header *headers)
{
    int count = 0;
    for (int i = 0; i < MG_MAX_HEADERS; i++) {
        char *dp = *buf;
        while (*dp != ':' && *dp >= 33 && *dp <= 126)
            dp++;
        if (dp == *buf)
            break;
        while (*dp == ' ')
            *dp++ = '\0';
        if (*dp != ':')
            return -1;
        *dp = '\0';
        headers[i].name = *buf;
        do
            dp++;
        while (*dp == ' ' || *dp == '\t');
        headers[i].value = dp;
        while (*dp && *dp != '\r' && *dp != '\n')
            dp++;
        if (*dp == '\r') {
            *dp++ = '\0';
            if (*dp != '\n')
                return -1;
        }
        count = i + 1;
        if (!*dp) {
            *buf = dp;
            break;
        }
        *dp++ = '\0';
        *buf = dp;
        if (dp[0] == '\r' || dp[0] == '\n')
            break;
    }
    return count;
}

static const char *s_field(const struct mg_request_info *info, const char *name)
{
    for (int i = 0; i < info->num_headers; i++)
        if (strcasecmp(info->http_headers[i].name, name) == 0)
            return info->http_headers[i].value;
    return NULL;
}

static bool s_tchar(unsigned char c)
{
    return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* The length of the head at raw (with one optional CRLF before it) by RFC 9112's grammar,
   CRLF line ends only, no obs-fold, no whitespace before a colon; -1 if it is not one. */
static int64_t s_strict_head_length(const unsigned char *raw, size_t size)
{
    size_t at = 0;
    if (size >= 2 && raw[0] == '\r' && raw[1] == '\n')
        at = 2;
    size_t method = at;
    while (at < size && s_tchar(raw[at]))
        at++;
    if (at == method || at >= size || raw[at++] != ' ')
        return -1;
    size_t target = at;
    while (at < size && raw[at] > ' ' && raw[at] < 0x7f)
        at++;
    if (at == target || at >= size || raw[at++] != ' ')
        return -1;
    if (size - at < 10 || memcmp(raw + at, "HTTP/", 5) != 0 || !isdigit(raw[at + 5]) ||
        raw[at + 6] != '.' || !isdigit(raw[at + 7]) || raw[at + 8] != '\r' || raw[at + 9] != '\n')
        return -1;
    at += 10;
    while (true) {
        if (size - at >= 2 && raw[at] == '\r' && raw[at + 1] == '\n')
            return (int64_t) at + 2;
        size_t name = at;
        while (at < size && s_tchar(raw[at]))
            at++;
        if (at == name || at >= size || raw[at++] != ':')
            return -1;
        while (at < size && raw[at] != '\r' && raw[at] != '\n') /* the value and its OWS */
            if ((raw[at] < ' ' && raw[at] != '\t') || raw[at] == 0x7f)
                return -1;
            else
                at++;
        if (size - at < 2 || raw[at] != '\r' || raw[at + 1] != '\n')
            return -1;
        at += 2;
    }
}

static void s_check_verdict(const gateway_framing_t *verdict, const struct mg_request_info *info)
{
    static const int allowed[] = {0, 400, 413, 414, 431, 501, 505};
    bool known = false;
    for (size_t i = 0; i < sizeof allowed / sizeof *allowed; i++)
        known |= verdict->status == allowed[i];
    FUZZ_CHECK(known);
    FUZZ_CHECK(verdict->status == 0 || (verdict->cause && verdict->close));
    if (verdict->status != 0 || !info)
        return;
    /* Let through: one way to find the body's end, and one Host for HTTP/1.1. */
    int hosts = 0, lengths = 0, encodings = 0;
    for (int i = 0; i < info->num_headers; i++) {
        const char *name = info->http_headers[i].name;
        hosts += strcasecmp(name, "Host") == 0;
        lengths += strcasecmp(name, "Content-Length") == 0;
        encodings += strcasecmp(name, "Transfer-Encoding") == 0;
        FUZZ_CHECK(strchr(name, ' ') == NULL && strchr(name, ':') == NULL);
    }
    FUZZ_CHECK(hosts <= 1 && lengths <= 1);
    FUZZ_CHECK(!(lengths && encodings));
    FUZZ_CHECK(verdict->chunked == (encodings > 0));
    FUZZ_CHECK((verdict->content_length >= 0) == (lengths == 1));
    if (strcmp(info->http_version, "1.1") == 0)
        FUZZ_CHECK(hosts == 1);
    else
        FUZZ_CHECK(!encodings);
}

static void s_check_head(const uint8_t *data, size_t size)
{
    /* civetweb's buffer: SL_GATEWAY_MAX_REQUEST_HEAD bytes, what was received at its start,
       then what earlier requests left. */
    if (size >= SL_GATEWAY_MAX_REQUEST_HEAD)
        return;
    char *buf = malloc(SL_GATEWAY_MAX_REQUEST_HEAD);
    if (!buf)
        abort();
    static char stale[SL_GATEWAY_MAX_REQUEST_HEAD];
    if (stale[0] != '\r')
        for (size_t at = 0; at < sizeof stale; at++)
            stale[at] = at % 2 == 0 ? '\r' : '\0';
    memcpy(buf, data, size);
    memcpy(buf + size, stale, SL_GATEWAY_MAX_REQUEST_HEAD - size);
    char *raw = malloc(SL_GATEWAY_MAX_REQUEST_HEAD); /* gateway_head_buffer's copy */
    if (!raw)
        abort();
    memcpy(raw, buf, SL_GATEWAY_MAX_REQUEST_HEAD);
    gateway_head_buffer_t buffer = {.start = buf,
                                    .end = buf + SL_GATEWAY_MAX_REQUEST_HEAD,
                                    .valid_end = buf + size,
                                    .raw = raw};
    struct mg_request_info info = {.content_length = -1};
    gateway_framing_t verdict;
    char *cursor = buf;
    int left = (int) size;
    while (left > 0 && isspace((unsigned char) *cursor)) {
        cursor++;
        left--;
    }
    int head = left > 0 && !iscntrl((unsigned char) *cursor) ? s_head_length(cursor, left) : -1;
    if (head <= 0)
        goto done; /* civetweb waits for more, or refuses before anything is parsed */
    cursor[head - 1] = '\0';
    if (*cursor == '\0' || *cursor == '\r' || *cursor == '\n')
        goto done;
    info.request_method = cursor;
    if (s_end_word(&cursor, false) != 0)
        goto refused;
    info.request_uri = cursor;
    if (s_end_word(&cursor, false) != 0)
        goto refused;
    info.http_version = cursor;
    if (s_end_word(&cursor, true) != 0 || strncmp(info.http_version, "HTTP/", 5) != 0)
        goto refused;
    info.http_version += 5;
    bool method_known = false;
    for (size_t i = 0; i < sizeof s_methods / sizeof *s_methods; i++)
        method_known |= strcmp(info.request_method, s_methods[i]) == 0;
    if (!method_known)
        goto refused;
    info.num_headers = s_split_fields(&cursor, info.http_headers);
    if (info.num_headers < 0)
        goto refused;
    const char *encoding = s_field(&info, "Transfer-Encoding");
    const char *length = s_field(&info, "Content-Length");
    if (encoding && strcasecmp(encoding, "identity") != 0 && strcasecmp(encoding, "chunked") != 0)
        goto refused;
    if (!encoding && length) {
        char *end = NULL;
        long long value = strtoll(length, &end, 10);
        if (end == length || value < 0) {
            gateway_framing_civetweb_error(&info, 411, &verdict);
            s_check_verdict(&verdict, NULL);
            goto done;
        }
        info.content_length = value;
    }
    if (strcmp(info.http_version, "1.0") != 0 && strcmp(info.http_version, "1.1") != 0) {
        gateway_framing_civetweb_error(&info, 505, &verdict);
        s_check_verdict(&verdict, NULL);
        goto done;
    }
    if (info.request_uri[0] != '/')
        goto refused; /* the model keeps to origin-form targets */
    char *query = strchr(info.request_uri, '?');
    if (query) {
        *query = '\0';
        info.query_string = query + 1;
    }
    info.local_uri = info.request_uri;
    gateway_framing_check(&info, &buffer, &verdict);
    s_check_verdict(&verdict, &info);
    if (verdict.status == 0) {
        /* What the gateway lets through is a head by the RFC's own grammar, and what it
           says the request takes off civetweb's buffer is that head and its body. */
        int64_t head = s_strict_head_length(data, size);
        FUZZ_CHECK(head > 0);
        gateway_framing_head_t scanned;
        FUZZ_CHECK(gateway_framing_scan((const char *) data, size, &scanned) == NULL);
        FUZZ_CHECK((int64_t) scanned.length == head);
        if (verdict.consumed >= 0)
            FUZZ_CHECK(verdict.consumed ==
                       head + (verdict.content_length > 0 ? verdict.content_length : 0));
    }
    goto done;
refused:
    gateway_framing_civetweb_error(&info, 400, &verdict);
    s_check_verdict(&verdict, NULL);
done:
    free(raw);
    free(buf);
}

/* The scanner alone on any bytes: what it accepts the strict reading accepts, to the byte. */
static void s_check_scan(const uint8_t *data, size_t size)
{
    char *copy = fuzz_copy(data, size);
    gateway_framing_head_t head;
    const char *fault = gateway_framing_scan(copy, size, &head);
    int64_t strict = s_strict_head_length(data, size);
    if (!fault) {
        FUZZ_CHECK(strict > 0 && (int64_t) head.length == strict);
        FUZZ_CHECK(head.length <= size && head.fields <= SL_MAX_HEADERS);
    } else if (strict > 0) {
        /* the strict reading has no field-count limit */
        FUZZ_CHECK(strcmp(fault, "too_many_headers") == 0);
    }
    free(copy);
}

static void s_check_value(const uint8_t *data, size_t size)
{
    char *value = fuzz_strdup(data, size);
    int64_t length = -1;
    int rc = gateway_framing_content_length(value, &length);
    FUZZ_CHECK(rc == 0 || rc == -1 || rc == -2);
    if (rc == 0) {
        FUZZ_CHECK(length >= 0);
        FUZZ_CHECK(isdigit((unsigned char) value[0]));
        char text[32];
        snprintf(text, sizeof text, "%lld", (long long) length);
        /* the same number, leading zeros aside */
        const char *digits = value;
        while (digits[0] == '0' && isdigit((unsigned char) digits[1]))
            digits++;
        FUZZ_CHECK(strncmp(digits, text, strlen(text)) == 0);
    }
    if (gateway_framing_host_valid(value)) {
        size_t used = strlen(value); /* trailing spaces and tabs are not part of the value */
        while (used > 0 && (value[used - 1] == ' ' || value[used - 1] == '\t'))
            value[--used] = '\0';
        FUZZ_CHECK(strpbrk(value, "/?#@\"<>\\ \t") == NULL);
    }
    if (gateway_framing_path_valid(value))
        FUZZ_CHECK(value[0] == '/' && strstr(value, "%00") == NULL);
    free(value);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_frames_t frames;
    fuzz_frames_init(&frames, data, size);
    const uint8_t *frame = NULL;
    size_t frame_size = 0;
    if (fuzz_frames_next(&frames, &frame, &frame_size)) {
        s_check_scan(frame, frame_size);
        s_check_head(frame, frame_size);
    }
    while (fuzz_frames_next(&frames, &frame, &frame_size))
        s_check_value(frame, frame_size);
    return 0;
}
