/* Unit tests for http.c against tiny libuv servers started by the test itself: connection
 * reuse under 1,000 concurrent GETs, timeout, refused port, reply over the cap, cancel. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "http.h"
#include "agora.h"

enum { MODE_OK, MODE_SILENT, MODE_BIG_LENGTH, MODE_BIG_STREAM };

#define MAX_SEEN 300

typedef struct server {
  uv_tcp_t tcp;
  int mode, port, accepted, requests;
  int seen[MAX_SEEN];            /* requests for /q/<n>, by n */
} server;

typedef struct conn {
  uv_tcp_t tcp;
  server *srv;
  int matched;  /* how much of "\r\n\r\n" we have seen */
  char line[64];                 /* the start of the request line */
  size_t nline;
} conn;

/* Counts a request line "GET /q/<n> HTTP/1.1". */
static void note_target(conn *c) {
  int n;
  if (sscanf(c->line, "GET /q/%d ", &n) == 1 && n >= 0 && n < MAX_SEEN) c->srv->seen[n]++;
}

static const char ok_reply[] =
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n"
    "Retry-After: 7\r\n\r\n{\"ok\":true}";

static void on_conn_close(uv_handle_t *h) { free(h); }

static void on_write(uv_write_t *w, int status) {
  (void)status;
  free(w->data);
  free(w);
}

static void send_bytes(conn *c, const char *data, size_t n) {
  uv_write_t *w = malloc(sizeof *w);
  char *copy = malloc(n);
  uv_buf_t b;
  memcpy(copy, data, n);
  w->data = copy;
  b = uv_buf_init(copy, (unsigned)n);
  uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, on_write);
}

static void send_big(conn *c, int with_length) {
  size_t body = 9u * 1024 * 1024, off = 0;
  char head[200];
  char *chunk = malloc(65536);
  memset(chunk, 'x', 65536);
  if (with_length)
    snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", body);
  else
    snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
  send_bytes(c, head, strlen(head));
  while (off < body) {
    send_bytes(c, chunk, 65536);
    off += 65536;
  }
  free(chunk);
}

static void on_alloc(uv_handle_t *h, size_t s, uv_buf_t *b) {
  (void)h;
  b->base = malloc(s);
  b->len = s;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  conn *c = s->data;
  ssize_t i;
  static const char end[] = "\r\n\r\n";
  for (i = 0; i < n; i++) {
    if (c->nline < sizeof c->line - 1) c->line[c->nline++] = b->base[i];
    c->matched = b->base[i] == end[c->matched] ? c->matched + 1 : (b->base[i] == '\r');
    if (c->matched == 4) {
      c->line[c->nline] = '\0';
      note_target(c);
      c->nline = 0;
      c->matched = 0;
      c->srv->requests++;
      if (c->srv->mode == MODE_OK) send_bytes(c, ok_reply, sizeof ok_reply - 1);
      else if (c->srv->mode == MODE_BIG_LENGTH) send_big(c, 1);
      else if (c->srv->mode == MODE_BIG_STREAM) send_big(c, 0);
    }
  }
  free(b->base);
  if (n < 0) uv_close((uv_handle_t *)s, on_conn_close);
}

static void on_connection(uv_stream_t *l, int status) {
  server *srv = l->data;
  conn *c = calloc(1, sizeof *c);
  (void)status;
  c->srv = srv;
  uv_tcp_init(l->loop, &c->tcp);
  c->tcp.data = c;
  if (uv_accept(l, (uv_stream_t *)&c->tcp) == 0) {
    srv->accepted++;
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  } else {
    uv_close((uv_handle_t *)&c->tcp, on_conn_close);
  }
}

static void server_start(uv_loop_t *loop, server *srv, int mode) {
  struct sockaddr_in a;
  struct sockaddr_storage got;
  int len = sizeof got;
  memset(srv, 0, sizeof *srv);
  srv->mode = mode;
  uv_tcp_init(loop, &srv->tcp);
  srv->tcp.data = srv;
  uv_ip4_addr("127.0.0.1", 0, &a);
  assert_int_equal(uv_tcp_bind(&srv->tcp, (struct sockaddr *)&a, 0), 0);
  assert_int_equal(uv_listen((uv_stream_t *)&srv->tcp, 1024, on_connection), 0);
  uv_tcp_getsockname(&srv->tcp, (struct sockaddr *)&got, &len);
  srv->port = ntohs(((struct sockaddr_in *)&got)->sin_port);
}

