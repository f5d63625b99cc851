/* events: the NCS receiver (see events.h). Three threads meet here on purpose:
 * - the listener thread (own uv_loop, httpd.c) checks a delivery (events_ncs.c), queues it
 *   for the committer and pauses its connection; it never waits and never touches Lua;
 * - the committer thread takes everything queued (up to EVENTS_BATCH) and commits it as one
 *   write set through the store interface (STORE_EVENT_ADD: a noticeId the store holds is a
 *   duplicate), so a burst costs one fsync per batch, not per event; it hands the answers
 *   back to the listener's loop (uv_async) and the new events to the main loop (uv_async);
 * - the main loop takes the committed events (events_take, for rec.events.next) and queues
 *   their "done" marks back to the committer.
 * An answer 200 is sent only after the commit that holds its event: a crash after it loses
 * nothing. Nothing is logged from the two threads (the log is the main loop's): they count,
 * and the main loop logs what they counted. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include "events.h"
#include "events_ncs.h"
#include "httpd.h"
#include "log.h"
#include "metrics.h"
#include "store.h"

#define MAX_ALLOW 256
#define MAX_SESSIONS 1024   /* /status keeps the last event of this many sessions */
#define PRUNE_EVERY 600.0   /* seconds between two prunes of the de-duplication window */

enum { R_ACCEPTED, R_DUPLICATE, R_BAD_SIGNATURE, R_MALFORMED, R_TOO_LARGE, R_FORBIDDEN,
       R_UNAVAILABLE, R_N };
static const char *const result_name[R_N] = {"accepted", "duplicate", "bad_signature",
                                             "malformed", "too_large", "forbidden",
                                             "unavailable"};

typedef struct item {
  struct item *next;
  int kind;                 /* STORE_EVENT_ADD or STORE_EVENT_DONE */
  char *id, *body;
  size_t n;
  double when;
  int result;               /* R_ACCEPTED, R_DUPLICATE, or -1: the commit failed */
  char sid[NCS_MAX_FIELD + 1], cname[NCS_MAX_FIELD + 1];
  long long event_type;
  httpd_conn *conn;         /* from the listener (NULL once its connection closed) */
  int from_http;
  void (*fn)(void *ud, int result, const char *err);   /* from events_inject */
  void *ud;
  char err[512];
} item;

typedef struct session {
  char sid[NCS_MAX_FIELD + 1], cname[NCS_MAX_FIELD + 1], notice_id[NCS_MAX_ID + 1];
  long long event_type;
  double received;
} session;

struct events_rx {
  engine_t *e;
  uv_mutex_t mu;            /* everything below that two threads share */
  uv_cond_t cond;
  item *q, **qtail;         /* to the committer */
  long nq;
  item *answers;            /* committed, for the listener's loop */
  item *arrived, **atail;   /* committed, for the main loop (injects' callbacks, new events) */
  events_ev *ready, **rtail;   /* committed new events not taken yet */
  long nready;              /* how many; past EVENTS_WARN_READY the main loop warns */
  int warned_ready;
  int stopping;
  char secret[1025];
  size_t secretn;
  struct sockaddr_storage allow[MAX_ALLOW];
  int nallow;
  long counts[R_N], logged[R_N];   /* counted by the threads; logged by the main loop */
  char store_err[512];      /* the last commit failure, for the main loop to log */
  session sessions[MAX_SESSIONS];
  int nsessions;
  /* the store (committer thread after the start) */
  const store_backend *be;
  store_conn *conn;
  uv_thread_t committer;
  int committer_on;
  /* the listener */
  int listening;
  char addr[128], url[160];
  uv_thread_t lthread;
  uv_loop_t lloop;
  uv_async_t lwake;         /* answers are ready, or stop */
  httpd_t *srv;
  /* the main loop */
  uv_async_t mwake;
  void (*on_arrival)(void *ud);
  void *arrival_ud;
  int holds;                /* engine_hold for injects in flight */
  int waiting;              /* a task waits for an event without a timeout */
  metric_t *total, *newest, *waiting_g;
  const void *owner;
  events_rx *next_rx;
};

static events_rx *all_rx;   /* one per engine; main loop only */
static void update_ref(events_rx *rx);
static void publish_waiting(events_rx *rx);
static void (*target_hook)(void *ud, const char *url, const char *secret);
static void *target_ud;

void events_set_target_hook(void (*fn)(void *ud, const char *url, const char *secret),
                            void *ud) {
  target_hook = fn;
  target_ud = ud;
}

