/* http: curl multi on libuv (CURLMOPT_SOCKETFUNCTION + TIMERFUNCTION). Three things differ
 * from curl's docs/examples/multi-uv.c, each measured in bench/ (docs/performance.md):
 * - recwatch keeps its own per-host FIFO and never hands curl more transfers than the host's
 *   connection limit: curl 7.88 parks the excess in its pending queue and retries a full
 *   connect for parked transfers every time one finishes;
 * - one uv_poll_t per socket for the socket's whole life, created and closed by curl's open
 *   and close socket callbacks (uv_close before the descriptor is closed), so a curl REMOVE
 *   only stops polling instead of closing and re-creating the handle (http_sock.c);
 * - provider GETs reuse easy handles without curl_easy_reset, with their constant options set
 *   once and a header list built once per distinct set of lines.
 * curl is never called from inside its own callbacks.
 * This file: the client, its requests and transfers (pools), the per-host waiting queue and
 * the driver (a ready socket or curl's timer -> curl -> finished transfers). Beside it, in
 * rooms of their own (shared structs in http_int.h): the text checks (http_check.c), the
 * parsed URLs (http_url.c), a transfer's reply and typed error (http_reply.c) and curl's
 * sockets (http_sock.c). */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <curl/curl.h>
#include "http_int.h"

static int curl_ready = 0;

/* libcurl itself is initialised by the first request (ensure_multi): the engine runs on one
 * thread, so that is safe, and a run without requests never pays for OpenSSL's set-up. */
int http_global_init(void) { return 0; }

void http_global_cleanup(void) {
  if (curl_ready) curl_global_cleanup();
  curl_ready = 0;
}

/* ---- requests, pools, queues ---- */

static void destroy_xfer(http_client_t *c, xfer *x) {
  c->nxfers--;
  curl_easy_cleanup(x->easy);
  free(x->body);
  free(x->hdrs);
  free(x);
}

/* Frees what a request holds besides its transfer. */
static void clear_req(http_req_t *req) {
  http__url_release(req);
  curl_slist_free_all(req->own_headers);
  req->own_headers = NULL;
  req->list = NULL;
  free(req->url_copy);
  req->url_copy = NULL;
}

static void destroy_req(http_req_t *req) {
  clear_req(req);
  if (req->x) destroy_xfer(req->client, req->x);
  free(req);
}

static void link_req(http_client_t *c, http_req_t *req) {
  req->prev = NULL;
  req->next = c->reqs;
  if (c->reqs) c->reqs->prev = req;
  c->reqs = req;
  c->active++;
}

static void unlink_req(http_req_t *req) {
  http_client_t *c = req->client;
  if (req->vtimeout.clock) rtimer_stop(&req->vtimeout);
  if (req->prev) req->prev->next = req->next;
  else c->reqs = req->next;
  if (req->next) req->next->prev = req->prev;
  c->active--;
}

/* Puts an idle transfer (no longer in curl) back in its pool, or destroys it. */
static void put_xfer(http_client_t *c, xfer *x) {
  x->req = NULL;
  if (c->npool >= POOL_MAX) {
    destroy_xfer(c, x);
    return;
  }
  if (x->body_cap > POOL_KEEP_BUFFER) {
    free(x->body);
    x->body = NULL;
    x->body_cap = 0;
  }
  if (x->hdrs_cap > POOL_KEEP_BUFFER) {
    free(x->hdrs);
    x->hdrs = NULL;
    x->hdrs_cap = 0;
  }
  if (x->keep) {
    x->next = c->pool_keep;
    c->pool_keep = x;
  } else {
    x->next = c->pool_reset;
    c->pool_reset = x;
  }
  c->npool++;
}

/* Recycles a finished (unlinked) request and its transfer. */
static void free_req(http_req_t *req) {
  http_client_t *c = req->client;
  clear_req(req);  /* before the transfer goes: it forgets the parsed URL */
  if (req->x) put_xfer(c, req->x);
  req->x = NULL;
  if (c->nspare >= POOL_MAX) {
    free(req);
    return;
  }
  req->next = c->spare;
  c->spare = req;
  c->nspare++;
}


/* The options every request of this client has, whatever its kind. A provider GET sends no
 * User-Agent: neither provider documents one (only the headers they ask for are sent). */
