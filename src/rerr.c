/* rerr: typed errors shared by http, providers, the engine and the Lua glue. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "rerr.h"

static const char *const kind_names[] = {
  "ok", "invalid_argument", "auth", "not_found", "rate_limited",
  "timeout", "network", "server", "protocol", "cancelled",
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
  memset(e, 0, sizeof *e);
  e->kind = kind;
  e->status = status;
  e->retryable = rec_errkind_retryable(kind);
  va_start(ap, fmt);
  vsnprintf(e->message, sizeof e->message, fmt, ap);
  va_end(ap);
}

void rec_excerpt(char *out, size_t outlen, const char *body, size_t n) {
  size_t i, j = 0;
  if (outlen == 0) return;
  for (i = 0; i < n && j + 1 < outlen && body; i++) {
    unsigned char c = (unsigned char)body[i];
    out[j++] = (c < 0x20 || c == 0x7f) ? (c == '\n' || c == '\r' || c == '\t' ? ' ' : '.') : (char)c;
  }
  out[j] = '\0';
}
