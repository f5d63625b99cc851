/* Unit tests for log redaction: secrets and Authorization values replaced, never a write
 * past the buffer, even when a secret sits at its very end. */
#include <ctype.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <unistd.h>
#include "config.h"
#include "http.h"
#include "log.h"
#include "rerr.h"

/* Runs log_write_str with stderr sent to a file; returns what was written (static). */
static const char *captured(log_level lv, const char *msg) {
  static char out[16384];
  FILE *f = tmpfile();
  int saved = dup(2);
  size_t n;
  assert_non_null(f);
  fflush(stderr);
  dup2(fileno(f), 2);
  log_write_str(lv, 0, msg);
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  rewind(f);
  n = fread(out, 1, sizeof out - 1, f);
  out[n] = '\0';
  fclose(f);
  return out;
}

static int count_char(const char *s, char c) {
  int n = 0;
  for (; *s; s++) n += *s == c;
  return n;
}

static void test_text_line_cannot_be_split(void **state) {
  const char *o;
  (void)state;
  log_set_json(0);
  o = captured(LOG_WARN, "task 1\r\n2026-01-01T00:00:00.000Z error forged\x1b[31m");
  assert_int_equal(count_char(o, '\n'), 1);  /* one record, one line */
  assert_non_null(strstr(o, "task 1\\r\\n2026"));
  assert_non_null(strstr(o, "\\x1b[31m"));
  assert_null(strchr(o, '\r'));
}

static int valid_utf8(const unsigned char *p) {
  while (*p) {
    int need = *p < 0x80 ? 0 : (*p & 0xe0) == 0xc0 ? 1 : (*p & 0xf0) == 0xe0 ? 2 : (*p & 0xf8) == 0xf0 ? 3 : -1;
    if (need < 0) return 0;
    for (p++; need > 0; need--, p++)
      if ((*p & 0xc0) != 0x80) return 0;
  }
  return 1;
}

static void test_json_line_valid_for_any_bytes(void **state) {
  const char *o;
  (void)state;
  log_set_json(1);
  o = captured(LOG_WARN, "bad \xff\xfe \xc3 cut \xed\xa0\x80 surrogate, good \xc3\xa9 \x01");
  log_set_json(0);
  assert_true(valid_utf8((const unsigned char *)o));
  assert_non_null(strstr(o, "\\ufffd"));
  assert_non_null(strstr(o, "good \xc3\xa9 \\u0001"));
  assert_int_equal(count_char(o, '\n'), 1);
}

static void test_secret_across_the_cut(void **state) {
  char msg[8192];
  const char *o;
  (void)state;
  log_add_secret("CUTsecret0123456789");
  memset(msg, 'x', sizeof msg);
  /* the secret straddles the 4 KiB cut of a log line */
  memcpy(msg + LOG_LINE_MAX - 20, "CUTsecret0123456789", 19);
  msg[LOG_LINE_MAX + 200] = '\0';
  o = captured(LOG_WARN, msg);
  assert_null(strstr(o, "CUTsec"));
  assert_non_null(strstr(o, "[cut]"));
  log_clear_secrets();
}

static void test_error_message_cut_after_redaction(void **state) {
  char pad[600];
  rec_err e;
  (void)state;
  log_add_secret("ERRsecret0123456789");
  memset(pad, 'y', sizeof pad);
  pad[500] = '\0';  /* the secret starts 8 bytes before the 512-byte message ends */
  rec_err_set(&e, REC_E_NETWORK, 0, "%s ERRsecret0123456789 tail", pad);
  assert_null(strstr(e.message, "ERRsec"));
  log_clear_secrets();
}

static void test_shortened_url_token_hidden(void **state) {
  char shown[256];
  (void)state;
  log_add_secret("http://h/TOKEN0123456789abc?source=x");
  http_url_for_log("http://h/TOKEN0123456789abc?source=x", shown, sizeof shown);
  log_redact(shown, sizeof shown);
  assert_null(strstr(shown, "TOKEN0123456789abc"));
  log_clear_secrets();
}

