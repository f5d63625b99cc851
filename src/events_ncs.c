/* events_ncs: one Agora NCS delivery checked: signature first (constant time, over the raw
 * bytes), then the body as strict JSON (RFC 8259) with the fields the receiver keeps. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>
#include "events_ncs.h"

static int hexval(int ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

/* The header's hex (surrounding blanks allowed) against the HMAC of body: 1 when equal. */
static int sig_matches(const EVP_MD *md, const char *hex, size_t hexn, const char *body,
                       size_t len, const char *secret, size_t secretn) {
  unsigned char want[EVP_MAX_MD_SIZE], got[EVP_MAX_MD_SIZE];
  unsigned int gotn = 0;
  size_t i, mdn = (size_t)EVP_MD_size(md);
  while (hexn && (hex[0] == ' ' || hex[0] == '\t')) hex++, hexn--;
  while (hexn && (hex[hexn - 1] == ' ' || hex[hexn - 1] == '\t')) hexn--;
  if (hexn != 2 * mdn) return 0;
  for (i = 0; i < mdn; i++) {
    int hi = hexval((unsigned char)hex[2 * i]), lo = hexval((unsigned char)hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return 0;
    want[i] = (unsigned char)(hi << 4 | lo);
  }
  if (!HMAC(md, secret, (int)secretn, (const unsigned char *)body, len, got, &gotn) ||
      gotn != mdn)
    return 0;
  return CRYPTO_memcmp(want, got, mdn) == 0;
}

int ncs_verify(const char *body, size_t len, const char *sig1, size_t sig1n, const char *sig2,
               size_t sig2n, const char *secret, size_t secretn) {
  if (!secret || secretn == 0 || secretn > 1024) return 0;
  if (!body) body = "";
  if (sig2) return sig_matches(EVP_sha256(), sig2, sig2n, body, len, secret, secretn);
  if (sig1) return sig_matches(EVP_sha1(), sig1, sig1n, body, len, secret, secretn);
  return 0;
}

/* ---- strict JSON, keeping a few fields ---- */

typedef struct jp {
  const char *p, *end;
  ncs_notice *n;
  const char *err;
} jp;

static void ws(jp *j) {
  while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) j->p++;
}

static int bad(jp *j, const char *why) {
  if (!j->err) j->err = why;
  return -1;
}

/* A string at j->p (after its quote is checked). The raw bytes between the quotes go to
 * s and sn; escaped says whether a backslash was seen. */
static int string(jp *j, const char **s, size_t *sn, int *escaped) {
  const char *start;
  *escaped = 0;
  if (j->p >= j->end || *j->p != '"') return bad(j, "a string was expected");
  start = ++j->p;
  while (j->p < j->end && *j->p != '"') {
    unsigned char ch = (unsigned char)*j->p;
    if (ch < 0x20) return bad(j, "a control character in a string");
    if (ch == '\\') {
      *escaped = 1;
      if (++j->p >= j->end) break;
      if (*j->p == 'u') {
        int k;
        for (k = 1; k <= 4; k++)
          if (j->p + k >= j->end || hexval((unsigned char)j->p[k]) < 0)
            return bad(j, "a bad \\u escape");
        j->p += 4;
      } else if (!strchr("\"\\/bfnrt", *j->p)) {
        return bad(j, "a bad escape");
      }
    }
    j->p++;
  }
  if (j->p >= j->end) return bad(j, "an unterminated string");
  *s = start;
  *sn = (size_t)(j->p - start);
  j->p++;
  return 0;
}

/* A number; *iv and *isint for a plain integer that fits. */
static int number(jp *j, int64_t *iv, int *isint) {
  int neg = 0, overflow = 0;

  uint64_t v = 0;
  *isint = 1;
  if (j->p < j->end && *j->p == '-') neg = 1, j->p++;
  if (j->p >= j->end || *j->p < '0' || *j->p > '9') return bad(j, "a bad number");
  if (*j->p == '0') {
    j->p++;
  } else {
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
      if (v > (uint64_t)INT64_MAX / 10) overflow = 1;
      v = v * 10 + (uint64_t)(*j->p - '0');
      j->p++;
    }
  }
  if (j->p < j->end && *j->p == '.') {
    *isint = 0;
    if (++j->p >= j->end || *j->p < '0' || *j->p > '9') return bad(j, "a bad number");
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') j->p++;
  }
  if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
    *isint = 0;
    j->p++;
    if (j->p < j->end && (*j->p == '+' || *j->p == '-')) j->p++;
    if (j->p >= j->end || *j->p < '0' || *j->p > '9') return bad(j, "a bad number");
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') j->p++;
  }
  if (overflow || v > (uint64_t)INT64_MAX) *isint = 0;
  *iv = *isint ? (neg ? -(int64_t)v : (int64_t)v) : 0;
  return 0;
}

static int literal(jp *j, const char *w) {
  size_t n = strlen(w);
  if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n) != 0) return bad(j, "not JSON");
  j->p += n;
  return 0;
}

enum { AT_OTHER, AT_TOP, AT_PAYLOAD };

static int value(jp *j, int depth, int where, const char *key, size_t keyn);

static int key_is(const char *k, size_t kn, const char *w) {
  return kn == strlen(w) && memcmp(k, w, kn) == 0;
}

static void keep_text(char *dst, size_t cap, const char *s, size_t n) {
  if (n >= cap) n = cap - 1;
  memcpy(dst, s, n);
  dst[n] = 0;
}

