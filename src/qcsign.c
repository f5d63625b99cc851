/* qcsign: QingCloud's canonical query, string to sign and HMAC-SHA256 signature. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "crypto.h"
#include "qcsign.h"

/* Appends the quoted form of s at out (room for 3*strlen(s) bytes); returns the new end. */
static char *quote_into(char *out, const char *s, int keep_slash) {
  static const char hex[] = "0123456789ABCDEF";
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
        c == '_' || c == '.' || c == '-' || c == '~' || (keep_slash && c == '/')) {
      *out++ = (char)c;
    } else {
      *out++ = '%';
      *out++ = hex[c >> 4];
      *out++ = hex[c & 15];
    }
  }
  *out = '\0';
  return out;
}

static char *quote_with(const char *s, int keep_slash) {
  char *out = malloc(3 * strlen(s) + 1);
  if (out) quote_into(out, s, keep_slash);
  return out;
}

char *qc_quote(const char *s) { return quote_with(s, 1); }
char *qc_quote_all(const char *s) { return quote_with(s, 0); }

static int param_cmp(const void *a, const void *b) {
  const qc_param *x = a, *y = b;
  int c = strcmp(x->key, y->key);
  return c ? c : strcmp(x->value, y->value);
}

char *qc_canonical_query(const qc_param *params, size_t n) {
  qc_param local[16], *sorted = n <= 16 ? local : malloc(n * sizeof *sorted);
  size_t i, cap = 1;
  char *out, *p;
  if (!sorted) return NULL;
  memcpy(sorted, params, n * sizeof *sorted);
  qsort(sorted, n, sizeof *sorted, param_cmp);
  for (i = 0; i < n; i++) cap += 3 * (strlen(sorted[i].key) + strlen(sorted[i].value)) + 2;
  p = out = malloc(cap);
  if (out) {
    *p = '\0';
    for (i = 0; i < n; i++) {
      if (strcmp(sorted[i].key, "signature") == 0) continue;
      if (p != out) *p++ = '&';
      p = quote_into(p, sorted[i].key, 1);
      *p++ = '=';
      p = quote_into(p, sorted[i].value, 1);
    }
  }
  if (sorted != local) free(sorted);
  return out;
}

char *qc_string_to_sign(const char *method, const char *path, const char *canonical,
                        const char *body, size_t bodylen) {
  static const char null_md5[] = "37a6259cc0c1dae299a7866489dff0bd";  /* MD5("null") */
  char md5[33], *out, *p;
  size_t ml = strlen(method), pl = strlen(path), cl = strlen(canonical), i;
  if (body) crypto_md5_hex(body, bodylen, md5);
  else memcpy(md5, null_md5, sizeof md5);
  p = out = malloc(ml + pl + cl + 32 + 5);
  if (!out) return NULL;
  for (i = 0; i < ml; i++)  /* upper(method) */
    *p++ = (method[i] >= 'a' && method[i] <= 'z') ? (char)(method[i] - 32) : method[i];
  *p++ = '\n';
  memcpy(p, path, pl);
  p += pl;
  *p++ = '/';
  *p++ = '\n';
  memcpy(p, canonical, cl);
  p += cl;
  *p++ = '\n';
  memcpy(p, md5, 33);
  return out;
}

char *qc_signature(const char *secret, const char *method, const char *path,
                   const qc_param *params, size_t n, const char *body, size_t bodylen) {
  unsigned char mac[32];
  char *canonical = qc_canonical_query(params, n), *sts = NULL, *sig = NULL;
  if (canonical) sts = qc_string_to_sign(method, path, canonical, body, bodylen);
  if (sts && crypto_hmac_sha256(secret, strlen(secret), sts, strlen(sts), mac) == 0)
    sig = crypto_base64(mac, sizeof mac);
  free(canonical);
  free(sts);
  return sig;
}

void qc_format_timestamp(time_t t, char out[21]) {
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int qc_parse_timestamp(const char *s, time_t *t) {
  struct tm tm;
  int y, mo, d, h, mi, se, used = 0;
  if (strlen(s) != 20 ||
      sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &y, &mo, &d, &h, &mi, &se, &used) != 6 ||
      used != 20)
    return -1;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return -1;
  memset(&tm, 0, sizeof tm);
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = se;
  *t = timegm(&tm);
  return 0;
}
