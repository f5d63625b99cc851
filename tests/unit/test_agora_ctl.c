/* Unit tests for Agora's control calls (agora_ctl.c): the checks of every documented field,
 * the URL and body of each call, the reading of each documented reply (the special outcomes,
 * the retry classes, the typed errors) and the control replies' schema through jdec. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "fixture.h"  /* before provider.h: its interpret_fixture is not used here */
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include "agora_ctl.h"
#include "jdec.h"
#include "schema.h"
#include "lnorm.h"

/* A start that keeps every documented rule. */
static agctl_req good_start(void) {
  agctl_req r;
  memset(&r, 0, sizeof r);
  r.call = AGCTL_START;
  r.appid = "appid123";
  r.cname = "room-1";
  r.uid = "527841";
  r.resourceid = "rid-1";
  r.mode = "mix";
  r.client.present = 1;
  r.client.has_storage = 1;
  r.client.has_vendor = r.client.vendor_ok = 1;
  r.client.vendor = 1;
  r.client.has_region = r.client.region_ok = 1;
  r.client.region = 0;
  r.client.bucket_ok = r.client.access_key_ok = r.client.secret_key_ok = 1;
  r.client.has_recording = 1;
  r.client.has_channel_type = r.client.channel_type_ok = 1;
  r.client.channel_type = 1;
  r.client_json = "{\"storageConfig\":{}}";
  return r;
}

static void expect_invalid(const agctl_req *r, const char *phrase) {
  rec_err e;
  memset(&e, 0, sizeof e);
  assert_int_not_equal(agctl_validate(r, &e), 0);
  assert_int_equal(e.kind, REC_E_INVALID_ARGUMENT);
  assert_int_equal(e.retryable, 0);
  if (!strstr(e.message, phrase)) fail_msg("\"%s\" lacks \"%s\"", e.message, phrase);
}

static void test_validate_start(void **state) {
  agctl_req r = good_start();
  rec_err e;
  static char longname[65];
  (void)state;
  assert_int_equal(agctl_validate(&r, &e), 0);
  r.uid = "0";
  expect_invalid(&r, "uid");
  r.uid = "4294967296";
  expect_invalid(&r, "uid");
  r.uid = "4294967295";
  assert_int_equal(agctl_validate(&r, &e), 0);
  r.uid = "0123";
  expect_invalid(&r, "uid");
  r.uid = "12a";
  expect_invalid(&r, "uid");
  r.uid = NULL;
  expect_invalid(&r, "uid");
  r = good_start();
  memset(longname, 'c', 64);
  r.cname = longname;
  expect_invalid(&r, "cname");
  r = good_start();
  r.resourceid = NULL;
  expect_invalid(&r, "resourceid");
  r = good_start();
  r.mode = "both";
  expect_invalid(&r, "mode");
  r = good_start();
  r.client.vendor = 4;  /* not one of Agora's vendors */
  expect_invalid(&r, "storageConfig.vendor");
  r.client.vendor = 11;
  assert_int_equal(agctl_validate(&r, &e), 0);
  r.client.region_ok = 0;
  expect_invalid(&r, "storageConfig.region");
  r = good_start();
  r.client.secret_key_ok = 0;
  expect_invalid(&r, "secretKey");
  r = good_start();
  r.client.has_storage = 0;
  expect_invalid(&r, "storageConfig is required");
  r = good_start();
  r.client.present = 0;
  expect_invalid(&r, "clientRequest is required");
  r = good_start();
  r.client.has_recording = 0;
  expect_invalid(&r, "recordingConfig");
  r.mode = "web";  /* web mode has no recordingConfig */
  assert_int_equal(agctl_validate(&r, &e), 0);
  r = good_start();
  r.client.channel_type = 2;
  expect_invalid(&r, "channelType");
}

static void test_validate_avfiletype(void **state) {
  agctl_req r = good_start();
  rec_err e;
  (void)state;
  r.client.has_avfile = r.client.avfile_ok = 1;
  r.client.avfile_mp4 = 1;  /* ["mp4"] alone */
  expect_invalid(&r, "must include \"hls\"");
  r.client.avfile_hls = 1;  /* ["hls","mp4"] */
  assert_int_equal(agctl_validate(&r, &e), 0);
  r.client.avfile_other = 1;
  expect_invalid(&r, "avFileType");
  r.client.avfile_other = 0;
  r.client.avfile_ok = 0;  /* not a list */
  expect_invalid(&r, "avFileType");
}

