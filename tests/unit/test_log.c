/* Unit tests for log redaction: secrets and Authorization values replaced, never a write
 * past the buffer, even when a secret sits at its very end. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "log.h"

static void test_secret_replaced_everywhere(void **state) {
  char buf[128] = "a s3cret-value b s3cret-value";
  (void)state;
  log_add_secret("s3cret-value");
  log_redact(buf, sizeof buf);
  assert_string_equal(buf, "a [REDACTED] b [REDACTED]");
  log_clear_secrets();
}

static void test_authorization_value_hidden(void **state) {
  char buf[128] = "Authorization: Basic dXNlcjpwYXNz";
  (void)state;
  log_redact(buf, sizeof buf);
  assert_null(strstr(buf, "dXNlcjpwYXNz"));
}

static void test_secret_at_the_end_never_overflows(void **state) {
  /* a guard zone after the buffer must stay untouched for every position of the secret */
  char area[64 + 32];
  size_t pos;
  (void)state;
  log_add_secret("s3cr");
  for (pos = 0; pos + 4 <= 63; pos++) {
    memset(area, 'G', sizeof area);
    memset(area, 'x', 63);
    memcpy(area + pos, "s3cr", 4);
    area[63] = '\0';
    log_redact(area, 64);
    assert_true(strlen(area) < 64);
    assert_null(strstr(area, "s3cr"));
    for (size_t i = 64; i < sizeof area; i++) assert_int_equal(area[i], 'G');
  }
  log_clear_secrets();
}

static void test_many_secrets_none_forgotten(void **state) {
  char buf[64], name[32];
  int i;
  (void)state;
  log_add_secret("FIRST-credential");
  for (i = 0; i < 500; i++) {  /* webhook URLs and signing secrets pile up */
    snprintf(name, sizeof name, "webhook-token-%03d", i);
    log_add_secret(name);
  }
  snprintf(buf, sizeof buf, "x FIRST-credential y webhook-token-499");
  log_redact(buf, sizeof buf);
  assert_string_equal(buf, "x [REDACTED] y [REDACTED]");
  log_clear_secrets();
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_secret_replaced_everywhere),
    cmocka_unit_test(test_authorization_value_hidden),
    cmocka_unit_test(test_secret_at_the_end_never_overflows),
    cmocka_unit_test(test_many_secrets_none_forgotten),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
