/* lstore: the Lua module `rec.store` over the store interface (store.h): db:get/keys read the
 * cache, db:set/enqueue/delivered/attempt_failed/prune and db:transaction become write sets,
 * db:pending/counts are jobs; the task that asked yields while its job runs on the store
 * thread. Nothing here knows which backend runs (store.c picks it from the path).
 *
 * db:transaction(fn) runs fn on the loop against a write set (reads inside it see the
 * committed cache plus that set; fn cannot wait), then ships the set as one job: a
 * transaction never spans a yield and no other task's writes land inside it. Where the caller
 * cannot yield (a metamethod, the main chunk of a module), the loop thread waits for the job.
 *
 * Units (a fleet, docs/design.md "PostgreSQL store and leases"): db:unit(u) says whether this
 * process may write and act for unit u now (its token), db:units() which units it holds,
 * db:fleet() whether the store has leases; db:transaction(fn, {unit = u}) commits under u's
 * token, and a stale one comes back as false, {kind = "fenced", ...}. On SQLite every unit is
 * this process's (token 1).
 *
 * A bad store (for SQLite: a directory, not writable, not an SQLite database, another
 * program's database, a newer schema, damaged, locked) stops the run with exit status 2 and a
 * one-line `kind=state_file` error that says what to do; the Lua error is typed
 * (invalid_argument). */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include "config.h"
#include "fence.h"
#include "engine.h"
#include "log.h"
#include "lstore.h"
#include "rerr.h"
#include "store.h"

#define DB_MT "rec.store.db"
#define DBS_KEY "rec.store.dbs"

enum { R_RAISE, R_TX };   /* how the result is handed back: raise on failure, or false, err */

/* A job as the binding sees it: the store's job, and the task waiting for it. */
typedef struct ljob {
  store_job job;   /* first: store_job_new allocates the whole struct */
  pending_t base;
  task_t *t;       /* NULL once cancelled (the job still runs: a commit cannot be taken back) */
  int ret;
  int results_ref; /* R_TX: the values fn returned, handed back after the commit */
  char *unit;      /* R_TX with {unit = u}: the precondition's unit (job.ws.unit points here) */
} ljob;

typedef struct store_db {
  store_t *s;
  int cache_ref;               /* store_cache_ref(s), fixed for the store's life: no call per read */
  int in_tx;
  ljob *ws;                    /* the write set of the running db:transaction */
} store_db;

static double wall_now(lua_State *L) {
  engine_t *e;
  lua_getfield(L, LUA_REGISTRYINDEX, "rec.engine");
  e = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return e ? engine_time(e) : 0;
}

static void lj_free(ljob *j) {
  if (!j) return;
  free(j->unit);
  store_job_free(&j->job);
}

/* The error of a write refused for its unit: {kind = "fenced", message, unit, retryable}. */
static void push_fenced(lua_State *L, const char *unit, const char *msg) {
  rec_err err;
  rec_err_set(&err, REC_E_INVALID_ARGUMENT, 0, "%s", msg);
  err.retryable = 0;
  engine_push_err(L, &err);
  lua_pushliteral(L, "fenced");
  lua_setfield(L, -2, "kind");
  lua_pushstring(L, unit);
  lua_setfield(L, -2, "unit");
}

static ljob *lj_new(lua_State *L, int kind, int ret) {
  ljob *j = (ljob *)store_job_new(sizeof *j, kind);
  task_t *t = engine_task_of(L);
  if (!j) luaL_error(L, "out of memory");
  j->ret = ret;
  j->results_ref = LUA_NOREF;
  j->job.task = t ? task_id(t) : 0;
  return j;
}

/* Adds an op to j with up to three strings (copied from the Lua stack indexes a, b, c; 0 =
 * none, negative = optional string that may be absent). */
