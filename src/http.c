/* http: curl multi on libuv (CURLMOPT_SOCKETFUNCTION + TIMERFUNCTION, one uv_poll_t per
 * socket, as in curl's docs/examples/multi-uv.c). curl is never called from inside its own
 * callbacks; poll handles are stopped before curl closes their socket. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <curl/curl.h>
#include "http.h"
#include "log.h"
#include "rclock.h"

struct http_client {
  uv_loop_t *loop;
  CURLM *multi;
  uv_timer_t *timer;             /* curl's timeout; freed in its close callback */
  http_client_options opt;
  char *ca_file;
  int active;
  http_req_t *reqs;              /* in flight, for http_client_free */
  http_req_t *pool;              /* finished requests kept with their easy handle for reuse */
  int npool;
  rclock_t *clock;               /* virtual time: request timeouts are engine timers */
};

/* Finished requests kept for reuse: creating and destroying a curl easy handle per request
 * cost more than a reset (bench/: ~13k instructions per query). */
#define POOL_MAX 256
/* Reply buffers larger than this are not kept in the pool. */
#define POOL_KEEP_BUFFER (64 * 1024)

struct http_req {
  http_client_t *client;
  http_req_t *prev, *next;
  CURL *easy;
  struct curl_slist *headers;
  http_done_cb cb;
  void *ud;
  char *body;
  size_t body_len, body_cap, max_reply;
  char *hdrs;
  size_t hdrs_len, hdrs_cap;
  int too_big;
  double timeout;
  rtimer_t vtimeout;             /* the request's timeout on a virtual clock */
  char method[16];
  char url_for_log[256];
  char errbuf[CURL_ERROR_SIZE];
};

typedef struct sock_ctx {
  uv_poll_t poll;
  curl_socket_t fd;
  http_client_t *client;
} sock_ctx;

int http_global_init(void) {
  return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void http_global_cleanup(void) { curl_global_cleanup(); }

static void unlink_req(http_req_t *req) {
  http_client_t *c = req->client;
  if (req->vtimeout.clock) rtimer_stop(&req->vtimeout);
  curl_multi_remove_handle(c->multi, req->easy);
  if (req->prev) req->prev->next = req->next;
  else c->reqs = req->next;
  if (req->next) req->next->prev = req->prev;
  c->active--;
}

static void destroy_req(http_req_t *req) {
  curl_easy_cleanup(req->easy);
  curl_slist_free_all(req->headers);
  free(req->body);
  free(req->hdrs);
  free(req);
}

/* Puts a finished (unlinked) request back in the pool, or destroys it. */
static void free_req(http_req_t *req) {
  http_client_t *c = req->client;
  if (c->npool >= POOL_MAX) {
    destroy_req(req);
    return;
  }
  curl_easy_reset(req->easy);  /* every option back to its default; connections stay */
  curl_slist_free_all(req->headers);
  req->headers = NULL;
  if (req->body_cap > POOL_KEEP_BUFFER) {
    free(req->body);
    req->body = NULL;
    req->body_cap = 0;
  }
  if (req->hdrs_cap > POOL_KEEP_BUFFER) {
    free(req->hdrs);
    req->hdrs = NULL;
    req->hdrs_cap = 0;
  }
  req->next = c->pool;
  c->pool = req;
  c->npool++;
}

/* A request ready to configure: from the pool (buffers kept, lengths reset) or new. */
static http_req_t *take_req(http_client_t *c) {
  http_req_t *req = c->pool;
  if (req) {
    c->pool = req->next;
    c->npool--;
  } else {
    req = calloc(1, sizeof *req);
    if (!req) return NULL;
    if (!(req->easy = curl_easy_init())) {
      free(req);
      return NULL;
    }
  }
  req->client = c;
  req->prev = req->next = NULL;
  req->body_len = req->hdrs_len = 0;
  req->too_big = 0;
  req->errbuf[0] = '\0';
  return req;
}

static int append(char **buf, size_t *len, size_t *cap, const char *data, size_t n) {
  if (*len + n + 1 > *cap) {
    size_t ncap = *cap ? *cap : 1024;
    char *nb;
    while (ncap < *len + n + 1) ncap *= 2;
    nb = realloc(*buf, ncap);
    if (!nb) return -1;
    *buf = nb;
    *cap = ncap;
  }
  memcpy(*buf + *len, data, n);
  *len += n;
  (*buf)[*len] = '\0';
  return 0;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud) {
  http_req_t *req = ud;
  size_t n = size * nmemb;
  if (req->body_len + n > req->max_reply) {
    req->too_big = 1;
    return 0;  /* aborts the transfer with CURLE_WRITE_ERROR */
  }
  if (append(&req->body, &req->body_len, &req->body_cap, data, n) != 0) return 0;
  return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud) {
  http_req_t *req = ud;
  size_t n = size * nmemb;
  if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) req->hdrs_len = 0;  /* keep the final one */
  if (req->hdrs_len + n > 256 * 1024) return 0;
  if (append(&req->hdrs, &req->hdrs_len, &req->hdrs_cap, data, n) != 0) return 0;
  return n;
}

