/* test_ops: the watcher registry and health verdict of ops.c without an engine. Staleness
 * follows the monotonic clock only (a wall-clock step changes nothing); a lookup compares one
 * key or so whether 1,000 or 50,000 watchers are registered (a hash table, not a list); the
 * /healthz reason is cut at a word; a reload carries a watcher's times to the new script;
 * rejected credentials make the process unhealthy at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "ops.h"

static const double WALL0 = 1.8e9;

static ops_report rep(int ok, double stale_after) {
  ops_report r;
  memset(&r, 0, sizeof r);
  r.provider = "qingcloud";
  r.ok = ok;
  r.stale_after = stale_after;
  r.stale = -1;  /* not said */
  return r;
}

static int teardown(void **state) {
  (void)state;
  ops_shutdown();  /* not listening nor attached: forgets the registry */
  return 0;
}

/* A forward step of the wall clock (an hour) between two good polls marks nothing stale;
 * only monotonic time without a good poll does. */
static void test_wall_step(void **state) {
  char reason[512];
  ops_report r = rep(-1, 60);
  (void)state;
  ops_report_watcher_at("qingcloud/app/ch", &r, 10, WALL0);          /* registered */
  r = rep(1, 0);
  ops_report_watcher_at("qingcloud/app/ch", &r, 20, WALL0 + 10);     /* a good poll */
  assert_int_equal(ops_health_at(30, reason, sizeof reason), 0);
  /* the wall clock jumps an hour ahead: the next poll, 30 s later, fails */
  r = rep(0, 0);
  r.error = "network: connection refused";
  ops_report_watcher_at("qingcloud/app/ch", &r, 50, WALL0 + 3600 + 50);
  assert_int_equal(ops_health_at(51, reason, sizeof reason), 0);
  assert_string_equal(reason, "");
  assert_int_equal(ops_health_at(79, reason, sizeof reason), 0);     /* 59 s after the good poll */
  assert_int_equal(ops_health_at(81, reason, sizeof reason), 1);     /* 61 s: stale */
  assert_non_null(strstr(reason, "watcher qingcloud/app/ch is stale: no good poll for 61 s"));
}

/* One key compared per lookup (plus a collision now and then) at 1,000 and at 50,000
 * watchers: a list searched with strcmp compares n/2 keys. */
static void test_lookup_flat(void **state) {
  char key[64];
  ops_report r = rep(1, 60);
  double per[2];
  int sizes[2] = {1000, 50000}, n = 0, s, i;
  (void)state;
  for (s = 0; s < 2; s++) {
    unsigned long long p0;
    for (; n < sizes[s]; n++) {
      snprintf(key, sizeof key, "agora/app/res-%d/sid-%d", n, n);
      ops_report_watcher_at(key, &r, n * 0.001, WALL0);
    }
    p0 = ops_watcher_probes();
    for (i = 0; i < 1000; i++) {  /* a poll of 1,000 watchers spread over all of them */
      int k = (int)((unsigned)i * 2654435761u % (unsigned)n);
      snprintf(key, sizeof key, "agora/app/res-%d/sid-%d", k, k);
      ops_report_watcher_at(key, &r, 100, WALL0 + 100);
    }
    per[s] = (double)(ops_watcher_probes() - p0) / 1000;
    print_message("# %d watchers: %.2f keys compared per report\n", n, per[s]);
    assert_true(per[s] >= 1 && per[s] < 3);
  }
  assert_true(per[1] < per[0] + 1);
  /* forgetting is O(1) too, and what is left is still found */
  for (i = 0; i < n; i += 2) {
    snprintf(key, sizeof key, "agora/app/res-%d/sid-%d", i, i);
    ops_forget_watcher(key);
  }
  {
    char reason[512];
    assert_int_equal(ops_health_at(50, reason, sizeof reason), 0);
  }
}

/* The reason is cut at a word, with " [...]", never inside one. */
static void test_reason_cut(void **state) {
  char reason[512], err[2000];
  const char *cut;
  size_t n;
  ops_report r = rep(0, 5);
  int i;
  (void)state;
  err[0] = '\0';
  for (i = 0; i < 60; i++) strcat(err, "Couldn't connect to server ");  /* 1,620 bytes */
  r.error = err;
  ops_report_watcher_at("qingcloud/app/ch", &r, 0, WALL0);
  assert_int_equal(ops_health_at(10, reason, sizeof reason), 1);
  n = strlen(reason);
  assert_true(n < sizeof reason);
  assert_true(n > 6 && strcmp(reason + n - 6, " [...]") == 0);
  cut = strstr(reason, "last error: ");
  assert_non_null(cut);
  cut += strlen("last error: ");
  /* what is kept of the error is a prefix of it that ends before a space */
  n = strlen(cut) - 6;
  assert_memory_equal(cut, err, n);
  assert_true(err[n] == ' ');
  assert_true(cut[n - 1] != ' ');
  /* a short reason is not cut */
  r.error = "server: HTTP 502";
  ops_report_watcher_at("qingcloud/app/ch", &r, 1, WALL0);
  assert_int_equal(ops_health_at(10, reason, sizeof reason), 1);
  assert_non_null(strstr(reason, "; last error: server: HTTP 502"));
  assert_null(strstr(reason, "[...]"));
}

