/*  gateway_cluster: a synchronous MDP client for the cluster manager's two broker services
    (see gateway_cluster.h). Admin traffic is a few requests a minute, so a lock around the
    sockets is enough; the view is cached briefly for pages that poll it. A command retried
    at a second broker is safe: agents ignore a repeated broadcast or roll id. */
#include "gateway_cluster.h"

#include <czmq.h>
#include <pthread.h>
#include <string.h>

#include "gateway_broker_socket.h"
#include "sl_defaults.h"
#include "sl_log.h"
#include "sl_envelope.h"
#include "sl_mdp.h"

#define S_STATS_MAX_AGE_MS 250 /* a broker's mmi.stats this recent is reused */

struct _gateway_cluster_t {
    pthread_mutex_t lock;          /* guards everything below */
    gateway_broker_view_t brokers; /* borrowed: the set, its trust and counters */
    zsock_t **dealers;             /* one per broker, in the set's order */
    size_t count;                  /* dealers */
    uint64_t sequence;             /* last tag sent */
    json_t *view;                  /* last view, NULL none */
    int64_t view_ms;               /* zclock_mono() when it came */
};

gateway_cluster_t *gateway_cluster_new(const gateway_broker_view_t *brokers,
                                       const char *const *endpoints,
                                       const sl_curve_client_t *curves)
{
    gateway_cluster_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    pthread_mutex_init(&self->lock, NULL);
    self->brokers = *brokers;
    self->count = gateway_brokers_count(brokers->brokers);
    self->dealers = calloc(self->count, sizeof *self->dealers);
    if (!self->dealers)
        goto fail;
    for (size_t i = 0; i < self->count; i++) {
        self->dealers[i] = gateway_broker_socket_new(&curves[i], i);
        if (!self->dealers[i])
            goto fail;
        /* No broker, no queueing: an admin call waits for one within its time, then fails
           (503). */
        zsock_set_immediate(self->dealers[i], 1);
        if (zsock_connect(self->dealers[i], "%s", endpoints[i]) != 0)
            goto fail;
    }
    return self;
fail:
    gateway_cluster_destroy(&self);
    return NULL;
}