static double parse_retry_after(const char *hdrs) {
  const char *p = hdrs;
  while (p && *p) {
    if (strncasecmp(p, "retry-after:", 12) == 0) {
      char *end;
      double v = strtod(p + 12, &end);
      return (end != p + 12 && v > 0) ? v : 0;
    }
    p = strchr(p, '\n');
    if (p) p++;
  }
  return 0;
}

static void transport_error(http_req_t *req, CURLcode rc, rec_err *err) {
  const char *detail = req->errbuf[0] ? req->errbuf : curl_easy_strerror(rc);
  const char *where = req->url_for_log;
  switch (rc) {
  case CURLE_OPERATION_TIMEDOUT:
    rec_err_set(err, REC_E_TIMEOUT, 0, "%s %s: timed out after %g s", req->method, where,
                req->timeout);
    break;
  case CURLE_WRITE_ERROR:
  case CURLE_FILESIZE_EXCEEDED:
    if (req->too_big || rc == CURLE_FILESIZE_EXCEEDED) {
      rec_err_set(err, REC_E_PROTOCOL, 0, "%s %s: reply larger than %zu bytes (the cap)",
                  req->method, where, req->max_reply);
    } else {
      rec_err_set(err, REC_E_NETWORK, 0, "%s %s: %s", req->method, where, detail);
    }
    break;
  case CURLE_PARTIAL_FILE:
  case CURLE_WEIRD_SERVER_REPLY:
  case CURLE_BAD_CONTENT_ENCODING:
  case CURLE_HTTP2:
    rec_err_set(err, REC_E_PROTOCOL, 0, "%s %s: malformed reply: %s", req->method, where, detail);
    err->retryable = 1;  /* a cut-off reply is usually transient */
    break;
  case CURLE_URL_MALFORMAT:
  case CURLE_UNSUPPORTED_PROTOCOL:
    rec_err_set(err, REC_E_INVALID_ARGUMENT, 0, "%s %s: %s", req->method, where, detail);
    break;
  default:  /* refused, reset, DNS, TLS, empty reply */
    rec_err_set(err, REC_E_NETWORK, 0, "%s %s: %s", req->method, where, detail);
    break;
  }
  log_redact(err->message, sizeof err->message);
}

static void check_multi_info(http_client_t *c) {
  CURLMsg *msg;
  int pending;
  while ((msg = curl_multi_info_read(c->multi, &pending)) != NULL) {
    http_req_t *req = NULL;
    if (msg->msg != CURLMSG_DONE) continue;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&req);
    CURLcode rc = msg->data.result;
    unlink_req(req);
    if (rc == CURLE_OK) {
      http_response res;
      memset(&res, 0, sizeof res);
      curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &res.status);
      res.body = req->body ? req->body : "";
      res.body_len = req->body_len;
      res.headers = req->hdrs ? req->hdrs : "";
      res.headers_len = req->hdrs_len;
      res.retry_after = parse_retry_after(res.headers);
      req->cb(req->ud, &res, NULL);
    } else {
      rec_err err;
      transport_error(req, rc, &err);
      req->cb(req->ud, NULL, &err);
    }
    free_req(req);
  }
}

static void on_poll_close(uv_handle_t *h) { free(h->data); }

static void on_poll(uv_poll_t *h, int status, int events) {
  sock_ctx *ctx = h->data;
  http_client_t *c = ctx->client;
  int flags = 0, running;
  if (status < 0) flags = CURL_CSELECT_ERR;
  if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
  curl_multi_socket_action(c->multi, ctx->fd, flags, &running);
  check_multi_info(c);
}

