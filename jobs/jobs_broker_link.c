/*  jobs_broker_link: a broker's DEALER and monitor for the jobs dispatcher (see the header). */
#include "jobs_broker_link.h"

#include <string.h>

#include "sl_log.h"
#include "sl_mdp.h"

int jobs_broker_link_open(jobs_broker_link_t *self, const char *endpoint, const char *identity,
                          const sl_curve_client_t *curve)
{
    self->endpoint = strdup(endpoint);
    self->dealer = zsock_new(ZMQ_DEALER);
    if (!self->endpoint || !self->dealer)
        return -1;
    zsock_set_identity(self->dealer, identity);
    zsock_set_linger(self->dealer, 0);
    zsock_set_immediate(self->dealer, 1); /* nothing waits for a broker that is gone */
    zsock_set_sndtimeo(self->dealer, 0);  /* a send to no broker fails at once */
    sl_curve_client_apply(curve, self->dealer);
    self->monitor = zactor_new(zmonitor, self->dealer);
    if (!self->monitor)
        return -1;
    zstr_sendx(self->monitor, "LISTEN", "CONNECTED", "DISCONNECTED", "CLOSED", NULL);
    zstr_sendx(self->monitor, "START", NULL);
    zsock_wait(self->monitor);
    if (zsock_connect(self->dealer, "%s", self->endpoint) != 0) {
        sl_log(SL_LOG_ERROR, NULL, "jobs_broker_bad", "broker=%s", self->endpoint);
        return -1;
    }
    return 0;
}

void jobs_broker_link_close(jobs_broker_link_t *self)
{
    zactor_destroy(&self->monitor);
    zsock_destroy(&self->dealer);
    free(self->endpoint);
    self->endpoint = NULL;
}

jobs_broker_link_event_t jobs_broker_link_event(jobs_broker_link_t *self)
{
    zmsg_t *event = zmsg_recv(self->monitor);
    char *name = event ? zmsg_popstr(event) : NULL;
    jobs_broker_link_event_t what = JOBS_LINK_OTHER;
    if (name && (strcmp(name, "DISCONNECTED") == 0 || strcmp(name, "CLOSED") == 0))
        what = JOBS_LINK_DISCONNECTED;
    else if (name && strcmp(name, "CONNECTED") == 0)
        what = JOBS_LINK_CONNECTED;
    free(name);
    zmsg_destroy(&event);
    return what;
}

int jobs_broker_link_send(jobs_broker_link_t *self, zmsg_t **request_p)
{
    if (*request_p && zmsg_send(request_p, self->dealer) == 0)
        return 0;
    zmsg_destroy(request_p); /* not connected: a failed send leaves the message ours */
    return -1;
}

int jobs_broker_link_ask(jobs_broker_link_t *self, const char *service, const char *text)
{
    zmsg_t *body = zmsg_new();
    if (!body)
        return -1;
    zmsg_addstr(body, text);
    zmsg_t *request = sl_mdp_encode_client_request(SL_MDP_V02, service, &body);
    return jobs_broker_link_send(self, &request);
}
