/*  gateway_framing: is this request's head well-formed, and where does its body end?
    RFC 9112's rules (request line, field syntax, Host, Content-Length, Transfer-Encoding),
    checked on every request before anything routes it, whatever civetweb let through. Two
    parsers that disagree on where a request ends let an attacker hide a second request in the
    first ("request smuggling"): every answer here that refuses framing also closes the
    connection. It reads the request as civetweb parsed it and never reads the body, writes a
    response or decides routing (gateway_http). docs/security.md lists the rules. */
#ifndef GATEWAY_FRAMING_H
#define GATEWAY_FRAMING_H

#include <civetweb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway_head_buffer.h"
#include "sl_defaults.h"

/* Requests whose target is longer are answered 414 (RFC 9112 section 3). */
#define GATEWAY_FRAMING_MAX_TARGET 8192

typedef struct {
    int status;             /* 0: the request may go on; else the status to answer */
    const char *cause;      /* a static string naming the refusal ("bad_content_length") */
    bool close;             /* answer with Connection: close, then close the connection */
    bool chunked;           /* the body is chunked (Transfer-Encoding: chunked, alone) */
    int64_t content_length; /* the body's length from Content-Length; -1 if none */
    int64_t consumed;       /* bytes of civetweb's buffer the request takes (leading empty
                               line, head, Content-Length body); -1: unknown, chunked */
} gateway_framing_t;

/* Checks the request civetweb parsed, from its request handler, and fills verdict. buffer:
   where civetweb parsed it (gateway_head_buffer), NULL if unknown: then the request is
   refused 503 framing_unverifiable, as the gateway cannot vouch for it. */
void gateway_framing_check(const struct mg_request_info *info, const gateway_head_buffer_t *buffer,
                           gateway_framing_t *verdict);

/* Where the parts of a raw head are (offsets from its first byte). */
typedef struct {
    size_t leading;                 /* bytes before the request line: 0, or 2 (one CRLF) */
    size_t method, target, version; /* where the request line's three parts start */
    int fields;                     /* field lines */
    size_t names[SL_MAX_HEADERS];   /* where each field line starts */
    size_t length;                  /* the whole head, its empty line included */
} gateway_framing_head_t;

/* Reads a head as the client sent it (raw, size bytes: the head and perhaps what follows)
   by RFC 9112's grammar, CRLF line ends only, no obs-fold, no whitespace before a colon.
   Returns NULL with head filled, or the cause of the first fault ("obs_fold", ...). Pure:
   the fuzz target drives it. */
const char *gateway_framing_scan(const char *raw, size_t size, gateway_framing_head_t *head);

/* The field rules alone, on the header lines as civetweb split them (name, value with its
   leading whitespace gone): Host, Content-Length, Transfer-Encoding, field names. version
   is "1.0" or "1.1". Pure: the fuzz target drives it. */
void gateway_framing_check_fields(const char *version, const struct mg_header *headers, int count,
                                  gateway_framing_t *verdict);

/* civetweb refused the request itself (400, 411, 413, 505 ...) before the handler ran:
   the status and cause RFC 9112 asks for instead, as precise as what civetweb left in info
   allows. The connection always closes. */
void gateway_framing_civetweb_error(const struct mg_request_info *info, int status,
                                    gateway_framing_t *verdict);

/* A Content-Length value: 1*DIGIT, trailing spaces or tabs ignored. Returns 0 with the
   length, -1 if it is not a decimal number (a list, a sign, a space inside), -2 if it does
   not fit in 63 bits. */
int gateway_framing_content_length(const char *value, int64_t *length);

/* A Host value: uri-host [ ":" port ] (RFC 3986), possibly empty. */
bool gateway_framing_host_valid(const char *value);

/* An origin-form path as the gateway forwards it: RFC 3986 path characters and well-formed
   %XX escapes; %00 never. */
bool gateway_framing_path_valid(const char *path);

#endif
