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

void log_write_str(log_level level, unsigned task, const char *msg) {
  char line[4096], stamp[40];
  struct timeval tv;
  struct tm tm;
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
    fputs("\"msg\":\"", stderr);
    json_escape(stderr, line);
    fputs("\"}\n", stderr);
  } else if (task) {
    fprintf(stderr, "%s.%03dZ %-5s [task %u] %s\n", stamp, (int)(tv.tv_usec / 1000),
            level_names[level], task, line);
  } else {
    fprintf(stderr, "%s.%03dZ %-5s %s\n", stamp, (int)(tv.tv_usec / 1000), level_names[level],
            line);
  }
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
