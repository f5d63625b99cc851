/* ops: the service side of recwatch. The listener runs on its own thread and uv_loop with
 * the shared HTTP server (httpd.c); it reads only the metrics registry (mutex-guarded) and
 * what the main loop publishes here under a mutex every beat: a heartbeat, the /status
 * document and why the process is unhealthy. A main loop that stops beating is reported
 * stuck by a page it does not serve. */
#include <errno.h>
#include <lua.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>
#include "admin.h"
#include "config.h"
#include "events.h"
#include "httpd.h"
#include "log.h"
#include "metrics.h"
#include "ops.h"
#include "store_pg.h"

/* The listener's bounds (issue 20 item 6): a /metrics page serves every request of its
 * scrape instant (OPS_SHARE_MS), and while the replies queued unsent over all connections
 * exceed OPS_MAX_OUTPUT a request that would add a page or a /status document is answered
 * 503 (small, and counted) instead. Small pages (/healthz, 404s) are always answered. */
#define OPS_SHARE_MS 100
#define OPS_MAX_OUTPUT ((size_t)32 * 1024 * 1024)

typedef struct watcher {
  char *key, *provider, *last_status, *last_error, *state;
  double registered_at;         /* engine_now of the first report (kept over reloads) */
  double last_good, last_poll;  /* engine_now; -1 = none yet */
  double last_good_wall;        /* engine_time of last_good, for /status */
  double next_poll, stale_after;
  int last_ok;
  int carried;                  /* from before the last reload, not registered again yet */
  int carried_stale;            /* the old script had reported it stale */
  int said_stale;               /* the script's last word: it has reported itself stale */
  uint32_t hash;
  struct watcher *hnext;        /* its hash bucket's chain */
  struct watcher *prev, *next;  /* every watcher, newest first */
} watcher;

static struct {
  /* shared with the listener thread, under mu */
  uv_once_t once;
  uv_mutex_t mu;
  char *status_json;
  uint64_t status_ns;           /* when status_json was built */
  int async_ready;              /* status_req may be sent to */
  char reason[512];             /* empty = healthy (as far as the main loop knows) */
  uint64_t beat_ns;             /* uv_hrtime of the last heartbeat: real time on purpose */
  double stuck_after;
  /* main-loop side */
  engine_t *e;
  int attached;
  uv_timer_t beat;
  uv_signal_t hup, usr1;
  uv_async_t status_req;        /* the listener asks the main loop for a /status document */
  double beat_every;            /* seconds */
  int watchdog;                 /* systemd asked for WATCHDOG=1 */
  watcher *watchers;            /* the registry: a list ... */
  watcher **buckets;            /* ... and a hash table over it */
  size_t nbuckets, nwatchers;
  unsigned long long probes;    /* keys compared by lookups, for tests */
} ops = {UV_ONCE_INIT};

/* The listener: its thread, loop and server. The process object owns it (process.c:
 * ops_listener_new, ops_listener_use, ops_listener_free); `lsn` is the one installed, the
 * built-in one until then (programs without a process object: the unit tests). Its
 * `listening` and `addr` are read and written under ops.mu. */
struct ops_listener {
  int listening;
  char addr[128];
  uv_thread_t thread;
  uv_loop_t loop;
  uv_async_t stop;
  httpd_t *srv;
  char url[96];
  httpd_blob *page;             /* the last /metrics page (listener thread only) */
  uint64_t page_ms;             /* its uv_now on the listener's loop */
};
static ops_listener builtin_listener;
static ops_listener *lsn = &builtin_listener;

static void init_mutex(void) { uv_mutex_init(&ops.mu); }
static void lock(void) {
  uv_once(&ops.once, init_mutex);
  uv_mutex_lock(&ops.mu);
}
static void unlock(void) { uv_mutex_unlock(&ops.mu); }

void ops_set_stuck_after(double seconds) {
  lock();
  ops.stuck_after = seconds;
  unlock();
}

/* ---------------------------------------------------------------- sd_notify */

/* The datagram protocol sd_notify(3) documents as stable: one AF_UNIX datagram to
 * $NOTIFY_SOCKET (a path, or an abstract name written with a leading '@'). */
int ops_notify(const char *state) {
  const char *path = getenv("NOTIFY_SOCKET");
  struct sockaddr_un sa;
  size_t n;
  socklen_t salen;
  int fd, rc;
  if (!path || !*path) return 0;
  n = strlen(path);
  if ((path[0] != '/' && path[0] != '@') || n >= sizeof sa.sun_path) return -1;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  memcpy(sa.sun_path, path, n);
  if (sa.sun_path[0] == '@') sa.sun_path[0] = '\0';
  salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
  fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  rc = (int)sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, salen);
  close(fd);
  return rc < 0 ? -1 : 1;
}

