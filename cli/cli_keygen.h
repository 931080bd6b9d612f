/*  cli_keygen: `slowlane keygen`, a CURVE key pair as czmq certificate files: NAME (public,
    for the broker's --curve-clients directory or the clients' --curve-server) and
    NAME_secret (mode 0600, for the owner's --curve-secret). */
#ifndef CLI_KEYGEN_H
#define CLI_KEYGEN_H

/* Runs `slowlane keygen` with argv after the verb; returns the process exit code. */
int cli_keygen_run(int argc, char **argv);

#endif
