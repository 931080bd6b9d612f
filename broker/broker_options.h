/*  broker_options: the broker's settings as command-line flags, and the CURVE key pair and
    authenticator they start. Shared by slowlane-broker and by the broker a gateway embeds
    (`slowlane-gateway --embed-broker`), which offers the same flags with a "broker-" prefix. */
#ifndef BROKER_OPTIONS_H
#define BROKER_OPTIONS_H

#include <czmq.h>
#include <stdbool.h>
#include "broker.h"
#include "sl_flags.h"

#define BROKER_OPTIONS_FLAG_COUNT 6

typedef struct {
    int64_t heartbeat_ms;
    int64_t liveness;
    int64_t queue_limit;
    int64_t max_deliveries;
    char *curve_secret;        /* owned, from the flags; NULL or "": plaintext */
    char *curve_clients;       /* owned, from the flags */
    bool log_debug;            /* set by the owner from its --log-level */
    zcert_t *curve_cert;       /* owned once started; NULL: plaintext */
    zactor_t *auth;            /* ZAP authenticator, owned once started */
    size_t curve_client_count; /* keys the authenticator admits */
} broker_options_t;

/* Fills in the defaults (sl_defaults.h). */
void broker_options_init(broker_options_t *self);

/* Writes the BROKER_OPTIONS_FLAG_COUNT flags that set self into flags: --heartbeat-ms,
   --liveness, --queue-limit, --max-deliveries, --curve-secret and --curve-clients, each
   named "broker-..." when prefixed. */
void broker_options_flags(broker_options_t *self, bool prefixed, sl_flag_t *flags);

/* The name of the first flag whose value differs from its default ("broker-..." when
   prefixed), or NULL: for a program that takes the flags only in one mode. */
const char *broker_options_changed(const broker_options_t *self, bool prefixed);

/* Loads the CURVE key pair and starts the authenticator when --curve-secret is given.
   Returns 0, or -1 with one line in error naming the flag (as the flags were named). */
int broker_options_start(broker_options_t *self, bool prefixed, char *error, size_t size);

/* The configuration for broker_new; the key pair stays owned by self. */
broker_config_t broker_options_config(const broker_options_t *self);

/* The life of a bound broker, as slowlane-broker and an embedded broker both live it: logs
   where it listens (binds) and with what settings, runs the loop until *stop or its stop
   socket, then shuts it down (DISCONNECT to workers) and destroys it. Returns broker_run's. */
int broker_options_serve(const broker_options_t *self, broker_t **broker_p,
                         const sl_strlist_t *binds, volatile sig_atomic_t *stop);

/* Stops the authenticator (after the broker's ROUTER is gone) and frees everything. */
void broker_options_clear(broker_options_t *self);

#endif