/* ---------------------------------------------------------------- the listener thread */

static void reply_text(httpd_conn *c, int status, const char *ctype, const char *s, size_t n) {
  httpd_reply(c, status, ctype, s, n);
}

/* Too much queued unsent (clients that do not read): 503 rather than one more copy. */
static int refuse_busy(httpd_conn *c, const char *path) {
  char body[160];
  size_t queued = httpd_out_bytes(c->srv);
  if (queued <= OPS_MAX_OUTPUT) return 0;
  metrics_inc1(metrics_builtin()->listener_refused, path, 1);
  snprintf(body, sizeof body, "busy: %zu MiB of replies queued unsent to clients that do not "
           "read (cap %zu MiB); try again\n", queued >> 20, OPS_MAX_OUTPUT >> 20);
  reply_text(c, 503, "text/plain; charset=utf-8", body, strlen(body));
  return 1;
}

/* /metrics: the page of this scrape instant, rendered by its first request and shared (by
 * reference) with the others until it is OPS_SHARE_MS old. */
static void serve_metrics(httpd_conn *c) {
  ops_listener *l = httpd_ud(c);
  uint64_t now = uv_now(&l->loop);
  static const char ctype[] = "text/plain; version=0.0.4; charset=utf-8";
  if (!l->page || now - l->page_ms >= OPS_SHARE_MS) {
    const metrics_builtin_t *mb = metrics_builtin();
    sbuf b = {0};
    httpd_blob *page;
    if (refuse_busy(c, "/metrics")) return;
    metrics_inc1(mb->listener_renders, NULL, 1);
    metrics_set1(mb->listener_queued, NULL, (double)httpd_out_bytes(c->srv));
    metrics_render(&b);
    if (!b.p || !(page = httpd_blob_new(c->srv, b.p, b.len))) {
      static const char oom[] = "out of memory\n";
      reply_text(c, 503, "text/plain; charset=utf-8", oom, sizeof oom - 1);
      return;
    }
    httpd_blob_unref(l->page);  /* connections still sending it keep their reference */
    l->page = page;
    l->page_ms = now;
  }
  httpd_reply_blob(c, 200, ctype, l->page);
}

/* /status: asks the main loop for a fresh document (uv_async) and polls for it without
 * blocking the listener (a deferred reply, every 5 ms); after 1 s (a stuck loop) the last
 * one goes out, its age saying how old it is. c->t: when the request came (seconds). */
static void serve_status(httpd_conn *c, int resumed) {
  uint64_t now = uv_hrtime();
  sbuf b = {0};
  if (!resumed) {
    c->t = (double)now / 1e9;
    lock();
    if (ops.async_ready) uv_async_send(&ops.status_req);
    unlock();
    httpd_defer(c, 5);
    return;
  }
  lock();
  if (ops.async_ready && (double)ops.status_ns / 1e9 < c->t && (double)now / 1e9 - c->t < 1.0) {
    unlock();
    httpd_defer(c, 5);
    return;
  }
  sbuf_addf(&b, "{\"snapshot_age_seconds\":%.3f",
            ops.status_ns ? (double)(now - ops.status_ns) / 1e9 : 0.0);
  if (ops.status_json && ops.status_json[0] == '{' && ops.status_json[1] != '}') {
    sbuf_adds(&b, ",");
    sbuf_adds(&b, ops.status_json + 1);
  } else {
    sbuf_adds(&b, "}");
  }
  unlock();
  reply_text(c, 200, "application/json", b.p, b.len);
  sbuf_free(&b);
}

static void handle(httpd_conn *c, int resumed, void *ud) {
  (void)ud;
  if (resumed) {  /* /status and the admin routes (c->app: their request) defer */
    if (c->app) admin_serve(c, 1);
    else serve_status(c, 1);
    return;
  }
  if (c->status) return;  /* a bad request, already answered */
  if (admin_is_route(c)) {  /* /admin/...: admin.c, handed to the main loop */
    admin_serve(c, 0);
    return;
  }
  if (c->parser.method != HTTP_GET && c->parser.method != HTTP_HEAD) {
    static const char m[] = "only GET and HEAD\n";
    reply_text(c, 405, "text/plain; charset=utf-8", m, sizeof m - 1);
    return;
  }
  if (httpd_path_is(c, "/metrics")) {
    serve_metrics(c);
  } else if (httpd_path_is(c, "/healthz")) {
    char body[640];
    uint64_t now = uv_hrtime();
    double age;
    int ok;
    lock();
    age = ops.beat_ns ? (double)(now - ops.beat_ns) / 1e9 : 0;
    if (ops.beat_ns && age > ops.stuck_after)
      snprintf(body, sizeof body, "main loop stuck: no heartbeat for %.1f s\n", age);
    else if (store_pg_outage(body, sizeof body - 1))   /* a fleet's database is down */
      strcat(body, "\n");
    else if (ops.reason[0])
      snprintf(body, sizeof body, "%s\n", ops.reason);
    else
      snprintf(body, sizeof body, "ok\n");
    ok = strcmp(body, "ok\n") == 0;
    unlock();
    reply_text(c, ok ? 200 : 503, "text/plain; charset=utf-8", body, strlen(body));
  } else if (httpd_path_is(c, "/status")) {
    if (!refuse_busy(c, "/status")) serve_status(c, resumed);
  } else if (httpd_path_is(c, "/")) {
    static const char idx[] = "recwatch: /metrics /healthz /status\n";
    reply_text(c, 200, "text/plain; charset=utf-8", idx, sizeof idx - 1);
  } else {
    static const char nf[] = "not found: try /metrics, /healthz or /status\n";
    reply_text(c, 404, "text/plain; charset=utf-8", nf, sizeof nf - 1);
  }
}

