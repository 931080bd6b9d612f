/*  sl_io_threads: one ZeroMQ I/O thread per broker (sl_io_threads.h says why). */
#include "sl_io_threads.h"

#include <stdio.h>
#include <stdlib.h>
#include <zmq.h>

#include "sl_defaults.h"

static int s_threads_for(size_t brokers)
{
    if (brokers < 1)
        return 1;
    return brokers > SL_MAX_BROKERS ? SL_MAX_BROKERS : (int) brokers;
}

void sl_io_threads_request(size_t brokers)
{
    if (getenv("ZSYS_IO_THREADS"))
        return; /* the operator's choice */
    char value[16];
    snprintf(value, sizeof value, "%d", s_threads_for(brokers));
    setenv("ZSYS_IO_THREADS", value, 0);
}

void sl_io_threads_size(void *context, size_t brokers)
{
    zmq_ctx_set(context, ZMQ_IO_THREADS, s_threads_for(brokers));
}

uint64_t sl_io_threads_affinity(void *context, size_t broker_index)
{
    int threads = context ? zmq_ctx_get(context, ZMQ_IO_THREADS) : 1;
    if (threads <= 1)
        return 0;
    if (threads > 64)
        threads = 64; /* the affinity mask's width */
    return UINT64_C(1) << (broker_index % (size_t) threads);
}