static void test_url_parts_and_encoded_forms(void **state) {
  static const char *const shown[] = {
    "POST https://oapi.example.com/robot/send?access_token=ab12cd34ef56gh78 failed",
    "token ab12cd34ef56gh78 alone",
    "{\"url\":\"https:\\/\\/oapi.example.com\\/robot\\/send?access_token=ab12cd34ef56gh78\"}",
    "echo https%3A%2F%2Foapi.example.com%2Frobot%2Fsend%3Faccess_token%3Dab12cd34ef56gh78",
    "lower https%3a%2f%2foapi.example.com%2frobot%2fsend%3faccess_token%3dab12cd34ef56gh78",
    "slack https://hooks.slack.example/services/T0AB12CD/B0EF34GH/xYz0123456789abcdefTOKEN",
    "segment xYz0123456789abcdefTOKEN and T0AB12CD",
    "userinfo pa55word-x1 of https://bob:pa55word-x1@h.example/",
    "feishu {\"sign\":\"c2lnbmF0dXJl+/=\",\"timestamp\":\"1\"} a=1&sign=c2lnbmF0dXJl%2B&b=2",
  };
  static const char *const hidden[] = {"ab12cd34ef56gh78", "xYz0123456789abcdefTOKEN", "T0AB12CD",
                                       "pa55word-x1", "c2lnbmF0dXJl"};
  size_t i, j;
  char buf[512];
  (void)state;
  log_add_secret("https://oapi.example.com/robot/send?access_token=ab12cd34ef56gh78");
  log_add_secret("https://hooks.slack.example/services/T0AB12CD/B0EF34GH/xYz0123456789abcdefTOKEN");
  log_add_secret("https://bob:pa55word-x1@h.example/");
  for (i = 0; i < sizeof shown / sizeof shown[0]; i++) {
    snprintf(buf, sizeof buf, "%s", shown[i]);
    log_redact(buf, sizeof buf);
    for (j = 0; j < sizeof hidden / sizeof hidden[0]; j++)
      if (strstr(buf, hidden[j])) fail_msg("'%s' survives in: %s", hidden[j], buf);
  }
  /* ordinary words of a URL are not secrets */
  snprintf(buf, sizeof buf, "robot send services hooks");
  log_redact(buf, sizeof buf);
  assert_string_equal(buf, "robot send services hooks");
  log_clear_secrets();
}

static void test_echoed_request_excerpt(void **state) {
  char ex[64];
  static const char body[] = "you sent: POST /hook/ECHOtoken0123456789 HTTP/1.1\r\n";
  (void)state;
  log_add_secret("http://127.0.0.1:9/hook/ECHOtoken0123456789?source=x");
  /* the excerpt ends inside the token: it must not show its first bytes either */
  rec_excerpt(ex, 30, body, sizeof body - 1);
  assert_null(strstr(ex, "ECHO"));
  log_clear_secrets();
}

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

static void test_excerpt_redacts_what_it_shows(void **state) {
  char ex[64];
  static const char body[] = "x ab\0cd\0ef y";  /* NULs are shown as '.' */
  (void)state;
  log_add_secret("ab.cd.ef");
  rec_excerpt(ex, sizeof ex, body, sizeof body - 1);
  assert_null(strstr(ex, "ab.cd.ef"));  /* found by the redact fuzzer */
  log_clear_secrets();
}

/* ---- every credential name, in every form the redactor handles (issue 20 items 18, 21) ----
 * The list below is what the redactor must know; the test also walks the redactor's own list
 * (log_cred_name), so a name dropped or misspelt there, a form lost, or a name added without
 * a test here, fails. */
static const struct {
  const char *name;
  unsigned forms;
} must_hide[] = {
  {"authorization", LOG_FORM_QUERY | LOG_FORM_JSON | LOG_FORM_HEADER},
  {"proxy-authorization", LOG_FORM_QUERY | LOG_FORM_JSON | LOG_FORM_HEADER},
  {"access_token", LOG_FORM_QUERY | LOG_FORM_JSON}, {"token", LOG_FORM_QUERY | LOG_FORM_JSON},
  {"key", LOG_FORM_QUERY}, {"sign", LOG_FORM_QUERY | LOG_FORM_JSON},
  {"signature", LOG_FORM_QUERY | LOG_FORM_JSON}, {"secret", LOG_FORM_QUERY | LOG_FORM_JSON},
  {"password", LOG_FORM_QUERY | LOG_FORM_JSON}, {"passwd", LOG_FORM_QUERY | LOG_FORM_JSON},
  {"api_key", LOG_FORM_QUERY | LOG_FORM_JSON}, {"apikey", LOG_FORM_QUERY | LOG_FORM_JSON},
  {"x-api-key", LOG_FORM_QUERY | LOG_FORM_JSON | LOG_FORM_HEADER},
  {"client_secret", LOG_FORM_QUERY | LOG_FORM_JSON},
  {"refresh_token", LOG_FORM_QUERY | LOG_FORM_JSON}, {"id_token", LOG_FORM_QUERY | LOG_FORM_JSON},
  {"auth_token", LOG_FORM_QUERY | LOG_FORM_JSON},
  {"cookie", LOG_FORM_QUERY | LOG_FORM_JSON | LOG_FORM_HEADER},
  {"set-cookie", LOG_FORM_QUERY | LOG_FORM_JSON | LOG_FORM_HEADER},
  {"access_key_id", LOG_FORM_QUERY | LOG_FORM_JSON},
  {"secret_access_key", LOG_FORM_QUERY | LOG_FORM_JSON},
  {"customer_secret", LOG_FORM_QUERY | LOG_FORM_JSON},
};
#define NMUST (sizeof must_hide / sizeof must_hide[0])
#define CRED_VALUE "Zq9CredVal77"

