/*  sl_io_threads: one ZeroMQ I/O thread per broker a process talks to.

    libzmq resolves a host name in the I/O thread that owns the connection, synchronously
    (getaddrinfo). A name whose lookup hangs (a DNS server that does not answer; Swarm's DNS
    asked for a broker service with no task while it moves to another node) stalls that
    thread for the resolver's whole timeout: ten seconds with glibc's defaults. With every
    broker's sockets on one thread, the heartbeats to the healthy brokers stall too, and they
    take the process for dead. So each broker's sockets are pinned (ZMQ_AFFINITY) to an I/O
    thread of their own, and a lookup stalls only its own broker.

    Owns no thread and no socket: it sizes a context and says which thread a broker's sockets
    use. Knows a broker only by its index in the process's list of brokers. */
#ifndef SL_IO_THREADS_H
#define SL_IO_THREADS_H

#include <stddef.h>
#include <stdint.h>

/* Asks czmq's context for one I/O thread per broker (at most SL_MAX_BROKERS), through
   ZSYS_IO_THREADS, unless that is set already. Call before the process's first czmq socket;
   after it, the context keeps the threads it has and sl_io_threads_affinity adapts. */
void sl_io_threads_request(size_t brokers);

/* Sets a raw context's I/O threads to one per broker; before its first socket. */
void sl_io_threads_size(void *context, size_t brokers);

/* The ZMQ_AFFINITY of the sockets of the broker at broker_index, in context (zsys_init() for
   czmq's): that broker's own I/O thread, modulo the threads the context has; 0 (any) when it
   has one. */
uint64_t sl_io_threads_affinity(void *context, size_t broker_index);

#endif
