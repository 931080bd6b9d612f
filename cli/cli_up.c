/*  cli_up: `slowlane up`. Starts the gateway with the broker embedded in it (or, with
    --separate-broker, a slowlane-broker process) and the fast and slow worker supervisors
    as children (each in its own process group, each told to die with us), waits until the
    gateway says ready, then stops them all in order on SIGINT/SIGTERM: gateway first (no new
    requests; an embedded broker stops with it), then workers (drain), then a separate
    broker. If any child dies on its own, everything is stopped and `up` exits non-zero: a
    half cluster is never left. */
#define _GNU_SOURCE
#include "cli_up.h"
#include "sl_defaults.h"
#include "sl_flags.h"
#include "sl_token.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define UP_READY_TIMEOUT_MS 20000
#define UP_STOP_TIMEOUT_MS  10000
#define UP_CHILDREN         5

typedef struct {
    const char *name; /* for messages: "broker", "fast workers", ... */
    pid_t pid;        /* 0 once reaped */
    int status;       /* wait status once reaped */
} up_child_t;

static int64_t s_now_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t) now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* The directory this binary lives in: the other binaries are its siblings. */
static void s_bin_dir(char *buffer, size_t size)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        snprintf(buffer, size, ".");
        return;
    }
    self[n] = '\0';
    snprintf(buffer, size, "%s", dirname(self));
}

/* A bind to every interface (star or 0.0.0.0) is reached by the children on loopback. */
static void s_connect_endpoint(const char *bind, char *buffer, size_t size)
{
    const char *host = strstr(bind, "://");
    const char *colon = strrchr(bind, ':');
    if (host && colon && colon > host + 3 &&
        (strncmp(host + 3, "*:", 2) == 0 || strncmp(host + 3, "0.0.0.0:", 8) == 0))
        snprintf(buffer, size, "%.*s://127.0.0.1%s", (int) (host - bind), bind, colon);
    else
        snprintf(buffer, size, "%s", bind);
}

/* Forks and runs program with args; the child's environment loses the variable named by
   unset (NULL: none). With own_session it starts a session of its own, not only a process
   group (supervisor_session.h says why the slow lane wants one). */
static pid_t s_spawn(const char *bin_dir, const char *program, char **args, const char *unset,
                     bool own_session)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", bin_dir, program);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid != 0)
        return pid; // parent, or -1
    // Child: own process group, or session (the terminal's Ctrl-C reaches only `up`, which stops
    // everything in order), killed if `up` dies, signals as the program expects them.
    if (own_session)
        setsid();
    else
        setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        _exit(1);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (unset)
        unsetenv(unset);
    args[0] = path;
    execv(path, args);
    fprintf(stderr, "slowlane up: cannot run %s: %s\n", path, strerror(errno));
    _exit(127);
}

/* One GET /readyz on loopback; true on a 200. */
static int s_gateway_ready(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t) port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval timeout = {.tv_sec = 1};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    int ready = 0;
    if (connect(fd, (struct sockaddr *) &address, sizeof address) == 0) {
        const char *request =
            "GET /readyz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
        char reply[64] = "";
        if (write(fd, request, strlen(request)) > 0 && read(fd, reply, sizeof reply - 1) > 12)
            ready = strncmp(reply + 9, "200", 3) == 0;
    }
    close(fd);
    return ready;
}

/* Reaps any exited children; returns the first one that exited, or NULL. */
static up_child_t *s_reap(up_child_t *children, int count)
{
    up_child_t *exited = NULL;
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (int i = 0; i < count; i++) {
            if (children[i].pid == pid) {
                children[i].pid = 0;
                children[i].status = status;
                if (!exited)
                    exited = &children[i];
            }
        }
    }
    return exited;
}

static void s_describe_exit(const up_child_t *child)
{
    if (WIFSIGNALED(child->status))
        fprintf(stderr, "slowlane up: %s was killed by signal %d\n", child->name,
                WTERMSIG(child->status));
    else
        fprintf(stderr, "slowlane up: %s exited with status %d\n", child->name,
                WEXITSTATUS(child->status));
}

/* SIGTERM one child's group, wait up to timeout, then SIGKILL the group. */
static void s_stop_child(up_child_t *children, int count, up_child_t *child, int64_t timeout_ms)
{
    pid_t group = child->pid;
    if (group <= 0)
        return;
    kill(group, SIGTERM);
    int64_t deadline = s_now_ms() + timeout_ms;
    while (child->pid != 0 && s_now_ms() < deadline) {
        s_reap(children, count);
        if (child->pid != 0)
            usleep(10 * 1000); // reaping has no fd to wait on; 10 ms is well under a stop
    }
    if (child->pid != 0) {
        fprintf(stderr, "slowlane up: %s did not stop in %lld ms, killing it\n", child->name,
                (long long) timeout_ms);
        killpg(group, SIGKILL);
        waitpid(group, &child->status, 0);
        child->pid = 0;
    }
    killpg(group, SIGKILL); // anything its own children left behind
}

