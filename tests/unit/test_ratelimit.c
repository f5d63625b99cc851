/* test_ratelimit: GCRA bookings are FIFO and spaced by RL_MARGIN/rate; rl_commit re-spaces
 * slots whose timers fired late, so consecutive sends are never closer than one interval. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include "ratelimit.h"

#define EPS 1e-9

static void test_reserve_spacing(void **state) {
  rl_bucket b;
  double iv = RL_MARGIN / 10;
  (void)state;
  rl_init(&b, 10);
  assert_true(rl_reserve(&b, 5.0) < EPS);
  assert_true(fabs(rl_reserve(&b, 5.0) - iv) < EPS);
  assert_true(fabs(rl_reserve(&b, 5.0) - 2 * iv) < EPS);
  /* idle for long: no burst credit, the next one goes at once */
  assert_true(rl_reserve(&b, 100.0) < EPS);
  assert_true(rl_reserve(&b, 100.0) > iv - EPS);
}

static void test_unlimited(void **state) {
  rl_bucket b;
  (void)state;
  rl_init(&b, 0);
  assert_true(rl_reserve(&b, 1) == 0 && rl_reserve(&b, 1) == 0);
  assert_true(rl_commit(&b, 1) == 0 && rl_commit(&b, 1) == 0);
}

static void test_commit_respaces_late_slots(void **state) {
  rl_bucket b;
  double iv = RL_MARGIN / 20, w[5], sent[5];
  int i;
  (void)state;
  rl_init(&b, 20);
  for (i = 0; i < 5; i++) w[i] = rl_reserve(&b, 0.0);   /* slots 0, iv, 2iv, ... */
  assert_true(w[4] > 4 * iv - EPS);
  /* the process was descheduled: every timer fires together at 1.0 s */
  for (i = 0; i < 5; i++) sent[i] = 1.0 + rl_commit(&b, 1.0);
  for (i = 1; i < 5; i++) assert_true(sent[i] - sent[i - 1] > iv - EPS);
  assert_true(sent[0] - 1.0 < EPS);
  /* a new booking comes after the committed ones */
  assert_true(rl_reserve(&b, 1.0) > 5 * iv - EPS);
  /* on-time slots are sent at once */
  rl_init(&b, 20);
  assert_true(rl_commit(&b, 0.0) < EPS);
  assert_true(rl_commit(&b, iv) < EPS);
  assert_true(rl_commit(&b, 2 * iv + 0.3) < EPS);
}

/* The check at departure: with rate 10, the 11th departure within 1.10 s of the first one
 * is refused (it would eat the margin left for arrival jitter); spaced ones and late ones
 * pass. */
static void test_leave_checks_the_window(void **state) {
  rl_bucket b;
  double iv = RL_MARGIN / 10;
  int i;
  (void)state;
  rl_init(&b, 10);
  assert_int_equal(b.window_n, 10);
  for (i = 0; i < 10; i++) assert_int_equal(rl_leave(&b, 1.0 + i * iv), 0);
  assert_int_equal(rl_leave(&b, 1.0 + 1.09), -1);     /* 11 within 1.09 s: refused */
  assert_int_equal(rl_leave(&b, 1.0 + 10 * iv), 0);   /* on its slot: 1.15 s after the first */
  assert_int_equal(rl_leave(&b, 1.0 + 10 * iv + 0.01), -1);  /* too close to the 2nd */
  assert_int_equal(rl_leave(&b, 1.0 + 11 * iv), 0);
  /* a burst of late departures after a stall passes only as the window allows */
  rl_init(&b, 10);
  for (i = 0; i < 10; i++) assert_int_equal(rl_leave(&b, 5.0), 0);
  assert_int_equal(rl_leave(&b, 5.5), -1);
  assert_int_equal(rl_leave(&b, 6.09), -1);
  assert_int_equal(rl_leave(&b, 6.11), 0);
  /* unlimited, or rates above the ring: no check */
  rl_init(&b, 0);
  for (i = 0; i < 1000; i++) assert_int_equal(rl_leave(&b, 1.0), 0);
  rl_init(&b, 10000);
  for (i = 0; i < 1000; i++) assert_int_equal(rl_leave(&b, 1.0), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_reserve_spacing),
    cmocka_unit_test(test_unlimited),
    cmocka_unit_test(test_commit_respaces_late_slots),
    cmocka_unit_test(test_leave_checks_the_window),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
