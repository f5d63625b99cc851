/* Unit tests for QingCloud's control calls (qingcloud_ctl.c): the checks of every documented
 * field, the exact JSON body, the URL signed over it (against a signature computed
 * independently with the reference page's Python), the reading of each reply on fixtures
 * and the start and stop replies' schema through jdec. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "fixture.h"
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include "jdec.h"
#include "lnorm.h"
#include "qingcloud_ctl.h"
#include "schema.h"

#define T_2021 ((time_t)1634280298)  /* 2021-10-15T06:44:58Z, the overview's sample time */

static qcctl_req good_start(void) {
  qcctl_req r;
  memset(&r, 0, sizeof r);
  r.call = QCCTL_START;
  r.app_id = "app-1";
  r.project_id = "proj-1";
  r.channel = "room \"a\"";
  r.sign_key = "k3y";
  return r;
}

static void set_opt(qcctl_req *r, int i, long v) {
  r->opt[i] = v;
  r->given |= 1u << i;
}

static void expect_invalid(const qcctl_req *r, const char *phrase) {
  rec_err e;
  memset(&e, 0, sizeof e);
  assert_int_not_equal(qcctl_validate(r, &e), 0);
  assert_int_equal(e.kind, REC_E_INVALID_ARGUMENT);
  assert_int_equal(e.retryable, 0);
  if (!strstr(e.message, phrase)) fail_msg("\"%s\" lacks \"%s\"", e.message, phrase);
  if (r->sign_key && *r->sign_key && strstr(e.message, r->sign_key))
    fail_msg("the key in \"%s\"", e.message);
}

static void test_validate(void **state) {
  qcctl_req r = good_start();
  rec_err e;
  int i;
  (void)state;
  assert_int_equal(qcctl_validate(&r, &e), 0);
  r.app_id = "";
  expect_invalid(&r, "app_id");
  r = good_start();
  r.project_id = NULL;
  expect_invalid(&r, "project_id");
  r = good_start();
  r.channel = NULL;
  expect_invalid(&r, "channel");
  r = good_start();
  r.sign_key = NULL;
  expect_invalid(&r, "sign_key");
  for (i = 0; i < QCCTL_NOPTS; i++) {  /* every option: 0..max, nothing outside */
    r = good_start();
    set_opt(&r, i, qcctl_option_max(i));
    assert_int_equal(qcctl_validate(&r, &e), 0);
    set_opt(&r, i, qcctl_option_max(i) + 1);
    expect_invalid(&r, qcctl_option_name(i));
    set_opt(&r, i, -1);
    expect_invalid(&r, qcctl_option_name(i));
  }
  assert_null(qcctl_option_name(QCCTL_NOPTS));
  assert_int_equal(qcctl_option_max(QCCTL_MIXED_VIDEO_AUDIO), 2);
  assert_int_equal(qcctl_option_max(QCCTL_LAYOUT_MODE), 2);
  r = good_start();
  set_opt(&r, QCCTL_IS_AUDIO_ONLY, 1);
  set_opt(&r, QCCTL_IS_VIDEO_ONLY, 1);
  expect_invalid(&r, "cannot both be 1");
  set_opt(&r, QCCTL_IS_VIDEO_ONLY, 0);
  assert_int_equal(qcctl_validate(&r, &e), 0);
  /* stop: the channel, no key, no option */
  r = good_start();
  r.call = QCCTL_STOP;
  r.sign_key = NULL;
  assert_int_equal(qcctl_validate(&r, &e), 0);
  r.sign_key = "k3y";
  expect_invalid(&r, "not a stop parameter");
  r.sign_key = NULL;
  set_opt(&r, QCCTL_LAYOUT_MODE, 1);
  expect_invalid(&r, "not a stop parameter");
  /* query: the query's rules */
  memset(&r, 0, sizeof r);
  r.call = QCCTL_QUERY;
  r.query.app_id = "app-1";
  expect_invalid(&r, "channel");
  r.query.channel = "c";
  assert_int_equal(qcctl_validate(&r, &e), 0);
  r.query.limit = 101;
  r.query.given = QC_HAS_LIMIT;
  expect_invalid(&r, "limit");
  r.call = (qcctl_call)7;
  assert_int_equal(qcctl_validate(&r, &e), -1);
  assert_string_equal(qcctl_call_name(QCCTL_STOP), "stop");
  assert_string_equal(qcctl_method(QCCTL_START), "POST");
  assert_string_equal(qcctl_method(QCCTL_STOP), "PATCH");
  assert_string_equal(qcctl_method(QCCTL_QUERY), "GET");
}

static const char start_body[] =
  "{\"app_id\":\"app-1\",\"project_id\":\"proj-1\",\"channel\":\"room \\\"a\\\"\","
  "\"sign_key\":\"k3y\",\"isAudioOnly\":1,\"mixed_video_audio\":2}";
