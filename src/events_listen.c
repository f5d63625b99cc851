/* events_listen: the receiver's listener thread (see events.c): its own uv_loop and httpd.c
 * server; only POST /agora/ncs, checked by events_ncs.c (signature first, then the body),
 * queued for the committer with the connection paused, answered when the commit is back. It
 * never waits and never touches Lua or the log. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "events_int.h"

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
    events__item_free(it);
    return;
  }
  if (!httpd_path_is(c, EVENTS_PATH)) {
    reply_json(c, 404, "{\"message\":\"not found\"}");
    return;
  }
  if (!allowed(rx, c)) {
    events__count(rx, R_FORBIDDEN);
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
    events__count(rx, R_BAD_SIGNATURE);
    reply_json(c, 401, "{\"message\":\"bad signature\"}");
    return;
  }
  if (rc != NCS_OK) {
    events__count(rx, R_MALFORMED);
    reply_json(c, 400, "{\"message\":\"not an NCS event: a JSON object with a noticeId\"}");
    return;
  }
  it = calloc(1, sizeof *it);
  if (!it || !(it->id = strdup(n.notice_id)) || !(it->body = events__dupn(c->body.p ? c->body.p : "", c->body.len))) {
    events__item_free(it);
    events__count(rx, R_UNAVAILABLE);
    reply_json(c, 503, "{\"message\":\"out of memory\"}");
    return;
  }
  it->kind = STORE_EVENT_ADD;
  it->n = c->body.len;
  it->when = events__now();
  it->from_http = 1;
  it->conn = c;
  it->event_type = n.event_type;
  snprintf(it->sid, sizeof it->sid, "%s", n.sid);
  snprintf(it->cname, sizeof it->cname, "%s", n.cname);
  uv_mutex_lock(&rx->mu);
  rc = rx->stopping ? -1 : events__submit_locked(rx, it);
  uv_mutex_unlock(&rx->mu);
  if (rc != 0) {
    events__item_free(it);
    events__count(rx, R_UNAVAILABLE);
    reply_json(c, 503, "{\"message\":\"too many events waiting for the store\"}");
    return;
  }
  c->app = it;
  httpd_pause(c);
}

static void on_refused(httpd_conn *c, int status, void *ud) {
  (void)c;
  if (status == 413) events__count(ud, R_TOO_LARGE);
  else events__count(ud, R_MALFORMED);
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
      events__item_free(it);
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

int events__listen_start(events_rx *rx, const char *addr, char *err, size_t n) {
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
  return 0;
}