/* The name as written: lower case, UPPER CASE or Title-Case (headers). */
static void spell(char *out, size_t cap, const char *name, int how) {
  size_t i;
  int up = 1;
  snprintf(out, cap, "%s", name);
  for (i = 0; out[i]; i++) {
    if (how == 1) out[i] = (char)toupper((unsigned char)out[i]);
    if (how == 2) out[i] = (char)(up ? toupper((unsigned char)out[i]) : out[i]);
    up = out[i] == '-' || out[i] == '_';
  }
}

/* text redacted by log_redact and log_redact_dup: the value is gone from both, keep stays. */
static void hidden(const char *text, const char *keep) {
  char buf[512];
  size_t n;
  char *dup = log_redact_dup(text, strlen(text), &n);
  assert_non_null(dup);
  snprintf(buf, sizeof buf, "%s", text);
  log_redact(buf, sizeof buf);
  if (strstr(buf, CRED_VALUE) || strstr(dup, CRED_VALUE))
    fail_msg("credential visible: \"%s\" -> \"%s\"", text, strstr(buf, CRED_VALUE) ? buf : dup);
  if (keep && (!strstr(buf, keep) || !strstr(dup, keep)))
    fail_msg("\"%s\" -> \"%s\": lost \"%s\"", text, buf, keep);
  free(dup);
}

static void shown(const char *text) {
  char buf[512];
  snprintf(buf, sizeof buf, "%s", text);
  log_redact(buf, sizeof buf);
  if (!strstr(buf, CRED_VALUE)) fail_msg("over-redacted (prose): \"%s\" -> \"%s\"", text, buf);
}

static void test_every_credential_name_every_form(void **state) {
  size_t i, m;
  int how;
  unsigned forms;
  const char *name;
  (void)state;
  log_clear_secrets();
  /* the redactor's list is exactly this test's list, form for form */
  for (i = 0; (name = log_cred_name(i, &forms)) != NULL; i++) {
    for (m = 0; m < NMUST && strcmp(must_hide[m].name, name) != 0; m++) {}
    if (m == NMUST) fail_msg("the redactor knows \"%s\", which this test does not try", name);
    if (forms != must_hide[m].forms) fail_msg("\"%s\": forms %u, expected %u", name, forms, must_hide[m].forms);
  }
  assert_int_equal(i, NMUST);
  for (m = 0; m < NMUST; m++) {
    unsigned f = must_hide[m].forms;
    for (i = 0; (name = log_cred_name(i, NULL)) != NULL && strcmp(name, must_hide[m].name) != 0; i++) {}
    if (!name) fail_msg("the redactor lost the credential name \"%s\"", must_hide[m].name);
    for (how = 0; how < 3; how++) {
      char n[64], t[400];
      spell(n, sizeof n, must_hide[m].name, how);
      if (f & LOG_FORM_QUERY) {
        /* a header name's value runs to the end of the line in every form ("Basic x") */
        int line = (f & LOG_FORM_HEADER) != 0;
        snprintf(t, sizeof t, "GET /v1/x?app=a1&%s=" CRED_VALUE "&page=2 HTTP/1.1\nnext", n);
        hidden(t, line ? "app=a1&" : "&page=2 HTTP/1.1");
        snprintf(t, sizeof t, "%s=" CRED_VALUE, n);              /* alone, at the end */
        hidden(t, NULL);
        snprintf(t, sizeof t, "bad request (%s = " CRED_VALUE "; retry)\nnext", n);
        hidden(t, line ? "\nnext" : "; retry)");
        snprintf(t, sizeof t, "https://h/p?%s=" CRED_VALUE "#frag", n);
        hidden(t, line ? "https://h/p?" : "#frag");
      }
      if (f & LOG_FORM_JSON) {
        snprintf(t, sizeof t, "{\"%s\":\"" CRED_VALUE "\",\"next\":1}", n);
        hidden(t, ",\"next\":1}");
        snprintf(t, sizeof t, "{\"%s\" : \"" CRED_VALUE "\"}", n);
        hidden(t, NULL);
        snprintf(t, sizeof t, "{\"%s\":" CRED_VALUE ",\"next\":1}", n);  /* a bare value */
        hidden(t, ",\"next\":1}");
        snprintf(t, sizeof t, "{'%s': '" CRED_VALUE "', 'next': 1}", n);
        hidden(t, "'next': 1}");
        snprintf(t, sizeof t, "body: {\\\"%s\\\":\\\"" CRED_VALUE "\\\",\\\"next\\\":1}", n);
        hidden(t, "next");
      }
      if (f & LOG_FORM_HEADER) {
        /* unquoted: the whole value, spaces included, to the end of the line */
        snprintf(t, sizeof t, "GET / HTTP/1.1\r\n%s: Basic " CRED_VALUE " x\r\nAccept: */*\r\n", n);
        hidden(t, "\r\nAccept: */*");
        snprintf(t, sizeof t, "%s:" CRED_VALUE, n);
        hidden(t, NULL);
        snprintf(t, sizeof t, "sent %s: " CRED_VALUE "\nnext line", n);
        hidden(t, "\nnext line");
      } else {
        /* "name: value" in prose is left alone for the names that are not headers */
        snprintf(t, sizeof t, "the %s: " CRED_VALUE " is documented", n);
        shown(t);
      }
    }
  }
}

