/*  handler_exec: exec:COMMAND, a CGI/1.1 handler (RFC 3875). Per request it runs
    /bin/sh -c COMMAND in its own process group, feeds the request body on stdin, passes
    the request as meta-variables and reads Status:/headers/body from stdout. It owns the
    child's lifetime: past the request's deadline the whole group is killed; when the job
    is cancelled it gets SIGTERM, then SIGKILL after a grace period. Parsing the
    output is worker_cgi.c's job. */
#define _GNU_SOURCE // asprintf, pipe2
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "sl_defaults.h"
#include "sl_log.h"
#include "worker_cgi.h"
#include "worker_handlers.h"
#include "worker_job.h"

extern char **environ;

typedef struct {
    char **items; /* owned "NAME=value" strings, NULL-terminated */
    size_t count; /* strings held */
    size_t cap;   /* slots allocated */
} s_env_t;

//  Appends an owned "NAME=value" string (NULL: out of memory, -1).
static int s_env_push(s_env_t *env, char *item)
{
    if (!item)
        return -1;
    if (env->count + 2 > env->cap) {
        size_t cap = env->cap ? env->cap * 2 : 64;
        char **grown = realloc(env->items, cap * sizeof(char *));
        if (!grown) {
            free(item);
            return -1;
        }
        env->items = grown;
        env->cap = cap;
    }
    env->items[env->count++] = item;
    env->items[env->count] = NULL;
    return 0;
}

static int s_env_add(s_env_t *env, const char *name, const char *value, size_t value_size)
{
    char *item = NULL;
    if (asprintf(&item, "%s=%.*s", name, (int) value_size, value) == -1)
        return -1;
    return s_env_push(env, item);
}

static void s_env_free(s_env_t *env)
{
    for (size_t i = 0; i < env->count; i++)
        free(env->items[i]);
    free(env->items);
}

//  Names we set ourselves; the worker's own environment must not smuggle in others.
static bool s_is_meta_variable(const char *entry)
{
    static const char *names[] = {
        "GATEWAY_INTERFACE=", "SERVER_PROTOCOL=",      "SERVER_SOFTWARE=", "REQUEST_METHOD=",
        "PATH_INFO=",         "SCRIPT_NAME=",          "QUERY_STRING=",    "CONTENT_LENGTH=",
        "CONTENT_TYPE=",      "SLOWLANE_TIME_LEFT_MS="};
    if (strncmp(entry, "HTTP_", 5) == 0)
        return true;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strncmp(entry, names[i], strlen(names[i])) == 0)
            return true;
    return false;
}

//  HTTP_<NAME> for a header. Names with anything but letters, digits and '-' are left out:
//  "X_Id" and "X-Id" would both become HTTP_X_ID and one could pose as the other. Proxy is
//  left out so HTTP_PROXY never reaches a script's HTTP client (httpoxy).
static int s_env_add_header(s_env_t *env, const char *name, size_t name_size, const char *value,
                            size_t value_size)
{
    char variable[5 + 256 + 1] = "HTTP_";
    if (name_size > 256 || (name_size == 5 && strncasecmp(name, "Proxy", 5) == 0))
        return 0;
    if ((name_size == 12 && strncasecmp(name, "Content-Type", 12) == 0) ||
        (name_size == 14 && strncasecmp(name, "Content-Length", 14) == 0) ||
        (name_size == 12 && strncasecmp(name, "X-Request-Id", 12) == 0))
        return 0; // CONTENT_TYPE/CONTENT_LENGTH carry these; the request id comes from the envelope
    for (size_t i = 0; i < name_size; i++) {
        if (!isalnum((unsigned char) name[i]) && name[i] != '-')
            return 0;
        variable[5 + i] = name[i] == '-' ? '_' : toupper((unsigned char) name[i]);
    }
    variable[5 + name_size] = '\0';
    return s_env_add(env, variable, value, value_size);
}

