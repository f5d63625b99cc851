/* test_events_ncs: the NCS receiver's check (events_ncs.c) against Agora's documented test
 * vector (secret "secret"): V1 (HMAC-SHA1) and V2 (HMAC-SHA256) over the exact raw bytes, V2
 * first when both are sent, refusals of every wrong or missing signature, and the strict JSON
 * parse with the fields the receiver keeps. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "events_ncs.h"

static const char vector[] =
  "{\"eventMs\":1560408533119,\"eventType\":10,\"noticeId\":\"4eb720f0-8da7-11e9-a43e-"
  "53f411c2761f\",\"notifyMs\":1560408533119,\"payload\":{\"a\":\"1\",\"b\":2},\"productId\":1}";
static const char v1[] = "033c62f40f687675f17f0f41f91a40c71c0f134c";
static const char v2[] = "6d3320c60b11101395b7fc8f9068748808a0aa1bfa064438e39d1bc2c7d74d99";

static int check(const char *body, const char *s1, const char *s2, const char *secret,
                 ncs_notice *n) {
  return ncs_check(body, strlen(body), s1, s1 ? strlen(s1) : 0, s2, s2 ? strlen(s2) : 0,
                   secret, strlen(secret), n);
}

static void test_vector_v1_and_v2(void **state) {
  ncs_notice n;
  (void)state;
  assert_int_equal(check(vector, v1, NULL, "secret", &n), NCS_OK);
  assert_string_equal(n.notice_id, "4eb720f0-8da7-11e9-a43e-53f411c2761f");
  assert_int_equal(n.event_type, 10);
  assert_int_equal(n.product_id, 1);
  assert_int_equal(n.notify_ms, 1560408533119LL);
  assert_int_equal(check(vector, NULL, v2, "secret", &n), NCS_OK);
  assert_int_equal(check(vector, v1, v2, "secret", &n), NCS_OK);
  /* upper-case hex and blanks around the value are the same signature */
  assert_int_equal(check(vector, NULL, " 6D3320C60B11101395B7FC8F9068748808A0AA1BFA064438E39D1BC2C7D74D99 ", "secret", &n), NCS_OK);
}

static void test_wrong_signatures(void **state) {
  char body[sizeof vector], bad[sizeof v2];
  ncs_notice n;
  (void)state;
  assert_int_equal(check(vector, NULL, NULL, "secret", &n), NCS_BAD_SIGNATURE);
  assert_int_equal(check(vector, v1, NULL, "other", &n), NCS_BAD_SIGNATURE);
  assert_int_equal(check(vector, NULL, v2, "", &n), NCS_BAD_SIGNATURE);
  /* V2 decides when it is sent, even beside a right V1 */
  memcpy(bad, v2, sizeof v2);
  bad[0] = '7';
  assert_int_equal(check(vector, v1, bad, "secret", &n), NCS_BAD_SIGNATURE);
  /* V1's digest in V2's header, a truncated one, not hex */
  assert_int_equal(check(vector, NULL, v1, "secret", &n), NCS_BAD_SIGNATURE);
  assert_int_equal(check(vector, "033c62f40f687675f17f0f41f91a40c71c0f134", NULL, "secret", &n), NCS_BAD_SIGNATURE);
  assert_int_equal(check(vector, "z33c62f40f687675f17f0f41f91a40c71c0f134c", NULL, "secret", &n), NCS_BAD_SIGNATURE);
  /* one byte of the body changed (a space more: the raw bytes are signed, not the JSON) */
  memcpy(body, vector, sizeof vector);
  body[strlen(body) - 2] = '2';
  assert_int_equal(check(body, v1, v2, "secret", &n), NCS_BAD_SIGNATURE);
  assert_int_equal(n.notice_id[0], 0);
}

static void test_parse(void **state) {
  ncs_notice n;
  (void)state;
  const char *ok = "{\"noticeId\":\"n-1\",\"productId\":3,\"eventType\":11,\"notifyMs\":1,"
                   "\"payload\":{\"cname\":\"room\",\"uid\":\"7\",\"sid\":\"sid-9\",\"sequence\":2,"
                   "\"details\":{\"msgName\":\"session_exit\",\"exitStatus\":1,\"sid\":\"inner\"}}}";
  assert_int_equal(ncs_parse(ok, strlen(ok), &n), NCS_OK);
  assert_string_equal(n.sid, "sid-9");
  assert_string_equal(n.cname, "room");
  assert_int_equal(n.event_type, 11);
  static const char *const bad[] = {
    "", "not json", "[1,2]", "{\"noticeId\":\"a\"", "{\"noticeId\":\"a\"} x", "{\"noticeId\":1}",
    "{\"noticeId\":\"\"}", "{\"noticeId\":\"a b\"}", "{\"noticeId\":\"a\\u0041\"}",
    "{\"eventType\":1}", "{\"noticeId\":\"a\",}", "{\"noticeId\":\"a\",\"x\":01}",
    "{\"noticeId\":\"a\",\"x\":\"\x01\"}", "{\"noticeId\":\"a\",\"x\":tru}",
    "{\"noticeId\":\"a\",\"x\":\"\\q\"}", "{\"noticeId\":\"a\",\"x\":1.}", NULL};
  for (int i = 0; bad[i]; i++) {
    assert_int_equal(ncs_parse(bad[i], strlen(bad[i]), &n), NCS_MALFORMED);
    assert_true(n.why[0] != 0);
  }
  /* nesting past the cap is refused, not recursed into */
  char deep[200] = "{\"noticeId\":\"a\",\"x\":";
  size_t k = strlen(deep);
  for (int i = 0; i < 40; i++) deep[k++] = '[';
  for (int i = 0; i < 40; i++) deep[k++] = ']';
  deep[k++] = '}';
  deep[k] = 0;
  assert_int_equal(ncs_parse(deep, k, &n), NCS_MALFORMED);
  /* a noticeId of 129 bytes is refused, 128 taken */
  char id[300];
  snprintf(id, sizeof id, "{\"noticeId\":\"%0128d\"}", 0);
  assert_int_equal(ncs_parse(id, strlen(id), &n), NCS_OK);
  snprintf(id, sizeof id, "{\"noticeId\":\"%0129d\"}", 0);
  assert_int_equal(ncs_parse(id, strlen(id), &n), NCS_MALFORMED);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_vector_v1_and_v2),
    cmocka_unit_test(test_wrong_signatures),
    cmocka_unit_test(test_parse),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
