/* test_admin: admin.c's checks and handoff on one loop (the listener's and the "main" loop
 * at once), with a blocking client on a thread: the token (missing, wrong, a prefix, longer),
 * no token configured, a listener that is not loopback, the body cap, no dispatch function;
 * a request reaches the dispatch function whole and its answer, now or later, reaches the
 * client; an answer after the timeout (its client went away) is refused, and frees it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>
#include "admin.h"
#include "httpd.h"

#define TOKEN "0123456789abcdef-token"

static uv_loop_t loop;
static httpd_t *srv;
static uv_async_t done;
static char tokfile[64];

/* what the dispatch function saw, and how it answers */
static int seen;
static unsigned long seen_id;
static char seen_method[8], seen_path[64], seen_body[64];
static int answer_now = 1, answer_later;
static uv_timer_t later;

static void handle(httpd_conn *c, int resumed, void *ud) {
  (void)ud;
  if (resumed) {
    admin_serve(c, 1);
    return;
  }
  if (c->status) return;
  if (admin_is_route(c)) {
    admin_serve(c, 0);
    return;
  }
  httpd_reply(c, 404, "text/plain", "no\n", 3);
}

static void on_close(httpd_conn *c, void *ud) {
  (void)ud;
  admin_conn_closed(c);
}

static void on_later(uv_timer_t *t) {
  (void)t;
  assert_int_equal(admin_reply(seen_id, 200, "{\"later\":1}", 11), 0);
}

static void dispatch(const admin_request *r, void *ud) {
  (void)ud;
  seen++;
  seen_id = r->id;
  snprintf(seen_method, sizeof seen_method, "%s", r->method);
  snprintf(seen_path, sizeof seen_path, "%s", r->path);
  snprintf(seen_body, sizeof seen_body, "%.*s", (int)r->bodylen, r->body);
  if (answer_now) assert_int_equal(admin_reply(r->id, 201, "{\"ok\":1}", 8), 0);
  else if (answer_later) uv_timer_start(&later, on_later, 50, 0);
}

/* ---- the blocking client (a thread), run while the loop turns ---- */

typedef struct client {
  const char *req;
  size_t reqlen;
  int hang_up;          /* close right after sending */
  char reply[16384];
  size_t len;
} client;

static void client_main(void *arg) {
  client *cl = arg;
  struct sockaddr_in sa;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ssize_t n;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)httpd_port(srv));
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
    size_t off = 0;
    while (off < cl->reqlen && (n = write(fd, cl->req + off, cl->reqlen - off)) > 0) off += (size_t)n;
    if (!cl->hang_up)
      while (cl->len < sizeof cl->reply - 1 &&
             (n = read(fd, cl->reply + cl->len, sizeof cl->reply - 1 - cl->len)) > 0)
        cl->len += (size_t)n;
  }
  cl->reply[cl->len] = '\0';
  close(fd);
  uv_async_send(&done);
}

static void on_done(uv_async_t *a) { uv_stop(a->loop); }

/* Sends one request (Connection: close) and runs the loop until the client is done. */
static void roundtrip(client *cl) {
  uv_thread_t th;
  uv_thread_create(&th, client_main, cl);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_thread_join(&th);
}

static void request(client *cl, const char *method, const char *path, const char *auth,
                    const char *body) {
  static char buf[20000];
  size_t blen = body ? strlen(body) : 0;
  int n = snprintf(buf, sizeof buf, "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                   "%s%s%sContent-Length: %zu\r\n\r\n%s", method, path,
                   auth ? "Authorization: " : "", auth ? auth : "", auth ? "\r\n" : "",
                   blen, body ? body : "");
  memset(cl, 0, sizeof *cl);
  cl->req = buf;
  cl->reqlen = (size_t)n;
}

static int status_of(const client *cl) {
  int st = 0;
  sscanf(cl->reply, "HTTP/1.1 %d", &st);
  return st;
}

