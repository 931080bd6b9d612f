/*  cli_admin: the cluster-manager verbs of `slowlane` (status, scale, restart, stop, start,
    broadcast): the CLI face of the gateway's admin API (docs/admin-api.md). */
#ifndef CLI_ADMIN_H
#define CLI_ADMIN_H

#include <stdbool.h>

/* True if verb is one of them. */
bool cli_admin_owns(const char *verb);

/* Runs the verb in argv[0] with its arguments; returns the process exit code. */
int cli_admin_run(int argc, char **argv);

#endif