static void set_common(http_client_t *c, xfer *x, int keep) {
  CURL *e = x->easy;
  curl_easy_setopt(e, CURLOPT_PRIVATE, x);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  if (!keep) curl_easy_setopt(e, CURLOPT_USERAGENT, "recwatch/" RECWATCH_VERSION);
  if (c->no_proxy_env) {  /* libcurl would look up five variables for every transfer */
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_NOPROXY, "");
  }
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);  /* never off */
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, http__on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, http__on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
  curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, http__on_prereq);
  curl_easy_setopt(e, CURLOPT_PREREQDATA, x);
  curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, http__on_open_socket);
  curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, c);
  curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, http__on_close_socket);
  curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, c);
  curl_easy_setopt(e, CURLOPT_MAXAGE_CONN, (long)HTTP_MAX_CONN_AGE);
  if (c->ca_file) curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
  x->set_ca_gen = c->ca_gen;
  x->set_timeout_ms = x->set_connect_ms = -1;
  x->set_max_reply = 0;
}

/* A transfer for req, ready to configure: from the right pool (buffers kept, lengths reset;
 * the most recently used first) or new. NULL when out of memory. */
static xfer *bind_xfer(http_client_t *c, http_req_t *req) {
  int keep = req->keep, fresh = 0;
  xfer **pool = keep ? &c->pool_keep : &c->pool_reset;
  xfer *x = *pool;
  if (!x && c->pool_reset && keep) {  /* a generic handle becomes a kept one */
    pool = &c->pool_reset;
    x = *pool;
    fresh = 1;
  }
  if (x) {
    *pool = x->next;
    c->npool--;
    if (!keep || fresh) curl_easy_reset(x->easy);  /* options back to their defaults */
  } else {
    x = calloc(1, sizeof *x);
    if (!x) return NULL;
    if (!(x->easy = curl_easy_init())) {
      free(x);
      return NULL;
    }
    c->nxfers++;
    fresh = 1;
  }
  x->keep = keep;
  if (!keep || fresh) {
    set_common(c, x, keep);
    if (keep) curl_easy_setopt(x->easy, CURLOPT_HTTPGET, 1L);
  }
  x->next = NULL;
  x->req = req;
  x->body_len = x->hdrs_len = 0;
  x->too_big = x->hdr_too_big = x->leaves = 0;
  x->left_how = LEAVE_OK;
  x->errbuf[0] = '\0';
  req->x = x;
  return x;
}

/* A request to fill in: a spare one or new. */
static http_req_t *take_req(http_client_t *c, int keep) {
  http_req_t *req = c->spare;
  if (req) {
    c->spare = req->next;
    c->nspare--;
  } else if (!(req = malloc(sizeof *req))) {
    return NULL;
  }
  memset(req, 0, offsetof(http_req_t, method));
  req->client = c;
  req->keep = keep;
  return req;
}

/* scheme://host[:port], lower-cased, from an already checked URL. */
static host_q *host_for(http_client_t *c, const char *url) {
  const char *a = strstr(url, "://");
  size_t n, i;
  host_q *h;
  a = a ? a + 3 : url;
  n = (size_t)(a - url) + strcspn(a, "/?#");
  for (h = c->hosts; h; h = h->next) {
    if (strlen(h->key) == n && strncasecmp(h->key, url, n) == 0) return h;
  }
  h = calloc(1, sizeof *h + n + 1);
  if (!h) return NULL;
  for (i = 0; i < n; i++)
    h->key[i] = (url[i] >= 'A' && url[i] <= 'Z') ? (char)(url[i] + 32) : url[i];
  h->next = c->hosts;
  c->hosts = h;
  return h;
}

static int ensure_multi(http_client_t *c, rec_err *err);

/* ---- the waiting queue ---- */

static void finish_req(http_req_t *req, CURLcode rc);
static void on_qtimer(uv_timer_t *t);

/* Milliseconds for libcurl, at least 1: it reads 0 as "no timeout" (a timeout of 0.4 ms
 * would otherwise wait for ever). */
static long curl_ms(double seconds) {
  long ms = (long)(seconds * 1000);
  return ms < 1 ? 1 : ms;
}

