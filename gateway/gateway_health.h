/*  gateway_health: /healthz (the process is up) and /readyz (HTTP threads started, broker
    connected and every route's service has a worker; JSON says which part is not ready).
    Answers only; the state comes from gateway_http and gateway_brokers. */
#ifndef GATEWAY_HEALTH_H
#define GATEWAY_HEALTH_H

#include "gateway_brokers.h"
#include "gateway_response.h"
#include "gateway_routes.h"

/* 200 {"status":"ok"}. */
void gateway_health_healthz(gateway_response_t *response);

/* 200 or 503 {"ready":bool,"http":"starting|started",
   "broker":"connected|disconnected|unresponsive|closing",
   "routes":[{"prefix":...,"service":...,"ready":bool},...]}. threads_started: every
   civetweb thread has started (until then requests queue behind thread start-up). */
void gateway_health_readyz(gateway_brokers_t *brokers, const gateway_routes_t *routes,
                           bool threads_started, gateway_response_t *response);

#endif