void gateway_cluster_destroy(gateway_cluster_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gateway_cluster_t *self = *self_p;
    for (size_t i = 0; self->dealers && i < self->count; i++)
        zsock_destroy(&self->dealers[i]);
    free(self->dealers);
    json_decref(self->view);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

/* Sends request (taken) on dealer and waits up to wait_ms for the answer whose frame 3 (the
   tag or request-id after MDPC02 | FINAL | service) is tag: it returns that answer with its
   first four frames removed, and drops any other (late or foreign). NULL at the deadline.
   With no broker connected (just started, or reconnecting) the send waits for one, within
   the same wait. Lock held. */
static zmsg_t *s_round_trip(zsock_t *dealer, zmsg_t **request_p, const char *tag, int64_t wait_ms)
{
    zsock_set_sndtimeo(dealer, (int) wait_ms);
    if (!*request_p || zmsg_send(request_p, dealer) != 0) {
        zmsg_destroy(request_p);
        return NULL;
    }
    int64_t deadline = zclock_mono() + wait_ms;
    while (true) {
        int64_t left = deadline - zclock_mono();
        if (left <= 0)
            return NULL;
        zsock_set_rcvtimeo(dealer, (int) left);
        zmsg_t *reply = zmsg_recv(dealer);
        if (!reply)
            return NULL;
        if (zmsg_size(reply) > 4) {
            zframe_t *frames[4];
            for (int i = 0; i < 4; i++)
                frames[i] = zmsg_pop(reply);
            bool ours = zframe_streq(frames[3], tag);
            for (int i = 0; i < 4; i++)
                zframe_destroy(&frames[i]);
            if (ours)
                return reply;
        }
        zmsg_destroy(&reply);
    }
}

/* One request to service with body (may be NULL) after a fresh tag; the JSON of the answer
   with that tag, or NULL at the deadline. Lock held. */
static json_t *s_ask_one(gateway_cluster_t *self, zsock_t *dealer, const char *service,
                         const char *body, int64_t wait_ms)
{
    char tag[24];
    snprintf(tag, sizeof tag, "%llu", (unsigned long long) ++self->sequence);
    zmsg_t *frames = zmsg_new();
    zmsg_addstr(frames, tag);
    if (body)
        zmsg_addstr(frames, body);
    zmsg_t *request = sl_mdp_encode_client_request(SL_MDP_V02, service, &frames);
    zmsg_t *reply = s_round_trip(dealer, &request, tag, wait_ms);
    if (!reply)
        return NULL;
    /* One frame: the JSON answer. */
    zframe_t *frame = zmsg_first(reply);
    json_error_t error;
    json_t *answer = zmsg_size(reply) == 1 ? json_loadb((const char *) zframe_data(frame),
                                                        zframe_size(frame), 0, &error)
                                           : NULL;
    zmsg_destroy(&reply);
    if (!answer)
        answer = json_pack("{s:b, s:i, s:s}", "ok", 0, "status", 502, "error", "bad_broker_answer");
    return answer;
}

/* s_ask_one at the first trusted broker in order, then the next while none answers; with
   every, at each trusted broker, the first answer getting "brokers" set to how many
   answered. With none trusted, the first broker all the same (it may be on its way back).
   NULL if none answered. Lock held. */
static json_t *s_ask(gateway_cluster_t *self, const char *service, const char *body,
                     int64_t wait_ms, bool every)
{
    json_t *first = NULL;
    int answered = 0;
    bool asked = false;
    for (size_t i = 0; i < self->count && (every || !first); i++) {
        if (!gateway_bridge_trusted(gateway_brokers_bridge(self->brokers.brokers, i)))
            continue;
        asked = true;
        json_t *answer = s_ask_one(self, self->dealers[i], service, body, wait_ms);
        if (!answer) {
            sl_log(SL_LOG_WARN, NULL, "cluster_broker_silent", "broker=%s service=%s",
                   gateway_bridge_label(gateway_brokers_bridge(self->brokers.brokers, i)), service);
            continue;
        }
        answered++;
        if (!first)
            first = answer;
        else
            json_decref(answer);
    }
    if (!asked)
        return s_ask_one(self, self->dealers[0], service, body, wait_ms);
    if (every && first && json_is_object(first))
        json_object_set_new(first, "brokers", json_integer(answered));
    return first;
}

/* The "brokers" array of the view, from each trusted broker's mmi.stats. */
static json_t *s_brokers(gateway_cluster_t *self, int64_t wait_ms)
{
    json_t *answers[self->count];
    gateway_broker_view_stats(&self->brokers, answers, S_STATS_MAX_AGE_MS, wait_ms);
    json_t *list = gateway_broker_view_json(&self->brokers, answers);
    for (size_t i = 0; i < self->count; i++)
        json_decref(answers[i]);
    return list;
}

json_t *gateway_cluster_view(gateway_cluster_t *self, int64_t max_age_ms, int64_t wait_ms)
{
    pthread_mutex_lock(&self->lock);
    if (!self->view || zclock_mono() - self->view_ms > max_age_ms) {
        json_t *view = s_ask(self, "mmi.cluster", NULL, wait_ms, false);
        if (view) {
            json_decref(self->view);
            self->view = view;
            self->view_ms = zclock_mono();
        }
    }
    /* A copy, not a shared reference: jansson does no locking, and two admin requests would
       otherwise encode and release one value at once (ThreadSanitizer saw its refcount race). */
    json_t *view = self->view && zclock_mono() - self->view_ms <= max_age_ms + wait_ms
                       ? json_deep_copy(self->view)
                       : NULL;
    pthread_mutex_unlock(&self->lock);
    if (view && json_is_object(view))
        json_object_set_new(view, "brokers", s_brokers(self, wait_ms));
    return view;
}

json_t *gateway_cluster_command(gateway_cluster_t *self, json_t *command, int64_t wait_ms)
{
    char *text = json_dumps(command, JSON_COMPACT);
    if (!text)
        return NULL;
    /* A policy lives in each broker that decides: every broker gets it (a command such as
       scale goes to one broker, which tells every agent) */
    const char *op = json_string_value(json_object_get(command, "op"));
    bool everywhere = op && strcmp(op, "autoscale") == 0;
    pthread_mutex_lock(&self->lock);
    json_t *answer = s_ask(self, "mmi.cluster.command", text, wait_ms, everywhere);
    /* The next view must show what this command changed as soon as agents report it. */
    json_decref(self->view);
    self->view = NULL;
    pthread_mutex_unlock(&self->lock);
    free(text);
    return answer;
}

/* One GET /jobs?query to the jobs service at dealer; its JSON answer with "status" set to
   the HTTP status, or NULL at the deadline. An error envelope (no jobs service) is
   {"status": 503, "error": code}. Lock held. */
static json_t *s_ask_jobs_one(gateway_cluster_t *self, zsock_t *dealer, const char *query,
                              int64_t wait_ms)
{
    sl_envelope_meta_t meta = {.timeout_ms = wait_ms, .retryable = true};
    snprintf(meta.id, sizeof meta.id, "admin-jobs-%llu", (unsigned long long) ++self->sequence);
    static const char headers[] = "Slowlane-Job-Admin: list\r\n";
    zmsg_t *body = sl_request_envelope_encode(&meta, "GET", SL_JOBS_ROUTE_PREFIX, query, headers,
                                              sizeof headers - 1, NULL, 0);
    zmsg_t *request =
        body ? sl_mdp_encode_client_request(SL_MDP_V02, SL_JOBS_SERVICE, &body) : NULL;
    zmsg_t *envelope = s_round_trip(dealer, &request, meta.id, wait_ms);
    if (!envelope)
        return NULL;
    json_t *answer = NULL;
    sl_reply_envelope_t decoded = {0};
    sl_error_code_t code;
    if (sl_envelope_kind(envelope) == SL_BODY_ERROR &&
        sl_error_envelope_decode(envelope, &code, NULL, 0) == 0) {
        answer = json_pack("{s:i, s:s}", "status", 503, "error", sl_error_code_name(code));
    } else if (sl_reply_envelope_decode(envelope, &decoded) == 0) {
        json_error_t error;
        answer = json_loadb((const char *) zframe_data(decoded.body), zframe_size(decoded.body), 0,
                            &error);
        if (!json_is_object(answer)) {
            json_decref(answer);
            answer = json_pack("{s:s}", "error", "bad_jobs_answer");
            decoded.status = 502;
        }
        json_object_set_new(answer, "status", json_integer(decoded.status));
    }
    sl_reply_envelope_reset(&decoded);
    zmsg_destroy(&envelope);
    if (!answer)
        answer = json_pack("{s:i, s:s}", "status", 502, "error", "bad_jobs_answer");
    return answer;
}

json_t *gateway_cluster_jobs(gateway_cluster_t *self, const char *query, int64_t wait_ms)
{
    pthread_mutex_lock(&self->lock);
    json_t *answer = NULL;
    bool any = false;
    for (size_t i = 0; i < self->count && !answer; i++) {
        /* Only a broker whose probe found the jobs service: asking one that has none would
           count as an unknown service there at every scrape of /metrics. */
        gateway_bridge_t *bridge = gateway_brokers_bridge(self->brokers.brokers, i);
        if (!gateway_bridge_service_ready(bridge, SL_JOBS_SERVICE))
            continue;
        any = true;
        answer = s_ask_jobs_one(self, self->dealers[i], query ? query : "", wait_ms);
    }
    pthread_mutex_unlock(&self->lock);
    if (!any)
        answer = json_pack("{s:i, s:s}", "status", 503, "error", "no_worker");
    return answer;
}