/* The connect timeout: the request's, up to 10 s. */
static long connect_ms(const http_req_t *req) {
  return curl_ms(req->timeout < 10 ? req->timeout : 10);
}

/* The options of a provider GET, set on its transfer when it is handed to curl; a kept
 * handle skips those it already has. url: the caller's, when it is sent at once; else the
 * request's parsed URL or its copy. */
static int configure_get(http_client_t *c, http_req_t *req, const char *url) {
  xfer *x = bind_xfer(c, req);
  CURL *e;
  long cms = connect_ms(req);
  if (!x) return -1;
  e = x->easy;
  if (req->url) {
    curl_easy_setopt(e, CURLOPT_CURLU, req->url->uh);
  } else {
    curl_easy_setopt(e, CURLOPT_URL, url ? url : req->url_copy);  /* libcurl copies it */
    free(req->url_copy);
    req->url_copy = NULL;
  }
  if (cms != x->set_connect_ms) {
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, cms);
    x->set_connect_ms = cms;
  }
  if (req->max_reply != x->set_max_reply) {
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)req->max_reply);
    x->set_max_reply = req->max_reply;
  }
  if (x->set_ca_gen != c->ca_gen) {
    curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
    x->set_ca_gen = c->ca_gen;
  }
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, req->list);
  return 0;
}

/* Hands the request to curl (a provider GET gets its transfer now). Its timeout counts from
 * when it was queued. */
static int start_req(http_req_t *req) {
  http_client_t *c = req->client;
  xfer *x;
  long ms = curl_ms(req->timeout);
  if (!req->x && configure_get(c, req, NULL) != 0) return CURLE_FAILED_INIT;  /* no memory */
  x = req->x;
  if (req->vtimeout.clock) {
    /* virtual time: the timeout is an engine timer; curl keeps a real-time safety net so a
     * stuck real peer cannot hold the run (virtual time stands still while it waits) */
    ms = (long)((req->timeout < 60 ? 60 : req->timeout) * 1000);
  } else if (req->queued_at) {
    uint64_t waited = uv_now(c->loop) - req->queued_at;
    ms = (double)waited >= (double)ms ? 1 : ms - (long)waited;
  }
  if (ms != x->set_timeout_ms) {
    curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, ms);
    x->set_timeout_ms = ms;
  }
  if (curl_multi_add_handle(c->multi, x->easy) != CURLM_OK) return CURLE_FAILED_INIT;
  req->host->running++;
  req->started = 1;
  return CURLE_OK;
}

/* Starts waiting requests of h while it has free connections. Never calls a callback
 * (http_cancel runs this): a request whose time ran out in the queue gets 1 ms in curl and
 * times out from there. */
static void feed_host(http_client_t *c, host_q *h) {
  while (h->head && h->running < c->opt.max_host_connections) {
    http_req_t *req = h->head;
    h->head = req->qnext;
    if (!h->head) h->tail = NULL;
    req->qnext = NULL;
    req->queued = 0;
    CURLcode rc = start_req(req);
    if (rc != CURLE_OK) {  /* curl refused the handle, or no memory: report it from a timer */
      req->failed = 1;
      req->fail_rc = rc;
      req->qnext = c->failed;
      c->failed = req;
      uv_timer_start(c->qtimer, on_qtimer, 0, 0);
    }
  }
}

static void dequeue(http_req_t *req) {
  host_q *h = req->host;
  http_req_t **pp = &h->head, *prev = NULL;
  while (*pp && *pp != req) {
    prev = *pp;
    pp = &(*pp)->qnext;
  }
  if (*pp) {
    *pp = req->qnext;
    if (h->tail == req) h->tail = prev;
  }
  req->qnext = NULL;
  req->queued = 0;
}

/* Calls the request's callback and recycles it. The request is no longer in curl. */
static void finish_req(http_req_t *req, CURLcode rc) {
  unlink_req(req);
  if (rc == CURLE_OK) {
    http_response res;
    const xfer *x = req->x;
    memset(&res, 0, sizeof res);
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &res.status);
    res.body = x->body ? x->body : "";
    res.body_len = x->body_len;
    res.headers = x->hdrs ? x->hdrs : "";
    res.headers_len = x->hdrs_len;
    res.retry_after = http__retry_after(res.headers);
    req->cb(req->ud, &res, NULL);
  } else {
    rec_err err;
    http__transport_error(req, rc, &err);
    req->cb(req->ud, NULL, &err);
  }
  free_req(req);
}

