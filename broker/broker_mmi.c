/*  broker_mmi: answers the mmi.* requests (see broker_mmi.h). None of them is on the
    request path: mmi.stats and mmi.cluster walk whole tables, once per scrape or admin
    call. The JSON bodies are built by broker_stats_json and broker_cluster_view, commands
    run by broker_agent_command; here they are framed as MDP replies. */
#include "broker_mmi.h"

#include "broker_cluster_view.h"
#include "broker_stats_json.h"
#include "sl_envelope.h"

struct _broker_mmi_t {
    broker_router_t *router;           /* borrowed: answers go out through it */
    const broker_registry_t *registry; /* borrowed, read only: services and workers */
    const broker_stats_t *stats;       /* borrowed, read only: counters */
    broker_agents_t *agents;           /* borrowed: the cluster manager's agent table */
    broker_autoscaler_t *autoscaler;   /* borrowed: mmi.cluster.command's op autoscale */
    broker_dispatch_t *dispatch;       /* borrowed: mmi.cancel's answers to the request */
    broker_config_t config;            /* copy: heartbeat and liveness for the answers */
    int64_t started;                   /* zclock_mono() when the broker started */
};

broker_mmi_t *broker_mmi_new(broker_router_t *router, const broker_registry_t *registry,
                             const broker_stats_t *stats, broker_agents_t *agents,
                             broker_autoscaler_t *autoscaler, broker_dispatch_t *dispatch,
                             const broker_config_t *config, int64_t started)
{
    assert(router && registry && stats && agents && autoscaler && dispatch && config);
    broker_mmi_t *self = (broker_mmi_t *) calloc(1, sizeof(broker_mmi_t));
    if (!self)
        return NULL;
    self->router = router;
    self->registry = registry;
    self->stats = stats;
    self->agents = agents;
    self->autoscaler = autoscaler;
    self->dispatch = dispatch;
    self->config = *config;
    self->started = started;
    return self;
}

void broker_mmi_destroy(broker_mmi_t **self_p)
{
    assert(self_p);
    free(*self_p);
    *self_p = NULL;
}

/* Sends body (ownership taken) as the FINAL answering msg. */
static void s_reply(broker_mmi_t *self, zframe_t *client, sl_mdp_msg_t *msg, zmsg_t **body_p)
{
    zmsg_t *reply = sl_mdp_encode_client_reply(msg->version, SL_MDP_FINAL, msg->service, body_p);
    broker_router_send(self->router, client, &reply);
}

/* 8/MMI: "200" iff the named service has a registered worker, "404" otherwise. */
static const char *s_service_code(broker_mmi_t *self, sl_mdp_msg_t *msg)
{
    zframe_t *asked = msg->body ? zmsg_first(msg->body) : NULL;
    size_t size = asked ? zframe_size(asked) : 0;
    if (size == 0 || size > SL_MAX_SERVICE_NAME || memchr(zframe_data(asked), 0, size))
        return "404";
    char wanted[SL_MAX_SERVICE_NAME + 1];
    memcpy(wanted, zframe_data(asked), size);
    wanted[size] = 0;
    broker_service_t *service = broker_registry_service(self->registry, wanted);
    return service && broker_service_workers(service) > 0 ? "200" : "404";
}

/* The envelope request of the id in the body's first frame from this client, queued or at a
   worker and not cancelled, or NULL; the id as asked goes into id ("" if it is not a valid
   request id). A walk of every queue and worker: asked after a restart or when a client
   gives up, never per request. */
static broker_request_t *s_find_request(broker_mmi_t *self, zframe_t *client, sl_mdp_msg_t *msg,
                                        char id[SL_REQUEST_ID_MAX + 1])
{
    zframe_t *asked = msg->body ? zmsg_first(msg->body) : NULL;
    size_t size = asked ? zframe_size(asked) : 0;
    id[0] = 0;
    if (size == 0 || size > SL_REQUEST_ID_MAX ||
        !sl_request_id_valid((const char *) zframe_data(asked), size))
        return NULL;
    memcpy(id, zframe_data(asked), size);
    id[size] = 0;
    broker_request_t *found = NULL;
    for (broker_service_t *service = broker_registry_service_first(self->registry);
         service && !found; service = broker_registry_service_next(self->registry))
        found = broker_service_queue_find(service, client, id);
    for (broker_worker_t *worker = broker_registry_worker_first(self->registry); worker && !found;
         worker = broker_registry_worker_next(self->registry))
        found = broker_worker_find(worker, client, id);
    return found;
}

/* Answers [code, id]: the client's own question comes back with the answer, so a client
   with several out tells them apart. */
static void s_reply_code(broker_mmi_t *self, zframe_t *client, sl_mdp_msg_t *msg, const char *code,
                         const char *id)
{
    zmsg_t *body = zmsg_new();
    if (!body)
        return;
    zmsg_addstr(body, code);
    zmsg_addstr(body, id);
    s_reply(self, client, msg, &body);
}

