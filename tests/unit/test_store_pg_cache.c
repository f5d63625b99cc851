/* The per-unit cache of store.c for a backend with leases (issue 24), with a made-up backend
 * whose "lease thread" is the test: a unit gained is loaded on the store thread and only then
 * actionable (store_unit) and listed (store_push_units); keys of no unit stay; a unit lost
 * leaves the cache, and a write of it that finished just before the loss does not come back;
 * a watch-set change reloads the unit's sessions. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <lauxlib.h>
#include <uv.h>
#include "engine.h"
#include "setup.h"
#include "store.h"

typedef struct ev {
  int event;
  char unit[32];
  uint64_t token;
} ev;

struct store_conn {
  void (*wake)(void *);
  void *arg;
  ev evs[8];
  int nev;
  int sessions;            /* how many "agora:c1/session/sN" a load returns */
  atomic_int commits;
};

static struct store_conn fake;

static int f_lock(const char *w, const void *o, store_ident *id, char *m, size_t n) {
  (void)w; (void)o; (void)id; (void)m; (void)n;
  return 0;
}
static void f_owner_gone(const void *o) { (void)o; }
static store_conn *f_open(const char *w, const store_ident *id, char *m, size_t n) {
  (void)w; (void)id; (void)m; (void)n;
  return &fake;
}
static void f_ownership(store_conn *c, store_unit_fn fn, void *arg) {
  static int opened;
  int i;
  if (!opened++) fn(arg, STORE_UNIT_GAINED, "", 0);
  for (i = 0; i < c->nev; i++) fn(arg, c->evs[i].event, c->evs[i].unit, c->evs[i].token);
  c->nev = 0;
}
static int f_load_unit(store_conn *c, const char *unit, store_kv_fn fn, void *arg, char *m,
                       size_t n) {
  int i;
  char k[64];
  (void)m; (void)n;
  if (!*unit) {
    fn(arg, "plain/key", 9, "p", 1);
    return 0;
  }
  if (strcmp(unit, "agora:c1") == 0) fn(arg, "agora:c1/state", 14, "st", 2);
  for (i = 1; i <= c->sessions; i++) {
    snprintf(k, sizeof k, "agora:c1/session/s%d", i);
    fn(arg, k, strlen(k), "{}", 2);
  }
  return 0;
}
static int f_count_pending(store_conn *c, int64_t *out, char *m, size_t n) {
  (void)c; (void)m; (void)n;
  *out = 0;
  return 0;
}
static void f_commit(store_conn *c, const store_writeset *ws, store_result *r) {
  (void)ws;
  r->ok = 1;
  atomic_fetch_add(&c->commits, 1);
}
static void f_claim(store_conn *c, double now, long limit, double lease, store_result *r) {
  (void)c; (void)now; (void)limit; (void)lease;
  r->ok = 1;
}
static void f_counts(store_conn *c, store_result *r) {
  (void)c;
  r->ok = 1;
}
static const char *f_path(store_conn *c) { (void)c; return NULL; }
static void f_close(store_conn *c) { (void)c; }
static int f_leases_start(store_conn *c, void (*wake)(void *), void *arg, char *m, size_t n) {
  (void)m; (void)n;
  c->wake = wake;
  c->arg = arg;
  return 0;
}

static const store_backend fake_backend = {
  "fake-leases", f_lock, f_owner_gone, f_open, f_ownership, f_load_unit, f_count_pending,
  f_commit, f_claim, f_counts, f_path, f_close, NULL, f_leases_start,
};

/* ---- helpers ---- */

static void push(int event, const char *unit, uint64_t token) {
  ev *e = &fake.evs[fake.nev++];
  e->event = event;
  snprintf(e->unit, sizeof e->unit, "%s", unit);
  e->token = token;
}

static const char *cached(store_t *s, lua_State *L, const char *k);

/* The lease thread's wake, then the loop until key is cached (want 1) or not (want 0); a
 * ref'd timer keeps the loop alive, as a running script's tasks do. */
static void settle(engine_t *e, store_t *s, lua_State *L, const char *key, int want) {
  int i;
  fake.wake(fake.arg);
  for (i = 0; i < 5000; i++) {
    uv_run(engine_loop(e), UV_RUN_NOWAIT);
    if ((cached(s, L, key) != NULL) == want) return;
    uv_sleep(2);
  }
  fail_msg("the loop never got %s %s", key, want ? "cached" : "dropped");
}

