/* httpd: HTTP/1.1 over libuv with http_parser: the listener, connections (keep-alive,
 * pipelining, back-pressure, size caps), replies and deferred replies. What a request
 * means is the handler's business (sim/sim.c, ops.c). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include "httpd.h"

#define MAX_HEAD (64 * 1024)  /* request line + headers */
#define MAX_BODY (64 * 1024)
#define KEEP_OUT (64 * 1024)   /* a reply buffer larger than this is freed once sent */

struct httpd {
  uv_loop_t *loop;
  uv_tcp_t listener;
  int listener_open, embedded, freeing, port;
  httpd_handler handler;
  void *ud;
  void (*on_close)(httpd_conn *c, void *ud);
  void (*on_refused)(httpd_conn *c, int status, void *ud);
  void (*freed)(void *ud);
  void *freed_ud;
  char server[48];
  char base_url[96];
  const char *keep[HTTPD_KEEP];  /* httpd_options.keep_headers (static strings) */
  httpd_conn *conns;  /* newest first */
  long nconns, max_conns;        /* max_conns: descriptors we may use, with headroom */
  uint64_t idle_ms, header_ms;   /* transport timeouts (real time, not the engine clock) */
  long shed;                     /* idle connections closed to make room */
  size_t out_bytes;              /* reply bytes handed to uv_write and not sent yet, each
                                    shared blob counted once */
  /* shared read buffer: every read is consumed before returning, or kept (c->in) while the
   * requests in it wait for the reply before them; its size bounds that per connection */
  char rbuf[65536];
};

typedef struct wreq {
  uv_write_t req;
  httpd_conn *c;
  char *owned;
  size_t acct;         /* bytes of owned counted in out_bytes */
  httpd_blob *blob;    /* a shared body this write holds a reference to */
} wreq;

struct httpd_blob {
  httpd_t *srv;
  int refs;
  size_t len;
  char *data;
};

static void conn_close(httpd_conn *c);
static void conn_process(httpd_conn *c, const char *data, size_t len);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);
static void arm_guard(httpd_conn *c);
static void on_guard(uv_timer_t *t);

long httpd_nconns(const httpd_t *s) { return s->nconns; }
long httpd_shed(const httpd_t *s) { return s->shed; }
size_t httpd_out_bytes(const httpd_t *s) { return s->out_bytes; }

int httpd_port(const httpd_t *s) { return s->port; }
const char *httpd_base_url(const httpd_t *s) { return s->base_url; }
void *httpd_ud(const httpd_conn *c) { return c->srv->ud; }

int httpd_path_is(const httpd_conn *c, const char *p) {
  size_t n = strlen(p);
  return c->pathlen == n && memcmp(c->path, p, n) == 0;
}

/* ---------------------------------------------------------------- replies */

static const char *reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 206: return "Partial Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
  }
}

void httpd_head(httpd_conn *c, int status, const char *ctype, size_t content_length) {
  char hdr[384];
  const char *conn_hdr = c->stop_parsing ? "Connection: close\r\n"
                         : c->http10 ? "Connection: keep-alive\r\n" : "";
  int n = snprintf(hdr, sizeof hdr,
                   "HTTP/1.1 %d %s\r\nServer: %s\r\nContent-Type: %s\r\n"
                   "Content-Length: %zu\r\n%s\r\n",
                   status, reason(status), c->srv->server, ctype, content_length, conn_hdr);
  sbuf_add(&c->out, hdr, (size_t)n);
  c->status = status;
}

void httpd_reply(httpd_conn *c, int status, const char *ctype, const void *body, size_t len) {
  httpd_head(c, status, ctype, len);
  if (!c->is_head) sbuf_add(&c->out, body, len);
}

void httpd_close_after(httpd_conn *c) { c->stop_parsing = c->close_after = 1; }

/* ---------------------------------------------------------------- writing */

static void update_reading(httpd_conn *c) {
  /* back-pressure: nothing more is read while a reply is unsent or requests already read
   * wait (c->in): a client that pipelines without reading costs one reply, not thousands */
  int want = !c->closing && !c->stop_parsing && !c->delaying && !c->peer_eof &&
             c->writes == 0 && c->out.len == 0 && !c->in;
  if (want && !c->reading) {
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0) c->reading = 1;
    else conn_close(c);
  } else if (!want && c->reading) {
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = 0;
  }
}

