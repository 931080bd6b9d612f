/*  broker_options: the broker's flags and their defaults. One table, two spellings:
    slowlane-broker's own flags and the gateway's --broker-*. */
#include "broker_options.h"
#include "broker_autoscale.h"
#include "sl_defaults.h"

static const char *s_names[2][BROKER_OPTIONS_FLAG_COUNT] = {
    {"heartbeat-ms", "liveness", "queue-limit", "max-deliveries", "curve-secret", "curve-clients",
     "autoscale", "hold-plain-ms", "max-peer-heartbeat-ms", "queue-max-mb"},
    {"broker-heartbeat-ms", "broker-liveness", "broker-queue-limit", "broker-max-deliveries",
     "broker-curve-secret", "broker-curve-clients", "broker-autoscale", "broker-hold-plain-ms",
     "broker-max-peer-heartbeat-ms", "broker-queue-max-mb"},
};

void broker_options_init(broker_options_t *self)
{
    *self = (broker_options_t){
        .heartbeat_ms = SL_DEFAULT_HEARTBEAT_MS,
        .liveness = SL_DEFAULT_LIVENESS,
        .queue_limit = SL_DEFAULT_QUEUE_LIMIT,
        .max_deliveries = SL_DEFAULT_MAX_DELIVERIES,
        .hold_plain_ms = SL_DEFAULT_HOLD_PLAIN_MS,
        .max_peer_heartbeat_ms = SL_DEFAULT_MAX_PEER_HEARTBEAT_MS,
        .queue_max_mb = SL_DEFAULT_QUEUE_MAX_MB,
    };
}

void broker_options_flags(broker_options_t *self, bool prefixed, sl_flag_t *flags)
{
    const char **names = s_names[prefixed ? 1 : 0];
    sl_flag_t table[BROKER_OPTIONS_FLAG_COUNT] = {
        {names[0], SL_FLAG_INT, &self->heartbeat_ms, 10, 3600000,
         "heartbeat interval to and from workers, ms (default 1000)"},
        {names[1], SL_FLAG_INT, &self->liveness, 1, 1000,
         "heartbeats a worker may miss before it counts as dead (default 3)"},
        {names[2], SL_FLAG_INT, &self->queue_limit, 0, 100000000,
         "waiting requests per service before queue_full, 0: no count bound (default 0: "
         "bounded by --queue-max-mb)"},
        {names[3], SL_FLAG_INT, &self->max_deliveries, 1, 1000,
         "times one request may be handed to a worker (default 3)"},
        {names[4], SL_FLAG_STRING, &self->curve_secret, 0, 0,
         "CURVE: the broker's secret key file (slowlane keygen); encrypts every bind "
         "(default off)"},
        {names[5], SL_FLAG_STRING, &self->curve_clients, 0, 0,
         "CURVE: directory of the public key files of admitted workers and gateways"},
        {names[6], SL_FLAG_LIST, &self->autoscale, 0, 0,
         "a service's autoscaling policy, SERVICE=MIN..MAX[,target-wait-ms=W][,cooldown-s=S], "
         "repeatable (docs/deploy.md, Scaling by load)"},
        {names[7], SL_FLAG_INT, &self->hold_plain_ms, 0, 60000,
         "a plain MDP request for a service with no worker waits this long for one, ms; 0: "
         "dropped at once (default 2500)"},
        {names[8], SL_FLAG_INT, &self->max_peer_heartbeat_ms, 10, 3600000,
         "the slowest worker heartbeat the broker learns and honours, ms: a worker that beats "
         "every N ms is expired after N x --liveness (default 5000)"},
        {names[9], SL_FLAG_INT, &self->queue_max_mb, 0, 1048576,
         "memory the waiting requests of one service may hold before queue_full, MiB; 0: no "
         "bound (default 256)"},
    };
    memcpy(flags, table, sizeof table);
}

const char *broker_options_changed(const broker_options_t *self, bool prefixed)
{
    const char **names = s_names[prefixed ? 1 : 0];
    broker_options_t defaults;
    broker_options_init(&defaults);
    if (self->heartbeat_ms != defaults.heartbeat_ms)
        return names[0];
    if (self->liveness != defaults.liveness)
        return names[1];
    if (self->queue_limit != defaults.queue_limit)
        return names[2];
    if (self->max_deliveries != defaults.max_deliveries)
        return names[3];
    if (self->curve_secret && *self->curve_secret) /* "" is off, as in broker_curve_new */
        return names[4];
    if (self->curve_clients && *self->curve_clients)
        return names[5];
    if (self->autoscale.count > 0)
        return names[6];
    if (self->hold_plain_ms != defaults.hold_plain_ms)
        return names[7];
    if (self->max_peer_heartbeat_ms != defaults.max_peer_heartbeat_ms)
        return names[8];
    if (self->queue_max_mb != defaults.queue_max_mb)
        return names[9];
    return NULL;
}

const char *broker_options_flag_name(broker_option_t flag, bool prefixed)
{
    assert(flag < BROKER_OPTIONS_FLAG_COUNT);
    return s_names[prefixed ? 1 : 0][flag];
}

int broker_options_check(const broker_options_t *self, bool prefixed, char *error, size_t size)
{
    for (size_t i = 0; i < self->autoscale.count; i++) {
        char service[SL_MAX_SERVICE_NAME + 1];
        broker_autoscale_policy_t policy;
        const char *problem = broker_autoscale_policy_parse(self->autoscale.items[i], service,
                                                            sizeof service, &policy);
        if (problem) {
            snprintf(error, size, "--%s %s: %s", s_names[prefixed ? 1 : 0][6],
                     self->autoscale.items[i], problem);
            return -1;
        }
    }
    return 0;
}

broker_config_t broker_options_config(const broker_options_t *self)
{
    return (broker_config_t){
        .heartbeat_ms = self->heartbeat_ms,
        .liveness = self->liveness,
        .queue_limit = self->queue_limit,
        .max_deliveries = self->max_deliveries,
        .hold_plain_ms = self->hold_plain_ms,
        .max_peer_heartbeat_ms = self->max_peer_heartbeat_ms,
        .queue_max_mb = self->queue_max_mb,
        .log_debug = self->log_debug,
        .autoscale = &self->autoscale,
    };
}

void broker_options_clear(broker_options_t *self)
{
    free(self->curve_secret);
    free(self->curve_clients);
    self->curve_secret = self->curve_clients = NULL;
    sl_strlist_clear(&self->autoscale);
}
