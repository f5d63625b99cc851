/* http_check: the checks that keep caller text out of protocol syntax (method, header,
 * URL), a path segment's percent-encoding, and a URL cut for logs. Pure functions of their
 * arguments (see http.h). */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "http.h"

static int is_tchar(unsigned char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
         (ch && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

int http_check_method(const char *m, size_t len, rec_err *err) {
  size_t i;
  if (len == 0 || len > HTTP_MAX_METHOD) {
    rec_err_set(err, REC_E_INVALID_ARGUMENT, 0,
                "the method must be 1 to %d letters (e.g. GET, POST)", HTTP_MAX_METHOD);
    return -1;
  }
  for (i = 0; i < len; i++) {
    if (!is_tchar((unsigned char)m[i])) {
      rec_err_set(err, REC_E_INVALID_ARGUMENT, 0,
                  "the method may only hold letters, digits and !#$%%&'*+-.^_`|~ "
                  "(byte %zu is not one)", i + 1);
      return -1;
    }
  }
  return 0;
}

static int bad_value_byte(unsigned char ch) { return (ch < 0x20 && ch != '\t') || ch == 0x7f; }

int http_check_header(const char *name, size_t nlen, const char *value, size_t vlen,
                      rec_err *err) {
  size_t i;
  if (nlen == 0) {
    rec_err_set(err, REC_E_INVALID_ARGUMENT, 0, "a header name is empty");
    return -1;
  }
  for (i = 0; i < nlen; i++) {
    if (!is_tchar((unsigned char)name[i])) {
      rec_err_set(err, REC_E_INVALID_ARGUMENT, 0,
                  "header name %.*s...: byte %zu is not allowed in a header name (letters, "
                  "digits and !#$%%&'*+-.^_`|~ only; no CR, LF, NUL, space or colon)",
                  (int)(i < 40 ? i : 40), name, i + 1);
      return -1;
    }
  }
  if (nlen + 2 + vlen > HTTP_MAX_HEADER_LINE) {
    rec_err_set(err, REC_E_INVALID_ARGUMENT, 0,
                "header %.*s: the line is %zu bytes, over the limit of %d", (int)(nlen < 64 ? nlen : 64),
                name, nlen + 2 + vlen, HTTP_MAX_HEADER_LINE);
    return -1;
  }
  for (i = 0; i < vlen; i++) {
    if (bad_value_byte((unsigned char)value[i])) {
      rec_err_set(err, REC_E_INVALID_ARGUMENT, 0,
                  "header %.*s: its value holds a control byte (CR, LF, NUL...) at byte %zu",
                  (int)(nlen < 64 ? nlen : 64), name, i + 1);
      return -1;
    }
  }
  return 0;
}

int http_check_header_line(const char *line, size_t len, rec_err *err) {
  const char *colon = memchr(line, ':', len);
  const char *v;
  if (!colon) {
    rec_err_set(err, REC_E_INVALID_ARGUMENT, 0, "a header line has no ':'");
    return -1;
  }
  v = colon + 1;
  while (v < line + len && (*v == ' ' || *v == '\t')) v++;
  if (http_check_header(line, (size_t)(colon - line), v, (size_t)(line + len - v), err))
    return -1;
  if (len > HTTP_MAX_HEADER_LINE) {
    rec_err_set(err, REC_E_INVALID_ARGUMENT, 0, "a header line is %zu bytes, over the limit of %d",
                len, HTTP_MAX_HEADER_LINE);
    return -1;
  }
  return 0;
}

int http_check_url(const char *url, size_t len, rec_err *err) {
  size_t i;
  if (len > HTTP_MAX_URL) {
    rec_err_set(err, REC_E_INVALID_ARGUMENT, 0, "the URL is %zu bytes, over the limit of %d",
                len, HTTP_MAX_URL);
    return -1;
  }
  if (!((len > 7 && strncasecmp(url, "http://", 7) == 0) ||
        (len > 8 && strncasecmp(url, "https://", 8) == 0))) {
    rec_err_set(err, REC_E_INVALID_ARGUMENT, 0, "the URL must start with http:// or https://");
    return -1;
  }
  for (i = 0; i < len; i++) {
    unsigned char ch = (unsigned char)url[i];
    if (ch <= 0x20 || ch == 0x7f) {
      rec_err_set(err, REC_E_INVALID_ARGUMENT, 0,
                  "the URL holds a space or control byte (CR, LF, NUL...) at byte %zu; "
                  "percent-encode it", i + 1);
      return -1;
    }
  }
  return 0;
}

int http_put_segment(char **p, char *end, const char *s, const char *what, rec_err *err) {
  static const char hex[] = "0123456789ABCDEF";
  char *o = *p;
  int dots = strcmp(s, ".") == 0 || strcmp(s, "..") == 0;
  if (!*s) {
    rec_err_set(err, REC_E_INVALID_ARGUMENT, 0, "%s is empty", what);
    return -1;
  }
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    int plain = ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                 (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '~' ||
                 ch == '.') && !(dots && ch == '.');
    if (end - o < (plain ? 2 : 4)) {
      rec_err_set(err, REC_E_INVALID_ARGUMENT, 0, "%s is too long", what);
      return -1;
    }
    if (plain) {
      *o++ = (char)ch;
    } else {
      *o++ = '%';
      *o++ = hex[ch >> 4];
      *o++ = hex[ch & 15];
    }
  }
  *o = '\0';
  *p = o;
  return 0;
}

/* Keeps scheme://host[:port]/first-segment: webhook URLs carry their token in the path
 * (Slack /services/T/B/TOKEN, Feishu /bot/v2/hook/TOKEN) or query, and userinfo is a password. */
void http_url_for_log(const char *url, char *out, size_t outlen) {
  const char *scheme_end = strstr(url, "://"), *host = url, *at, *q, *seg;
  size_t n;
  if (scheme_end) host = scheme_end + 3;
  at = strchr(host, '@');
  q = strpbrk(host, "/?#");
  if (at && (!q || at < q)) {  /* drop user:password@ */
    n = (size_t)(host - url);
    snprintf(out, outlen, "%.*s%s", (int)n, url, at + 1);
  } else {
    snprintf(out, outlen, "%s", url);
  }
  q = strpbrk(out, "?#");
  if (q) out[q - out] = '\0';
  host = strstr(out, "://");
  host = host ? host + 3 : out;
  seg = strchr(host, '/');                /* the path */
  if (seg && (seg = strchr(seg + 1, '/')) != NULL && seg[1] && (size_t)(seg - out) + 5 < outlen)
    memcpy((char *)seg, "/...", 5);       /* only its first segment stays */
}