static void check_done(httpd_conn *c) {
  if (!c->closing && c->close_after && c->out.len == 0 && c->writes == 0 && !c->delaying)
    conn_close(c);
}

static void on_write(uv_write_t *req, int status) {
  wreq *w = (wreq *)req;
  httpd_conn *c = w->c;
  c->srv->out_bytes -= w->acct;
  free(w->owned);
  if (w->blob) httpd_blob_unref(w->blob);
  free(w);
  c->writes--;
  if (c->closing) return;
  if (status < 0) {
    conn_close(c);
    return;
  }
  if (c->writes == 0 && c->out.len == 0 && c->in && !c->delaying) {
    /* the reply went out: on to the requests that waited for it */
    char *rest = c->in;
    size_t len = c->in_len;
    c->in = NULL;
    c->in_len = 0;
    conn_process(c, rest, len);
    free(rest);
    return;
  }
  update_reading(c);
  check_done(c);
  arm_guard(c);
}

/* Queues buf (owned: freed after the write; else borrowed, from blob when not NULL: a
 * reference is held until the write is done). */
static int queue_write(httpd_conn *c, char *base, size_t len, char *owned, httpd_blob *blob) {
  wreq *w = malloc(sizeof *w);
  uv_buf_t b = uv_buf_init(base, (unsigned)len);
  if (!w) {
    free(owned);
    return -1;
  }
  w->c = c;
  w->owned = owned;
  w->acct = owned ? len : 0;
  w->blob = blob;
  if (blob) blob->refs++;
  c->writes++;
  c->srv->out_bytes += w->acct;
  if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write) != 0) {
    c->writes--;
    c->srv->out_bytes -= w->acct;
    free(owned);
    if (blob) blob->refs--;  /* the caller still holds its own reference */
    free(w);
    return -1;
  }
  return 0;
}

/* Sends c->out: uv_try_write first (the common case writes it all at once), the rest with
 * uv_write, handing the buffer over instead of copying it. -1 when the connection closed. */
static int flush_out(httpd_conn *c) {
  size_t off = 0;
  if (c->closing) return -1;
  if (c->out.len == 0) return 0;
  if (c->writes == 0) {
    uv_buf_t b = uv_buf_init(c->out.p, (unsigned)c->out.len);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (n < 0 && n != UV_EAGAIN) {
      conn_close(c);
      return -1;
    }
    if (n > 0) off = (size_t)n;
  }
  if (off == c->out.len) {
    c->out.len = 0;
    if (c->out.cap > KEEP_OUT) sbuf_free(&c->out);  /* one big /status must not stay */
  } else {
    char *p = c->out.p;
    size_t len = c->out.len;
    c->out.p = NULL;
    c->out.len = c->out.cap = 0;
    if (queue_write(c, p + off, len - off, p, NULL) != 0) {
      conn_close(c);
      return -1;
    }
  }
  return 0;
}

static void conn_flush(httpd_conn *c) {
  if (flush_out(c) == 0) check_done(c);
}

void httpd_reply_borrowed(httpd_conn *c, int status, const char *ctype, const char *body,
                          size_t len) {
  httpd_head(c, status, ctype, len);
  if (c->is_head) return;
  if (flush_out(c) != 0) return;  /* no check_done here: the body is still to come */
  if (queue_write(c, (char *)body, len, NULL, NULL) != 0) conn_close(c);
}

/* ---------------------------------------------------------------- shared bodies */

httpd_blob *httpd_blob_new(httpd_t *s, char *data, size_t len) {
  httpd_blob *b = malloc(sizeof *b);
  if (!b) {
    free(data);
    return NULL;
  }
  b->srv = s;
  b->refs = 1;
  b->len = len;
  b->data = data;
  s->out_bytes += len;
  return b;
}

void httpd_blob_unref(httpd_blob *b) {
  if (!b || --b->refs > 0) return;
  b->srv->out_bytes -= b->len;
  free(b->data);
  free(b);
}

size_t httpd_blob_len(const httpd_blob *b) { return b->len; }
const char *httpd_blob_data(const httpd_blob *b) { return b->data; }

void httpd_reply_blob(httpd_conn *c, int status, const char *ctype, httpd_blob *b) {
  httpd_head(c, status, ctype, b->len);
  if (c->is_head || b->len == 0) return;
  if (flush_out(c) != 0) return;
  if (queue_write(c, b->data, b->len, NULL, b) != 0) conn_close(c);
}

/* ---------------------------------------------------------------- requests */

