/*  gateway_embedded_broker: the broker slowlane-gateway runs on a thread of its own process
    (--embed-broker), composed in one place: its flags (--embed-broker and slowlane-broker's
    with a "broker-" prefix) as plain configuration, checked once against the flags that
    point at a broker elsewhere, and the live broker (its CURVE keys and thread) made from
    that. The broker itself is broker_embedded's; the gateway's sockets to it are its bridge's,
    stats' and cluster's. */
#ifndef GATEWAY_EMBEDDED_BROKER_H
#define GATEWAY_EMBEDDED_BROKER_H

#include <stdbool.h>
#include <stddef.h>

#include "broker_options.h"
#include "sl_flags.h"

/* --embed-broker, then the BROKER_OPTIONS_FLAG_COUNT --broker-* flags. */
#define GATEWAY_EMBEDDED_BROKER_FLAG_COUNT (1 + BROKER_OPTIONS_FLAG_COUNT)

/* Configuration only: read-only once checked. */
typedef struct {
    sl_strlist_t binds;       /* --embed-broker: the workers' endpoints; none: no broker here */
    broker_options_t options; /* --broker-*: the broker's settings */
} gateway_embedded_broker_config_t;

/* Fills in the defaults: no embedded broker. */
void gateway_embedded_broker_config_init(gateway_embedded_broker_config_t *self);
/* Writes GATEWAY_EMBEDDED_BROKER_FLAG_COUNT flags that set self into flags. */
void gateway_embedded_broker_config_flags(gateway_embedded_broker_config_t *self, sl_flag_t *flags);
/* True if the flags ask for an embedded broker. */
bool gateway_embedded_broker_config_wanted(const gateway_embedded_broker_config_t *self);
/* The --broker-* flags only with --embed-broker. With it, the embedded broker is one of the
   gateway's brokers and each of the broker_count --broker endpoints another; the gateway's
   CURVE flags (curve_secret: NULL when not given; curve_server_count given) apply to those
   only, so they need at least one. Returns 0, or -1 with one line in error. */
int gateway_embedded_broker_config_check(const gateway_embedded_broker_config_t *self,
                                         size_t broker_count, const char *curve_secret,
                                         size_t curve_server_count, char *error, size_t size);
/* Frees what the flags set. */
void gateway_embedded_broker_config_clear(gateway_embedded_broker_config_t *self);

typedef struct _gateway_embedded_broker_t gateway_embedded_broker_t;

/* Loads the broker's CURVE keys and starts the broker of config (borrowed; outlives it).
   Returns NULL with one line in error; *bad_config then says whether the configuration was
   at fault (a key file) rather than the system (a bind). */
gateway_embedded_broker_t *
gateway_embedded_broker_new(const gateway_embedded_broker_config_t *config, char *error,
                            size_t size, bool *bad_config);
/* The in-process endpoint the gateway's sockets connect to (borrowed). */
const char *gateway_embedded_broker_endpoint(gateway_embedded_broker_t *self);
/* Stops the broker (after every socket connected to it: its shutdown tells the workers
   DISCONNECT), then frees its keys. Safe on NULL and twice. */
void gateway_embedded_broker_destroy(gateway_embedded_broker_t **self_p);

#endif
