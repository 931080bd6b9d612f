/*  broker_main: the slowlane-broker program. Parses flags (each also SLOWLANE_<FLAG>),
    binds every endpoint or stops with one line naming the one that failed, runs the loop
    until SIGTERM/SIGINT, then tells workers DISCONNECT and exits 0. */
#include <czmq.h>
#include <inttypes.h>
#include <signal.h>
#include "broker.h"
#include "sl_curve.h"
#include "sl_defaults.h"
#include "sl_flags.h"
#include "sl_log.h"

#define PROGRAM "slowlane-broker"

static volatile sig_atomic_t s_stop = 0;

static void s_on_signal(int signum)
{
    (void) signum;
    s_stop = 1;
}

/* Loads the broker's key pair and starts the authenticator if --curve-secret is given
   (an empty value, SLOWLANE_CURVE_SECRET=, is off). Returns 0 (*cert and *auth stay NULL
   when off), or -1 with one line in error naming the flag and the file. */
static int s_curve_start(const char *secret, const char *clients, zcert_t **cert, zactor_t **auth,
                         size_t *client_count, char *error, size_t size)
{
    bool on = secret && *secret, listed = clients && *clients;
    if (!on && !listed)
        return 0;
    if (!on) {
        snprintf(error, size, "--curve-clients: needs --curve-secret (the broker's own key)");
        return -1;
    }
    if (!listed) {
        snprintf(error, size,
                 "--curve-clients: required with --curve-secret (the directory of admitted "
                 "client public keys)");
        return -1;
    }
    char reason[400];
    *cert = sl_curve_load_secret(secret, reason, sizeof reason);
    if (!*cert) {
        snprintf(error, size, "--curve-secret %s", reason);
        return -1;
    }
    *auth = sl_curve_auth_new(clients, client_count, error, size);
    if (!*auth) {
        zcert_destroy(cert);
        return -1;
    }
    return 0;
}

/* Stops the authenticator (after the ROUTER is gone) and frees the CURVE settings. */
static void s_curve_stop(zcert_t **cert, zactor_t **auth, char *secret, char *clients)
{
    zactor_destroy(auth);
    zcert_destroy(cert);
    free(secret);
    free(clients);
}