static void on_conn_close(httpd_conn *c, void *ud) {
  (void)ud;
  admin_conn_closed(c);
}

static void on_stop(uv_async_t *a) {
  ops_listener *l = a->data;
  httpd_blob_unref(l->page);  /* before the server: the blob counts into it */
  l->page = NULL;
  httpd_free(l->srv, NULL, NULL);
  l->srv = NULL;
  uv_close((uv_handle_t *)a, NULL);
}

static void listener_main(void *arg) {
  ops_listener *l = arg;
  uv_run(&l->loop, UV_RUN_DEFAULT);
}

/* "9464" -> 127.0.0.1:9464; "HOST:PORT"; "[::1]:9464". */
static int parse_addr(const char *addr, char *host, size_t hostlen, int *port) {
  const char *colon, *p;
  char *end;
  long v;
  if (!addr || !*addr) return -1;
  if (addr[0] == '[') {
    const char *close = strchr(addr, ']');
    if (!close || close[1] != ':' || (size_t)(close - addr - 1) >= hostlen) return -1;
    memcpy(host, addr + 1, (size_t)(close - addr - 1));
    host[close - addr - 1] = '\0';
    p = close + 2;
  } else if ((colon = strrchr(addr, ':')) != NULL) {
    if ((size_t)(colon - addr) >= hostlen || strchr(addr, ':') != colon) return -1;
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    if (!host[0]) snprintf(host, hostlen, "127.0.0.1");
    p = colon + 1;
  } else {
    snprintf(host, hostlen, "127.0.0.1");
    p = addr;
  }
  errno = 0;
  v = strtol(p, &end, 10);
  if (!*p || *end || errno || v < 0 || v > 65535) return -1;
  *port = (int)v;
  return 0;
}

/* Parses addr into host and port, and want ("host:port", so that "9464" and
 * "127.0.0.1:9464" are one); -1 with err when it does not parse, or when another address is
 * listened on already (one listener per process); *already when this one is. */
static int listen_target(const char *addr, char *host, size_t hostlen, int *port, char *want,
                         size_t wantlen, int *already, char *err, size_t errlen) {
  int other;
  if (parse_addr(addr, host, hostlen, port) != 0) {
    snprintf(err, errlen, "listen: '%.100s' is not HOST:PORT, [IPV6]:PORT or PORT",
             addr ? addr : "");
    return -1;
  }
  snprintf(want, wantlen, "%s:%d", host, *port);
  lock();
  *already = lsn->listening && strcmp(lsn->addr, want) == 0;
  other = lsn->listening && !*already;
  if (other) snprintf(err, errlen, "listen: already listening on %s (one listener per process)", lsn->url);
  unlock();
  return other ? -1 : 0;
}

int ops_listen_check(const char *addr, char *err, size_t errlen) {
  char host[96], want[128];
  int port, already;
  return listen_target(addr, host, sizeof host, &port, want, sizeof want, &already, err, errlen);
}