static int s_build_env(sl_job_t *job, s_env_t *env)
{
    for (char **entry = environ; entry && *entry; entry++)
        if (!s_is_meta_variable(*entry) && s_env_push(env, strdup(*entry)) == -1)
            return -1;
    bool http = sl_job_is_http(job);
    size_t body_size = 0;
    sl_job_body(job, &body_size);
    char number[32];
    int rc = 0;
    rc |= s_env_add(env, "GATEWAY_INTERFACE", "CGI/1.1", 7);
    rc |= s_env_add(env, "SERVER_PROTOCOL", "HTTP/1.1", 8);
    rc |= s_env_add(env, "SERVER_SOFTWARE", "slowlane", 8);
    const char *method = http ? sl_job_method(job) : "POST"; // an opaque body is posted data
    rc |= s_env_add(env, "REQUEST_METHOD", method, strlen(method));
    rc |= s_env_add(env, "PATH_INFO", sl_job_path(job), strlen(sl_job_path(job)));
    rc |= s_env_add(env, "SCRIPT_NAME", "", 0);
    rc |= s_env_add(env, "QUERY_STRING", sl_job_query(job), strlen(sl_job_query(job)));
    if (body_size > 0) {
        snprintf(number, sizeof number, "%zu", body_size);
        rc |= s_env_add(env, "CONTENT_LENGTH", number, strlen(number));
    }
    char *content_type = sl_job_header(job, "Content-Type");
    if (content_type)
        rc |= s_env_add(env, "CONTENT_TYPE", content_type, strlen(content_type));
    free(content_type);
    if (*sl_job_request_id(job))
        rc |= s_env_add(env, "HTTP_X_REQUEST_ID", sl_job_request_id(job),
                        strlen(sl_job_request_id(job)));
    int64_t left = sl_job_time_left_ms(job);
    if (left != INT64_MAX) {
        snprintf(number, sizeof number, "%lld", (long long) left);
        rc |= s_env_add(env, "SLOWLANE_TIME_LEFT_MS", number, strlen(number));
    }
    size_t headers_size = 0;
    const char *headers = sl_job_headers(job, &headers_size);
    sl_headers_iter_t iter;
    sl_headers_iter_init(&iter, headers, headers_size);
    const char *name, *value;
    size_t name_size, value_size;
    while (sl_headers_iter_next(&iter, &name, &name_size, &value, &value_size) == 1)
        rc |= s_env_add_header(env, name, name_size, value, value_size);
    return rc ? -1 : 0;
}

static pthread_once_t s_sigpipe_once = PTHREAD_ONCE_INIT;

//  A script that exits without reading its stdin must cost an EPIPE, not the worker.
static void s_ignore_sigpipe(void)
{
    signal(SIGPIPE, SIG_IGN);
}

//  fork + execve rather than posix_spawn, for the one thing posix_spawn cannot do: tie the
//  script to this process with PR_SET_PDEATHSIG, so a worker killed for a job timeout does
//  not leave its script running. Between fork and exec only async-signal-safe calls.
static pid_t s_spawn(const char *command, char **envp, int *stdin_fd, int *stdout_fd)
{
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) == -1)
        return -1;
    if (pipe2(out, O_CLOEXEC) == -1) {
        close(in[0]);
        close(in[1]);
        return -1;
    }
    char *argv[] = {"sh", "-c", (char *) command, NULL};
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        //  Own process group: a deadline kills the shell and whatever it started
        setpgid(0, 0);
        //  Default dispositions and an empty mask: the script must not inherit our SIG_IGN
        struct sigaction action = {.sa_handler = SIG_DFL};
        sigemptyset(&action.sa_mask);
        for (int signal_number = 1; signal_number < NSIG; signal_number++)
            sigaction(signal_number, &action, NULL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (dup2(in[0], 0) == -1 || dup2(out[1], 1) == -1)
            _exit(127);
        execve("/bin/sh", argv, envp);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    if (pid == -1) {
        close(in[1]);
        close(out[0]);
        return -1;
    }
    //  Also here: whichever of parent and child runs first, the group exists for kill(-pid)
    setpgid(pid, pid);
    fcntl(in[1], F_SETFL, O_NONBLOCK);
    *stdin_fd = in[1];
    *stdout_fd = out[0];
    return pid;
}

static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef enum {
    S_RUN_OK,
    S_RUN_TIMEOUT,
    S_RUN_TOO_BIG,
    S_RUN_FAILED,
    S_RUN_CANCELLED
} s_run_result_t;