static void close_all(uv_handle_t *h, void *arg) {
  (void)arg;
  if (uv_is_closing(h)) return;
  /* connections were malloc'd; the listener lives in the test's stack frame */
  uv_close(h, h->type == UV_TCP && h->data && ((conn *)h->data)->srv ? on_conn_close : NULL);
}

/* ---- results collected by callbacks ---- */

typedef struct result {
  int done, ok;
  long status;
  size_t body_len;
  double retry_after;
  rec_err err;
} result;

static int callbacks = 0;

static void on_done(void *ud, const http_response *res, const rec_err *err) {
  result *r = ud;
  callbacks++;
  r->done = 1;
  if (res) {
    r->ok = 1;
    r->status = res->status;
    r->body_len = res->body_len;
    r->retry_after = res->retry_after;
  } else {
    r->err = *err;
  }
}

/* A loop, a client and (unless NO_SERVER) a server of the given mode. */
#define NO_SERVER (-1)

typedef struct fixture {
  uv_loop_t loop;
  server srv;
  int has_srv;
  http_client_t *c;
  char url[128];
} fixture;

static void fx_start(fixture *fx, int mode) {
  uv_loop_init(&fx->loop);
  fx->has_srv = mode != NO_SERVER;
  if (fx->has_srv) {
    server_start(&fx->loop, &fx->srv, mode);
    snprintf(fx->url, sizeof fx->url, "http://127.0.0.1:%d/x?secret=hidden", fx->srv.port);
  }
  fx->c = http_client_new(&fx->loop, NULL);
}

static http_req_t *fx_send(fixture *fx, const char *url, double timeout, size_t max_reply,
                           result *r) {
  http_request req;
  rec_err err;
  http_req_t *h;
  memset(&req, 0, sizeof req);
  req.url = url;
  req.timeout = timeout;
  req.max_reply = max_reply;
  memset(r, 0, sizeof *r);
  h = http_send(fx->c, &req, on_done, r, &err);
  if (!h) {  /* could not even start: report it like a completed failure */
    r->done = 1;
    r->err = err;
  }
  return h;
}

/* Sends one request and runs the loop until its callback came. */
static void fx_request(fixture *fx, const char *url, double timeout, size_t max_reply,
                       result *r) {
  fx_send(fx, url, timeout, max_reply, r);
  while (!r->done) uv_run(&fx->loop, UV_RUN_ONCE);
}

static void fx_finish(fixture *fx) {
  http_client_free(fx->c);
  if (fx->has_srv) uv_close((uv_handle_t *)&fx->srv.tcp, NULL);
  uv_walk(&fx->loop, close_all, NULL);
  uv_run(&fx->loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&fx->loop), 0);
}

static void one_request(int mode, double timeout, size_t max_reply, result *r) {
  fixture fx;
  fx_start(&fx, mode);
  fx_request(&fx, fx.url, timeout, max_reply, r);
  fx_finish(&fx);
}

static void test_reuse_under_1000_concurrent(void **state) {
  fixture fx;
  static result rs[1000];
  int i, ok = 0;
  (void)state;
  fx_start(&fx, MODE_OK);
  for (i = 0; i < 1000; i++) assert_non_null(fx_send(&fx, fx.url, 0, 0, &rs[i]));
  assert_int_equal(http_active(fx.c), 1000);
  callbacks = 0;
  while (callbacks < 1000) uv_run(&fx.loop, UV_RUN_ONCE);  /* the listener keeps it alive */
  for (i = 0; i < 1000; i++) ok += rs[i].ok && rs[i].status == 200 && rs[i].body_len == 11;
  assert_int_equal(ok, 1000);
  assert_int_equal(fx.srv.requests, 1000);
  assert_true(fx.srv.accepted <= 64);  /* max_host_connections: the rest reused them */
  assert_true(rs[0].retry_after > 6.999 && rs[0].retry_after < 7.001);
  assert_int_equal(http_active(fx.c), 0);
  fx_finish(&fx);
}

