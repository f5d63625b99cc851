/* fuzz_redact: log redaction and escaping. Input: byte 0 = number of secrets (0..3), then
 * per secret one length byte and its bytes, then the message. Checks, besides memory
 * safety: no registered secret survives redaction (whole, or cut into a fixed buffer), the
 * text escaping leaves no control byte, the JSON escaping leaves valid UTF-8 and no control
 * byte, and nothing is written past a buffer. */
#define _GNU_SOURCE 1  /* memmem */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "rerr.h"

/* A secret the oracle can check: the mark "[REDACTED]" and '*' masks cannot form it. */
static int checkable(const char *s) {
  return strlen(s) >= 4 && !strpbrk(s, "[]*") && !strstr("[REDACTED]", s);
}

static int valid_utf8_no_ctl(const unsigned char *p, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned char c = p[i];
    size_t k, need = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
    if (need == 0 || i + need > n) return 0;
    if (c < 0x20 || c == 0x7f) return 0;
    for (k = 1; k < need; k++)
      if ((p[i + k] & 0xc0) != 0x80) return 0;
    i += need;
  }
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char secret[3][256], *msg, *clean, out[512], small[64], ex[96];
  size_t nsec, i, pos = 1, n, mlen, cn;
  if (size < 1) return 0;
  nsec = data[0] % 4;
  for (i = 0; i < nsec; i++) {
    if (pos >= size) return 0;
    n = data[pos++];
    if (pos + n > size) return 0;
    memcpy(secret[i], data + pos, n);
    secret[i][n] = '\0';
    pos += n;
    log_add_secret(secret[i]);
  }
  mlen = size - pos;
  msg = malloc(mlen + 1);
  if (!msg) return 0;
  memcpy(msg, data + pos, mlen);
  msg[mlen] = '\0';

  clean = log_redact_dup(msg, mlen, &cn);
  if (clean) {
    for (i = 0; i < nsec; i++)
      if (checkable(secret[i]) && memmem(clean, cn, secret[i], strlen(secret[i]))) abort();
    n = log_escape(out, sizeof out, clean, cn, 0);
    if (n >= sizeof out || out[n] != '\0') abort();
    for (i = 0; i < n; i++)
      if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f) abort();
    n = log_escape(out, sizeof out, clean, cn, 1);
    if (!valid_utf8_no_ctl((const unsigned char *)out, n)) abort();
    free(clean);
  }
  /* a fixed buffer: the text as C would have cut it, then redacted in place */
  snprintf(small, sizeof small, "%s", msg);
  log_redact(small, sizeof small);
  if (strnlen(small, sizeof small) >= sizeof small) abort();
  for (i = 0; i < nsec; i++)
    if (checkable(secret[i]) && strstr(small, secret[i])) abort();
  rec_excerpt(ex, sizeof ex, msg, mlen);  /* redacted, then cut */
  for (i = 0; i < nsec; i++)
    if (checkable(secret[i]) && strlen(secret[i]) < sizeof ex && strstr(ex, secret[i])) abort();
  free(msg);
  log_clear_secrets();
  return 0;
}
