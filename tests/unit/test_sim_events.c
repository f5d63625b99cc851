/* test_sim_events: the simulator's NCS events. Signing against Agora's documented test
 * vector (both headers); the exact body of an event; the events a timeline makes (types,
 * order, sequence, sendts, details); extra events from the scenario with their details as
 * JSON in a stable key order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "sim/sim_events.h"
#include "sim/sim_int.h"

#define WALL0 1637218603  /* 2021-11-18 06:56:43 UTC */

/* reference §3.1, "Test vector" */
static const char vector_body[] =
    "{\"eventMs\":1560408533119,\"eventType\":10,\"noticeId\":\"4eb720f0-8da7-11e9-a43e-"
    "53f411c2761f\",\"notifyMs\":1560408533119,\"payload\":{\"a\":\"1\",\"b\":2},"
    "\"productId\":1}";

static void test_sign_vector(void **state) {
  char v1[41], v2[65];
  (void)state;
  assert_int_equal(sim_events_sign("secret", vector_body, strlen(vector_body), v1, v2), 0);
  assert_string_equal(v1, "033c62f40f687675f17f0f41f91a40c71c0f134c");
  assert_string_equal(v2, "6d3320c60b11101395b7fc8f9068748808a0aa1bfa064438e39d1bc2c7d74d99");
  /* one byte more, or another secret: another signature */
  assert_int_equal(sim_events_sign("secret", vector_body, strlen(vector_body) - 1, v1, v2), 0);
  assert_string_not_equal(v1, "033c62f40f687675f17f0f41f91a40c71c0f134c");
  assert_int_equal(sim_events_sign("secreT", vector_body, strlen(vector_body), v1, v2), 0);
  assert_string_not_equal(v2, "6d3320c60b11101395b7fc8f9068748808a0aa1bfa064438e39d1bc2c7d74d99");
}

static void test_body(void **state) {
  char out[512];
  size_t n;
  (void)state;
  n = sim_events_body(out, sizeof out, "id-1", 11, 1560408533119LL, "{\"sid\":\"s\"}");
  assert_string_equal(out, "{\"noticeId\":\"id-1\",\"productId\":3,\"eventType\":11,"
                           "\"notifyMs\":1560408533119,\"payload\":{\"sid\":\"s\"}}");
  assert_int_equal(n, strlen(out));
  assert_int_equal(sim_events_body(out, 20, "id-1", 11, 1, "{}"), 0);  /* does not fit */
}

static sim_scenario *load(const char *text) {
  char err[256];
  sim_scenario *sc = sim_scenario_load_buffer(text, strlen(text), WALL0, err, sizeof err);
  if (!sc) fail_msg("scenario: %s", err);
  return sc;
}

