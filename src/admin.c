/* admin: the /admin/... routes of the listener and their handoff to the main loop (see
 * admin.h). Two threads share `adm` under its mutex: the listener thread queues requests and
 * polls for their answers (a deferred reply, every ADMIN_POLL_MS, like /status); the main
 * loop takes them on a uv_async, dispatches them and answers. A request is reference
 * counted (the listener's connection, the main loop), so either side may go first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "admin.h"
#include "crypto.h"
#include "log.h"

#define ADMIN_POLL_MS 5
#define ADMIN_TOKEN_MAX 1024

enum { Q_QUEUED, Q_TAKEN, Q_DONE, Q_GONE };

typedef struct areq {
  unsigned long id;
  int refs;                 /* the listener's connection + the main loop */
  int state;
  int dispatched;           /* handed to the dispatch function (main loop) */
  char method[8];
  char *path, *body;
  size_t bodylen;
  int status;               /* the answer, once Q_DONE */
  char *reply;
  size_t replylen;
  uint64_t t0;              /* uv_hrtime when it came */
  struct areq *next;        /* in the queue, then in the taken list */
} areq;

static struct {
  uv_once_t once;
  uv_mutex_t mu;
  /* under mu */
  int configured, remote, loopback;
  unsigned char token[ADMIN_TOKEN_MAX];  /* zero-padded */
  size_t tokenlen;
  int attached;
  uv_async_t async;
  areq *qhead, *qtail, *taken;
  int count;                /* queued + taken */
  unsigned long next_id;
  /* main loop only */
  admin_dispatch_fn fn;
  void *fn_ud;
} adm = {UV_ONCE_INIT};

static void init_mutex(void) { uv_mutex_init(&adm.mu); }
static void lock(void) {
  uv_once(&adm.once, init_mutex);
  uv_mutex_lock(&adm.mu);
}
static void unlock(void) { uv_mutex_unlock(&adm.mu); }

/* Under mu. */
static void release(areq *r) {
  if (--r->refs > 0) return;
  free(r->path);
  free(r->body);
  free(r->reply);
  free(r);
}

/* ---------------------------------------------------------------- configuration */

int admin_configure(const char *path, int remote, char *err, size_t errlen) {
  unsigned char buf[ADMIN_TOKEN_MAX + 2];
  size_t n;
  FILE *f;
  if (!path) {
    lock();
    adm.configured = 0;
    memset(adm.token, 0, sizeof adm.token);
    adm.tokenlen = 0;
    unlock();
    return 0;
  }
  if (!(f = fopen(path, "rb"))) {
    snprintf(err, errlen, "admin token file %.200s: cannot open it", path);
    return -1;
  }
  n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  n = strcspn((char *)buf, "\r\n");  /* the first line */
  while (n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '\t')) n--;
  if (n < 16 || n > ADMIN_TOKEN_MAX || memchr(buf, '\0', n)) {
    memset(buf, 0, sizeof buf);
    snprintf(err, errlen, "admin token file %.200s: the token (its first line) must be 16 to "
             "%d bytes", path, ADMIN_TOKEN_MAX);
    return -1;
  }
  lock();
  memset(adm.token, 0, sizeof adm.token);
  memcpy(adm.token, buf, n);
  adm.tokenlen = n;
  adm.configured = 1;
  adm.remote = remote;
  unlock();
  memset(buf, 0, sizeof buf);
  return 0;
}

void admin_set_listen_host(const char *host) {
  int lo = strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0 ||
           strcmp(host, "localhost") == 0 || strncasecmp(host, "::ffff:127.", 11) == 0;
  lock();
  adm.loopback = lo;
  unlock();
}

/* ---------------------------------------------------------------- the listener thread */

int admin_is_route(const httpd_conn *c) {
  return c->pathlen >= 6 && memcmp(c->path, "/admin", 6) == 0 &&
         (c->pathlen == 6 || c->path[6] == '/');
}

static void answer(httpd_conn *c, int status, const char *msg) {
  sbuf b = {0};
  sbuf_adds(&b, "{\"error\":");
  sbuf_add_json_str(&b, msg, strlen(msg));
  sbuf_adds(&b, "}\n");
  httpd_reply(c, status, "application/json", b.p ? b.p : "{}", b.p ? b.len : 2);
  sbuf_free(&b);
}

