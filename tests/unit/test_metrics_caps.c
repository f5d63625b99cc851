/* metrics: the registry's global caps (issue 20 item 6). Script families, their series in
 * all, the length of a label value and of a help text are capped, each refusal an error
 * and a count in recwatch_metrics_rejected_total{reason}; the page is capped in bytes,
 * script families past it are left off whole and counted on the page. The runtime's own
 * families are exempt and always on the page. Before these caps 20,000 script families
 * made a 94 MB page. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "metrics.h"

static int teardown(void **state) {
  (void)state;
  metrics_reset();
  return 0;
}

static double rejected(const char *reason) {
  const char *v[1] = {reason};
  return metrics_get(metrics_builtin()->rejected, v);
}

static void test_family_cap(void **state) {
  char name[64], err[256];
  int i;
  (void)state;
  metrics_builtin();
  for (i = 0; i < METRICS_MAX_FAMILIES; i++) {
    snprintf(name, sizeof name, "fam_%d", i);
    assert_non_null(metrics_register(METRIC_GAUGE, name, "h", 0, NULL, NULL, 0, err, sizeof err));
  }
  assert_null(metrics_register(METRIC_GAUGE, "fam_one_more", "h", 0, NULL, NULL, 0, err,
                               sizeof err));
  assert_non_null(strstr(err, "script metric families"));
  assert_true(rejected("families") == 1);
  /* an existing definition is still returned (a reload keeps its families) */
  assert_non_null(metrics_register(METRIC_GAUGE, "fam_7", "h", 0, NULL, NULL, 0, err, sizeof err));
  /* the runtime's families still update past the script cap */
  metrics_inc1(metrics_builtin()->reloads, "ok", 1);
  {
    const char *v[1] = {"ok"};
    assert_true(metrics_get(metrics_builtin()->reloads, v) == 1);
  }
  /* and so does the unreadable-task counter, which is the runtime's, not a script family: a
   * script that used every family cannot keep it off the page */
  {
    const char *v[2] = {"qingcloud", "status"};
    sbuf page = {0};
    assert_int_equal(metrics_add(metrics_builtin()->unreadable_tasks, v, 1, err, sizeof err), 0);
    assert_true(metrics_get(metrics_builtin()->unreadable_tasks, v) == 1);
    metrics_render(&page);
    sbuf_add(&page, "", 1);  /* a C string for strstr */
    assert_non_null(page.p);
    assert_non_null(strstr(page.p, "recwatch_unreadable_tasks_total{provider=\"qingcloud\",field=\"status\"} 1"));
    sbuf_free(&page);
  }
}

static void test_total_series_and_value_caps(void **state) {
  const char *labels[1] = {"k"};
  char err[256], val[400];
  metric_t *fams[METRICS_MAX_TOTAL_SERIES / METRICS_MAX_SERIES + 1];
  int f, i;
  (void)state;
  metrics_builtin();
  for (f = 0; f <= METRICS_MAX_TOTAL_SERIES / METRICS_MAX_SERIES; f++) {
    char name[32];
    snprintf(name, sizeof name, "ser_%d", f);
    fams[f] = metrics_register(METRIC_GAUGE, name, "h", 1, labels, NULL, 0, err, sizeof err);
    assert_non_null(fams[f]);
  }
  for (f = 0; f < METRICS_MAX_TOTAL_SERIES / METRICS_MAX_SERIES; f++)
    for (i = 0; i < METRICS_MAX_SERIES; i++) {
      const char *v[1];
      snprintf(val, sizeof val, "%d", i);
      v[0] = val;
      assert_int_equal(metrics_set(fams[f], v, 1, err, sizeof err), 0);
    }
  {
    const char *v[1] = {"x"};
    assert_int_equal(metrics_set(fams[f], v, 1, err, sizeof err), -1);
    assert_non_null(strstr(err, "series in all script metrics"));
    assert_true(rejected("total_series") == 1);
    /* an existing series still updates */
    v[0] = "3";
    assert_int_equal(metrics_set(fams[0], v, 2, err, sizeof err), 0);
  }
  metrics_reset();
  metrics_builtin();
  fams[0] = metrics_register(METRIC_GAUGE, "val_len", "h", 1, labels, NULL, 0, err, sizeof err);
  memset(val, 'v', sizeof val);
  val[METRICS_MAX_VALUE_LEN] = '\0';
  {
    const char *v[1] = {val};
    assert_int_equal(metrics_set(fams[0], v, 1, err, sizeof err), 0);  /* at the cap: fine */
    val[METRICS_MAX_VALUE_LEN] = 'v';
    val[METRICS_MAX_VALUE_LEN + 1] = '\0';
    assert_int_equal(metrics_set(fams[0], v, 1, err, sizeof err), -1);
    assert_non_null(strstr(err, "longer than"));
    assert_true(rejected("label_value") == 1);
  }
  {
    char *help = malloc(METRICS_MAX_HELP + 2);
    assert_non_null(help);
    memset(help, 'h', METRICS_MAX_HELP + 1);
    help[METRICS_MAX_HELP + 1] = '\0';
    assert_null(metrics_register(METRIC_GAUGE, "long_help", help, 0, NULL, NULL, 0, err,
                                 sizeof err));
    assert_true(rejected("help") == 1);
    free(help);
  }
}

