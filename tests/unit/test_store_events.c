/* test_store_events: the received events' operations of the store interface (store.h) on
 * the SQLite backend: a noticeId is added once (the second add changes nothing: a
 * duplicate, reported per op in one write set), load_events gives the events not marked done
 * in arrival order, done drops the body, prune forgets processed events received before the
 * window and keeps the ones not processed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "store.h"

typedef struct seen {
  char ids[8][32];
  double received[8];
  int n;
} seen;

static void on_event(void *arg, const char *id, const char *body, size_t n, double received) {
  seen *s = arg;
  (void)body;
  (void)n;
  if (s->n < 8) {
    snprintf(s->ids[s->n], sizeof s->ids[0], "%s", id);
    s->received[s->n] = received;
  }
  s->n++;
}

static void commit(const store_backend *be, store_conn *c, int kind, const char *id,
                   const char *body, double x, int *changed) {
  store_writeset ws;
  store_result r;
  const char *s[3] = {id, body, NULL};
  size_t n[3] = {id ? strlen(id) : 0, body ? strlen(body) : 0, 0};
  memset(&ws, 0, sizeof ws);
  memset(&r, 0, sizeof r);
  assert_int_equal(store_ws_add(&ws, kind, x, s, n), 0);
  ws.changed = changed;
  be->commit(c, &ws, &r);
  assert_true(r.ok);
  store_ws_clear(&ws);
}

static void test_add_dedupe_done_prune(void **state) {
  const store_backend *be = store_backend_for(NULL);
  char msg[256];
  store_conn *c = be->open(NULL, NULL, msg, sizeof msg);
  store_writeset ws;
  store_result r;
  int changed[3] = {-1, -1, -1}, one = -1;
  seen s;
  (void)state;
  assert_non_null(c);
  assert_non_null(be->load_events);
  /* one write set: a, b, a again -> 1, 1, 0 */
  memset(&ws, 0, sizeof ws);
  memset(&r, 0, sizeof r);
  {
    const char *ids[3] = {"a", "b", "a"};
    for (int i = 0; i < 3; i++) {
      const char *sv[3] = {ids[i], "{}", NULL};
      size_t nv[3] = {1, 2, 0};
      assert_int_equal(store_ws_add(&ws, STORE_EVENT_ADD, 100 + i, sv, nv), 0);
    }
  }
  ws.changed = changed;
  be->commit(c, &ws, &r);
  assert_true(r.ok);
  store_ws_clear(&ws);
  assert_int_equal(changed[0], 1);
  assert_int_equal(changed[1], 1);
  assert_int_equal(changed[2], 0);
  commit(be, c, STORE_EVENT_ADD, "a", "{\"again\":1}", 200, &one);
  assert_int_equal(one, 0);
  memset(&s, 0, sizeof s);
  assert_int_equal(be->load_events(c, on_event, &s, msg, sizeof msg), 0);
  assert_int_equal(s.n, 2);
  assert_string_equal(s.ids[0], "a");
  assert_string_equal(s.ids[1], "b");
  assert_true(s.received[0] == 100.0);
  /* a done: not loaded again, still a duplicate */
  commit(be, c, STORE_EVENT_DONE, "a", NULL, 300, &one);
  assert_int_equal(one, 1);
  commit(be, c, STORE_EVENT_DONE, "a", NULL, 301, &one);
  assert_int_equal(one, 0);
  memset(&s, 0, sizeof s);
  assert_int_equal(be->load_events(c, on_event, &s, msg, sizeof msg), 0);
  assert_int_equal(s.n, 1);
  assert_string_equal(s.ids[0], "b");
  commit(be, c, STORE_EVENT_ADD, "a", "{}", 400, &one);
  assert_int_equal(one, 0);
  /* prune: the processed "a" (received at 100) goes at 150; "b" (not processed) stays */
  commit(be, c, STORE_EVENT_PRUNE, NULL, NULL, 150, &one);
  assert_int_equal(one, 1);
  commit(be, c, STORE_EVENT_ADD, "a", "{}", 500, &one);
  assert_int_equal(one, 1);   /* past the window: new again */
  memset(&s, 0, sizeof s);
  assert_int_equal(be->load_events(c, on_event, &s, msg, sizeof msg), 0);
  assert_int_equal(s.n, 2);
  assert_string_equal(s.ids[0], "b");
  assert_string_equal(s.ids[1], "a");
  be->close(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_add_dedupe_done_prune)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
