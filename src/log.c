/* log: leveled text/JSON logs on stderr; every line passes through secret redaction.
 *
 * Order matters: a message is redacted whole first, then escaped (text: control bytes as
 * \n, \r, \t, \xNN, so one record is one line; JSON: valid UTF-8 only, anything else as
 * U+FFFD), and only then cut to LOG_LINE_MAX bytes. A secret can therefore never leak its
 * first bytes across a cut, and no byte of a message can start a forged line. */
#define _GNU_SOURCE 1  /* strcasestr */
#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include "log.h"

/* Everything the log module keeps, in one struct: the current one is swapped per test case. */
struct log_state {
  log_level level;
  int json;
  char **secrets;  /* grows as needed: a registered secret is never forgotten */
  int nsecrets, capsecrets;
  size_t longest;  /* the longest registered form of a secret */
  double (*clock)(void *ud);  /* wall-clock seconds for the timestamp; NULL = the real clock */
  void *clock_ud;
  log_tee_fn tee;
  void *tee_ud;
};

static log_state default_state = {LOG_INFO, 0, NULL, 0, 0, 0, NULL, NULL, NULL, NULL};
static log_state *cur = &default_state;
#define current_level (cur->level)
#define json_format (cur->json)
#define secrets (cur->secrets)
#define nsecrets (cur->nsecrets)
#define capsecrets (cur->capsecrets)
#define longest_secret (cur->longest)

/* One lock for the module: the lease and store threads (store_pg_lease.c, store_pg_conn.c) log
 * while the loop does, and a secret may be registered meanwhile (the array grows by realloc).
 * A line is formatted, redacted and written under it, whole; recursive, so a tee or a nested
 * call (log_redact inside a write) takes it again on the same thread. */
static pthread_once_t lock_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t lock;
static void lock_init(void) {
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
  pthread_mutex_init(&lock, &a);
  pthread_mutexattr_destroy(&a);
}
static void lk(void) {
  pthread_once(&lock_once, lock_init);
  pthread_mutex_lock(&lock);
}
static void ulk(void) { pthread_mutex_unlock(&lock); }

static const char *const level_names[] = {"debug", "info", "warn", "error"};
static const char mark[] = "[REDACTED]";

log_state *log_state_new(void) {
  log_state *ls = calloc(1, sizeof *ls);
  if (ls) ls->level = LOG_INFO;
  return ls;
}

void log_state_free(log_state *ls) {
  log_state *saved = cur;
  if (!ls || ls == &default_state) return;
  cur = ls;
  log_clear_secrets();
  cur = saved == ls ? &default_state : saved;
  free(ls);
}

log_state *log_state_use(log_state *ls) {
  log_state *prev = cur;
  cur = ls ? ls : &default_state;
  return prev;
}

void log_set_clock(double (*wall)(void *ud), void *ud) {
  cur->clock = wall;
  cur->clock_ud = ud;
}

void log_set_tee(log_tee_fn tee, void *ud) {
  cur->tee = tee;
  cur->tee_ud = ud;
}

void log_set_level(log_level level) { current_level = level; }
log_level log_get_level(void) { return current_level; }
void log_set_json(int on) { json_format = on; }
int log_get_json(void) { return json_format; }
int log_enabled(log_level level) { return level >= current_level; }

int log_parse_level(const char *s) {
  int i;
  for (i = 0; i < 4; i++)
    if (strcasecmp(s, level_names[i]) == 0) return i;
  if (strcasecmp(s, "warning") == 0) return LOG_WARN;
  return -1;
}

/* ---- the registry of secrets ---- */

/* Adds one exact string (no derived forms); keeps the list longest first, so a URL is
 * replaced whole before its token alone would be. */
static void add_one(const char *secret, size_t len) {
  int i, at;
  char *copy;
  if (len < 4) return;
  for (i = 0; i < nsecrets; i++)
    if (strlen(secrets[i]) == len && memcmp(secrets[i], secret, len) == 0) return;
  if (nsecrets == capsecrets) {
    int ncap = capsecrets ? 2 * capsecrets : 16;
    char **grown = realloc(secrets, sizeof *secrets * (size_t)ncap);
    if (!grown) return;
    secrets = grown;
    capsecrets = ncap;
  }
  if ((copy = malloc(len + 1)) == NULL) return;
  memcpy(copy, secret, len);
  copy[len] = '\0';
  for (at = 0; at < nsecrets && strlen(secrets[at]) >= len; at++) {}
  memmove(secrets + at + 1, secrets + at, sizeof *secrets * (size_t)(nsecrets - at));
  secrets[at] = copy;
  nsecrets++;
  if (len > longest_secret) longest_secret = len;
}

