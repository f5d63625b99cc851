/* The simulator's request log (GET /_sim/requests, sim_reqlog.c): a bounded ring that keeps
 * the newest entries in order, the member taken from `User-Agent: recwatch member=...` only,
 * the account as given, and `since` keeping the newer ones. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "sim/sim_srv.h"

static void add(sim_t *s, double t, const char *path, const char *ua, const char *account,
                int status) {
  sim_conn c;
  memset(&c, 0, sizeof c);
  c.t = t;
  c.status = status;
  c.parser.method = HTTP_GET;
  c.path = path;
  c.pathlen = strlen(path);
  if (ua) {
    c.has_kept[0] = 1;
    sbuf_add(&c.kept[0], ua, strlen(ua));
  }
  sim_reqlog_add(s, &c, "agora", account);
  sbuf_free(&c.kept[0]);
}

static void test_ring_keeps_the_newest(void **state) {
  sim_t s;
  sbuf b = {0};
  (void)state;
  memset(&s, 0, sizeof s);
  assert_int_equal(sim_reqlog_init(&s, 3), 0);
  sim_reqlog_render(&s, -1, &b);
  assert_string_equal(b.p, "[]\n");
  add(&s, 1, "/a", "recwatch member=m1", "c1", 200);
  add(&s, 2, "/b", "curl/8.0", "c2", 429);            /* not a member */
  add(&s, 3, "/c", NULL, NULL, 401);
  add(&s, 4, "/d", " recwatch member=m\"2 ", "c1", 200);  /* trimmed, JSON-escaped */
  sim_reqlog_render(&s, -1, &b);
  assert_string_equal(b.p,
      "[{\"t\":2.000000,\"account\":\"c2\",\"member\":null,\"method\":\"GET\",\"path\":\"/b\","
      "\"status\":429,\"provider\":\"agora\"},\n"
      "{\"t\":3.000000,\"account\":null,\"member\":null,\"method\":\"GET\",\"path\":\"/c\","
      "\"status\":401,\"provider\":\"agora\"},\n"
      "{\"t\":4.000000,\"account\":\"c1\",\"member\":\"m\\\"2\",\"method\":\"GET\",\"path\":\"/d\","
      "\"status\":200,\"provider\":\"agora\"}]\n");
  sim_reqlog_render(&s, 3, &b);  /* since: t > 3 only */
  assert_non_null(strstr(b.p, "\"path\":\"/d\""));
  assert_null(strstr(b.p, "\"path\":\"/c\""));
  sbuf_free(&b);
  sim_reqlog_free(&s);
  assert_null(s.reqlog);
}

static void test_member_of_a_fleet(void **state) {
  sim_t s;
  sbuf b = {0};
  (void)state;
  memset(&s, 0, sizeof s);
  assert_int_equal(sim_reqlog_init(&s, 10), 0);
  add(&s, 1, "/q", "recwatch member=host-a:123", "cust", 200);
  sim_reqlog_render(&s, -1, &b);
  assert_non_null(strstr(b.p, "\"member\":\"host-a:123\""));
  assert_non_null(strstr(b.p, "\"account\":\"cust\""));
  sbuf_free(&b);
  sim_reqlog_free(&s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_ring_keeps_the_newest),
    cmocka_unit_test(test_member_of_a_fleet),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
