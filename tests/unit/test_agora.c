/* Unit tests for the Agora provider: validation, URL and Basic auth, failover order, status
 * names and the interpretation of every reply fixture. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <lua.h>
#include <lauxlib.h>
#include "agora.h"
#include "schema.h"
#include "fixture.h"
#include "lnorm.h"

static agora_query_params base_params(void) {
  agora_query_params p = {"appid123", "rid-_~Ab", "sid456", NULL};
  return p;
}

static void expect_invalid(const agora_query_params *p, const char *phrase) {
  rec_err e;
  memset(&e, 0, sizeof e);
  assert_int_not_equal(agora_validate_query(p, &e), 0);
  assert_int_equal(e.kind, REC_E_INVALID_ARGUMENT);
  assert_int_equal(e.retryable, 0);
  if (!strstr(e.message, phrase)) fail_msg("\"%s\" lacks \"%s\"", e.message, phrase);
}

static void test_validate(void **state) {
  agora_query_params p = base_params();
  rec_err e;
  (void)state;
  assert_int_equal(agora_validate_query(&p, &e), 0);  /* mode NULL means mix */
  p.mode = "individual";
  assert_int_equal(agora_validate_query(&p, &e), 0);
  p.mode = "web";
  assert_int_equal(agora_validate_query(&p, &e), 0);
  p.mode = "mix";
  assert_int_equal(agora_validate_query(&p, &e), 0);
  p.mode = "foo";
  expect_invalid(&p, "mode \"foo\"");
  p.mode = "Mix";
  expect_invalid(&p, "individual");
  p = base_params();
  p.sid = "";
  expect_invalid(&p, "sid is required");
  p.sid = NULL;
  expect_invalid(&p, "sid");
  p = base_params();
  p.appid = NULL;
  expect_invalid(&p, "appid");
  p = base_params();
  p.resourceid = "a/b";
  expect_invalid(&p, "resourceid must not contain '/'");
  p.resourceid = "a\nb";
  expect_invalid(&p, "control characters");
  expect_invalid(NULL, "agora");
}

static void test_url(void **state) {
  agora_query_params p = base_params();
  rec_err e;
  char *url;
  (void)state;
  url = agora_build_query_url("http://127.0.0.1:9000/", &p, &e);
  assert_non_null(url);
  assert_string_equal(url, "http://127.0.0.1:9000/v1/apps/appid123/cloud_recording/resourceid/"
                           "rid-_~Ab/sid/sid456/mode/mix/query");
  free(url);
  p.mode = "web";
  url = agora_build_query_url(NULL, &p, &e);
  assert_non_null(url);
  assert_string_equal(url, "https://api.sd-rtn.com/v1/apps/appid123/cloud_recording/resourceid/"
                           "rid-_~Ab/sid/sid456/mode/web/query");
  free(url);
}

static void test_url_escapes_segments(void **state) {
  /* Unreserved characters stay; space, '+', '%', '?', '#' and UTF-8 are escaped. */
  agora_query_params p = {"a b", "x+y%z", "s?#\xe9\xa2\x91", "individual"};
  rec_err e;
  char *url = agora_build_query_url("https://h", &p, &e);
  (void)state;
  assert_non_null(url);
  assert_string_equal(url, "https://h/v1/apps/a%20b/cloud_recording/resourceid/x%2By%25z/sid/"
                           "s%3F%23%E9%A2%91/mode/individual/query");
  free(url);
  p.mode = "foo";
  assert_null(agora_build_query_url("https://h", &p, &e));
  assert_int_equal(e.kind, REC_E_INVALID_ARGUMENT);
}