static void tell_target(events_rx *rx) {
  if (target_hook && rx->listening) target_hook(target_ud, rx->url, rx->secret);
}

void events_set_owner(events_rx *rx, const void *owner) { rx->owner = owner; }
const void *events_owner(const events_rx *rx) { return rx->owner; }

static double wall_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void count(events_rx *rx, int result) {
  const char *v[2] = {"agora", result_name[result]};
  uv_mutex_lock(&rx->mu);
  rx->counts[result]++;
  uv_mutex_unlock(&rx->mu);
  if (rx->total) metrics_add(rx->total, v, 1, NULL, 0);
  if (result >= R_BAD_SIGNATURE) uv_async_send(&rx->mwake);   /* the main loop logs it */
}

static void item_free(item *it) {
  if (!it) return;
  free(it->id);
  free(it->body);
  free(it);
}

void events_ev_free(events_ev *ev) {
  if (!ev) return;
  free(ev->id);
  free(ev->body);
  free(ev);
}

static char *dupn(const char *s, size_t n) {
  char *d = malloc(n + 1);
  if (!d) return NULL;
  memcpy(d, s, n);
  d[n] = 0;
  return d;
}

/* Under mu: queues it for the committer. -1 when the queue is full. */
static int submit_locked(events_rx *rx, item *it) {
  if (it->kind == STORE_EVENT_ADD && rx->nq >= EVENTS_MAX_QUEUED) return -1;
  it->next = NULL;
  *rx->qtail = it;
  rx->qtail = &it->next;
  rx->nq++;
  uv_cond_signal(&rx->cond);
  return 0;
}

/* ---- the committer thread ---- */

static void remember_session(events_rx *rx, const item *it) {
  int i, at = -1;
  if (!it->sid[0]) return;
  for (i = 0; i < rx->nsessions; i++)
    if (strcmp(rx->sessions[i].sid, it->sid) == 0) at = i;
  if (at < 0) {
    if (rx->nsessions < MAX_SESSIONS) at = rx->nsessions++;
    else {   /* the oldest goes */
      at = 0;
      for (i = 1; i < rx->nsessions; i++)
        if (rx->sessions[i].received < rx->sessions[at].received) at = i;
    }
  }
  snprintf(rx->sessions[at].sid, sizeof rx->sessions[at].sid, "%s", it->sid);
  snprintf(rx->sessions[at].cname, sizeof rx->sessions[at].cname, "%s", it->cname);
  snprintf(rx->sessions[at].notice_id, sizeof rx->sessions[at].notice_id, "%s", it->id);
  rx->sessions[at].event_type = it->event_type;
  rx->sessions[at].received = it->when;
}

/* recwatch_notifications_waiting: committed, not taken by the script yet. */
static void publish_waiting(events_rx *rx) {
  const char *v[1] = {"agora"};
  long n;
  uv_mutex_lock(&rx->mu);
  n = rx->nready;
  uv_mutex_unlock(&rx->mu);
  if (rx->waiting_g) metrics_set(rx->waiting_g, v, (double)n, NULL, 0);
}

/* One write set for the batch; each item gets its result. */
static void commit_batch(events_rx *rx, item *batch, int n) {
  store_writeset ws;
  store_result r;
  int *changed = calloc((size_t)n + 1, sizeof *changed), i = 0, failed = 0;
  item *it;
  memset(&ws, 0, sizeof ws);
  memset(&r, 0, sizeof r);
  for (it = batch; it; it = it->next) {
    const char *s[3] = {it->id, it->kind == STORE_EVENT_ADD ? it->body : NULL, NULL};
    size_t ln[3] = {strlen(it->id), it->kind == STORE_EVENT_ADD ? it->n : 0, 0};
    if (store_ws_add(&ws, it->kind, it->when, s, ln) != 0) failed = 1;
  }
  ws.changed = changed;
  if (!changed || failed) {
    snprintf(r.err, sizeof r.err, "out of memory");
  } else {
    rx->be->commit(rx->conn, &ws, &r);
  }
  for (it = batch; it; it = it->next, i++) {
    if (!r.ok) {
      it->result = -1;
      snprintf(it->err, sizeof it->err, "%s", r.err);
    } else {
      it->result = changed[i] > 0 ? R_ACCEPTED : R_DUPLICATE;
    }
  }
  if (!r.ok) {
    uv_mutex_lock(&rx->mu);
    snprintf(rx->store_err, sizeof rx->store_err, "%s", r.err);
    uv_mutex_unlock(&rx->mu);
  }
  store_ws_clear(&ws);
  free(changed);
}

