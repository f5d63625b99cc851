/* Unit tests for the backoff policy: documented delays, jitter bounds, Retry-After, cap. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "retry.h"

static int near(double a, double b) { return a > b - 1e-9 && a < b + 1e-9; }

static void test_agora_documented_delays(void **state) {
  retry_policy p;
  (void)state;
  retry_policy_agora(&p);
  assert_int_equal(p.retries, 3);
  /* r = 0.5 is the middle of the jitter band: exactly the documented 1 s, 3 s, 6 s */
  assert_true(near(retry_delay(&p, 1, 0, 0.5), 1.0));
  assert_true(near(retry_delay(&p, 2, 0, 0.5), 3.0));
  assert_true(near(retry_delay(&p, 3, 0, 0.5), 6.0));
  assert_true(near(retry_delay(&p, 9, 0, 0.5), 6.0));  /* the last delay repeats */
}

static void test_jitter_stays_within_twenty_percent(void **state) {
  retry_policy p;
  (void)state;
  retry_policy_qingcloud(&p);
  assert_true(near(retry_delay(&p, 2, 0, 0.0), 2.0 * 0.8));
  assert_true(retry_delay(&p, 2, 0, 0.999999) < 2.0 * 1.2);
  assert_true(retry_delay(&p, 2, 0, 0.999999) > 2.0 * 1.19);
}

static void test_retry_after_wins_when_longer_but_is_capped(void **state) {
  retry_policy p;
  (void)state;
  retry_policy_agora(&p);
  assert_true(near(retry_delay(&p, 1, 7.5, 0.5), 7.5));
  assert_true(near(retry_delay(&p, 3, 2.0, 0.5), 6.0));   /* shorter Retry-After: ours */
  assert_true(near(retry_delay(&p, 1, 3600, 0.5), 60.0)); /* never more than max_delay */
}

static void test_custom_and_empty_policies(void **state) {
  retry_policy p;
  (void)state;
  retry_policy_agora(&p);
  p.delays[0] = 0.05;
  p.ndelays = 1;
  p.jitter = 0;
  assert_true(near(retry_delay(&p, 1, 0, 0.9), 0.05));
  assert_true(near(retry_delay(&p, 4, 0, 0.9), 0.05));
  assert_true(near(retry_delay(&p, 0, 0, 0.9), 0.05));  /* a bad index is clamped */
  p.ndelays = 0;
  assert_true(near(retry_delay(&p, 1, 0, 0.9), 0.0));
  assert_true(near(retry_delay(&p, 1, 2.5, 0.9), 2.5));
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_agora_documented_delays),
    cmocka_unit_test(test_jitter_stays_within_twenty_percent),
    cmocka_unit_test(test_retry_after_wins_when_longer_but_is_capped),
    cmocka_unit_test(test_custom_and_empty_policies),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
