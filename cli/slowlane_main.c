/*  slowlane: the everyday command. Dispatches the verb; each verb lives in its own file. */
#include <stdio.h>
#include <string.h>

#include "cli_admin.h"
#include "cli_autoscale.h"
#include "cli_jobs.h"
#include "cli_keygen.h"
#include "cli_up.h"

static void s_usage(FILE *out)
{
    fprintf(out,
            "usage: slowlane <command> [flags]\n\n"
            "commands:\n"
            "  up      start broker, gateway and the demo workers on this host\n"
            "          (/fast and /slow on http://localhost:8080); Ctrl-C stops them all\n"
            "  keygen  write a CURVE key pair (NAME, NAME_secret) for the broker's links\n"
            "  status                       services, queues and every worker by host\n"
            "  scale SERVICE N [--host H]   N workers (on H, or spread over the hosts)\n"
            "  restart SERVICE              rolling restart, one worker at a time\n"
            "  stop|start SERVICE [--host H]  drain and stop / start again its workers\n"
            "  broadcast SERVICE MESSAGE    deliver MESSAGE once to every live worker\n"
            "  autoscale SERVICE --min N --max M [--target-wait-ms W] [--cooldown-s S] | --off\n"
            "                               the broker sets the count by load, within N..M\n"
            "  jobs [--state S] [--service NAME] | show ID | cancel ID\n"
            "                               asynchronous jobs (docs/jobs.md)\n"
            "          (admin verbs: SLOWLANE_GATEWAY, SLOWLANE_ADMIN_TOKEN; docs/admin-api.md)\n\n"
            "'slowlane <command> --help' lists a command's flags.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        s_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "up") == 0)
        return cli_up_run(argc - 1, argv + 1);
    if (cli_admin_owns(argv[1]))
        return cli_admin_run(argc - 1, argv + 1);
    if (strcmp(argv[1], "autoscale") == 0)
        return cli_autoscale_run(argc - 1, argv + 1);
    if (strcmp(argv[1], "jobs") == 0)
        return cli_jobs_run(argc - 1, argv + 1);
    if (strcmp(argv[1], "keygen") == 0)
        return cli_keygen_run(argc - 1, argv + 1);
    fprintf(stderr, "slowlane: unknown command '%s' (see slowlane --help)\n", argv[1]);
    return 2;
}