static void test_silent_server_times_out(void **state) {
  result r;
  (void)state;
  one_request(MODE_SILENT, 0.3, 0, &r);
  assert_false(r.ok);
  assert_int_equal(r.err.kind, REC_E_TIMEOUT);
  assert_true(r.err.retryable);
  assert_non_null(strstr(r.err.message, "timed out"));
  assert_null(strstr(r.err.message, "hidden"));  /* no query string in messages */
}

/* A timeout under a millisecond is still a timeout: libcurl reads 0 ms as "none", so 0.4 ms
 * used to wait for ever on a silent server. */
static void test_submillisecond_timeout_times_out(void **state) {
  result r;
  (void)state;
  one_request(MODE_SILENT, 0.0004, 0, &r);
  assert_false(r.ok);
  assert_int_equal(r.err.kind, REC_E_TIMEOUT);
}

static void test_reply_over_cap_is_protocol(void **state) {
  result r;
  (void)state;
  one_request(MODE_BIG_LENGTH, 10, 1024 * 1024, &r);
  assert_int_equal(r.err.kind, REC_E_PROTOCOL);
  assert_non_null(strstr(r.err.message, "larger than"));
  one_request(MODE_BIG_STREAM, 10, 1024 * 1024, &r);
  assert_int_equal(r.err.kind, REC_E_PROTOCOL);
  assert_non_null(strstr(r.err.message, "larger than"));
}

static void test_refused_port_is_network(void **state) {
  fixture fx;
  result r;
  (void)state;
  fx_start(&fx, MODE_OK);
  uv_close((uv_handle_t *)&fx.srv.tcp, NULL);  /* nothing listens there any more */
  fx.has_srv = 0;
  uv_run(&fx.loop, UV_RUN_DEFAULT);
  fx_request(&fx, fx.url, 5, 0, &r);
  assert_int_equal(r.err.kind, REC_E_NETWORK);
  assert_true(r.err.retryable);
  fx_finish(&fx);
}

static void test_cancel_calls_nothing(void **state) {
  fixture fx;
  result r;
  http_req_t *h;
  (void)state;
  callbacks = 0;
  fx_start(&fx, MODE_SILENT);
  h = fx_send(&fx, fx.url, 0, 0, &r);
  assert_non_null(h);
  uv_run(&fx.loop, UV_RUN_NOWAIT);
  http_cancel(h);
  assert_int_equal(http_active(fx.c), 0);
  uv_run(&fx.loop, UV_RUN_NOWAIT);
  assert_int_equal(callbacks, 0);
  fx_finish(&fx);
}

static void test_bad_url_is_invalid_argument(void **state) {
  fixture fx;
  result r;
  (void)state;
  fx_start(&fx, NO_SERVER);
  fx_request(&fx, "ftp://127.0.0.1/", 5, 0, &r);
  assert_int_equal(r.err.kind, REC_E_INVALID_ARGUMENT);
  fx_finish(&fx);
}

static void test_url_for_log_drops_secrets(void **state) {
  char out[128];
  (void)state;
  http_url_for_log("https://user:pw@host.example/path?signature=abc#x", out, sizeof out);
  assert_string_equal(out, "https://host.example/path");
  http_url_for_log("https://hooks.slack.com/services/T000/B000/XXXXsecretTOKEN", out, sizeof out);
  assert_string_equal(out, "https://hooks.slack.com/services/...");
  http_url_for_log("https://open.feishu.cn/open-apis/bot/v2/hook/tok?x=1", out, sizeof out);
  assert_string_equal(out, "https://open.feishu.cn/open-apis/...");
  http_url_for_log("http://127.0.0.1:8080", out, sizeof out);
  assert_string_equal(out, "http://127.0.0.1:8080");
  http_url_for_log("http://h/a/", out, sizeof out);
  assert_string_equal(out, "http://h/a/");
}

/* Text that would become protocol syntax is refused by the checks (a fuzz harness calls
 * them too): CR, LF, NUL in methods, header names and values, URLs. */
