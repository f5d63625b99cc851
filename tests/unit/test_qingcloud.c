/* Unit tests for the QingCloud provider: validation, signed URLs (independent vectors), the
 * status table and the interpretation of every reply fixture. */
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
#include "lnorm.h"
#include "qingcloud.h"
#include "schema.h"
#include "fixture.h"

/* 2021-10-15T06:44:58Z */
#define T0 ((time_t)1634280298)

static qc_query_params base_params(void) {
  qc_query_params p;
  memset(&p, 0, sizeof p);
  p.app_id = "34723259bb8f4768bc7a9c7cbb126baa";
  p.channel = "crIUxmwHA2";
  return p;
}

static void expect_invalid(const qc_query_params *p, const char *phrase) {
  rec_err e;
  memset(&e, 0, sizeof e);
  assert_int_not_equal(qc_validate_query(p, &e), 0);
  assert_int_equal(e.kind, REC_E_INVALID_ARGUMENT);
  assert_int_equal(e.retryable, 0);
  if (!strstr(e.message, phrase)) fail_msg("\"%s\" lacks \"%s\"", e.message, phrase);
}

static void test_validate_required(void **state) {
  qc_query_params p = base_params();
  (void)state;
  p.app_id = NULL;
  expect_invalid(&p, "app_id");
  p.app_id = "";
  expect_invalid(&p, "app_id");
  p = base_params();
  p.channel = "";
  expect_invalid(&p, "channel");
  expect_invalid(NULL, "qingcloud");
}

static void test_validate_limit_and_offset(void **state) {
  qc_query_params p = base_params();
  rec_err e;
  (void)state;
  p.given = QC_HAS_LIMIT;
  p.limit = 101;
  expect_invalid(&p, "limit=101");
  p.limit = 0;
  expect_invalid(&p, "limit=0");
  p.limit = 100;
  assert_int_equal(qc_validate_query(&p, &e), 0);
  p.limit = 1;
  assert_int_equal(qc_validate_query(&p, &e), 0);
  p.given = QC_HAS_OFFSET;
  p.offset = -1;
  expect_invalid(&p, "offset=-1");
  p.offset = 0;
  assert_int_equal(qc_validate_query(&p, &e), 0);
  p.limit = 500;  /* not given: not checked, not sent */
  assert_int_equal(qc_validate_query(&p, &e), 0);
}

static void test_validate_hours(void **state) {
  qc_query_params p = base_params();
  rec_err e;
  (void)state;
  p.given = QC_HAS_FROM | QC_HAS_TO;
  p.from_hour = 0;
  p.to_hour = 3;
  expect_invalid(&p, "from_hour=0 is less than to_hour=3");
  p.from_hour = 25;
  p.to_hour = 0;
  expect_invalid(&p, "from_hour=25");
  p.from_hour = 3;
  p.to_hour = -1;
  expect_invalid(&p, "to_hour=-1");
  p.from_hour = 24;
  p.to_hour = 0;
  assert_int_equal(qc_validate_query(&p, &e), 0);
  p.from_hour = 5;
  p.to_hour = 5;
  assert_int_equal(qc_validate_query(&p, &e), 0);
  p.given = QC_HAS_TO;  /* alone: from_hour defaults to 24 */
  p.to_hour = 25;
  expect_invalid(&p, "to_hour=25");
  p.to_hour = 24;
  assert_int_equal(qc_validate_query(&p, &e), 0);
  p.given = QC_HAS_FROM;  /* alone: to_hour defaults to 0 */
  p.from_hour = -1;
  expect_invalid(&p, "from_hour=-1");
  p.from_hour = 0;
  assert_int_equal(qc_validate_query(&p, &e), 0);
}

