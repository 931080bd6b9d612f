/*  sl_token: the admin bearer token: generating one, reading it from a file, comparing it
    in constant time, and where `slowlane up` keeps it for the CLI. Used by the gateway
    (checks) and the CLI (sends). Never logs a token. */
#ifndef SL_TOKEN_H
#define SL_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

/* True if the two strings are equal, in time that depends only on the length of given
   (what the client sent), never on where the first difference is. */
bool sl_token_equal(const char *expected, const char *given);

/* Writes 64 hex characters of /dev/urandom and a NUL into buffer (>= 65 bytes).
   Returns 0, or -1 if no randomness could be read. */
int sl_token_generate(char *buffer);

/* Reads a token file: one line, surrounding whitespace dropped. Returns 0, or -1 with
 *reason (static) set: unreadable, empty, too short/long, control characters.
 *loose is set true if the file can be read by group or others. */
int sl_token_read_file(const char *path, char *buffer, size_t size, bool *loose,
                       const char **reason);

/* Checks a token given directly (flag or environment); 0 or -1 with *reason. */
int sl_token_check(const char *token, const char **reason);

/* The default token file: $XDG_CONFIG_HOME/slowlane/admin-token, else
   $HOME/.config/slowlane/admin-token. Returns 0, or -1 if neither variable is set. */
int sl_token_default_path(char *buffer, size_t size);

/* Writes token to path with mode 0600, creating the directory (0700) if needed; the file
   is written whole (temporary file, then rename). Returns 0 or -1 (errno set). */
int sl_token_write_file(const char *path, const char *token);

#endif