static void test_timeline_events(void **state) {
  static const struct {
    double t;
    int type;
    const char *payload;
  } want[] = {
      {0, 40, "{\"cname\":\"ch\",\"uid\":\"10001\",\"sid\":\"s1\",\"sequence\":0,"
              "\"sendts\":1637218603000,\"serviceType\":0,\"details\":{\"msgName\":"
              "\"recorder_started\",\"startUtcMs\":1637218603000}}"},
      {0, 30, "\"sequence\":1,\"sendts\":1637218603000,\"serviceType\":0,\"details\":{\"msgName\":"
              "\"uploader_started\",\"status\":0}}"},
      {0, 3, "\"details\":{\"msgName\":\"cloud_recording_status_update\",\"status\":4,"
             "\"recordingMode\":0,\"fileList\":\"a.m3u8\"}}"},
      {2.5, 3, "\"sequence\":3,\"sendts\":1637218605500,"},
      {2.5, 4, "\"details\":{\"msgName\":\"cloud_recording_file_infos\",\"fileList\":\"a.m3u8\"}}"},
      {7, 3, "\"status\":8,"},
      {7, 41, "\"details\":{\"msgName\":\"recorder_leave\",\"leaveCode\":2}}"},
      {7, 31, "\"details\":{\"msgName\":\"uploaded\",\"status\":0,\"fileList\":[{\"fileName\":"
              "\"a.m3u8\",\"sliceStartTime\":1}]}}"},
      {7, 11, "\"sequence\":8,\"sendts\":1637218610000,\"serviceType\":0,\"details\":"
              "{\"msgName\":\"session_exit\",\"exitStatus\":0}}"},
      {9, 12, "\"details\":{\"a\":[1,2.5,true],\"msgName\":\"session_failover\",\"newUid\":\"9\"}}"},
  };
  sim_scenario *sc = load(
      "return { agora_recordings = { { appid = 'a', resourceid = 'r', sid = 's1', channel = 'ch',\n"
      "  mode = 'individual', files = { { fileName = 'a.m3u8', sliceStartTime = 1 } },\n"
      "  timeline = { {0, 4}, {2.5, 5}, {7, 8}, {9, 20} } } },\n"
      "  agora_ncs = { events = { { sid = 's1', at = 9, type = 12,\n"
      "    details = { newUid = '9', a = { 1, 2.5, true } } } } } }");
  sim_events_plan *p = sim_events_plan_new(sc);
  size_t i;
  double t;
  int type;
  const char *pl;
  (void)state;
  assert_non_null(p);
  for (i = 0; i < sizeof want / sizeof want[0]; i++) {
    pl = sim_events_plan_get(p, i, &t, &type);
    assert_non_null(pl);
    assert_true(t == want[i].t);
    assert_int_equal(type, want[i].type);
    if (!strstr(pl, want[i].payload)) fail_msg("event %zu: %s lacks %s", i, pl, want[i].payload);
  }
  /* nothing after the exit (the 20 at 9 s is past the end of the session) */
  assert_null(sim_events_plan_get(p, i, &t, &type));
  sim_events_plan_free(p);
  sim_scenario_free(sc);
}

static void test_abnormal_and_web(void **state) {
  sim_scenario *sc = load(
      "return { agora_recordings = { { appid = 'a', resourceid = 'r', sid = 'w', mode = 'web',\n"
      "  timeline = { {1, 4}, {3, 20} } } } }");
  sim_events_plan *p = sim_events_plan_new(sc);
  const char *pl;
  int type, types[8] = {0};
  size_t i;
  (void)state;
  assert_non_null(p);
  for (i = 0; (pl = sim_events_plan_get(p, i, NULL, &type)) != NULL && i < 8; i++) {
    types[i] = type;
    if (type == 3) assert_null(strstr(pl, "recordingMode"));  /* web: no recording mode */
    if (type == 1)
      assert_non_null(strstr(pl, "\"errorLevel\":5,"));
    if (type == 11) assert_non_null(strstr(pl, "\"exitStatus\":1}"));
  }
  assert_int_equal(i, 6);
  assert_int_equal(types[0], 40);
  assert_int_equal(types[1], 30);
  assert_int_equal(types[2], 3);
  assert_int_equal(types[3], 3);
  assert_int_equal(types[4], 1);
  assert_int_equal(types[5], 11);
  sim_events_plan_free(p);
  sim_scenario_free(sc);
}

static void test_timeline_off(void **state) {
  sim_scenario *sc = load(
      "return { agora_recordings = { { appid = 'a', resourceid = 'r', sid = 's', status = 5 } },\n"
      "  agora_ncs = { timeline = false } }");
  sim_events_plan *p = sim_events_plan_new(sc);
  (void)state;
  assert_non_null(p);
  assert_null(sim_events_plan_get(p, 0, NULL, NULL));
  sim_events_plan_free(p);
  sim_scenario_free(sc);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sign_vector),
      cmocka_unit_test(test_body),
      cmocka_unit_test(test_timeline_events),
      cmocka_unit_test(test_abnormal_and_web),
      cmocka_unit_test(test_timeline_off),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
