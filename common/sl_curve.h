/*  sl_curve: CURVE security on the broker's connections (ZMTP CURVE in libzmq, ZAP through
    czmq's zauth). Loads the key files `slowlane keygen` writes (czmq certificate files),
    makes a socket a CURVE server or client before it binds or connects, and starts the
    authenticator that admits only listed client keys. Off unless a component is given key
    files. No secret key ever reaches a log line or an error message: errors name files. */
#ifndef SL_CURVE_H
#define SL_CURVE_H

#include <czmq.h>
#include <stdbool.h>

/* A CURVE client's keys (worker, gateway): its own pair and the broker's public key. */
typedef struct {
    zcert_t *cert;   /* own key pair, secret included; owned; NULL: plaintext */
    zcert_t *server; /* the broker's public key; owned; NULL: plaintext */
} sl_curve_client_t;

/* Loads a key pair from a secret certificate file (NAME_secret). Returns a new certificate,
   or NULL with a reason written to error ("cannot read FILE: ...", "FILE has no secret
   key", ...) that never contains key material. */
zcert_t *sl_curve_load_secret(const char *path, char *error, size_t size);

/* Loads a public key from a certificate file (NAME, or NAME_secret: only its public key is
   kept). Returns a new certificate, or NULL with a reason in error. */
zcert_t *sl_curve_load_public(const char *path, char *error, size_t size);

/* Loads the client keys from --curve-secret (secret_path) and --curve-server (server_path);
   either may be NULL or "" (not given). Neither given: plaintext, returns 0 with both keys
   NULL. Both given and loadable: 0. Otherwise -1 with one line in error naming the flag and
   the file, e.g. "--curve-secret /etc/k: cannot read: No such file or directory". */
int sl_curve_client_load(sl_curve_client_t *self, const char *secret_path, const char *server_path,
                         char *error, size_t size);

/* True if the client keys turn CURVE on. self may be NULL. */
bool sl_curve_client_enabled(const sl_curve_client_t *self);

/* Makes sock (a zsock_t or a bare libzmq socket) a CURVE client of the broker; call before
   connect. No-op when not enabled. Every socket a process opens to a CURVE broker needs it. */
void sl_curve_client_apply(const sl_curve_client_t *self, void *sock);

/* Destroys the keys and clears both pointers; safe twice. */
void sl_curve_client_clear(sl_curve_client_t *self);

/* Makes sock a CURVE server with cert's key pair; call before bind. */
void sl_curve_server_apply(zcert_t *cert, zsock_t *sock);

/* Starts the authenticator (zauth) for this process: every CURVE server socket of the
   process's context then admits only clients whose public key is in a certificate file in
   directory (files ending in _secret are skipped; the directory is re-read when it
   changes). Start it before the server socket exists. Returns the actor, or NULL with a
   reason in error ("--curve-clients DIR: ..."). *clients is set to the number of public
   certificates found (0 is allowed: keys can be added later). */
zactor_t *sl_curve_auth_new(const char *directory, size_t *clients, char *error, size_t size);

#endif
