/*  broker_curve: the live CURVE resources a broker's flags ask for -- the server key pair
    and the ZAP authenticator that admits listed clients -- or none, for plaintext. Made by
    the program that runs the broker (slowlane-broker, or the gateway embedding one) from
    its broker_options, and kept until the broker's ROUTER is gone. Flags are
    broker_options'; applying the key pair to the socket is broker_router's. */
#ifndef BROKER_CURVE_H
#define BROKER_CURVE_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include "broker_options.h"

typedef struct _broker_curve_t broker_curve_t;

/* Loads the CURVE key pair and starts the authenticator when options set --curve-secret
   (with --curve-clients), else makes a plaintext one holding nothing. Returns NULL with one
   line in error naming the flag (as the flags were named: "broker-..." when prefixed). */
broker_curve_t *broker_curve_new(const broker_options_t *options, bool prefixed, char *error,
                                 size_t size);

/* Stops the authenticator, frees the key pair and clears the pointer; safe on NULL. Call
   after the broker's ROUTER is gone. */
void broker_curve_destroy(broker_curve_t **self_p);

/* The server key pair (borrowed), or NULL for plaintext; NULL on a NULL self. */
zcert_t *broker_curve_cert(const broker_curve_t *self);

/* Public keys the authenticator admits (0 for plaintext or a NULL self). */
size_t broker_curve_client_count(const broker_curve_t *self);

#endif
