/* sbuf: the growable byte buffer replies, JSON and metrics pages are built in. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sbuf.h"

int sbuf_reserve(sbuf *b, size_t extra) {
  size_t need = b->len + extra + 1, cap;
  char *p;
  if (need <= b->cap) return 0;
  cap = b->cap ? b->cap : 256;
  while (cap < need) cap *= 2;
  p = realloc(b->p, cap);
  if (!p) return -1;
  b->p = p;
  b->cap = cap;
  return 0;
}

void sbuf_add(sbuf *b, const void *data, size_t n) {
  if (sbuf_reserve(b, n) != 0) return;
  if (n) memcpy(b->p + b->len, data, n);
  b->len += n;
  b->p[b->len] = '\0';
}

void sbuf_adds(sbuf *b, const char *s) { sbuf_add(b, s, strlen(s)); }

void sbuf_addf(sbuf *b, const char *fmt, ...) {
  va_list ap;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0 || sbuf_reserve(b, (size_t)n) != 0) return;
  va_start(ap, fmt);
  vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

/* Bytes >= 0x80 are kept when they form valid UTF-8 and escaped as \u00XX otherwise, so
 * the output is always valid JSON whatever a client sent. */
void sbuf_add_json_str(sbuf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  size_t i = 0;
  if (sbuf_reserve(b, n + 2) != 0) return;
  sbuf_add(b, "\"", 1);
  while (i < n) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') {
      char e[2] = {'\\', (char)c};
      sbuf_add(b, e, 2);
      i++;
    } else if (c < 0x20 || c == 0x7f) {
      char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
      sbuf_add(b, e, 6);
      i++;
    } else if (c < 0x80) {
      size_t j = i;
      while (j < n && (unsigned char)s[j] >= 0x20 && (unsigned char)s[j] < 0x7f && s[j] != '"' &&
             s[j] != '\\')
        j++;
      sbuf_add(b, s + i, j - i);
      i = j;
    } else {
      size_t len = c >= 0xf0 && c < 0xf5 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0, k;
      int ok = len > 0 && i + len <= n;
      for (k = 1; ok && k < len; k++) ok = ((unsigned char)s[i + k] & 0xc0) == 0x80;
      if (ok) {
        sbuf_add(b, s + i, len);
        i += len;
      } else {
        char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        sbuf_add(b, e, 6);
        i++;
      }
    }
  }
  sbuf_add(b, "\"", 1);
}

void sbuf_free(sbuf *b) {
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}