static const char stop_body[] =
  "{\"app_id\":\"app-1\",\"project_id\":\"proj-1\",\"channel\":\"room \\\"a\\\"\"}";

static void test_body(void **state) {
  qcctl_req r = good_start();
  size_t len;
  rec_err e;
  char *b;
  (void)state;
  set_opt(&r, QCCTL_IS_AUDIO_ONLY, 1);
  set_opt(&r, QCCTL_MIXED_VIDEO_AUDIO, 2);
  b = qcctl_build_body(&r, &len, &e);
  assert_non_null(b);
  assert_string_equal(b, start_body);
  assert_int_equal(len, strlen(start_body));
  free(b);
  r.call = QCCTL_STOP;
  r.sign_key = NULL;
  r.given = 0;
  b = qcctl_build_body(&r, &len, &e);
  assert_string_equal(b, stop_body);
  free(b);
  r.call = QCCTL_QUERY;
  assert_null(qcctl_build_body(&r, &len, &e));
  /* an invalid request has no body */
  r = good_start();
  r.sign_key = "";
  assert_null(qcctl_build_body(&r, &len, &e));
  assert_int_equal(len, 0);
}

/* The signatures were computed with the overview page's Python (hashlib, hmac, quote) over
 * the same bytes, not with qcsign. */
static void test_signed_url(void **state) {
  qcctl_req r = good_start();
  rec_err e;
  char *u;
  (void)state;
  u = qcctl_build_url("http://h/", &r, "AKID", "SECRETKEY", T_2021, start_body,
                      strlen(start_body), &e);
  assert_non_null(u);
  assert_string_equal(u, "http://h/v1/cloudRecord?access_key_id=AKID&signature_method=HmacSHA256"
                         "&signature_version=1&time_stamp=2021-10-15T06%3A44%3A58Z"
                         "&signature=Pl4vIUE5XKcFcdM%2FS7iat3Qplt0oe1BapfwmXNVFgl8%3D");
  free(u);
  r.call = QCCTL_STOP;
  r.sign_key = NULL;
  u = qcctl_build_url("http://h", &r, "AKID", "SECRETKEY", T_2021, stop_body, strlen(stop_body),
                      &e);
  assert_non_null(strstr(u, "&signature=EBqkT%2Ffvi7iwvY6dpp21Cmy8u%2FYHSBMEj9QNDM0H0zM%3D"));
  assert_null(strstr(u, "proj-1"));  /* the call's fields are in the body only */
  free(u);
  /* one byte more in the body: another signature */
  u = qcctl_build_url("http://h", &r, "AKID", "SECRETKEY", T_2021, stop_body,
                      strlen(stop_body) - 1, &e);
  assert_null(strstr(u, "EBqkT"));
  free(u);
  /* no credentials: auth, not retried; no body: refused */
  assert_null(qcctl_build_url("http://h", &r, "AKID", "", T_2021, stop_body, 3, &e));
  assert_int_equal(e.kind, REC_E_AUTH);
  assert_int_equal(e.retryable, 0);
  assert_null(qcctl_build_url("http://h", &r, "AKID", "SECRETKEY", T_2021, NULL, 0, &e));
  /* the query: the query's signed GET with its parameters */
  memset(&r, 0, sizeof r);
  r.call = QCCTL_QUERY;
  r.query.app_id = "app-1";
  r.query.channel = "c";
  u = qcctl_build_url(NULL, &r, "AKID", "SECRETKEY", T_2021, NULL, 0, &e);
  assert_non_null(u);
  assert_non_null(strstr(u, "https://rtc.api.qingcloud.com/v1/cloudRecord?access_key_id=AKID&app_id=app-1&channel=c&from_hour=24"));
  free(u);
}

static int read_reply(lua_State *L, qcctl_call c, const char *name, long status, rec_err *e) {
  size_t len;
  char *body = read_fixture(name, &len);
  int top = lua_gettop(L), rc;
  reply_facts f;
  memset(&f, 0, sizeof f);
  if (jdec_decode(L, body, len)) lnorm_facts(L, -1, &f);
  memset(e, 0, sizeof *e);
  rc = qcctl_interpret(c, status, body, len, &f, e);
  lua_settop(L, top);
  free(body);
  return rc;
}

static void expect_error(lua_State *L, qcctl_call c, const char *name, long status,
                         rec_errkind kind, int retryable, const char *phrase) {
  rec_err e;
  assert_int_equal(read_reply(L, c, name, status, &e), -1);
  if (e.kind != kind) fail_msg("%s: kind %s: %s", name, rec_errkind_name(e.kind), e.message);
  assert_int_equal(e.retryable, retryable);
  assert_int_equal(e.status, status);
  if (!strstr(e.message, "rec.qingcloud.")) fail_msg("the call is not named: %s", e.message);
  if (phrase && !strstr(e.message, phrase)) fail_msg("\"%s\" lacks \"%s\"", e.message, phrase);
}