/* After the commit: answers to the listener, new events and injects to the main loop. */
static void hand_out(events_rx *rx, item *batch) {
  int to_listener = 0, to_main = 0;
  double newest = 0;
  item *it, *next;
  for (it = batch; it; it = next) {
    next = it->next;
    if (it->kind == STORE_EVENT_ADD && it->result == R_ACCEPTED) {
      events_ev *ev = calloc(1, sizeof *ev);
      if (ev && (ev->id = strdup(it->id)) && (ev->body = dupn(it->body, it->n))) {
        ev->n = it->n;
        ev->received = it->when;
        uv_mutex_lock(&rx->mu);
        *rx->rtail = ev;
        rx->rtail = &ev->next;
        rx->nready++;
        remember_session(rx, it);
        uv_mutex_unlock(&rx->mu);
        to_main = 1;
      } else {
        events_ev_free(ev);   /* still durable: delivered after a restart */
      }
      if (it->when > newest) newest = it->when;
    }
    if (it->kind == STORE_EVENT_ADD && it->from_http) {
      count(rx, it->result == R_ACCEPTED ? R_ACCEPTED : it->result == R_DUPLICATE ? R_DUPLICATE
                                                                                 : R_UNAVAILABLE);
      uv_mutex_lock(&rx->mu);
      it->next = rx->answers;
      rx->answers = it;
      uv_mutex_unlock(&rx->mu);
      to_listener = 1;
    } else if (it->fn) {
      uv_mutex_lock(&rx->mu);
      it->next = NULL;
      *rx->atail = it;
      rx->atail = &it->next;
      uv_mutex_unlock(&rx->mu);
      to_main = 1;
    } else {
      item_free(it);   /* a done mark */
    }
  }
  if (newest > 0 && rx->newest) {
    const char *v[1] = {"agora"};
    metrics_set(rx->newest, v, newest, NULL, 0);
  }
  publish_waiting(rx);
  if (to_main) uv_async_send(&rx->mwake);
  if (to_listener) uv_async_send(&rx->lwake);
}

static void prune(events_rx *rx) {
  store_writeset ws;
  store_result r;
  memset(&ws, 0, sizeof ws);
  memset(&r, 0, sizeof r);
  if (store_ws_add(&ws, STORE_EVENT_PRUNE, wall_now() - EVENTS_DEDUP_WINDOW,
                   (const char *const[3]){NULL, NULL, NULL}, (const size_t[3]){0, 0, 0}) == 0)
    rx->be->commit(rx->conn, &ws, &r);
  store_ws_clear(&ws);
}

static void committer_main(void *arg) {
  events_rx *rx = arg;
  double last_prune = 0;
  for (;;) {
    item *batch, **cut;
    int n = 0;
    uv_mutex_lock(&rx->mu);
    while (!rx->q && !rx->stopping) {
      if (uv_cond_timedwait(&rx->cond, &rx->mu, (uint64_t)(PRUNE_EVERY * 1e9)) == UV_ETIMEDOUT)
        break;
    }
    if (!rx->q && rx->stopping) {
      uv_mutex_unlock(&rx->mu);
      return;
    }
    batch = rx->q;
    for (cut = &rx->q; *cut && n < EVENTS_BATCH; cut = &(*cut)->next) n++;
    rx->q = *cut;
    *cut = NULL;
    if (!rx->q) rx->qtail = &rx->q;
    rx->nq -= n;
    uv_mutex_unlock(&rx->mu);
    if (batch) {
      commit_batch(rx, batch, n);
      hand_out(rx, batch);
    }
    if (wall_now() - last_prune >= PRUNE_EVERY) {
      prune(rx);
      last_prune = wall_now();
    }
  }
}

/* ---- the listener thread ---- */

static void reply_json(httpd_conn *c, int status, const char *msg) {
  httpd_reply(c, status, "application/json", msg, strlen(msg));
}

