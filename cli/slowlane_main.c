/*  slowlane: the everyday command. Dispatches the verb; each verb lives in its own file. */
#include <stdio.h>
#include <string.h>

#include "cli_up.h"

static void s_usage(FILE *out)
{
    fprintf(out, "usage: slowlane <command> [flags]\n\n"
                 "commands:\n"
                 "  up      start broker, gateway and the demo workers on this host\n"
                 "          (/fast and /slow on http://localhost:8080); Ctrl-C stops them all\n\n"
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
    fprintf(stderr, "slowlane: unknown command '%s' (see slowlane --help)\n", argv[1]);
    return 2;
}