static void check_multi_info(http_client_t *c) {
  CURLMsg *msg;
  int pending;
  while ((msg = curl_multi_info_read(c->multi, &pending)) != NULL) {
    xfer *x = NULL;
    http_req_t *req;
    host_q *h;
    CURLcode rc;
    if (msg->msg != CURLMSG_DONE) continue;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
    req = x->req;
    rc = msg->data.result;
    curl_multi_remove_handle(c->multi, x->easy);
    h = req->host;
    h->running--;
    finish_req(req, rc);
    feed_host(c, h);
  }
}

/* ---- the driver: a socket is ready or curl's timer fired; curl runs, transfers end ---- */

static void on_poll(uv_poll_t *h, int status, int events) {
  sock_ctx *ctx = h->data;
  http_client_t *c = ctx->client;
  int flags = 0, running;
  if (!ctx->wanted) {  /* an idle kept connection woke (the server closed it): stop */
    uv_poll_stop(&ctx->poll);
    ctx->events = 0;
    return;
  }
  if (status < 0) flags = CURL_CSELECT_ERR;
  if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
  curl_multi_socket_action(c->multi, ctx->fd, flags, &running);
  check_multi_info(c);
}

static void on_timeout(uv_timer_t *t) {
  http_client_t *c = t->data;
  int running;
  curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  check_multi_info(c);
}

/* Arms qtimer for a waiting request's deadline when it is the earliest. */
static void arm_qtimer(http_client_t *c, uint64_t deadline) {
  uint64_t now = uv_now(c->loop);
  if (c->clock && rclock_is_virtual(c->clock)) return;  /* each request's vtimeout does it */
  if (uv_is_active((uv_handle_t *)c->qtimer) && c->qdeadline <= deadline) return;
  c->qdeadline = deadline;
  uv_timer_start(c->qtimer, on_qtimer, deadline > now ? deadline - now : 0, 0);
}

static uint64_t wait_deadline(const http_req_t *req) {
  return req->queued_at + (uint64_t)(req->timeout * 1000);
}

/* Waiting requests whose time ran out end as timeouts, and requests curl refused are
 * reported; both from this timer, never from inside http_send or http_cancel. */
static void on_qtimer(uv_timer_t *t) {
  http_client_t *c = t->data;
  uint64_t now = uv_now(c->loop), next = UINT64_MAX;
  host_q *h;
  /* virtual time: each request's vtimeout ends it; only refused ones are reported here */
  for (h = (c->clock && rclock_is_virtual(c->clock)) ? NULL : c->hosts; h; h = h->next) {
    http_req_t **pp = &h->head, *prev = NULL;
    while (*pp) {
      http_req_t *req = *pp;
      if (wait_deadline(req) <= now) {
        *pp = req->qnext;
        if (h->tail == req) h->tail = prev;
        req->queued = 0;
        req->failed = 1;
        req->fail_rc = CURLE_OPERATION_TIMEDOUT;
        req->qnext = c->failed;
        c->failed = req;
      } else {
        if (wait_deadline(req) < next) next = wait_deadline(req);
        prev = req;
        pp = &req->qnext;
      }
    }
  }
  while (c->failed) {  /* one at a time: a callback may cancel the next one */
    http_req_t *req = c->failed;
    c->failed = req->qnext;
    req->qnext = NULL;
    req->failed = 0;
    finish_req(req, req->fail_rc);
  }
  if (next != UINT64_MAX) arm_qtimer(c, next);
}

static int on_timer(CURLM *multi, long timeout_ms, void *userp) {
  http_client_t *c = userp;
  (void)multi;
  if (timeout_ms < 0) uv_timer_stop(c->timer);
  else uv_timer_start(c->timer, on_timeout, (uint64_t)timeout_ms, 0);
  return 0;
}

/* ---- the client ---- */