int ops_listen(const char *addr, char *err, size_t errlen) {
  ops_listener *l = lsn;
  httpd_options o;
  char host[96], want[128];
  int port, already;
  if (listen_target(addr, host, sizeof host, &port, want, sizeof want, &already, err, errlen) != 0)
    return -1;
  if (already) return 0;
  metrics_builtin();  /* registered before another thread reads them */
  lock();
  if (ops.stuck_after <= 0) ops.stuck_after = 10;
  unlock();
  if (uv_loop_init(&l->loop) != 0) {
    snprintf(err, errlen, "listen: cannot create the listener's loop");
    return -1;
  }
  memset(&o, 0, sizeof o);
  o.host = host;
  o.port = port;
  o.server = "recwatch";
  o.handler = handle;
  o.on_close = on_conn_close;
  o.ud = l;
  admin_set_listen_host(host);
  l->srv = httpd_start(&l->loop, &o, err, errlen);
  if (!l->srv) {
    uv_run(&l->loop, UV_RUN_DEFAULT);  /* the failed listener's close callback */
    uv_loop_close(&l->loop);
    return -1;
  }
  uv_async_init(&l->loop, &l->stop, on_stop);
  l->stop.data = l;
  snprintf(l->url, sizeof l->url, "%s", httpd_base_url(l->srv));
  snprintf(l->addr, sizeof l->addr, "%s", want);
  if (uv_thread_create(&l->thread, listener_main, l) != 0) {
    snprintf(err, errlen, "listen: cannot start the listener thread");
    on_stop(&l->stop);
    uv_run(&l->loop, UV_RUN_DEFAULT);
    uv_loop_close(&l->loop);
    return -1;
  }
  lock();
  l->listening = 1;
  unlock();
  log_info("listening on %s (/metrics, /healthz, /status)", l->url);
  return 0;
}

const char *ops_listen_url(void) { return lsn->listening ? lsn->url : NULL; }

/* Stops l's thread (when it listens) and closes its loop: l can listen again. */
static void stop_listener(ops_listener *l) {
  if (!l->listening) return;
  uv_async_send(&l->stop);
  uv_thread_join(&l->thread);
  uv_loop_close(&l->loop);
  lock();
  l->listening = 0;
  unlock();
}

ops_listener *ops_listener_new(void) { return calloc(1, sizeof(ops_listener)); }

ops_listener *ops_listener_use(ops_listener *l) {
  ops_listener *prev = lsn;
  lsn = l ? l : &builtin_listener;
  return prev;
}

void ops_listener_free(ops_listener *l) {
  if (!l || l == &builtin_listener) return;
  stop_listener(l);
  if (lsn == l) lsn = &builtin_listener;
  free(l);
}

/* ---------------------------------------------------------------- watchers */

/* The registry is a hash table (chained, FNV-1a of the key, grown at load 1) plus a list in
 * registration order (newest first) for /status and the beat: a report, a forget and a
 * lookup cost the same with 10 watchers or 100,000. Times are engine_now (monotonic:
 * a wall-clock step changes no verdict) except last_good_wall, shown in /status. */
static void health(double now, char *reason, size_t reasonlen, double counts[4]);

static uint32_t key_hash(const char *s) {
  uint32_t h = 2166136261u;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
  h ^= h >> 16;  /* FNV's low bits alone cluster keys that differ near their end */
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  return h;
}

static watcher **bucket_of(uint32_t h) { return &ops.buckets[h & (ops.nbuckets - 1)]; }

static watcher *find_watcher(const char *key) {
  uint32_t h;
  watcher *w;
  if (!ops.nbuckets) return NULL;
  h = key_hash(key);
  for (w = *bucket_of(h); w; w = w->hnext) {
    ops.probes++;
    if (w->hash == h && strcmp(w->key, key) == 0) return w;
  }
  return NULL;
}

/* Doubles the table when it holds as many watchers as buckets; on no memory it stays as it
 * is (longer chains, still correct). */
static void grow_table(void) {
  size_t n = ops.nbuckets ? ops.nbuckets * 2 : 64, i;
  watcher **nb, **old = ops.buckets;
  size_t oldn = ops.nbuckets;
  if (ops.nwatchers < ops.nbuckets) return;
  if (!(nb = calloc(n, sizeof *nb))) return;
  ops.buckets = nb;
  ops.nbuckets = n;
  for (i = 0; i < oldn; i++) {
    watcher *w = old[i], *next;
    for (; w; w = next) {
      watcher **b = bucket_of(w->hash);
      next = w->hnext;
      w->hnext = *b;
      *b = w;
    }
  }
  free(old);
}

/* Copies s into dst (cap bytes with the NUL) whole when it fits, otherwise cut at the last
 * space that leaves room for " [...]": never inside a word (nor a UTF-8 sequence); a text
 * with no space early enough keeps none of its first word. */
static void cut_at_word(char *dst, size_t cap, const char *s) {
  static const char more[] = " [...]";
  size_t n = strlen(s), i;
  if (cap == 0) return;
  if (n < cap) {
    memcpy(dst, s, n + 1);
    return;
  }
  if (cap < sizeof more) {
    dst[0] = '\0';
    return;
  }
  i = cap - sizeof more;  /* room for s[0..i) + more + NUL */
  while (i > 0 && s[i] != ' ') i--;
  while (i > 0 && s[i - 1] == ' ') i--;
  memcpy(dst, s, i);
  memcpy(dst + i, i ? more : more + 1, sizeof more - (i ? 0 : 1));
}

static void set_str(char **dst, const char *s) {
  char *copy = s ? strdup(s) : NULL;
  if (s && !copy) return;
  free(*dst);
  *dst = copy;
}

