/*  supervisor_policy: the restart policy of slowlane-worker over its slot table: when a
    slot starts, why a worker ended and what follows (backoff, crash-loop stop, at once for
    planned exits), job timeout, max-requests and max-RSS recycling, the SIGTERM drain, the
    rolling restart, scale/stop/start and broadcasts. Processes, pipes and /proc are
    supervisor_children.c's; the broker is the agent's; the loop is supervisor.c's. */
#ifndef SUPERVISOR_POLICY_H
#define SUPERVISOR_POLICY_H

#include <stdbool.h>
#include "supervisor.h"
#include "supervisor_agent.h"
#include "supervisor_children.h"
#include "supervisor_snapshot.h"

typedef struct _supervisor_policy_t supervisor_policy_t;

/* A policy of config->count wanted workers over children (borrowed); none is started
   until the first supervisor_policy_run_timers. NULL if out of memory. */
supervisor_policy_t *supervisor_policy_new(const supervisor_config_t *config,
                                           supervisor_children_t *children);

/* Frees the policy; safe on NULL and twice. */
void supervisor_policy_destroy(supervisor_policy_t **self_p);

/* Starts, stops and kills what is due now. */
void supervisor_policy_run_timers(supervisor_policy_t *self);

/* Milliseconds until supervisor_policy_run_timers has something to do (at most 1000). */
int supervisor_policy_wait_ms(const supervisor_policy_t *self);

/* Slots that may hold a child: every slot at and above is empty. */
int supervisor_policy_slot_count(const supervisor_policy_t *self);

/* Handles the events waiting on slot index's pipe (registered, job start and end,
   broadcast handled). */
void supervisor_policy_read_events(supervisor_policy_t *self, int index);

/* SIGCHLD: reaps every child that ended and decides what each exit means. */
void supervisor_policy_reap(supervisor_policy_t *self);

/* SIGTERM/SIGINT: drains every worker (SIGKILL after the drain timeout); a second one
   kills at once. */
void supervisor_policy_shut_down(supervisor_policy_t *self, int signal_number);

/* SIGHUP (roll_id NULL) or the restart command: a rolling restart, one worker at a time;
   roll_id is reported as roll_done once the last slot is back. A roll_id under way or
   last done is ignored (a command repeated through another broker). */
void supervisor_policy_roll(supervisor_policy_t *self, const char *roll_id);

/* Applies one of the broker's commands. */
void supervisor_policy_apply(supervisor_policy_t *self, const supervisor_command_t *command);

/* True once shutting down with no child left. */
bool supervisor_policy_finished(const supervisor_policy_t *self);

/* News since the last report: *changed (slots, targets, rolls), *activity (jobs). */
void supervisor_policy_news(const supervisor_policy_t *self, bool *changed, bool *activity);

/* The news went out in a STATUS. */
void supervisor_policy_news_reported(supervisor_policy_t *self);

/* Fills snapshot (its workers array is the caller's, SL_MAX_WORKER_SLOTS long) with the
   slot table now; its strings are borrowed from the policy until it next runs. */
void supervisor_policy_snapshot(const supervisor_policy_t *self, supervisor_snapshot_t *snapshot);

#endif