/* Series as long as the caps allow: the page stops at METRICS_MAX_PAGE, keeps whole
 * families, the runtime's first, and says how many it left off. */
static void test_page_cap(void **state) {
  const char *labels[METRICS_MAX_LABELS] = {"a", "b", "c", "d", "e", "f", "g", "h"};
  const char *v[METRICS_MAX_LABELS];
  char err[256], vals[METRICS_MAX_LABELS][METRICS_MAX_VALUE_LEN + 1];
  sbuf b = {0};
  int f, i, j, nfam = METRICS_MAX_TOTAL_SERIES / METRICS_MAX_SERIES;
  const char *dropped_line;
  (void)state;
  metrics_builtin();
  for (j = 0; j < METRICS_MAX_LABELS; j++) {
    memset(vals[j], 'a' + j, METRICS_MAX_VALUE_LEN);
    vals[j][METRICS_MAX_VALUE_LEN] = '\0';
    v[j] = vals[j];
  }
  for (f = 0; f < nfam; f++) {
    char name[32];
    metric_t *m;
    snprintf(name, sizeof name, "big_%d", f);
    m = metrics_register(METRIC_GAUGE, name, "h", METRICS_MAX_LABELS, labels, NULL, 0, err,
                         sizeof err);
    assert_non_null(m);
    for (i = 0; i < METRICS_MAX_SERIES; i++) {
      snprintf(vals[0], 16, "%d", i);
      assert_int_equal(metrics_set(m, v, i, err, sizeof err), 0);
    }
  }
  metrics_render(&b);
  assert_non_null(b.p);
  /* the cap, plus the runtime's families, the dropped count and process_* */
  assert_true(b.len < (size_t)METRICS_MAX_PAGE + 64 * 1024);
  assert_non_null(strstr(b.p, "# TYPE recwatch_provider_requests_total counter"));
  assert_non_null(strstr(b.p, "# TYPE big_0 gauge"));
  assert_null(strstr(b.p, "# TYPE big_19 gauge"));
  dropped_line = strstr(b.p, "\nrecwatch_metrics_page_families_dropped ");
  assert_non_null(dropped_line);
  assert_true(atoi(dropped_line + strlen("\nrecwatch_metrics_page_families_dropped ")) > 0);
  assert_int_equal(metrics_page_dropped(),
                   atoi(dropped_line + strlen("\nrecwatch_metrics_page_families_dropped ")));
  /* a family is whole or absent: big_N's last series is there when its TYPE line is */
  for (f = 0; f < nfam; f++) {
    char type[48], last[48];
    snprintf(type, sizeof type, "# TYPE big_%d gauge", f);
    snprintf(last, sizeof last, "big_%d{a=\"%d", f, METRICS_MAX_SERIES - 1);
    assert_int_equal(strstr(b.p, type) != NULL, strstr(b.p, last) != NULL);
  }
  sbuf_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_family_cap, teardown),
      cmocka_unit_test_teardown(test_total_series_and_value_caps, teardown),
      cmocka_unit_test_teardown(test_page_cap, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