static int object(jp *j, int depth, int where) {
  j->p++;  /* { */
  ws(j);
  if (j->p < j->end && *j->p == '}') {
    j->p++;
    return 0;
  }
  for (;;) {
    const char *k;
    size_t kn;
    int esc;
    ws(j);
    if (string(j, &k, &kn, &esc)) return -1;
    ws(j);
    if (j->p >= j->end || *j->p != ':') return bad(j, "a ':' was expected");
    j->p++;
    ws(j);
    if (value(j, depth + 1, where, esc ? "" : k, esc ? 0 : kn)) return -1;
    ws(j);
    if (j->p < j->end && *j->p == ',') {
      j->p++;
      continue;
    }
    if (j->p < j->end && *j->p == '}') {
      j->p++;
      return 0;
    }
    return bad(j, "a ',' or '}' was expected");
  }
}

static int array(jp *j, int depth) {
  j->p++;  /* [ */
  ws(j);
  if (j->p < j->end && *j->p == ']') {
    j->p++;
    return 0;
  }
  for (;;) {
    ws(j);
    if (value(j, depth + 1, AT_OTHER, "", 0)) return -1;
    ws(j);
    if (j->p < j->end && *j->p == ',') {
      j->p++;
      continue;
    }
    if (j->p < j->end && *j->p == ']') {
      j->p++;
      return 0;
    }
    return bad(j, "a ',' or ']' was expected");
  }
}

static int id_char(unsigned char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
         ch == '-' || ch == '_' || ch == '.' || ch == ':';
}

/* A member of the top level or of payload: the fields kept. */
static void keep_string(jp *j, int where, const char *k, size_t kn, const char *s, size_t sn,
                        int esc) {
  ncs_notice *n = j->n;
  size_t i;
  if (where == AT_TOP && key_is(k, kn, "noticeId")) {
    n->notice_id[0] = 0;
    if (esc || sn == 0 || sn > NCS_MAX_ID) return;
    for (i = 0; i < sn; i++)
      if (!id_char((unsigned char)s[i])) return;
    keep_text(n->notice_id, sizeof n->notice_id, s, sn);
  } else if (where == AT_PAYLOAD && !esc && key_is(k, kn, "sid")) {
    keep_text(n->sid, sizeof n->sid, s, sn);
  } else if (where == AT_PAYLOAD && !esc && key_is(k, kn, "cname")) {
    keep_text(n->cname, sizeof n->cname, s, sn);
  }
}

static void keep_int(jp *j, const char *k, size_t kn, int64_t v) {
  if (key_is(k, kn, "eventType")) j->n->event_type = v;
  else if (key_is(k, kn, "productId")) j->n->product_id = v;
  else if (key_is(k, kn, "notifyMs")) j->n->notify_ms = v;
}

static int value(jp *j, int depth, int where, const char *key, size_t keyn) {
  if (depth > NCS_MAX_DEPTH) return bad(j, "nested too deeply");
  if (j->p >= j->end) return bad(j, "a value was expected");
  switch (*j->p) {
  case '{': {
    int inner = where == AT_TOP && key_is(key, keyn, "payload") ? AT_PAYLOAD : AT_OTHER;
    return object(j, depth, depth == 0 ? AT_TOP : inner);
  }
  case '[': return array(j, depth);
  case '"': {
    const char *s;
    size_t sn;
    int esc;
    if (string(j, &s, &sn, &esc)) return -1;
    if (depth == 1 || where == AT_PAYLOAD) keep_string(j, where, key, keyn, s, sn, esc);
    return 0;
  }
  case 't': return literal(j, "true");
  case 'f': return literal(j, "false");
  case 'n': return literal(j, "null");
  default: {
    int64_t v;
    int isint;
    if (number(j, &v, &isint)) return -1;
    if (where == AT_TOP && depth == 1 && isint) keep_int(j, key, keyn, v);
    return 0;
  }
  }
}

int ncs_parse(const char *body, size_t len, ncs_notice *n) {
  jp j;
  memset(n, 0, sizeof *n);
  n->event_type = n->product_id = n->notify_ms = -1;
  j.p = body ? body : "";
  j.end = j.p + (body ? len : 0);
  j.n = n;
  j.err = NULL;
  ws(&j);
  if (j.p >= j.end || *j.p != '{') {
    snprintf(n->why, sizeof n->why, "the body is not a JSON object");
    return NCS_MALFORMED;
  }
  if (value(&j, 0, AT_TOP, "", 0) == 0) {
    ws(&j);
    if (j.p != j.end) bad(&j, "bytes after the JSON value");
  }
  if (j.err) {
    snprintf(n->why, sizeof n->why, "not JSON: %s at byte %ld", j.err, (long)(j.end - j.p >= 0 ? (long)len - (j.end - j.p) : 0));
    return NCS_MALFORMED;
  }
  if (!n->notice_id[0]) {
    snprintf(n->why, sizeof n->why, "no usable noticeId (1..%d of A-Z a-z 0-9 . _ : -)",
             NCS_MAX_ID);
    return NCS_MALFORMED;
  }
  return NCS_OK;
}

int ncs_check(const char *body, size_t len, const char *sig1, size_t sig1n, const char *sig2,
              size_t sig2n, const char *secret, size_t secretn, ncs_notice *n) {
  if (!ncs_verify(body, len, sig1, sig1n, sig2, sig2n, secret, secretn)) {
    memset(n, 0, sizeof *n);
    n->event_type = n->product_id = n->notify_ms = -1;
    return NCS_BAD_SIGNATURE;
  }
  return ncs_parse(body, len, n);
}
