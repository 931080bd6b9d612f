/*  gateway_broker_stats: on-demand `mmi.stats` polling and the broker half of /metrics.
    HTTP threads meet the actor in one locked structure (lock, cond): the last answer, its
    time, and a generation number that moves when a new answer lands. A thread that needs a
    fresh answer bumps the eventfd and waits on the condition; the actor sends at most one
    request at a time and gives up on it after S_RETRY_MS, so a dead broker costs one
    outstanding message, not one per scrape. */
#include "gateway_broker_stats.h"

#include <czmq.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "gateway_broker_socket.h"
#include <sys/eventfd.h>
#include <unistd.h>

#include "sl_defaults.h"
#include "sl_log.h"
#include "sl_mdp.h"

#define S_MMI_STATS "mmi.stats"
#define S_RETRY_MS  1000 /* an unanswered request is sent again after this */

struct _gateway_stats_t {
    zactor_t *actor;                /* the poller thread */
    char *endpoint;                 /* broker endpoint */
    const sl_curve_client_t *curve; /* borrowed CURVE keys, NULL: plaintext */
    size_t index;                   /* the broker's place in the gateway's list */
    int wakeup_fd;                  /* eventfd: somebody wants a fresh answer */
    pthread_mutex_t lock;           /* guards the fields below */
    pthread_cond_t cond;            /* broadcast when an answer lands (CLOCK_MONOTONIC) */
    json_t *last;                   /* the last parsed answer, NULL before the first */
    int64_t last_ms;                /* zclock_mono() when it arrived */
    uint64_t generation;            /* answers received so far */
    bool start_failed;              /* set by the actor before it signals failure */
};

/* ---------------------------------------------------------------- actor side */

static void s_store(gateway_broker_stats_t *self, zmsg_t *message, sl_log_limit_t *limit)
{
    sl_mdp_msg_t decoded = {0};
    const char *reason = NULL;
    if (sl_mdp_decode(&message, SL_MDP_FROM_BROKER, &decoded, &reason) != 0 ||
        decoded.command != SL_MDP_FINAL || !decoded.service ||
        !zframe_streq(decoded.service, S_MMI_STATS) || !decoded.body ||
        zmsg_size(decoded.body) != 1) {
        sl_log_limited(limit, SL_LOG_WARN, NULL, "broker_stats_malformed", "reason=%s",
                       reason ? reason : "unexpected_reply");
        sl_mdp_msg_reset(&decoded);
        return;
    }
    zframe_t *frame = zmsg_first(decoded.body);
    json_error_t error;
    json_t *parsed = json_loadb((const char *) zframe_data(frame), zframe_size(frame), 0, &error);
    sl_mdp_msg_reset(&decoded);
    if (!parsed || !json_is_object(parsed)) {
        /* A broker without mmi.stats answers "501": say so once in a while. */
        sl_log_limited(limit, SL_LOG_WARN, NULL, "broker_stats_unavailable", "reason=not_json");
        json_decref(parsed);
        return;
    }
    pthread_mutex_lock(&self->lock);
    json_decref(self->last);
    self->last = parsed;
    self->last_ms = zclock_mono();
    self->generation++;
    pthread_cond_broadcast(&self->cond);
    pthread_mutex_unlock(&self->lock);
}