static void apply_options(http_client_t *c, const http_client_options *opt) {
  long old = c->opt.max_host_connections;
  host_q *h;
  c->opt.max_reply = opt && opt->max_reply ? opt->max_reply : HTTP_DEFAULT_MAX_REPLY;
  c->opt.max_host_connections =
      opt && opt->max_host_connections > 0 ? opt->max_host_connections : 64;
  if (opt && opt->ca_file) {
    free(c->ca_file);
    c->ca_file = strdup(opt->ca_file);
    c->ca_gen++;
  }
  if (c->multi) {
    curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, c->opt.max_host_connections);
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, c->opt.max_host_connections * 2);
    if (c->opt.max_host_connections > old)
      for (h = c->hosts; h; h = h->next) feed_host(c, h);
  }
}

/* A proxy variable libcurl would honour for http or https (it reads http_proxy in lower
 * case only, https_proxy and all_proxy in either case), set and not empty. */
static int proxy_env_set(void) {
  static const char *const vars[] = {"http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy",
                                     "ALL_PROXY", NULL};
  int i;
  for (i = 0; vars[i]; i++) {
    const char *v = getenv(vars[i]);
    if (v && *v) return 1;
  }
  return 0;
}

/* libcurl, and OpenSSL under it, initialised by the first request: curl_global_init reads
 * OpenSSL's configuration, a few million instructions that a script making no request
 * (and `recwatch check`) should not pay. */
static int ensure_multi(http_client_t *c, rec_err *err) {
  if (c->multi) return 0;
  /* Proxies come from the usual variables; when none is set, libcurl is told so once
   * instead of looking five of them up for every transfer (the environment of a running
   * process does not change: a script cannot set variables) */
  c->no_proxy_env = !proxy_env_set();
  if (!curl_ready) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      rec_err_set(err, REC_E_NETWORK, 0, "libcurl could not be initialised");
      return -1;
    }
    curl_ready = 1;
  }
  if (!(c->multi = curl_multi_init())) {
    rec_err_set(err, REC_E_NETWORK, 0, "out of memory starting libcurl");
    return -1;
  }
  curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, http__on_socket);
  curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
  curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_timer);
  curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
  curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, c->opt.max_host_connections);
  curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, c->opt.max_host_connections * 2);
  return 0;
}

static void on_timer_close(uv_handle_t *h);

http_client_t *http_client_new(uv_loop_t *loop, const http_client_options *opt) {
  http_client_t *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->loop = loop;
  c->on_poll = on_poll;
  c->timer = malloc(sizeof *c->timer);
  if (!c->timer) {
    free(c);
    return NULL;
  }
  uv_timer_init(loop, c->timer);
  c->timer->data = c;
  if (!(c->qtimer = malloc(sizeof *c->qtimer))) {
    uv_close((uv_handle_t *)c->timer, on_timer_close);
    free(c);
    return NULL;
  }
  uv_timer_init(loop, c->qtimer);
  c->qtimer->data = c;
  uv_unref((uv_handle_t *)c->qtimer);  /* waiting requests keep the loop alive otherwise */
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
    if (req->queued) continue;  /* waits for a connection that a parked request holds */
    if (!req->started) {        /* reported from qtimer at once */
      n++;
      continue;
    }
    curl_easy_getinfo(req->x->easy, CURLINFO_LOCAL_PORT, &local);
    curl_easy_getinfo(req->x->easy, CURLINFO_PRIMARY_PORT, &remote);
    if (!local || !rclock_is_parked(c->clock, (int)remote, (int)local)) n++;
  }
  return n;
}

/* Virtual time: the request's timeout came (curl's own is a real-time safety net only),
 * wherever the request is: waiting for a connection, refused by curl, or in curl. */
static void on_vtimeout(rtimer_t *t) {
  http_req_t *req = t->data;
  http_client_t *c = req->client;
  host_q *h = req->host;
  int was_running = 0;
  if (req->failed) {
    http_req_t **pp = &c->failed;
    while (*pp && *pp != req) pp = &(*pp)->qnext;
    if (*pp) *pp = req->qnext;
    req->failed = 0;
  } else if (req->queued) {
    dequeue(req);
  } else {
    curl_multi_remove_handle(c->multi, req->x->easy);
    h->running--;
    was_running = 1;
  }
  req->vtimeout.clock = NULL;  /* it fired: nothing to stop */
  finish_req(req, CURLE_OPERATION_TIMEDOUT);
  if (was_running) feed_host(c, h);
}

static void on_timer_close(uv_handle_t *h) { free(h); }

