/* metrics: name and label validation, re-registration, the cardinality cap, counters that
 * only go up, histogram buckets, and the text format (escaping, numbers, process_*). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "metrics.h"

static int teardown(void **state) {
  (void)state;
  metrics_reset();
  return 0;
}

static char *render(sbuf *b) {
  b->len = 0;
  metrics_render(b);
  return b->p;
}

static void test_names(void **state) {
  (void)state;
  assert_true(metrics_valid_name("a_b:c_total"));
  assert_true(metrics_valid_name("_x9"));
  assert_false(metrics_valid_name("9x"));
  assert_false(metrics_valid_name("a-b"));
  assert_false(metrics_valid_name(""));
  assert_false(metrics_valid_name("caf\xc3\xa9"));
  assert_true(metrics_valid_label("provider"));
  assert_false(metrics_valid_label("__name"));
  assert_false(metrics_valid_label("a:b"));
  assert_false(metrics_valid_label("1a"));
}

static void test_register(void **state) {
  char err[256];
  const char *l1[] = {"kind"}, *l2[] = {"other"}, *dup[] = {"a", "a"}, *le[] = {"le"};
  metric_t *a, *b;
  (void)state;
  a = metrics_register(METRIC_COUNTER, "x_total", "X.", 1, l1, NULL, 0, err, sizeof err);
  assert_non_null(a);
  b = metrics_register(METRIC_COUNTER, "x_total", "X again.", 1, l1, NULL, 0, err, sizeof err);
  assert_ptr_equal(a, b);  /* a reloaded script gets its counter back */
  assert_null(metrics_register(METRIC_COUNTER, "x_total", "X.", 1, l2, NULL, 0, err, sizeof err));
  assert_non_null(strstr(err, "already registered"));
  assert_null(metrics_register(METRIC_GAUGE, "x_total", "X.", 1, l1, NULL, 0, err, sizeof err));
  assert_null(metrics_register(METRIC_GAUGE, "bad name", "", 0, NULL, NULL, 0, err, sizeof err));
  assert_non_null(strstr(err, "invalid metric name"));
  assert_null(metrics_register(METRIC_GAUGE, "g", "", 2, dup, NULL, 0, err, sizeof err));
  assert_non_null(strstr(err, "twice"));
  assert_null(metrics_register(METRIC_HISTOGRAM, "h", "", 1, le, NULL, 0, err, sizeof err));
  {
    double down[] = {1, 0.5};
    assert_null(metrics_register(METRIC_HISTOGRAM, "h", "", 0, NULL, down, 2, err, sizeof err));
    assert_non_null(strstr(err, "ascending"));
  }
}

static void test_cap_and_counters(void **state) {
  char err[256], v[32];
  const char *l[] = {"id"}, *vals[1] = {v};
  metric_t *m = metrics_register(METRIC_COUNTER, "ids_total", "", 1, l, NULL, 0, err, sizeof err);
  int i;
  (void)state;
  assert_non_null(m);
  for (i = 0; i < METRICS_MAX_SERIES; i++) {
    snprintf(v, sizeof v, "%d", i);
    assert_int_equal(metrics_add(m, vals, 1, err, sizeof err), 0);
  }
  snprintf(v, sizeof v, "one-too-many");
  assert_int_equal(metrics_add(m, vals, 1, err, sizeof err), -1);
  assert_non_null(strstr(err, "cardinality cap"));
  snprintf(v, sizeof v, "7");  /* an existing series still counts */
  assert_int_equal(metrics_add(m, vals, 2, err, sizeof err), 0);
  assert_true(metrics_get(m, vals) == 3);
  assert_int_equal(metrics_add(m, vals, -1, err, sizeof err), -1);
  assert_non_null(strstr(err, "only goes up"));
  assert_int_equal(metrics_set(m, vals, 1, err, sizeof err), -1);
  assert_int_equal(metrics_observe(m, vals, 1, err, sizeof err), -1);
}

static void test_render(void **state) {
  char err[256];
  const char *l[] = {"path"}, *v[1] = {"a\"b\\c\nd"};
  double b[] = {0.1, 1};
  metric_t *g = metrics_register(METRIC_GAUGE, "esc", "Help with \\ and\nnewline.", 1, l, NULL,
                                 0, err, sizeof err);
  metric_t *h = metrics_register(METRIC_HISTOGRAM, "lat_seconds", "L.", 0, NULL, b, 2, err,
                                 sizeof err);
  sbuf out = {0};
  char *page;
  (void)state;
  assert_int_equal(metrics_set(g, v, 0.25, err, sizeof err), 0);
  assert_int_equal(metrics_observe(h, NULL, 0.05, err, sizeof err), 0);
  assert_int_equal(metrics_observe(h, NULL, 0.5, err, sizeof err), 0);
  assert_int_equal(metrics_observe(h, NULL, 5, err, sizeof err), 0);
  page = render(&out);
  assert_non_null(strstr(page, "# HELP esc Help with \\\\ and\\nnewline.\n# TYPE esc gauge\n"));
  assert_non_null(strstr(page, "esc{path=\"a\\\"b\\\\c\\nd\"} 0.25\n"));
  assert_non_null(strstr(page, "lat_seconds_bucket{le=\"0.1\"} 1\n"));
  assert_non_null(strstr(page, "lat_seconds_bucket{le=\"1\"} 2\n"));
  assert_non_null(strstr(page, "lat_seconds_bucket{le=\"+Inf\"} 3\n"));
  assert_non_null(strstr(page, "lat_seconds_sum 5.55\n"));
  assert_non_null(strstr(page, "lat_seconds_count 3\n"));
  /* built-ins and the process metrics are always there */
  assert_non_null(strstr(page, "# TYPE recwatch_provider_requests_total counter\n"));
  assert_non_null(strstr(page, "recwatch_build_info{version=\""));
  assert_non_null(strstr(page, "\nprocess_open_fds "));
  assert_non_null(strstr(page, "\nprocess_start_time_seconds "));
  metrics_zero(g);
  page = render(&out);
  assert_non_null(strstr(page, "esc{path=\"a\\\"b\\\\c\\nd\"} 0\n"));
  sbuf_free(&out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_teardown(test_names, teardown),
    cmocka_unit_test_teardown(test_register, teardown),
    cmocka_unit_test_teardown(test_cap_and_counters, teardown),
    cmocka_unit_test_teardown(test_render, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