static void job_add(lua_State *L, ljob *j, int kind, double x, int a, int b, int c) {
  int idx[3] = {a, b, c}, i;
  const char *s[3] = {NULL, NULL, NULL};
  size_t n[3] = {0, 0, 0};
  for (i = 0; i < 3; i++) {
    int at = idx[i] < 0 ? -idx[i] : idx[i];
    if (!at) continue;
    if (idx[i] < 0 && !lua_isstring(L, at)) continue;
    s[i] = luaL_checklstring(L, at, &n[i]);
  }
  if (store_ws_add(&j->job.ws, kind, x, s, n)) luaL_error(L, "out of memory");
}

/* ---- results back on the loop ---- */

static void push_cell(lua_State *L, const store_cell *c) {
  switch (c->type) {
  case STORE_INT: lua_pushinteger(L, (lua_Integer)c->i); break;
  case STORE_REAL: lua_pushnumber(L, c->d); break;
  case STORE_TEXT: lua_pushlstring(L, c->s, c->n); break;
  default: lua_pushnil(L);
  }
}

/* Pushes what the job gives back: true, value(s) | false, message. Returns the count. */
static int push_result(lua_State *L, ljob *lj) {
  const store_job *j = &lj->job;
  int i, k, n;
  lua_checkstack(L, 8);
  if (!j->r.ok && j->r.fenced && lj->unit) {
    lua_pushboolean(L, 0);
    push_fenced(L, lj->unit, j->r.err);
    return 2;
  }
  if (!j->r.ok) {
    lua_pushboolean(L, 0);
    lua_pushstring(L, j->r.err[0] ? j->r.err : "rec.store: failed");
    return 2;
  }
  lua_pushboolean(L, 1);
  if (j->kind == STORE_J_COUNTS) {
    lua_pushinteger(L, (lua_Integer)j->r.counts[0]);
    lua_pushinteger(L, (lua_Integer)j->r.counts[1]);
    return 3;
  }
  if (j->kind == STORE_J_CLAIM) {
    lua_createtable(L, j->r.nrows, 0);
    for (i = 0; i < j->r.nrows; i++) {
      lua_createtable(L, 0, STORE_NCOLS);
      for (k = 0; k < STORE_NCOLS; k++) {
        push_cell(L, &j->r.cells[i * STORE_NCOLS + k]);
        lua_setfield(L, -2, store_col_names[k]);
      }
      lua_rawseti(L, -2, i + 1);
    }
    return 2;
  }
  if (lj->ret == R_TX) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, lj->results_ref);
    n = (int)lua_rawlen(L, -1);
    lua_checkstack(L, n + 2);
    for (i = 1; i <= n; i++) lua_rawgeti(L, -i, i);
    lua_remove(L, -n - 1);
    return 1 + n;
  }
  if (j->ws.nops == 1 && j->ws.ops[0].kind == STORE_PRUNE) lua_pushinteger(L, j->r.changes);
  else lua_pushboolean(L, j->r.changes > 0);
  return 2;
}

static void release_results(lua_State *L, ljob *j) {
  if (j->results_ref != LUA_NOREF) luaL_unref(L, LUA_REGISTRYINDEX, j->results_ref);
  j->results_ref = LUA_NOREF;
}

/* store.c hands a finished job back (L NULL: the Lua state is closing) */
static void lj_done(store_job *sj, lua_State *L) {
  ljob *j = (ljob *)sj;
  if (j->t && L) {
    task_t *t = j->t;
    engine_detach(t, &j->base);
    engine_complete(t, push_result(task_thread(t), j));
  }
  if (L) release_results(L, j);
  lj_free(j);
}

static void job_cancel(pending_t *p) {
  ((ljob *)((char *)p - offsetof(ljob, base)))->t = NULL;  /* it still runs; lj_done frees it */
}

/* The continuation: the values after the yield are (true, ...) | (false, msg) | (nil, err)
 * when the task was cancelled. R_RAISE raises the failure; R_TX returns false, err. */