static void nop(uv_timer_t *t) { (void)t; }

static const char *cached(store_t *s, lua_State *L, const char *k) {
  const char *v;
  lua_rawgeti(L, LUA_REGISTRYINDEX, store_cache_ref(s));
  lua_getfield(L, -1, k);
  v = lua_tostring(L, -1);
  lua_pop(L, 2);
  return v;
}

static int nunits(store_t *s, lua_State *L) {
  int n;
  store_push_units(s, L);
  n = (int)lua_rawlen(L, -1);
  lua_pop(L, 1);
  return n;
}

static void test_units_come_and_go(void **state) {
  char err[256], msg[256], why[200];
  engine_t *e;
  lua_State *L;
  store_t *s;
  store_job *j;
  uint64_t token;
  const char *str[3] = {"agora:c1/late", "v", NULL};
  size_t n[3] = {13, 1, 0};
  int before;
  uv_timer_t alive;
  (void)state;
  memset(&fake, 0, sizeof fake);
  fake.sessions = 1;
  e = engine_new(err, sizeof err);
  assert_non_null(e);
  L = engine_lua(e);
  uv_timer_init(engine_loop(e), &alive);
  uv_timer_start(&alive, nop, 1000000, 0);
  s = store_open(e, L, &fake_backend, NULL, NULL, msg, sizeof msg);
  assert_non_null(s);
  assert_true(store_fleet(s));
  assert_string_equal(cached(s, L, "plain/key"), "p");   /* the keys of no unit, at open */
  assert_int_equal(store_unit(s, "agora:c1", &token, why, sizeof why), 0);
  assert_non_null(strstr(why, "not held"));
  assert_int_equal(nunits(s, L), 0);

  push(STORE_UNIT_GAINED, "agora:c1", 3);
  fake.wake(fake.arg);
  uv_run(engine_loop(e), UV_RUN_NOWAIT);   /* the gain is seen; its load may still run */
  if (!cached(s, L, "agora:c1/state")) {
    assert_int_equal(store_unit(s, "agora:c1", &token, why, sizeof why), 0);
    if (!strstr(why, "loading")) fail_msg("why: %s", why);
  }
  settle(e, s, L, "agora:c1/state", 1);
  assert_string_equal(cached(s, L, "agora:c1/state"), "st");
  assert_string_equal(cached(s, L, "agora:c1/session/s1"), "{}");
  assert_int_equal(store_unit(s, "agora:c1", &token, why, sizeof why), 1);   /* no fence here */
  assert_int_equal((int)token, 3);
  assert_int_equal(nunits(s, L), 1);

  /* the watch set changed elsewhere: the sessions are read again */
  fake.sessions = 2;
  push(STORE_UNIT_CHANGED, "agora:c1", 3);
  settle(e, s, L, "agora:c1/session/s2", 1);
  assert_string_equal(cached(s, L, "agora:c1/session/s2"), "{}");

  /* a write of the unit finishes on the store thread, then the unit is lost before the loop
   * sees either: the loss goes first, the write does not put the key back */
  before = atomic_load(&fake.commits);
  j = store_job_new(sizeof *j, STORE_J_WRITE);
  assert_int_equal(store_ws_add(&j->ws, STORE_SET, 1, str, n), 0);
  store_submit(s, j);
  while (atomic_load(&fake.commits) == before) uv_sleep(2);
  push(STORE_UNIT_LOST, "agora:c1", 3);
  settle(e, s, L, "agora:c1/state", 0);
  for (before = 0; before < 20; before++) {   /* the finished write, handed back meanwhile */
    uv_run(engine_loop(e), UV_RUN_NOWAIT);
    uv_sleep(1);
  }
  assert_null(cached(s, L, "agora:c1/late"));
  assert_null(cached(s, L, "agora:c1/state"));
  assert_null(cached(s, L, "agora:c1/session/s1"));
  assert_string_equal(cached(s, L, "plain/key"), "p");   /* no unit's keys stay */
  assert_int_equal(store_unit(s, "agora:c1", &token, why, sizeof why), 0);
  assert_int_equal(nunits(s, L), 0);

  store_close(s, L);
  uv_close((uv_handle_t *)&alive, NULL);
  uv_run(engine_loop(e), UV_RUN_NOWAIT);
  engine_free(e);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_units_come_and_go)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