static void test_replies(void **state) {
  lua_State *L = luaL_newstate();
  rec_err e;
  (void)state;
  assert_int_equal(read_reply(L, QCCTL_START, "qc_ctl_200_start.json", 200, &e), 0);
  assert_int_equal(read_reply(L, QCCTL_STOP, "qc_ctl_200_stop.json", 200, &e), 0);
  assert_int_equal(read_reply(L, QCCTL_QUERY, "qc_200_success.json", 200, &e), 0);
  /* a 2xx whose code is not "success": the service's failure, not retried */
  expect_error(L, QCCTL_START, "qc_200_code_failed.json", 200, REC_E_SERVER, 0, "InternalError");
  /* by status only: 400 never retried, auth, the route, rate limit, 5xx retried */
  expect_error(L, QCCTL_START, "qc_400_invalid_params.json", 400, REC_E_INVALID_ARGUMENT, 0,
               "project_id");
  expect_error(L, QCCTL_STOP, "qc_400_invalid_params.json", 400, REC_E_INVALID_ARGUMENT, 0,
               "not retried");
  expect_error(L, QCCTL_START, "qc_401_signature.json", 401, REC_E_AUTH, 0, NULL);
  expect_error(L, QCCTL_STOP, "qc_404_not_found.json", 404, REC_E_PROTOCOL, 0, "base_url");
  expect_error(L, QCCTL_START, "qc_429_rate_limited.json", 429, REC_E_RATE_LIMITED, 1, NULL);
  expect_error(L, QCCTL_START, "qc_500_code.json", 500, REC_E_SERVER, 1, NULL);
  expect_error(L, QCCTL_STOP, "qc_502_html.html", 502, REC_E_SERVER, 1, "not JSON");
  /* a 2xx that is not the documented object */
  expect_error(L, QCCTL_START, "qc_200_truncated.json", 200, REC_E_PROTOCOL, 0, NULL);
  expect_error(L, QCCTL_STOP, "qc_200_empty_body.txt", 200, REC_E_PROTOCOL, 0, NULL);
  expect_error(L, QCCTL_START, "qc_200_missing_code.json", 200, REC_E_PROTOCOL, 0, NULL);
  lua_close(L);
}

static void test_reply_schema(void **state) {
  lua_State *L = luaL_newstate();
  size_t len;
  char *body;
  reply_facts f;
  rec_err e;
  jdec_schema s = {NULL, NULL, NULL};
  (void)state;
  luaL_openlibs(L);
  s.root = qcctl_reply_schema(QCCTL_START);
  assert_ptr_equal(s.root, &sch_qingcloud_start_reply);
  body = read_fixture("qc_ctl_200_start.json", &len);
  assert_int_equal(jdec_reply(L, body, len, &s, &f), 1);
  lua_getfield(L, -1, "task_id");
  assert_true(lua_isinteger(L, -1));
  assert_int_equal(lua_tointeger(L, -1), 40);
  lua_settop(L, 0);
  free(body);
  /* a task id as a decimal string reads as the number */
  body = read_fixture("qc_ctl_200_start_string_id.json", &len);
  if (!jdec_reply(L, body, len, &s, &f)) {
    assert_int_equal(jdec_decode(L, body, len), 1);
    assert_int_equal(lnorm_check(L, -1, s.root, s.root->name, &e), 0);
  }
  lua_getfield(L, -1, "task_id");
  assert_true(lua_isinteger(L, -1));
  assert_int_equal(lua_tointeger(L, -1), 40);
  lua_settop(L, 0);
  free(body);
  /* a success without its task id breaks the contract, and the check names it */
  body = read_fixture("qc_ctl_200_start_no_task_id.json", &len);
  assert_int_equal(jdec_reply(L, body, len, &s, &f), 0);
  assert_int_equal(jdec_decode(L, body, len), 1);
  assert_int_equal(lnorm_check(L, -1, s.root, s.root->name, &e), -1);
  assert_int_equal(e.kind, REC_E_PROTOCOL);
  if (!strstr(e.message, "task_id")) fail_msg("%s", e.message);
  lua_settop(L, 0);
  free(body);
  s.root = qcctl_reply_schema(QCCTL_STOP);
  body = read_fixture("qc_ctl_200_stop.json", &len);
  assert_int_equal(jdec_reply(L, body, len, &s, &f), 1);
  lua_getfield(L, -1, "data");
  assert_string_equal(lua_tostring(L, -1), "success");
  lua_settop(L, 0);
  free(body);
  assert_ptr_equal(qcctl_reply_schema(QCCTL_QUERY), &sch_qingcloud_reply);
  lua_close(L);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_validate),   cmocka_unit_test(test_body),
    cmocka_unit_test(test_signed_url), cmocka_unit_test(test_replies),
    cmocka_unit_test(test_reply_schema),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
