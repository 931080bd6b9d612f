/*  sl_curve: key files, CURVE socket options and the ZAP authenticator (see sl_curve.h).
    Key files are read here rather than with zcert_load: a malformed file must stop start-up
    with one line of ours, not a parser message on stderr, and must never echo its content.
    Only the "curve" section's public-key and secret-key (Z85, 40 characters) are read. */
#include "sl_curve.h"
#include "sl_defaults.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define S_KEY_TEXT 40 /* Z85 text of a 32-byte key */

typedef struct {
    bool has_public;        /* public-key found and valid */
    bool has_secret;        /* secret-key found and valid */
    uint8_t public_key[32]; /* decoded public key */
    uint8_t secret_key[32]; /* decoded secret key */
} s_key_file_t;

/* Reads a Z85 key value ("...", '...' or bare) at text into key; 0, or -1 if malformed. */
static int s_decode_value(const char *text, uint8_t *key)
{
    while (*text == ' ' || *text == '\t')
        text++;
    if (*text++ != '=')
        return -1;
    while (*text == ' ' || *text == '\t')
        text++;
    char quote = (*text == '"' || *text == '\'') ? *text++ : 0;
    size_t length = 0;
    while (text[length] && text[length] != '\n' && text[length] != '\r' &&
           (quote ? text[length] != quote : text[length] != ' ' && text[length] != '#'))
        length++;
    if (length != S_KEY_TEXT || (quote && text[length] != quote))
        return -1;
    char value[S_KEY_TEXT + 1];
    memcpy(value, text, S_KEY_TEXT);
    value[S_KEY_TEXT] = 0;
    int rc = zmq_z85_decode(key, value) ? 0 : -1;
    memset(value, 0, sizeof value);
    return rc;
}

/* The start of the line after line, or NULL at the end of the text. */
static char *s_next_line(char *line)
{
    char *end = strchr(line, '\n');
    return end ? end + 1 : NULL;
}

/* Parses a czmq certificate file (ZPL): section names at column 0, "name = value" indented
   below them. Returns 0, or -1 with a reason in error. */
static int s_key_file_read(const char *path, s_key_file_t *keys, char *error, size_t size)
{
    memset(keys, 0, sizeof *keys);
    FILE *file = fopen(path, "r");
    if (!file) {
        snprintf(error, size, "%s: cannot read: %s", path, strerror(errno));
        return -1;
    }
    char *text = malloc(SL_CURVE_KEY_FILE_MAX + 1);
    size_t used = text ? fread(text, 1, SL_CURVE_KEY_FILE_MAX + 1, file) : 0;
    bool failed = ferror(file) != 0;
    fclose(file);
    if (!text || failed || used > SL_CURVE_KEY_FILE_MAX) {
        snprintf(error, size, "%s: %s", path,
                 !text || failed ? "cannot read" : "too large to be a key file");
        free(text);
        return -1;
    }
    text[used] = 0;
    bool in_curve = false, malformed = false;
    for (char *line = text; line && *line; line = s_next_line(line)) {
        if (*line == '#' || *line == '\n' || *line == '\r')
            continue;
        if (*line != ' ' && *line != '\t') {
            in_curve = strncmp(line, "curve", 5) == 0 && strchr(" \t\r\n#", line[5]);
            continue;
        }
        while (*line == ' ' || *line == '\t')
            line++;
        if (!in_curve)
            continue;
        if (strncmp(line, "public-key", 10) == 0) {
            keys->has_public = s_decode_value(line + 10, keys->public_key) == 0;
            malformed |= !keys->has_public;
        } else if (strncmp(line, "secret-key", 10) == 0) {
            keys->has_secret = s_decode_value(line + 10, keys->secret_key) == 0;
            malformed |= !keys->has_secret;
        }
    }
    memset(text, 0, used);
    free(text);
    if (malformed || !keys->has_public) {
        snprintf(error, size,
                 "%s: not a CURVE certificate (no valid public-key in a curve section)", path);
        memset(keys, 0, sizeof *keys);
        return -1;
    }
    return 0;
}

zcert_t *sl_curve_load_secret(const char *path, char *error, size_t size)
{
    assert(path && error);
    s_key_file_t keys;
    if (s_key_file_read(path, &keys, error, size) != 0)
        return NULL;
    /* zmq_curve_public works on Z85 text: derive the public key from the secret one and
       compare, so a file with mismatched halves is refused here, not at every handshake. */
    char secret_text[S_KEY_TEXT + 1], derived_text[S_KEY_TEXT + 1];
    uint8_t derived[32];
    zcert_t *cert = NULL;
    bool derived_ok = keys.has_secret && zmq_z85_encode(secret_text, keys.secret_key, 32) &&
                      zmq_curve_public(derived_text, secret_text) == 0 &&
                      zmq_z85_decode(derived, derived_text);
    memset(secret_text, 0, sizeof secret_text);
    if (!keys.has_secret)
        snprintf(error, size, "%s: has no secret key (give the NAME_secret file)", path);
    else if (!derived_ok)
        snprintf(error, size, "%s: cannot derive the public key (libzmq without CURVE?)", path);
    else if (memcmp(derived, keys.public_key, sizeof derived) != 0)
        snprintf(error, size, "%s: public and secret keys do not belong together", path);
    else if (!(cert = zcert_new_from(keys.public_key, keys.secret_key)))
        snprintf(error, size, "%s: out of memory", path);
    memset(&keys, 0, sizeof keys);
    return cert;
}

