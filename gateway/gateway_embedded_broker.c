/*  gateway_embedded_broker: configuration first (flags, defaults, the one check), then the
    live part: broker_curve's keys and authenticator, and broker_embedded's thread, made and
    destroyed together in the order they need (the keys outlive the broker's ROUTER). */
#include "gateway_embedded_broker.h"

#include <stdio.h>
#include <stdlib.h>

#include "broker_curve.h"
#include "broker_embedded.h"

struct _gateway_embedded_broker_t {
    broker_curve_t *curve;       /* the broker's CURVE, if it has one */
    broker_embedded_t *embedded; /* the broker's thread */
};

void gateway_embedded_broker_config_init(gateway_embedded_broker_config_t *self)
{
    *self = (gateway_embedded_broker_config_t){0};
    broker_options_init(&self->options);
}

void gateway_embedded_broker_config_flags(gateway_embedded_broker_config_t *self, sl_flag_t *flags)
{
    flags[0] = (sl_flag_t){"embed-broker",
                           SL_FLAG_LIST,
                           &self->binds,
                           0,
                           0,
                           "run the broker in this process, bound to this endpoint for workers "
                           "(repeatable; instead of --broker; its settings: --broker-heartbeat-ms "
                           "etc.)"};
    broker_options_flags(&self->options, true, flags + 1);
}

bool gateway_embedded_broker_config_wanted(const gateway_embedded_broker_config_t *self)
{
    return self->binds.count > 0;
}

int gateway_embedded_broker_config_check(const gateway_embedded_broker_config_t *self,
                                         size_t broker_count, const char *curve_secret,
                                         size_t curve_server_count, char *error, size_t size)
{
    bool embedding = gateway_embedded_broker_config_wanted(self);
    const char *changed = broker_options_changed(&self->options, true);
    if (!embedding && changed) {
        snprintf(error, size, "--%s: only with --embed-broker", changed);
        return -1;
    }
    if (broker_options_check(&self->options, true, error, size) != 0)
        return -1;
    /* The embedded broker is one broker of the set, reached in-process; every --broker is
       another, and only those links take the gateway's CURVE keys. */
    const char *clash = !embedding || broker_count > 0 ? NULL
                        : curve_secret                 ? "--curve-secret"
                        : curve_server_count > 0       ? "--curve-server"
                                                       : NULL;
    if (clash) {
        snprintf(error, size,
                 "%s: with --embed-broker only for the brokers given with --broker (the gateway "
                 "reaches the broker it embeds in-process; --broker-curve-secret encrypts the "
                 "workers' links)",
                 clash);
        return -1;
    }
    return 0;
}

void gateway_embedded_broker_config_clear(gateway_embedded_broker_config_t *self)
{
    broker_options_clear(&self->options);
    sl_strlist_clear(&self->binds);
}

gateway_embedded_broker_t *
gateway_embedded_broker_new(const gateway_embedded_broker_config_t *config, char *error,
                            size_t size, bool *bad_config)
{
    *bad_config = false;
    gateway_embedded_broker_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(error, size, "out of memory");
        return NULL;
    }
    self->curve = broker_curve_new(&config->options, true, error, size);
    if (!self->curve) {
        *bad_config = true;
        goto fail;
    }
    self->embedded =
        broker_embedded_new(&config->options, self->curve, &config->binds, error, size);
    if (!self->embedded)
        goto fail;
    return self;
fail:
    gateway_embedded_broker_destroy(&self);
    return NULL;
}

const char *gateway_embedded_broker_endpoint(gateway_embedded_broker_t *self)
{
    return broker_embedded_endpoint(self->embedded);
}

void gateway_embedded_broker_destroy(gateway_embedded_broker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gateway_embedded_broker_t *self = *self_p;
    broker_embedded_destroy(&self->embedded);
    broker_curve_destroy(&self->curve); /* after the broker's ROUTER is gone */
    free(self);
    *self_p = NULL;
}