static void test_checks_refuse_protocol_syntax(void **state) {
  rec_err e;
  char big[HTTP_MAX_HEADER_LINE + 1];
  (void)state;
  assert_int_equal(http_check_method("GET", 3, &e), 0);
  assert_int_equal(http_check_method("M-SEARCH", 8, &e), 0);
  assert_int_equal(http_check_method("GET\r\nX: y", 10, &e), -1);
  assert_int_equal(e.kind, REC_E_INVALID_ARGUMENT);
  assert_int_equal(http_check_method("GET /", 5, &e), -1);
  assert_int_equal(http_check_method("GET\0", 4, &e), -1);
  assert_int_equal(http_check_method("", 0, &e), -1);
  assert_int_equal(http_check_method("ABCDEFGHIJKLMNOP", 16, &e), -1);
  assert_int_equal(http_check_header("X-A", 3, "v\tw", 3, &e), 0);
  assert_int_equal(http_check_header("X-A", 3, "1\r\nX-Injected: yes", 19, &e), -1);
  assert_int_equal(http_check_header("X-A", 3, "1\nX", 3, &e), -1);
  assert_int_equal(http_check_header("X-A", 3, "1\0X", 3, &e), -1);
  assert_null(strstr(e.message, "X-Injected"));  /* the value is never quoted */
  assert_int_equal(http_check_header("X\rA", 3, "1", 1, &e), -1);
  assert_int_equal(http_check_header("X A", 3, "1", 1, &e), -1);
  assert_int_equal(http_check_header("X:A", 3, "1", 1, &e), -1);
  assert_int_equal(http_check_header("", 0, "1", 1, &e), -1);
  memset(big, 'a', sizeof big);
  assert_int_equal(http_check_header("X", 1, big, HTTP_MAX_HEADER_LINE - 3, &e), 0);
  assert_int_equal(http_check_header("X", 1, big, HTTP_MAX_HEADER_LINE - 2, &e), -1);
  assert_int_equal(http_check_header_line("Authorization: Basic abc", 24, &e), 0);
  assert_int_equal(http_check_header_line("Authorization Basic", 19, &e), -1);
  assert_int_equal(http_check_header_line("A: b\r\nC: d", 10, &e), -1);
  assert_int_equal(http_check_url("https://h/x?a=1", 15, &e), 0);
  assert_int_equal(http_check_url("HTTP://h/", 9, &e), 0);
  assert_int_equal(http_check_url("https://h/\r\nX: y", 16, &e), -1);
  assert_int_equal(http_check_url("https://h/a\0b", 13, &e), -1);
  assert_int_equal(http_check_url("https://h/a b", 13, &e), -1);
  assert_int_equal(http_check_url("ftp://h/", 8, &e), -1);
  assert_int_equal(http_check_url("http://", 7, &e), -1);
}

static void test_put_segment(void **state) {
  char buf[64], *p;
  rec_err e;
  (void)state;
  p = buf;
  assert_int_equal(http_put_segment(&p, buf + sizeof buf, "a-b_c.d~9", "x", &e), 0);
  assert_string_equal(buf, "a-b_c.d~9");
  p = buf;
  assert_int_equal(http_put_segment(&p, buf + sizeof buf, "a/b?c#d %\r\n", "x", &e), 0);
  assert_string_equal(buf, "a%2Fb%3Fc%23d%20%25%0D%0A");
  p = buf;  /* dot segments are encoded, so libcurl never removes them */
  assert_int_equal(http_put_segment(&p, buf + sizeof buf, "..", "x", &e), 0);
  assert_string_equal(buf, "%2E%2E");
  p = buf;
  assert_int_equal(http_put_segment(&p, buf + sizeof buf, ".", "x", &e), 0);
  assert_string_equal(buf, "%2E");
  p = buf;
  assert_int_equal(http_put_segment(&p, buf + sizeof buf, "...", "x", &e), 0);
  assert_string_equal(buf, "...");
  p = buf;
  assert_int_equal(http_put_segment(&p, buf + sizeof buf, "", "sid", &e), -1);
  p = buf;
  assert_int_equal(http_put_segment(&p, buf + 4, "abcd", "sid", &e), -1);  /* no room */
  assert_int_equal(e.kind, REC_E_INVALID_ARGUMENT);
  p = buf;
  assert_int_equal(http_put_segment(&p, buf + 4, "abc", "sid", &e), 0);
  assert_string_equal(buf, "abc");
}

