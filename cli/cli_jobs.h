/*  cli_jobs: `slowlane jobs` (docs/jobs.md): the jobs of the store, by state and service
    (through the admin API), one job's status, cancelling one. */
#ifndef CLI_JOBS_H
#define CLI_JOBS_H
/* Runs `slowlane jobs [list|show ID|cancel ID] [flags]`; argv[0] is "jobs". Returns the exit
   code: 0, 1 (the gateway refused or could not be reached), 2 (usage). */
int cli_jobs_run(int argc, char **argv);
#endif
