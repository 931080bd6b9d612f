/*  supervisor_program: the exec of a program: worker (supervisor_program.h). Everything a
    C worker gets as function calls (sl_worker_set_*) a program gets as SLOWLANE_*
    variables and two inherited descriptors; docs/workers.md is the contract and this file
    its one writer. Runs in the child only, between fork and exec: no logger state is
    shared, so a failure says so on stderr, which the supervisor's log shares. */
#define _GNU_SOURCE // environ
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "supervisor_program.h"

#define S_LIST_BYTES 8192 /* room for every broker endpoint or key path, spaces between */

//  The supervisor's own flags may come from SLOWLANE_<FLAG> (SLOWLANE_HANDLER,
//  SLOWLANE_COUNT): none of them is the program's. It sees exactly the contract's names.
static void s_clear_slowlane_environment(void)
{
    for (;;) {
        char **entry = environ;
        while (*entry && strncmp(*entry, "SLOWLANE_", 9) != 0)
            entry++;
        if (!*entry)
            return;
        char name[256];
        size_t size = strcspn(*entry, "=");
        snprintf(name, sizeof name, "%.*s", (int) (size < 255 ? size : 255), *entry);
        unsetenv(name);
    }
}

static void s_set_number(const char *name, long long value)
{
    char text[32];
    snprintf(text, sizeof text, "%lld", value);
    setenv(name, text, 1);
}

//  items joined by single spaces: a broker or a key path never holds whitespace
//  (supervisor_main.c checks endpoints; a path with spaces is refused here).
static int s_set_list(const char *name, const char *const *items, int count)
{
    char text[S_LIST_BYTES];
    size_t used = 0;
    text[0] = '\0';
    for (int i = 0; i < count; i++) {
        if (strpbrk(items[i], " \t\r\n")) {
            fprintf(stderr, "slowlane-worker: %s: '%s' holds whitespace\n", name, items[i]);
            return -1;
        }
        int wrote = snprintf(text + used, sizeof text - used, "%s%s", i ? " " : "", items[i]);
        if (wrote < 0 || (size_t) wrote >= sizeof text - used)
            return -1;
        used += (size_t) wrote;
    }
    return setenv(name, text, 1);
}

static const char *s_level_name(sl_log_level_t level)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    return level >= SL_LOG_DEBUG && level <= SL_LOG_ERROR ? names[level] : "info";
}

//  Pipes are made O_CLOEXEC (supervisor_children.c) so no other child inherits them;
//  the program's own two must survive its exec.
static int s_keep_open(int fd)
{
    int flags = fcntl(fd, F_GETFD);
    return flags == -1 ? -1 : fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
}

void supervisor_program_exec(const supervisor_config_t *config, const char *identity, int event_fd,
                             int broadcast_fd)
{
    s_clear_slowlane_environment();
    if (s_set_list("SLOWLANE_BROKER", config->brokers, config->broker_count) != 0)
        _exit(1);
    setenv("SLOWLANE_SERVICE", config->service, 1);
    setenv("SLOWLANE_IDENTITY", identity, 1);
    s_set_number("SLOWLANE_HEARTBEAT_MS", config->heartbeat_ms);
    s_set_number("SLOWLANE_LIVENESS", config->liveness);
    s_set_number("SLOWLANE_CAPACITY", config->capacity);
    setenv("SLOWLANE_LOG_LEVEL", s_level_name(config->log_level), 1);
    if (config->curve_secret) {
        setenv("SLOWLANE_CURVE_SECRET", config->curve_secret, 1);
        //  One key file per broker, paired in order, as C workers pair them
        if (s_set_list("SLOWLANE_CURVE_SERVER", config->curve_servers, config->broker_count) != 0)
            _exit(1);
    }
    if (s_keep_open(event_fd) != 0 || s_keep_open(broadcast_fd) != 0)
        _exit(1);
    s_set_number("SLOWLANE_EVENTS_FD", event_fd);
    s_set_number("SLOWLANE_BROADCAST_FD", broadcast_fd);
    //  exec: the shell parses COMMAND (quotes, variables) and then becomes the program, so
    //  the pid the supervisor signals and measures (max RSS) is the worker's own
    size_t size = strlen(config->handler.program) + sizeof "exec ";
    char *command = malloc(size);
    if (!command)
        _exit(1);
    snprintf(command, size, "exec %s", config->handler.program);
    execl("/bin/sh", "sh", "-c", command, (char *) NULL);
    fprintf(stderr, "slowlane-worker: exec /bin/sh failed: %s\n", strerror(errno));
    _exit(127);
}
