/* The store's seam (store.h) with a backend made up here: the cache is filled from the
 * ownership events, a write set whose precondition fails changes nothing, and an
 * acknowledgement that could not be recorded, handed to the store, is recorded before the
 * next claim (once), never handed out again meanwhile, and not counted as pending. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
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

/* ---- the made-up backend: one unit "", a token, outbox rows in an array ---- */

typedef struct row {
  char id[32], dest[32];
  int delivered;      /* how many times an acknowledgement landed */
} row;

struct store_conn {
  int fail_commits;   /* every commit fails, as on a locked file */
  uint64_t token;
  row rows[8];
  int nrows, units_gained;
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
  c->units_gained++;
  fn(arg, STORE_UNIT_GAINED, "", 1);
}
static int f_load_unit(store_conn *c, const char *unit, store_kv_fn fn, void *arg, char *m,
                       size_t n) {
  (void)c; (void)m; (void)n;
  assert_string_equal(unit, "");
  fn(arg, "k1", 2, "v1", 2);
  return 0;
}
static int64_t undelivered(store_conn *c) {
  int64_t k = 0;
  int i;
  for (i = 0; i < c->nrows; i++) k += !c->rows[i].delivered;
  return k;
}
static int f_count_pending(store_conn *c, int64_t *out, char *m, size_t n) {
  (void)m; (void)n;
  *out = undelivered(c);
  return 0;
}
static row *find_row(store_conn *c, const char *id, const char *dest) {
  int i;
  for (i = 0; i < c->nrows; i++)
    if (!strcmp(c->rows[i].id, id) && !strcmp(c->rows[i].dest, dest)) return &c->rows[i];
  return NULL;
}
static void f_commit(store_conn *c, const store_writeset *ws, store_result *r) {
  int i;
  if (c->fail_commits) {
    snprintf(r->err, sizeof r->err, "fake: the store is locked");
    return;
  }
  if (ws->unit && ws->token != c->token) {
    r->fenced = 1;
    snprintf(r->err, sizeof r->err, "fake: stale token");
    return;
  }
  for (i = 0; i < ws->nops; i++) {
    const store_op *o = &ws->ops[i];
    row *w;
    r->changes = 0;
    if (o->kind == STORE_ENQ && c->nrows < 8) {
      w = &c->rows[c->nrows++];
      snprintf(w->id, sizeof w->id, "%s", o->s[0]);
      snprintf(w->dest, sizeof w->dest, "%s", o->s[1]);
      r->changes = 1;
    } else if (o->kind == STORE_DELIVERED && (w = find_row(c, o->s[0], o->s[1])) != NULL &&
               !w->delivered++) {
      r->changes = 1;
    }
    if (o->kind >= STORE_ENQ && o->kind <= STORE_FAILED) r->alerts[o->kind - STORE_ENQ] += r->changes;
  }
  r->ok = 1;
  r->pending = undelivered(c);
}
static void f_claim(store_conn *c, double now, long limit, double lease, store_result *r) {
  int i, k;
  (void)now; (void)lease;
  r->cells = calloc((size_t)c->nrows * STORE_NCOLS + 1, sizeof *r->cells);
  for (i = 0; i < c->nrows && r->nrows < limit; i++) {
    store_cell *cell = &r->cells[r->nrows * STORE_NCOLS];
    if (c->rows[i].delivered) continue;
    for (k = 0; k < 2; k++) {
      const char *v = k ? c->rows[i].dest : c->rows[i].id;
      cell[k].type = STORE_TEXT;
      cell[k].n = strlen(v);
      cell[k].s = strdup(v);
    }
    r->nrows++;
  }
  r->ok = 1;
}
static void f_counts(store_conn *c, store_result *r) {
  int i;
  r->counts[0] = r->pending = undelivered(c);
  for (i = 0; i < c->nrows; i++) r->counts[1] += c->rows[i].delivered > 0;
  r->ok = 1;
}
static const char *f_path(store_conn *c) { (void)c; return NULL; }
static void f_close(store_conn *c) { (void)c; }

static const store_backend fake_backend = {
  "fake", f_lock, f_owner_gone, f_open, f_ownership, f_load_unit, f_count_pending,
  f_commit, f_claim, f_counts, f_path, f_close, NULL, NULL,
};

/* ---- helpers ---- */

static store_job *run(store_t *s, lua_State *L, store_job *j) {
  store_run_sync(s, j, L);
  return j;
}

static store_job *write1(int kind, const char *a, const char *b, const char *c) {
  store_job *j = store_job_new(sizeof *j, STORE_J_WRITE);
  const char *str[3] = {a, b, c};
  size_t n[3] = {a ? strlen(a) : 0, b ? strlen(b) : 0, c ? strlen(c) : 0};
  assert_non_null(j);
  assert_int_equal(store_ws_add(&j->ws, kind, 1.0, str, n), 0);
  return j;
}

static store_job *claim(store_t *s, lua_State *L) {
  store_job *j = store_job_new(sizeof *j, STORE_J_CLAIM);
  j->limit = 10;
  return run(s, L, j);
}