static int unreserved(unsigned char c) {
  return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

/* The string itself, and how it looks inside JSON (lua-cjson writes "/" as "\/") and
 * percent-encoded (upper and lower case hex): the forms a secret takes in echoed requests. */
static void add_forms(const char *s, size_t len) {
  static const char hex_up[] = "0123456789ABCDEF", hex_lo[] = "0123456789abcdef";
  char *buf;
  size_t i, j, k;
  int changed;
  add_one(s, len);
  if ((buf = malloc(3 * len + 1)) == NULL) return;
  for (i = j = 0, changed = 0; i < len; i++) {  /* JSON */
    if (s[i] == '/' || s[i] == '"' || s[i] == '\\') { buf[j++] = '\\'; changed = 1; }
    buf[j++] = s[i];
  }
  if (changed) add_one(buf, j);
  for (k = 0; k < 2; k++) {  /* percent-encoding */
    const char *hex = k ? hex_lo : hex_up;
    for (i = j = 0, changed = 0; i < len; i++) {
      unsigned char c = (unsigned char)s[i];
      if (unreserved(c)) {
        buf[j++] = (char)c;
      } else {
        buf[j++] = '%';
        buf[j++] = hex[c >> 4];
        buf[j++] = hex[c & 15];
        changed = 1;
      }
    }
    if (changed) add_one(buf, j);
  }
  free(buf);
}

/* A path segment worth hiding on its own: long, or mixing letters and digits (Slack's
 * T0123/B0123/token, Feishu's hook id, Discord's id/token), not words like "services". */
static int tokenish(const char *s, size_t n) {
  size_t i, digits = 0, alpha = 0;
  if (n >= 16) return 1;
  if (n < 6) return 0;
  for (i = 0; i < n; i++) {
    if (isdigit((unsigned char)s[i])) digits++;
    else if (isalpha((unsigned char)s[i])) alpha++;
  }
  return digits > 0 && alpha > 0;
}

/* A URL registered as a secret also hides its parts, because messages shorten URLs:
 * the password of user:password@, every token-like path segment, the query string and
 * each query value, and the fragment. */
static void add_url_parts(const char *url) {
  const char *host = strstr(url, "://"), *p, *end;
  if (!host) return;
  host += 3;
  end = host + strcspn(host, "/?#");
  p = memchr(host, '@', (size_t)(end - host));
  if (p) {  /* userinfo */
    const char *colon = memchr(host, ':', (size_t)(p - host));
    if (colon) add_forms(colon + 1, (size_t)(p - colon - 1));
    add_forms(host, (size_t)(p - host));
  }
  p = end;
  while (*p == '/') {  /* path segments */
    size_t n = strcspn(p + 1, "/?#");
    if (tokenish(p + 1, n)) add_forms(p + 1, n);
    p += 1 + n;
  }
  if (*p == '?') {
    size_t qn = strcspn(p + 1, "#");
    add_forms(p + 1, qn);  /* the query string whole */
    end = p + 1 + qn;
    p++;
    while (p < end) {
      size_t n = strcspn(p, "&#");
      const char *eq = memchr(p, '=', n);
      if (p + n > end) n = (size_t)(end - p);
      if (eq) add_forms(eq + 1, n - (size_t)(eq + 1 - p));
      p += n;
      if (*p == '&') p++;
      else break;
    }
    p = end;
  }
  if (*p == '#') add_forms(p + 1, strlen(p + 1));
}

void log_add_secret(const char *secret) {
  if (!secret || strlen(secret) < 4) return;
  lk();
  add_forms(secret, strlen(secret));
  add_url_parts(secret);
  ulk();
}

void log_clear_secrets(void) {
  lk();
  while (nsecrets > 0) free(secrets[--nsecrets]);
  free(secrets);
  secrets = NULL;
  capsecrets = 0;
  longest_secret = 0;
  ulk();
}

size_t log_longest_secret(void) {
  size_t n;
  lk();
  n = longest_secret;
  ulk();
  return n;
}

/* ---- redaction on a growing buffer ---- */

typedef struct {
  char *s;
  size_t len, cap;
  int oom;
} sbuf;

static void sb_put(sbuf *b, const char *p, size_t n) {
  if (b->oom) return;
  if (b->len + n + 1 > b->cap) {
    size_t ncap = b->cap ? b->cap : 256;
    char *g;
    while (ncap < b->len + n + 1) ncap *= 2;
    if ((g = realloc(b->s, ncap)) == NULL) {
      b->oom = 1;
      return;
    }
    b->s = g;
    b->cap = ncap;
  }
  memcpy(b->s + b->len, p, n);
  b->len += n;
  b->s[b->len] = '\0';
}

/* Replaces every occurrence of needle in *s (len *n) with the mark; returns 0 when out of
 * memory (then *s is unchanged and the caller hides the whole text). */
static int replace_needle(char **s, size_t *n, const char *needle) {
  size_t nl = strlen(needle);
  char *hit = memmem(*s, *n, needle, nl), *from = *s;
  sbuf b = {0};
  if (!hit) return 1;
  while (hit) {
    sb_put(&b, from, (size_t)(hit - from));
    sb_put(&b, mark, sizeof mark - 1);
    from = hit + nl;
    hit = memmem(from, (size_t)(*s + *n - from), needle, nl);
  }
  sb_put(&b, from, (size_t)(*s + *n - from));
  if (b.oom) {
    free(b.s);
    return 0;
  }
  free(*s);
  *s = b.s;
  *n = b.len;
  return 1;
}

static int name_char(unsigned char c) { return isalnum(c) || c == '_' || c == '-'; }

/* Values of credential-carrying names, in headers (Authorization: x), queries and forms
 * (access_token=x, sign=x) and JSON ("secret":"x"), lose everything up to the end of the
 * value. The names are matched case-insensitively as whole words. forms: where each is
 * recognised (LOG_FORM_*, log.h); tests/unit/test_log.c tries every name in every form. */
static const struct {
  const char *name;
  unsigned forms;
} cred_names[] = {
#define Q LOG_FORM_QUERY
#define J LOG_FORM_JSON
#define H LOG_FORM_HEADER
  {"authorization", Q | J | H}, {"proxy-authorization", Q | J | H},
  {"access_token", Q | J}, {"token", Q | J},
  /* "key" is also an ordinary JSON field name (the /status document's): only key=value */
  {"key", Q}, {"sign", Q | J}, {"signature", Q | J}, {"secret", Q | J},
  {"password", Q | J}, {"passwd", Q | J}, {"api_key", Q | J}, {"apikey", Q | J},
  {"x-api-key", Q | J | H}, {"client_secret", Q | J}, {"refresh_token", Q | J},
  {"id_token", Q | J}, {"auth_token", Q | J}, {"cookie", Q | J | H}, {"set-cookie", Q | J | H},
  /* QingCloud's credential pair in a signed query string a server echoes, and the two
   * rec.configure keys of the provider secrets */
  {"access_key_id", Q | J}, {"secret_access_key", Q | J}, {"customer_secret", Q | J},
#undef Q
#undef J
#undef H
};
#define NCRED (sizeof cred_names / sizeof cred_names[0])

const char *log_cred_name(size_t i, unsigned *forms) {
  if (i >= NCRED) return NULL;
  if (forms) *forms = cred_names[i].forms;
  return cred_names[i].name;
}

static void redact_named(char *s, size_t len) {
  size_t i = 0;
  while (i < len) {
    size_t j, v, end;
    size_t k;
    int hit = -1, quoted;
    unsigned forms;
    if (!name_char((unsigned char)s[i]) || (i > 0 && name_char((unsigned char)s[i - 1]))) {
      i++;
      continue;
    }
    for (j = i; j < len && name_char((unsigned char)s[j]); j++) {}
    for (k = 0; k < NCRED; k++)
      if (strlen(cred_names[k].name) == j - i &&
          strncasecmp(s + i, cred_names[k].name, j - i) == 0) {
        hit = (int)k;
        break;
      }
    if (hit < 0) {
      i = j;
      continue;
    }
    forms = cred_names[hit].forms;
    v = j;
    quoted = 0;
    if (v < len && (s[v] == '"' || s[v] == '\'')) v++, quoted = 1;        /* "secret": */
    if (v < len && s[v] == '\\' && v + 1 < len && s[v + 1] == '"') v += 2, quoted = 1;
    while (v < len && s[v] == ' ') v++;
    /* name=value anywhere; name: value only for headers and quoted (JSON) names, not prose */
    if (v >= len || !((s[v] == '=' && (forms & LOG_FORM_QUERY)) ||
                      (s[v] == ':' && ((quoted && (forms & LOG_FORM_JSON)) ||
                                       (forms & LOG_FORM_HEADER))))) {
      i = j;
      continue;
    }
    v++;
    while (v < len && (s[v] == ' ' || s[v] == '"' || s[v] == '\'' || s[v] == '\\')) v++;
    if (len - v >= sizeof mark - 1 && memcmp(s + v, mark, sizeof mark - 1) == 0) {
      i = v + sizeof mark - 1;  /* a registered secret, already replaced */
      continue;
    }
    /* headers run to the end of the line; other values to a separator */
    if (forms & LOG_FORM_HEADER) {
      for (end = v; end < len && s[end] != '\n' && s[end] != '\r' && s[end] != '"' &&
                    s[end] != ',' && s[end] != '\\'; end++) {}
    } else {
      for (end = v; end < len && !strchr("&\"' \t\r\n,;}#<>\\", s[end]); end++) {}
    }
    for (; v < end; v++) s[v] = '*';
    i = end;
  }
}

char *log_redact_dup(const char *msg, size_t n, size_t *outn) {
  char *s = malloc(n + 1);
  int i;
  if (!s) return NULL;
  memcpy(s, msg, n);
  s[n] = '\0';
  lk();
  for (i = 0; i < nsecrets; i++) {
    if (!replace_needle(&s, &n, secrets[i])) {
      ulk();
      free(s);
      return NULL;  /* no memory to redact: the caller says nothing rather than leak */
    }
  }
  ulk();
  redact_named(s, n);
  if (outn) *outn = n;
  return s;
}

void log_redact(char *s, size_t cap) {
  size_t len, keep;
  char *r;
  int i;
  if (cap == 0) return;
  len = strnlen(s, cap - 1);
  s[len] = '\0';
  r = log_redact_dup(s, len, NULL);
  if (!r) {
    snprintf(s, cap, "%s", mark);
    return;
  }
  snprintf(s, cap, "%s", r);
  free(r);
  /* the text may have been cut by whoever wrote it (it fills the buffer): a tail that is
   * the beginning of a secret is the secret's first bytes, and goes too */
  len = strlen(s);
  if (len + 1 < cap) return;
  lk();
  for (i = 0; i < nsecrets; i++) {
    size_t sl = strlen(secrets[i]);
    for (keep = sl - 1 < len ? sl - 1 : len; keep >= 1; keep--)
      if (memcmp(s + len - keep, secrets[i], keep) == 0) {
        size_t at = len - keep;
        if (at + sizeof mark - 1 < cap) memcpy(s + at, mark, sizeof mark);
        else memset(s + at, '*', keep);
        len = strlen(s);
        break;
      }
  }
  ulk();
}

/* ---- escaping and cutting ---- */

/* Length of a valid UTF-8 sequence at p (at most n bytes), 0 when invalid. */
static size_t utf8_len(const unsigned char *p, size_t n) {
  size_t need, i;
  unsigned cp;
  if (p[0] < 0x80) return 1;
  if (p[0] >= 0xc2 && p[0] <= 0xdf) need = 2, cp = p[0] & 0x1f;
  else if (p[0] >= 0xe0 && p[0] <= 0xef) need = 3, cp = p[0] & 0x0f;
  else if (p[0] >= 0xf0 && p[0] <= 0xf4) need = 4, cp = p[0] & 0x07;
  else return 0;
  if (n < need) return 0;
  for (i = 1; i < need; i++) {
    if ((p[i] & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (p[i] & 0x3f);
  }
  if ((need == 3 && cp < 0x800) || (need == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
      (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return need;
}

size_t log_escape(char *out, size_t outcap, const char *s, size_t n, int json) {
  static const char cut[] = " [cut]";
  size_t i = 0, j = 0, limit;
  char unit[8];
  if (outcap == 0) return 0;
  limit = outcap - 1 > sizeof cut - 1 ? outcap - 1 - (sizeof cut - 1) : 0;
  while (i < n) {
    unsigned char c = (unsigned char)s[i];
    size_t ul, take = 1;
    if (json) {
      size_t u8 = utf8_len((const unsigned char *)s + i, n - i);
      if (c == '"' || c == '\\') ul = (size_t)snprintf(unit, sizeof unit, "\\%c", c);
      else if (c == '\n') ul = (size_t)snprintf(unit, sizeof unit, "\\n");
      else if (c == '\r') ul = (size_t)snprintf(unit, sizeof unit, "\\r");
      else if (c == '\t') ul = (size_t)snprintf(unit, sizeof unit, "\\t");
      else if (c < 0x20 || c == 0x7f) ul = (size_t)snprintf(unit, sizeof unit, "\\u%04x", c);
      else if (u8 == 0) ul = (size_t)snprintf(unit, sizeof unit, "\\ufffd");
      else {
        memcpy(unit, s + i, u8);
        ul = take = u8;
      }
    } else {
      if (c == '\n') ul = (size_t)snprintf(unit, sizeof unit, "\\n");
      else if (c == '\r') ul = (size_t)snprintf(unit, sizeof unit, "\\r");
      else if (c == '\t') ul = (size_t)snprintf(unit, sizeof unit, "\\t");
      else if (c < 0x20 || c == 0x7f) ul = (size_t)snprintf(unit, sizeof unit, "\\x%02x", c);
      else {
        unit[0] = (char)c;
        ul = 1;
      }
    }
    if (j + ul > limit) {  /* never half an escape or half a character */
      size_t cl = sizeof cut - 1 < outcap - 1 - j ? sizeof cut - 1 : outcap - 1 - j;
      memcpy(out + j, cut, cl);
      j += cl;
      break;
    }
    memcpy(out + j, unit, ul);
    j += ul;
    i += take;
  }
  out[j] = '\0';
  return j;
}

static int reserved_key(const char *k) {
  return !strcmp(k, "time") || !strcmp(k, "level") || !strcmp(k, "task") || !strcmp(k, "msg");
}

/* A value for a text log: as is, or quoted (with \" and \\ escaped) when it would not read
 * back as one token. */
static void text_value(FILE *f, const char *v) {
  const char *p;
  int quote = !*v;
  for (p = v; *p && !quote; p++)
    if (*p == ' ' || *p == '=' || *p == '"' || *p == '\n' || *p == '\t') quote = 1;
  if (!quote) {
    fputs(v, f);
    return;
  }
  fputc('"', f);
  for (p = v; *p; p++) {
    if (*p == '"' || *p == '\\') fputc('\\', f);
    if (*p == '\n') fputs("\\n", f);
    else fputc(*p, f);
  }
  fputc('"', f);
}

static int valid_key(const char *k) {
  if (!*k || strlen(k) > 64) return 0;
  for (; *k; k++)
    if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') || (*k >= '0' && *k <= '9') ||
          *k == '_' || *k == '.' || *k == '-'))
      return 0;
  return 1;
}

/* Text logs print a Lua traceback ("stack traceback:" at the start of a line of the message,
 * as luaL_traceback writes it) as lines of its own after the record's line, each indented
 * by two spaces (a record's line starts with its timestamp, so none of them can pass for a
 * record) and escaped like the message. JSON keeps one object per line, with \n in "msg". */
static const char *find_traceback(const char *s, size_t n) {
  static const char tb[] = "stack traceback:\n";
  size_t i;
  for (i = 0; i + sizeof tb - 1 <= n; i++)
    if ((i == 0 || s[i - 1] == '\n') && memcmp(s + i, tb, sizeof tb - 1) == 0)
      return i > 0 ? s + i : NULL;  /* a message that is only a traceback stays one line */
  return NULL;
}

static void write_traceback(const char *t, size_t n) {
  char out[LOG_LINE_MAX];
  size_t used = 0, i = 0;
  while (i < n) {
    size_t end = i, tabs = 0;
    while (end < n && t[end] != '\n') end++;
    while (i + tabs < end && t[i + tabs] == '\t') tabs++;
    if (used + (end - i) > LOG_LINE_MAX) {  /* the whole record stays within the usual bound */
      fputs("  [cut]\n", stderr);
      return;
    }
    used += end - i;
    log_escape(out, sizeof out, t + i + tabs, end - i - tabs, 0);
    fprintf(stderr, "  %s%s\n", tabs ? "  " : "", out);
    i = end + 1;
  }
}

static void write_fields(log_level level, unsigned task, const char *msg, const log_field *fields,
                         int nfields);

/* A line is written whole under the lock: lines of several threads never interleave. */
void log_write_fields(log_level level, unsigned task, const char *msg, const log_field *fields,
                      int nfields) {
  if (!log_enabled(level) || level >= LOG_OFF) return;
  lk();
  write_fields(level, task, msg, fields, nfields);
  ulk();
}

static void write_fields(log_level level, unsigned task, const char *msg, const log_field *fields,
                         int nfields) {
  char line[LOG_LINE_MAX], stamp[40], val[1024];
  char *clean;
  const char *trace = NULL;
  size_t n = 0;
  struct timeval tv;
  struct tm tm;
  int i;
  if (!log_enabled(level) || level >= LOG_OFF) return;
  if (!msg) msg = "(null)";
  clean = log_redact_dup(msg, strlen(msg), &n);
  log_escape(line, sizeof line, clean ? clean : mark, clean ? n : sizeof mark - 1, json_format);
  if (!json_format && clean) trace = find_traceback(clean, n);
  if (cur->tee) {  /* a test runner keeps the lines: as text, one line each */
    const char *tl = line;
    char tline[LOG_LINE_MAX];
    if (json_format) {
      log_escape(tline, sizeof tline, clean ? clean : mark, clean ? n : sizeof mark - 1, 0);
      tl = tline;
    }
    if (!cur->tee(cur->tee_ud, level, task, tl)) {
      free(clean);
      return;
    }
  }
  if (trace)  /* the record's line ends before the traceback, which follows as its own lines */
    log_escape(line, sizeof line, clean, (size_t)(trace - clean) - 1, 0);  /* without the newline before it */
  if (cur->clock) {
    double w = cur->clock(cur->clock_ud);
    tv.tv_sec = (time_t)w;
    tv.tv_usec = (suseconds_t)((w - (double)tv.tv_sec) * 1e6);
  } else {
    gettimeofday(&tv, NULL);
  }
  gmtime_r(&tv.tv_sec, &tm);
  strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  if (json_format) {
    fprintf(stderr, "{\"time\":\"%s.%03dZ\",\"level\":\"%s\",", stamp, (int)(tv.tv_usec / 1000),
            level_names[level]);
    if (task) fprintf(stderr, "\"task\":%u,", task);
    if (strncmp(line, "kind=", 5) == 0) {  /* the stable word to alert on, as a field too */
      size_t k = strspn(line + 5, "abcdefghijklmnopqrstuvwxyz_");
      if (k > 0 && k < 40) fprintf(stderr, "\"kind\":\"%.*s\",", (int)k, line + 5);
    }
    fprintf(stderr, "\"msg\":\"%s\"", line);
  } else if (task) {
    fprintf(stderr, "%s.%03dZ %-5s [task %u] %s", stamp, (int)(tv.tv_usec / 1000),
            level_names[level], task, line);
  } else {
    fprintf(stderr, "%s.%03dZ %-5s %s", stamp, (int)(tv.tv_usec / 1000), level_names[level],
            line);
  }
  for (i = 0; i < nfields; i++) {
    const char *k = fields[i].key;
    char *cv;
    size_t cn = 0;
    if (!k || !fields[i].value || !valid_key(k)) continue;
    /* redacted whole, then escaped (no control byte, valid UTF-8 in JSON), then cut */
    cv = log_redact_dup(fields[i].value, strlen(fields[i].value), &cn);
    log_escape(val, sizeof val, cv ? cv : mark, cv ? cn : sizeof mark - 1, json_format);
    free(cv);
    if (json_format) {
      fprintf(stderr, ",\"%s%s\":", reserved_key(k) ? "field_" : "", k);
      if (fields[i].raw) fputs(val, stderr);
      else fprintf(stderr, "\"%s\"", val);
    } else {
      fprintf(stderr, " %s=", k);
      text_value(stderr, val);
    }
  }
  fputs(json_format ? "}\n" : "\n", stderr);
  if (trace) write_traceback(trace, n - (size_t)(trace - clean));
  free(clean);
}

void log_write_str(log_level level, unsigned task, const char *msg) {
  log_write_fields(level, task, msg, NULL, 0);
}

void log_write(log_level level, unsigned task, const char *fmt, ...) {
  char small[1024], *buf = small;
  va_list ap;
  int n;
  if (!log_enabled(level)) return;
  va_start(ap, fmt);
  n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n >= (int)sizeof small && n < (1 << 24) && (buf = malloc((size_t)n + 1)) != NULL) {
    va_start(ap, fmt);  /* the whole message: it is redacted before any cut */
    vsnprintf(buf, (size_t)n + 1, fmt, ap);
    va_end(ap);
  } else if (buf == NULL) {
    buf = small;
  }
  log_write_str(level, task, buf);
  if (buf != small) free(buf);
}