/* Agora path segments go into one buffer, percent-encoded, and the builder must return that
 * URL (a NULL is a failure here, not a pass). Dot segments and '/' are refused before any URL
 * is built: libcurl would remove "." and "..", and '/' would request another path. */
static void test_agora_url_segments(void **state) {
  agora_query_params q;
  rec_err e;
  char *url;
  (void)state;
  memset(&q, 0, sizeof q);
  q.appid = "app 1";
  q.resourceid = "r?x#y%z";
  q.sid = "s&t=1...";
  q.mode = "mix";
  memset(&e, 0, sizeof e);
  url = agora_build_query_url("https://api.example/", &q, &e);
  if (!url) fail_msg("no URL for segments that only need encoding: %s", e.message);
  assert_string_equal(url, "https://api.example/v1/apps/app%201/cloud_recording/resourceid/"
                           "r%3Fx%23y%25z/sid/s%26t%3D1.../mode/mix/query");
  free(url);
  q.appid = "a";
  q.resourceid = "...";  /* three dots are a name, not a dot segment */
  q.sid = ".s";
  url = agora_build_query_url("https://api.example", &q, &e);
  if (!url) fail_msg("no URL for \"...\" and \".s\": %s", e.message);
  assert_string_equal(url, "https://api.example/v1/apps/a/cloud_recording/resourceid/.../sid/.s/"
                           "mode/mix/query");
  free(url);
  /* refused, with the field named: never a URL for another path */
  {
    static const struct { const char *rid, *sid, *quote; } bad[] = {
      {"..", "s", "resourceid must not be \".\" or \"..\""},
      {"r", ".", "sid must not be \".\" or \"..\""},
      {"r/x?y", "s", "resourceid must not contain '/'"},
      {"r", "s/../../other", "sid must not contain '/'"},
    };
    size_t i;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
      q.resourceid = bad[i].rid;
      q.sid = bad[i].sid;
      memset(&e, 0, sizeof e);
      url = agora_build_query_url("https://api.example", &q, &e);
      if (url) fail_msg("built %s for resourceid \"%s\", sid \"%s\"", url, bad[i].rid, bad[i].sid);
      assert_int_equal(e.kind, REC_E_INVALID_ARGUMENT);
      if (!strstr(e.message, bad[i].quote)) fail_msg("\"%s\" lacks \"%s\"", e.message, bad[i].quote);
    }
  }
}

/* recwatch's own queue: 300 requests with a limit of 8 connections never open more than 8
 * and all complete, in the order they were sent. */
static int order_log[300], norder;
static void on_order(void *ud, const http_response *res, const rec_err *err) {
  (void)res;
  (void)err;
  order_log[norder++] = (int)(intptr_t)ud;
}

static void test_queue_limits_connections(void **state) {
  fixture fx;
  http_client_options o;
  http_request r;
  rec_err e;
  int i;
  (void)state;
  fx_start(&fx, MODE_OK);
  memset(&o, 0, sizeof o);
  o.max_host_connections = 8;
  http_client_set_options(fx.c, &o);
  memset(&r, 0, sizeof r);
  r.url = fx.url;
  r.reuse = 1;
  norder = 0;
  for (i = 0; i < 300; i++) assert_non_null(http_send(fx.c, &r, on_order, (void *)(intptr_t)i, &e));
  assert_int_equal(http_active(fx.c), 300);
  while (norder < 300) uv_run(&fx.loop, UV_RUN_ONCE);
  assert_int_equal(fx.srv.requests, 300);
  assert_true(fx.srv.accepted <= 8);
  for (i = 0; i < 8; i++) assert_true(order_log[i] < 8);
  for (i = 8; i < 300; i++) assert_true(order_log[i] >= i - 8 && order_log[i] <= i + 8);
  assert_int_equal(http_active(fx.c), 0);
  fx_finish(&fx);
}