static void test_url_documented_shape(void **state) {
  /* Expected value computed with python3 exactly as reference/qingcloud-rtc-api-overview.md
   * does (urllib.parse.quote for the canonical query, hmac/hashlib.sha256 over
   * "GET\n/v1/cloudRecord/\n" + canonical + "\n" + md5(b"null"), base64.b64encode), then
   * quote(signature, safe='') for the URL. Secret "SECRETACCESSKEYEXAMPLE". */
  qc_query_params p = base_params();
  rec_err e;
  char *url;
  (void)state;
  p.given = QC_HAS_FROM | QC_HAS_TO | QC_HAS_OFFSET | QC_HAS_LIMIT;
  p.from_hour = 3;
  p.to_hour = 0;
  p.offset = 0;
  p.limit = 20;
  url = qc_build_query_url(NULL, &p, "QYACCESSKEYIDEXAMPLE", "SECRETACCESSKEYEXAMPLE", T0, &e);
  assert_non_null(url);
  assert_string_equal(url,
      "https://rtc.api.qingcloud.com/v1/cloudRecord?access_key_id=QYACCESSKEYIDEXAMPLE"
      "&app_id=34723259bb8f4768bc7a9c7cbb126baa&channel=crIUxmwHA2&from_hour=3&limit=20"
      "&offset=0&signature_method=HmacSHA256&signature_version=1"
      "&time_stamp=2021-10-15T06%3A44%3A58Z&to_hour=0"
      "&signature=pRZrzlKZTkol7%2FcD0GyzSaX0j8ui6FxTaMys0Z6N904%3D");
  assert_null(strstr(url, "SECRETACCESSKEYEXAMPLE"));
  free(url);
}

static void test_url_escaping_and_only_given(void **state) {
  /* Same python3 computation; app_id "app/1~x+y", channel "频道 1", access key "AK ID/1",
   * secret "s3cr3t+/=", no optional parameters (so from_hour=24, to_hour=0 are sent, never
   * the service's contradictory defaults 3 and 5), base with a trailing '/'. */
  qc_query_params p = base_params();
  rec_err e;
  char *url;
  (void)state;
  p.app_id = "app/1~x+y";
  p.channel = "\xe9\xa2\x91\xe9\x81\x93 1";
  url = qc_build_query_url("http://127.0.0.1:8080/", &p, "AK ID/1", "s3cr3t+/=", T0, &e);
  assert_non_null(url);
  assert_string_equal(url,
      "http://127.0.0.1:8080/v1/cloudRecord?access_key_id=AK%20ID/1&app_id=app/1~x%2By"
      "&channel=%E9%A2%91%E9%81%93%201&from_hour=24&signature_method=HmacSHA256&signature_version=1"
      "&time_stamp=2021-10-15T06%3A44%3A58Z&to_hour=0"
      "&signature=q9N7n%2FNYNZSWsvs8aBnS6K1TMigzUxwCAx3r44%2BomFE%3D");
  assert_null(strstr(url, "offset"));  /* paging only when given; the hour window always */
  assert_null(strstr(url, "limit"));
  free(url);
}

static void test_url_time_changes_signature(void **state) {
  qc_query_params p = base_params();
  rec_err e;
  char *a = qc_build_query_url("http://h", &p, "ak", "sk", T0, &e);
  char *b = qc_build_query_url("http://h", &p, "ak", "sk", T0 + 1, &e);
  (void)state;
  assert_non_null(a);
  assert_non_null(b);
  assert_non_null(strstr(b, "time_stamp=2021-10-15T06%3A44%3A59Z"));
  assert_string_not_equal(strstr(a, "&signature="), strstr(b, "&signature="));
  free(a);
  free(b);
}

static void test_url_refuses_bad_input(void **state) {
  qc_query_params p = base_params();
  rec_err e;
  (void)state;
  p.given = QC_HAS_LIMIT;
  p.limit = 101;
  assert_null(qc_build_query_url(NULL, &p, "ak", "sk", T0, &e));
  assert_int_equal(e.kind, REC_E_INVALID_ARGUMENT);
  p.limit = 10;
  assert_null(qc_build_query_url(NULL, &p, "ak", "", T0, &e));
  assert_int_equal(e.kind, REC_E_AUTH);
  assert_non_null(strstr(e.message, "QINGCLOUD_SECRET_ACCESS_KEY"));
  assert_null(qc_build_query_url(NULL, &p, NULL, "sk", T0, &e));
  assert_int_equal(e.kind, REC_E_AUTH);
}