/* mmi.request (slowlane extension, docs/protocol.md 2.6): "200" if the broker still holds
   the request, "404" otherwise. A client that lost its replies (slowlane-jobs after a
   restart) learns which of its requests will still be answered. */
static void s_request(broker_mmi_t *self, zframe_t *client, sl_mdp_msg_t *msg)
{
    char id[SL_REQUEST_ID_MAX + 1];
    broker_request_t *request = s_find_request(self, client, msg, id);
    s_reply_code(self, client, msg, request ? "200" : "404", id);
}

/* mmi.cancel (slowlane extension, docs/protocol.md 3.8): "200" taken out of its queue,
   "202" its worker told, "404" not held. The request itself is answered `cancelled` first. */
static void s_cancel(broker_mmi_t *self, zframe_t *client, sl_mdp_msg_t *msg)
{
    char id[SL_REQUEST_ID_MAX + 1];
    broker_request_t *request = s_find_request(self, client, msg, id);
    int code = request ? broker_dispatch_cancel(self->dispatch, request) : 404;
    s_reply_code(self, client, msg, code == 200 ? "200" : code == 202 ? "202" : "404", id);
}

/* mmi.stats: one JSON frame; without memory for it, "500" the 8/MMI way rather than
   silence. */
static void s_stats(broker_mmi_t *self, zframe_t *client, sl_mdp_msg_t *msg, int64_t now)
{
    char *text = broker_stats_json(self->stats, self->registry, self->autoscaler, &self->config,
                                   self->started, now);
    zmsg_t *body = zmsg_new();
    if (!body) {
        free(text);
        return;
    }
    if (text)
        zmsg_addmem(body, text, strlen(text));
    else
        zmsg_addstr(body, "500");
    free(text);
    s_reply(self, client, msg, &body);
}

/* The command of an mmi.cluster.command body [tag, command] if its op is "autoscale" (the
   autoscaler's; every other op is the agents'), else NULL. */
static json_t *s_autoscale_command(zmsg_t *request)
{
    if (!request || zmsg_size(request) != 2)
        return NULL;
    zframe_t *body = zmsg_last(request);
    json_t *command = json_loadb((const char *) zframe_data(body), zframe_size(body), 0, NULL);
    const char *op = json_string_value(json_object_get(command, "op"));
    if (op && strcmp(op, "autoscale") == 0)
        return command;
    json_decref(command);
    return NULL;
}

/* mmi.cluster, mmi.cluster.command. Body: [tag] for the one, [tag, command] for the
   other. The tag is echoed first, so a client can tell a late answer from the one it
   waits for. */
static void s_cluster(broker_mmi_t *self, zframe_t *client, sl_mdp_msg_t *msg, const char *name,
                      int64_t now)
{
    zmsg_t *request = msg->body;
    zframe_t *tag = request && zmsg_size(request) > 0 ? zmsg_first(request) : NULL;
    json_t *answer = NULL;
    json_t *autoscale = s_autoscale_command(request);
    if (streq(name, "mmi.cluster"))
        answer = broker_cluster_view(self->agents, self->registry, self->autoscaler, &self->config,
                                     self->started, now);
    else if (autoscale)
        answer = broker_autoscaler_command(self->autoscaler, autoscale, now);
    else
        answer = broker_agents_command(self->agents, request, now);
    json_decref(autoscale);
    char *text = answer ? json_dumps(answer, JSON_COMPACT) : NULL;
    json_decref(answer);
    zmsg_t *body = zmsg_new();
    if (tag)
        zmsg_addmem(body, zframe_data(tag), zframe_size(tag));
    zmsg_addstr(body, text ? text : "{\"ok\":false,\"status\":500,\"error\":\"out_of_memory\"}");
    free(text);
    s_reply(self, client, msg, &body);
}

void broker_mmi_answer(broker_mmi_t *self, zframe_t *client, sl_mdp_msg_t *msg, const char *name,
                       int64_t now)
{
    if (streq(name, "mmi.cluster") || streq(name, "mmi.cluster.command")) {
        s_cluster(self, client, msg, name, now); /* docs/protocol.md section 7.4 */
        return;
    }
    if (streq(name, "mmi.stats")) {
        s_stats(self, client, msg, now); /* docs/protocol.md section 2.5 */
        return;
    }
    if (streq(name, "mmi.request")) {
        s_request(self, client, msg); /* docs/protocol.md section 2.6 */
        return;
    }
    if (streq(name, "mmi.cancel")) {
        s_cancel(self, client, msg); /* docs/protocol.md section 3.8 */
        return;
    }
    /* 8/MMI: every other mmi.* name answers "501". */
    const char *code = streq(name, "mmi.service") ? s_service_code(self, msg) : "501";
    zmsg_t *body = zmsg_new();
    zmsg_addstr(body, code);
    s_reply(self, client, msg, &body);
}