static int allowed(events_rx *rx, httpd_conn *c) {
  struct sockaddr_storage ss;
  int len = sizeof ss, i, ok = 0;
  uv_mutex_lock(&rx->mu);
  if (rx->nallow == 0) ok = 1;
  else if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
    for (i = 0; i < rx->nallow && !ok; i++) {
      const struct sockaddr_storage *a = &rx->allow[i];
      if (a->ss_family != ss.ss_family) continue;
      if (ss.ss_family == AF_INET)
        ok = memcmp(&((struct sockaddr_in *)a)->sin_addr, &((struct sockaddr_in *)&ss)->sin_addr,
                    sizeof(struct in_addr)) == 0;
      else if (ss.ss_family == AF_INET6)
        ok = memcmp(&((struct sockaddr_in6 *)a)->sin6_addr,
                    &((struct sockaddr_in6 *)&ss)->sin6_addr, sizeof(struct in6_addr)) == 0;
    }
  }
  uv_mutex_unlock(&rx->mu);
  return ok;
}

static void answer(httpd_conn *c, item *it) {
  if (it->result == R_ACCEPTED || it->result == R_DUPLICATE) reply_json(c, 200, "{}");
  else reply_json(c, 503, "{\"message\":\"the event could not be stored; send it again\"}");
}

static void handle(httpd_conn *c, int resumed, void *ud) {
  events_rx *rx = ud;
  ncs_notice n;
  char secret[1025];
  size_t secretn;
  item *it;
  int rc;
  if (c->status) return;   /* answered by the server (a bad URL) */
  if (resumed) {
    it = c->app;
    c->app = NULL;
    if (it) answer(c, it);
    else reply_json(c, 503, "{\"message\":\"unavailable\"}");
    item_free(it);
    return;
  }
  if (!httpd_path_is(c, EVENTS_PATH)) {
    reply_json(c, 404, "{\"message\":\"not found\"}");
    return;
  }
  if (!allowed(rx, c)) {
    count(rx, R_FORBIDDEN);
    reply_json(c, 403, "{\"message\":\"forbidden\"}");
    return;
  }
  if (c->parser.method != HTTP_POST) {
    reply_json(c, 405, "{\"message\":\"only POST\"}");
    return;
  }
  uv_mutex_lock(&rx->mu);
  memcpy(secret, rx->secret, rx->secretn + 1);
  secretn = rx->secretn;
  uv_mutex_unlock(&rx->mu);
  rc = ncs_check(c->body.p, c->body.len, c->has_kept[0] ? c->kept[0].p : NULL, c->kept[0].len,
                 c->has_kept[1] ? c->kept[1].p : NULL, c->kept[1].len, secret, secretn, &n);
  memset(secret, 0, sizeof secret);
  if (rc == NCS_BAD_SIGNATURE) {
    count(rx, R_BAD_SIGNATURE);
    reply_json(c, 401, "{\"message\":\"bad signature\"}");
    return;
  }
  if (rc != NCS_OK) {
    count(rx, R_MALFORMED);
    reply_json(c, 400, "{\"message\":\"not an NCS event: a JSON object with a noticeId\"}");
    return;
  }
  it = calloc(1, sizeof *it);
  if (!it || !(it->id = strdup(n.notice_id)) || !(it->body = dupn(c->body.p ? c->body.p : "", c->body.len))) {
    item_free(it);
    count(rx, R_UNAVAILABLE);
    reply_json(c, 503, "{\"message\":\"out of memory\"}");
    return;
  }
  it->kind = STORE_EVENT_ADD;
  it->n = c->body.len;
  it->when = wall_now();
  it->from_http = 1;
  it->conn = c;
  it->event_type = n.event_type;
  snprintf(it->sid, sizeof it->sid, "%s", n.sid);
  snprintf(it->cname, sizeof it->cname, "%s", n.cname);
  uv_mutex_lock(&rx->mu);
  rc = rx->stopping ? -1 : submit_locked(rx, it);
  uv_mutex_unlock(&rx->mu);
  if (rc != 0) {
    item_free(it);
    count(rx, R_UNAVAILABLE);
    reply_json(c, 503, "{\"message\":\"too many events waiting for the store\"}");
    return;
  }
  c->app = it;
  httpd_pause(c);
}

static void on_refused(httpd_conn *c, int status, void *ud) {
  (void)c;
  if (status == 413) count(ud, R_TOO_LARGE);
  else count(ud, R_MALFORMED);
}

static void on_close(httpd_conn *c, void *ud) {
  item *it = c->app;
  (void)ud;
  if (it) it->conn = NULL;   /* answered to nobody; freed when its answer comes */
  c->app = NULL;
}

