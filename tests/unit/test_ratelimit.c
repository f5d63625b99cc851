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

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_reserve_spacing),
    cmocka_unit_test(test_unlimited),
    cmocka_unit_test(test_commit_respaces_late_slots),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