static void on_defer_done(uv_timer_t *t);

void httpd_pause(httpd_conn *c) {
  c->delaying = 1;
  update_reading(c);
}

void httpd_defer(httpd_conn *c, uint64_t ms) {
  httpd_pause(c);
  uv_timer_start(&c->timer, on_defer_done, ms, 0);
}

/* The generic part of a request: keep-alive, HEAD, the URL split into path and query (a
 * bad URL is answered 400 here); then the handler. */
static void dispatch(httpd_conn *c) {
  struct http_parser_url u;
  c->is_head = c->parser.method == HTTP_HEAD;
  c->http10 = c->parser.http_major == 1 && c->parser.http_minor == 0;
  if (!http_should_keep_alive(&c->parser) || c->parser.upgrade) c->stop_parsing = 1;
  if (c->stop_parsing) c->close_after = 1;
  c->status = 0;
  sbuf_add(&c->url, "", 0);
  http_parser_url_init(&u);
  if (!c->url.p || http_parser_parse_url(c->url.p, c->url.len, 0, &u) != 0 ||
      !(u.field_set & (1 << UF_PATH))) {
    static const char bad[] = "{\"message\":\"bad request\"}";
    c->path = c->query = "";
    c->pathlen = c->querylen = 0;
    c->stop_parsing = c->close_after = 1;
    httpd_reply(c, 400, "application/json", bad, sizeof bad - 1);
    c->srv->handler(c, 0, c->srv->ud);  /* answered; the handler may log it (status 400) */
    return;
  }
  c->path = c->url.p + u.field_data[UF_PATH].off;
  c->pathlen = u.field_data[UF_PATH].len;
  if (u.field_set & (1 << UF_QUERY)) {
    c->query = c->url.p + u.field_data[UF_QUERY].off;
    c->querylen = u.field_data[UF_QUERY].len;
  } else {
    c->query = "";
    c->querylen = 0;
  }
  c->srv->handler(c, 0, c->srv->ud);
}

/* ---------------------------------------------------------------- http_parser callbacks */

static int cb_begin(http_parser *p) {
  httpd_conn *c = p->data;
  /* the whole request must arrive within header_ms of its first byte (slowloris) */
  c->in_message = 1;
  uv_timer_start(&c->guard, on_guard, c->srv->header_ms, 0);
  c->url.len = 0;
  c->body.len = 0;
  c->auth.len = 0;
  c->field.len = 0;
  c->has_auth = 0;
  c->in_auth = 0;
  c->kept[0].len = c->kept[1].len = 0;
  c->has_kept[0] = c->has_kept[1] = 0;
  c->in_kept = -1;
  c->last_value = 0;
  c->head_bytes = 0;
  c->body_bytes = 0;
  return 0;
}

static int count_head(httpd_conn *c, size_t n) {
  c->head_bytes += n;
  if (c->head_bytes > MAX_HEAD) {
    c->err_status = 431;
    return 1;
  }
  return 0;
}

static int cb_url(http_parser *p, const char *at, size_t n) {
  httpd_conn *c = p->data;
  if (count_head(c, n)) return 1;
  sbuf_add(&c->url, at, n);
  return 0;
}

static int cb_field(http_parser *p, const char *at, size_t n) {
  httpd_conn *c = p->data;
  if (count_head(c, n)) return 1;
  if (c->last_value) {
    c->field.len = 0;
    c->last_value = 0;
  }
  if (c->field.len < 32) sbuf_add(&c->field, at, n < 32 ? n : 32);
  return 0;
}

static int cb_value(http_parser *p, const char *at, size_t n) {
  httpd_conn *c = p->data;
  if (count_head(c, n)) return 1;
  if (!c->last_value) {
    c->last_value = 1;
    c->in_auth = c->field.len == 13 && strncasecmp(c->field.p, "authorization", 13) == 0;
    if (c->in_auth) {
      c->has_auth = 1;
      c->auth.len = 0;
    }
    c->in_kept = -1;
    for (int i = 0; i < HTTPD_KEEP && !c->in_auth; i++)
      if (c->srv->keep[i] && c->field.len == strlen(c->srv->keep[i]) &&
          strncasecmp(c->field.p, c->srv->keep[i], c->field.len) == 0) {
        c->in_kept = (signed char)i;
        c->has_kept[i] = 1;
        c->kept[i].len = 0;
      }
  }
  if (c->in_auth) sbuf_add(&c->auth, at, n);
  if (c->in_kept >= 0 && c->kept[c->in_kept].len + n <= 256) sbuf_add(&c->kept[c->in_kept], at, n);
  return 0;
}