/* A reload: the old script's watchers leave the verdict until the new one registers the
 * same key, which then goes on from the old times (never polled well since t=0: stale at
 * t=10 with stale_after 4); a key the new script never registers is dropped at the next. */
static void test_reload_carries(void **state) {
  char reason[512];
  ops_report r = rep(0, 4);
  ops_times t;
  (void)state;
  r.error = "server: HTTP 500";
  ops_report_watcher_at("qingcloud/app/ch", &r, 0, WALL0);
  ops_report_watcher_at("qingcloud/app/gone", &r, 0, WALL0);
  r.state = "stale";
  ops_report_watcher_at("qingcloud/app/ch", &r, 4.5, WALL0 + 4.5);
  ops_new_state();                                       /* SIGHUP at t=5 */
  assert_int_equal(ops_health_at(5, reason, sizeof reason), 0);
  r = rep(-1, 4);                                        /* the new script registers ch */
  ops_report_watcher_at("qingcloud/app/ch", &r, 5.1, WALL0 + 5.1);
  assert_int_equal(ops_watcher_times("qingcloud/app/ch", &t), 1);
  assert_true(t.since == 0 && t.last_good < 0 && t.was_stale);
  assert_int_equal(ops_health_at(10, reason, sizeof reason), 1);
  assert_non_null(strstr(reason, "watcher qingcloud/app/ch is stale: no good poll for 10 s"));
  assert_null(strstr(reason, "more"));                   /* "gone" is not counted */
  ops_new_state();                                       /* the next reload drops "gone" */
  assert_int_equal(ops_watcher_times("qingcloud/app/gone", &t), 0);
  assert_int_equal(ops_watcher_times("qingcloud/app/ch", &t), 1);
}

/* A watcher that went stale while its credentials were rejected publishes auth_failed as its
 * state, which outranks stale: its stale flag still carries over a reload, so the new
 * script does not report (and alert) it stale a second time. */
static void test_reload_carries_stale_under_auth(void **state) {
  ops_report r = rep(0, 4);
  ops_times t;
  (void)state;
  r.error = "auth: 401";
  r.state = "auth_failed";
  ops_report_watcher_at("agora/app/rid/sid", &r, 0, WALL0);
  r.stale = 1;                                           /* stale at t=4.5, state unchanged */
  ops_report_watcher_at("agora/app/rid/sid", &r, 4.5, WALL0 + 4.5);
  ops_new_state();                                       /* SIGHUP */
  r = rep(-1, 4);
  ops_report_watcher_at("agora/app/rid/sid", &r, 5.1, WALL0 + 5.1);
  assert_int_equal(ops_watcher_times("agora/app/rid/sid", &t), 1);
  assert_true(t.was_stale);
}

/* Rejected credentials: unhealthy at the first such poll, the reason says so. */
static void test_auth_at_once(void **state) {
  char reason[512];
  ops_report r = rep(0, 300);
  (void)state;
  r.error = "auth: agora: HTTP 401: Invalid authentication credentials";
  r.state = "auth_failed";
  ops_report_watcher_at("agora/app/rid/sid", &r, 1, WALL0);
  assert_int_equal(ops_health_at(1, reason, sizeof reason), 1);
  assert_non_null(strstr(reason, "watcher agora/app/rid/sid: the provider rejects the credentials (auth)"));
  assert_non_null(strstr(reason, "Invalid authentication credentials"));
  r = rep(1, 0);                                         /* fixed: healthy again */
  ops_report_watcher_at("agora/app/rid/sid", &r, 2, WALL0 + 2);
  assert_int_equal(ops_health_at(2, reason, sizeof reason), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_teardown(test_wall_step, teardown),
    cmocka_unit_test_teardown(test_lookup_flat, teardown),
    cmocka_unit_test_teardown(test_reason_cut, teardown),
    cmocka_unit_test_teardown(test_reload_carries, teardown),
    cmocka_unit_test_teardown(test_reload_carries_stale_under_auth, teardown),
    cmocka_unit_test_teardown(test_auth_at_once, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
