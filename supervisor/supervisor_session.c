/*  supervisor_session: see supervisor_session.h. The group's nice is written to
    /proc/self/autogroup, which any process may raise for its own group. */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include "sl_log.h"
#include "supervisor_session.h"

int supervisor_session_own(int nice)
{
    if (getsid(0) != getpid() && setsid() == -1)
        return -1;
    if (nice == 0) {
        sl_log(SL_LOG_INFO, NULL, "session_started", "nice=0");
        return 0; // a new group starts at 0
    }
    FILE *group = fopen("/proc/self/autogroup", "w");
    int written = group ? fprintf(group, "%d", nice) : -1;
    //  The kernel answers the write when the buffer is flushed
    int closed = group ? fclose(group) : -1;
    if (written < 0 || closed != 0)
        sl_log(SL_LOG_WARN, NULL, "session_nice_failed", "nice=%d errno=%d", nice, errno);
    else
        sl_log(SL_LOG_INFO, NULL, "session_started", "nice=%d", nice);
    return 0;
}