/* Only requests handed to curl hold an easy handle: 300 provider GETs on 8 connections use
 * at most 8 handles (and the one of a finished request goes to the next in line). Half of
 * them use parsed URLs (cache_url), half plain ones that wait as a copy: each URL reaches
 * the server once, so a handle reused across both kinds carries no URL over. */
static void test_waiting_requests_hold_no_handle(void **state) {
  fixture fx;
  http_client_options o;
  http_request r;
  rec_err e;
  char url[128];
  int i, most = 0;
  (void)state;
  fx_start(&fx, MODE_OK);
  memset(&o, 0, sizeof o);
  o.max_host_connections = 8;
  http_client_set_options(fx.c, &o);
  norder = 0;
  for (i = 0; i < 300; i++) {
    memset(&r, 0, sizeof r);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/q/%d", fx.srv.port, i);
    r.url = url;  /* the caller's buffer is reused at once */
    r.reuse = 1;
    r.cache_url = i % 2 == 0;
    assert_non_null(http_send(fx.c, &r, on_order, (void *)(intptr_t)i, &e));
  }
  memset(url, 'x', sizeof url - 1);
  assert_int_equal(http_active(fx.c), 300);
  assert_true(http_handles(fx.c) <= 8);  /* 300 when every waiting request held one */
  while (norder < 300) {
    uv_run(&fx.loop, UV_RUN_ONCE);
    if (http_handles(fx.c) > most) most = http_handles(fx.c);
  }
  assert_true(most <= 8);  /* one per connection: the callbacks here send nothing */
  for (i = 0; i < 300; i++) assert_int_equal(fx.srv.seen[i], 1);
  assert_int_equal(fx.srv.requests, 300);
  assert_true(fx.srv.accepted <= 8);
  assert_int_equal(http_active(fx.c), 0);
  fx_finish(&fx);
}

/* A request waiting in the queue keeps its own timeout (counted from http_send), and a
 * cancelled waiting request is simply dropped: with one connection held by a silent server,
 * the queued request times out first, and the third one (cancelled) never calls back. */
static void test_queued_request_times_out(void **state) {
  fixture fx;
  http_client_options o;
  result first, second, third;
  http_req_t *h3;
  (void)state;
  callbacks = 0;
  fx_start(&fx, MODE_SILENT);
  memset(&o, 0, sizeof o);
  o.max_host_connections = 1;
  http_client_set_options(fx.c, &o);
  assert_non_null(fx_send(&fx, fx.url, 3, 0, &first));
  assert_non_null(fx_send(&fx, fx.url, 0.3, 0, &second));
  assert_non_null(h3 = fx_send(&fx, fx.url, 0.3, 0, &third));
  http_cancel(h3);
  assert_int_equal(http_active(fx.c), 2);
  while (!second.done) uv_run(&fx.loop, UV_RUN_ONCE);
  assert_int_equal(second.err.kind, REC_E_TIMEOUT);
  assert_false(first.done);  /* the one on the connection is still waiting */
  while (!first.done) uv_run(&fx.loop, UV_RUN_ONCE);
  assert_int_equal(first.err.kind, REC_E_TIMEOUT);
  assert_false(third.done);
  assert_int_equal(callbacks, 2);
  assert_int_equal(http_active(fx.c), 0);
  fx_finish(&fx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_queued_request_times_out),
    cmocka_unit_test(test_checks_refuse_protocol_syntax),
    cmocka_unit_test(test_put_segment),
    cmocka_unit_test(test_agora_url_segments),
    cmocka_unit_test(test_queue_limits_connections),
    cmocka_unit_test(test_waiting_requests_hold_no_handle),
    cmocka_unit_test(test_reuse_under_1000_concurrent),
    cmocka_unit_test(test_silent_server_times_out),
    cmocka_unit_test(test_submillisecond_timeout_times_out),
    cmocka_unit_test(test_reply_over_cap_is_protocol),
    cmocka_unit_test(test_refused_port_is_network),
    cmocka_unit_test(test_cancel_calls_nothing),
    cmocka_unit_test(test_bad_url_is_invalid_argument),
    cmocka_unit_test(test_url_for_log_drops_secrets),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