static void test_basic_auth(void **state) {
  /* RFC 7617's example; the second computed with python3 base64.b64encode("客户:秘密"). */
  char *a = agora_basic_auth("Aladdin", "open sesame");
  char *b = agora_basic_auth("\xe5\xae\xa2\xe6\x88\xb7", "\xe7\xa7\x98\xe5\xaf\x86");
  (void)state;
  assert_non_null(a);
  assert_string_equal(a, "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
  assert_non_null(b);
  assert_string_equal(b, "Basic 5a6i5oi3OuenmOWvhg==");
  assert_null(agora_basic_auth(NULL, "x"));
  free(a);
  free(b);
}

static void test_default_hosts(void **state) {
  static const char *const regions[] = {"us-west-1", "us-east-1", "ap-southeast-1",
                                        "ap-northeast-1", "eu-west-1", "eu-central-1",
                                        "cn-east-1", "cn-north-1"};
  char want[96];
  size_t i, j;
  (void)state;
  assert_int_equal(agora_default_hosts_count, 18);
  assert_string_equal(agora_default_hosts[0], "https://api.sd-rtn.com");
  assert_string_equal(agora_default_hosts[1], "https://api.agora.io");
  for (i = 0; i < 8; i++) {
    snprintf(want, sizeof want, "https://api-%s.sd-rtn.com", regions[i]);
    assert_string_equal(agora_default_hosts[2 + i], want);
    snprintf(want, sizeof want, "https://api-%s.agora.io", regions[i]);
    assert_string_equal(agora_default_hosts[10 + i], want);
  }
  for (i = 0; i < agora_default_hosts_count; i++)
    for (j = i + 1; j < agora_default_hosts_count; j++)
      assert_string_not_equal(agora_default_hosts[i], agora_default_hosts[j]);
}

static void test_failover_order(void **state) {
  const char *const hosts[] = {"h0", "h1", "h2"};
  const char *const one[] = {"only"};
  int a;
  (void)state;
  assert_string_equal(agora_host_for_attempt(hosts, 3, 1), "h0");
  assert_string_equal(agora_host_for_attempt(hosts, 3, 2), "h0");
  assert_string_equal(agora_host_for_attempt(hosts, 3, 3), "h1");
  assert_string_equal(agora_host_for_attempt(hosts, 3, 4), "h2");
  assert_string_equal(agora_host_for_attempt(hosts, 3, 99), "h2");
  assert_string_equal(agora_host_for_attempt(hosts, 3, 0), "h0");
  for (a = 1; a < 10; a++) assert_string_equal(agora_host_for_attempt(one, 1, a), "only");
  assert_null(agora_host_for_attempt(hosts, 0, 1));
  assert_null(agora_host_for_attempt(NULL, 3, 1));
  assert_string_equal(
      agora_host_for_attempt(agora_default_hosts, agora_default_hosts_count, 3),
      "https://api.agora.io");
  assert_string_equal(
      agora_host_for_attempt(agora_default_hosts, agora_default_hosts_count, 4),
      "https://api-us-west-1.sd-rtn.com");
}

static void test_status_names(void **state) {
  static const struct { long code; const char *name; } want[] = {
    {0, "not_started"}, {1, "initialized"}, {2, "starting"}, {3, "partially_started"},
    {4, "all_started"}, {5, "in_progress"}, {6, "stop_requested"}, {7, "all_stopped"},
    {8, "exited"}, {20, "exited_abnormally"},
  };
  size_t i;
  long c;
  int known = 0;
  (void)state;
  for (i = 0; i < sizeof want / sizeof want[0]; i++) {
    assert_non_null(agora_status_name(want[i].code));
    assert_string_equal(agora_status_name(want[i].code), want[i].name);
  }
  for (c = -5; c < 100; c++) known += agora_status_name(c) != NULL;
  assert_int_equal(known, 10);
}

/* The schema types the fields as the seed does (coercing the old string forms). */
static void test_field_lists(void **state) {
  const sch_field *sr = sch_find(&sch_agora_reply, "serverResponse"), *fl, *f;
  (void)state;
  assert_non_null(sr);
  assert_int_equal(sch_find(&sch_agora_reply, "code")->type, SCH_INT);
  assert_int_equal(sch_find(sr->child, "status")->type, SCH_INT);
  assert_string_equal(sch_find(sr->child, "sliceStartTime")->unit, "ms since the Unix epoch");
  fl = sch_find(sr->child, "fileList");
  assert_int_equal(fl->type, SCH_STRING_OR_ARRAY);
  f = sch_find(fl->child, "uid");
  assert_int_equal(f->type, SCH_STRING);  /* documented as a String */
  assert_int_equal(sch_find(fl->child, "isPlayable")->type, SCH_BOOL);
  assert_true(sch_find(fl->child, "mixedAllUser")->flags & SCH_COERCE);
}

typedef struct agora_case {
  const char *fixture;
  long status;
  int rc;
  rec_errkind kind;
  int retryable;
  const char *phrase;
  int has_code;
  long code;
} agora_case;

static const agora_case agora_cases[] = {
  {"agora_200_individual_json.json", 200, 0, REC_OK, 0, NULL, 0, 0},
  {"agora_200_mix_json.json", 200, 0, REC_OK, 0, NULL, 0, 0},
  {"agora_200_mix_string.json", 200, 0, REC_OK, 0, NULL, 0, 0},
  {"agora_200_web.json", 200, 0, REC_OK, 0, NULL, 0, 0},
  {"agora_200_web_rtmp.json", 200, 0, REC_OK, 0, NULL, 0, 0},
  {"agora_200_mix_vod.json", 200, 0, REC_OK, 0, NULL, 0, 0},
  {"agora_200_old_strings.json", 200, 0, REC_OK, 0, NULL, 0, 0},
  {"agora_200_missing_fields.json", 200, 0, REC_OK, 0, NULL, 0, 0},  /* types: see test_lnorm */
  {"agora_200_no_server_response.json", 200, -1, REC_E_PROTOCOL, 0, "no serverResponse", 0, 0},
  {"agora_401_invalid_credentials.json", 401, -1, REC_E_AUTH, 0,
   "401 Invalid authentication credentials: check customer_id", 0, 0},
  {"agora_401_unauthorized.json", 401, -1, REC_E_AUTH, 0, "401 Unauthorized: check", 0, 0},
  {"agora_404_worker.json", 404, -1, REC_E_NOT_FOUND, 0,
   "agora: 404 failed to find worker: the recording is not running (ended, failed to start, "
   "or in a failover window)", 1, 404},
  {"agora_404_no_route.json", 404, -1, REC_E_PROTOCOL, 0,
   "agora: 404 no Route matched with those values: wrong URL or method (check base_url)", 0, 0},
  {"agora_429_rate_limited.json", 429, -1, REC_E_RATE_LIMITED, 1, "rate limit exceeded", 0, 0},
  {"agora_206_code65.json", 206, -1, REC_E_SERVER, 1, "code 65 request not completed", 1, 65},
  {"agora_504_code62.json", 504, -1, REC_E_SERVER, 1, "code 62 request timeout", 1, 62},
  {"agora_400_code2.json", 400, -1, REC_E_INVALID_ARGUMENT, 0,
   "agora: 400 code 2 invalid parameter: check appid", 1, 2},
  {"agora_502_html.html", 502, -1, REC_E_SERVER, 1, "reply is not JSON (HTTP 502): <html>", 0, 0},
  {"agora_200_truncated.json", 200, -1, REC_E_PROTOCOL, 0,
   "reply is not JSON (HTTP 200): {\"resourceId\"", 0, 0},
  {"agora_200_empty_body.txt", 200, -1, REC_E_PROTOCOL, 0, "(empty body)", 0, 0},
  /* A 404 page from something that is not Agora: not an ended recording. */
  {"agora_502_html.html", 404, -1, REC_E_PROTOCOL, 0, "check base_url", 0, 0},
  {"agora_200_empty_body.txt", 404, -1, REC_E_PROTOCOL, 0, "(empty body): not the API's JSON", 0, 0},
  {"agora_401_unauthorized.json", 404, -1, REC_E_PROTOCOL, 0, "check base_url", 0, 0},
  /* Any 404 JSON object from the API with code/reason: the session is gone (the seed). */
  {"agora_404_other_reason.json", 404, -1, REC_E_NOT_FOUND, 0,
   "agora: 404 session not found: the recording is not running", 1, 404},
  {"agora_400_code2.json", 404, -1, REC_E_NOT_FOUND, 0, "404 invalid parameter", 1, 2},
  /* A documented body under an unexpected status is still not a success. */
  {"agora_200_mix_json.json", 201, -1, REC_E_PROTOCOL, 0, "unexpected reply (HTTP 201)", 0, 0},
};

static void check_case(lua_State *L, const agora_case *c) {
  rec_err e;
  int rc = interpret_fixture(L, c->fixture, c->status, agora_interpret, &e);
  if (rc != c->rc) fail_msg("%s: rc %d, want %d", c->fixture, rc, c->rc);
  if (rc != 0) {
    if (e.kind != c->kind) fail_msg("%s: kind %s", c->fixture, rec_errkind_name(e.kind));
    assert_int_equal(e.status, c->status);
    assert_int_equal(e.retryable, c->retryable);
    if (!strstr(e.message, c->phrase)) fail_msg("%s: \"%s\"", c->fixture, e.message);
    assert_int_equal(e.has_code, c->has_code);
    if (c->has_code) assert_int_equal(e.code, c->code);
    assert_null(strchr(e.message, '\r'));
  }
}

static void test_interpret_fixtures(void **state) {
  lua_State *L = luaL_newstate();
  size_t i;
  (void)state;
  for (i = 0; i < sizeof agora_cases / sizeof agora_cases[0]; i++)
    check_case(L, &agora_cases[i]);
  lua_close(L);
}

static void test_interpret_hand_built_facts(void **state) {
  /* Providers need no Lua: facts can come from anywhere. */
  reply_facts f;
  rec_err e;
  (void)state;
  memset(&f, 0, sizeof f);
  f.is_json = f.is_object = 1;
  f.reason = "failed to find worker";
  assert_int_equal(agora_interpret(404, "{}", 2, &f, &e), -1);
  assert_int_equal(e.kind, REC_E_NOT_FOUND);
  f.reason = NULL;
  f.has_server_response = 1;
  assert_int_equal(agora_interpret(200, "{}", 2, &f, &e), 0);
  assert_int_equal(agora_interpret(500, NULL, 0, NULL, &e), -1);
  assert_int_equal(e.kind, REC_E_SERVER);
  assert_int_equal(e.retryable, 1);
  assert_non_null(strstr(e.message, "(empty body)"));
  f.has_code_num = 1;
  f.code_num = 7;
  f.has_server_response = 0;
  assert_int_equal(agora_interpret(206, "{}", 2, &f, &e), -1);  /* 206 without code 65 */
  assert_int_equal(e.kind, REC_E_SERVER);
  assert_int_equal(e.retryable, 1);
  assert_int_equal(e.code, 7);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_validate),
    cmocka_unit_test(test_url),
    cmocka_unit_test(test_url_escapes_segments),
    cmocka_unit_test(test_basic_auth),
    cmocka_unit_test(test_default_hosts),
    cmocka_unit_test(test_failover_order),
    cmocka_unit_test(test_status_names),
    cmocka_unit_test(test_field_lists),
    cmocka_unit_test(test_interpret_fixtures),
    cmocka_unit_test(test_interpret_hand_built_facts),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
