/* Unit tests for the backoff policy: documented delays per class of failure, jitter that
 * only adds, Retry-After, cap. */
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
  /* r = 0 is the bottom of the jitter band: exactly the documented delays */
  assert_true(near(retry_delay(&p, RETRY_FAILOVER, 1, 0, 0), 1.0));
  assert_true(near(retry_delay(&p, RETRY_FAILOVER, 2, 0, 0), 3.0));
  assert_true(near(retry_delay(&p, RETRY_FAILOVER, 3, 0, 0), 6.0));
  assert_true(near(retry_delay(&p, RETRY_FAILOVER, 9, 0, 0), 6.0));  /* the last repeats */
  /* 206/65: the same request after 3 s, then 6 s */
  assert_true(near(retry_delay(&p, RETRY_AGAIN, 1, 0, 0), 3.0));
  assert_true(near(retry_delay(&p, RETRY_AGAIN, 2, 0, 0), 6.0));
  assert_true(near(retry_delay(&p, RETRY_AGAIN, 3, 0, 0), 6.0));
  /* a 5xx on a control call: 3, 6, 9 s */
  assert_true(near(retry_delay(&p, RETRY_CONTROL, 1, 0, 0), 3.0));
  assert_true(near(retry_delay(&p, RETRY_CONTROL, 2, 0, 0), 6.0));
  assert_true(near(retry_delay(&p, RETRY_CONTROL, 3, 0, 0), 9.0));
  retry_policy_qingcloud(&p);
  assert_true(near(retry_delay(&p, RETRY_FAILOVER, 3, 0, 0), 4.0));
  assert_true(near(retry_delay(&p, RETRY_CONTROL, 2, 0, 0), 6.0));
}

/* "After 3 s" is never sooner: jitter adds up to 20%, and takes nothing away. */
static void test_jitter_only_adds(void **state) {
  retry_policy p;
  int c, n, i;
  (void)state;
  retry_policy_agora(&p);
  for (c = 0; c < RETRY_NCLASS; c++)
    for (n = 1; n <= 4; n++)
      for (i = 0; i < 100; i++) {
        double r = i / 100.0, base = retry_delay(&p, (retry_class)c, n, 0, 0);
        double d = retry_delay(&p, (retry_class)c, n, 0, r);
        assert_true(d >= base - 1e-12);
        assert_true(d < base * 1.2 + 1e-9);
      }
  retry_policy_qingcloud(&p);
  assert_true(near(retry_delay(&p, RETRY_FAILOVER, 2, 0, 0.0), 2.0));
  assert_true(retry_delay(&p, RETRY_FAILOVER, 2, 0, 0.999999) < 2.0 * 1.2);
  assert_true(retry_delay(&p, RETRY_FAILOVER, 2, 0, 0.999999) > 2.0 * 1.19);
}

static void test_retry_after_wins_when_longer_but_is_capped(void **state) {
  retry_policy p;
  (void)state;
  retry_policy_agora(&p);
  assert_true(near(retry_delay(&p, RETRY_FAILOVER, 1, 7.5, 0), 7.5));
  assert_true(near(retry_delay(&p, RETRY_FAILOVER, 3, 2.0, 0), 6.0));  /* shorter: ours */
  assert_true(near(retry_delay(&p, RETRY_AGAIN, 1, 3600, 0), 60.0));   /* capped */
}

static void test_custom_and_empty_policies(void **state) {
  retry_policy p;
  double one = 0.05, two[2] = {0.1, 0.2};
  int c;
  (void)state;
  retry_policy_agora(&p);
  retry_policy_set_all(&p, &one, 1);
  p.jitter = 0;
  for (c = 0; c < RETRY_NCLASS; c++) {
    assert_true(near(retry_delay(&p, (retry_class)c, 1, 0, 0.9), 0.05));
    assert_true(near(retry_delay(&p, (retry_class)c, 4, 0, 0.9), 0.05));
    assert_true(near(retry_delay(&p, (retry_class)c, 0, 0, 0.9), 0.05));  /* clamped */
  }
  retry_policy_set_all(&p, two, 2);
  assert_true(near(retry_delay(&p, RETRY_AGAIN, 2, 0, 0), 0.2));
  retry_policy_set_all(&p, p.delays, 1);  /* its own table: no overlap trouble */
  assert_true(near(retry_delay(&p, RETRY_CONTROL, 3, 0, 0), 0.1));
  p.ndelays = 0;
  assert_true(near(retry_delay(&p, RETRY_FAILOVER, 1, 0, 0.9), 0.0));
  assert_true(near(retry_delay(&p, RETRY_FAILOVER, 1, 2.5, 0.9), 2.5));
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_agora_documented_delays),
    cmocka_unit_test(test_jitter_only_adds),
    cmocka_unit_test(test_retry_after_wins_when_longer_but_is_capped),
    cmocka_unit_test(test_custom_and_empty_policies),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
