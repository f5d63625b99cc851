/* test_logstate: the log module's state is a swappable struct: a test case's own level,
 * timestamps from its (virtual) clock and a tee that sees every line after redaction; the
 * previous state comes back untouched. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "log.h"

static char seen[8][256];
static int nseen;

static int tee(void *ud, log_level level, unsigned task, const char *line) {
  (void)ud;
  if (nseen < 8) snprintf(seen[nseen++], sizeof seen[0], "%d %u %s", (int)level, task, line);
  return 0;  /* swallowed: nothing printed */
}

static double fixed_clock(void *ud) { return *(double *)ud; }

static void test_swap_clock_tee(void **state) {
  double when = 1700000000.5;
  log_state *mine = log_state_new(), *prev;
  FILE *saved;
  char buf[512];
  (void)state;
  log_set_level(LOG_WARN);                 /* the default state's level */
  prev = log_state_use(mine);
  assert_int_equal(log_get_level(), LOG_INFO);  /* a fresh state: info */
  log_set_tee(tee, NULL);
  log_add_secret("sekret-value");
  nseen = 0;
  log_write(LOG_INFO, 3, "token sekret-value here");
  log_debug("not at info level");
  assert_int_equal(nseen, 1);
  assert_string_equal(seen[0], "1 3 token [REDACTED] here");
  /* the timestamp comes from the clock: tee printing on, stderr to a buffer */
  log_set_tee(NULL, NULL);
  log_set_clock(fixed_clock, &when);
  saved = stderr;
  stderr = fmemopen(buf, sizeof buf, "w");
  log_write(LOG_WARN, 0, "hello");
  fclose(stderr);
  stderr = saved;
  assert_non_null(strstr(buf, "2023-11-14T22:13:20.500Z warn  hello"));
  assert_ptr_equal(log_state_use(prev), mine);
  assert_int_equal(log_get_level(), LOG_WARN);  /* the default state is as it was */
  log_state_free(mine);
  log_set_level(LOG_INFO);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_swap_clock_tee),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
