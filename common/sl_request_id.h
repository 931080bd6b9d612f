/*  sl_request_id: fresh request ids, unique across threads, processes and forks, without a
    system call per id. Checking an id from the wire is the envelope codec's
    (sl_request_id_valid in sl_envelope.h); this file only makes new ones. */
#ifndef SL_REQUEST_ID_H
#define SL_REQUEST_ID_H

/* Writes a fresh random request id (32 hex digits) into buffer (>= 33 bytes). */
void sl_request_id_generate(char *buffer);

#endif
