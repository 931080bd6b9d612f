/*  supervisor: slowlane-worker's loop and composition root (see supervisor.h). One thread,
    one poll over the self-pipe (signals), the agent's sockets (one per broker) and each
    child's event pipe.
    It builds the children table, the policy and the agent, then carries signals, child
    events and the broker's commands to the policy, and the policy's snapshots to the
    agent. It decides nothing itself: policy is supervisor_policy.c's, processes are
    supervisor_children.c's, the broker is supervisor_agent.c's. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>
#include "sl_defaults.h"
#include "sl_log.h"
#include "supervisor_agent.h"
#include "supervisor_children.h"
#include "supervisor_policy.h"
#include "supervisor_signals.h"

//  supervisor_fork_fn: the agent's context ends before every fork.
static void s_suspend_agent(void *agent)
{
    supervisor_agent_suspend(agent);
}

static void s_handle_signals(supervisor_policy_t *policy)
{
    char signals[64];
    ssize_t size;
    while ((size = supervisor_signals_read(signals, sizeof signals)) > 0)
        for (ssize_t i = 0; i < size; i++) {
            if (signals[i] == SIGCHLD)
                supervisor_policy_reap(policy);
            else if (signals[i] == SIGTERM || signals[i] == SIGINT)
                supervisor_policy_shut_down(policy, signals[i]);
            else if (signals[i] == SIGHUP)
                supervisor_policy_roll(policy, NULL); // ignored while shutting down
        }
}

//  The agent's turn: applies every command waiting, reports if due (a snapshot only for a
//  whole STATUS: it reads /proc for every worker). Returns ms until it wants to run again.
static int64_t s_agent_turn(supervisor_agent_t *agent, supervisor_policy_t *policy,
                            supervisor_snapshot_t *snapshot)
{
    supervisor_command_t command;
    int rc;
    while ((rc = supervisor_agent_receive(agent, &command)) == 1)
        supervisor_policy_apply(policy, &command);
    if (rc == -1)
        return 1000; // closed and could not reopen: try again
    bool changed, activity;
    supervisor_policy_news(policy, &changed, &activity);
    supervisor_agent_due_t due = supervisor_agent_due(agent, changed, activity);
    if (due != SUPERVISOR_AGENT_QUIET) {
        const supervisor_snapshot_t *status = NULL;
        if (due == SUPERVISOR_AGENT_STATUS) {
            supervisor_policy_snapshot(policy, snapshot);
            status = snapshot;
        }
        supervisor_agent_send(agent, status);
        if (due == SUPERVISOR_AGENT_STATUS) {
            supervisor_policy_news_reported(policy); // a broker that missed it is owed it
            changed = false;
        }
    }
    return supervisor_agent_wait_ms(agent, changed);
}

//  Polls until something happens or a timer is due, and hands what happened on.
static int s_poll(supervisor_policy_t *policy, supervisor_children_t *children,
                  supervisor_agent_t *agent, struct pollfd *fds, int64_t agent_wait)
{
    fds[0] = (struct pollfd){supervisor_signals_fd(), POLLIN, 0};
    int used = 1;
    int agent_fds[SL_MAX_BROKERS];
    int agent_count = agent ? supervisor_agent_fds(agent, agent_fds, SL_MAX_BROKERS) : 0;
    for (int i = 0; i < agent_count; i++)
        fds[used++] = (struct pollfd){agent_fds[i], POLLIN, 0};
    int first_child = used;
    int slot_count = supervisor_policy_slot_count(policy);
    for (int i = 0; i < slot_count; i++) {
        int fd = supervisor_children_events_fd(children, i);
        if (fd != -1)
            fds[used++] = (struct pollfd){fd, POLLIN, 0};
    }
    int timeout = supervisor_policy_wait_ms(policy);
    if (agent_wait < timeout)
        timeout = agent_wait < 0 ? 0 : (int) agent_wait;
    if (poll(fds, used, timeout) == -1 && errno != EINTR)
        return -1;
    for (int n = first_child; n < used; n++)
        if (fds[n].revents)
            for (int i = 0; i < slot_count; i++)
                if (supervisor_children_events_fd(children, i) == fds[n].fd) {
                    supervisor_policy_read_events(policy, i);
                    break;
                }
    if (fds[0].revents)
        s_handle_signals(policy);
    return 0;
}

int supervisor_run(const supervisor_config_t *config)
{
    //  Orphans of dead workers become our children, so their strays can be found and killed
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
        sl_log(SL_LOG_WARN, NULL, "subreaper_failed", "errno=%d", errno);
    supervisor_children_t *children = supervisor_children_new(config);
    supervisor_policy_t *policy = children ? supervisor_policy_new(config, children) : NULL;
    //  The self-pipe, one socket per broker, one pipe per slot
    struct pollfd *fds = calloc(1 + SL_MAX_BROKERS + SL_MAX_WORKER_SLOTS, sizeof(struct pollfd));
    supervisor_snapshot_t snapshot = {
        .workers = calloc(SL_MAX_WORKER_SLOTS, sizeof(supervisor_worker_view_t))};
    if (!policy || !fds || !snapshot.workers || supervisor_signals_install() == -1) {
        fprintf(stderr, "slowlane-worker: cannot set up the supervisor: %s\n", strerror(errno));
        supervisor_policy_destroy(&policy);
        supervisor_children_destroy(&children);
        free(fds);
        free(snapshot.workers);
        return 1;
    }
    sl_log(SL_LOG_INFO, NULL, "supervisor_started", "pid=%d service=%s count=%d brokers=%d host=%s",
           (int) getpid(), config->service, config->count, config->broker_count, config->host);
    //  An MDP/0.1 broker is not slowlane's: it would drop the agent's messages as invalid
    bool agent_wanted = !config->mdp || strcmp(config->mdp, "0.1") != 0;
    supervisor_agent_t *agent = agent_wanted ? supervisor_agent_new(config) : NULL;
    if (!agent_wanted)
        sl_log(SL_LOG_INFO, NULL, "agent_off", "reason=mdp_0.1");
    if (agent)
        supervisor_children_before_fork(children, s_suspend_agent, agent);
    while (!supervisor_policy_finished(policy)) {
        supervisor_policy_run_timers(policy);
        int64_t agent_wait = agent ? s_agent_turn(agent, policy, &snapshot) : 1000;
        if (s_poll(policy, children, agent, fds, agent_wait) == -1)
            break;
    }
    supervisor_children_kill_strays(children); // no worker is left: nothing they started either
    supervisor_agent_destroy(&agent);
    sl_log(SL_LOG_INFO, NULL, "supervisor_stopped", NULL);
    supervisor_policy_destroy(&policy);
    supervisor_children_destroy(&children);
    free(fds);
    free(snapshot.workers);
    return 0;
}