static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp) {
  http_client_t *c = userp;
  sock_ctx *ctx = socketp;
  int events = 0;
  if (what == CURL_POLL_REMOVE) {
    if (ctx) {
      uv_poll_stop(&ctx->poll);
      uv_close((uv_handle_t *)&ctx->poll, on_poll_close);
      curl_multi_assign(c->multi, s, NULL);
    }
    return 0;
  }
  if (!ctx) {
    ctx = calloc(1, sizeof *ctx);
    if (!ctx) return -1;
    ctx->fd = s;
    ctx->client = c;
    if (uv_poll_init_socket(c->loop, &ctx->poll, s) != 0) {
      free(ctx);
      return -1;
    }
    ctx->poll.data = ctx;
    curl_multi_assign(c->multi, s, ctx);
  }
  if (what & CURL_POLL_IN) events |= UV_READABLE;
  if (what & CURL_POLL_OUT) events |= UV_WRITABLE;
  uv_poll_start(&ctx->poll, events, on_poll);
  return 0;
}

static void on_timeout(uv_timer_t *t) {
  http_client_t *c = t->data;
  int running;
  curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  check_multi_info(c);
}

static int on_timer(CURLM *multi, long timeout_ms, void *userp) {
  http_client_t *c = userp;
  if (timeout_ms < 0) uv_timer_stop(c->timer);
  else uv_timer_start(c->timer, on_timeout, (uint64_t)timeout_ms, 0);
  return 0;
}

static void apply_options(http_client_t *c, const http_client_options *opt) {
  c->opt.max_reply = opt && opt->max_reply ? opt->max_reply : HTTP_DEFAULT_MAX_REPLY;
  c->opt.max_host_connections =
      opt && opt->max_host_connections > 0 ? opt->max_host_connections : 64;
  if (opt && opt->ca_file) {
    free(c->ca_file);
    c->ca_file = strdup(opt->ca_file);
  }
  curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, c->opt.max_host_connections);
  curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, c->opt.max_host_connections * 2);
}

http_client_t *http_client_new(uv_loop_t *loop, const http_client_options *opt) {
  http_client_t *c;
  c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->loop = loop;
  c->multi = curl_multi_init();
  c->timer = malloc(sizeof *c->timer);
  if (!c->multi || !c->timer) {
    if (c->multi) curl_multi_cleanup(c->multi);
    free(c->timer);
    free(c);
    return NULL;
  }
  uv_timer_init(loop, c->timer);
  c->timer->data = c;
  curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
  curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_timer);
  curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
  apply_options(c, opt);
  return c;
}

void http_client_set_options(http_client_t *c, const http_client_options *opt) {
  apply_options(c, opt);
}

void http_client_set_clock(http_client_t *c, rclock_t *clock) { c->clock = clock; }

int http_busy(http_client_t *c) {
  http_req_t *req;
  int n = 0;
  if (!c->clock || rclock_parked_count(c->clock) == 0) return c->active;
  for (req = c->reqs; req; req = req->next) {
    long local = 0, remote = 0;
    curl_easy_getinfo(req->easy, CURLINFO_LOCAL_PORT, &local);
    curl_easy_getinfo(req->easy, CURLINFO_PRIMARY_PORT, &remote);
    if (!local || !rclock_is_parked(c->clock, (int)remote, (int)local)) n++;
  }
  return n;
}

/* Virtual time: the request's timeout came (curl's own is a real-time safety net only). */
static void on_vtimeout(rtimer_t *t) {
  http_req_t *req = t->data;
  rec_err err;
  unlink_req(req);
  rec_err_set(&err, REC_E_TIMEOUT, 0, "%s %s: timed out after %g s", req->method,
              req->url_for_log, req->timeout);
  req->cb(req->ud, NULL, &err);
  free_req(req);
}

static void on_timer_close(uv_handle_t *h) { free(h); }

void http_client_free(http_client_t *c) {
  if (!c) return;
  while (c->reqs) {
    http_req_t *req = c->reqs;
    unlink_req(req);
    destroy_req(req);
  }
  while (c->pool) {
    http_req_t *req = c->pool;
    c->pool = req->next;
    destroy_req(req);
  }
  curl_multi_cleanup(c->multi);  /* closes cached connections; REMOVEs their polls */
  uv_close((uv_handle_t *)c->timer, on_timer_close);
  free(c->ca_file);
  free(c);
}