int main(int argc, char **argv)
{
    sl_strlist_t binds = {0};
    int64_t heartbeat_ms = SL_DEFAULT_HEARTBEAT_MS;
    int64_t liveness = SL_DEFAULT_LIVENESS;
    int64_t queue_limit = SL_DEFAULT_QUEUE_LIMIT;
    int64_t max_deliveries = SL_DEFAULT_MAX_DELIVERIES;
    char *log_level = NULL;
    char *curve_secret = NULL, *curve_clients = NULL;
    sl_flag_t flags[] = {
        {"bind", SL_FLAG_LIST, &binds, 0, 0,
         "endpoint to bind, repeatable (default " SL_DEFAULT_BROKER_BIND ")"},
        {"heartbeat-ms", SL_FLAG_INT, &heartbeat_ms, 10, 3600000,
         "heartbeat interval to and from workers, ms (default 1000)"},
        {"liveness", SL_FLAG_INT, &liveness, 1, 1000,
         "heartbeats a worker may miss before it counts as dead (default 3)"},
        {"queue-limit", SL_FLAG_INT, &queue_limit, 1, 100000000,
         "waiting requests per service before queue_full (default 10000)"},
        {"max-deliveries", SL_FLAG_INT, &max_deliveries, 1, 1000,
         "times one request may be handed to a worker (default 3)"},
        {"log-level", SL_FLAG_STRING, &log_level, 0, 0,
         "debug, info, warn or error (default info)"},
        {"curve-secret", SL_FLAG_STRING, &curve_secret, 0, 0,
         "CURVE: this broker's secret key file (slowlane keygen); encrypts every bind "
         "(default off)"},
        {"curve-clients", SL_FLAG_STRING, &curve_clients, 0, 0,
         "CURVE: directory of the public key files of admitted workers and gateways"},
    };
    size_t flag_count = sizeof(flags) / sizeof(flags[0]);
    int rc = sl_flags_parse(PROGRAM, flags, flag_count, argc, argv, 1, NULL);
    if (rc != 0) {
        sl_strlist_clear(&binds);
        free(log_level);
        free(curve_secret);
        free(curve_clients);
        return rc == 1 ? 0 : 2;
    }
    sl_log_level_t level = SL_LOG_INFO;
    if (log_level && sl_log_level_parse(log_level, &level) != 0) {
        fprintf(stderr, PROGRAM ": --log-level: expected debug, info, warn or error\n");
        sl_strlist_clear(&binds);
        free(log_level);
        return 2;
    }
    free(log_level);
    sl_log_init("broker", level);
    if (binds.count == 0)
        sl_strlist_push(&binds, SL_DEFAULT_BROKER_BIND);

    /* CURVE: the authenticator runs before the ROUTER exists, so no handshake is ever
       accepted unchecked. */
    zcert_t *curve_cert = NULL;
    zactor_t *auth = NULL;
    size_t curve_client_count = 0;
    char curve_error[512];
    if (s_curve_start(curve_secret, curve_clients, &curve_cert, &auth, &curve_client_count,
                      curve_error, sizeof curve_error) != 0) {
        fprintf(stderr, PROGRAM ": %s\n", curve_error);
        sl_strlist_clear(&binds);
        s_curve_stop(&curve_cert, &auth, curve_secret, curve_clients);
        return 2;
    }

    /* We handle SIGINT/SIGTERM ourselves: a flag the loop checks, so shutdown can still
       talk to workers. */
    zsys_handler_set(NULL);
    broker_config_t config = {
        .heartbeat_ms = heartbeat_ms,
        .liveness = liveness,
        .queue_limit = queue_limit,
        .max_deliveries = max_deliveries,
        .log_debug = level == SL_LOG_DEBUG,
        .curve_cert = curve_cert,
    };
    broker_t *broker = broker_new(&config);
    if (!broker) {
        fprintf(stderr, PROGRAM ": cannot create the broker socket: %s\n",
                zmq_strerror(zmq_errno()));
        sl_strlist_clear(&binds);
        s_curve_stop(&curve_cert, &auth, curve_secret, curve_clients);
        return 1;
    }
    for (size_t i = 0; i < binds.count; i++) {
        if (broker_bind(broker, binds.items[i]) != 0) {
            fprintf(stderr, PROGRAM ": cannot bind %s: %s\n", binds.items[i],
                    zmq_strerror(zmq_errno()));
            broker_destroy(&broker);
            sl_strlist_clear(&binds);
            s_curve_stop(&curve_cert, &auth, curve_secret, curve_clients);
            return 1;
        }
    }
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = s_on_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);

    for (size_t i = 0; i < binds.count; i++)
        sl_log(SL_LOG_INFO, NULL, "broker_listening", "endpoint=%s", binds.items[i]);
    sl_log(SL_LOG_INFO, NULL, "broker_started",
           "heartbeat_ms=%" PRId64 " liveness=%" PRId64 " queue_limit=%" PRId64
           " max_deliveries=%" PRId64,
           heartbeat_ms, liveness, queue_limit, max_deliveries);
    if (curve_cert)
        sl_log(SL_LOG_INFO, NULL, "curve_on", "clients_listed=%zu", curve_client_count);
    else
        sl_log(SL_LOG_INFO, NULL, "curve_off",
               "detail=\"plaintext: keep the broker port on a trusted network\"");
    rc = broker_run(broker, &s_stop);
    sl_log(SL_LOG_INFO, NULL, "broker_stopping", NULL);
    broker_shutdown(broker);
    broker_destroy(&broker);
    sl_strlist_clear(&binds);
    s_curve_stop(&curve_cert, &auth, curve_secret, curve_clients);
    sl_log(SL_LOG_INFO, NULL, "broker_stopped", NULL);
    return rc == 0 ? 0 : 1;
}
