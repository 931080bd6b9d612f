/*  cli_autoscale: `slowlane autoscale` (see cli_autoscale.c). */
#ifndef CLI_AUTOSCALE_H
#define CLI_AUTOSCALE_H

/* Runs `slowlane autoscale ...` (argv[0] is "autoscale"); returns the exit status. */
int cli_autoscale_run(int argc, char **argv);

#endif
