/* log: leveled text/JSON logs on stderr; every line passes through secret redaction. */
#define _GNU_SOURCE 1  /* strcasestr */
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
  double (*clock)(void *ud);  /* wall-clock seconds for the timestamp; NULL = the real clock */
  void *clock_ud;
  log_tee_fn tee;
  void *tee_ud;
};

static log_state default_state = {LOG_INFO, 0, NULL, 0, 0, NULL, NULL, NULL, NULL};
static log_state *cur = &default_state;
#define current_level (cur->level)
#define json_format (cur->json)
#define secrets (cur->secrets)
#define nsecrets (cur->nsecrets)
#define capsecrets (cur->capsecrets)

static const char *const level_names[] = {"debug", "info", "warn", "error"};

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

void log_add_secret(const char *secret) {
  int i;
  char *copy;
  if (!secret || strlen(secret) < 4) return;
  for (i = 0; i < nsecrets; i++)
    if (strcmp(secrets[i], secret) == 0) return;
  if (nsecrets == capsecrets) {
    int ncap = capsecrets ? 2 * capsecrets : 16;
    char **grown = realloc(secrets, sizeof *secrets * (size_t)ncap);
    if (!grown) return;
    secrets = grown;
    capsecrets = ncap;
  }
  if ((copy = strdup(secret)) != NULL) secrets[nsecrets++] = copy;
}

void log_clear_secrets(void) {
  while (nsecrets > 0) free(secrets[--nsecrets]);
  free(secrets);
  secrets = NULL;
  capsecrets = 0;
}

/* Replaces every needle in s (NUL-terminated, capacity cap) by with, truncating the text
 * when the replacement makes it longer than cap allows; never writes past cap. */
static void replace_all(char *s, size_t cap, const char *needle, const char *with) {
  size_t nl = strlen(needle), wl = strlen(with);
  char *p = s;
  if (cap == 0 || nl == 0) return;
  while ((p = strstr(p, needle)) != NULL) {
    size_t at = (size_t)(p - s), tail = strlen(p + nl), room;
    if (at + wl >= cap) {  /* not even the marker fits: cut the text here */
      *p = '\0';
      return;
    }
    room = cap - at - wl - 1;  /* bytes left for what followed the needle */
    if (tail > room) tail = room;
    memmove(p + wl, p + nl, tail);
    p[wl + tail] = '\0';
    memcpy(p, with, wl);
    p += wl;
  }
}

/* "Authorization: <anything up to end of line or quote>" loses its value. */
static void redact_authorization(char *s) {
  char *p = s;
  while ((p = strcasestr(p, "authorization")) != NULL) {
    char *v = p + 13, *end;
    while (*v == ' ' || *v == ':' || *v == '=' || *v == '"') v++;
    end = v;
    while (*end && *end != '\n' && *end != '"' && *end != ',') end++;
    if (end > v) {
      static const char mark[] = "[REDACTED]";
      size_t ml = sizeof mark - 1, rest = strlen(end);
      if ((size_t)(end - v) >= ml) {
        memcpy(v, mark, ml);
        memmove(v + ml, end, rest + 1);
      } else {
        memset(v, '*', (size_t)(end - v));
      }
    }
    p = v;
  }
}

void log_redact(char *s, size_t cap) {
  int i;
  for (i = 0; i < nsecrets; i++) replace_all(s, cap, secrets[i], "[REDACTED]");
  redact_authorization(s);
}

static void json_escape(FILE *f, const char *s) {
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
    else if (c == '\n') fputs("\\n", f);
    else if (c == '\t') fputs("\\t", f);
    else if (c < 0x20) fprintf(f, "\\u%04x", c);
    else fputc(c, f);
  }
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

void log_write_fields(log_level level, unsigned task, const char *msg, const log_field *fields,
                      int nfields) {
  char line[4096], stamp[40], val[1024];
  struct timeval tv;
  struct tm tm;
  int i;
  if (!log_enabled(level) || level >= LOG_OFF) return;
  snprintf(line, sizeof line, "%s", msg);
  log_redact(line, sizeof line);
  if (cur->clock) {
    double w = cur->clock(cur->clock_ud);
    tv.tv_sec = (time_t)w;
    tv.tv_usec = (suseconds_t)((w - (double)tv.tv_sec) * 1e6);
  } else {
    gettimeofday(&tv, NULL);
  }
  gmtime_r(&tv.tv_sec, &tm);
  strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  if (cur->tee && !cur->tee(cur->tee_ud, level, task, line)) return;
  if (json_format) {
    fprintf(stderr, "{\"time\":\"%s.%03dZ\",\"level\":\"%s\",", stamp, (int)(tv.tv_usec / 1000),
            level_names[level]);
    if (task) fprintf(stderr, "\"task\":%u,", task);
    if (strncmp(line, "kind=", 5) == 0) {  /* the stable word to alert on, as a field too */
      size_t n = strspn(line + 5, "abcdefghijklmnopqrstuvwxyz_");
      if (n > 0 && n < 40) fprintf(stderr, "\"kind\":\"%.*s\",", (int)n, line + 5);
    }
    fputs("\"msg\":\"", stderr);
    json_escape(stderr, line);
    fputs("\"", stderr);
  } else if (task) {
    fprintf(stderr, "%s.%03dZ %-5s [task %u] %s", stamp, (int)(tv.tv_usec / 1000),
            level_names[level], task, line);
  } else {
    fprintf(stderr, "%s.%03dZ %-5s %s", stamp, (int)(tv.tv_usec / 1000), level_names[level],
            line);
  }
  for (i = 0; i < nfields; i++) {
    const char *k = fields[i].key;
    if (!k || !fields[i].value || !valid_key(k)) continue;
    snprintf(val, sizeof val, "%s", fields[i].value);
    log_redact(val, sizeof val);
    if (json_format) {
      fprintf(stderr, ",\"%s%s\":", reserved_key(k) ? "field_" : "", k);
      if (fields[i].raw) {
        fputs(val, stderr);
      } else {
        fputc('"', stderr);
        json_escape(stderr, val);
        fputc('"', stderr);
      }
    } else {
      fprintf(stderr, " %s=", k);
      text_value(stderr, val);
    }
  }
  fputs(json_format ? "}\n" : "\n", stderr);
}

void log_write_str(log_level level, unsigned task, const char *msg) {
  log_write_fields(level, task, msg, NULL, 0);
}

void log_write(log_level level, unsigned task, const char *fmt, ...) {
  char buf[4096];
  va_list ap;
  if (!log_enabled(level)) return;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  log_write_str(level, task, buf);
}