static void test_validate_other_calls(void **state) {
  agctl_req r;
  rec_err e;
  (void)state;
  memset(&r, 0, sizeof r);
  r.call = AGCTL_ACQUIRE;
  r.appid = "app";
  r.cname = "room";
  r.uid = "7";
  assert_int_equal(agctl_validate(&r, &e), 0);  /* clientRequest optional */
  r.client.present = r.client.has_scene = r.client.scene_ok = 1;
  r.client.scene = 2;  /* postponed transcoding: removed */
  expect_invalid(&r, "scene");
  r.client.scene = 1;
  r.client.has_expire = r.client.expire_ok = 1;
  r.client.expire = 721;
  expect_invalid(&r, "resourceExpiredHour");
  r.client.expire = 720;
  assert_int_equal(agctl_validate(&r, &e), 0);
  memset(&r, 0, sizeof r);
  r.call = AGCTL_QUERY;
  r.appid = "app";
  r.resourceid = "rid";
  r.mode = "mix";
  expect_invalid(&r, "sid");
  r.sid = "s/1";
  expect_invalid(&r, "sid");
  r.sid = "s1";
  assert_int_equal(agctl_validate(&r, &e), 0);  /* no cname/uid: a GET */
  r.call = AGCTL_STOP;
  expect_invalid(&r, "cname");
  r.cname = "room";
  r.uid = "9";
  assert_int_equal(agctl_validate(&r, &e), 0);
  r.call = AGCTL_UPDATE;
  expect_invalid(&r, "clientRequest");
  r.client.present = 1;
  assert_int_equal(agctl_validate(&r, &e), 0);
  r.call = AGCTL_UPDATE_LAYOUT;
  r.mode = "individual";
  expect_invalid(&r, "mix");
  r.mode = "mix";
  assert_int_equal(agctl_validate(&r, &e), 0);
}

static void expect_url(const agctl_req *r, const char *want) {
  rec_err e;
  char *url = agctl_build_url("https://h.example/", r, &e);
  assert_non_null(url);
  assert_string_equal(url, want);
  free(url);
}

static void test_urls(void **state) {
  agctl_req r;
  (void)state;
  memset(&r, 0, sizeof r);
  r.appid = "app";
  r.cname = "room";
  r.uid = "7";
  r.resourceid = "r 1";
  r.sid = "s1";
  r.mode = "individual";
  r.client.present = 1;
  r.call = AGCTL_ACQUIRE;
  expect_url(&r, "https://h.example/v1/apps/app/cloud_recording/acquire");
  r = good_start();
  r.resourceid = "r 1";
  expect_url(&r, "https://h.example/v1/apps/appid123/cloud_recording/resourceid/r%201/mode/mix/start");
  r.sid = "s1";
  r.call = AGCTL_QUERY;
  expect_url(&r, "https://h.example/v1/apps/appid123/cloud_recording/resourceid/r%201/sid/s1/mode/mix/query");
  r.call = AGCTL_UPDATE;
  expect_url(&r, "https://h.example/v1/apps/appid123/cloud_recording/resourceid/r%201/sid/s1/mode/mix/update");
  r.call = AGCTL_UPDATE_LAYOUT;
  expect_url(&r, "https://h.example/v1/apps/appid123/cloud_recording/resourceid/r%201/sid/s1/mode/mix/updateLayout");
  r.call = AGCTL_STOP;
  expect_url(&r, "https://h.example/v1/apps/appid123/cloud_recording/resourceid/r%201/sid/s1/mode/mix/stop");
  assert_string_equal(agctl_method(AGCTL_QUERY), "GET");
  assert_string_equal(agctl_method(AGCTL_STOP), "POST");
}

static void test_body(void **state) {
  agctl_req r = good_start();
  rec_err e;
  size_t len;
  char *b;
  (void)state;
  r.cname = "a\"b";
  b = agctl_build_body(&r, &len, &e);
  assert_non_null(b);
  assert_string_equal(b, "{\"cname\":\"a\\\"b\",\"uid\":\"527841\",\"clientRequest\":{\"storageConfig\":{}}}");
  assert_int_equal(len, strlen(b));
  free(b);
  r.call = AGCTL_STOP;
  r.sid = "s";
  r.client_json = NULL;  /* no clientRequest: {} */
  b = agctl_build_body(&r, &len, &e);
  assert_non_null(b);
  assert_string_equal(b, "{\"cname\":\"a\\\"b\",\"uid\":\"527841\",\"clientRequest\":{}}");
  free(b);
  r.call = AGCTL_QUERY;
  assert_null(agctl_build_body(&r, &len, &e));
  r = good_start();
  r.uid = "0";
  assert_null(agctl_build_body(&r, &len, &e));
  assert_int_equal(e.kind, REC_E_INVALID_ARGUMENT);
}