//  Feeds body to stdin and collects stdout until EOF, both at once so that neither side
//  can block the other on a full pipe. Stops at the deadline, or when the job is cancelled
//  (its cancel fd, polled with the pipes, wakes it at once).
static s_run_result_t s_exchange(sl_job_t *job, int stdin_fd, int stdout_fd, const void *body,
                                 size_t body_size, int64_t deadline, char **output,
                                 size_t *output_size)
{
    size_t written = 0, size = 0, cap = 0;
    char *buffer = NULL;
    if (body_size == 0) {
        close(stdin_fd);
        stdin_fd = -1;
    }
    s_run_result_t result = S_RUN_OK;
    while (stdout_fd != -1) {
        if (sl_job_cancelled(job)) {
            result = S_RUN_CANCELLED;
            break;
        }
        //  poll() skips a negative fd: no cancel fd, or stdin closed
        struct pollfd fds[3] = {
            {stdout_fd, POLLIN, 0}, {sl_job_cancel_fd(job), POLLIN, 0}, {stdin_fd, POLLOUT, 0}};
        int timeout = -1;
        if (deadline != INT64_MAX) {
            int64_t left = deadline - s_now_ms();
            if (left <= 0) {
                result = S_RUN_TIMEOUT;
                break;
            }
            timeout = left > 60000 ? 60000 : (int) left;
        }
        if (poll(fds, 3, timeout) == -1 && errno != EINTR) {
            result = S_RUN_FAILED;
            break;
        }
        if (stdin_fd != -1 && (fds[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t rc = write(stdin_fd, (const char *) body + written, body_size - written);
            if (rc > 0)
                written += rc;
            //  EPIPE: the script does not want the rest of the body; that is its call
            if ((rc == -1 && errno != EAGAIN && errno != EINTR) || written == body_size) {
                close(stdin_fd);
                stdin_fd = -1;
            }
        }
        if (fds[0].revents & (POLLIN | POLLERR | POLLHUP)) {
            if (size == cap) {
                if (cap >= (size_t) SL_MAX_MESSAGE_BYTES) {
                    result = S_RUN_TOO_BIG;
                    break;
                }
                cap = cap ? cap * 2 : 16384;
                char *grown = realloc(buffer, cap);
                if (!grown) {
                    result = S_RUN_FAILED;
                    break;
                }
                buffer = grown;
            }
            ssize_t rc = read(stdout_fd, buffer + size, cap - size);
            if (rc > 0)
                size += rc;
            else if (rc == 0 || (errno != EINTR && errno != EAGAIN)) {
                close(stdout_fd);
                stdout_fd = -1;
            }
        }
    }
    if (stdin_fd != -1)
        close(stdin_fd);
    if (stdout_fd != -1)
        close(stdout_fd);
    *output = buffer;
    *output_size = size;
    return result;
}

static int s_reply_from_output(sl_job_t *job, const char *output, size_t size)
{
    worker_cgi_reply_t reply = {0};
    const char *reason = NULL;
    int parsed = worker_cgi_parse(output, size, &reply, &reason);
    if (!sl_job_is_http(job)) {
        //  A plain MDP client sees only the body; output that is not CGI is passed as is
        worker_cgi_reply_reset(&reply);
        size_t offset = parsed == 0 ? reply.body_offset : 0;
        return sl_job_write(job, output + offset, size - offset);
    }
    if (parsed == -1) {
        char quoted[96];
        sl_log(SL_LOG_WARN, sl_job_request_id(job), "cgi_bad_output", "reason=%s",
               sl_log_quote(reason, quoted, sizeof quoted));
        worker_job_reset_reply(job, 502, "bad CGI output\n");
        return 0;
    }
    sl_job_set_status(job, reply.status);
    sl_headers_iter_t iter;
    sl_headers_iter_init(&iter, reply.headers.data, reply.headers.size);
    const char *name, *value;
    size_t name_size, value_size;
    while (sl_headers_iter_next(&iter, &name, &name_size, &value, &value_size) == 1) {
        char *name_copy = strndup(name, name_size);
        char *value_copy = strndup(value, value_size);
        if (name_copy && value_copy)
            sl_job_add_header(job, name_copy, value_copy);
        free(name_copy);
        free(value_copy);
    }
    worker_cgi_reply_reset(&reply);
    return sl_job_write(job, output + reply.body_offset, size - reply.body_offset);
}

//  A cancelled job's child: SIGTERM to its group, so a script may clean up, then SIGKILL
//  after SL_CANCEL_GRACE_MS (or at the deadline, if that comes first); reaps it. Done when
//  the whole group is gone, not only the shell: `sh -c` may have started the script as a
//  child that outlives it.
static void s_stop_cancelled(sl_job_t *job, pid_t pid, int64_t deadline, int *status)
{
    kill(-pid, SIGTERM);
    int64_t until = s_now_ms() + SL_CANCEL_GRACE_MS;
    if (deadline < until)
        until = deadline;
    const char *how = "sigterm";
    bool reaped = false;
    while (true) {
        if (!reaped) {
            pid_t done = waitpid(pid, status, WNOHANG);
            reaped = done == pid || (done == -1 && errno != EINTR);
        }
        if (reaped && kill(-pid, 0) == -1 && errno == ESRCH)
            break;
        if (s_now_ms() >= until) {
            kill(-pid, SIGKILL);
            how = "sigkill";
            while (!reaped && waitpid(pid, status, 0) == -1 && errno == EINTR)
                ;
            break;
        }
        //  No child-exit fd to poll on this kernel API without pidfd; 10 ms steps are
        //  cheap next to a grace period of seconds
        struct timespec step = {0, 10 * 1000000L};
        nanosleep(&step, NULL);
    }
    sl_log(SL_LOG_INFO, sl_job_request_id(job), "cgi_cancelled", "pid=%d stopped_by=%s", (int) pid,
           how);
}

int worker_handler_exec(sl_job_t *job, void *arg)
{
    const char *command = arg;
    pthread_once(&s_sigpipe_once, s_ignore_sigpipe);
    int64_t left = sl_job_time_left_ms(job);
    int64_t deadline = left == INT64_MAX ? INT64_MAX : s_now_ms() + left;
    s_env_t env = {0};
    if (s_build_env(job, &env) == -1) {
        s_env_free(&env);
        return -1;
    }
    int stdin_fd = -1, stdout_fd = -1;
    pid_t pid = s_spawn(command, env.items, &stdin_fd, &stdout_fd);
    s_env_free(&env);
    if (pid == -1) {
        sl_log(SL_LOG_ERROR, sl_job_request_id(job), "cgi_spawn_failed", "errno=%d", errno);
        return -1;
    }
    size_t body_size = 0;
    const void *body = sl_job_body(job, &body_size);
    char *output = NULL;
    size_t output_size = 0;
    s_run_result_t result =
        s_exchange(job, stdin_fd, stdout_fd, body, body_size, deadline, &output, &output_size);
    int status = 0;
    if (result == S_RUN_CANCELLED)
        s_stop_cancelled(job, pid, deadline, &status);
    else {
        if (result != S_RUN_OK)
            kill(-pid, SIGKILL); // the group: the shell and everything it started
        while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
            ;
    }
    int rc = 0;
    if (result == S_RUN_CANCELLED)
        worker_job_reset_reply(job, 499, "cancelled\n");
    else if (result == S_RUN_TIMEOUT) {
        sl_log(SL_LOG_WARN, sl_job_request_id(job), "cgi_killed", "reason=deadline pid=%d",
               (int) pid);
        worker_job_reset_reply(job, 504, "handler timed out\n");
    } else if (result == S_RUN_TOO_BIG) {
        sl_log(SL_LOG_WARN, sl_job_request_id(job), "cgi_killed", "reason=output_too_big");
        worker_job_reset_reply(job, 502, "CGI output too big\n");
    } else if (result == S_RUN_FAILED)
        rc = -1;
    else
        rc = s_reply_from_output(job, output, output_size);
    if (result == S_RUN_OK && (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
        sl_log(SL_LOG_INFO, sl_job_request_id(job), "cgi_exit", "status=%d", status);
    free(output);
    return rc;
}