/* The Authorization header against the token, in constant time over the padded buffer
 * (its length is no secret). Under mu. */
static int token_ok(const httpd_conn *c) {
  unsigned char got[ADMIN_TOKEN_MAX];
  const char *a = c->auth.p;
  size_t n = c->auth.len, len;
  int same;
  if (!c->has_auth || n < 7 || strncasecmp(a, "Bearer ", 7) != 0) return 0;
  a += 7;
  n -= 7;
  while (n > 0 && *a == ' ') a++, n--;
  while (n > 0 && a[n - 1] == ' ') n--;
  len = n > ADMIN_TOKEN_MAX ? ADMIN_TOKEN_MAX : n;
  memset(got, 0, sizeof got);
  memcpy(got, a, len);
  same = crypto_equal(got, adm.token, sizeof got);
  memset(got, 0, sizeof got);
  return same && n == adm.tokenlen;
}

static const char *method_name(const httpd_conn *c) {
  switch (c->parser.method) {
  case HTTP_GET: return "GET";
  case HTTP_POST: return "POST";
  case HTTP_DELETE: return "DELETE";
  default: return NULL;
  }
}

static void serve_new(httpd_conn *c) {
  const char *method = method_name(c);
  areq *r;
  lock();
  if (!adm.configured) {
    unlock();
    answer(c, 403, "the admin routes are off: no admin token is configured (start recwatch "
           "run with --admin-token-file FILE; docs/operations.md, \"The admin route\")");
    return;
  }
  if (!adm.loopback && !adm.remote) {
    unlock();
    answer(c, 403, "the admin routes answer on a loopback listener only (--listen "
           "127.0.0.1:PORT), unless recwatch run has --admin-remote");
    return;
  }
  if (!c->has_auth) {
    unlock();
    answer(c, 401, "the admin routes need 'Authorization: Bearer TOKEN' (the token of "
           "--admin-token-file)");
    return;
  }
  if (!token_ok(c)) {
    unlock();
    log_warn("admin: %s request refused: wrong token (from port %d)", method ? method : "a",
             c->peer_port);
    answer(c, 403, "wrong admin token");
    return;
  }
  if (!method) {
    unlock();
    answer(c, 405, "the admin routes take GET, POST and DELETE");
    return;
  }
  if (c->body.len > ADMIN_MAX_BODY) {
    unlock();
    answer(c, 413, "the request body is larger than 8192 bytes");
    return;
  }
  if (!adm.attached) {
    unlock();
    answer(c, 503, "the main loop does not take admin requests (not a recwatch run service)");
    return;
  }
  if (adm.count >= ADMIN_MAX_QUEUED) {
    uv_async_send(&adm.async);  /* the main loop takes back the slots of abandoned ones */
    unlock();
    answer(c, 503, "busy: 32 admin requests are waiting for the script; try again");
    return;
  }
  r = calloc(1, sizeof *r);
  if (r) {
    r->path = malloc(c->pathlen + 1);
    r->body = malloc(c->body.len + 1);
  }
  if (!r || !r->path || !r->body) {
    unlock();
    if (r) {
      free(r->path);
      free(r->body);
      free(r);
    }
    answer(c, 503, "out of memory");
    return;
  }
  memcpy(r->path, c->path, c->pathlen);
  r->path[c->pathlen] = '\0';
  if (c->body.len) memcpy(r->body, c->body.p, c->body.len);
  r->body[c->body.len] = '\0';
  r->bodylen = c->body.len;
  snprintf(r->method, sizeof r->method, "%s", method);
  r->id = ++adm.next_id;
  r->refs = 2;
  r->state = Q_QUEUED;
  r->t0 = uv_hrtime();
  if (adm.qtail) adm.qtail->next = r;
  else adm.qhead = r;
  adm.qtail = r;
  adm.count++;
  uv_async_send(&adm.async);
  unlock();
  c->app = r;
  httpd_defer(c, ADMIN_POLL_MS);
}

static void serve_resumed(httpd_conn *c) {
  areq *r = c->app;
  char *body = NULL;
  size_t len = 0;
  int status = 0;
  if (!r) return;
  lock();
  if (r->state == Q_DONE) {
    status = r->status;
    body = r->reply;
    len = r->replylen;
    r->reply = NULL;
  } else if (uv_hrtime() - r->t0 > (uint64_t)ADMIN_TIMEOUT_MS * 1000000u) {
    r->state = Q_GONE;
    status = 504;
  } else {
    unlock();
    httpd_defer(c, ADMIN_POLL_MS);
    return;
  }
  c->app = NULL;
  release(r);
  unlock();
  if (status == 504)
    answer(c, 504, "the script did not answer within 10 s");
  else
    httpd_reply(c, status, "application/json", body ? body : "{}", body ? len : 2);
  free(body);
}