static int finish_k(lua_State *L, int status, lua_KContext ctx) {
  int base = (int)ctx, ret = base < 0 ? R_TX : R_RAISE, n;
  (void)status;
  if (base < 0) base = -base - 1;
  n = lua_gettop(L) - base;
  if (n < 1) return 0;
  if (!lua_toboolean(L, base + 1)) {
    lua_settop(L, base + 2);
    if (ret == R_RAISE) return lua_error(L);
    lua_pushboolean(L, 0);
    lua_replace(L, base + 1);
    return 2;
  }
  if (ret == R_TX) return n;
  return n - 1;  /* drop the leading true */
}

/* Queues j and waits for it: the task yields (the usual case), or, where the caller cannot
 * yield (a metamethod, the main chunk of a module), the loop thread waits for the store
 * thread. Returns like the binding. */
static int submit(lua_State *L, store_t *s, ljob *j, const char *what) {
  task_t *t = engine_task_of(L);
  int base = lua_gettop(L);
  lua_KContext ctx = j->ret == R_TX ? -(lua_KContext)base - 1 : (lua_KContext)base;
  if (!store_started(s)) {   /* cannot happen once open succeeded */
    lj_free(j);
    return luaL_error(L, "rec.store: the database is closed");
  }
  if (t && lua_isyieldable(L) && !task_cancelled(t)) {
    j->t = t;
    j->base.cancel = job_cancel;
    j->job.done = lj_done;
    store_submit(s, &j->job);
    engine_wait(t, &j->base, what);
    return lua_yieldk(L, 0, ctx, finish_k);
  }
  store_run_sync(s, &j->job, L);
  push_result(L, j);
  release_results(L, j);
  lj_free(j);
  return finish_k(L, LUA_OK, ctx);
}

/* ---- open / close ---- */

static store_db *check_db(lua_State *L) {
  store_db *d = luaL_checkudata(L, 1, DB_MT);
  if (!d->s) luaL_error(L, "rec.store: the database is closed");
  return d;
}

/* ---- reads (the cache) ---- */

/* The write set's last word on key: 1 set (value pushed), 0 deleted, -1 nothing said. */
static int ws_lookup(lua_State *L, ljob *ws, const char *k, size_t kn) {
  int i;
  if (!ws) return -1;
  for (i = ws->job.ws.nops - 1; i >= 0; i--) {
    store_op *o = &ws->job.ws.ops[i];
    if ((o->kind == STORE_SET || o->kind == STORE_DEL) && o->n[0] == kn && memcmp(o->s[0], k, kn) == 0) {
      if (o->kind == STORE_DEL) return 0;
      lua_pushlstring(L, o->s[1], o->n[1]);
      return 1;
    }
  }
  return -1;
}

/* db:get(key) -> value string or nil */
static int l_get(lua_State *L) {
  store_db *d = check_db(L);
  size_t kn;
  const char *k = luaL_checklstring(L, 2, &kn);
  int r = d->in_tx ? ws_lookup(L, d->ws, k, kn) : -1;
  if (r == 1) return 1;
  if (r == 0) {
    lua_pushnil(L);
    return 1;
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, d->cache_ref);
  lua_pushvalue(L, 2);
  lua_rawget(L, -2);
  return 1;
}

