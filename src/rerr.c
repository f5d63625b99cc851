/* rerr: typed errors shared by http, providers, the engine and the Lua glue. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "rerr.h"

static const char *const kind_names[] = {
  "ok", "invalid_argument", "auth", "not_found", "rate_limited",
  "timeout", "network", "server", "protocol", "cancelled", "fenced",
};

const char *rec_errkind_name(rec_errkind kind) {
  if ((unsigned)kind >= sizeof kind_names / sizeof kind_names[0]) return "unknown";
  return kind_names[kind];
}

int rec_errkind_retryable(rec_errkind kind) {
  return kind == REC_E_TIMEOUT || kind == REC_E_NETWORK || kind == REC_E_SERVER ||
         kind == REC_E_RATE_LIMITED;
}

void rec_err_set(rec_err *e, rec_errkind kind, int status, const char *fmt, ...) {
  va_list ap;
  char *full = NULL, *clean;
  int n;
  memset(e, 0, sizeof *e);
  e->kind = kind;
  e->status = status;
  e->retryable = rec_errkind_retryable(kind);
  va_start(ap, fmt);
  n = vsnprintf(e->message, sizeof e->message, fmt, ap);
  va_end(ap);
  /* redact the whole text, then cut: a secret across the cut must not leave its start */
  if (n >= (int)sizeof e->message && (full = malloc((size_t)n + 1)) != NULL) {
    va_start(ap, fmt);
    vsnprintf(full, (size_t)n + 1, fmt, ap);
    va_end(ap);
  }
  clean = full ? log_redact_dup(full, (size_t)n, NULL) : NULL;
  if (clean) snprintf(e->message, sizeof e->message, "%s", clean);
  else log_redact(e->message, sizeof e->message);
  free(clean);
  free(full);
}

void rec_excerpt(char *out, size_t outlen, const char *body, size_t n) {
  size_t i, window;
  char *shown, *clean;
  if (outlen == 0) return;
  out[0] = '\0';
  if (!body || n == 0) return;
  /* printable first, then redacted (what is shown is what must hold no secret; a reply may
   * echo the request), then cut: the window holds every secret that starts in the excerpt */
  window = outlen + log_longest_secret() + 64;
  if (n > window) n = window;
  if ((shown = malloc(n + 1)) == NULL) {
    snprintf(out, outlen, "(no memory for an excerpt)");
    return;
  }
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)body[i];
    shown[i] = (c < 0x20 || c == 0x7f) ? (c == '\n' || c == '\r' || c == '\t' ? ' ' : '.') : (char)c;
  }
  shown[n] = '\0';
  clean = log_redact_dup(shown, n, NULL);
  snprintf(out, outlen, "%s", clean ? clean : "[REDACTED]");
  free(clean);
  free(shown);
}

void rec_reply_excerpt(char *out, size_t cap, size_t max, const char *body, size_t len) {
  size_t i, j = 0;
  if (!body || len == 0) {
    snprintf(out, cap, "(empty body)");
    return;
  }
  rec_excerpt(out, cap < max + 1 ? cap : max + 1, body, len);  /* redacts, then cuts */
  for (i = 0; out[i]; i++)
    if (out[i] != ' ' || (j > 0 && out[j - 1] != ' ')) out[j++] = out[i];
  while (j > 0 && out[j - 1] == ' ') j--;
  out[j] = '\0';
}
