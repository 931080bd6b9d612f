/*  sl_mdp_io: Majordomo messages read off and written onto a socket (a zsock_t or a libzmq
    handle) directly, for the hot path: the same checks and layout as the codec (sl_mdp),
    without a czmq message built in between. */
#ifndef SL_MDP_IO_H
#define SL_MDP_IO_H

#include <czmq.h>
#include <stdbool.h>

#include "sl_mdp.h"

typedef enum {
    SL_MDP_RECV_NONE = 0,  /* no message was waiting (or the receive was interrupted) */
    SL_MDP_RECV_OK,        /* out holds the decoded message */
    SL_MDP_RECV_MALFORMED, /* a message was read and dropped; *reason names what was wrong */
    SL_MDP_RECV_FOREIGN    /* its first frame names no MDP protocol: *foreign_p holds it */
} sl_mdp_recv_result_t;

/* Receives one message from socket (a zsock_t or libzmq handle) and decodes it: what
   zmsg_recv and sl_mdp_decode do together, with the same checks and reasons, for the hot
   path. Header frames are read into libzmq messages on the stack and checked there; the
   routing id, service and address become small czmq copies; body frames are received as
   czmq frames, never copied. Blocks as the socket's receive timeout says.
   sender_p: for a ROUTER, receives the routing-id frame (owned; may be set even when the
   rest is malformed); NULL for a DEALER. foreign_p: if not NULL, a message whose first frame
   (after the routing id) is not an MDP protocol is handed over whole instead of counted as
   malformed. out is reset by sl_mdp_msg_reset as after sl_mdp_decode. */
sl_mdp_recv_result_t sl_mdp_recv(void *socket, sl_mdp_direction_t direction, zframe_t **sender_p,
                                 sl_mdp_msg_t *out, zmsg_t **foreign_p, const char **reason);

/* Senders: the messages of sl_mdp_encode_worker_job and sl_mdp_encode_client_reply written
   straight to socket (a zsock_t or a libzmq handle), for the hot path. No czmq message is
   built: header frames go into libzmq's own small-message storage, body frames are moved.
   to: the ROUTER routing id to send to, or NULL on a DEALER. Each takes ownership of *body_p
   (may be NULL for no body) and returns 0, or -1 if the socket refused the message (e.g.
   no route or full: the message is dropped, as zmsg_send's caller would drop it). */

/* Broker -> worker REQUEST, worker -> broker PARTIAL/FINAL; address is address_size bytes.
   keep_body: the body frames go out as zero-copy references and *body_p stays the caller's
   (a broker keeps a retryable request's body for a re-delivery). */
int sl_mdp_send_worker_job(void *socket, zframe_t *to, sl_mdp_version_t version,
                           sl_mdp_command_t command, const void *address, size_t address_size,
                           zmsg_t **body_p, bool keep_body);
/* Broker -> client PARTIAL (0.2 only) or FINAL; service is the frame to echo back; first, if
   not NULL, is sent as an extra first body frame (the request-id frame of envelope replies). */
int sl_mdp_send_client_reply(void *socket, zframe_t *to, sl_mdp_version_t version,
                             sl_mdp_command_t command, zframe_t *service, const char *first,
                             zmsg_t **body_p);

#endif
