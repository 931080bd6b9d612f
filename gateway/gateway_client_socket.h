/*  gateway_client_socket: the descriptor of a civetweb connection's TCP socket, which
    civetweb 1.15 (Debian's) keeps private: no accessor, and the connection struct is opaque.
    It is found by its addresses instead. Only cancel-on-disconnect needs it (gateway_relay),
    once per request that waits long. What is done with the socket is gateway_client_watch's. */
#ifndef GATEWAY_CLIENT_SOCKET_H
#define GATEWAY_CLIENT_SOCKET_H

#include <civetweb.h>

/* The descriptor of the socket of the connection info describes (server_port, remote_addr,
   remote_port), or -1 if no socket matches. first, then hint (each may be -1) are tried before
   the walk of every descriptor: first the socket the thread read the request from, hint the
   one found for an earlier request on the same thread (a keep-alive connection); each costs
   three system calls. Borrowed: civetweb closes it after the request. */
int gateway_client_socket_find(const struct mg_request_info *info, int first, int hint);

#endif