static watcher *add_watcher(const char *key, double now) {
  watcher *w;
  grow_table();
  if (!ops.nbuckets) return NULL;
  if (!(w = calloc(1, sizeof *w)) || !(w->key = strdup(key))) {
    free(w);
    return NULL;
  }
  w->hash = key_hash(key);
  w->registered_at = now;
  w->last_good = w->last_poll = -1;
  w->stale_after = 300;
  w->hnext = *bucket_of(w->hash);
  *bucket_of(w->hash) = w;
  w->next = ops.watchers;
  if (ops.watchers) ops.watchers->prev = w;
  ops.watchers = w;
  ops.nwatchers++;
  return w;
}

static void report_at(const char *key, const ops_report *r, double now, double wall) {
  watcher *w = find_watcher(key);
  if (!w && !(w = add_watcher(key, now))) return;
  if (w->carried) {  /* the reloaded script watches it again: its times go on */
    w->carried = 0;
    w->carried_stale = w->said_stale || (w->state && strcmp(w->state, "stale") == 0);
  }
  if (r->stale >= 0) w->said_stale = r->stale;
  if (r->provider) set_str(&w->provider, r->provider);
  if (r->status) set_str(&w->last_status, r->status);
  set_str(&w->state, r->state);
  if (r->stale_after > 0) w->stale_after = r->stale_after;
  if (r->next_poll > 0) w->next_poll = r->next_poll;
  if (r->ok < 0) return;  /* registration only: no poll yet */
  w->last_poll = now;
  w->last_ok = r->ok;
  if (r->ok) {
    w->last_good = now;
    w->last_good_wall = wall;
    set_str(&w->last_error, NULL);
  } else if (r->error) {
    char *clean = log_redact_dup(r->error, strlen(r->error), NULL);  /* redact, then cut */
    char msg[512];
    msg[0] = '\0';
    if (clean) cut_at_word(msg, sizeof msg, clean);
    free(clean);
    set_str(&w->last_error, clean ? msg : "[REDACTED]");
  }
}

void ops_report_watcher(engine_t *e, const char *key, const ops_report *r) {
  report_at(key, r, engine_now(e), engine_time(e));
}

void ops_report_watcher_at(const char *key, const ops_report *r, double now, double wall) {
  report_at(key, r, now, wall);
}

int ops_watcher_times(const char *key, ops_times *t) {
  watcher *w = find_watcher(key);
  if (!w) return 0;
  t->since = w->registered_at;
  t->last_good = w->last_good;
  t->last_good_wall = w->last_good_wall;
  t->was_stale = w->carried_stale;
  return 1;
}

int ops_health_at(double now, char *reason, size_t reasonlen) {
  double counts[4];
  health(now, reason, reasonlen, counts);
  return (int)(counts[1] + counts[3]);
}

unsigned long long ops_watcher_probes(void) { return ops.probes; }

static void free_watcher(watcher *w) {
  free(w->key);
  free(w->provider);
  free(w->last_status);
  free(w->last_error);
  free(w->state);
  free(w);
}

static void unlink_watcher(watcher *w) {
  watcher **pp = bucket_of(w->hash);
  while (*pp != w) pp = &(*pp)->hnext;
  *pp = w->hnext;
  if (w->prev) w->prev->next = w->next;
  else ops.watchers = w->next;
  if (w->next) w->next->prev = w->prev;
  ops.nwatchers--;
  free_watcher(w);
}

void ops_forget_watcher(const char *key) {
  watcher *w = find_watcher(key);
  if (w) unlink_watcher(w);
}

static void forget_all_watchers(void) {
  while (ops.watchers) unlink_watcher(ops.watchers);
  free(ops.buckets);
  ops.buckets = NULL;
  ops.nbuckets = 0;
}

/* A reload: the old script's watchers leave /status and /healthz, but each keeps its times
 * until the new script registers the same key (it then goes on from them, so a reload does
 * not make a silent watcher look fresh) or the next reload (not watched any more). */
static void carry_watchers(void) {
  watcher *w = ops.watchers, *next;
  for (; w; w = next) {
    next = w->next;
    if (w->carried) unlink_watcher(w);
    else w->carried = 1;
  }
}

void ops_new_state(void) { carry_watchers(); }

/* ok, stale (no good poll for stale_after seconds), error (the last poll failed) or
 * auth_failed (the provider rejected the credentials: not transient, reported at once).
 * now: engine_now. */
static const char *watcher_state(const watcher *w, double now) {
  double since = w->last_good >= 0 ? w->last_good : w->registered_at;
  if (w->state && strcmp(w->state, "auth_failed") == 0) return "auth_failed";
  if (w->state && strcmp(w->state, "stale") == 0) return "stale";
  if (now - since > w->stale_after) return "stale";
  if (w->state && strcmp(w->state, "error") == 0) return "error";
  if (w->last_poll >= 0 && !w->last_ok) return "error";
  return "ok";
}