void http_client_free(http_client_t *c) {
  if (!c) return;
  while (c->reqs) {
    http_req_t *req = c->reqs;
    if (req->started) curl_multi_remove_handle(c->multi, req->x->easy);
    unlink_req(req);
    destroy_req(req);
  }
  while (c->spare) {
    http_req_t *req = c->spare;
    c->spare = req->next;
    free(req);
  }
  while (c->pool_reset || c->pool_keep) {
    xfer **pool = c->pool_reset ? &c->pool_reset : &c->pool_keep;
    xfer *x = *pool;
    *pool = x->next;
    destroy_xfer(c, x);
  }
  /* closes cached connections: their polls are closed by http__on_close_socket (http_sock.c) */
  if (c->multi) curl_multi_cleanup(c->multi);
  while (c->hosts) {
    host_q *h = c->hosts;
    c->hosts = h->next;
    free(h);
  }
  while (c->hdrs) {
    hdr_list *l = c->hdrs;
    c->hdrs = l->next;
    curl_slist_free_all(l->list);
    free(l);
  }
  http__drop_sockets(c);
  http__url_clear(c);  /* no handle uses them any more */
  uv_close((uv_handle_t *)c->timer, on_timer_close);
  uv_close((uv_handle_t *)c->qtimer, on_timer_close);
  free(c->ca_file);
  free(c);
}

/* The cached list for these lines (a provider's few fixed headers), built once. */
static struct curl_slist *cached_headers(http_client_t *c, const char *const *lines,
                                         int *uncached, rec_err *err) {
  hdr_list *l;
  struct curl_slist *s, *list = NULL;
  int n = 0, i;
  *uncached = 0;
  if (!lines || !lines[0]) return NULL;
  while (lines[n]) n++;
  for (l = c->hdrs; l; l = l->next) {
    if (l->n != n) continue;
    for (s = l->list, i = 0; s && i < n && strcmp(s->data, lines[i]) == 0; s = s->next) i++;
    if (i == n) return l->list;
  }
  for (i = 0; i < n; i++)  /* checked once, when the list is built */
    if (http_check_header_line(lines[i], strlen(lines[i]), err)) {
      *uncached = -1;
      return NULL;
    }
  for (i = 0; i < n; i++) {
    struct curl_slist *t = curl_slist_append(list, lines[i]);
    if (!t) {
      curl_slist_free_all(list);
      return NULL;
    }
    list = t;
  }
  if (c->nhdrs >= HDR_CACHE_MAX || !(l = calloc(1, sizeof *l))) {
    *uncached = 1;  /* many credentials: the request owns its list */
    return list;
  }
  l->list = list;
  l->n = n;
  l->next = c->hdrs;
  c->hdrs = l;
  c->nhdrs++;
  return list;
}

/* A generic request's options, set on its transfer at once (its body is copied by libcurl,
 * so nothing of r is needed later). */
static int configure_generic(http_client_t *c, http_req_t *req, const http_request *r) {
  xfer *x = bind_xfer(c, req);
  CURL *e;
  size_t i;
  long cms = connect_ms(req);
  if (!x) return -1;
  e = x->easy;
  curl_easy_setopt(e, CURLOPT_URL, r->url);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, cms);
  curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)req->max_reply);
  for (i = 0; r->headers && r->headers[i]; i++) {
    struct curl_slist *t = curl_slist_append(req->own_headers, r->headers[i]);
    if (!t) return -1;
    req->own_headers = t;
  }
  if (r->body) {  /* no "Expect: 100-continue" wait for a large body */
    struct curl_slist *t = curl_slist_append(req->own_headers, "Expect:");
    if (!t) return -1;
    req->own_headers = t;
  }
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, req->own_headers);
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
  if (r->body) {
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
    if (curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, r->body) != CURLE_OK) return -1;
  }
  if (strcmp(req->method, "GET") == 0 && !r->body) {
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  } else if (strcmp(req->method, "HEAD") == 0) {
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  } else if (strcmp(req->method, "POST") != 0) {
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
  }
  return 0;
}