/* What call.c does with a reply: decode the fixture, take its facts, read it for call c. */
static int read_reply(lua_State *L, agctl_call c, const char *name, long status,
                      agctl_outcome *oc, rec_err *e) {
  size_t len;
  char *body = read_fixture(name, &len);
  int top = lua_gettop(L), rc;
  reply_facts f;
  memset(&f, 0, sizeof f);
  if (jdec_decode(L, body, len)) lnorm_facts(L, -1, &f);
  memset(e, 0, sizeof *e);
  *oc = (agctl_outcome)99;
  rc = agctl_interpret(c, status, body, len, &f, oc, e);
  lua_settop(L, top);
  free(body);
  return rc;
}

static void expect_outcome(lua_State *L, agctl_call c, const char *name, long status,
                           agctl_outcome want) {
  agctl_outcome oc;
  rec_err e;
  if (read_reply(L, c, name, status, &oc, &e) != 0) fail_msg("%s: %s", name, e.message);
  assert_int_equal(oc, want);
}

static void expect_error(lua_State *L, agctl_call c, const char *name, long status,
                         rec_errkind kind, int retryable, int again) {
  agctl_outcome oc;
  rec_err e;
  assert_int_equal(read_reply(L, c, name, status, &oc, &e), -1);
  if (e.kind != kind) fail_msg("%s: kind %s: %s", name, rec_errkind_name(e.kind), e.message);
  assert_int_equal(e.retryable, retryable);
  if (retryable) assert_int_equal(agctl_again_class(&e), again);
}

static void test_outcomes(void **state) {
  lua_State *L = luaL_newstate();
  (void)state;
  expect_outcome(L, AGCTL_ACQUIRE, "agora_ctl_200_acquire.json", 200, AGCTL_OK);
  expect_outcome(L, AGCTL_START, "agora_ctl_200_start.json", 200, AGCTL_OK);
  expect_outcome(L, AGCTL_START, "agora_ctl_201_code7.json", 201, AGCTL_ALREADY_STARTED);
  expect_outcome(L, AGCTL_START, "agora_ctl_400_code53.json", 400, AGCTL_CONFLICT_RUNNING);
  expect_outcome(L, AGCTL_STOP, "agora_ctl_200_stop_json.json", 200, AGCTL_OK);
  expect_outcome(L, AGCTL_STOP, "agora_ctl_400_code49.json", 400, AGCTL_ALREADY_STOPPED);
  expect_outcome(L, AGCTL_STOP, "agora_404_worker.json", 404, AGCTL_ALREADY_STOPPED);
  expect_outcome(L, AGCTL_STOP, "agora_ctl_206_code435.json", 206, AGCTL_NOTHING_RECORDED);
  expect_outcome(L, AGCTL_UPDATE, "agora_ctl_200_update.json", 200, AGCTL_OK);
  /* the same codes on another call are no special outcome */
  expect_error(L, AGCTL_STOP, "agora_ctl_400_code53.json", 400, REC_E_INVALID_ARGUMENT, 0, 0);
  expect_error(L, AGCTL_START, "agora_ctl_400_code49.json", 400, REC_E_INVALID_ARGUMENT, 0, 0);
  expect_error(L, AGCTL_START, "agora_ctl_206_code435.json", 206, REC_E_SERVER, 1, 1);
  expect_error(L, AGCTL_UPDATE, "agora_404_worker.json", 404, REC_E_NOT_FOUND, 0, 0);
  lua_close(L);
}

