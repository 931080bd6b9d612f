/*  gateway_client_watch: an actor whose thread polls its pipe and one epoll set. A hang-up is
    EPOLLRDHUP (the client's FIN), or EPOLLHUP/EPOLLERR (its reset); EPOLLIN is not asked
    for, as a pipelined next request is not a hang-up. EPOLLONESHOT: a hung-up socket stays
    ready until it is removed, and would otherwise wake the thread on every turn.

    Why no stale event can reach the next request of a reused slot: events are read
    (epoll_wait with no wait) and acted on under the same lock that gateway_client_watch_remove
    takes around EPOLL_CTL_DEL, and DEL drops an event the kernel has not handed out yet. So
    an event read is always for a registration that is still there, and once remove returns
    none can come for it. A client that only half-closes (shutdown(SHUT_WR), still reading)
    looks the same as one that left: nginx counts it as gone too (499); a route whose clients
    do that says cancel-on-disconnect=off. */
#include "gateway_client_watch.h"

#include <czmq.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define S_EVENTS_BATCH 64 /* events read per hold of the lock */

/* One watched socket, at the index of its descriptor. */
typedef struct {
    gateway_client_watch_fn *gone; /* NULL: not watched */
    void *arg;                     /* gone's argument */
    bool fired;                    /* gone was called: nothing more until removed */
} s_entry_t;

struct _gateway_client_watch_t {
    zactor_t *actor;      /* the watcher thread */
    int epoll_fd;         /* the watched sockets */
    pthread_mutex_t lock; /* guards entries and every change and read of the epoll set */
    s_entry_t *entries;   /* by descriptor */
    size_t capacity;      /* entries allocated */
};

/* Reads the ready events and calls each hang-up's function once. */
static void s_handle_events(gateway_client_watch_t *self)
{
    struct epoll_event events[S_EVENTS_BATCH];
    pthread_mutex_lock(&self->lock);
    int count = epoll_wait(self->epoll_fd, events, S_EVENTS_BATCH, 0);
    for (int i = 0; i < count; i++) {
        int fd = events[i].data.fd;
        s_entry_t *entry = fd >= 0 && (size_t) fd < self->capacity ? &self->entries[fd] : NULL;
        if (!entry || !entry->gone || entry->fired)
            continue;
        entry->fired = true;
        entry->gone(entry->arg);
    }
    pthread_mutex_unlock(&self->lock);
}

static void s_actor(zsock_t *pipe, void *args)
{
    gateway_client_watch_t *self = args;
    zsock_signal(pipe, 0);
    zmq_pollitem_t items[] = {
        {zsock_resolve(pipe), 0, ZMQ_POLLIN, 0},
        {NULL, self->epoll_fd, ZMQ_POLLIN, 0},
    };
    while (true) {
        if (zmq_poll(items, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (items[0].revents & ZMQ_POLLIN) {
            char *command = zstr_recv(pipe);
            bool stop = !command || streq(command, "$TERM");
            zstr_free(&command);
            if (stop)
                break;
        }
        if (items[1].revents & ZMQ_POLLIN)
            s_handle_events(self);
    }
}

gateway_client_watch_t *gateway_client_watch_new(void)
{
    gateway_client_watch_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    if (pthread_mutex_init(&self->lock, NULL) != 0)
        goto fail_mutex;
    self->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (self->epoll_fd < 0)
        goto fail_epoll;
    self->actor = zactor_new(s_actor, self);
    if (!self->actor)
        goto fail_actor;
    return self;

fail_actor:
    close(self->epoll_fd);
fail_epoll:
    pthread_mutex_destroy(&self->lock);
fail_mutex:
    free(self);
    return NULL;
}

void gateway_client_watch_destroy(gateway_client_watch_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gateway_client_watch_t *self = *self_p;
    zactor_destroy(&self->actor);
    close(self->epoll_fd);
    pthread_mutex_destroy(&self->lock);
    free(self->entries);
    free(self);
    *self_p = NULL;
}

/* Lock held: room for descriptor fd. */
static int s_reserve(gateway_client_watch_t *self, int fd)
{
    if ((size_t) fd < self->capacity)
        return 0;
    size_t capacity = self->capacity ? self->capacity : 64;
    while (capacity <= (size_t) fd)
        capacity *= 2;
    s_entry_t *entries = realloc(self->entries, capacity * sizeof *entries);
    if (!entries)
        return -1;
    memset(entries + self->capacity, 0, (capacity - self->capacity) * sizeof *entries);
    self->entries = entries;
    self->capacity = capacity;
    return 0;
}

int gateway_client_watch_add(gateway_client_watch_t *self, int fd, gateway_client_watch_fn *gone,
                             void *arg)
{
    assert(fd >= 0 && gone);
    struct epoll_event event = {.events = EPOLLRDHUP | EPOLLONESHOT, .data.fd = fd};
    int rc = -1;
    pthread_mutex_lock(&self->lock);
    /* Two registrations of one descriptor would be two requests on one connection at once:
       a bug, refused rather than letting one of them miss its hang-up. */
    if (s_reserve(self, fd) == 0 && !self->entries[fd].gone &&
        epoll_ctl(self->epoll_fd, EPOLL_CTL_ADD, fd, &event) == 0) {
        self->entries[fd] = (s_entry_t){.gone = gone, .arg = arg};
        rc = 0;
    }
    pthread_mutex_unlock(&self->lock);
    return rc;
}

void gateway_client_watch_remove(gateway_client_watch_t *self, int fd)
{
    pthread_mutex_lock(&self->lock);
    if (fd >= 0 && (size_t) fd < self->capacity && self->entries[fd].gone) {
        epoll_ctl(self->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
        self->entries[fd] = (s_entry_t){0};
    }
    pthread_mutex_unlock(&self->lock);
}
