/* test_process: the process object owns the log configuration, the metrics registry and the
 * listener: while it is installed they are its own, and freeing it (listener thread first)
 * gives the built-in ones back untouched. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "log.h"
#include "metrics.h"
#include "ops.h"
#include "process.h"

static void test_owns_and_gives_back(void **state) {
  char err[256];
  metric_t *mine, *builtin_one;
  rec_process *p;
  sbuf page = {0};
  (void)state;
  metrics_reset();
  log_set_level(LOG_WARN);  /* the built-in log state's */
  builtin_one = metrics_register(METRIC_COUNTER, "outside_total", "h", 0, NULL, NULL, 0, err,
                                 sizeof err);
  assert_non_null(builtin_one);
  p = rec_process_new(err, sizeof err);
  assert_non_null(p);
  assert_int_equal(log_get_level(), LOG_INFO);  /* its own, fresh */
  log_set_level(LOG_ERROR);
  mine = metrics_register(METRIC_COUNTER, "inside_total", "h", 0, NULL, NULL, 0, err,
                          sizeof err);
  assert_non_null(mine);
  metrics_render(&page);
  assert_non_null(strstr(page.p, "inside_total"));
  assert_null(strstr(page.p, "outside_total"));
  sbuf_free(&page);
  assert_int_equal(ops_listen("127.0.0.1:0", err, sizeof err), 0);
  assert_non_null(ops_listen_url());
  rec_process_free(p);  /* stops the listener's thread, frees the registry and the log state */
  assert_null(ops_listen_url());
  assert_int_equal(log_get_level(), LOG_WARN);
  memset(&page, 0, sizeof page);
  metrics_render(&page);
  assert_non_null(strstr(page.p, "outside_total"));
  assert_null(strstr(page.p, "inside_total"));
  sbuf_free(&page);
  metrics_reset();
  log_set_level(LOG_INFO);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_owns_and_gives_back),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
