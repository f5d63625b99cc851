/* sim: the simulator's HTTP server on libuv — listener, connections (keep-alive,
 * pipelining, back-pressure, size caps), request routing, fault injection and the request
 * log. The provider semantics (auth, validation, replies) live in sim_api.c. */
#include <http_parser.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "rerr.h"
#include "sim.h"
#include "sim_srv.h"

#define MAX_HEAD (64 * 1024)  /* request line + headers */
#define MAX_BODY (64 * 1024)
#define BP_HIGH (4u * 1024 * 1024)
#define BP_LOW (1u * 1024 * 1024)

typedef struct wreq {
  uv_write_t req;
  sim_conn *c;
  char *owned;
} wreq;

static void conn_close(sim_conn *c);
static void conn_process(sim_conn *c, const char *data, size_t len);
static void arm_guard(sim_conn *c);

double sim_now(sim_t *s) { return rclock_now(s->clock) - s->t0 + s->t_offset; }

/* ---------------------------------------------------------------- replies */

static const char *reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 206: return "Partial Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
  }
}

/* Appends the status line and headers; content_length may differ from what follows
 * (the `truncated` fault). */
static void put_head(sim_conn *c, int status, const char *ctype, size_t content_length) {
  char hdr[320];
  const char *conn_hdr = c->stop_parsing ? "Connection: close\r\n"
                         : c->http10 ? "Connection: keep-alive\r\n" : "";
  int n = snprintf(hdr, sizeof hdr,
                   "HTTP/1.1 %d %s\r\nServer: recwatch-sim\r\nContent-Type: %s\r\n"
                   "Content-Length: %zu\r\n%s\r\n",
                   status, reason(status), ctype, content_length, conn_hdr);
  sbuf_add(&c->out, hdr, (size_t)n);
  c->status = status;
}

void sim_reply(sim_conn *c, int status, const char *ctype, const char *body, size_t len) {
  put_head(c, status, ctype, len);
  if (!c->is_head) sbuf_add(&c->out, body, len);
}

void sim_reply_json(sim_conn *c, int status, const char *body) {
  sim_reply(c, status, "application/json", body, strlen(body));
}

/* ---------------------------------------------------------------- writing */

static void update_reading(sim_conn *c) {
  int want = !c->closing && !c->stop_parsing && !c->delaying && !c->peer_eof && !c->bp_paused;
  if (want && !c->reading) {
    if (uv_read_start((uv_stream_t *)&c->tcp, sim_on_alloc, sim_on_read) == 0) c->reading = 1;
    else conn_close(c);
  } else if (!want && c->reading) {
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = 0;
  }
}

static void check_done(sim_conn *c) {
  if (!c->closing && c->close_after && c->out.len == 0 && c->writes == 0 && !c->delaying)
    conn_close(c);
}

static void on_write(uv_write_t *req, int status) {
  wreq *w = (wreq *)req;
  sim_conn *c = w->c;
  free(w->owned);
  free(w);
  c->writes--;
  if (c->closing) return;
  if (status < 0) {
    conn_close(c);
    return;
  }
  if (c->bp_paused && uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) < BP_LOW) {
    c->bp_paused = 0;
    update_reading(c);
  }
  check_done(c);
  arm_guard(c);
}

/* Queues buf (owned: freed after the write; else borrowed from the scenario). */
static int queue_write(sim_conn *c, char *base, size_t len, char *owned) {
  wreq *w = malloc(sizeof *w);
  uv_buf_t b = uv_buf_init(base, (unsigned)len);
  if (!w) {
    free(owned);
    return -1;
  }
  w->c = c;
  w->owned = owned;
  c->writes++;
  if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write) != 0) {
    c->writes--;
    free(owned);
    free(w);
    return -1;
  }
  return 0;
}

/* Sends c->out: uv_try_write first (the common case writes it all at once), the rest with
 * uv_write, handing the buffer over instead of copying it. -1 when the connection closed. */