static void test_status_table(void **state) {
  static const struct { long code; const char *name; } seed[] = {
    {0, "None"}, {1, "Start"}, {2, "Recording"}, {3, "Recorded"}, {4, "Stopping"},
    {5, "AutoStopping"}, {6, "MergingSingleMedia"}, {7, "SingleMediaMerged"},
    {8, "PushingToQingstor"}, {9, "PushedToQingstor"}, {10, "Stopped"},
    {11, "RepairingMedia"}, {30, "RecordProcessCored"},
    {31, "RecordProcessCoredRepairSuccess"}, {32, "RecordProcessCoredRepairFailed"},
    {50, "RepairMediaFailed"}, {51, "MergeSingleMediaFailed"}, {52, "PushToQingstorFailed"},
    {53, "StopRecordProcessFailed"},
  };
  size_t i;
  long c;
  int known = 0, failures = 0;
  (void)state;
  for (i = 0; i < sizeof seed / sizeof seed[0]; i++) {
    assert_non_null(qc_status_name(seed[i].code));
    assert_string_equal(qc_status_name(seed[i].code), seed[i].name);
  }
  for (c = -5; c < 200; c++) {
    known += qc_status_name(c) != NULL;
    failures += qc_status_is_failure(c);
  }
  assert_int_equal(known, 19);
  assert_int_equal(failures, 5);
  assert_true(qc_status_is_failure(32) && qc_status_is_failure(50) && qc_status_is_failure(51) &&
              qc_status_is_failure(52) && qc_status_is_failure(53));
  /* 30 RecordProcessCored: a crash whose repair outcome (31 or 32) is still to come; watch.lua
   * counts it failed only on 32 or when no outcome comes within repair_timeout */
  assert_false(qc_status_is_failure(30));
  assert_false(qc_status_is_failure(10));
  assert_false(qc_status_is_failure(31));
  assert_null(qc_status_name(12));
}

static void test_integer_fields(void **state) {
  static const char *const want[] = {"id", "pid", "status", "size", "is_mix", "offset",
                                     "limit", "total_count"};
  const sch_field *ri = sch_find(&sch_qingcloud_reply, "recinfos");
  size_t i;
  (void)state;
  assert_non_null(ri);
  for (i = 0; i < 8; i++) {
    const sch_field *f = sch_find(i < 5 ? ri->child : &sch_qingcloud_reply, want[i]);
    assert_non_null(f);
    assert_int_equal(f->type, SCH_INT);
    assert_true(f->flags & SCH_COERCE);  /* the seed types status, pid, size, is_mix as String */
  }
}

typedef struct qc_case {
  const char *fixture;
  long status;
  int rc;
  rec_errkind kind;
  int retryable;
  const char *phrase;    /* in the message */
  const char *code_str;  /* expected e.code_str, NULL for no code */
} qc_case;