/* ---------------------------------------------------------------- status */

static void add_time(sbuf *b, const char *k, double t) {
  if (t > 0) sbuf_addf(b, ",\"%s\":%.3f", k, t);
  else sbuf_addf(b, ",\"%s\":null", k);
}

static void add_str(sbuf *b, const char *k, const char *v) {
  sbuf_addf(b, ",\"%s\":", k);
  if (v) sbuf_add_json_str(b, v, strlen(v));
  else sbuf_adds(b, "null");
}

/* Why the process is unhealthy ("" when it is not), cut at a word to fit reason; counts of
 * watchers ok, stale, error, auth_failed (counts[0..3]). A watcher whose credentials the
 * provider rejects makes it unhealthy at once; any other failure once it has lasted the
 * watcher's stale_after. Watchers carried over a reload and not registered again are left
 * out. now: engine_now. */
static void health(double now, char *reason, size_t reasonlen, double counts[4]) {
  watcher *w, *stale = NULL, *auth = NULL;
  int nstale = 0, nauth = 0;
  sbuf b = {0};
  char err[160];
  counts[0] = counts[1] = counts[2] = counts[3] = 0;
  for (w = ops.watchers; w; w = w->next) {
    const char *st;
    if (w->carried) continue;
    st = watcher_state(w, now);
    if (st[0] == 'a') {
      counts[3]++;
      if (nauth++ == 0) auth = w;
    } else if (st[0] == 's') {
      counts[1]++;
      if (nstale++ == 0) stale = w;
    } else {
      counts[st[0] == 'o' ? 0 : 2]++;
    }
  }
  if (auth) {
    sbuf_addf(&b, "watcher %s: the provider rejects the credentials (auth)", auth->key);
    if (nauth > 1) sbuf_addf(&b, " (and %d more watchers)", nauth - 1);
    if (auth->last_error) {
      cut_at_word(err, sizeof err, auth->last_error);
      sbuf_addf(&b, "; last error: %s", err);
    }
  }
  if (stale) {
    double since = stale->last_good >= 0 ? stale->last_good : stale->registered_at;
    sbuf_addf(&b, "%swatcher %s is stale: no good poll for %.0f s", auth ? " | " : "",
              stale->key, now - since);
    if (nstale > 1) sbuf_addf(&b, " (and %d more stale watchers)", nstale - 1);
    if (stale->last_error) {
      cut_at_word(err, sizeof err, stale->last_error);
      sbuf_addf(&b, "; last error: %s", err);
    }
  }
  reason[0] = '\0';
  if (b.p) cut_at_word(reason, reasonlen, b.p);
  else if (auth || stale) snprintf(reason, reasonlen, "watchers unhealthy (out of memory)");
  sbuf_free(&b);
}

/* Builds the document and, in reason, why the process is unhealthy ("" when it is not). */
static void build_status(engine_t *e, sbuf *b, char *reason, size_t reasonlen) {
  const metrics_builtin_t *mb = metrics_builtin();
  config_t *cfg = engine_config(e);
  double now = engine_now(e);
  const char *ag[1] = {"agora"}, *qc[1] = {"qingcloud"}, *none[1] = {NULL};
  watcher *w;
  int first = 1;
  double counts[4];
  sbuf_addf(b, "{\"version\":\"%s\",\"pid\":%ld,\"time\":%.3f,\"uptime_seconds\":%.3f,"
            "\"tasks\":%u,\"lua_memory_bytes\":%.0f,\"outbox\":{\"pending\":%.0f},"
            "\"pacing\":{\"agora\":{\"queue\":%.0f,\"rate\":%g},"
            "\"qingcloud\":{\"queue\":%.0f,\"rate\":%g}}",
#ifdef RECWATCH_VERSION
            RECWATCH_VERSION,
#else
            "dev",
#endif
            (long)getpid(), engine_time(e), now, engine_task_count(e),
            metrics_get(mb->lua_memory, none), metrics_get(mb->outbox_pending, none),
            metrics_get(mb->pacing_queue, ag), cfg->agora.rate,
            metrics_get(mb->pacing_queue, qc), cfg->qc.rate);
  add_str(b, "listen", ops_listen_url());
  sbuf_addf(b, ",\"alerts\":{\"silences_active\":%.0f,\"held\":%.0f}",  /* rec.notify's */
            metrics_get(mb->silences_active, none), metrics_get(mb->alerts_held, none));
  {  /* the NCS receiver: counts and the last event per session (events.c) */
    events_rx *rx = events_for(e, 0, NULL, NULL, 0);
    char *ev = rx ? events_status_json(rx) : NULL;
    if (ev) {
      sbuf_adds(b, ",\"events\":");
      sbuf_adds(b, ev);
      free(ev);
    }
  }
  sbuf_adds(b, ",\"watchers\":[");
  for (w = ops.watchers; w; w = w->next) {
    const char *st;
    if (w->carried) continue;
    st = watcher_state(w, now);
    sbuf_adds(b, first ? "{" : ",{");
    first = 0;
    sbuf_adds(b, "\"key\":");
    sbuf_add_json_str(b, w->key, strlen(w->key));
    add_str(b, "provider", w->provider);
    add_str(b, "state", st);
    add_time(b, "last_good_poll", w->last_good >= 0 ? w->last_good_wall : 0);
    add_str(b, "last_status", w->last_status);
    add_str(b, "last_error", w->last_error);
    add_time(b, "next_poll", w->next_poll);
    sbuf_addf(b, ",\"stale_after\":%g}", w->stale_after);
  }
  sbuf_adds(b, "]");
  health(now, reason, reasonlen, counts);
  sbuf_adds(b, ",\"healthy\":");
  sbuf_adds(b, reason[0] ? "false" : "true");
  add_str(b, "reason", reason[0] ? reason : NULL);
  sbuf_adds(b, "}");
  /* redacted like logs, whole (the markers may be longer than what they hide) */
  if (b->p) {
    size_t n = 0;
    char *clean = log_redact_dup(b->p, b->len, &n);
    if (clean) {
      b->len = 0;
      sbuf_add(b, clean, n);
      free(clean);
    } else {
      b->len = 0;
      sbuf_adds(b, "{\"error\":\"out of memory\"}");
    }
  }
}

