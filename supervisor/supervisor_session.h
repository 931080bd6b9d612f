/*  supervisor_session: --own-session, the supervisor and its workers in a session of their
    own. On Linux a session is a scheduling group (autogroup): the CPU is shared fairly
    between groups, and a nice value ranks a process only against its own group. Slow
    workers at nice 10 in the cluster's session keep that group always runnable, so a /fast
    thread that wakes there waits for its group's turn behind any other session's load (a
    build in another terminal). In a group of their own, with the group's nice set to
    --nice, the slow workers yield to the rest of the machine as their nice value says, and
    the cluster's group sleeps between requests, so its wake-ups run at once. Not its
    business: the workers' own nice (supervisor_child.c). */
#ifndef SUPERVISOR_SESSION_H
#define SUPERVISOR_SESSION_H

/* Makes this process the leader of a new session, unless it leads one already (started by
   setsid(1) or systemd), then sets the session's scheduling-group nice to nice (logged if
   the kernel refuses: no autogroups, or a lower value without privilege). Returns 0, or -1
   if no session could be started: this process leads a process group (a shell's job). */
int supervisor_session_own(int nice);

#endif
