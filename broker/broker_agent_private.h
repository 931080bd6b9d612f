/*  broker_agent_private: the agent and roll records, shared by broker_agent.c (membership,
    rolls) and broker_agent_admin.c (view, commands). Nothing else includes it. */
#ifndef BROKER_AGENT_PRIVATE_H
#define BROKER_AGENT_PRIVATE_H

#include "broker_agent.h"
#include "broker_private.h"

#define BROKER_AGENT_HOST_MAX 64
#define BROKER_AGENT_KEY_MAX  (BROKER_AGENT_HOST_MAX + 24)

typedef struct {
    char *key;                             /* owned: "host/pid", the table key */
    char host[BROKER_AGENT_HOST_MAX + 1];  /* the host it reports */
    char service[SL_MAX_SERVICE_NAME + 1]; /* the service its workers serve */
    int64_t pid;                           /* the supervisor's pid */
    zframe_t *routing;                     /* owned: current ROUTER routing id */
    json_t *status;                        /* owned: the last STATUS body */
    int64_t expiry;                        /* zclock_mono() when it is forgotten if silent */
    int64_t heard;                         /* zclock_mono() of its last message */
    int64_t status_at;                     /* zclock_mono() of its last STATUS */
} broker_agent_t;

typedef struct {
    char id[SL_BROADCAST_ID_MAX + 1];      /* reported back by agents when done */
    char service[SL_MAX_SERVICE_NAME + 1]; /* the service rolling */
    zlistx_t *pending;                     /* agent keys still to roll (owned strings) */
    char current[BROKER_AGENT_KEY_MAX];    /* agent rolling now, "" none */
    int64_t sent;                          /* when current was told */
} broker_roll_t;

struct _broker_agents_t {
    zhashx_t *agents;               /* key -> broker_agent_t (owned) */
    zhashx_t *rolls;                /* service -> broker_roll_t (owned) */
    sl_log_limit_t malformed_limit; /* bad agent messages */
};

/* Sends one COMMAND (body borrowed) to agent. */
void broker_agent_command(broker_t *self, broker_agent_t *agent, json_t *command);

/* Starts a rolling restart of the agents (count of them, sorted) under a new id written
   to id (SL_BROADCAST_ID_MAX + 1 bytes). Returns 0, or -1 if the service already rolls. */
int broker_agent_roll(broker_t *self, const char *service, broker_agent_t **agents, size_t count,
                      char *id);

#endif