static void test_errors(void **state) {
  lua_State *L = luaL_newstate();
  agctl_outcome oc;
  rec_err e;
  (void)state;
  /* 206/65: the same request (3 s, 6 s); 50x: the control table (3, 6, 9 s); 40x never */
  expect_error(L, AGCTL_START, "agora_206_code65.json", 206, REC_E_SERVER, 1, 1);
  expect_error(L, AGCTL_STOP, "agora_504_code62.json", 504, REC_E_SERVER, 1, 0);
  expect_error(L, AGCTL_START, "agora_ctl_500_code502.json", 500, REC_E_SERVER, 1, 0);
  expect_error(L, AGCTL_ACQUIRE, "agora_502_html.html", 502, REC_E_SERVER, 1, 0);
  expect_error(L, AGCTL_START, "agora_400_code2.json", 400, REC_E_INVALID_ARGUMENT, 0, 0);
  expect_error(L, AGCTL_ACQUIRE, "agora_401_unauthorized.json", 401, REC_E_AUTH, 0, 0);
  expect_error(L, AGCTL_START, "agora_429_rate_limited.json", 429, REC_E_RATE_LIMITED, 1, 0);
  expect_error(L, AGCTL_STOP, "agora_404_no_route.json", 404, REC_E_PROTOCOL, 0, 0);
  expect_error(L, AGCTL_STOP, "agora_502_html.html", 404, REC_E_PROTOCOL, 0, 0);
  expect_error(L, AGCTL_ACQUIRE, "agora_206_code65.json", 206, REC_E_SERVER, 0, 0);
  /* acquire's 406: the concurrency limit, never retried, the code kept */
  assert_int_equal(read_reply(L, AGCTL_ACQUIRE, "agora_ctl_400_code406.json", 400, &oc, &e), -1);
  assert_int_equal(e.kind, REC_E_SERVER);
  assert_int_equal(e.retryable, 0);
  assert_true(e.has_code && e.code == 406);
  assert_non_null(strstr(e.message, "concurrency limit"));
  assert_non_null(strstr(e.message, "rec.agora.acquire"));
  /* a 200 that is not an object is no result */
  expect_error(L, AGCTL_START, "agora_200_truncated.json", 200, REC_E_PROTOCOL, 0, 0);
  lua_close(L);
}

/* The 200 bodies through jdec's one pass with the call's schema, and the general path's
 * check naming what a broken one lacks. */
static void test_reply_schema(void **state) {
  lua_State *L = luaL_newstate();
  size_t len;
  char *body;
  reply_facts f;
  rec_err e;
  jdec_schema s = {NULL, NULL, NULL};
  (void)state;
  luaL_openlibs(L);
  s.root = agctl_reply_schema(AGCTL_ACQUIRE);
  body = read_fixture("agora_ctl_200_acquire.json", &len);
  assert_int_equal(jdec_reply(L, body, len, &s, &f), 1);
  assert_int_equal(lua_getfield(L, -1, "resourceId"), LUA_TSTRING);
  lua_settop(L, 0);
  free(body);
  s.root = agctl_reply_schema(AGCTL_STOP);
  body = read_fixture("agora_ctl_200_stop_json.json", &len);
  assert_int_equal(jdec_reply(L, body, len, &s, &f), 1);
  lua_getfield(L, -1, "serverResponse");
  lua_getfield(L, -1, "uploadingStatus");
  assert_string_equal(lua_tostring(L, -1), "uploaded");
  lua_pop(L, 1);
  lua_getfield(L, -1, "fileList");
  assert_true(lnorm_is_marked_array(L, -1));
  assert_int_equal(lua_rawlen(L, -1), 2);
  lua_settop(L, 0);
  free(body);
  body = read_fixture("agora_ctl_200_stop_string.json", &len);
  assert_int_equal(jdec_reply(L, body, len, &s, &f), 1);
  lua_getfield(L, -1, "serverResponse");
  lua_getfield(L, -1, "fileList");
  assert_string_equal(lua_tostring(L, -1), "xxx.m3u8");
  lua_settop(L, 0);
  free(body);
  /* a start without its sid breaks the contract: the one pass refuses, the check says why */
  s.root = agctl_reply_schema(AGCTL_START);
  body = read_fixture("agora_ctl_200_start_no_sid.json", &len);
  assert_int_equal(jdec_reply(L, body, len, &s, &f), 0);
  assert_int_equal(jdec_decode(L, body, len), 1);
  assert_int_equal(lnorm_check(L, -1, s.root, "agora start reply", &e), -1);
  assert_int_equal(e.kind, REC_E_PROTOCOL);
  if (!strstr(e.message, "sid")) fail_msg("%s", e.message);
  lua_settop(L, 0);
  free(body);
  body = read_fixture("agora_ctl_200_start.json", &len);
  assert_int_equal(jdec_reply(L, body, len, &s, &f), 1);
  lua_getfield(L, -1, "sid");
  assert_string_equal(lua_tostring(L, -1), "38f8e3cfdc474cd56fc1ceba380d7e1a");
  lua_settop(L, 0);
  free(body);
  lua_close(L);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_validate_start),     cmocka_unit_test(test_validate_avfiletype),
    cmocka_unit_test(test_validate_other_calls), cmocka_unit_test(test_urls),
    cmocka_unit_test(test_body),               cmocka_unit_test(test_outcomes),
    cmocka_unit_test(test_errors),             cmocka_unit_test(test_reply_schema),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
