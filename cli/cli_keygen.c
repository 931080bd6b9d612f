/*  cli_keygen: `slowlane keygen [--out DIR] [--name NAME]`. Writes a fresh CURVE key pair in
    czmq's certificate format, so zauth's certificate store and czmq tools read the files as
    they are. Both files are created exclusively (an existing key is never overwritten) with
    their final mode from the start: the secret is never readable by others, not even for a
    moment, and it is never printed. Needs no broker and no ZeroMQ context. */
#define _GNU_SOURCE
#include "cli_keygen.h"
#include "sl_flags.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define S_PROGRAM  "slowlane keygen"
#define S_NAME_MAX 64

/* A name is a plain file name: no path, no hidden file, not itself a secret's name. */
static bool s_name_valid(const char *name)
{
    size_t length = strlen(name);
    if (length == 0 || length > S_NAME_MAX || name[0] == '.' ||
        (length >= 7 && strcmp(name + length - 7, "_secret") == 0))
        return false;
    for (const char *c = name; *c; c++)
        if (!(*c >= 'a' && *c <= 'z') && !(*c >= 'A' && *c <= 'Z') && !(*c >= '0' && *c <= '9') &&
            *c != '.' && *c != '_' && *c != '-')
            return false;
    return true;
}

/* Creates path exclusively with mode and writes one certificate; 0, or -1 with errno set
   (the file is removed again if it was created). */
static int s_write_cert(const char *path, mode_t mode, zcert_t *cert, const char *name, bool secret)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return -1;
    FILE *file = fchmod(fd, mode) == 0 ? fdopen(fd, "w") : NULL;
    if (!file) {
        int saved = errno;
        close(fd);
        unlink(path);
        errno = saved;
        return -1;
    }
    char stamp[32];
    time_t now = time(NULL);
    strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", localtime(&now));
    fprintf(file, "#   ****  Generated on %s by slowlane keygen  ****\n", stamp);
    if (secret)
        fprintf(file, "#   ZeroMQ CURVE **Secret** Certificate\n"
                      "#   Keep it on this host, readable only by the service that uses it.\n");
    else
        fprintf(file, "#   ZeroMQ CURVE Public Certificate\n"
                      "#   Not secret, but check it arrived unchanged (compare public-key).\n");
    fprintf(file, "\nmetadata\n    name = \"%s\"\ncurve\n    public-key = \"%s\"\n", name,
            zcert_public_txt(cert));
    if (secret)
        fprintf(file, "    secret-key = \"%s\"\n", zcert_secret_txt(cert));
    int failed = fflush(file) != 0 || fsync(fileno(file)) != 0;
    int saved = errno;
    failed |= fclose(file) != 0;
    if (failed) {
        unlink(path);
        errno = saved ? saved : EIO;
        return -1;
    }
    return 0;
}

int cli_keygen_run(int argc, char **argv)
{
    char *out = NULL, *name = NULL;
    sl_flag_t flags[] = {
        {"out", SL_FLAG_STRING, &out, 0, 0, "directory to write the two files in (default .)"},
        {"name", SL_FLAG_STRING, &name, 0, 0,
         "file name of the public key; the secret is NAME_secret (default: this host's name)"},
    };
    int rc = sl_flags_parse(S_PROGRAM, flags, sizeof flags / sizeof flags[0], argc, argv, 1, NULL);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    char host[256] = "";
    if (!name && gethostname(host, sizeof host - 1) != 0)
        snprintf(host, sizeof host, "slowlane");
    const char *key_name = name ? name : host;
    const char *directory = out && *out ? out : ".";
    char public_path[4096], secret_path[4200];
    rc = 2;
    if (!s_name_valid(key_name)) {
        fprintf(stderr,
                S_PROGRAM ": --name: '%.64s' must be 1..%d of A-Z a-z 0-9 . _ -, not "
                          "start with '.' nor end in _secret\n",
                key_name, S_NAME_MAX);
        goto done;
    }
    struct stat info;
    if (stat(directory, &info) != 0 || !S_ISDIR(info.st_mode)) {
        bool missing = stat(directory, &info) != 0;
        fprintf(stderr, S_PROGRAM ": --out %s: %s\n", directory,
                missing ? strerror(errno) : "not a directory");
        goto done;
    }
    rc = 1;
    if (!zsys_has_curve()) {
        fprintf(stderr, S_PROGRAM ": this libzmq has no CURVE support\n");
        goto done;
    }
    snprintf(public_path, sizeof public_path, "%s/%s", directory, key_name);
    snprintf(secret_path, sizeof secret_path, "%s_secret", public_path);
    zcert_t *cert = zcert_new();
    if (!cert) {
        fprintf(stderr, S_PROGRAM ": cannot make a key pair\n");
        goto done;
    }
    /* The secret first: if either file exists, nothing is written or changed. */
    if (access(public_path, F_OK) == 0) {
        fprintf(stderr, S_PROGRAM ": %s already exists; remove it or choose another --name\n",
                public_path);
    } else if (s_write_cert(secret_path, 0600, cert, key_name, true) != 0) {
        fprintf(stderr, S_PROGRAM ": %s: %s\n", secret_path,
                errno == EEXIST ? "already exists; remove it or choose another --name"
                                : strerror(errno));
    } else if (s_write_cert(public_path, 0644, cert, key_name, false) != 0) {
        fprintf(stderr, S_PROGRAM ": %s: %s\n", public_path, strerror(errno));
        unlink(secret_path);
    } else {
        printf("public key: %s (give it to the broker's --curve-clients directory, or to the\n"
               "            clients' --curve-server if this is the broker's key)\n"
               "secret key: %s (mode 0600; only --curve-secret on this host reads it)\n",
               public_path, secret_path);
        rc = 0;
    }
    zcert_destroy(&cert);
done:
    free(out);
    free(name);
    return rc;
}