static void on_lwake(uv_async_t *a) {
  events_rx *rx = a->data;
  item *it, *next;
  int stop;
  uv_mutex_lock(&rx->mu);
  it = rx->answers;
  rx->answers = NULL;
  stop = rx->stopping;
  uv_mutex_unlock(&rx->mu);
  for (; it; it = next) {
    next = it->next;
    if (it->conn) {
      it->conn->app = it;
      httpd_resume(it->conn);   /* answers and frees it */
    } else {
      item_free(it);
    }
  }
  if (stop == 2 && rx->srv) {
    httpd_free(rx->srv, NULL, NULL);
    rx->srv = NULL;
    uv_close((uv_handle_t *)&rx->lwake, NULL);
  }
}

static void listener_main(void *arg) {
  events_rx *rx = arg;
  uv_run(&rx->lloop, UV_RUN_DEFAULT);
}

static int parse_addr(const char *addr, char *host, size_t hostlen, int *port) {
  const char *colon;
  char *end;
  long v;
  if (!addr || !*addr) return -1;
  if (addr[0] == '[') {
    const char *close = strchr(addr, ']');
    if (!close || close[1] != ':' || (size_t)(close - addr - 1) >= hostlen) return -1;
    memcpy(host, addr + 1, (size_t)(close - addr - 1));
    host[close - addr - 1] = 0;
    colon = close + 1;
  } else if ((colon = strrchr(addr, ':')) != NULL) {
    if ((size_t)(colon - addr) >= hostlen || colon == addr) return -1;
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = 0;
  } else {
    snprintf(host, hostlen, "127.0.0.1");
    colon = addr - 1;
  }
  errno = 0;
  v = strtol(colon + 1, &end, 10);
  if (errno || *end || end == colon + 1 || v < 0 || v > 65535) return -1;
  *port = (int)v;
  return 0;
}

int events_check_addr(const char *addr, char *err, size_t n) {
  char host[96];
  int port;
  if (parse_addr(addr, host, sizeof host, &port) == 0) return 0;
  snprintf(err, n, "events_listen: '%.100s' is not HOST:PORT, [IPV6]:PORT or PORT", addr ? addr : "");
  return -1;
}

int events_listen(events_rx *rx, const char *addr, char *err, size_t n) {
  httpd_options o;
  char host[96];
  int port;
  if (events_check_addr(addr, err, n) != 0) return -1;
  parse_addr(addr, host, sizeof host, &port);
  if (rx->listening) {
    if (strcmp(rx->addr, addr) == 0) return 0;
    snprintf(err, n, "events_listen: already listening on %s", rx->url);
    return -1;
  }
  if (uv_loop_init(&rx->lloop) != 0) {
    snprintf(err, n, "events_listen: cannot create the receiver's loop");
    return -1;
  }
  memset(&o, 0, sizeof o);
  o.host = host;
  o.port = port;
  o.server = "recwatch";
  o.handler = handle;
  o.on_close = on_close;
  o.on_refused = on_refused;
  o.ud = rx;
  o.keep_headers[0] = "Agora-Signature";
  o.keep_headers[1] = "Agora-Signature-V2";
  o.max_conns = EVENTS_MAX_CONNS;
  if (!(rx->srv = httpd_start(&rx->lloop, &o, err, n))) {
    char why[256];
    snprintf(why, sizeof why, "%s", err);
    snprintf(err, n, "events_listen: %s", why);
    uv_loop_close(&rx->lloop);
    return -1;
  }
  uv_async_init(&rx->lloop, &rx->lwake, on_lwake);
  rx->lwake.data = rx;
  snprintf(rx->addr, sizeof rx->addr, "%s", addr);
  snprintf(rx->url, sizeof rx->url, "%s%s", httpd_base_url(rx->srv), EVENTS_PATH);
  if (uv_thread_create(&rx->lthread, listener_main, rx) != 0) {
    snprintf(err, n, "events_listen: cannot start the receiver's thread");
    httpd_free(rx->srv, NULL, NULL);
    rx->srv = NULL;
    uv_close((uv_handle_t *)&rx->lwake, NULL);
    uv_run(&rx->lloop, UV_RUN_DEFAULT);
    uv_loop_close(&rx->lloop);
    return -1;
  }
  rx->listening = 1;
  log_write(LOG_INFO, 0, "events: receiving Agora notifications on %s", rx->url);
  tell_target(rx);
  return 0;
}

const char *events_url(events_rx *rx) { return rx && rx->listening ? rx->url : NULL; }

/* ---- the main loop ---- */

