/*  broker_embedded: runs broker_run on a czmq actor thread. The actor's pipe carries the
    start-up result one way and the stop command the other; broker_stop_on makes the loop
    leave at once on the stop command instead of at its next heartbeat tick. */
#include "broker_embedded.h"
#include "broker_serve.h"
#include <unistd.h>
#include "sl_log.h"

struct _broker_embedded_t {
    zactor_t *actor;
    const broker_options_t *options; /* borrowed, read by the actor */
    const broker_curve_t *curve;     /* borrowed, read by the actor */
    const sl_strlist_t *binds;       /* borrowed, read by the actor */
    char endpoint[64];               /* inproc://slowlane-broker-PID-N */
};

/* Binds everything; "" on success, else the reason (written into reason). */
static const char *s_bind_all(broker_t *broker, const broker_embedded_t *start, char *reason,
                              size_t size)
{
    for (size_t i = 0; i < start->binds->count; i++) {
        if (broker_bind(broker, start->binds->items[i]) != 0) {
            snprintf(reason, size, "--embed-broker %s: cannot bind: %s", start->binds->items[i],
                     zmq_strerror(zmq_errno()));
            return reason;
        }
    }
    if (broker_bind(broker, start->endpoint) != 0) {
        snprintf(reason, size, "cannot bind the in-process endpoint %s: %s", start->endpoint,
                 zmq_strerror(zmq_errno()));
        return reason;
    }
    return "";
}

static void s_actor(zsock_t *pipe, void *args)
{
    const broker_embedded_t *start = (const broker_embedded_t *) args;
    sl_log_thread_component("broker");
    broker_config_t config = broker_options_config(start->options);
    broker_t *broker = broker_new(&config, broker_curve_cert(start->curve));
    char reason[512];
    const char *failure = broker ? s_bind_all(broker, start, reason, sizeof reason)
                                 : "cannot create the broker socket";
    zsock_signal(pipe, 0);
    zstr_send(pipe, failure);
    if (*failure) {
        broker_destroy(&broker);
        free(zstr_recv(pipe)); /* $TERM from zactor_destroy */
        return;
    }
    broker_stop_on(broker, pipe);
    volatile sig_atomic_t never = 0; /* the pipe's $TERM stops it */
    broker_serve(&broker, start->options, start->curve, start->binds, &never);
}

broker_embedded_t *broker_embedded_new(const broker_options_t *options, const broker_curve_t *curve,
                                       const sl_strlist_t *binds, char *error, size_t size)
{
    static int instances = 0;
    broker_embedded_t *self = (broker_embedded_t *) calloc(1, sizeof *self);
    if (!self) {
        snprintf(error, size, "--embed-broker: out of memory");
        return NULL;
    }
    snprintf(self->endpoint, sizeof self->endpoint, "inproc://slowlane-broker-%d-%d",
             (int) getpid(), ++instances);
    self->options = options;
    self->curve = curve;
    self->binds = binds;
    self->actor = zactor_new(s_actor, self); /* returns once the actor signalled */
    char *failure = self->actor ? zstr_recv(self->actor) : NULL;
    if (!failure || *failure) {
        snprintf(error, size, "%s", failure ? failure : "--embed-broker: cannot start the thread");
        free(failure);
        zactor_destroy(&self->actor);
        free(self);
        return NULL;
    }
    free(failure);
    return self;
}

const char *broker_embedded_endpoint(broker_embedded_t *self)
{
    return self->endpoint;
}

void broker_embedded_destroy(broker_embedded_t **self_p)
{
    broker_embedded_t *self = self_p ? *self_p : NULL;
    if (!self)
        return;
    zactor_destroy(&self->actor); /* sends $TERM, waits for the actor to end */
    free(self);
    *self_p = NULL;
}