/* db:keys(prefix) -> { [key] = value, ... } for every key starting with prefix */
static int l_keys(lua_State *L) {
  store_db *d = check_db(L);
  size_t pn;
  const char *p = luaL_checklstring(L, 2, &pn);
  int out, i;
  lua_newtable(L);
  out = lua_gettop(L);
  lua_rawgeti(L, LUA_REGISTRYINDEX, d->cache_ref);
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    size_t kn;
    const char *k = lua_tolstring(L, -2, &kn);
    if (kn >= pn && memcmp(k, p, pn) == 0) {
      lua_pushvalue(L, -2);
      lua_insert(L, -2);
      lua_rawset(L, out);
    } else {
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  if (d->in_tx && d->ws)
    for (i = 0; i < d->ws->job.ws.nops; i++) {
      store_op *o = &d->ws->job.ws.ops[i];
      if ((o->kind != STORE_SET && o->kind != STORE_DEL) || o->n[0] < pn || memcmp(o->s[0], p, pn)) continue;
      lua_pushlstring(L, o->s[0], o->n[0]);
      if (o->kind == STORE_SET) lua_pushlstring(L, o->s[1], o->n[1]);
      else lua_pushnil(L);
      lua_rawset(L, out);
    }
  return 1;
}

/* ---- writes: into the write set inside db:transaction, else a one-write job ---- */

static ljob *writer(lua_State *L, store_db *d, int *direct) {
  *direct = !d->in_tx;
  if (d->in_tx) return d->ws;
  return lj_new(L, STORE_J_WRITE, R_RAISE);
}

static int write_done(lua_State *L, store_db *d, ljob *j, int direct, const char *what) {
  if (!direct) {
    lua_pushboolean(L, 1);  /* known only at the commit */
    return 1;
  }
  return submit(L, d->s, j, what);
}

/* db:set(key, value) ; db:set(key, nil) deletes */
static int l_set(lua_State *L) {
  store_db *d = check_db(L);
  int direct;
  ljob *j;
  luaL_checkstring(L, 2);
  if (!lua_isnoneornil(L, 3)) luaL_checkstring(L, 3);
  j = writer(L, d, &direct);
  if (lua_isnoneornil(L, 3)) job_add(L, j, STORE_DEL, 0, 2, 0, 0);
  else job_add(L, j, STORE_SET, wall_now(L), 2, 3, 0);
  return write_done(L, d, j, direct, "db:set");
}

/* db:enqueue(id, dest, payload) -> true when added, false when (id, dest) was already there */
static int l_enqueue(lua_State *L) {
  store_db *d = check_db(L);
  int direct;
  ljob *j;
  luaL_checkstring(L, 2);
  luaL_checkstring(L, 3);
  luaL_checkstring(L, 4);
  j = writer(L, d, &direct);
  job_add(L, j, STORE_ENQ, wall_now(L), 2, 3, 4);
  return write_done(L, d, j, direct, "db:enqueue");
}

/* db:delivered(id, dest) -> true when the row was pending */
static int l_delivered(lua_State *L) {
  store_db *d = check_db(L);
  int direct;
  ljob *j;
  luaL_checkstring(L, 2);
  luaL_checkstring(L, 3);
  j = writer(L, d, &direct);
  job_add(L, j, STORE_DELIVERED, wall_now(L), 2, 3, 0);
  return write_done(L, d, j, direct, "db:delivered");
}

/* db:delivered_later(id, dest): delivered, but db:delivered could not record it; the store
 * records it before its next db:pending, which meanwhile never returns that row, and
 * db:counts() does not count it as pending. In memory: a restart sends it again. */
static int l_delivered_later(lua_State *L) {
  store_db *d = check_db(L);
  size_t idn, dn;
  const char *id = luaL_checklstring(L, 2, &idn), *dest = luaL_checklstring(L, 3, &dn);
  if (store_ack_later(d->s, id, idn, dest, dn)) return luaL_error(L, "out of memory");
  return 0;
}

/* db:attempt_failed(id, dest, next_at [, error_message]) */
static int l_attempt_failed(lua_State *L) {
  store_db *d = check_db(L);
  int direct;
  ljob *j;
  double next_at;
  luaL_checkstring(L, 2);
  luaL_checkstring(L, 3);
  next_at = luaL_checknumber(L, 4);
  if (lua_type(L, 5) == LUA_TSTRING) {  /* an error text may echo a URL or a request */
    size_t n;
    const char *msg = lua_tolstring(L, 5, &n);
    char *clean = log_redact_dup(msg, n, &n);  /* redacted whole, then cut */
    if (clean) lua_pushlstring(L, clean, n > 4000 ? 4000 : n);
    else lua_pushliteral(L, "[REDACTED]");
    free(clean);
    lua_replace(L, 5);
  }
  j = writer(L, d, &direct);
  job_add(L, j, STORE_FAILED, next_at, 2, 3, -5);
  return write_done(L, d, j, direct, "db:attempt_failed");
}

/* db:prune(seconds): forget delivered alerts older than that -> how many */
static int l_prune(lua_State *L) {
  store_db *d = check_db(L);
  int direct;
  ljob *j;
  double cut = wall_now(L) - luaL_checknumber(L, 2);
  j = writer(L, d, &direct);
  job_add(L, j, STORE_PRUNE, cut, 0, 0, 0);
  if (!direct) {
    lua_pushinteger(L, 0);
    return 1;
  }
  return submit(L, d->s, j, "db:prune");
}

/* ---- outbox reads: jobs on the store thread ---- */

/* db:pending(limit [, now]) -> list of {id, dest, payload, attempts, created_at, next_at,
 * last_error} due at `now` (default: the engine's wall clock), oldest first */
static int l_pending(lua_State *L) {
  store_db *d = check_db(L);
  ljob *j;
  lua_Integer limit = luaL_optinteger(L, 2, 100);
  double now = luaL_opt(L, luaL_checknumber, 3, wall_now(L));
  if (d->in_tx) return luaL_error(L, "rec.store: db:pending cannot run inside a transaction");
  j = lj_new(L, STORE_J_CLAIM, R_RAISE);
  j->job.now = now;
  j->job.limit = (long)limit;
  return submit(L, d->s, j, "db:pending");
}

/* db:counts() -> pending, delivered */
static int l_counts(lua_State *L) {
  store_db *d = check_db(L);
  if (d->in_tx) return luaL_error(L, "rec.store: db:counts cannot run inside a transaction");
  return submit(L, d->s, lj_new(L, STORE_J_COUNTS, R_RAISE), "db:counts");
}

/* The options of db:transaction(fn, {unit = u}): the first extra argument when it is a
 * table with a string field unit (then it is not passed to fn). The unit's name, or NULL. */
static const char *tx_unit(lua_State *L) {
  const char *u = NULL;
  if (lua_type(L, 3) != LUA_TTABLE) return NULL;
  if (lua_getfield(L, 3, "unit") == LUA_TSTRING) u = lua_tostring(L, -1);
  lua_pop(L, 1);
  return u;   /* the table stays at 3: the string lives while it does */
}

/* db:transaction(fn, ...) -> true, results... | false, error. fn runs on the loop against a
 * write set (it cannot wait: no HTTP, no sleep); the set then commits in one BEGIN IMMEDIATE
 * ... COMMIT on the store thread while the task waits. An error in fn, or a failed commit,
 * leaves nothing of it. db:transaction(fn, {unit = u}) commits under the token this member
 * holds u with; when it holds none (or may not act), or the token went stale by the commit:
 * false, {kind = "fenced", ...}, nothing written. */
static int l_transaction(lua_State *L) {
  store_db *d = check_db(L);
  int n = lua_gettop(L), i, rc, nres, first = 3;
  const char *unit;
  uint64_t token = 0;
  ljob *j;
  luaL_checktype(L, 2, LUA_TFUNCTION);
  if (d->in_tx) return luaL_error(L, "rec.store: transactions do not nest");
  if ((unit = tx_unit(L)) != NULL) {
    char why[300];
    first = 4;
    if (!store_unit(d->s, unit, &token, why, sizeof why)) {
      char msg[400];
      snprintf(msg, sizeof msg, "rec.store: fenced: %s: nothing was written", why);
      lua_pushboolean(L, 0);
      push_fenced(L, unit, msg);
      return 2;
    }
  }
  j = lj_new(L, STORE_J_WRITE, R_TX);
  if (unit) {
    if (!(j->unit = strdup(unit))) {
      lj_free(j);
      return luaL_error(L, "out of memory");
    }
    j->job.ws.unit = j->unit;
    j->job.ws.token = token;
  }
  d->ws = j;
  d->in_tx = 1;
  lua_pushvalue(L, 2);
  lua_pushvalue(L, 1);
  for (i = first; i <= n; i++) lua_pushvalue(L, i);
  rc = lua_pcall(L, n - first + 2, LUA_MULTRET, 0);
  d->in_tx = 0;
  d->ws = NULL;
  if (!d->s) {
    lj_free(j);
    return luaL_error(L, "rec.store: the database was closed inside a transaction");
  }
  if (rc != LUA_OK) {
    lj_free(j);
    lua_pushboolean(L, 0);
    lua_insert(L, -2);
    return 2;
  }
  nres = lua_gettop(L) - n;
  lua_createtable(L, nres, 0);
  for (i = 1; i <= nres; i++) {
    lua_pushvalue(L, n + i);
    lua_rawseti(L, -2, i);
  }
  j->results_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_settop(L, n);
  if (j->job.ws.nops == 0) {   /* nothing to write: no job */
    lua_pushboolean(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, j->results_ref);
    for (i = 1; i <= nres; i++) lua_rawgeti(L, n + 2, i);
    lua_remove(L, n + 2);
    release_results(L, j);
    lj_free(j);
    return 1 + nres;
  }
  return submit(L, d->s, j, "db:transaction");
}

/* db:unit(u) -> token | nil, why: may this process write and act for unit u now? */
static int l_unit(lua_State *L) {
  store_db *d = check_db(L);
  const char *u = luaL_checkstring(L, 2);
  uint64_t token;
  char why[300];
  if (!store_unit(d->s, u, &token, why, sizeof why)) {
    lua_pushnil(L);
    lua_pushstring(L, why);
    return 2;
  }
  lua_pushinteger(L, (lua_Integer)token);
  return 1;
}

/* db:units() -> { "agora:...", ... }: the units held, sorted */
static int l_units(lua_State *L) {
  store_db *d = check_db(L);
  store_push_units(d->s, L);
  return 1;
}

/* db:fleet() -> true on a store with leases (this process is a member of a fleet) */
static int l_fleet(lua_State *L) {
  store_db *d = check_db(L);
  lua_pushboolean(L, store_fleet(d->s));
  return 1;
}

static int l_path(lua_State *L) {
  store_db *d = check_db(L);
  const char *path = store_path(d->s);
  if (path) lua_pushstring(L, path);
  else lua_pushnil(L);
  return 1;
}

static int l_close(lua_State *L) {
  store_db *d = luaL_checkudata(L, 1, DB_MT);
  store_t *s = d->s;
  if (!s) return 0;
  if (lua_getfield(L, LUA_REGISTRYINDEX, DBS_KEY) == LUA_TTABLE) {
    lua_pushnil(L);
    lua_setfield(L, -2, store_key(s));
  }
  lua_pop(L, 1);
  d->s = NULL;
  store_close(s, L);
  return 0;
}

static int l_gc(lua_State *L) {
  store_db *d = luaL_checkudata(L, 1, DB_MT);
  store_t *s = d->s;
  d->s = NULL;
  store_close(s, NULL);
  return 0;
}

static int l_tostring(lua_State *L) {
  store_db *d = luaL_checkudata(L, 1, DB_MT);
  const char *path = d->s ? store_path(d->s) : NULL;
  lua_pushfstring(L, "rec.store db (%s%s)", path ? path : ":memory:", d->s ? "" : ", closed");
  return 1;
}

/* The engine's Lua state ends with the engine: its __gc hands the engine's stores back (a
 * reload's next engine takes them over). */
static int l_owner_gone(lua_State *L) {
  store_owner_gone(lua_touserdata(L, lua_upvalueindex(1)));
  return 0;
}

static void guard_owner(lua_State *L, const void *e) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, "rec.store.lockguard") == LUA_TNIL) {
    lua_pop(L, 1);
    lua_newuserdatauv(L, 1, 0);
    lua_newtable(L);
    lua_pushlightuserdata(L, (void *)e);
    lua_pushcclosure(L, l_owner_gone, 1);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    lua_setfield(L, LUA_REGISTRYINDEX, "rec.store.lockguard");
  } else {
    lua_pop(L, 1);
  }
}