static const qc_case qc_cases[] = {
  {"qc_200_success.json", 200, 0, REC_OK, 0, NULL, NULL},
  {"qc_200_string_numbers.json", 200, 0, REC_OK, 0, NULL, NULL},
  {"qc_200_empty.json", 200, 0, REC_OK, 0, NULL, NULL},
  {"qc_200_null_recinfos.json", 200, 0, REC_OK, 0, NULL, NULL},
  {"qc_200_missing_recinfos.json", 200, -1, REC_E_PROTOCOL, 0, "but no recinfos list", NULL},
  {"qc_200_missing_code.json", 200, -1, REC_E_PROTOCOL, 0,
   "not the documented object with \"code\"",
   NULL},
  /* a 200 whose code is not "success" stays an error; not retried */
  {"qc_200_code_failed.json", 200, -1, REC_E_SERVER, 0, "internal error, please", "InternalError"},
  {"qc_400_invalid_params.json", 400, -1, REC_E_INVALID_ARGUMENT, 0, "check app_id",
   "InvalidParameter"},
  {"qc_401_signature.json", 401, -1, REC_E_AUTH, 0, "secret_access_key", "SignatureNotMatch"},
  /* kinds follow the HTTP status, never the wording of an undocumented body */
  {"qc_401_signature.json", 400, -1, REC_E_INVALID_ARGUMENT, 0, "signature does not match",
   "SignatureNotMatch"},
  {"qc_401_signature.json", 200, -1, REC_E_SERVER, 0, "signature does not match",
   "SignatureNotMatch"},
  {"qc_400_invalid_params.json", 500, -1, REC_E_SERVER, 1, "limit must be", "InvalidParameter"},
  {"qc_404_not_found.json", 404, -1, REC_E_PROTOCOL, 0, "check base_url", NULL},
  {"qc_429_rate_limited.json", 429, -1, REC_E_RATE_LIMITED, 1, "rate limited",
   "RequestLimitExceeded"},
  {"qc_500_code.json", 500, -1, REC_E_SERVER, 1, "database unavailable", "InternalError"},
  {"qc_502_html.html", 502, -1, REC_E_SERVER, 1, "reply is not JSON (HTTP 502): <html>", NULL},
  {"qc_200_truncated.json", 200, -1, REC_E_PROTOCOL, 0, "not JSON (HTTP 200): {\"code\"",
   NULL},
  {"qc_200_empty_body.txt", 200, -1, REC_E_PROTOCOL, 0, "(empty body)", NULL},
};

static void check_case(lua_State *L, const qc_case *c) {
  rec_err e;
  int rc = interpret_fixture(L, c->fixture, c->status, qc_interpret, &e);
  if (rc != c->rc) fail_msg("%s: rc %d, want %d", c->fixture, rc, c->rc);
  if (rc != 0) {
    if (e.kind != c->kind) fail_msg("%s: kind %s", c->fixture, rec_errkind_name(e.kind));
    assert_int_equal(e.status, c->status);
    assert_int_equal(e.retryable, c->retryable);
    if (!strstr(e.message, c->phrase)) fail_msg("%s: \"%s\"", c->fixture, e.message);
    assert_int_equal(e.has_code, c->code_str != NULL);
    if (c->code_str) assert_string_equal(e.code_str, c->code_str);
    assert_true(strlen(e.message) < sizeof e.message);
    assert_null(strchr(e.message, '\r'));
  }
}

static void test_interpret_fixtures(void **state) {
  lua_State *L = luaL_newstate();
  size_t i;
  (void)state;
  for (i = 0; i < sizeof qc_cases / sizeof qc_cases[0]; i++) check_case(L, &qc_cases[i]);
  lua_close(L);
}

static void test_interpret_without_facts(void **state) {
  rec_err e;
  (void)state;
  assert_int_equal(qc_interpret(503, NULL, 0, NULL, &e), -1);
  assert_int_equal(e.kind, REC_E_SERVER);
  assert_int_equal(e.retryable, 1);
  assert_int_equal(e.status, 503);
  assert_int_equal(qc_interpret(200, "x", 1, NULL, &e), -1);
  assert_int_equal(e.kind, REC_E_PROTOCOL);
  assert_int_equal(e.retryable, 0);
}

static void test_interpret_excerpt_is_bounded(void **state) {
  char body[4096];
  reply_facts f;
  rec_err e;
  (void)state;
  memset(body, 'A', sizeof body);
  memset(&f, 0, sizeof f);
  assert_int_equal(qc_interpret(502, body, sizeof body, &f, &e), -1);
  assert_true(strlen(e.message) < 300);
  assert_non_null(strstr(e.message, "AAAA"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_validate_required),
    cmocka_unit_test(test_validate_limit_and_offset),
    cmocka_unit_test(test_validate_hours),
    cmocka_unit_test(test_url_documented_shape),
    cmocka_unit_test(test_url_escaping_and_only_given),
    cmocka_unit_test(test_url_time_changes_signature),
    cmocka_unit_test(test_url_refuses_bad_input),
    cmocka_unit_test(test_status_table),
    cmocka_unit_test(test_integer_fields),
    cmocka_unit_test(test_interpret_fixtures),
    cmocka_unit_test(test_interpret_without_facts),
    cmocka_unit_test(test_interpret_excerpt_is_bounded),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
