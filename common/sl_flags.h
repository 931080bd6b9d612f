/*  sl_flags: command-line flags with environment fallbacks, parsed once at start-up.
    Each flag --some-name also reads SLOWLANE_SOME_NAME; a flag on the command line wins.
    A bad value stops start-up with one line naming the flag. No other config mechanism
    lives here: files (routes) are parsed by their owners. */
#ifndef SL_FLAGS_H
#define SL_FLAGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    SL_FLAG_STRING, /* target: char ** (owned copy; default kept if absent) */
    SL_FLAG_INT,    /* target: int64_t *, checked against min..max */
    SL_FLAG_BOOL,   /* target: bool *; "--name" sets true, "--name=false|0|no" false */
    SL_FLAG_LIST    /* target: sl_strlist_t *; repeatable; env value split on whitespace */
} sl_flag_type_t;

/* A growable list of owned strings, for repeatable flags. */
typedef struct {
    char **items; /* owned strings */
    size_t count; /* number of items */
    size_t cap;   /* allocated slots */
} sl_strlist_t;

typedef struct {
    const char *name;    /* without dashes, e.g. "heartbeat-ms" */
    sl_flag_type_t type; /* how to parse the value */
    void *target;        /* where the value goes; holds the default on entry */
    int64_t min, max;    /* inclusive bounds for SL_FLAG_INT */
    const char *help;    /* one line for --help */
} sl_flag_t;

/* Parses argv (from index first) and then the environment for flags not given.
   Returns 0 on success, 1 if --help was printed (caller exits 0), -1 on a bad flag or
   value (one line already written to stderr: "program: --flag: reason"). Arguments that
   are not flags are an error unless positional is non-NULL, where they are appended. */
int sl_flags_parse(const char *program, sl_flag_t *flags, size_t count, int argc, char **argv,
                   int first, sl_strlist_t *positional);

/* Prints usage lines for the flags to stdout. */
void sl_flags_print_help(const char *program, const char *synopsis, const sl_flag_t *flags,
                         size_t count);

void sl_strlist_push(sl_strlist_t *list, const char *text);
void sl_strlist_clear(sl_strlist_t *list);

#endif