zcert_t *sl_curve_load_public(const char *path, char *error, size_t size)
{
    assert(path && error);
    s_key_file_t keys;
    if (s_key_file_read(path, &keys, error, size) != 0)
        return NULL;
    uint8_t no_secret[32] = {0};
    zcert_t *cert = zcert_new_from(keys.public_key, no_secret);
    memset(&keys, 0, sizeof keys);
    if (!cert)
        snprintf(error, size, "%s: out of memory", path);
    return cert;
}

int sl_curve_client_load(sl_curve_client_t *self, const char *secret_path, const char *server_path,
                         char *error, size_t size)
{
    assert(self && error);
    self->cert = self->server = NULL;
    bool secret = secret_path && *secret_path, server = server_path && *server_path;
    if (!secret && !server)
        return 0;
    if (!secret || !server) {
        snprintf(error, size, "%s: required with %s (CURVE needs both)",
                 secret ? "--curve-server" : "--curve-secret",
                 secret ? "--curve-secret" : "--curve-server");
        return -1;
    }
    char reason[400];
    self->cert = sl_curve_load_secret(secret_path, reason, sizeof reason);
    if (!self->cert) {
        snprintf(error, size, "--curve-secret %s", reason);
        return -1;
    }
    self->server = sl_curve_load_public(server_path, reason, sizeof reason);
    if (!self->server) {
        snprintf(error, size, "--curve-server %s", reason);
        sl_curve_client_clear(self);
        return -1;
    }
    return 0;
}

bool sl_curve_client_enabled(const sl_curve_client_t *self)
{
    return self && self->cert && self->server;
}

void sl_curve_client_apply(const sl_curve_client_t *self, void *sock)
{
    if (!sl_curve_client_enabled(self))
        return;
    zcert_apply(self->cert, sock);
    zsock_set_curve_serverkey_bin(sock, zcert_public_key(self->server));
}

void sl_curve_client_clear(sl_curve_client_t *self)
{
    assert(self);
    zcert_destroy(&self->cert);
    zcert_destroy(&self->server);
}

void sl_curve_server_apply(zcert_t *cert, zsock_t *sock)
{
    assert(cert && sock);
    zcert_apply(cert, sock);
    zsock_set_curve_server(sock, 1);
}

/* Counts the public certificates zauth will admit from directory, as its loader sees them. */
static size_t s_count_clients(const char *directory)
{
    DIR *dir = opendir(directory);
    if (!dir)
        return 0;
    size_t count = 0;
    struct dirent *entry;
    while ((entry = readdir(dir))) {
        size_t length = strlen(entry->d_name);
        if (entry->d_name[0] == '.' ||
            (length >= 7 && strcmp(entry->d_name + length - 7, "_secret") == 0))
            continue;
        char path[4096], reason[400];
        snprintf(path, sizeof path, "%s/%s", directory, entry->d_name);
        zcert_t *cert = sl_curve_load_public(path, reason, sizeof reason);
        count += cert != NULL;
        zcert_destroy(&cert);
    }
    closedir(dir);
    return count;
}

zactor_t *sl_curve_auth_new(const char *directory, size_t *clients, char *error, size_t size)
{
    assert(directory && clients && error);
    struct stat info;
    if (stat(directory, &info) != 0) {
        snprintf(error, size, "--curve-clients %s: %s", directory, strerror(errno));
        return NULL;
    }
    if (!S_ISDIR(info.st_mode)) {
        snprintf(error, size, "--curve-clients %s: not a directory", directory);
        return NULL;
    }
    *clients = s_count_clients(directory);
    zactor_t *auth = zactor_new(zauth, NULL);
    if (!auth) {
        snprintf(error, size, "--curve-clients %s: cannot start the authenticator", directory);
        return NULL;
    }
    /* Every zauth command is acknowledged: after the wait, handshakes are checked. */
    if (zstr_sendx(auth, "CURVE", directory, NULL) != 0 || zsock_wait(auth) != 0) {
        snprintf(error, size, "--curve-clients %s: the authenticator refused it", directory);
        zactor_destroy(&auth);
        return NULL;
    }
    return auth;
}
