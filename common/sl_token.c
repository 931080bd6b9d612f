/*  sl_token: admin token helpers (see sl_token.h). The comparison is the security-relevant
    part: it touches every byte of what the client sent whatever the expected value is. */
#include "sl_token.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sl_defaults.h"

bool sl_token_equal(const char *expected, const char *given)
{
    size_t expected_length = strlen(expected), given_length = strlen(given);
    /* An empty expected token never matches (and must not be indexed modulo zero). */
    if (expected_length == 0)
        return false;
    volatile unsigned char diff = expected_length != given_length;
    for (size_t i = 0; i < given_length; i++)
        diff |= (unsigned char) given[i] ^ (unsigned char) expected[i % expected_length];
    return diff == 0;
}

int sl_token_generate(char *buffer)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char bytes[32];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t got = read(fd, bytes, sizeof bytes);
    close(fd);
    if (got != (ssize_t) sizeof bytes)
        return -1;
    for (size_t i = 0; i < sizeof bytes; i++) {
        buffer[i * 2] = hex[bytes[i] >> 4];
        buffer[i * 2 + 1] = hex[bytes[i] & 15];
    }
    buffer[64] = '\0';
    return 0;
}

int sl_token_check(const char *token, const char **reason)
{
    size_t length = strlen(token);
    if (length < SL_ADMIN_TOKEN_MIN) {
        *reason = "shorter than 16 characters";
        return -1;
    }
    if (length > SL_ADMIN_TOKEN_MAX) {
        *reason = "longer than 256 characters";
        return -1;
    }
    for (size_t i = 0; i < length; i++)
        if ((unsigned char) token[i] <= ' ' || token[i] == 127) {
            *reason = "holds spaces or control characters";
            return -1;
        }
    return 0;
}

int sl_token_read_file(const char *path, char *buffer, size_t size, bool *loose,
                       const char **reason)
{
    FILE *file = fopen(path, "re");
    if (!file) {
        *reason = "cannot be read";
        return -1;
    }
    struct stat info;
    *loose = fstat(fileno(file), &info) == 0 && (info.st_mode & 077) != 0;
    char line[SL_ADMIN_TOKEN_MAX + 4];
    size_t got = fread(line, 1, sizeof line - 1, file);
    fclose(file);
    line[got] = '\0';
    char *start = line;
    while (*start == ' ' || *start == '\t' || *start == '\n' || *start == '\r')
        start++;
    char *end = start + strlen(start);
    while (end > start && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
        *--end = '\0';
    if (sl_token_check(start, reason) != 0)
        return -1;
    if (strlen(start) + 1 > size) {
        *reason = "too long";
        return -1;
    }
    memcpy(buffer, start, strlen(start) + 1);
    return 0;
}

int sl_token_default_path(char *buffer, size_t size)
{
    const char *config = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    int n;
    if (config && *config)
        n = snprintf(buffer, size, "%s/%s", config, SL_ADMIN_TOKEN_FILE);
    else if (home && *home)
        n = snprintf(buffer, size, "%s/.config/%s", home, SL_ADMIN_TOKEN_FILE);
    else
        return -1;
    return n > 0 && (size_t) n < size ? 0 : -1;
}

/* mkdir -p for the parent directories of path, each 0700 when created. */
static int s_make_parents(const char *path)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    for (char *slash = strchr(dir + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        if (mkdir(dir, 0700) != 0 && errno != EEXIST)
            return -1;
        *slash = '/';
    }
    return 0;
}

int sl_token_write_file(const char *path, const char *token)
{
    char temporary[PATH_MAX];
    if (s_make_parents(path) != 0 || snprintf(temporary, sizeof temporary, "%s.%d.tmp", path,
                                              (int) getpid()) >= (int) sizeof temporary)
        return -1;
    int fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    size_t length = strlen(token);
    bool ok = write(fd, token, length) == (ssize_t) length && write(fd, "\n", 1) == 1;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(temporary, path) != 0) {
        unlink(temporary);
        return -1;
    }
    return 0;
}