static int flush_out(sim_conn *c) {
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
  } else {
    char *p = c->out.p;
    size_t len = c->out.len;
    c->out.p = NULL;
    c->out.len = c->out.cap = 0;
    if (queue_write(c, p + off, len - off, p) != 0) {
      conn_close(c);
      return -1;
    }
    if (uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > BP_HIGH) {
      c->bp_paused = 1;
      update_reading(c);
    }
  }
  return 0;
}

static void conn_flush(sim_conn *c) {
  if (flush_out(c) == 0) check_done(c);
}

/* A reply whose body is borrowed from the scenario (the `huge` fault): head now, body by
 * reference, in order. */
void sim_reply_borrowed(sim_conn *c, int status, const char *ctype, const char *body,
                        size_t len) {
  put_head(c, status, ctype, len);
  if (c->is_head) return;
  if (flush_out(c) != 0) return;  /* no check_done here: the body is still to come */
  if (queue_write(c, (char *)body, len, NULL) != 0) {
    conn_close(c);
    return;
  }
  c->bp_paused = 1;
  update_reading(c);
}

/* ---------------------------------------------------------------- request log */

void sim_log_request(sim_conn *c, const char *provider, int auth, const char *fault) {
  sim_t *s = c->sim;
  sbuf *b = &s->logline;
  const char *m = http_method_str((enum http_method)c->parser.method);
  if (!s->logf) return;
  b->len = 0;
  sbuf_addf(b, "{\"t\":%.3f,\"method\":", c->req_t);
  sbuf_add_json_str(b, m, strlen(m));
  sbuf_adds(b, ",\"path\":");
  sbuf_add_json_str(b, c->path, c->pathlen);
  sbuf_adds(b, ",\"query\":");
  sbuf_add_json_str(b, c->query, c->querylen);
  sbuf_adds(b, ",\"provider\":");
  if (provider) sbuf_add_json_str(b, provider, strlen(provider));
  else sbuf_adds(b, "null");
  sbuf_addf(b, ",\"auth\":%s,\"status\":%d,\"fault\":", auth ? "true" : "false", c->status);
  if (fault) sbuf_add_json_str(b, fault, strlen(fault));
  else sbuf_adds(b, "null");
  sbuf_adds(b, "}\n");
  if (b->p) {
    fwrite(b->p, 1, b->len, s->logf);
    fflush(s->logf);
  }
}

/* ---------------------------------------------------------------- faults */

static uint64_t rng_next(uint64_t *x) {  /* xorshift64* */
  *x ^= *x >> 12;
  *x ^= *x << 25;
  *x ^= *x >> 27;
  return *x * 0x2545F4914F6CDD1DULL;
}

/* The first fault that applies to this request (its number per provider scope), or NULL. */
static sim_fault *pick_fault(sim_conn *c, int provider) {
  sim_scenario *sc = c->sim->sc;
  double now = c->req_t;
  size_t i, j;
  for (i = 0; i < sc->nfaults; i++) {
    sim_fault *f = &sc->faults[i];
    long n;
    int hit;
    if (f->provider != SIM_P_ANY && f->provider != provider) continue;
    if (provider == SIM_P_WEBHOOK && f->provider != SIM_P_WEBHOOK) continue;
    if (now < f->after || (f->before >= 0 && now >= f->before)) continue;
    if (f->times > 0 && f->fired >= f->times) continue;
    if (f->match) {
      size_t ml = strlen(f->match), k;
      int found = 0;
      for (k = 0; !found && ml <= c->pathlen && k + ml <= c->pathlen; k++)
        found = memcmp(c->path + k, f->match, ml) == 0;
      if (!found) continue;
    }
    n = c->sim->reqno[f->provider];
    if (f->nnth) {
      hit = 0;
      for (j = 0; j < f->nnth; j++)
        if (f->nth[j] == n) hit = 1;
    } else if (f->every > 0) {
      hit = n % f->every == 0;
    } else if (f->probability >= 0) {
      hit = (double)(rng_next(&f->rng) >> 11) / 9007199254740992.0 < f->probability;
    } else {
      hit = 1;
    }
    if (hit) {
      f->fired++;
      return f;
    }
  }
  return NULL;
}

static const char html500[] =
    "<html>\r\n<head><title>500 Internal Server Error</title></head>\r\n<body>\r\n"
    "<center><h1>500 Internal Server Error</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n";

