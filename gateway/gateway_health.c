/*  gateway_health: the gateway's own probes. /healthz says the process serves HTTP;
    /readyz says whether requests can succeed now (every HTTP thread started, broker connected
    and answering, a worker for every route's service) and, when not, which part is missing. */
#include "gateway_health.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

void gateway_health_healthz(gateway_response_t *response)
{
    static const char ok[] = "{\"status\":\"ok\"}\n";
    gateway_response_send(response, 200, "application/json", NULL, 0, ok, sizeof ok - 1);
}

void gateway_health_readyz(gateway_brokers_t *brokers, const gateway_routes_t *routes,
                           bool threads_started, gateway_response_t *response)
{
    size_t count = gateway_routes_count(routes);
    bool *ready = calloc(count ? count : 1, sizeof *ready);
    if (!ready) {
        gateway_response_error(response, 503, "gateway_out_of_memory", NULL);
        return;
    }
    const char *broker = NULL;
    gateway_brokers_ready(brokers, ready, count, &broker);
    /* Ready when every route of the user's has a worker. The jobs API's own route is neither
       waited for nor listed: a cluster without slowlane-jobs serves synchronously, and
       slowlane_jobs_up in /metrics says whether it runs. */
    bool all = threads_started && broker && strcmp(broker, "connected") == 0;
    for (size_t i = 0; i < count; i++)
        all = all && (ready[i] || gateway_routes_at(routes, i)->internal);
    json_t *root = json_pack("{s:b, s:s, s:s}", "ready", all, "http",
                             threads_started ? "started" : "starting", "broker", broker);
    json_t *list = json_array();
    for (size_t i = 0; i < count; i++) {
        const gateway_route_t *route = gateway_routes_at(routes, i);
        if (route->internal)
            continue;
        json_array_append_new(list, json_pack("{s:s, s:s, s:b}", "prefix", route->prefix, "service",
                                              route->service, "ready", ready[i]));
    }
    json_object_set_new(root, "routes", list);
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    free(ready);
    if (!text) {
        gateway_response_error(response, 503, "gateway_out_of_memory", NULL);
        return;
    }
    gateway_response_send(response, all ? 200 : 503, "application/json", NULL, 0, text,
                          strlen(text));
    if (!all)
        response->cause = "not_ready";
    free(text);
}
