/*  broker_serve: the life of a bound broker, as slowlane-broker and an embedded broker both
    live it. Making the broker and binding it are the program's (each reports a failure its
    own way); flags are broker_options', the loop is broker.c's. */
#include "broker_serve.h"
#include <inttypes.h>
#include "sl_log.h"

int broker_serve(broker_t **broker_p, const broker_options_t *options, const broker_curve_t *curve,
                 const sl_strlist_t *binds, volatile sig_atomic_t *stop)
{
    for (size_t i = 0; i < binds->count; i++)
        sl_log(SL_LOG_INFO, NULL, "broker_listening", "endpoint=%s", binds->items[i]);
    sl_log(SL_LOG_INFO, NULL, "broker_started",
           "heartbeat_ms=%" PRId64 " liveness=%" PRId64 " queue_limit=%" PRId64
           " queue_max_mb=%" PRId64 " max_deliveries=%" PRId64,
           options->heartbeat_ms, options->liveness, options->queue_limit, options->queue_max_mb,
           options->max_deliveries);
    if (broker_curve_cert(curve))
        sl_log(SL_LOG_INFO, NULL, "curve_on", "clients_listed=%zu",
               broker_curve_client_count(curve));
    else
        sl_log(SL_LOG_INFO, NULL, "curve_off",
               "detail=\"plaintext: keep the broker port on a trusted network\"");
    int rc = broker_run(*broker_p, stop);
    sl_log(SL_LOG_INFO, NULL, "broker_stopping", NULL);
    broker_shutdown(*broker_p);
    broker_destroy(broker_p);
    sl_log(SL_LOG_INFO, NULL, "broker_stopped", NULL);
    return rc;
}
