/*  cli_http: the CLI's one way to the gateway (see cli_http.c). */
#ifndef CLI_HTTP_H
#define CLI_HTTP_H
#include <jansson.h>
#include <stdbool.h>

#include "sl_defaults.h"

typedef struct {
    const char *gateway;                /* base URL, borrowed */
    char token[SL_ADMIN_TOKEN_MAX + 1]; /* admin bearer token, "" for none */
} cli_http_t;

/* One request (body: JSON for POST, may be NULL); returns the HTTP status (0: no answer,
   message on stderr) and the parsed JSON body in *answer (NULL if not JSON). */
long cli_http_call(const cli_http_t *options, const char *method, const char *path, json_t *body,
                   json_t **answer);
/* True if an error answer names this cause. */
bool cli_http_error_is(const json_t *answer, const char *cause);
/* Says why a call failed, in one line on stderr. */
void cli_http_explain(long status, json_t *answer);
/* Fills options->token from given, else file, else the default file. Returns 0, or -1 with
   one line on stderr. */
int cli_http_token(cli_http_t *options, const char *given, const char *file);
#endif
