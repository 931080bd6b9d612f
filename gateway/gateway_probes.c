/*  gateway_probes: route readiness from `mmi.service` answers. The broker answers a
    connection's requests in order, so a round's answers come in the order its probes went
    out: a FIFO of service indexes says whose answer each is, without ids. */
#include "gateway_probes.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "sl_log.h"

struct _gateway_probes_t {
    int64_t probe_ms; /* interval between rounds when nothing waits */

    pthread_mutex_t lock;       /* guards the answers below: /readyz reads them */
    const char **services;      /* distinct service names of the routes (borrowed) */
    size_t service_count;       /* entries in services */
    size_t *route_service;      /* route index -> services index */
    size_t route_count;         /* entries in route_service */
    atomic_bool *service_ready; /* last answer per service: 200 (written under lock, read
                                   lock-free by gateway_probes_service_ready) */
    int64_t last_reply_ms;      /* zclock_mono of the last answer */

    /* The round in flight: the bridge's thread only. */
    size_t *fifo;    /* services index of each unanswered probe, in send order */
    size_t head;     /* first unanswered probe in fifo */
    size_t count;    /* unanswered probes of the current round */
    size_t stale;    /* answers still due from an abandoned round: discarded */
    int64_t sent_ms; /* when the current round went out */
};

gateway_probes_t *gateway_probes_new(const gateway_routes_t *routes, int64_t probe_ms)
{
    gateway_probes_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->probe_ms = probe_ms;
    pthread_mutex_init(&self->lock, NULL);
    size_t count = gateway_routes_count(routes);
    size_t room = count ? count : 1;
    self->route_count = count;
    self->services = calloc(room, sizeof *self->services);
    self->route_service = calloc(room, sizeof *self->route_service);
    self->service_ready = calloc(room, sizeof *self->service_ready);
    self->fifo = calloc(room, sizeof *self->fifo);
    if (!self->services || !self->route_service || !self->service_ready || !self->fifo) {
        gateway_probes_destroy(&self);
        return NULL;
    }
    for (size_t i = 0; i < count; i++) {
        const char *service = gateway_routes_at(routes, i)->service;
        size_t found = 0;
        while (found < self->service_count && strcmp(self->services[found], service) != 0)
            found++;
        if (found == self->service_count)
            self->services[self->service_count++] = service;
        self->route_service[i] = found;
    }
    return self;
}

void gateway_probes_destroy(gateway_probes_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gateway_probes_t *self = *self_p;
    free(self->services);
    free(self->route_service);
    free(self->service_ready);
    free(self->fifo);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

bool gateway_probes_routes_ready(gateway_probes_t *self, bool connected, bool *ready, size_t count,
                                 bool *responsive)
{
    bool all = connected;
    pthread_mutex_lock(&self->lock);
    *responsive = zclock_mono() - self->last_reply_ms <= 3 * self->probe_ms + 100;
    for (size_t i = 0; i < count && i < self->route_count; i++) {
        bool service_ready = connected && self->service_ready[self->route_service[i]];
        if (ready)
            ready[i] = service_ready;
        all = all && service_ready;
    }
    pthread_mutex_unlock(&self->lock);
    return all;
}

size_t gateway_probes_service_count(gateway_probes_t *self)
{
    return self->service_count;
}

const char *gateway_probes_service(gateway_probes_t *self, size_t index)
{
    return index < self->service_count ? self->services[index] : NULL;
}

void gateway_probes_connected(gateway_probes_t *self)
{
    pthread_mutex_lock(&self->lock);
    self->last_reply_ms = zclock_mono(); /* give the first round its time */
    pthread_mutex_unlock(&self->lock);
    self->count = self->stale = 0;
}

void gateway_probes_disconnected(gateway_probes_t *self)
{
    pthread_mutex_lock(&self->lock);
    for (size_t i = 0; i < self->service_count; i++)
        self->service_ready[i] = false;
    pthread_mutex_unlock(&self->lock);
    self->count = self->stale = 0;
}

bool gateway_probes_service_ready(gateway_probes_t *self, const char *service)
{
    /* services never changes after new: only the answers are shared */
    for (size_t i = 0; i < self->service_count; i++)
        if (strcmp(self->services[i], service) == 0)
            return atomic_load_explicit(&self->service_ready[i], memory_order_relaxed);
    return false;
}

bool gateway_probes_round_begin(gateway_probes_t *self, int64_t now, int64_t interval)
{
    if (self->count > 0) {
        if (now - self->sent_ms < 3 * interval)
            return false;
        /* The round went unanswered: its answers, if they ever come, come first, in order,
           so they are counted out rather than mistaken for the next round's. */
        self->stale += self->count;
        pthread_mutex_lock(&self->lock);
        for (size_t i = 0; i < self->count; i++)
            self->service_ready[self->fifo[(self->head + i) % self->service_count]] = false;
        pthread_mutex_unlock(&self->lock);
        self->count = 0;
    }
    self->head = 0;
    return true;
}

void gateway_probes_sent(gateway_probes_t *self, size_t index)
{
    self->fifo[self->count++] = index;
}

void gateway_probes_round_sent(gateway_probes_t *self, int64_t now)
{
    self->sent_ms = now;
}

const char *gateway_probes_answer(gateway_probes_t *self, zmsg_t *body)
{
    if (self->stale > 0) {
        self->stale--;
        return NULL;
    }
    if (self->count == 0)
        return NULL; /* an answer nobody asked for on this connection */
    size_t service = self->fifo[self->head];
    self->head = (self->head + 1) % self->service_count;
    self->count--;
    zframe_t *last = body ? zmsg_last(body) : NULL;
    bool ready = last && zframe_streq(last, "200");
    pthread_mutex_lock(&self->lock);
    if (self->service_ready[service] != ready)
        sl_log(SL_LOG_INFO, NULL, "service_readiness", "service=%s ready=%s",
               self->services[service], ready ? "true" : "false");
    self->service_ready[service] = ready;
    self->last_reply_ms = zclock_mono();
    pthread_mutex_unlock(&self->lock);
    return ready ? self->services[service] : NULL;
}
