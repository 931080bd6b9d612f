/*  cli_http: the CLI's one way to the gateway (see cli_http.c). */
#ifndef CLI_HTTP_H
#define CLI_HTTP_H
#include <jansson.h>
#include <stdbool.h>

#include "sl_defaults.h"
#include "sl_flags.h"

typedef struct {
    const char *gateway;                /* base URL, borrowed */
    char token[SL_ADMIN_TOKEN_MAX + 1]; /* admin bearer token, "" for none */
} cli_http_t;

/* The three flags of every verb that calls the admin API, for an sl_flag_t array: the
   gateway's URL and where the admin token comes from (char * variables, freed by the verb). */
// The three initializers stay one per line: clang-format would fold them into one.
// clang-format off
#define CLI_HTTP_FLAGS(gateway, token, token_file)                                              \
    {"gateway", SL_FLAG_STRING, &(gateway), 0, 0,                                               \
     "gateway URL (default " SL_DEFAULT_GATEWAY_URL ")"},                                       \
    {"admin-token", SL_FLAG_STRING, &(token), 0, 0, "admin bearer token"},                      \
    {"admin-token-file", SL_FLAG_STRING, &(token_file), 0, 0,                                   \
     "file with the admin token (default: the one `slowlane up` writes)"}
// clang-format on

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