void ops_status_json(engine_t *e, sbuf *out) {
  char reason[512];
  build_status(e, out, reason, sizeof reason);
}

/* Gauges the main loop knows, the watcher states, the health verdict and the heartbeat.
 * The /status document is built only when the listener asks (on_status_req): with many
 * watchers it is the one costly part. */
static void publish(engine_t *e) {
  const metrics_builtin_t *mb = metrics_builtin();
  double counts[4];
  char reason[512];
  lua_State *L = engine_lua(e);
  metrics_set1(mb->tasks, NULL, engine_task_count(e));
  if (L) metrics_set1(mb->lua_memory, NULL, lua_gc(L, LUA_GCCOUNT, 0) * 1024.0 + lua_gc(L, LUA_GCCOUNTB, 0));
  health(engine_now(e), reason, sizeof reason, counts);
  metrics_set1(mb->watchers, "ok", counts[0]);
  metrics_set1(mb->watchers, "stale", counts[1]);
  metrics_set1(mb->watchers, "error", counts[2]);
  metrics_set1(mb->watchers, "auth_failed", counts[3]);
  lock();
  snprintf(ops.reason, sizeof ops.reason, "%s", reason);
  ops.beat_ns = uv_hrtime();
  unlock();
}

/* ---------------------------------------------------------------- main-loop side */

static void on_status_req(uv_async_t *a) {
  sbuf b = {0};
  ops_status_json(a->data, &b);
  lock();
  free(ops.status_json);
  ops.status_json = b.p;  /* handed over */
  ops.status_ns = uv_hrtime();
  unlock();
}

static void on_beat(uv_timer_t *t) {
  engine_t *e = t->data;
  publish(e);
  if (ops.watchdog) ops_notify("WATCHDOG=1");  /* only a loop that runs gets here */
}

/* A SIGHUP that comes while a reload is under way (from the SIGHUP until the new script's
 * first run, ops_reloaded/ops_reload_failed) is no failed reload: it is queued, and any
 * number of them make one more reload once the current one has its verdict, so the script
 * that runs in the end is the file as it was at (or after) the last SIGHUP. */
static struct {
  int queued, timer_init;
  uv_timer_t timer;
} hup;

static void reload_now(engine_t *e) {
  char err[1024];
  const char *state = engine_config(e)->state_path;
  log_info("SIGHUP: reloading the script");
  if (!state || !*state || strcmp(state, ":memory:") == 0)
    log_warn("reload without a state file (--state or rec.configure{state=}): the statuses "
             "and alerts the old script kept in memory are not carried over");
  ops_notify("RELOADING=1");
  if (engine_reload(e, err, sizeof err) != 0) {
    log_error("reload failed, the running script goes on: %s", err);
    metrics_inc1(metrics_builtin()->reloads, "failed", 1);
    ops_notify("READY=1");
  }
}

static void on_queued_reload(uv_timer_t *t) {
  engine_t *e = t->data;
  if (!hup.queued) return;
  hup.queued = 0;
  if (engine_stopping(e) || engine_reloading(e)) return;  /* a stop came meanwhile */
  reload_now(e);
}