static int cb_body(http_parser *p, const char *at, size_t n) {
  httpd_conn *c = p->data;
  c->body_bytes += n;
  if (c->body_bytes > MAX_BODY) {
    c->err_status = 413;
    return 1;
  }
  sbuf_add(&c->body, at, n);
  return 0;
}

static int cb_complete(http_parser *p) {
  httpd_conn *c = p->data;
  c->in_message = 0;
  uv_timer_stop(&c->guard);
  http_parser_pause(p, 1);  /* handled by conn_process, one request at a time */
  return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = cb_begin,
    .on_url = cb_url,
    .on_header_field = cb_field,
    .on_header_value = cb_value,
    .on_body = cb_body,
    .on_message_complete = cb_complete,
};

/* ---------------------------------------------------------------- connections */

static void conn_process(httpd_conn *c, const char *data, size_t len) {
  while (len > 0 && !c->closing && !c->stop_parsing) {
    size_t n;
    enum http_errno e;
    /* keep the rest (pipelined requests) for after the delay, or until the reply before
     * them is sent (at most one read buffer, 64 KiB: reading stops meanwhile) */
    if (c->out.len > 0 && flush_out(c) != 0) break;  /* e.g. a resumed handler's reply */
    if (c->delaying || c->writes > 0) {
      c->in = malloc(len);
      if (!c->in) {
        conn_close(c);
        return;
      }
      memcpy(c->in, data, len);
      c->in_len = len;
      break;
    }
    n = http_parser_execute(&c->parser, &settings, data, len);
    e = HTTP_PARSER_ERRNO(&c->parser);
    if (e == HPE_PAUSED) {
      data += n;
      len -= n;
      http_parser_pause(&c->parser, 0);
      dispatch(c);  /* its reply is sent at the top of the loop, now in the common case */
      continue;
    }
    if (e != HPE_OK || n < len) {
      int st = c->err_status ? c->err_status : e == HPE_HEADER_OVERFLOW ? 431 : 400;
      const char *msg = st == 431   ? "{\"message\":\"Request header fields too large\"}"
                        : st == 413 ? "{\"message\":\"Request body too large\"}"
                                    : "{\"message\":\"bad request\"}";
      c->stop_parsing = c->close_after = 1;
      c->is_head = 0;
      httpd_reply(c, st, "application/json", msg, strlen(msg));
      if (c->srv->on_refused) c->srv->on_refused(c, st, c->srv->ud);
      break;
    }
    data += n;
    len -= n;
  }
  conn_flush(c);
  update_reading(c);
  arm_guard(c);
}

/* ---------------------------------------------------------------- transport limits */

/* Idle (no request under way): idle_ms from the last activity. A request under way was
 * given header_ms from its first byte in cb_begin. A deferred reply is the server's doing:
 * no timeout then. Real time on purpose: these protect descriptors, not the story. */
static void arm_guard(httpd_conn *c) {
  if (c->closing || c->in_message) return;
  if (c->delaying) {
    uv_timer_stop(&c->guard);
    return;
  }
  c->idle_since = uv_now(c->srv->loop);
  uv_timer_start(&c->guard, on_guard, c->srv->idle_ms, 0);
}

static void on_guard(uv_timer_t *t) {
  httpd_conn *c = t->data;
  if (c->closing || c->delaying) return;
  conn_close(c);  /* idle too long, or a request that trickles in too slowly */
}

static int conn_idle(const httpd_conn *c) {
  return !c->closing && !c->in_message && !c->delaying && c->writes == 0 && c->out.len == 0 &&
         !c->in;
}

/* Closes the connection idle the longest (not except); returns 0 when none is idle. */
static int shed_idle(httpd_t *s, const httpd_conn *except) {
  httpd_conn *c, *oldest = NULL;
  for (c = s->conns; c; c = c->next)
    if (c != except && conn_idle(c) && (!oldest || c->idle_since <= oldest->idle_since))
      oldest = c;
  if (!oldest) return 0;
  s->shed++;
  conn_close(oldest);
  return 1;
}

/* Raises the soft descriptor limit to the hard one and keeps headroom below it for the
 * process's other files (logs, the state file, libcurl's sockets when embedded). */
