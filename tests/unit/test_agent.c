/*  Unit tests for sl_agent (the SLAGENT1 codec, docs/protocol.md section 7) and sl_token
    (the admin token: constant-time compare, checks, files). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "sl_agent.h"
#include "sl_defaults.h"
#include "sl_token.h"

static int s_decode(const char *a, const char *b, const char *c, sl_agent_msg_t *out,
                    const char **reason)
{
    const void *data[3] = {a, b, c};
    size_t size[3] = {strlen(a), strlen(b), c ? strlen(c) : 0};
    return sl_agent_decode_frames(data, size, c ? 3 : 2, out, reason);
}

/* "The first frame MUST be SLAGENT1; the second a command; STATUS and COMMAND carry one
   frame holding a JSON object; BYE and ALIVE carry none." */
static void test_decode_accepts_the_four_commands(void **state)
{
    sl_agent_msg_t msg;
    const char *reason = NULL;
    assert_int_equal(s_decode("SLAGENT1", "STATUS", "{\"host\":\"a\"}", &msg, &reason), 0);
    assert_int_equal(msg.command, SL_AGENT_STATUS);
    assert_string_equal(json_string_value(json_object_get(msg.body, "host")), "a");
    sl_agent_msg_reset(&msg);
    sl_agent_msg_reset(&msg); /* twice is safe */
    assert_int_equal(s_decode("SLAGENT1", "BYE", NULL, &msg, &reason), 0);
    assert_int_equal(msg.command, SL_AGENT_BYE);
    assert_int_equal(s_decode("SLAGENT1", "ALIVE", NULL, &msg, &reason), 0);
    assert_int_equal(msg.command, SL_AGENT_ALIVE);
    assert_null(msg.body);
    assert_int_equal(s_decode("SLAGENT1", "COMMAND", "{\"op\":\"stop\"}", &msg, &reason), 0);
    sl_agent_msg_reset(&msg);
}

static void test_decode_rejects_malformed(void **state)
{
    sl_agent_msg_t msg;
    const char *reason = NULL;
    assert_int_equal(s_decode("SLAGENT2", "STATUS", "{}", &msg, &reason), -1);
    assert_int_equal(s_decode("SLAGENT1", "HELLO", "{}", &msg, &reason), -1);
    assert_int_equal(s_decode("SLAGENT1", "STATUS", NULL, &msg, &reason), -1);
    assert_int_equal(s_decode("SLAGENT1", "STATUS", "[1,2]", &msg, &reason), -1);
    assert_string_equal(reason, "body_not_json_object");
    assert_int_equal(s_decode("SLAGENT1", "STATUS", "{bad", &msg, &reason), -1);
    assert_int_equal(s_decode("SLAGENT1", "BYE", "{}", &msg, &reason), -1);
    assert_int_equal(s_decode("SLAGENT1", "ALIVE", "{}", &msg, &reason), -1);
    assert_string_equal(reason, "alive_with_body");
}

static void test_encode_round_trip(void **state)
{
    json_t *body = json_pack("{s:s, s:i}", "op", "scale", "count", 3);
    zmsg_t *msg = sl_agent_encode(SL_AGENT_COMMAND, body);
    assert_true(sl_agent_is_agent(msg));
    sl_agent_msg_t out;
    const char *reason = NULL;
    assert_int_equal(sl_agent_decode(&msg, &out, &reason), 0);
    assert_null(msg);
    assert_int_equal(out.command, SL_AGENT_COMMAND);
    assert_int_equal(sl_agent_op_check(out.body, &reason), SL_AGENT_OP_SCALE);
    sl_agent_msg_reset(&out);
    json_decref(body);
}

static int s_op(const char *text)
{
    const char *reason = NULL;
    json_t *command = json_loads(text, 0, NULL);
    int op = sl_agent_op_check(command, &reason);
    json_decref(command);
    return op;
}