/* The local cluster's admin token file: the default path (sl_token_default_path), reused
   if it holds a valid token, else a fresh 256-bit token written there with mode 0600.
   Returns 0, or -1 with one line on stderr. */
static int s_admin_token_file(char *path, size_t size)
{
    char token[SL_ADMIN_TOKEN_MAX + 1];
    const char *reason = NULL;
    bool loose = false;
    if (sl_token_default_path(path, size) != 0) {
        fprintf(stderr, "slowlane up: set HOME or XDG_CONFIG_HOME (where the admin token goes), "
                        "or SLOWLANE_ADMIN_TOKEN\n");
        return -1;
    }
    if (sl_token_read_file(path, token, sizeof token, &loose, &reason) == 0) {
        if (loose)
            chmod(path, 0600);
        explicit_bzero(token, sizeof token);
        return 0;
    }
    if (sl_token_generate(token) != 0 || sl_token_write_file(path, token) != 0) {
        fprintf(stderr, "slowlane up: cannot write the admin token to %s: %s\n", path,
                strerror(errno));
        return -1;
    }
    explicit_bzero(token, sizeof token);
    printf("slowlane up: wrote a new admin token to %s (mode 0600)\n", path);
    return 0;
}

/* The local cluster's job store: $XDG_DATA_HOME/slowlane/jobs, or ~/.local/share/slowlane/jobs
   (slowlane-jobs creates it). Returns 0, or -1 with one line on stderr. */
static int s_jobs_data_dir(char *path, size_t size)
{
    const char *data_home = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
    int written = -1;
    if (data_home && *data_home)
        written = snprintf(path, size, "%s/slowlane/jobs", data_home);
    else if (home && *home)
        written = snprintf(path, size, "%s/.local/share/slowlane/jobs", home);
    if (written < 0 || (size_t) written >= size) {
        fprintf(stderr, "slowlane up: set HOME, XDG_DATA_HOME or --data-dir (where jobs are "
                        "kept)\n");
        return -1;
    }
    return 0;
}

static void s_free_flag(char *value, const char *default_value)
{
    if (value != default_value)
        free(value);
}