/* Keeps scheme://host[:port]/first-segment: webhook URLs carry their token in the path
 * (Slack /services/T/B/TOKEN, Feishu /bot/v2/hook/TOKEN) or query, and userinfo is a password. */
void http_url_for_log(const char *url, char *out, size_t outlen) {
  const char *scheme_end = strstr(url, "://"), *host = url, *at, *q, *seg;
  size_t n;
  if (scheme_end) host = scheme_end + 3;
  at = strchr(host, '@');
  q = strpbrk(host, "/?#");
  if (at && (!q || at < q)) {  /* drop user:password@ */
    n = (size_t)(host - url);
    snprintf(out, outlen, "%.*s%s", (int)n, url, at + 1);
  } else {
    snprintf(out, outlen, "%s", url);
  }
  q = strpbrk(out, "?#");
  if (q) out[q - out] = '\0';
  host = strstr(out, "://");
  host = host ? host + 3 : out;
  seg = strchr(host, '/');                /* the path */
  if (seg && (seg = strchr(seg + 1, '/')) != NULL && seg[1] && (size_t)(seg - out) + 5 < outlen)
    memcpy((char *)seg, "/...", 5);       /* only its first segment stays */
}

http_req_t *http_send(http_client_t *c, const http_request *r, http_done_cb cb, void *ud,
                      rec_err *err) {
  http_req_t *req = take_req(c);
  const char *method = r->method ? r->method : "GET";
  size_t i;
  if (!req) {
    rec_err_set(err, REC_E_NETWORK, 0, "out of memory starting a request");
    return NULL;
  }
  req->cb = cb;
  req->ud = ud;
  req->timeout = r->timeout > 0 ? r->timeout : 10;
  if (req->timeout > 1e9) req->timeout = 1e9;  /* "for ever" without overflowing the ms count */
  req->max_reply = r->max_reply ? r->max_reply : c->opt.max_reply;
  snprintf(req->method, sizeof req->method, "%s", method);
  for (i = 0; req->method[i]; i++)
    if (req->method[i] >= 'a' && req->method[i] <= 'z') req->method[i] = (char)(req->method[i] - 32);
  http_url_for_log(r->url, req->url_for_log, sizeof req->url_for_log);
  for (i = 0; r->headers && r->headers[i]; i++)
    req->headers = curl_slist_append(req->headers, r->headers[i]);
  req->headers = curl_slist_append(req->headers, "Expect:");

  CURL *e = req->easy;
  curl_easy_setopt(e, CURLOPT_URL, r->url);
  curl_easy_setopt(e, CURLOPT_PRIVATE, req);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, req->errbuf);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_USERAGENT, "recwatch/" RECWATCH_VERSION);
  if (c->clock && rclock_is_virtual(c->clock)) {
    /* virtual time: the timeout is an engine timer; curl keeps a real-time safety net so a
     * stuck real peer cannot hold the run (virtual time stands still while it waits) */
    rtimer_init(c->clock, &req->vtimeout, on_vtimeout, req);
    rtimer_start(&req->vtimeout, req->timeout);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)((req->timeout < 60 ? 60 : req->timeout) * 1000));
  } else {
    req->vtimeout.clock = NULL;
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(req->timeout * 1000));
  }
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(req->timeout < 10 ? req->timeout * 1000 : 10000));
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);  /* never off */
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
  if (c->ca_file) curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
  curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)req->max_reply);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, req);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, req);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, req->headers);
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
  if (r->body) {
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
    curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, r->body);
  }
  if (strcmp(req->method, "GET") == 0 && !r->body) {
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  } else if (strcmp(req->method, "HEAD") == 0) {
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  } else if (strcmp(req->method, "POST") != 0) {
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
  }
  if (curl_multi_add_handle(c->multi, e) != CURLM_OK) {
    rec_err_set(err, REC_E_NETWORK, 0, "%s %s: could not start the request", req->method,
                req->url_for_log);
    if (req->vtimeout.clock) rtimer_stop(&req->vtimeout);
    free_req(req);
    return NULL;
  }
  c->active++;
  req->next = c->reqs;
  if (c->reqs) c->reqs->prev = req;
  c->reqs = req;
  return req;
}

void http_cancel(http_req_t *req) {
  if (!req) return;
  unlink_req(req);
  free_req(req);
}

int http_active(http_client_t *c) { return c->active; }
