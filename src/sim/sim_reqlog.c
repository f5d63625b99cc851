/* sim_reqlog: the simulator's request log in memory, served as GET /_sim/requests: a bounded
 * ring of {t, account, member, method, path, status, provider} per request answered, so a
 * test can see which account each request used and which fleet member sent it (the
 * `User-Agent: recwatch member=...` the call layer sends). */
#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sim_srv.h"

typedef struct entry {
  double t;
  int status;
  const char *provider;          /* static: "agora", "qingcloud", "webhook", "sim" or NULL */
  char method[8];
  char *account, *member, *path; /* into the same allocation as the entry */
} entry;

struct sim_reqlog {
  entry **ring;
  size_t cap, head, count;
  unsigned long long total;      /* entries ever added (the dropped ones = total - count) */
};

static const char member_prefix[] = "recwatch member=";

/* The member a request names in its User-Agent, into out (NUL-terminated); 0 when none. */
static size_t member_of(const sim_conn *c, char *out, size_t cap) {
  size_t i, n, pl = sizeof member_prefix - 1;
  for (i = 0; i < HTTPD_KEEP; i++) {
    const sbuf *v = &c->kept[i];
    const char *p;
    if (!c->has_kept[i] || v->len < pl || !v->p) continue;
    p = v->p;
    n = v->len;
    while (n > 0 && (*p == ' ' || *p == '\t')) p++, n--;
    if (n < pl || memcmp(p, member_prefix, pl) != 0) continue;
    p += pl;
    n -= pl;
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r')) n--;
    if (n >= cap) n = cap - 1;
    memcpy(out, p, n);
    out[n] = 0;
    return n;
  }
  return 0;
}

void sim_reqlog_add(sim_t *s, sim_conn *c, const char *provider, const char *account) {
  struct sim_reqlog *r = s->reqlog;
  const char *m = http_method_str((enum http_method)c->parser.method);
  char member[257];
  size_t ml = member_of(c, member, sizeof member), al = account ? strlen(account) : 0;
  size_t pl = c->pathlen > 512 ? 512 : c->pathlen;
  entry *e;
  if (!r || r->cap == 0) return;
  if (!(e = malloc(sizeof *e + al + 1 + ml + 1 + pl + 1))) return;
  e->t = c->t;
  e->status = c->status;
  e->provider = provider;
  snprintf(e->method, sizeof e->method, "%s", m);
  e->account = (char *)(e + 1);
  memcpy(e->account, account ? account : "", al + 1);
  e->member = e->account + al + 1;
  memcpy(e->member, member, ml);
  e->member[ml] = 0;
  e->path = e->member + ml + 1;
  memcpy(e->path, c->path ? c->path : "", pl);
  e->path[pl] = 0;
  if (!account) e->account = NULL;
  if (!ml) e->member = NULL;
  if (r->count == r->cap) {  /* full: the oldest goes */
    free(r->ring[r->head]);
    r->ring[r->head] = e;
    r->head = (r->head + 1) % r->cap;
  } else {
    r->ring[(r->head + r->count) % r->cap] = e;
    r->count++;
  }
  r->total++;
}

static void add_str_or_null(sbuf *b, const char *s) {
  if (s) sbuf_add_json_str(b, s, strlen(s));
  else sbuf_adds(b, "null");
}

/* "since=T" in the query string: only entries with t > T; NaN/absent: all. */
static double since_of(const sim_conn *c) {
  const char *q = c->query, *end = q ? q + c->querylen : NULL;
  char buf[64];
  while (q && q < end) {
    const char *amp = memchr(q, '&', (size_t)(end - q));
    size_t n = (size_t)((amp ? amp : end) - q);
    if (n > 6 && n - 6 < sizeof buf && memcmp(q, "since=", 6) == 0) {
      char *stop;
      double v;
      memcpy(buf, q + 6, n - 6);
      buf[n - 6] = 0;
      v = strtod(buf, &stop);
      if (*stop == 0) return v;
    }
    q = amp ? amp + 1 : end;
  }
  return -1e300;
}

void sim_reqlog_render(const sim_t *s, double since, sbuf *b) {
  const struct sim_reqlog *r = s->reqlog;
  size_t i;
  int first = 1;
  b->len = 0;
  sbuf_adds(b, "[");
  for (i = 0; r && i < r->count; i++) {
    const entry *e = r->ring[(r->head + i) % r->cap];
    if (!(e->t > since)) continue;
    sbuf_addf(b, "%s{\"t\":%.6f,\"account\":", first ? "" : ",\n", e->t);
    first = 0;
    add_str_or_null(b, e->account);
    sbuf_adds(b, ",\"member\":");
    add_str_or_null(b, e->member);
    sbuf_adds(b, ",\"method\":");
    add_str_or_null(b, e->method);
    sbuf_adds(b, ",\"path\":");
    add_str_or_null(b, e->path);
    sbuf_addf(b, ",\"status\":%d,\"provider\":", e->status);
    add_str_or_null(b, e->provider);
    sbuf_adds(b, "}");
  }
  sbuf_adds(b, "]\n");
}

int sim_reqlog_page(sim_conn *c) {
  sim_t *s = SIM_OF(c);
  sbuf *b = &s->scratch;
  if (!httpd_path_is(c, "/_sim/requests")) return 0;
  if (c->parser.method != HTTP_GET) {
    sim_reply_json(c, 404, "{\"message\":\"no Route matched with those values\"}");
    return 1;
  }
  sim_reqlog_render(s, since_of(c), b);
  if (b->p) sim_reply(c, 200, "application/json", b->p, b->len);
  else sim_reply_json(c, 500, "{\"message\":\"out of memory\"}");
  return 1;
}

int sim_reqlog_init(sim_t *s, size_t cap) {
  struct sim_reqlog *r = calloc(1, sizeof *r);
  if (!r || (cap && !(r->ring = calloc(cap, sizeof *r->ring)))) {
    free(r);
    return -1;
  }
  r->cap = cap;
  s->reqlog = r;
  return 0;
}

void sim_reqlog_free(sim_t *s) {
  struct sim_reqlog *r = s->reqlog;
  size_t i;
  if (!r) return;
  for (i = 0; i < r->count; i++) free(r->ring[(r->head + i) % r->cap]);
  free(r->ring);
  free(r);
  s->reqlog = NULL;
}