/* Answers with the fault; returns 0, or 1 when the request must be answered normally
 * later (delay). */
static int apply_fault(sim_conn *c, sim_fault *f, int provider) {
  switch (f->kind) {
    case SIM_F_DELAY:
      c->delaying = 1;
      c->delayed_fault = f;
      update_reading(c);
      rtimer_start(&c->timer, (double)f->delay_ms / 1000.0);
      rclock_park(c->sim->clock, c->sim->port, c->peer_port);
      return 1;
    case SIM_F_500_HTML:
      sim_reply(c, 500, "text/html", html500, sizeof html500 - 1);
      break;
    case SIM_F_AGORA_206:
      sim_reply_json(c, 206, "{\"code\":65,\"reason\":\"request not completed\"}");
      break;
    case SIM_F_AGORA_504:
      sim_reply_json(c, 504, "{\"code\":62,\"reason\":\"request timeout\"}");
      break;
    case SIM_F_DROP:
      c->status = 0;
      c->stop_parsing = 1;
      c->close_after = 1;
      break;
    case SIM_F_MALFORMED:
      sim_reply_json(c, 200, provider == SIM_P_QC
                                 ? "{\"code\":\"success\",\"offset\":0,\"limit\":20,\"recinfos\":"
                                   "[{\"id\":39,\"status\":2,,}"
                                 : "{\"resourceId\":\"sim\",\"sid\":\"sim\",\"serverResponse\":"
                                   "{\"status\":5,\"fileList\":[{\"fileName\":}");
      break;
    case SIM_F_TRUNCATED: {
      static const char part[] =
          "{\"code\":\"success\",\"offset\":0,\"limit\":20,\"recinfos\":[{\"id\":39,\"status\":2,"
          "\"channel\":\"demo-channel\",\"host\":\"rtc-rec-gw-sim-1\"";
      c->stop_parsing = 1;
      c->close_after = 1;
      put_head(c, 200, "application/json", 4096);
      if (!c->is_head) sbuf_add(&c->out, part, sizeof part - 1);
      break;
    }
    case SIM_F_HUGE:
      sim_reply_borrowed(c, 200, "application/json", f->huge_body, f->bytes);
      break;
    case SIM_F_429:
      sim_reply_json(c, 429, provider == SIM_P_QC
                                 ? "{\"code\":\"RequestLimitExceeded\",\"message\":"
                                   "\"API rate limit exceeded\"}"
                                 : "{\"message\":\"API rate limit exceeded\"}");
      break;
    default:
      break;
  }
  return 0;
}

/* ---------------------------------------------------------------- routing */

static const char no_route[] = "{\"message\":\"no Route matched with those values\"}";
static const char webhook_path[] = "/_sim/webhook";

/* The webhook sink: a POST here is an alert "arriving"; it is logged and answered the way
 * the chat-ops robots answer success ({"errcode":0,"code":0}), so demos under --sim show
 * the whole delivery path. */
/* Webhook bodies are kept for sim_webhook (recwatch test's t:webhooks()). */
static void keep_webhook(sim_t *s, const char *body, size_t len) {
  char *copy;
  if (s->nhooks == s->caphooks) {
    size_t ncap = s->caphooks ? 2 * s->caphooks : 16;
    sbuf *g = realloc(s->hooks, ncap * sizeof *g);
    if (!g) return;
    s->hooks = g;
    s->caphooks = ncap;
  }
  if (!(copy = malloc(len + 1))) return;
  memcpy(copy, body, len);
  copy[len] = '\0';
  s->hooks[s->nhooks].p = copy;
  s->hooks[s->nhooks].len = s->hooks[s->nhooks].cap = len;
  s->nhooks++;
}

const char *sim_webhook(sim_t *s, size_t i, size_t *len) {
  if (i >= s->nhooks) return NULL;
  *len = s->hooks[i].len;
  return s->hooks[i].p;
}