static void log_counts(events_rx *rx) {
  long delta[R_N];
  char serr[512];
  int i;
  uv_mutex_lock(&rx->mu);
  for (i = 0; i < R_N; i++) {
    delta[i] = rx->counts[i] - rx->logged[i];
    rx->logged[i] = rx->counts[i];
  }
  snprintf(serr, sizeof serr, "%s", rx->store_err);
  rx->store_err[0] = 0;
  uv_mutex_unlock(&rx->mu);
  for (i = R_BAD_SIGNATURE; i < R_N; i++)
    if (delta[i] > 0)
      log_write(LOG_WARN, 0, "events: %ld notification(s) refused since the last report: %s",
                delta[i], result_name[i]);
  if (serr[0]) log_write(LOG_ERROR, 0, "events: an event could not be stored (answered 503, "
                         "Agora sends it again): %s", serr);
}

static void on_mwake(uv_async_t *a) {
  events_rx *rx = a->data;
  item *it, *next;
  long n;
  int any;
  uv_mutex_lock(&rx->mu);
  it = rx->arrived;
  rx->arrived = NULL;
  rx->atail = &rx->arrived;
  any = rx->ready != NULL;
  uv_mutex_unlock(&rx->mu);
  for (; it; it = next) {
    next = it->next;
    it->fn(it->ud, it->result == R_ACCEPTED ? 0 : it->result == R_DUPLICATE ? 1 : -1, it->err);
    if (rx->holds > 0) {
      rx->holds--;
      engine_release(rx->e);
    }
    item_free(it);
  }
  update_ref(rx);
  log_counts(rx);
  if (any && rx->on_arrival) rx->on_arrival(rx->arrival_ud);
  uv_mutex_lock(&rx->mu);
  n = rx->nready;
  uv_mutex_unlock(&rx->mu);
  if (n >= EVENTS_WARN_READY && !rx->warned_ready) {
    rx->warned_ready = 1;   /* once per backlog: said again after it has drained */
    log_write(LOG_WARN, 0, "events: %ld events committed and not taken by the script "
              "(rec.events.next): they are kept in memory until it does", n);
  } else if (n < EVENTS_WARN_READY / 2) {
    rx->warned_ready = 0;
  }
}

static void load_one(void *arg, const char *id, const char *body, size_t n, double received) {
  events_rx *rx = arg;
  events_ev *ev = calloc(1, sizeof *ev);
  if (!ev || !(ev->id = strdup(id ? id : "")) || !(ev->body = dupn(body ? body : "", n))) {
    events_ev_free(ev);
    return;
  }
  ev->n = n;
  ev->received = received;
  *rx->rtail = ev;
  rx->rtail = &ev->next;
  rx->nready++;
}

static void free_rx(uv_handle_t *h) {
  events_rx *rx = h->data;
  events_ev *ev;
  while ((ev = rx->ready)) {
    rx->ready = ev->next;
    events_ev_free(ev);
  }
  uv_mutex_destroy(&rx->mu);
  uv_cond_destroy(&rx->cond);
  free(rx);
}

events_rx *events_for(engine_t *e, int create, const char *state_path, char *err, size_t n) {
  static const char *const labels[2] = {"provider", "result"};
  events_rx *rx;
  for (rx = all_rx; rx; rx = rx->next_rx)
    if (rx->e == e) return rx;
  if (!create) return NULL;
  if (!(rx = calloc(1, sizeof *rx))) {
    snprintf(err, n, "out of memory");
    return NULL;
  }
  rx->e = e;
  rx->qtail = &rx->q;
  rx->atail = &rx->arrived;
  rx->rtail = &rx->ready;
  rx->be = store_backend_for(state_path);
  if (!rx->be->load_events ||
      !(rx->conn = rx->be->open(state_path, NULL, err, n)) ||
      rx->be->load_events(rx->conn, load_one, rx, err, n) != 0) {
    if (!rx->be->load_events) snprintf(err, n, "the store %s keeps no events", rx->be->name);
    if (rx->conn) rx->be->close(rx->conn);
    while (rx->ready) {
      events_ev *ev = rx->ready;
      rx->ready = ev->next;
      events_ev_free(ev);
    }
    free(rx);
    return NULL;
  }
  rx->total = metrics_register(METRIC_COUNTER, "recwatch_notifications_total",
                               "Provider notifications received, by result", 2, labels, NULL, 0,
                               NULL, 0);
  rx->newest = metrics_register(METRIC_GAUGE, "recwatch_notifications_newest_timestamp_seconds",
                                "When the newest accepted notification was received (Unix s): "
                                "its age is time() minus this", 1, labels, NULL, 0, NULL, 0);
  rx->waiting_g = metrics_register(METRIC_GAUGE, "recwatch_notifications_waiting",
                                   "Notifications committed and not taken by the script yet",
                                   1, labels, NULL, 0, NULL, 0);
  uv_mutex_init(&rx->mu);
  uv_cond_init(&rx->cond);
  uv_async_init(engine_loop(e), &rx->mwake, on_mwake);
  rx->mwake.data = rx;
  uv_unref((uv_handle_t *)&rx->mwake);
  if (uv_thread_create(&rx->committer, committer_main, rx) != 0) {
    snprintf(err, n, "cannot start the events committer thread");
    rx->be->close(rx->conn);
    rx->conn = NULL;
    uv_close((uv_handle_t *)&rx->mwake, free_rx);
    return NULL;
  }
  rx->committer_on = 1;
  publish_waiting(rx);   /* the backlog from before a restart */
  rx->next_rx = all_rx;
  all_rx = rx;
  if (rx->ready) uv_async_send(&rx->mwake);   /* events from before a restart */
  return rx;
}