static int setup(void **state) {
  httpd_options o;
  char err[256];
  FILE *f;
  (void)state;
  snprintf(tokfile, sizeof tokfile, "/tmp/test_admin.%ld", (long)getpid());
  f = fopen(tokfile, "w");
  fprintf(f, TOKEN "  \n");  /* trailing spaces are cut */
  fclose(f);
  uv_loop_init(&loop);
  memset(&o, 0, sizeof o);
  o.host = "127.0.0.1";
  o.handler = handle;
  o.on_close = on_close;
  srv = httpd_start(&loop, &o, err, sizeof err);
  assert_non_null(srv);
  uv_async_init(&loop, &done, on_done);
  uv_timer_init(&loop, &later);
  admin_attach(&loop);
  admin_set_listen_host("127.0.0.1");
  assert_int_equal(admin_configure(tokfile, 0, err, sizeof err), 0);
  admin_set_dispatch(dispatch, NULL);
  seen = 0;
  answer_now = 1;
  answer_later = 0;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  admin_detach();
  admin_configure(NULL, 0, NULL, 0);
  httpd_free(srv, NULL, NULL);
  uv_close((uv_handle_t *)&done, NULL);
  uv_close((uv_handle_t *)&later, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
  unlink(tokfile);
  return 0;
}

static void test_handoff(void **state) {
  client cl;
  (void)state;
  request(&cl, "POST", "/admin/silences", "Bearer " TOKEN, "{\"matchers\":[\"a=b\"]}");
  roundtrip(&cl);
  assert_int_equal(status_of(&cl), 201);
  assert_non_null(strstr(cl.reply, "{\"ok\":1}"));
  assert_int_equal(seen, 1);
  assert_string_equal(seen_method, "POST");
  assert_string_equal(seen_path, "/admin/silences");
  assert_string_equal(seen_body, "{\"matchers\":[\"a=b\"]}");
  /* an answer later (a task that waits on the store) */
  answer_now = 0;
  answer_later = 1;
  request(&cl, "DELETE", "/admin/silences/s-1", "bearer   " TOKEN, NULL);
  roundtrip(&cl);
  assert_int_equal(status_of(&cl), 200);
  assert_non_null(strstr(cl.reply, "{\"later\":1}"));
  assert_int_equal(seen, 2);
  assert_string_equal(seen_method, "DELETE");
  assert_int_equal(admin_reply(seen_id, 200, "x", 1), -1);  /* answered already */
}

static void expect_refused(const char *auth, int status, const char *says) {
  client cl;
  request(&cl, "GET", "/admin/silences", auth, NULL);
  roundtrip(&cl);
  assert_int_equal(status_of(&cl), status);
  if (!strstr(cl.reply, says)) fail_msg("%d does not say '%s': %s", status, says, cl.reply);
  assert_null(strstr(cl.reply, TOKEN));
}

static void test_token(void **state) {
  (void)state;
  expect_refused(NULL, 401, "Authorization: Bearer TOKEN");
  expect_refused("Basic " TOKEN, 403, "wrong admin token");
  expect_refused("Bearer 0123456789abcdef", 403, "wrong admin token");   /* a prefix */
  expect_refused("Bearer " TOKEN "x", 403, "wrong admin token");         /* longer */
  expect_refused("Bearer " TOKEN "  ", 201, "{\"ok\":1}");               /* spaces cut */
  assert_int_equal(seen, 1);
}

static void test_off_and_remote(void **state) {
  char err[256];
  client cl;
  (void)state;
  admin_set_listen_host("0.0.0.0");
  expect_refused("Bearer " TOKEN, 403, "loopback listener only");
  assert_int_equal(admin_configure(tokfile, 1, err, sizeof err), 0);  /* --admin-remote */
  expect_refused("Bearer " TOKEN, 201, "{\"ok\":1}");
  admin_configure(NULL, 0, NULL, 0);
  expect_refused("Bearer " TOKEN, 403, "--admin-token-file");
  assert_int_equal(seen, 1);
  /* a token file without a token names the file, never its content */
  {
    FILE *f = fopen(tokfile, "w");
    fprintf(f, "short-secret\n");
    fclose(f);
  }
  assert_int_equal(admin_configure(tokfile, 0, err, sizeof err), -1);
  assert_non_null(strstr(err, tokfile));
  assert_null(strstr(err, "short-secret"));
  assert_int_equal(admin_configure("/nonexistent/token", 0, err, sizeof err), -1);
  request(&cl, "GET", "/other", NULL, NULL);
  roundtrip(&cl);
  assert_int_equal(status_of(&cl), 404);
}

static void test_caps(void **state) {
  static char big[ADMIN_MAX_BODY + 2];
  (void)state;
  memset(big, 'a', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  {
    client cl;
    request(&cl, "POST", "/admin/silences", "Bearer " TOKEN, big);
    roundtrip(&cl);
    assert_int_equal(status_of(&cl), 413);
  }
  admin_set_dispatch(NULL, NULL);
  expect_refused("Bearer " TOKEN, 503, "no admin handler");
  assert_int_equal(seen, 0);
}

/* The client hangs up before the answer and the script never answers: httpd stops reading
 * while a reply is deferred, so the listener learns it at ADMIN_TIMEOUT_MS (a 504 to a closed
 * socket); the late answer is then refused and the request freed (10 s of real time). */
static void test_hang_up(void **state) {
  client cl;
  (void)state;
  answer_now = 0;
  request(&cl, "GET", "/admin/silences", "Bearer " TOKEN, NULL);
  cl.hang_up = 1;
  roundtrip(&cl);
  while (seen == 0 || httpd_nconns(srv) > 0) uv_run(&loop, UV_RUN_ONCE);
  assert_int_equal(admin_reply(seen_id, 200, "{}", 2), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_handoff, setup, teardown),
    cmocka_unit_test_setup_teardown(test_token, setup, teardown),
    cmocka_unit_test_setup_teardown(test_off_and_remote, setup, teardown),
    cmocka_unit_test_setup_teardown(test_caps, setup, teardown),
    cmocka_unit_test_setup_teardown(test_hang_up, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
