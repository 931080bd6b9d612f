/*  gateway_client_watch: one thread that notices HTTP clients hanging up while their requests
    wait for the broker. A waiting request registers its connection's socket; the thread
    sleeps in epoll on all of them at once and, when a client hangs up, calls that
    registration's function once. Finding the socket is gateway_client_socket's, what a
    hang-up means for the request gateway_relay's. */
#ifndef GATEWAY_CLIENT_WATCH_H
#define GATEWAY_CLIENT_WATCH_H

/* Called when a watched client hangs up. */
typedef void(gateway_client_watch_fn)(void *arg);

typedef struct _gateway_client_watch_t gateway_client_watch_t;

/* Starts the watcher thread. NULL on failure. */
gateway_client_watch_t *gateway_client_watch_new(void);

/* Stops the thread; safe on NULL and twice. Nothing may be watched any more. */
void gateway_client_watch_destroy(gateway_client_watch_t **self_p);

/* Watches fd, a connected socket (borrowed: removed before it is closed), until
   gateway_client_watch_remove: when its peer hangs up, gone(arg) is called once, on the
   watcher's thread and under its lock, so it must be short and must not call the watcher. A
   peer already gone is reported at once. Returns 0, or -1 (nothing is watched). */
int gateway_client_watch_add(gateway_client_watch_t *self, int fd, gateway_client_watch_fn *gone,
                             void *arg);

/* Stops watching fd. Once it returns, gone is neither running nor called again for it: its
   arg may be reused. */
void gateway_client_watch_remove(gateway_client_watch_t *self, int fd);

#endif
