/*  broker_options: the broker's settings as command-line flags, plain configuration only.
    Shared by slowlane-broker and by the broker a gateway embeds (`slowlane-gateway
    --embed-broker`), which offers the same flags with a "broker-" prefix. The CURVE key
    pair and authenticator the flags ask for are broker_curve's, made by the program. */
#ifndef BROKER_OPTIONS_H
#define BROKER_OPTIONS_H

#include <czmq.h>
#include <stdbool.h>
#include "broker_config.h"
#include "sl_flags.h"

#define BROKER_OPTIONS_FLAG_COUNT 10

/* The flags, in the order broker_options_flags writes them. */
typedef enum {
    BROKER_OPTION_HEARTBEAT_MS = 0,
    BROKER_OPTION_LIVENESS,
    BROKER_OPTION_QUEUE_LIMIT,
    BROKER_OPTION_MAX_DELIVERIES,
    BROKER_OPTION_CURVE_SECRET,
    BROKER_OPTION_CURVE_CLIENTS,
    BROKER_OPTION_AUTOSCALE,
    BROKER_OPTION_HOLD_PLAIN_MS,
    BROKER_OPTION_MAX_PEER_HEARTBEAT_MS,
    BROKER_OPTION_QUEUE_MAX_MB,
} broker_option_t;

typedef struct {
    int64_t heartbeat_ms;          /* --heartbeat-ms */
    int64_t liveness;              /* --liveness */
    int64_t queue_limit;           /* --queue-limit */
    int64_t queue_max_mb;          /* --queue-max-mb */
    int64_t max_deliveries;        /* --max-deliveries */
    char *curve_secret;            /* owned, --curve-secret: key file path; NULL or "": plaintext */
    char *curve_clients;           /* owned, --curve-clients: directory of admitted public keys */
    sl_strlist_t autoscale;        /* --autoscale SERVICE=MIN..MAX[,...], repeatable: policies */
    int64_t hold_plain_ms;         /* --hold-plain-ms */
    int64_t max_peer_heartbeat_ms; /* --max-peer-heartbeat-ms */
    bool log_debug;                /* set by the owner from its --log-level */
} broker_options_t;

/* Fills in the defaults (sl_defaults.h). */
void broker_options_init(broker_options_t *self);

/* Writes the BROKER_OPTIONS_FLAG_COUNT flags that set self into flags: --heartbeat-ms,
   --liveness, --queue-limit, --max-deliveries, --curve-secret, --curve-clients, --autoscale
   --hold-plain-ms, --max-peer-heartbeat-ms and --queue-max-mb, each named "broker-..." when
   prefixed. */
void broker_options_flags(broker_options_t *self, bool prefixed, sl_flag_t *flags);

/* The name of the first flag whose value differs from its default ("broker-..." when
   prefixed), or NULL: for a program that takes the flags only in one mode. */
const char *broker_options_changed(const broker_options_t *self, bool prefixed);

/* The name of flag without its dashes ("broker-..." when prefixed); static. */
const char *broker_options_flag_name(broker_option_t flag, bool prefixed);

/* Checks what the flags' types cannot (each --autoscale policy). 0, or -1 with one line
   naming the flag and the value written into error. */
int broker_options_check(const broker_options_t *self, bool prefixed, char *error, size_t size);

/* The configuration for broker_new (it borrows the policies: self outlives the broker). */
broker_config_t broker_options_config(const broker_options_t *self);

/* Frees the strings the flags set. */
void broker_options_clear(broker_options_t *self);

#endif