static void s_actor(zsock_t *pipe, void *args)
{
    gateway_broker_stats_t *self = args;
    sl_log_limit_t limit = {0};
    zsock_t *dealer = gateway_broker_socket_new(self->curve, self->index);
    if (!dealer)
        goto fail;
    zsock_set_sndtimeo(dealer, 0);
    if (zsock_connect(dealer, "%s", self->endpoint) != 0)
        goto fail;
    zsock_signal(pipe, 0);

    int64_t sent_ms = 0; /* when the outstanding request went out, 0 if none */
    zmq_pollitem_t items[] = {
        {zsock_resolve(pipe), 0, ZMQ_POLLIN, 0},
        {NULL, self->wakeup_fd, ZMQ_POLLIN, 0},
        {zsock_resolve(dealer), 0, ZMQ_POLLIN, 0},
    };
    while (true) {
        if (zmq_poll(items, 3, S_RETRY_MS) < 0 && errno != EINTR)
            break;
        if (items[0].revents & ZMQ_POLLIN) {
            char *command = zstr_recv(pipe);
            bool stop = !command || streq(command, "$TERM");
            zstr_free(&command);
            if (stop)
                break;
        }
        if (items[2].revents & ZMQ_POLLIN) {
            zmsg_t *message;
            while ((message = zmsg_recv_nowait(dealer))) {
                s_store(self, message, &limit);
                sent_ms = 0;
            }
        }
        if (items[1].revents & ZMQ_POLLIN) {
            uint64_t count;
            ssize_t got = read(self->wakeup_fd, &count, sizeof count);
            (void) got;
            if (sent_ms == 0 || zclock_mono() - sent_ms >= S_RETRY_MS) {
                zmsg_t *body = zmsg_new();
                zmsg_t *request = sl_mdp_encode_client_request(SL_MDP_V02, S_MMI_STATS, &body);
                if (request && zmsg_send(&request, dealer) == 0)
                    sent_ms = zclock_mono();
                zmsg_destroy(&request);
            }
        }
    }
    zsock_destroy(&dealer);
    return;

fail:
    zsock_destroy(&dealer);
    self->start_failed = true;
    zsock_signal(pipe, 1);
}

/* ---------------------------------------------------------------- HTTP-thread side */

json_t *gateway_broker_stats_get(gateway_broker_stats_t *self, int64_t max_age_ms, int64_t wait_ms)
{
    pthread_mutex_lock(&self->lock);
    if (self->last && zclock_mono() - self->last_ms <= max_age_ms) {
        json_t *fresh = json_incref(self->last);
        pthread_mutex_unlock(&self->lock);
        return fresh;
    }
    uint64_t generation = self->generation;
    uint64_t one = 1;
    ssize_t written = write(self->wakeup_fd, &one, sizeof one);
    (void) written; /* an eventfd write only fails on counter overflow */
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += wait_ms / 1000;
    until.tv_nsec += (wait_ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    while (self->generation == generation)
        if (pthread_cond_timedwait(&self->cond, &self->lock, &until) == ETIMEDOUT)
            break;
    json_t *answer = self->generation != generation ? json_incref(self->last) : NULL;
    pthread_mutex_unlock(&self->lock);
    return answer;
}

/* ---------------------------------------------------------------- lifecycle */

gateway_broker_stats_t *gateway_broker_stats_new(const char *endpoint, size_t index,
                                                 const sl_curve_client_t *curve)
{
    gateway_broker_stats_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->curve = curve;
    self->index = index;
    self->wakeup_fd = -1;
    self->endpoint = strdup(endpoint);
    pthread_mutex_init(&self->lock, NULL);
    pthread_condattr_t attributes;
    pthread_condattr_init(&attributes);
    pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
    pthread_cond_init(&self->cond, &attributes);
    pthread_condattr_destroy(&attributes);
    self->wakeup_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (!self->endpoint || self->wakeup_fd < 0)
        goto fail;
    self->actor = zactor_new(s_actor, self);
    if (!self->actor || self->start_failed)
        goto fail;
    return self;

fail:
    gateway_broker_stats_destroy(&self);
    return NULL;
}

void gateway_broker_stats_destroy(gateway_broker_stats_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gateway_broker_stats_t *self = *self_p;
    zactor_destroy(&self->actor);
    if (self->wakeup_fd >= 0)
        close(self->wakeup_fd);
    json_decref(self->last);
    pthread_mutex_destroy(&self->lock);
    pthread_cond_destroy(&self->cond);
    free(self->endpoint);
    free(self);
    *self_p = NULL;
}