/* A bad state file: the log says why (kind=state_file), the run ends with status 2, and the
 * caller gets a typed error (kind invalid_argument). */
static int state_file_error(lua_State *L, engine_t *e, const char *msg) {
  rec_err err;
  log_error("kind=state_file %s; recwatch stops (exit status 2)", msg);
  if (e) engine_exit(e, 2);
  rec_err_set(&err, REC_E_INVALID_ARGUMENT, 0, "rec.store: %s", msg);
  err.retryable = 0;
  engine_push_err(L, &err);
  return lua_error(L);
}

/* store.open([path [, {leases = false}]]) -> db. path defaults to the engine's state file
 * (--state or rec.configure{state=}); without one the state lives in memory for this run
 * only. A PostgreSQL URL (postgresql://, postgres://) opens the fleet's database and joins
 * it; leases = false opens it without joining (a tool that edits the watch set: every key is
 * in the cache, no unit is held). The same store gives the same connection, whatever path
 * names it, so watchers and the outbox share transactions. */
static int l_open(lua_State *L) {
  const char *path = luaL_optstring(L, 1, NULL);
  int no_leases = 0;
  if (lua_type(L, 2) == LUA_TTABLE) {
    lua_getfield(L, 2, "leases");
    no_leases = lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1);
    lua_pop(L, 1);
  } else if (!lua_isnoneornil(L, 2)) {
    return luaL_typeerror(L, 2, "table of options");
  }
  const store_backend *be;
  store_ident id;
  store_db *d;
  store_t *s;
  char msg[2600];
  engine_t *e;
  lua_getfield(L, LUA_REGISTRYINDEX, "rec.engine");
  e = lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (!path && e && engine_config(e)->state_path && engine_config(e)->state_path[0])
    path = engine_config(e)->state_path;
  if (path && strcmp(path, ":memory:") == 0) path = NULL;
  be = store_backend_for(path);
  memset(&id, 0, sizeof id);
  snprintf(id.key, sizeof id.key, ":memory:");
  id.no_leases = no_leases;
  if (path) {
    guard_owner(L, e);
    if (be->lock(path, e, &id, msg, sizeof msg)) return state_file_error(L, e, msg);
  }
  luaL_getsubtable(L, LUA_REGISTRYINDEX, DBS_KEY);
  if (lua_getfield(L, -1, id.key) == LUA_TUSERDATA) return 1;
  lua_pop(L, 1);
  d = lua_newuserdatauv(L, sizeof *d, 0);
  memset(d, 0, sizeof *d);
  luaL_setmetatable(L, DB_MT);
  msg[0] = 0;
  if (!(s = store_open(e, L, be, path, path ? &id : NULL, msg, sizeof msg))) {
    if (!path) return luaL_error(L, "rec.store: %s", msg);
    return state_file_error(L, e, msg);
  }
  d->s = s;
  d->cache_ref = store_cache_ref(s);
  lua_pushvalue(L, -1);
  lua_setfield(L, -3, id.key);
  return 1;
}

int luaopen_rec_store(lua_State *L) {
  static const luaL_Reg methods[] = {
    {"get", l_get}, {"set", l_set}, {"keys", l_keys}, {"enqueue", l_enqueue},
    {"pending", l_pending}, {"delivered", l_delivered}, {"delivered_later", l_delivered_later},
    {"attempt_failed", l_attempt_failed},
    {"counts", l_counts}, {"prune", l_prune}, {"transaction", l_transaction},
    {"path", l_path}, {"close", l_close}, {"unit", l_unit}, {"units", l_units},
    {"fleet", l_fleet}, {NULL, NULL}};
  static const luaL_Reg funcs[] = {{"open", l_open}, {NULL, NULL}};
  if (luaL_newmetatable(L, DB_MT)) {
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, l_close);
    lua_setfield(L, -2, "__close");
    lua_pushcfunction(L, l_tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_pop(L, 1);
  luaL_newlib(L, funcs);
  return 1;
}