static int webhook_sink(sim_conn *c, int resumed) {
  char excerpt[512];
  sim_fault *f = NULL;
  if (c->pathlen != sizeof webhook_path - 1 || memcmp(c->path, webhook_path, c->pathlen) != 0)
    return 0;
  if (c->parser.method == HTTP_POST && !resumed) {  /* faults that name "webhook" */
    c->sim->reqno[SIM_P_WEBHOOK]++;
    if ((f = pick_fault(c, SIM_P_WEBHOOK)) != NULL) {
      if (apply_fault(c, f, SIM_P_WEBHOOK)) return 1;  /* delay: answered by sim_on_delay */
      sim_log_request(c, "webhook", 0, sim_fault_names[f->kind]);
      return 1;
    }
  }
  if (c->parser.method != HTTP_POST) {
    sim_reply_json(c, 404, no_route);
  } else {
    rec_excerpt(excerpt, sizeof excerpt, c->body.p, c->body.len);
    log_info("sim: webhook received: %s", excerpt);
    keep_webhook(c->sim, c->body.p ? c->body.p : "", c->body.len);
    sim_reply_json(c, 200, "{\"errcode\":0,\"code\":0,\"ok\":true}");
  }
  sim_log_request(c, c->parser.method == HTTP_POST ? "webhook" : NULL, 0, resumed ? "delay" : NULL);
  return 1;
}

