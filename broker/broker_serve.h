/*  broker_serve: what slowlane-broker and an embedded broker do with a broker once it is
    made and bound: log how it runs, run it until told to stop, shut it down, destroy it. */
#ifndef BROKER_SERVE_H
#define BROKER_SERVE_H

#include <signal.h>
#include "broker.h"
#include "broker_curve.h"
#include "broker_options.h"
#include "sl_flags.h"

/* Logs where the broker listens (binds) and with what settings (options, curve: both
   borrowed; curve may be NULL for plaintext), runs the loop until *stop or its stop socket,
   then shuts it down (DISCONNECT to workers) and destroys it. Returns broker_run's. */
int broker_serve(broker_t **broker_p, const broker_options_t *options, const broker_curve_t *curve,
                 const sl_strlist_t *binds, volatile sig_atomic_t *stop);

#endif
