/*  broker_curve: loads the broker's CURVE key pair and starts its ZAP authenticator (see
    broker_curve.h). The authenticator runs before any ROUTER exists, so no handshake is
    ever accepted unchecked. */
#include "broker_curve.h"
#include "sl_curve.h"

struct _broker_curve_t {
    zcert_t *cert;       /* owned server key pair; NULL: plaintext */
    zactor_t *auth;      /* owned ZAP authenticator; NULL: plaintext */
    size_t client_count; /* keys the authenticator admits */
};

broker_curve_t *broker_curve_new(const broker_options_t *options, bool prefixed, char *error,
                                 size_t size)
{
    const char *secret_flag = broker_options_flag_name(BROKER_OPTION_CURVE_SECRET, prefixed);
    const char *clients_flag = broker_options_flag_name(BROKER_OPTION_CURVE_CLIENTS, prefixed);
    bool on = options->curve_secret && *options->curve_secret;
    bool listed = options->curve_clients && *options->curve_clients;
    if (!on && listed) {
        snprintf(error, size, "--%s: needs --%s (the broker's own key)", clients_flag, secret_flag);
        return NULL;
    }
    if (on && !listed) {
        snprintf(error, size,
                 "--%s: required with --%s (the directory of admitted client public keys)",
                 clients_flag, secret_flag);
        return NULL;
    }
    broker_curve_t *self = (broker_curve_t *) calloc(1, sizeof(broker_curve_t));
    if (!self) {
        snprintf(error, size, "--%s: out of memory", secret_flag);
        return NULL;
    }
    if (!on)
        return self;
    char reason[400];
    self->cert = sl_curve_load_secret(options->curve_secret, reason, sizeof reason);
    if (!self->cert) {
        snprintf(error, size, "--%s %s", secret_flag, reason);
        goto fail_cert;
    }
    self->auth = sl_curve_auth_new(options->curve_clients, &self->client_count, error, size);
    if (!self->auth)
        goto fail_auth;
    return self;

fail_auth:
    zcert_destroy(&self->cert);
fail_cert:
    free(self);
    return NULL;
}

void broker_curve_destroy(broker_curve_t **self_p)
{
    assert(self_p);
    broker_curve_t *self = *self_p;
    if (!self)
        return;
    zactor_destroy(&self->auth);
    zcert_destroy(&self->cert);
    free(self);
    *self_p = NULL;
}

zcert_t *broker_curve_cert(const broker_curve_t *self)
{
    return self ? self->cert : NULL;
}

size_t broker_curve_client_count(const broker_curve_t *self)
{
    return self ? self->client_count : 0;
}
