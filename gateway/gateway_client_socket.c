/*  gateway_client_socket: a connection's socket is the one descriptor of this process whose
    local port is the connection's and whose peer is the client's address and port: while a
    TCP connection is open its four-tuple names it alone (the listening socket has no peer;
    the gateway's own connections to brokers have another local port). The candidates the
    caller knows are checked first: the socket its thread last received from (the request's
    own, as gateway_head_buffer sees civetweb read it) and the one found before on the same
    thread. The walk of /proc/self/fd, a system call or two per descriptor (a few milliseconds
    with thousands of connections), is the fallback, for a request whose socket is neither.
    A descriptor of another thread may close or be reused under the walk: it then no longer
    matches, and ours cannot close, as civetweb closes it on this thread after the request.
    Why a hint checked by its four-tuple each time rather than civetweb's per-connection user
    data (init_connection): it is right whatever civetweb does with that data between the
    requests of a keep-alive connection, and costs nothing per connection that never waits. */
#define _GNU_SOURCE
#include "gateway_client_socket.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

/* An address and port, an IPv4-mapped IPv6 address as the IPv4 address it maps (civetweb
   may print either form of a client of a dual-stack listener). */
typedef struct {
    unsigned char bytes[16]; /* network order */
    size_t size;             /* 4 or 16 */
    int port;                /* host order */
} s_endpoint_t;

static const unsigned char s_v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static void s_set_v6(s_endpoint_t *self, const unsigned char bytes[16])
{
    bool mapped = memcmp(bytes, s_v4_mapped, sizeof s_v4_mapped) == 0;
    self->size = mapped ? 4 : 16;
    memcpy(self->bytes, mapped ? bytes + 12 : bytes, self->size);
}

/* From civetweb's printed remote_addr; false if it is neither form (an IPv6 zone). */
static bool s_from_text(s_endpoint_t *self, const char *text, int port)
{
    unsigned char bytes[16];
    self->port = port;
    if (inet_pton(AF_INET, text, bytes) == 1) {
        self->size = 4;
        memcpy(self->bytes, bytes, 4);
        return true;
    }
    if (inet_pton(AF_INET6, text, bytes) == 1) {
        s_set_v6(self, bytes);
        return true;
    }
    return false;
}

static bool s_from_sockaddr(s_endpoint_t *self, const struct sockaddr_storage *address)
{
    if (address->ss_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *) address;
        self->size = 4;
        memcpy(self->bytes, &v4->sin_addr, 4);
        self->port = ntohs(v4->sin_port);
        return true;
    }
    if (address->ss_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *) address;
        s_set_v6(self, v6->sin6_addr.s6_addr);
        self->port = ntohs(v6->sin6_port);
        return true;
    }
    return false;
}

/* True if fd is a TCP socket on local_port whose peer is client. The local port is asked
   first: it rules out almost every other descriptor with one call (ENOTSOCK for files). */
static bool s_matches(int fd, int local_port, const s_endpoint_t *client)
{
    struct sockaddr_storage address;
    socklen_t size = sizeof address;
    s_endpoint_t found;
    if (getsockname(fd, (struct sockaddr *) &address, &size) != 0 ||
        !s_from_sockaddr(&found, &address) || found.port != local_port)
        return false;
    size = sizeof address;
    if (getpeername(fd, (struct sockaddr *) &address, &size) != 0 ||
        !s_from_sockaddr(&found, &address) || found.port != client->port ||
        found.size != client->size || memcmp(found.bytes, client->bytes, found.size) != 0)
        return false;
    int type = 0;
    size = sizeof type;
    return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &size) == 0 && type == SOCK_STREAM;
}

int gateway_client_socket_find(const struct mg_request_info *info, int first, int hint)
{
    s_endpoint_t client;
    if (!info || info->server_port <= 0 ||
        !s_from_text(&client, info->remote_addr, info->remote_port))
        return -1;
    if (first >= 0 && s_matches(first, info->server_port, &client))
        return first;
    if (hint >= 0 && hint != first && s_matches(hint, info->server_port, &client))
        return hint;
    /* getdents64 into a buffer on the stack, not opendir(): its 32 KiB buffer would be the
       first malloc of many an HTTP thread, and give each its own malloc arena (megabytes of
       resident memory across a few hundred threads). */
    int directory = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (directory < 0)
        return -1;
    int found = -1;
    char buffer[4096] __attribute__((aligned(8)));
    long size;
    while (found < 0 && (size = syscall(SYS_getdents64, directory, buffer, sizeof buffer)) > 0) {
        for (long offset = 0; offset < size && found < 0;) {
            const struct dirent64 *entry = (const struct dirent64 *) (buffer + offset);
            offset += entry->d_reclen;
            char *end;
            long fd = strtol(entry->d_name, &end, 10);
            if (end == entry->d_name || *end || fd < 0 || fd == directory)
                continue; /* "." and "..", and the walk's own descriptor */
            if (s_matches((int) fd, info->server_port, &client))
                found = (int) fd;
        }
    }
    close(directory);
    return found;
}