static int64_t pending_count(store_t *s, lua_State *L) {
  store_job *j = run(s, L, store_job_new(sizeof(store_job), STORE_J_COUNTS));
  int64_t n = j->r.counts[0];
  assert_true(j->r.ok);
  store_job_free(j);
  return n;
}

static const char *cached(store_t *s, lua_State *L, const char *k) {
  const char *v;
  lua_rawgeti(L, LUA_REGISTRYINDEX, store_cache_ref(s));
  lua_getfield(L, -1, k);
  v = lua_tostring(L, -1);   /* the cache table keeps the string alive */
  lua_pop(L, 2);
  return v;
}

static store_t *open_fake(engine_t **e, lua_State **L) {
  char err[256], msg[256];
  store_t *s;
  memset(&fake, 0, sizeof fake);
  fake.token = 2;
  *e = engine_new(err, sizeof err);
  assert_non_null(*e);
  *L = engine_lua(*e);
  s = store_open(*e, *L, &fake_backend, NULL, NULL, msg, sizeof msg);
  assert_non_null(s);
  return s;
}

static void close_fake(engine_t *e, lua_State *L, store_t *s) {
  store_close(s, L);
  uv_run(engine_loop(e), UV_RUN_NOWAIT);   /* the async handle's close callback */
  engine_free(e);
}

/* ---- the tests ---- */

static void test_cache_from_ownership(void **state) {
  engine_t *e;
  lua_State *L;
  store_t *s = open_fake(&e, &L);
  store_job *j;
  (void)state;
  assert_int_equal(fake.units_gained, 1);
  assert_string_equal(cached(s, L, "k1"), "v1");
  j = run(s, L, write1(STORE_SET, "k2", "v2", NULL));
  assert_true(j->r.ok);
  store_job_free(j);
  assert_string_equal(cached(s, L, "k2"), "v2");
  close_fake(e, L, s);
}

static void test_fenced_write_changes_nothing(void **state) {
  engine_t *e;
  lua_State *L;
  store_t *s = open_fake(&e, &L);
  store_job *j = write1(STORE_SET, "k3", "stale", NULL);
  (void)state;
  j->ws.unit = "acct";
  j->ws.token = 1;   /* the backend's is 2 */
  run(s, L, j);
  assert_false(j->r.ok);
  assert_true(j->r.fenced);
  store_job_free(j);
  assert_null(cached(s, L, "k3"));
  j = write1(STORE_SET, "k3", "fresh", NULL);
  j->ws.unit = "acct";
  j->ws.token = 2;
  run(s, L, j);
  assert_true(j->r.ok);
  store_job_free(j);
  assert_string_equal(cached(s, L, "k3"), "fresh");
  close_fake(e, L, s);
}

static void test_unrecorded_ack_is_the_stores(void **state) {
  engine_t *e;
  lua_State *L;
  store_t *s = open_fake(&e, &L);
  store_job *j;
  (void)state;
  j = run(s, L, write1(STORE_ENQ, "a1", "log", "{}"));
  assert_true(j->r.ok);
  store_job_free(j);
  j = run(s, L, write1(STORE_ENQ, "a2", "log", "{}"));
  store_job_free(j);
  assert_int_equal(pending_count(s, L), 2);

  fake.fail_commits = 1;   /* a1 was delivered; its record cannot be written */
  j = run(s, L, write1(STORE_DELIVERED, "a1", "log", NULL));
  assert_false(j->r.ok);
  store_job_free(j);
  assert_int_equal(pending_count(s, L), 2);   /* a failed db:delivered alone changes nothing */
  assert_int_equal(store_ack_later(s, "a1", 2, "log", 3), 0);   /* the outbox hands it over */
  assert_int_equal(store_ack_later(s, "a1", 2, "log", 3), 0);   /* once is enough */
  assert_int_equal(fake.rows[0].delivered, 0);
  assert_int_equal(pending_count(s, L), 1);   /* a1 is not pending any more */
  j = claim(s, L);                            /* its record fails again: a1 not handed out */
  assert_true(j->r.ok);
  assert_int_equal(j->acked, 0);
  assert_int_equal(j->r.nrows, 1);
  assert_string_equal(j->r.cells[STORE_COL_ID].s, "a2");
  store_job_free(j);

  fake.fail_commits = 0;   /* the store is writable again: the next claim records a1 first */
  j = claim(s, L);
  assert_true(j->r.ok);
  assert_int_equal(j->acked, 1);
  assert_int_equal(j->r.nrows, 1);
  assert_string_equal(j->r.cells[STORE_COL_ID].s, "a2");
  store_job_free(j);
  assert_int_equal(fake.rows[0].delivered, 1);
  assert_int_equal(pending_count(s, L), 1);
  j = claim(s, L);   /* nothing is left to record: a1 is recorded once */
  assert_int_equal(j->nacks, 0);
  store_job_free(j);
  assert_int_equal(fake.rows[0].delivered, 1);
  close_fake(e, L, s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_cache_from_ownership),
    cmocka_unit_test(test_fenced_write_changes_nothing),
    cmocka_unit_test(test_unrecorded_ack_is_the_stores),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