void events_set_secret(events_rx *rx, const char *secret) {
  size_t n = secret ? strlen(secret) : 0;
  if (n >= sizeof rx->secret) n = sizeof rx->secret - 1;
  uv_mutex_lock(&rx->mu);
  memcpy(rx->secret, secret ? secret : "", n);
  rx->secret[n] = 0;
  rx->secretn = n;
  uv_mutex_unlock(&rx->mu);
  tell_target(rx);
}

int events_set_allow(events_rx *rx, const char *const *addrs, int n, char *err, size_t errn) {
  struct sockaddr_storage tmp[MAX_ALLOW];
  int i;
  if (n > MAX_ALLOW) {
    snprintf(err, errn, "at most %d addresses", MAX_ALLOW);
    return -1;
  }
  memset(tmp, 0, sizeof tmp);
  for (i = 0; i < n; i++) {
    if (inet_pton(AF_INET, addrs[i], &((struct sockaddr_in *)&tmp[i])->sin_addr) == 1)
      tmp[i].ss_family = AF_INET;
    else if (inet_pton(AF_INET6, addrs[i], &((struct sockaddr_in6 *)&tmp[i])->sin6_addr) == 1)
      tmp[i].ss_family = AF_INET6;
    else {
      snprintf(err, errn, "'%.60s' is not an IPv4 or IPv6 address", addrs[i]);
      return -1;
    }
  }
  uv_mutex_lock(&rx->mu);
  memcpy(rx->allow, tmp, sizeof tmp);
  rx->nallow = n;
  uv_mutex_unlock(&rx->mu);
  return 0;
}

void events_on_arrival(events_rx *rx, void (*fn)(void *ud), void *ud) {
  rx->on_arrival = fn;
  rx->arrival_ud = ud;
}

events_ev *events_take(events_rx *rx) {
  events_ev *ev;
  uv_mutex_lock(&rx->mu);
  ev = rx->ready;
  if (ev) {
    rx->ready = ev->next;
    if (!rx->ready) rx->rtail = &rx->ready;
    ev->next = NULL;
    rx->nready--;
  }
  uv_mutex_unlock(&rx->mu);
  if (ev) publish_waiting(rx);
  return ev;
}

static item *new_item(int kind, const char *id, const char *body, size_t n, double when) {
  item *it = calloc(1, sizeof *it);
  if (!it || !(it->id = strdup(id)) || (body && !(it->body = dupn(body, n)))) {
    item_free(it);
    return NULL;
  }
  it->kind = kind;
  it->n = n;
  it->when = when;
  it->event_type = -1;
  return it;
}

int events_done(events_rx *rx, const char *id) {
  item *it = new_item(STORE_EVENT_DONE, id, NULL, 0, wall_now());
  if (!it) return -1;
  uv_mutex_lock(&rx->mu);
  submit_locked(rx, it);
  uv_mutex_unlock(&rx->mu);
  return 0;
}

int events_inject(events_rx *rx, const char *id, const char *body, size_t n, double received,
                  void (*fn)(void *ud, int result, const char *err), void *ud) {
  ncs_notice nn;
  item *it = new_item(STORE_EVENT_ADD, id, body, n, received);
  int rc;
  if (!it) return -1;
  if (ncs_parse(body, n, &nn) == NCS_OK) {
    it->event_type = nn.event_type;
    snprintf(it->sid, sizeof it->sid, "%s", nn.sid);
    snprintf(it->cname, sizeof it->cname, "%s", nn.cname);
  }
  it->fn = fn;
  it->ud = ud;
  uv_mutex_lock(&rx->mu);
  rc = submit_locked(rx, it);
  uv_mutex_unlock(&rx->mu);
  if (rc != 0) {
    item_free(it);
    return -1;
  }
  rx->holds++;
  engine_hold(rx->e);
  update_ref(rx);
  return 0;
}

