/*  supervisor_status: the body of an agent's STATUS (docs/protocol.md section 7.1), encoded
    from the configuration and a read-only supervisor_snapshot_t. Pure: no socket, no clock,
    no /proc; the agent (supervisor_agent.c) decides when a STATUS goes and to which brokers. */
#ifndef SUPERVISOR_STATUS_H
#define SUPERVISOR_STATUS_H

#include "supervisor.h"
#include "supervisor_snapshot.h"

/* The STATUS JSON object of this supervisor (compact text), a new string the caller frees;
   NULL out of memory. */
char *supervisor_status_encode(const supervisor_config_t *config,
                               const supervisor_snapshot_t *snapshot);

#endif