static void test_op_check(void **state)
{
    assert_int_equal(s_op("{\"op\":\"scale\",\"count\":0}"), SL_AGENT_OP_SCALE);
    assert_int_equal(s_op("{\"op\":\"scale\",\"count\":1024}"), SL_AGENT_OP_SCALE);
    assert_int_equal(s_op("{\"op\":\"scale\",\"count\":1025}"), -1);
    assert_int_equal(s_op("{\"op\":\"scale\",\"count\":-1}"), -1);
    assert_int_equal(s_op("{\"op\":\"scale\",\"count\":\"4\"}"), -1);
    assert_int_equal(s_op("{\"op\":\"restart\",\"roll\":\"abc\"}"), SL_AGENT_OP_RESTART);
    assert_int_equal(s_op("{\"op\":\"restart\",\"roll\":\"a b\"}"), -1);
    assert_int_equal(s_op("{\"op\":\"stop\"}"), SL_AGENT_OP_STOP);
    assert_int_equal(s_op("{\"op\":\"start\"}"), SL_AGENT_OP_START);
    assert_int_equal(s_op("{\"op\":\"status\"}"), SL_AGENT_OP_STATUS);
    assert_int_equal(s_op("{\"op\":\"broadcast\",\"id\":\"x1\",\"message\":\"m\"}"),
                     SL_AGENT_OP_BROADCAST);
    assert_int_equal(s_op("{\"op\":\"broadcast\",\"message\":\"m\"}"), -1);
    assert_int_equal(s_op("{\"op\":\"broadcast\",\"id\":\"x1\",\"message\":5}"), -1);
    assert_int_equal(s_op("{\"op\":\"load\",\"broker\":\"b1\",\"queued\":3,"
                          "\"oldest_wait_ms\":40}"),
                     SL_AGENT_OP_LOAD);
    assert_int_equal(s_op("{\"op\":\"load\",\"queued\":3,\"oldest_wait_ms\":40}"), -1);
    assert_int_equal(s_op("{\"op\":\"load\",\"broker\":\"b1\",\"queued\":-1,"
                          "\"oldest_wait_ms\":40}"),
                     -1);
    assert_int_equal(s_op("{\"op\":\"load\",\"broker\":\"b1\",\"queued\":3}"), -1);
    assert_int_equal(s_op("{\"op\":\"explode\"}"), -1);
    assert_int_equal(s_op("{}"), -1);
}

static void test_spread(void **state)
{
    int64_t share[3];
    sl_agent_spread(7, 3, share);
    assert_int_equal(share[0], 3);
    assert_int_equal(share[1], 2);
    assert_int_equal(share[2], 2);
    sl_agent_spread(1, 3, share);
    assert_int_equal(share[0] + share[1] + share[2], 1);
    sl_agent_spread(0, 3, share);
    assert_int_equal(share[0] + share[1] + share[2], 0);
}

static void test_token_equal(void **state)
{
    assert_true(sl_token_equal("0123456789abcdef", "0123456789abcdef"));
    assert_false(sl_token_equal("0123456789abcdef", "0123456789abcdeX"));
    assert_false(sl_token_equal("0123456789abcdef", "0123456789abcde"));
    assert_false(sl_token_equal("0123456789abcdef", "0123456789abcdef0"));
    assert_false(sl_token_equal("0123456789abcdef", ""));
    assert_false(sl_token_equal("", ""));
}

static void test_token_check_and_files(void **state)
{
    const char *reason = NULL;
    assert_int_equal(sl_token_check("short", &reason), -1);
    assert_int_equal(sl_token_check("has a space in it here", &reason), -1);
    char token[65];
    assert_int_equal(sl_token_generate(token), 0);
    assert_int_equal(strlen(token), 64);
    assert_int_equal(sl_token_check(token, &reason), 0);

    char dir[] = "/tmp/slowlane-token-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/sub/admin-token", dir);
    assert_int_equal(sl_token_write_file(path, token), 0);
    struct stat info;
    assert_int_equal(stat(path, &info), 0);
    assert_int_equal(info.st_mode & 0777, 0600);
    char read_back[SL_ADMIN_TOKEN_MAX + 1];
    bool loose = true;
    assert_int_equal(sl_token_read_file(path, read_back, sizeof read_back, &loose, &reason), 0);
    assert_string_equal(read_back, token);
    assert_false(loose);
    chmod(path, 0644);
    assert_int_equal(sl_token_read_file(path, read_back, sizeof read_back, &loose, &reason), 0);
    assert_true(loose);
    unlink(path);
    assert_int_equal(sl_token_read_file(path, read_back, sizeof read_back, &loose, &reason), -1);
    snprintf(path, sizeof path, "%s/sub", dir);
    rmdir(path);
    rmdir(dir);

    setenv("XDG_CONFIG_HOME", "/x", 1);
    assert_int_equal(sl_token_default_path(path, sizeof path), 0);
    assert_string_equal(path, "/x/slowlane/admin-token");
    unsetenv("XDG_CONFIG_HOME");
    setenv("HOME", "/home/y", 1);
    assert_int_equal(sl_token_default_path(path, sizeof path), 0);
    assert_string_equal(path, "/home/y/.config/slowlane/admin-token");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_accepts_the_four_commands),
        cmocka_unit_test(test_decode_rejects_malformed),
        cmocka_unit_test(test_encode_round_trip),
        cmocka_unit_test(test_op_check),
        cmocka_unit_test(test_spread),
        cmocka_unit_test(test_token_equal),
        cmocka_unit_test(test_token_check_and_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