void admin_serve(httpd_conn *c, int resumed) {
  if (resumed) serve_resumed(c);
  else serve_new(c);
}

void admin_conn_closed(httpd_conn *c) {
  areq *r = c->app;
  if (!r) return;
  lock();
  if (r->state != Q_DONE) r->state = Q_GONE;
  c->app = NULL;
  release(r);
  unlock();
}

/* ---------------------------------------------------------------- the main loop */

void admin_set_dispatch(admin_dispatch_fn fn, void *ud) {
  adm.fn = fn;
  adm.fn_ud = ud;
}

static void on_async(uv_async_t *a) {
  areq *list, *r, *next, **pp;
  (void)a;
  lock();
  list = adm.qhead;
  adm.qhead = adm.qtail = NULL;
  /* abandoned after dispatch (timed out, client gone) and never answered: a handler task
   * that was cancelled before it ran. Their slots come back. */
  for (pp = &adm.taken; (r = *pp) != NULL;) {
    if (r->state == Q_GONE) {
      *pp = r->next;
      adm.count--;
      release(r);
    } else {
      pp = &r->next;
    }
  }
  for (r = list; r; r = next) {  /* into the taken list; the abandoned ones go */
    next = r->next;
    if (r->state == Q_GONE) {
      adm.count--;
      release(r);
      continue;
    }
    r->state = Q_TAKEN;
    r->next = adm.taken;
    adm.taken = r;
  }
  /* dispatched outside the lock, oldest first */
  unlock();
  for (;;) {
    admin_request ar;
    areq *pick = NULL;
    lock();
    for (r = adm.taken; r; r = r->next)
      if (r->state == Q_TAKEN && !r->dispatched && (!pick || r->id < pick->id)) pick = r;
    if (pick) pick->dispatched = 1;
    unlock();
    if (!pick) break;
    ar.id = pick->id;
    ar.method = pick->method;
    ar.path = pick->path;
    ar.body = pick->body;
    ar.bodylen = pick->bodylen;
    if (adm.fn) {
      adm.fn(&ar, adm.fn_ud);
    } else {
      static const char m[] = "{\"error\":\"no admin handler: the script does not load "
                              "rec.notify, where silences live\"}\n";
      admin_reply(ar.id, 503, m, sizeof m - 1);
    }
  }
}

int admin_reply(unsigned long id, int status, const char *body, size_t len) {
  areq **pp, *r;
  int rc = -1;
  lock();
  for (pp = &adm.taken; (r = *pp) != NULL; pp = &r->next)
    if (r->id == id) break;
  if (r) {
    *pp = r->next;
    adm.count--;
    if (r->state != Q_GONE && (r->reply = malloc(len + 1)) != NULL) {
      memcpy(r->reply, body, len);
      r->reply[len] = '\0';
      r->replylen = len;
      r->status = status;
      r->state = Q_DONE;
      rc = 0;
    } else if (r->state != Q_GONE) {
      r->status = 503;  /* no memory for the answer: an empty one */
      r->state = Q_DONE;
    }
    release(r);
  }
  unlock();
  return rc;
}

void admin_attach(uv_loop_t *loop) {
  lock();
  if (!adm.attached) {
    uv_async_init(loop, &adm.async, on_async);
    uv_unref((uv_handle_t *)&adm.async);
    adm.attached = 1;
  }
  unlock();
}

void admin_detach(void) {
  areq *r;
  lock();
  if (adm.attached) {
    uv_close((uv_handle_t *)&adm.async, NULL);
    adm.attached = 0;
  }
  while ((r = adm.qhead) != NULL) {
    adm.qhead = r->next;
    r->state = Q_GONE;
    release(r);
  }
  adm.qtail = NULL;
  while ((r = adm.taken) != NULL) {
    adm.taken = r->next;
    r->state = Q_GONE;
    release(r);
  }
  adm.count = 0;
  unlock();
  adm.fn = NULL;
  adm.fn_ud = NULL;
}
