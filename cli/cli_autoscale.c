/*  cli_autoscale: `slowlane autoscale SERVICE --min N --max M [--target-wait-ms W]
    [--cooldown-s S]` and `slowlane autoscale SERVICE --off`: sets or removes a service's
    autoscaling policy through the gateway's admin API (POST /api/v1/services/S/autoscale,
    docs/admin-api.md), which hands it to the broker (docs/protocol.md 7.4). The decisions
    are the broker's; this only says what the operator wants. */
#include "cli_autoscale.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_http.h"
#include "sl_flags.h"

int cli_autoscale_run(int argc, char **argv)
{
    char *gateway = NULL, *token = NULL, *token_file = NULL;
    int64_t min = -1, max = -1, target_wait_ms = 500, cooldown_s = 30;
    bool off = false;
    sl_strlist_t args = {0};
    sl_flag_t flags[] = {
        CLI_HTTP_FLAGS(gateway, token, token_file),
        {"min", SL_FLAG_INT, &min, 0, 10000, "never fewer workers (0: none while idle)"},
        {"max", SL_FLAG_INT, &max, 1, 10000, "never more workers"},
        {"target-wait-ms", SL_FLAG_INT, &target_wait_ms, 1, 3600000,
         "grow when the oldest queued request waited longer (500)"},
        {"cooldown-s", SL_FLAG_INT, &cooldown_s, 0, 86400,
         "shrink one worker per this long of idle workers (30)"},
        {"off", SL_FLAG_BOOL, &off, 0, 0, "remove the service's policy"},
    };
    cli_http_t http = {.gateway = SL_DEFAULT_GATEWAY_URL};
    int rc = sl_flags_parse("slowlane autoscale", flags, sizeof flags / sizeof flags[0], argc, argv,
                            1, &args);
    if (rc != 0) {
        rc = rc > 0 ? 0 : 2;
        goto done;
    }
    if (args.count != 1 || (!off && (min < 0 || max < 0))) {
        fprintf(stderr, "usage: slowlane autoscale SERVICE --min N --max M [--target-wait-ms W] "
                        "[--cooldown-s S] | slowlane autoscale SERVICE --off\n");
        rc = 2;
        goto done;
    }
    if (gateway)
        http.gateway = gateway;
    if (cli_http_token(&http, token, token_file) != 0) {
        rc = 2;
        goto done;
    }
    json_t *body = off ? json_pack("{s:b}", "off", 1)
                       : json_pack("{s:I, s:I, s:I, s:I}", "min", (json_int_t) min, "max",
                                   (json_int_t) max, "target_wait_ms", (json_int_t) target_wait_ms,
                                   "cooldown_ms", (json_int_t) cooldown_s * 1000);
    char path[512];
    snprintf(path, sizeof path, "/api/v1/services/%s/autoscale", args.items[0]);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    json_t *answer = NULL;
    long status = cli_http_call(&http, "POST", path, body, &answer);
    json_decref(body);
    if (status < 200 || status > 299) {
        cli_http_explain(status, answer);
        rc = 1;
    } else if (off) {
        printf("%s: autoscaling off\n", args.items[0]);
    } else {
        printf("%s: autoscaling between %lld and %lld workers (target wait %lld ms, cooldown "
               "%lld s)\n",
               args.items[0], (long long) min, (long long) max, (long long) target_wait_ms,
               (long long) cooldown_s);
    }
    json_decref(answer);
    curl_global_cleanup();
done:
    explicit_bzero(http.token, sizeof http.token);
    free(gateway);
    free(token);
    free(token_file);
    sl_strlist_clear(&args);
    return rc;
}