/* Issue 20 item 18: a QingCloud server that echoes the signed URL leaves no access key id
 * (nor signature) in the message, as /status's last_error and the log lines carry it. */
static void test_qingcloud_access_key_id_hidden(void **state) {
  char msg[512];
  (void)state;
  log_clear_secrets();
  snprintf(msg, sizeof msg, "qingcloud: HTTP 400: InvalidParameter: bad time_stamp in "
           "/v1/cloudRecord?access_key_id=QYACCESSKEYIDEXAMPLE&app_id=a&channel=c&"
           "signature=abc%%2Bdef%%3D&signature_method=HmacSHA256");
  log_redact(msg, sizeof msg);
  assert_null(strstr(msg, "QYACCESSKEYIDEXAMPLE"));
  assert_null(strstr(msg, "abc%2Bdef"));
  assert_non_null(strstr(msg, "&app_id=a&channel=c&"));
  snprintf(msg, sizeof msg, "{\"message\":\"bad\",\"request\":{\"access_key_id\":\"QYACCESSKEYIDEXAMPLE\"}}");
  log_redact(msg, sizeof msg);
  assert_null(strstr(msg, "QYACCESSKEYIDEXAMPLE"));
}

/* The access key id set as a credential is hidden in prose too, where no name stands before
 * it (a server's "access key ... does not exist"). */
static void test_qingcloud_access_key_id_in_prose(void **state) {
  char msg[256];
  config_t c;
  (void)state;
  log_clear_secrets();
  config_init(&c);
  config_set_credential(&c.qc, "QCPROSEKEY01", "qc-prose-secret-0123");
  snprintf(msg, sizeof msg, "auth: qingcloud: HTTP 401: AuthFailure: access key QCPROSEKEY01 does not exist");
  log_redact(msg, sizeof msg);
  assert_null(strstr(msg, "QCPROSEKEY01"));
  assert_non_null(strstr(msg, "does not exist"));
  config_free(&c);
  log_clear_secrets();
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_qingcloud_access_key_id_in_prose),
    cmocka_unit_test(test_secret_replaced_everywhere),
    cmocka_unit_test(test_authorization_value_hidden),
    cmocka_unit_test(test_secret_at_the_end_never_overflows),
    cmocka_unit_test(test_many_secrets_none_forgotten),
    cmocka_unit_test(test_text_line_cannot_be_split),
    cmocka_unit_test(test_json_line_valid_for_any_bytes),
    cmocka_unit_test(test_secret_across_the_cut),
    cmocka_unit_test(test_error_message_cut_after_redaction),
    cmocka_unit_test(test_shortened_url_token_hidden),
    cmocka_unit_test(test_url_parts_and_encoded_forms),
    cmocka_unit_test(test_echoed_request_excerpt),
    cmocka_unit_test(test_excerpt_redacts_what_it_shows),
    cmocka_unit_test(test_every_credential_name_every_form),
    cmocka_unit_test(test_qingcloud_access_key_id_hidden),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