/* The main loop's handle keeps the process alive while an inject is in flight or a task
 * waits without a timeout; else an idle receiver never holds a finished script. */
static void update_ref(events_rx *rx) {
  if (rx->holds > 0 || rx->waiting) uv_ref((uv_handle_t *)&rx->mwake);
  else uv_unref((uv_handle_t *)&rx->mwake);
}

void events_keep_alive(events_rx *rx, int on) {
  rx->waiting = on;
  update_ref(rx);
}

static void json_str(char *out, size_t cap, size_t *at, const char *s) {
  char esc[4 * NCS_MAX_FIELD + 8];
  log_escape(esc, sizeof esc, s, strlen(s), 1);
  if (*at < cap) *at += (size_t)snprintf(out + *at, cap - *at, "\"%s\"", esc);
}

char *events_status_json(events_rx *rx) {
  size_t cap, at = 0;
  char *out;
  int i;
  uv_mutex_lock(&rx->mu);
  cap = 256 + 4 * sizeof rx->url + (size_t)rx->nsessions * (8 * NCS_MAX_FIELD + 200);
  if (!(out = malloc(cap))) {
    uv_mutex_unlock(&rx->mu);
    return NULL;
  }
  at += (size_t)snprintf(out, cap, "{\"url\":");
  json_str(out, cap, &at, rx->listening ? rx->url : "");
  at += (size_t)snprintf(out + at, cap - at, ",\"accepted\":%ld,\"duplicate\":%ld,\"refused\":%ld,"
                         "\"sessions\":{", rx->counts[R_ACCEPTED], rx->counts[R_DUPLICATE],
                         rx->counts[R_BAD_SIGNATURE] + rx->counts[R_MALFORMED] +
                         rx->counts[R_TOO_LARGE] + rx->counts[R_FORBIDDEN]);
  for (i = 0; i < rx->nsessions && at < cap; i++) {
    const session *s = &rx->sessions[i];
    if (i) out[at++] = ',';
    json_str(out, cap, &at, s->sid);
    if (at < cap) at += (size_t)snprintf(out + at, cap - at, ":{\"cname\":");
    json_str(out, cap, &at, s->cname);
    if (at < cap) at += (size_t)snprintf(out + at, cap - at, ",\"notice_id\":\"%s\",\"event_type\":%lld,"
                                         "\"received\":%.3f}", s->notice_id, s->event_type, s->received);
  }
  if (at < cap) snprintf(out + at, cap - at, "}}");
  uv_mutex_unlock(&rx->mu);
  return out;
}

void events_close(events_rx *rx) {
  events_rx **p;
  item *it, *next;
  if (!rx) return;
  for (p = &all_rx; *p; p = &(*p)->next_rx)
    if (*p == rx) {
      *p = rx->next_rx;
      break;
    }
  uv_mutex_lock(&rx->mu);
  rx->stopping = 1;
  uv_cond_signal(&rx->cond);
  uv_mutex_unlock(&rx->mu);
  if (rx->committer_on) uv_thread_join(&rx->committer);   /* what was queued is committed */
  if (rx->listening) {
    uv_mutex_lock(&rx->mu);
    rx->stopping = 2;
    uv_mutex_unlock(&rx->mu);
    uv_async_send(&rx->lwake);   /* the last answers, then the server closes */
    uv_thread_join(&rx->lthread);
    uv_loop_close(&rx->lloop);
    rx->listening = 0;
  }
  rx->be->close(rx->conn);
  rx->conn = NULL;
  uv_mutex_lock(&rx->mu);
  it = rx->arrived;
  rx->arrived = NULL;
  uv_mutex_unlock(&rx->mu);
  for (; it; it = next) {   /* injects whose task is going away: no callback */
    next = it->next;
    item_free(it);
  }
  while (rx->holds > 0) {
    rx->holds--;
    engine_release(rx->e);
  }
  memset(rx->secret, 0, sizeof rx->secret);
  rx->mwake.data = rx;
  uv_close((uv_handle_t *)&rx->mwake, free_rx);
}