static void handle(sim_conn *c, int resumed) {
  sim_t *s = c->sim;
  struct http_parser_url u;
  int provider = -1, auth = 0;
  sim_fault *f = NULL;
  const char *pname = NULL;
  sim_api_req req;

  if (!resumed) {
    c->req_t = sim_now(s);
    c->is_head = c->parser.method == HTTP_HEAD;
    c->http10 = c->parser.http_major == 1 && c->parser.http_minor == 0;
    if (!http_should_keep_alive(&c->parser) || c->parser.upgrade) c->stop_parsing = 1;
    if (c->stop_parsing) c->close_after = 1;
    c->status = 0;
    sbuf_add(&c->url, "", 0);
    http_parser_url_init(&u);
    if (!c->url.p || http_parser_parse_url(c->url.p, c->url.len, 0, &u) != 0 ||
        !(u.field_set & (1 << UF_PATH))) {
      c->path = c->query = "";
      c->pathlen = c->querylen = 0;
      c->stop_parsing = c->close_after = 1;
      sim_reply_json(c, 400, "{\"message\":\"bad request\"}");
      sim_log_request(c, NULL, 0, NULL);
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
  }

  if (webhook_sink(c, resumed)) return;
  memset(&req, 0, sizeof req);
  req.c = c;
  if (sim_api_route(c, &req) == 0) {
    if (c->parser.method == HTTP_GET) provider = req.provider;
  }
  if (provider < 0) {
    sim_reply_json(c, 404, no_route);
    sim_log_request(c, NULL, 0, NULL);
    return;
  }
  pname = provider == SIM_P_AGORA ? "agora" : "qingcloud";
  if (!resumed) {
    s->reqno[SIM_P_ANY]++;
    s->reqno[provider]++;
    f = pick_fault(c, provider);
  }
  auth = sim_api_auth(&req);
  if (f) {
    if (apply_fault(c, f, provider)) return; /* delay: answered by sim_on_delay */
    sim_log_request(c, pname, auth, sim_fault_names[f->kind]);
    return;
  }
  sim_api_answer(&req);
  sim_log_request(c, pname, auth, resumed ? "delay" : NULL);
}

/* ---------------------------------------------------------------- http_parser callbacks */

static void on_guard(uv_timer_t *t);

static int cb_begin(http_parser *p) {
  sim_conn *c = p->data;
  /* the whole request must arrive within header_ms of its first byte (slowloris) */
  c->in_message = 1;
  uv_timer_start(&c->guard, on_guard, c->sim->header_ms, 0);
  c->url.len = 0;
  c->body.len = 0;
  c->auth.len = 0;
  c->field.len = 0;
  c->has_auth = 0;
  c->in_auth = 0;
  c->last_value = 0;
  c->head_bytes = 0;
  c->body_bytes = 0;
  return 0;
}

static int count_head(sim_conn *c, size_t n) {
  c->head_bytes += n;
  if (c->head_bytes > MAX_HEAD) {
    c->err_status = 431;
    return 1;
  }
  return 0;
}

static int cb_url(http_parser *p, const char *at, size_t n) {
  sim_conn *c = p->data;
  if (count_head(c, n)) return 1;
  sbuf_add(&c->url, at, n);
  return 0;
}

static int cb_field(http_parser *p, const char *at, size_t n) {
  sim_conn *c = p->data;
  if (count_head(c, n)) return 1;
  if (c->last_value) {
    c->field.len = 0;
    c->last_value = 0;
  }
  if (c->field.len < 32) sbuf_add(&c->field, at, n < 32 ? n : 32);
  return 0;
}

static int cb_value(http_parser *p, const char *at, size_t n) {
  sim_conn *c = p->data;
  if (count_head(c, n)) return 1;
  if (!c->last_value) {
    c->last_value = 1;
    c->in_auth = c->field.len == 13 && strncasecmp(c->field.p, "authorization", 13) == 0;
    if (c->in_auth) {
      c->has_auth = 1;
      c->auth.len = 0;
    }
  }
  if (c->in_auth) sbuf_add(&c->auth, at, n);
  return 0;
}

static int cb_body(http_parser *p, const char *at, size_t n) {
  sim_conn *c = p->data;
  c->body_bytes += n;
  if (c->body_bytes > MAX_BODY) {
    c->err_status = 413;
    return 1;
  }
  sbuf_add(&c->body, at, n);
  return 0;
}

static int cb_complete(http_parser *p) {
  sim_conn *c = p->data;
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

static void conn_process(sim_conn *c, const char *data, size_t len) {
  while (len > 0 && !c->closing && !c->stop_parsing) {
    size_t n;
    enum http_errno e;
    if (c->delaying) {  /* keep the rest (pipelined requests) for after the delay */
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
      handle(c, 0);
      continue;
    }
    if (e != HPE_OK || n < len) {
      int st = c->err_status ? c->err_status : e == HPE_HEADER_OVERFLOW ? 431 : 400;
      c->stop_parsing = c->close_after = 1;
      c->is_head = 0;
      sim_reply_json(c, st, st == 431   ? "{\"message\":\"Request header fields too large\"}"
                            : st == 413 ? "{\"message\":\"Request body too large\"}"
                                        : "{\"message\":\"bad request\"}");
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
 * given header_ms from its first byte in cb_begin. A delayed reply is the server's doing:
 * no timeout then. Real time on purpose: these protect descriptors, not the story. */
static void arm_guard(sim_conn *c) {
  if (c->closing || c->in_message) return;
  if (c->delaying) {
    uv_timer_stop(&c->guard);
    return;
  }
  c->idle_since = uv_now(c->sim->loop);
  uv_timer_start(&c->guard, on_guard, c->sim->idle_ms, 0);
}

static void on_guard(uv_timer_t *t) {
  sim_conn *c = t->data;
  if (c->closing || c->delaying) return;
  conn_close(c);  /* idle too long, or a request that trickles in too slowly */
}

static int conn_idle(const sim_conn *c) {
  return !c->closing && !c->in_message && !c->delaying && c->writes == 0 && c->out.len == 0;
}

/* Closes the connection idle the longest (not except); returns 0 when none is idle. */
static int shed_idle(sim_t *s, const sim_conn *except) {
  sim_conn *c, *oldest = NULL;
  for (c = s->conns; c; c = c->next)
    if (c != except && conn_idle(c) && (!oldest || c->idle_since <= oldest->idle_since))
      oldest = c;
  if (!oldest) return 0;
  s->shed++;
  conn_close(oldest);
  return 1;
}

/* Raises the soft descriptor limit to the hard one and keeps headroom below it for the
 * process's other files (the log, libcurl's sockets when embedded). */
static void set_conn_limit(sim_t *s) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  if (rl.rlim_cur < rl.rlim_max) {
    rlim_t want = rl.rlim_max;
    rl.rlim_cur = want;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) getrlimit(RLIMIT_NOFILE, &rl);
  }
  if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 1000000) rl.rlim_cur = 1000000;
  s->max_conns = (long)rl.rlim_cur - 64 - (long)rl.rlim_cur / 16;
  if (s->max_conns < 16) s->max_conns = 16;
}

void sim_on_delay(rtimer_t *t) {
  sim_conn *c = t->data;
  char *rest = c->in;
  size_t len = c->in_len;
  rclock_unpark(c->sim->clock, c->sim->port, c->peer_port);
  c->delaying = 0;
  c->in = NULL;
  c->in_len = 0;
  if (c->closing) {
    free(rest);
    return;
  }
  handle(c, 1);
  if (rest) conn_process(c, rest, len);
  else {
    conn_flush(c);
    update_reading(c);
  }
  free(rest);
  arm_guard(c);
}

void sim_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  sim_conn *c = h->data;
  buf->base = c->sim->rbuf;
  buf->len = sizeof c->sim->rbuf;
}

void sim_on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
  sim_conn *c = st->data;
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

static void maybe_free_sim(sim_t *s) {
  if (!s->freeing || s->listener_open || s->conns) return;
  sim_scenario_free(s->sc);
  while (s->nhooks > 0) free(s->hooks[--s->nhooks].p);
  free(s->hooks);
  if (s->logf) fclose(s->logf);
  sbuf_free(&s->scratch);
  sbuf_free(&s->qbuf);
  sbuf_free(&s->logline);
  free(s);
}

static void on_conn_closed(uv_handle_t *h) {
  sim_conn *c = h->data;
  sim_t *s = c->sim;
  if (--c->open_handles > 0) return;
  if (c->prev) c->prev->next = c->next;
  else s->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  sbuf_free(&c->url);
  sbuf_free(&c->body);
  sbuf_free(&c->auth);
  sbuf_free(&c->field);
  sbuf_free(&c->out);
  free(c->in);
  free(c);
  s->nconns--;
  maybe_free_sim(s);
}

static void conn_close(sim_conn *c) {
  if (c->closing) return;
  c->closing = 1;
  c->reading = 0;
  if (rtimer_active(&c->timer)) rclock_unpark(c->sim->clock, c->sim->port, c->peer_port);
  rtimer_stop(&c->timer);
  uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
  uv_close((uv_handle_t *)&c->guard, on_conn_closed);
}

static sim_conn *conn_new(sim_t *s) {
  sim_conn *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->sim = s;
  uv_tcp_init(s->loop, &c->tcp);
  rtimer_init(s->clock, &c->timer, sim_on_delay, c);
  uv_timer_init(s->loop, &c->guard);  /* real time: it guards descriptors, not the story */
  c->tcp.data = c->guard.data = c;
  c->open_handles = 2;
  c->next = s->conns;
  if (s->conns) s->conns->prev = c;
  s->conns = c;
  s->nconns++;
  if (s->embedded) {
    uv_unref((uv_handle_t *)&c->tcp);
    uv_unref((uv_handle_t *)&c->guard);
    rtimer_unref(&c->timer);
  }
  return c;
}

static void conn_ready(sim_conn *c) {
  http_parser_init(&c->parser, HTTP_REQUEST);
  c->parser.data = c;
  update_reading(c);
  arm_guard(c);
}

static void on_connection(uv_stream_t *server, int status) {
  sim_t *s = server->data;
  sim_conn *c;
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
  conn_ready(c);
}

int sim_adopt_fd(sim_t *s, int fd) {
  sim_conn *c;
  if (!s || s->freeing || (c = conn_new(s)) == NULL) return -1;
  if (uv_tcp_open(&c->tcp, (uv_os_sock_t)fd) != 0) {
    conn_close(c);
    return -1;
  }
  conn_ready(c);
  return 0;
}

/* ---------------------------------------------------------------- public API */

static void on_listener_closed(uv_handle_t *h) {
  sim_t *s = h->data;
  s->listener_open = 0;
  maybe_free_sim(s);
}

/* A timeout in seconds: 0 (or anything not in (0, 1 day]) means the default. */
static double sim_timeout(double v, double def) { return v > 0 && v <= 86400 ? v : def; }
/* sim_start failed before anything was listening. */
static void drop_unstarted(sim_t *s) {
  if (s->own_clock) rclock_free(s->clock);
  free(s);
}

sim_t *sim_start(uv_loop_t *loop, const sim_options *opt, char *err, size_t errlen) {
  sim_t *s = calloc(1, sizeof *s);
  const char *host = opt && opt->host ? opt->host : "127.0.0.1";
  struct sockaddr_storage ss;
  int namelen = sizeof ss, rc, v6 = strchr(host, ':') != NULL;
  char shown[64];
  if (!s) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  s->loop = loop;
  s->embedded = opt ? opt->embedded : 0;
  s->idle_ms = (uint64_t)(sim_timeout(opt ? opt->idle_timeout : 0, 60) * 1000);
  s->header_ms = (uint64_t)(sim_timeout(opt ? opt->header_timeout : 0, 10) * 1000);
  set_conn_limit(s);
  s->clock = opt ? opt->clock : NULL;
  if (!s->clock) {
    s->clock = rclock_new(loop, 0, 0);
    s->own_clock = 1;
    if (!s->clock) {
      snprintf(err, errlen, "out of memory");
      free(s);
      return NULL;
    }
  }
  s->t_offset = opt && opt->start_at > 0 && opt->start_at < 1e9 ? opt->start_at : 0;
  s->wall0 = (time_t)rclock_time(s->clock) - (time_t)s->t_offset;
  s->t0 = rclock_now(s->clock);
  memset(&ss, 0, sizeof ss);
  if (opt && (opt->port < 0 || opt->port > 65535)) {
    snprintf(err, errlen, "bad port %d", opt->port);
    drop_unstarted(s);
    return NULL;
  }
  rc = v6 ? uv_ip6_addr(host, opt ? opt->port : 0, (struct sockaddr_in6 *)&ss)
          : uv_ip4_addr(host, opt ? opt->port : 0, (struct sockaddr_in *)&ss);
  if (rc != 0) {
    snprintf(err, errlen, "bad listen address '%s'", host);
    drop_unstarted(s);
    return NULL;
  }
  s->sc = sim_scenario_load(opt ? opt->scenario_path : NULL, s->wall0, err, errlen);
  if (!s->sc) {
    drop_unstarted(s);
    return NULL;
  }
  if (opt && opt->log_requests_path) {
    s->logf = fopen(opt->log_requests_path, "a");  /* append: a file emptied meanwhile stays clean */
    if (!s->logf) {
      snprintf(err, errlen, "cannot open %s for writing", opt->log_requests_path);
      sim_scenario_free(s->sc);
      drop_unstarted(s);
      return NULL;
    }
  }
  uv_tcp_init(loop, &s->listener);
  s->listener.data = s;
  s->listener_open = 1;
  if (s->embedded) uv_unref((uv_handle_t *)&s->listener);
  rc = uv_tcp_bind(&s->listener, (const struct sockaddr *)&ss, 0);
  if (rc == 0) rc = uv_listen((uv_stream_t *)&s->listener, 511, on_connection);
  if (rc == 0)
    rc = uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &namelen);
  if (rc != 0) {
    snprintf(err, errlen, "cannot listen on %s:%d: %s", host, opt ? opt->port : 0,
             uv_strerror(rc));
    sim_free(s);  /* freed when the loop runs the close callback */
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

void sim_get_info(sim_t *s, sim_info *out) {
  memset(out, 0, sizeof *out);
  if (!s) return;
  out->port = s->port;
  out->base_url = s->base_url;
  out->agora_customer_id = s->sc->ag[0].id;
  out->agora_customer_secret = s->sc->ag[0].secret;
  out->qc_access_key_id = s->sc->qc[0].id;
  out->qc_secret_access_key = s->sc->qc[0].secret;
}

void sim_free(sim_t *s) {
  sim_conn *c;
  if (!s || s->freeing) return;
  s->freeing = 1;
  if (s->listener_open && !uv_is_closing((uv_handle_t *)&s->listener))
    uv_close((uv_handle_t *)&s->listener, on_listener_closed);
  for (c = s->conns; c; c = c->next) conn_close(c);
  if (s->own_clock) rclock_free(s->clock);
  s->clock = NULL;
}