int cli_up_run(int argc, char **argv)
{
    int64_t listen_port = SL_DEFAULT_LISTEN_PORT;
    char *bind = "tcp://127.0.0.1:5555";
    int64_t fast_workers = SL_DEFAULT_WORKER_COUNT, slow_workers = SL_DEFAULT_WORKER_COUNT;
    int64_t heartbeat_ms = SL_DEFAULT_HEARTBEAT_MS;
    int64_t fast_capacity = SL_UP_FAST_CAPACITY;
    char *log_level = "info";
    char *data_dir = NULL;
    bool separate_broker = false;
    // sl_flags replaces a default with an owned copy: those are freed on the way out.
    char *const bind_default = bind, *const log_level_default = log_level;
    sl_flag_t flags[] = {
        {"listen", SL_FLAG_INT, &listen_port, 1, 65535, "HTTP port of the gateway"},
        {"bind", SL_FLAG_STRING, &bind, 0, 0, "broker endpoint (tcp://127.0.0.1:5555)"},
        {"fast-workers", SL_FLAG_INT, &fast_workers, 1, 1024, "workers for /fast (2)"},
        {"slow-workers", SL_FLAG_INT, &slow_workers, 1, 1024, "workers for /slow (2)"},
        {"fast-capacity", SL_FLAG_INT, &fast_capacity, 1, SL_MAX_WORKER_CAPACITY,
         "jobs each /fast worker takes at once (16; /slow workers take 1)"},
        {"heartbeat-ms", SL_FLAG_INT, &heartbeat_ms, 10, 600000, "broker<->worker heartbeat"},
        {"log-level", SL_FLAG_STRING, &log_level, 0, 0, "debug|info|warn|error"},
        {"data-dir", SL_FLAG_STRING, &data_dir, 0, 0,
         "where slowlane-jobs keeps accepted jobs (~/.local/share/slowlane/jobs)"},
        {"separate-broker", SL_FLAG_BOOL, &separate_broker, 0, 0,
         "run the broker as a process of its own (default: inside the gateway, one hop less)"},
    };
    int rc =
        sl_flags_parse("slowlane up", flags, sizeof flags / sizeof flags[0], argc, argv, 1, NULL);
    char jobs_dir[PATH_MAX];
    if (rc == 0 && data_dir)
        snprintf(jobs_dir, sizeof jobs_dir, "%s", data_dir);
    else if (rc == 0 && s_jobs_data_dir(jobs_dir, sizeof jobs_dir) != 0)
        rc = -1;
    free(data_dir);
    if (rc != 0) {
        s_free_flag(bind, bind_default);
        s_free_flag(log_level, log_level_default);
        return rc > 0 ? 0 : 2;
    }

    char bin_dir[PATH_MAX], endpoint[512], port[16], fast_count[16], slow_count[16], beat[16];
    char slice_text[16];
    char capacity[16];
    snprintf(capacity, sizeof capacity, "%lld", (long long) fast_capacity);
    s_bin_dir(bin_dir, sizeof bin_dir);
    s_connect_endpoint(bind, endpoint, sizeof endpoint);
    snprintf(port, sizeof port, "%lld", (long long) listen_port);
    snprintf(fast_count, sizeof fast_count, "%lld", (long long) fast_workers);
    snprintf(slow_count, sizeof slow_count, "%lld", (long long) slow_workers);
    snprintf(beat, sizeof beat, "%lld", (long long) heartbeat_ms);
    snprintf(slice_text, sizeof slice_text, "%d", SL_DEFAULT_SLICE_US);

    // Signals are taken synchronously with sigtimedwait: no handler races.
    sigset_t wanted;
    sigemptyset(&wanted);
    sigaddset(&wanted, SIGINT);
    sigaddset(&wanted, SIGTERM);
    sigaddset(&wanted, SIGCHLD);
    sigprocmask(SIG_BLOCK, &wanted, NULL);

    char *broker_args[] = {NULL, "--bind",      bind,      "--heartbeat-ms",
                           beat, "--log-level", log_level, NULL};
    // Quick jobs: a short CPU slice runs them as soon as they arrive (sl_sched.h)
    char *fast_args[] = {NULL,          "--broker",     endpoint,   "--service",      "fast",
                         "--handler",   "builtin:echo", "--count",  fast_count,       "--capacity",
                         capacity,      "--slice-us",   slice_text, "--heartbeat-ms", beat,
                         "--log-level", log_level,      NULL};
    // The slow lane burns CPU: a lower priority keeps this host's fast lane responsive, and
    // a session of its own makes the priority count against the whole machine's load.
    char *slow_args[] = {NULL,
                         "--broker",
                         endpoint,
                         "--service",
                         "slow",
                         "--handler",
                         "builtin:busy",
                         "--count",
                         slow_count,
                         "--nice",
                         "10",
                         "--own-session",
                         "--heartbeat-ms",
                         beat,
                         "--log-level",
                         log_level,
                         NULL};
    // Jobs (Prefer: respond-async) are kept on disk by slowlane-jobs, a worker of the broker.
    char *jobs_args[] = {NULL, "--broker",    endpoint,  "--data-dir", jobs_dir, "--heartbeat-ms",
                         beat, "--log-level", log_level, NULL};
    // The admin API is on for the local cluster: its token file is what `slowlane status`
    // and `slowlane scale` read. SLOWLANE_ADMIN_TOKEN, if set, wins (the gateway reads it).
    char token_path[PATH_MAX] = "";
    char *token_flag = getenv("SLOWLANE_ADMIN_TOKEN") ? NULL : "--admin-token-file";
    if (token_flag && s_admin_token_file(token_path, sizeof token_path) != 0) {
        s_free_flag(bind, bind_default);
        s_free_flag(log_level, log_level_default);
        return 1;
    }
    // The gateway reaches an embedded broker in-process: no loopback TCP hop and no libzmq
    // I/O threads between them, about a fifth less CPU per request (docs/architecture.md).
    char *gateway_args[16] = {NULL,
                              "--listen",
                              port,
                              "--route",
                              "/fast=fast,methods=GET|POST",
                              "--route",
                              "/slow=slow,methods=GET",
                              "--log-level",
                              log_level};
    int argument = 9;
    if (separate_broker) {
        gateway_args[argument++] = "--broker";
        gateway_args[argument++] = endpoint;
    } else {
        gateway_args[argument++] = "--embed-broker";
        gateway_args[argument++] = bind;
        gateway_args[argument++] = "--broker-heartbeat-ms";
        gateway_args[argument++] = beat;
    }
    gateway_args[argument++] = token_flag; // NULL with SLOWLANE_ADMIN_TOKEN: the list ends here
    gateway_args[argument++] = token_path;
    gateway_args[argument] = NULL;

    up_child_t children[UP_CHILDREN] = {{"broker", 0, 0},
                                        {"fast workers", 0, 0},
                                        {"slow workers", 0, 0},
                                        {"gateway", 0, 0},
                                        {"jobs", 0, 0}};
    if (separate_broker)
        children[0].pid = s_spawn(bin_dir, "slowlane-broker", broker_args, NULL, false);
    children[1].pid = s_spawn(bin_dir, "slowlane-worker", fast_args, NULL, false);
    children[2].pid = s_spawn(bin_dir, "slowlane-worker", slow_args, NULL, true);
    // SLOWLANE_BROKER, exported for workers run by hand, would be the gateway's --broker,
    // which an embedding gateway refuses: the broker `up` starts is the one it reaches.
    children[3].pid = s_spawn(bin_dir, "slowlane-gateway", gateway_args,
                              separate_broker ? NULL : "SLOWLANE_BROKER", false);
    children[4].pid = s_spawn(bin_dir, "slowlane-jobs", jobs_args, NULL, false);
    for (int i = 0; i < UP_CHILDREN; i++) {
        if (children[i].pid < 0) {
            fprintf(stderr, "slowlane up: cannot fork for %s: %s\n", children[i].name,
                    strerror(errno));
            children[i].pid = 0;
            rc = 1;
        }
    }
    if (rc == 0) {
        if (separate_broker)
            printf("slowlane up: broker        pid %d  %s\n", children[0].pid, bind);
        else
            printf("slowlane up: broker        in the gateway (pid %d)  %s\n", children[3].pid,
                   bind);
        printf("slowlane up: fast workers  pid %d  service=fast handler=builtin:echo count=%s "
               "capacity=%s\n",
               children[1].pid, fast_count, capacity);
        printf("slowlane up: slow workers  pid %d  service=slow handler=builtin:busy count=%s "
               "nice=10 own session\n",
               children[2].pid, slow_count);
        printf("slowlane up: gateway       pid %d  http://localhost:%s  "
               "(GET|POST /fast -> fast, GET /slow?ms=N -> slow)\n",
               children[3].pid, port);
        printf("slowlane up: jobs          pid %d  store %s  (Prefer: respond-async -> 202, "
               "GET /jobs/ID)\n",
               children[4].pid, jobs_dir);
        printf("slowlane up: admin API     http://localhost:%s/api/v1/  token %s\n", port,
               token_flag ? token_path : "from SLOWLANE_ADMIN_TOKEN");
        fflush(stdout);
    }

    bool ready = false, stopping = rc != 0;
    int64_t ready_deadline = s_now_ms() + UP_READY_TIMEOUT_MS;
    while (!stopping) {
        struct timespec wait = {.tv_sec = 0, .tv_nsec = 100 * 1000 * 1000};
        int sig = sigtimedwait(&wanted, NULL, &wait);
        if (sig == SIGINT || sig == SIGTERM) {
            printf("slowlane up: stopping\n");
            fflush(stdout);
            stopping = true;
        } else if (sig == SIGCHLD || sig < 0) {
            up_child_t *exited = s_reap(children, UP_CHILDREN);
            if (exited) {
                s_describe_exit(exited);
                rc = 1;
                stopping = true;
            }
        }
        if (!stopping && !ready) {
            if (s_gateway_ready((int) listen_port)) {
                ready = true;
                printf("slowlane up: ready. Try: curl http://localhost:%s/fast ; "
                       "curl 'http://localhost:%s/slow?ms=2000'  (Ctrl-C stops)\n",
                       port, port);
                fflush(stdout);
            } else if (s_now_ms() > ready_deadline) {
                fprintf(stderr, "slowlane up: gateway not ready after %d ms; still trying\n",
                        UP_READY_TIMEOUT_MS);
                ready_deadline = INT64_MAX;
            }
        }
    }
    // Gateway first (no new work), the jobs component (jobs out stay recorded as running and
    // are taken up at the next start), then the workers (finish what they hold), the broker.
    s_stop_child(children, UP_CHILDREN, &children[3], UP_STOP_TIMEOUT_MS);
    s_stop_child(children, UP_CHILDREN, &children[4], UP_STOP_TIMEOUT_MS);
    s_stop_child(children, UP_CHILDREN, &children[1], UP_STOP_TIMEOUT_MS);
    s_stop_child(children, UP_CHILDREN, &children[2], UP_STOP_TIMEOUT_MS);
    s_stop_child(children, UP_CHILDREN, &children[0], UP_STOP_TIMEOUT_MS);
    printf("slowlane up: stopped\n");
    s_free_flag(bind, bind_default);
    s_free_flag(log_level, log_level_default);
    return rc;
}