http_req_t *http_send(http_client_t *c, const http_request *r, http_done_cb cb, void *ud,
                      rec_err *err) {
  const char *method = r->method ? r->method : "GET";
  size_t i, mlen = strlen(method);
  http_req_t *req;
  host_q *h;
  int keep = r->reuse && !r->body && strcmp(method, "GET") == 0, now;
  url_ent *u = keep && r->cache_url ? http__url_find(c, r->url) : NULL;
  /* a URL found among the parsed ones was checked when it was parsed */
  if ((!u && http_check_url(r->url, strlen(r->url), err)) || http_check_method(method, mlen, err))
    return NULL;
  for (i = 0; r->headers && r->headers[i]; i++) {
    if (i >= HTTP_MAX_HEADERS) {
      rec_err_set(err, REC_E_INVALID_ARGUMENT, 0, "more than %d headers", HTTP_MAX_HEADERS);
      return NULL;
    }
    if (!keep && http_check_header_line(r->headers[i], strlen(r->headers[i]), err)) return NULL;
  }
  if (ensure_multi(c, err) != 0) return NULL;
  if (!(h = host_for(c, r->url)) || !(req = take_req(c, keep))) {
    rec_err_set(err, REC_E_NETWORK, 0, "out of memory starting a request");
    return NULL;
  }
  req->host = h;
  req->cb = cb;
  req->ud = ud;
  req->on_leave = r->on_leave;
  req->timeout = r->timeout > 0 ? r->timeout : 10;
  if (!(req->timeout < 1e6)) req->timeout = 1e6;  /* "for ever" without overflowing the ms count */
  req->max_reply = r->max_reply ? r->max_reply : c->opt.max_reply;
  for (i = 0; i <= mlen; i++)
    req->method[i] = (method[i] >= 'a' && method[i] <= 'z') ? (char)(method[i] - 32) : method[i];
  now = h->running < c->opt.max_host_connections && !h->head;
  if (keep) {
    int uncached;
    req->list = cached_headers(c, r->headers, &uncached, err);
    if (uncached < 0) {
      free_req(req);
      return NULL;
    }
    if (uncached) req->own_headers = req->list;
    if (r->cache_url && (req->url = u ? u : http__url_add(c, r->url)) != NULL) req->url->users++;
    /* the URL is set when the request is handed to curl: at once, or from a copy kept
     * while it waits */
    if (now ? configure_get(c, req, r->url) != 0
            : !req->url && !(req->url_copy = strdup(r->url))) {
      free_req(req);
      rec_err_set(err, REC_E_NETWORK, 0, "out of memory starting a request");
      return NULL;
    }
  } else if (configure_generic(c, req, r) != 0) {
    free_req(req);
    rec_err_set(err, REC_E_NETWORK, 0, "out of memory starting a request");
    return NULL;
  }
  link_req(c, req);
  req->queued_at = 0;
  if (c->clock && rclock_is_virtual(c->clock)) {
    rtimer_init(c->clock, &req->vtimeout, on_vtimeout, req);
    rtimer_start(&req->vtimeout, req->timeout);
  }
  if (now) {
    if (start_req(req) != CURLE_OK) {
      char where[256];
      http_url_for_log(r->url, where, sizeof where);
      rec_err_set(err, REC_E_NETWORK, 0, "%s %s: could not start the request", req->method,
                  where);
      unlink_req(req);
      free_req(req);
      return NULL;
    }
  } else {  /* every connection to the host is busy: wait in line */
    req->queued = 1;
    req->queued_at = uv_now(c->loop);
    if (h->tail) h->tail->qnext = req;
    else h->head = req;
    h->tail = req;
    arm_qtimer(c, wait_deadline(req));
  }
  return req;
}

void http_cancel(http_req_t *req) {
  http_client_t *c;
  host_q *h;
  if (!req) return;
  c = req->client;
  h = req->host;
  if (req->failed) {
    http_req_t **pp = &c->failed;
    while (*pp != req) pp = &(*pp)->qnext;
    *pp = req->qnext;
    unlink_req(req);
    free_req(req);
    return;
  }
  if (req->queued) {
    dequeue(req);
    unlink_req(req);
    free_req(req);
    return;
  }
  curl_multi_remove_handle(c->multi, req->x->easy);
  h->running--;
  unlink_req(req);
  free_req(req);
  feed_host(c, h);
}

int http_active(http_client_t *c) { return c->active; }

int http_handles(http_client_t *c) { return c->nxfers; }