static void set_conn_limit(httpd_t *s) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) getrlimit(RLIMIT_NOFILE, &rl);
  }
  if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 1000000) rl.rlim_cur = 1000000;
  s->max_conns = (long)rl.rlim_cur - 64 - (long)rl.rlim_cur / 16;
  if (s->max_conns < 16) s->max_conns = 16;
}

/* A timeout in seconds: 0 (or anything not in (0, 1 day]) means the default. */
static uint64_t timeout_ms(double v, double def) {
  return (uint64_t)((v > 0 && v <= 86400 ? v : def) * 1000);
}

static void on_defer_done(uv_timer_t *t) { httpd_resume(t->data); }

void httpd_resume(httpd_conn *c) {
  char *rest = c->in;
  size_t len = c->in_len;
  c->delaying = 0;
  c->in = NULL;
  c->in_len = 0;
  if (c->closing) {
    free(rest);
    return;
  }
  c->srv->handler(c, 1, c->srv->ud);
  if (rest) conn_process(c, rest, len);
  else {
    conn_flush(c);
    update_reading(c);
  }
  free(rest);
  arm_guard(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  httpd_conn *c = h->data;
  (void)suggested;
  buf->base = c->srv->rbuf;
  buf->len = sizeof c->srv->rbuf;
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
  httpd_conn *c = st->data;
  if (nread > 0) {
    conn_process(c, buf->base, (size_t)nread);
  } else if (nread == UV_EOF) {
    c->peer_eof = 1;
    c->close_after = 1;
    update_reading(c);
    check_done(c);
  } else if (nread < 0) {
    conn_close(c);
  }
}

static void maybe_free(httpd_t *s) {
  if (!s->freeing || s->listener_open || s->conns) return;
  if (s->freed) s->freed(s->freed_ud);
  free(s);
}

static void on_conn_closed(uv_handle_t *h) {
  httpd_conn *c = h->data;
  httpd_t *s = c->srv;
  if (--c->open_handles > 0) return;
  if (c->prev) c->prev->next = c->next;
  else s->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  sbuf_free(&c->url);
  sbuf_free(&c->body);
  sbuf_free(&c->auth);
  sbuf_free(&c->kept[0]);
  sbuf_free(&c->kept[1]);
  sbuf_free(&c->field);
  sbuf_free(&c->out);
  free(c->in);
  free(c);
  s->nconns--;
  maybe_free(s);
}

static void conn_close(httpd_conn *c) {
  if (c->closing) return;
  c->closing = 1;
  c->reading = 0;
  if (c->srv->on_close) c->srv->on_close(c, c->srv->ud);
  uv_timer_stop(&c->timer);
  uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
  uv_close((uv_handle_t *)&c->timer, on_conn_closed);
  uv_close((uv_handle_t *)&c->guard, on_conn_closed);
}

static httpd_conn *conn_new(httpd_t *s) {
  httpd_conn *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->srv = s;
  uv_tcp_init(s->loop, &c->tcp);
  uv_timer_init(s->loop, &c->timer);
  uv_timer_init(s->loop, &c->guard);
  c->tcp.data = c->timer.data = c->guard.data = c;
  c->open_handles = 3;
  c->next = s->conns;
  if (s->conns) s->conns->prev = c;
  s->conns = c;
  s->nconns++;
  if (s->embedded) {
    uv_unref((uv_handle_t *)&c->tcp);
    uv_unref((uv_handle_t *)&c->timer);
    uv_unref((uv_handle_t *)&c->guard);
  }
  return c;
}

int httpd_adopt_fd(httpd_t *s, int fd) {
  httpd_conn *c;
  if (!s || s->freeing || (c = conn_new(s)) == NULL) return -1;
  if (uv_tcp_open(&c->tcp, (uv_os_sock_t)fd) != 0) {
    conn_close(c);
    return -1;
  }
  http_parser_init(&c->parser, HTTP_REQUEST);
  c->parser.data = c;
  update_reading(c);
  arm_guard(c);
  return 0;
}

static void on_connection(uv_stream_t *server, int status) {
  httpd_t *s = server->data;
  httpd_conn *c;
  if (s->freeing) return;
  if (status < 0) {  /* out of descriptors: make room for the next client */
    if (status == UV_EMFILE || status == UV_ENFILE) shed_idle(s, NULL);
    return;
  }
  if ((c = conn_new(s)) == NULL) return;
  if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
    conn_close(c);
    return;
  }
  /* near the descriptor limit the oldest idle client goes, never the new one (unless
   * every connection is busy) */
  if (s->max_conns > 0 && s->nconns > s->max_conns && !shed_idle(s, c)) {
    conn_close(c);
    return;
  }
  {
    struct sockaddr_storage peer;
    int plen = sizeof peer;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&peer, &plen) == 0)
      c->peer_port = ntohs(peer.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&peer)->sin6_port
                                                      : ((struct sockaddr_in *)&peer)->sin_port);
  }
  uv_tcp_nodelay(&c->tcp, 1);
  http_parser_init(&c->parser, HTTP_REQUEST);
  c->parser.data = c;
  update_reading(c);
  arm_guard(c);
}