/* After a reload's verdict: the queued SIGHUP's reload, from the loop (not from inside the
 * task_resume that gave the verdict). */
static void run_queued_reload(engine_t *e) {
  if (!hup.queued) return;
  if (!hup.timer_init) {
    uv_timer_init(engine_loop(e), &hup.timer);  /* closed with the loop's other handles */
    uv_unref((uv_handle_t *)&hup.timer);
    hup.timer_init = 1;
  }
  hup.timer.data = e;
  uv_timer_start(&hup.timer, on_queued_reload, 0, 0);
}

/* SIGHUP: reload the script; SIGUSR1: the /status document to the log. Kept apart from the
 * engine's SIGINT/SIGTERM handling. */
static void on_ops_signal(uv_signal_t *h, int signum) {
  engine_t *e = h->data;
  if (signum == SIGUSR1) {
    sbuf b = {0};
    ops_status_json(e, &b);
    log_write_str(LOG_INFO, 0, b.p ? b.p : "{}");
    sbuf_free(&b);
    return;
  }
  if (engine_reloading(e)) {
    if (!hup.queued)
      log_info("SIGHUP during a reload: queued; one more reload follows this one (SIGHUPs "
               "until then are folded into it)");
    hup.queued = 1;
    return;
  }
  if (engine_stopping(e)) {  /* SIGTERM/SIGINT or rec.exit: stopping wins, nothing failed */
    log_info("SIGHUP while stopping: no reload");
    return;
  }
  reload_now(e);
}

void ops_reloaded(engine_t *e) {
  metrics_inc1(metrics_builtin()->reloads, "ok", 1);
  publish(e);
  ops_notify("READY=1");
  log_info("reload done");
  run_queued_reload(e);
}

void ops_reload_failed(engine_t *e) {
  metrics_inc1(metrics_builtin()->reloads, "failed", 1);
  forget_all_watchers();
  publish(e);
  ops_notify("READY=1");
  log_error("reload failed: the new script raised an error at start-up (see 'task failed' "
            "above); the old script was already stopped, so recwatch stops with exit status 1 "
            "rather than run on half a script (its watchers would be gone and /healthz say ok)");
  engine_exit(e, 1);  /* what the new script started before its error must not run on alone */
}

void ops_attach(engine_t *e) {
  const char *wd = getenv("WATCHDOG_USEC"), *wpid = getenv("WATCHDOG_PID");
  double every = 1.0;
  if (ops.attached) return;
  ops.e = e;
  lock();
  if (ops.stuck_after <= 0) ops.stuck_after = 10;
  unlock();
  if (wd && *wd && (!wpid || !*wpid || atol(wpid) == (long)getpid())) {
    double usec = atof(wd);
    if (usec > 0) {
      ops.watchdog = 1;
      if (usec / 2e6 < every) every = usec / 2e6;  /* systemd's advice: half the interval */
    }
  }
  ops.beat_every = every;
  uv_timer_init(engine_loop(e), &ops.beat);
  ops.beat.data = e;
  uv_timer_start(&ops.beat, on_beat, 0, (uint64_t)(every * 1000 > 1 ? every * 1000 : 1));
  uv_unref((uv_handle_t *)&ops.beat);
  uv_async_init(engine_loop(e), &ops.status_req, on_status_req);
  ops.status_req.data = e;
  uv_unref((uv_handle_t *)&ops.status_req);
  admin_attach(engine_loop(e));
  lock();
  ops.async_ready = 1;
  unlock();
  uv_signal_init(engine_loop(e), &ops.hup);
  uv_signal_init(engine_loop(e), &ops.usr1);
  ops.hup.data = ops.usr1.data = e;
  uv_signal_start(&ops.hup, on_ops_signal, SIGHUP);
  uv_signal_start(&ops.usr1, on_ops_signal, SIGUSR1);
  uv_unref((uv_handle_t *)&ops.hup);
  uv_unref((uv_handle_t *)&ops.usr1);
  ops.attached = 1;
  publish(e);
  ops_notify("READY=1");
}

void ops_shutdown(void) {
  stop_listener(lsn);  /* first: the listener thread may still signal status_req */
  if (ops.attached) {
    ops_notify("STOPPING=1");
    lock();
    ops.async_ready = 0;
    unlock();
    uv_close((uv_handle_t *)&ops.status_req, NULL);
    admin_detach();
    uv_close((uv_handle_t *)&ops.beat, NULL);
    uv_close((uv_handle_t *)&ops.hup, NULL);
    uv_close((uv_handle_t *)&ops.usr1, NULL);
    ops.attached = 0;
  }
  forget_all_watchers();
  lock();
  free(ops.status_json);
  ops.status_json = NULL;
  ops.status_ns = 0;
  ops.reason[0] = '\0';
  ops.beat_ns = 0;
  unlock();
}
