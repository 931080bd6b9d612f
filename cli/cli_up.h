/*  cli_up: `slowlane up`, the embedded default cluster on one host: a broker, the demo's
    worker supervisors and a gateway as child processes, stopped together. */
#ifndef CLI_UP_H
#define CLI_UP_H

/* Runs `slowlane up` with argv after the verb; returns the process exit code. */
int cli_up_run(int argc, char **argv);

#endif