/* ---------------------------------------------------------------- public API */

static void on_listener_closed(uv_handle_t *h) {
  httpd_t *s = h->data;
  s->listener_open = 0;
  maybe_free(s);
}

httpd_t *httpd_start(uv_loop_t *loop, const httpd_options *o, char *err, size_t errlen) {
  httpd_t *s = calloc(1, sizeof *s);
  const char *host = o->host ? o->host : "127.0.0.1";
  struct sockaddr_storage ss;
  int namelen = sizeof ss, rc, v6 = strchr(host, ':') != NULL;
  char shown[64];
  if (!s) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  s->loop = loop;
  s->embedded = o->embedded;
  s->handler = o->handler;
  s->ud = o->ud;
  s->on_close = o->on_close;
  s->on_refused = o->on_refused;
  s->idle_ms = timeout_ms(o->idle_timeout, 60);
  s->header_ms = timeout_ms(o->header_timeout, 10);
  set_conn_limit(s);
  if (o->max_conns > 0 && (s->max_conns <= 0 || o->max_conns < s->max_conns)) s->max_conns = o->max_conns;
  s->keep[0] = o->keep_headers[0];
  s->keep[1] = o->keep_headers[1];
  snprintf(s->server, sizeof s->server, "%s", o->server ? o->server : "recwatch");
  memset(&ss, 0, sizeof ss);
  if (o->port < 0 || o->port > 65535) {
    snprintf(err, errlen, "bad port %d", o->port);
    free(s);
    return NULL;
  }
  rc = v6 ? uv_ip6_addr(host, o->port, (struct sockaddr_in6 *)&ss)
          : uv_ip4_addr(host, o->port, (struct sockaddr_in *)&ss);
  if (rc != 0) {
    snprintf(err, errlen, "bad listen address '%s'", host);
    free(s);
    return NULL;
  }
  uv_tcp_init(loop, &s->listener);
  s->listener.data = s;
  s->listener_open = 1;
  if (s->embedded) uv_unref((uv_handle_t *)&s->listener);
  rc = uv_tcp_bind(&s->listener, (const struct sockaddr *)&ss, 0);
  if (rc == 0) rc = uv_listen((uv_stream_t *)&s->listener, 511, on_connection);
  if (rc == 0) rc = uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &namelen);
  if (rc != 0) {
    snprintf(err, errlen, "cannot listen on %s:%d: %s", host, o->port, uv_strerror(rc));
    httpd_free(s, NULL, NULL);  /* freed when the loop runs the close callback */
    return NULL;
  }
  s->port = ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                     : ((struct sockaddr_in *)&ss)->sin_port);
  if (!strcmp(host, "0.0.0.0")) snprintf(shown, sizeof shown, "127.0.0.1");
  else if (!strcmp(host, "::")) snprintf(shown, sizeof shown, "[::1]");
  else if (v6) snprintf(shown, sizeof shown, "[%.60s]", host);
  else snprintf(shown, sizeof shown, "%.60s", host);
  snprintf(s->base_url, sizeof s->base_url, "http://%s:%d", shown, s->port);
  {
    /* a client that goes away mid-reply must not kill the process */
    struct sigaction sa;
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) signal(SIGPIPE, SIG_IGN);
  }
  return s;
}

void httpd_free(httpd_t *s, void (*freed)(void *ud), void *ud) {
  httpd_conn *c;
  if (!s || s->freeing) return;
  s->freeing = 1;
  s->freed = freed;
  s->freed_ud = ud;
  if (s->listener_open && !uv_is_closing((uv_handle_t *)&s->listener))
    uv_close((uv_handle_t *)&s->listener, on_listener_closed);
  for (c = s->conns; c; c = c->next) conn_close(c);
  maybe_free(s);  /* nothing was open */
}
