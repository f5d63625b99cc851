/* lstore: durable state for workflows, the Lua module `rec.store` on SQLite. Owns the state
 * database: a key/value table (the watchers' last seen statuses) and the alert outbox (rows
 * written in the same transaction as the status change that caused them, deleted from the
 * pending set only once delivered). One connection per path, shared by every require.
 *
 * No SQLite call runs on the loop thread once the database is open: one store thread per
 * connection owns it and runs jobs in FIFO order. A write (db:set, db:enqueue, ... or a whole
 * db:transaction) is one job: BEGIN IMMEDIATE, the statements, COMMIT, with SQLite's busy
 * handler retrying on the store thread while another process holds the file. The task that
 * asked yields meanwhile, so every other task and timer goes on. db:transaction(fn) runs fn
 * on the loop against a write set (reads inside it see the committed cache plus that set;
 * fn cannot wait), then ships the set as one job: a transaction never spans a yield and no
 * other task's writes land inside it. The kv table is cached in memory (loaded at open,
 * updated when a job commits), so db:get and db:keys never touch SQLite.
 *
 * One writer per state file, whatever path names it: the lock belongs to the file (its device
 * and inode), not to a path. The first open of a file takes an open-file-description lock
 * (F_OFD_SETLK) on one byte of the database file far past SQLite's own lock bytes, through a
 * descriptor kept open until the process ends (a reload reopens without losing it); a second
 * process is refused whether it comes through the same path, a symbolic link, a hard link or
 * "../". The in-process table of writers is keyed by (st_dev, st_ino) too, so a second engine
 * of this process is refused the same way, and one engine opening the file under two names
 * gets one connection. Not flock: on NFS flock is emulated with whole-file POSIX locks, which
 * would collide with SQLite's; and not a POSIX lock either, since closing any descriptor of
 * the file would drop it (and SQLite's). The descriptor is never closed while SQLite may hold
 * the file in this process. A file replaced by a rename is a new inode: a new lock.
 *
 * A bad state file (a directory, not writable, not an SQLite database, another program's
 * database, a newer schema, damaged, locked) stops the run with exit status 2 and a one-line
 * `kind=state_file` error that says what to do; the Lua error is typed (invalid_argument).
 *
 * Durability: WAL journal with synchronous=FULL, so a committed transaction survives kill -9
 * (NORMAL would already) and a power loss too; writes are tiny and rare (a status change). */
#define _GNU_SOURCE  /* F_OFD_SETLK */
#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>
#include "config.h"
#include "engine.h"
#include "log.h"
#include "lstore.h"
#include "metrics.h"
#include "rerr.h"

#define DB_MT "rec.store.db"
#define DBS_KEY "rec.store.dbs"
#define BUSY_MS 5000

enum {
  S_GET, S_SET, S_DEL, S_KEYS, S_ENQ, S_PENDING, S_DELIVERED, S_FAILED, S_COUNT_PENDING,
  S_COUNT_DONE, S_PRUNE, S_BEGIN, S_COMMIT, S_ROLLBACK, S_NSTMT
};

static const char *const stmt_sql[S_NSTMT] = {
  "SELECT value FROM kv WHERE key = ?1",
  "INSERT INTO kv(key, value, updated_at) VALUES (?1, ?2, ?3) "
  "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
  "DELETE FROM kv WHERE key = ?1",
  "SELECT key, value FROM kv ORDER BY key",
  "INSERT OR IGNORE INTO outbox(id, dest, payload, created_at, attempts, next_at) "
  "VALUES (?1, ?2, ?3, ?4, 0, ?4)",
  "SELECT id, dest, payload, attempts, created_at, next_at, last_error FROM outbox "
  "WHERE delivered_at IS NULL AND next_at <= ?1 ORDER BY created_at, id, dest LIMIT ?2",
  "UPDATE outbox SET delivered_at = ?3, attempts = attempts + 1 "
  "WHERE id = ?1 AND dest = ?2 AND delivered_at IS NULL",
  "UPDATE outbox SET attempts = attempts + 1, next_at = ?3, last_error = ?4 "
  "WHERE id = ?1 AND dest = ?2 AND delivered_at IS NULL",
  "SELECT count(*) FROM outbox WHERE delivered_at IS NULL",
  "SELECT count(*) FROM outbox WHERE delivered_at IS NOT NULL",
  "DELETE FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at < ?1",
  "BEGIN IMMEDIATE",
  "COMMIT",
  "ROLLBACK",
};

static const char schema[] =
  "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at REAL);"
  "CREATE TABLE IF NOT EXISTS outbox (id TEXT NOT NULL, dest TEXT NOT NULL, payload TEXT NOT NULL,"
  " created_at REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_at REAL NOT NULL,"
  " last_error TEXT, delivered_at REAL, PRIMARY KEY (id, dest));"
  "CREATE INDEX IF NOT EXISTS outbox_pending ON outbox(next_at) WHERE delivered_at IS NULL;";

/* ---- writes and jobs ---- */

enum { OP_SET = 1, OP_DEL, OP_ENQ, OP_DELIVERED, OP_FAILED, OP_PRUNE };

typedef struct op {
  int kind;
  char *s[3];      /* key/value, or id/dest/payload, or id/dest/last_error */
  size_t n[3];
  double x;        /* updated_at, created_at, delivered_at, next_at, or the prune cut-off */
} op_t;

typedef struct cell {
  int type;        /* SQLITE_INTEGER, SQLITE_FLOAT, SQLITE_TEXT, SQLITE_NULL */
  sqlite3_int64 i;
  double d;
  char *s;
  size_t n;
} cell_t;

enum { J_WRITE, J_PENDING, J_COUNTS };
enum { R_RAISE, R_TX };   /* how the result is handed back: raise on failure, or false, err */

typedef struct shared shared_t;

typedef struct job {
  pending_t base;
  struct job *next;
  shared_t *s;
  task_t *t;       /* NULL once cancelled (the job still runs: a commit cannot be taken back) */
  int kind, ret, sync, finished, cached;   /* cached: its writes are in the cache already */
  op_t *ops;
  int nops, cap;
  double now;      /* J_PENDING: due time */
  long limit;
  int results_ref; /* R_TX: the values fn returned, handed back after the commit */
  /* results */
  int ok, changes;
  int alerts[3];              /* rows queued, delivered, failed: recwatch_alerts_total{state} */
  sqlite3_int64 pending;      /* outbox rows pending after the commit, or -1 when not read */
  unsigned long counted;      /* when pending was read: the store thread's count sequence */
  int replaced;               /* after the commit, the path named another file, or none */
  char err[512];
  cell_t *cells;   /* J_PENDING: nrows * 7 */
  int nrows;
  sqlite3_int64 counts[2];
} job_t;

struct shared {
  sqlite3 *db;
  sqlite3_stmt *st[S_NSTMT];
  char *path;
  uv_thread_t thread;
  uv_mutex_t mu;
  uv_cond_t cv, done_cv;
  uv_async_t async;
  int started, async_inited, quit, inflight;   /* started: the store thread runs */
  job_t *head, *tail;          /* queued for the store thread */
  job_t *dhead, *dtail;        /* done, waiting for the loop */
  lua_State *L;                /* the engine's main state, for the cache */
  engine_t *e;                 /* held (no virtual-clock jump) while a job is in flight */
  int cache_ref;               /* registry ref of the kv cache table */
  sqlite3_int64 outbox_seen;   /* its pending rows in recwatch_outbox_pending, -1: none yet */
  unsigned long count_seq;     /* store thread: outbox counts taken so far */
  unsigned long seen_seq;      /* loop: the newest count applied (a sync job can overtake) */
  char key[64];                /* its key in DBS_KEY: "dev:ino", or ":memory:" */
  dev_t dev;                   /* the file's identity when it was opened (a file only) */
  ino_t ino;
  int replaced_said;           /* loop: the "replaced" line was logged */
};

typedef struct store_db {
  shared_t *s;
  int in_tx;
  job_t *ws;                   /* the write set of the running db:transaction */
} store_db;

static double wall_now(lua_State *L) {
  engine_t *e;
  lua_getfield(L, LUA_REGISTRYINDEX, "rec.engine");
  e = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return e ? engine_time(e) : 0;
}

static void op_free(op_t *o) {
  int i;
  for (i = 0; i < 3; i++) free(o->s[i]);
}

static void job_free(job_t *j) {
  int i;
  if (!j) return;
  for (i = 0; i < j->nops; i++) op_free(&j->ops[i]);
  free(j->ops);
  for (i = 0; i < j->nrows * 7; i++) free(j->cells[i].s);
  free(j->cells);
  free(j);
}

static job_t *job_new(lua_State *L, shared_t *s, int kind, int ret) {
  job_t *j = calloc(1, sizeof *j);
  if (!j) luaL_error(L, "out of memory");
  j->s = s;
  j->kind = kind;
  j->ret = ret;
  j->results_ref = LUA_NOREF;
  j->pending = -1;   /* only a job that counts the outbox says how many are pending */
  return j;
}

/* Adds an op to j with up to three strings (copied from the Lua stack indexes a, b, c; 0 =
 * none, negative = optional string that may be absent). */
static op_t *job_add(lua_State *L, job_t *j, int kind, double x, int a, int b, int c) {
  int idx[3] = {a, b, c}, i;
  op_t *o;
  if (j->nops == j->cap) {
    int cap = j->cap ? j->cap * 2 : 4;
    op_t *n = realloc(j->ops, (size_t)cap * sizeof *n);
    if (!n) luaL_error(L, "out of memory");
    j->ops = n;
    j->cap = cap;
  }
  o = &j->ops[j->nops];
  memset(o, 0, sizeof *o);
  o->kind = kind;
  o->x = x;
  for (i = 0; i < 3; i++) {
    const char *v;
    size_t n;
    int at = idx[i] < 0 ? -idx[i] : idx[i];
    if (!at) continue;
    if (idx[i] < 0 && !lua_isstring(L, at)) continue;
    v = luaL_checklstring(L, at, &n);
    if (!(o->s[i] = malloc(n + 1))) luaL_error(L, "out of memory");
    memcpy(o->s[i], v, n);
    o->s[i][n] = 0;
    o->n[i] = n;
  }
  j->nops++;
  return o;
}

/* ---- the store thread ---- */

static void bind_str(sqlite3_stmt *st, int col, const op_t *o, int i) {
  if (o->s[i]) sqlite3_bind_text(st, col, o->s[i], (int)o->n[i], SQLITE_STATIC);
  else sqlite3_bind_null(st, col);
}

static sqlite3_stmt *stmt(shared_t *s, int which) {
  sqlite3_stmt *st = s->st[which];
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return st;
}

static int job_fail(shared_t *s, job_t *j, const char *what) {
  snprintf(j->err, sizeof j->err, "rec.store: %s: %s (%s)", what, sqlite3_errmsg(s->db),
           s->path ? s->path : ":memory:");
  j->ok = 0;
  return -1;
}

static int step(shared_t *s, sqlite3_stmt *st) {
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

static void run_write(shared_t *s, job_t *j) {
  static const char *const names[] = {"", "set", "set", "enqueue", "delivered", "attempt_failed", "prune"};
  int i;
  if (step(s, stmt(s, S_BEGIN))) {
    job_fail(s, j, "begin");
    return;
  }
  for (i = 0; i < j->nops; i++) {
    op_t *o = &j->ops[i];
    sqlite3_stmt *st = NULL;
    switch (o->kind) {
    case OP_SET: st = stmt(s, S_SET); bind_str(st, 1, o, 0); bind_str(st, 2, o, 1); sqlite3_bind_double(st, 3, o->x); break;
    case OP_DEL: st = stmt(s, S_DEL); bind_str(st, 1, o, 0); break;
    case OP_ENQ: st = stmt(s, S_ENQ); bind_str(st, 1, o, 0); bind_str(st, 2, o, 1); bind_str(st, 3, o, 2); sqlite3_bind_double(st, 4, o->x); break;
    case OP_DELIVERED: st = stmt(s, S_DELIVERED); bind_str(st, 1, o, 0); bind_str(st, 2, o, 1); sqlite3_bind_double(st, 3, o->x); break;
    case OP_FAILED: st = stmt(s, S_FAILED); bind_str(st, 1, o, 0); bind_str(st, 2, o, 1); sqlite3_bind_double(st, 3, o->x); bind_str(st, 4, o, 2); break;
    default: st = stmt(s, S_PRUNE); sqlite3_bind_double(st, 1, o->x); break;
    }
    if (step(s, st)) {
      job_fail(s, j, names[o->kind]);
      goto rollback;
    }
    j->changes = sqlite3_changes(s->db);
    if (o->kind >= OP_ENQ && o->kind <= OP_FAILED) j->alerts[o->kind - OP_ENQ] += j->changes;
  }
  if (step(s, stmt(s, S_COMMIT))) {
    job_fail(s, j, "commit");
    goto rollback;
  }
  j->ok = 1;
  j->pending = -1;
  if (j->alerts[0] + j->alerts[1] + j->alerts[2] > 0) {
    sqlite3_stmt *st = stmt(s, S_COUNT_PENDING);
    if (sqlite3_step(st) == SQLITE_ROW) {
      j->pending = sqlite3_column_int64(st, 0);
      j->counted = ++s->count_seq;
    }
    sqlite3_reset(st);
  }
  return;
rollback:
  if (!sqlite3_get_autocommit(s->db)) step(s, stmt(s, S_ROLLBACK));
}

static void run_read(shared_t *s, job_t *j) {
  int rc, i, cap = 0;
  if (j->kind == J_COUNTS) {
    int which[2] = {S_COUNT_PENDING, S_COUNT_DONE};
    for (i = 0; i < 2; i++) {
      sqlite3_stmt *st = stmt(s, which[i]);
      if (sqlite3_step(st) != SQLITE_ROW) {
        job_fail(s, j, "counts");
        sqlite3_reset(st);
        return;
      }
      j->counts[i] = sqlite3_column_int64(st, 0);
      sqlite3_reset(st);
    }
    j->pending = j->counts[0];
    j->counted = ++s->count_seq;
    j->ok = 1;
    return;
  }
  {
    sqlite3_stmt *st = stmt(s, S_PENDING);
    sqlite3_bind_double(st, 1, j->now);
    sqlite3_bind_int64(st, 2, j->limit);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      if (j->nrows == cap) {
        cell_t *n;
        cap = cap ? cap * 2 : 16;
        if (!(n = realloc(j->cells, (size_t)cap * 7 * sizeof *n))) {
          sqlite3_reset(st);
          snprintf(j->err, sizeof j->err, "rec.store: pending: out of memory");
          return;
        }
        j->cells = n;
      }
      for (i = 0; i < 7; i++) {
        cell_t *c = &j->cells[j->nrows * 7 + i];
        memset(c, 0, sizeof *c);
        c->type = sqlite3_column_type(st, i);
        if (c->type == SQLITE_INTEGER) c->i = sqlite3_column_int64(st, i);
        else if (c->type == SQLITE_FLOAT) c->d = sqlite3_column_double(st, i);
        else if (c->type != SQLITE_NULL) {
          c->type = SQLITE_TEXT;
          c->n = (size_t)sqlite3_column_bytes(st, i);
          if ((c->s = malloc(c->n + 1)) != NULL) {
            memcpy(c->s, sqlite3_column_text(st, i), c->n);
            c->s[c->n] = 0;
          } else {
            c->type = SQLITE_NULL;
          }
        }
      }
      j->nrows++;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
      job_fail(s, j, "pending");
      return;
    }
    j->ok = 1;
  }
}

static void store_main(void *arg) {
  shared_t *s = arg;
  uv_mutex_lock(&s->mu);
  for (;;) {
    job_t *j;
    while (!s->head && !s->quit) uv_cond_wait(&s->cv, &s->mu);
    if (!s->head) break;
    j = s->head;
    s->head = j->next;
    if (!s->head) s->tail = NULL;
    j->next = NULL;
    uv_mutex_unlock(&s->mu);
    if (j->kind == J_WRITE) {
      struct stat st;
      run_write(s, j);
      /* a file replaced by a rename (or removed) while open: the commits go to a file that
       * no longer has this name, which the next start will not see; said once, loudly */
      if (j->ok && s->path &&
          (stat(s->path, &st) != 0 || st.st_dev != s->dev || st.st_ino != s->ino))
        j->replaced = 1;
    } else {
      run_read(s, j);
    }
    uv_mutex_lock(&s->mu);
    j->finished = 1;
    if (j->sync) {
      uv_cond_broadcast(&s->done_cv);
    } else {
      if (s->dtail) s->dtail->next = j;
      else s->dhead = j;
      s->dtail = j;
      uv_async_send(&s->async);
    }
  }
  uv_mutex_unlock(&s->mu);
}

/* ---- results back on the loop ---- */

static void apply_cache(shared_t *s, lua_State *L, job_t *j) {
  int i;
  if (j->cached || !j->ok || j->kind != J_WRITE || s->cache_ref == LUA_NOREF) return;
  j->cached = 1;
  lua_rawgeti(L, LUA_REGISTRYINDEX, s->cache_ref);
  for (i = 0; i < j->nops; i++) {
    const op_t *o = &j->ops[i];
    if (o->kind == OP_SET) {
      lua_pushlstring(L, o->s[0], o->n[0]);
      lua_pushlstring(L, o->s[1], o->n[1]);
      lua_rawset(L, -3);
    } else if (o->kind == OP_DEL) {
      lua_pushlstring(L, o->s[0], o->n[0]);
      lua_pushnil(L);
      lua_rawset(L, -3);
    }
  }
  lua_pop(L, 1);
}

static void push_cell(lua_State *L, const cell_t *c) {
  switch (c->type) {
  case SQLITE_INTEGER: lua_pushinteger(L, (lua_Integer)c->i); break;
  case SQLITE_FLOAT: lua_pushnumber(L, c->d); break;
  case SQLITE_TEXT: lua_pushlstring(L, c->s, c->n); break;
  default: lua_pushnil(L);
  }
}

/* Pushes what the job gives back: true, value(s) | false, message. Returns the count. */
static int push_result(lua_State *L, job_t *j) {
  static const char *const cols[] = {"id", "dest", "payload", "attempts", "created_at",
                                     "next_at", "last_error"};
  int i, k, n;
  lua_checkstack(L, 8);
  if (!j->ok) {
    lua_pushboolean(L, 0);
    lua_pushstring(L, j->err[0] ? j->err : "rec.store: failed");
    return 2;
  }
  lua_pushboolean(L, 1);
  if (j->kind == J_COUNTS) {
    lua_pushinteger(L, (lua_Integer)j->counts[0]);
    lua_pushinteger(L, (lua_Integer)j->counts[1]);
    return 3;
  }
  if (j->kind == J_PENDING) {
    lua_createtable(L, j->nrows, 0);
    for (i = 0; i < j->nrows; i++) {
      lua_createtable(L, 0, 7);
      for (k = 0; k < 7; k++) {
        push_cell(L, &j->cells[i * 7 + k]);
        lua_setfield(L, -2, cols[k]);
      }
      lua_rawseti(L, -2, i + 1);
    }
    return 2;
  }
  if (j->ret == R_TX) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, j->results_ref);
    n = (int)lua_rawlen(L, -1);
    lua_checkstack(L, n + 2);
    for (i = 1; i <= n; i++) lua_rawgeti(L, -i, i);
    lua_remove(L, -n - 1);
    return 1 + n;
  }
  if (j->nops == 1 && j->ops[0].kind == OP_PRUNE) lua_pushinteger(L, j->changes);
  else lua_pushboolean(L, j->changes > 0);
  return 2;
}

static void release_results(lua_State *L, job_t *j) {
  if (j->results_ref != LUA_NOREF) luaL_unref(L, LUA_REGISTRYINDEX, j->results_ref);
  j->results_ref = LUA_NOREF;
}

/* recwatch_outbox_pending is the sum of the undelivered rows of every open database of the
 * process: each connection adds the count it saw last (at open, after a commit that changed
 * the outbox, at db:counts()), and takes it back when it closes. Only a job that counted
 * changes it (a read job says nothing about the outbox: it once set the gauge to 0 on every
 * delivery pass). */
static uv_mutex_t gauge_mu;
static uv_once_t gauge_once = UV_ONCE_INIT;
static double pending_total;
static void gauge_init(void) { uv_mutex_init(&gauge_mu); }

static void outbox_seen(shared_t *s, sqlite3_int64 n) {
  uv_once(&gauge_once, gauge_init);
  uv_mutex_lock(&gauge_mu);
  if (s->outbox_seen >= 0) pending_total -= (double)s->outbox_seen;
  if (n >= 0) pending_total += (double)n;
  if (pending_total < 0) pending_total = 0;
  s->outbox_seen = n;
  metrics_set1(metrics_builtin()->outbox_pending, NULL, pending_total);
  uv_mutex_unlock(&gauge_mu);
}

/* recwatch_alerts_total{state} counts committed outbox changes */
static void count_alerts(shared_t *s, const job_t *j) {
  static const char *const states[3] = {"queued", "delivered", "failed"};
  int i;
  if (!j->ok) return;
  if (j->replaced && !s->replaced_said) {
    s->replaced_said = 1;
    log_error("kind=state_file the state file %s is no longer the file this process opened "
              "(replaced by a rename, or removed): its writes go to the old file, which the next "
              "start will not see; restart recwatch to use the file now at that path", s->path);
  }
  for (i = 0; i < 3; i++)
    if (j->alerts[i] > 0) metrics_inc1(metrics_builtin()->alerts, states[i], j->alerts[i]);
  if (j->pending >= 0 && j->counted > s->seen_seq) {
    s->seen_seq = j->counted;
    outbox_seen(s, j->pending);
  }
}

/* Hands finished jobs back. Taken as one list first: a resumed task may close the database
 * (the shared struct itself lives until the async handle's close callback). */
static void on_async(uv_async_t *h) {
  shared_t *s = h->data;
  job_t *j, *list;
  uv_mutex_lock(&s->mu);
  list = s->dhead;
  s->dhead = s->dtail = NULL;
  uv_mutex_unlock(&s->mu);
  for (j = list; j; j = j->next) {
    apply_cache(s, s->L, j);  /* in commit order, before any resume */
    count_alerts(s, j);
  }
  while ((j = list) != NULL) {
    list = j->next;
    if (j->t) {
      task_t *t = j->t;
      lua_State *co = task_thread(t);
      engine_detach(t, &j->base);
      engine_complete(t, push_result(co, j));
    }
    release_results(s->L, j);
    job_free(j);
    engine_release(s->e);
    if (--s->inflight == 0 && !uv_is_closing((uv_handle_t *)&s->async)) uv_unref((uv_handle_t *)&s->async);
  }
}

static void job_cancel(pending_t *p) {
  ((job_t *)p)->t = NULL;  /* it still runs; on_async frees it */
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
static int submit(lua_State *L, job_t *j, const char *what) {
  shared_t *s = j->s;
  task_t *t = engine_task_of(L);
  int base = lua_gettop(L);
  lua_KContext ctx;
  if (!s->started) {   /* cannot happen once open succeeded */
    job_free(j);
    return luaL_error(L, "rec.store: the database is closed");
  }
  if (t && lua_isyieldable(L) && !task_cancelled(t)) {
    j->t = t;
    j->base.cancel = job_cancel;
    if (s->inflight++ == 0) uv_ref((uv_handle_t *)&s->async);
    engine_hold(s->e);
    uv_mutex_lock(&s->mu);
    if (s->tail) s->tail->next = j;
    else s->head = j;
    s->tail = j;
    uv_cond_signal(&s->cv);
    uv_mutex_unlock(&s->mu);
    engine_wait(t, &j->base, what);
    return lua_yieldk(L, 0, j->ret == R_TX ? -(lua_KContext)base - 1 : (lua_KContext)base, finish_k);
  }
  j->sync = 1;
  uv_mutex_lock(&s->mu);
  if (s->tail) s->tail->next = j;
  else s->head = j;
  s->tail = j;
  uv_cond_signal(&s->cv);
  while (!j->finished) uv_cond_wait(&s->done_cv, &s->mu);
  {  /* jobs that committed before this one and wait for on_async: their writes go first */
    job_t *k;
    for (k = s->dhead; k; k = k->next) apply_cache(s, L, k);
  }
  uv_mutex_unlock(&s->mu);
  apply_cache(s, L, j);
  count_alerts(s, j);   /* the metrics as on_async would (it does not see a sync job) */
  push_result(L, j);
  release_results(L, j);
  ctx = j->ret == R_TX ? -(lua_KContext)base - 1 : (lua_KContext)base;
  job_free(j);
  return finish_k(L, LUA_OK, ctx);
}

/* ---- open / close ---- */

static void free_shared_cb(uv_handle_t *h) {
  shared_t *s = h->data;
  free(s->path);
  free(s);
}

/* Stops the store thread after the jobs already queued, hands the waiting tasks an error,
 * closes the connection. With L NULL (lua_close), nothing is pushed. */
static void shared_close(shared_t *s, lua_State *L) {
  job_t *j;
  int i;
  if (!s) return;
  if (s->started) {
    uv_mutex_lock(&s->mu);
    s->quit = 1;
    uv_cond_signal(&s->cv);
    uv_mutex_unlock(&s->mu);
    uv_thread_join(&s->thread);
    while ((j = s->dhead) != NULL) {
      s->dhead = j->next;
      if (L) apply_cache(s, L, j);
      count_alerts(s, j);
      if (j->t && L) {
        engine_detach(j->t, &j->base);
        engine_complete(j->t, push_result(task_thread(j->t), j));
      }
      if (L) release_results(L, j);
      job_free(j);
      if (s->inflight > 0) {
        s->inflight--;
        engine_release(s->e);
      }
    }
    s->dtail = NULL;
    uv_mutex_destroy(&s->mu);
    uv_cond_destroy(&s->cv);
    uv_cond_destroy(&s->done_cv);
  }
  outbox_seen(s, -1);   /* a closed database's backlog is no longer this process's */
  for (i = 0; i < S_NSTMT; i++) sqlite3_finalize(s->st[i]);
  if (s->db) sqlite3_close(s->db);
  s->db = NULL;
  if (L && s->cache_ref != LUA_NOREF) luaL_unref(L, LUA_REGISTRYINDEX, s->cache_ref);
  s->cache_ref = LUA_NOREF;
  s->started = 0;
  if (s->async_inited) {
    uv_close((uv_handle_t *)&s->async, free_shared_cb);
  } else {
    free(s->path);
    free(s);
  }
}

static store_db *check_db(lua_State *L) {
  store_db *d = luaL_checkudata(L, 1, DB_MT);
  if (!d->s) luaL_error(L, "rec.store: the database is closed");
  return d;
}

/* ---- reads (the cache) ---- */

/* The write set's last word on key: 1 set (value pushed), 0 deleted, -1 nothing said. */
static int ws_lookup(lua_State *L, job_t *ws, const char *k, size_t kn) {
  int i;
  if (!ws) return -1;
  for (i = ws->nops - 1; i >= 0; i--) {
    op_t *o = &ws->ops[i];
    if ((o->kind == OP_SET || o->kind == OP_DEL) && o->n[0] == kn && memcmp(o->s[0], k, kn) == 0) {
      if (o->kind == OP_DEL) return 0;
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
  lua_rawgeti(L, LUA_REGISTRYINDEX, d->s->cache_ref);
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
  lua_rawgeti(L, LUA_REGISTRYINDEX, d->s->cache_ref);
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
    for (i = 0; i < d->ws->nops; i++) {
      op_t *o = &d->ws->ops[i];
      if ((o->kind != OP_SET && o->kind != OP_DEL) || o->n[0] < pn || memcmp(o->s[0], p, pn)) continue;
      lua_pushlstring(L, o->s[0], o->n[0]);
      if (o->kind == OP_SET) lua_pushlstring(L, o->s[1], o->n[1]);
      else lua_pushnil(L);
      lua_rawset(L, out);
    }
  return 1;
}

/* ---- writes: into the write set inside db:transaction, else a one-write job ---- */

static job_t *writer(lua_State *L, store_db *d, int *direct) {
  *direct = !d->in_tx;
  if (d->in_tx) return d->ws;
  return job_new(L, d->s, J_WRITE, R_RAISE);
}

static int write_done(lua_State *L, job_t *j, int direct, const char *what) {
  if (!direct) {
    lua_pushboolean(L, 1);  /* known only at the commit */
    return 1;
  }
  return submit(L, j, what);
}

/* db:set(key, value) ; db:set(key, nil) deletes */
static int l_set(lua_State *L) {
  store_db *d = check_db(L);
  int direct;
  job_t *j;
  luaL_checkstring(L, 2);
  if (!lua_isnoneornil(L, 3)) luaL_checkstring(L, 3);
  j = writer(L, d, &direct);
  if (lua_isnoneornil(L, 3)) job_add(L, j, OP_DEL, 0, 2, 0, 0);
  else job_add(L, j, OP_SET, wall_now(L), 2, 3, 0);
  return write_done(L, j, direct, "db:set");
}

/* db:enqueue(id, dest, payload) -> true when added, false when (id, dest) was already there */
static int l_enqueue(lua_State *L) {
  store_db *d = check_db(L);
  int direct;
  job_t *j;
  luaL_checkstring(L, 2);
  luaL_checkstring(L, 3);
  luaL_checkstring(L, 4);
  j = writer(L, d, &direct);
  job_add(L, j, OP_ENQ, wall_now(L), 2, 3, 4);
  return write_done(L, j, direct, "db:enqueue");
}

/* db:delivered(id, dest) -> true when the row was pending */
static int l_delivered(lua_State *L) {
  store_db *d = check_db(L);
  int direct;
  job_t *j;
  luaL_checkstring(L, 2);
  luaL_checkstring(L, 3);
  j = writer(L, d, &direct);
  job_add(L, j, OP_DELIVERED, wall_now(L), 2, 3, 0);
  return write_done(L, j, direct, "db:delivered");
}

/* db:attempt_failed(id, dest, next_at [, error_message]) */
static int l_attempt_failed(lua_State *L) {
  store_db *d = check_db(L);
  int direct;
  job_t *j;
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
  job_add(L, j, OP_FAILED, next_at, 2, 3, -5);
  return write_done(L, j, direct, "db:attempt_failed");
}

/* db:prune(seconds): forget delivered alerts older than that -> how many */
static int l_prune(lua_State *L) {
  store_db *d = check_db(L);
  int direct;
  job_t *j;
  double cut = wall_now(L) - luaL_checknumber(L, 2);
  j = writer(L, d, &direct);
  job_add(L, j, OP_PRUNE, cut, 0, 0, 0);
  if (!direct) {
    lua_pushinteger(L, 0);
    return 1;
  }
  return submit(L, j, "db:prune");
}

/* ---- outbox reads: jobs on the store thread ---- */

/* db:pending(limit [, now]) -> list of {id, dest, payload, attempts, created_at, next_at,
 * last_error} due at `now` (default: the engine's wall clock), oldest first */
static int l_pending(lua_State *L) {
  store_db *d = check_db(L);
  job_t *j;
  lua_Integer limit = luaL_optinteger(L, 2, 100);
  double now = luaL_opt(L, luaL_checknumber, 3, wall_now(L));
  if (d->in_tx) return luaL_error(L, "rec.store: db:pending cannot run inside a transaction");
  j = job_new(L, d->s, J_PENDING, R_RAISE);
  j->now = now;
  j->limit = (long)limit;
  return submit(L, j, "db:pending");
}

/* db:counts() -> pending, delivered */
static int l_counts(lua_State *L) {
  store_db *d = check_db(L);
  if (d->in_tx) return luaL_error(L, "rec.store: db:counts cannot run inside a transaction");
  return submit(L, job_new(L, d->s, J_COUNTS, R_RAISE), "db:counts");
}

/* db:transaction(fn, ...) -> true, results... | false, error. fn runs on the loop against a
 * write set (it cannot wait: no HTTP, no sleep); the set then commits in one BEGIN IMMEDIATE
 * ... COMMIT on the store thread while the task waits. An error in fn, or a failed commit,
 * leaves nothing of it. */
static int l_transaction(lua_State *L) {
  store_db *d = check_db(L);
  int n = lua_gettop(L), i, rc, nres;
  job_t *j;
  luaL_checktype(L, 2, LUA_TFUNCTION);
  if (d->in_tx) return luaL_error(L, "rec.store: transactions do not nest");
  j = job_new(L, d->s, J_WRITE, R_TX);
  d->ws = j;
  d->in_tx = 1;
  lua_pushvalue(L, 2);
  lua_pushvalue(L, 1);
  for (i = 3; i <= n; i++) lua_pushvalue(L, i);
  rc = lua_pcall(L, n - 1, LUA_MULTRET, 0);
  d->in_tx = 0;
  d->ws = NULL;
  if (!d->s) {
    job_free(j);
    return luaL_error(L, "rec.store: the database was closed inside a transaction");
  }
  if (rc != LUA_OK) {
    job_free(j);
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
  if (j->nops == 0) {   /* nothing to write: no job */
    lua_pushboolean(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, j->results_ref);
    for (i = 1; i <= nres; i++) lua_rawgeti(L, n + 2, i);
    lua_remove(L, n + 2);
    release_results(L, j);
    job_free(j);
    return 1 + nres;
  }
  return submit(L, j, "db:transaction");
}

static int l_path(lua_State *L) {
  store_db *d = check_db(L);
  if (d->s->path) lua_pushstring(L, d->s->path);
  else lua_pushnil(L);
  return 1;
}

static int l_close(lua_State *L) {
  store_db *d = luaL_checkudata(L, 1, DB_MT);
  shared_t *s = d->s;
  if (!s) return 0;
  if (lua_getfield(L, LUA_REGISTRYINDEX, DBS_KEY) == LUA_TTABLE) {
    lua_pushnil(L);
    lua_setfield(L, -2, s->key);
  }
  lua_pop(L, 1);
  d->s = NULL;
  shared_close(s, L);
  return 0;
}

static int l_gc(lua_State *L) {
  store_db *d = luaL_checkudata(L, 1, DB_MT);
  shared_t *s = d->s;
  d->s = NULL;
  shared_close(s, NULL);
  return 0;
}

static int l_tostring(lua_State *L) {
  store_db *d = luaL_checkudata(L, 1, DB_MT);
  lua_pushfstring(L, "rec.store db (%s%s)", d->s && d->s->path ? d->s->path : ":memory:",
                  d->s ? "" : ", closed");
  return 1;
}

/* ---- one writer per state file ---- */

/* The byte of the database file the writer lock covers: past SQLite's own lock bytes
 * (PENDING_BYTE at 1 GiB, RESERVED_BYTE, then 510 SHARED bytes), which it never touches, so
 * SQLite's locks of this process and of others (a reader, `sqlite3 .backup`) never meet it. */
#define WRITER_LOCK_BYTE ((off_t)0x40000000 + 0x10000)

typedef struct lockent {
  dev_t dev;
  ino_t ino;
  int fd;              /* holds the OFD lock; never closed (SQLite may have the file open) */
  const void *owner;   /* the engine holding it; NULL between a reload's two engines */
  struct lockent *next;
} lockent;

static lockent *locks;
static uv_mutex_t locks_mu;
static uv_once_t locks_once = UV_ONCE_INIT;
static void locks_init(void) { uv_mutex_init(&locks_mu); }

/* Releases every lock owned by engine e (it keeps the file descriptor, so the process keeps
 * the lock: a reload's next engine takes it over; the kernel drops it with the process). */
static int l_release_locks(lua_State *L) {
  const void *e = lua_touserdata(L, lua_upvalueindex(1));
  lockent *l;
  uv_once(&locks_once, locks_init);
  uv_mutex_lock(&locks_mu);
  for (l = locks; l; l = l->next)
    if (l->owner == e) l->owner = NULL;
  uv_mutex_unlock(&locks_mu);
  return 0;
}

static lockent *find_lock(dev_t dev, ino_t ino) {
  lockent *l;
  for (l = locks; l; l = l->next)
    if (l->dev == dev && l->ino == ino) return l;
  return NULL;
}

static const char *file_kind(mode_t m) {
  return S_ISDIR(m) ? "a directory" : S_ISFIFO(m) ? "a FIFO" : S_ISSOCK(m) ? "a socket"
       : S_ISCHR(m) || S_ISBLK(m) ? "a device" : "not a regular file";
}

/* Takes the writer lock of the database file at path (created when missing) for engine e, and
 * gives its identity. 0, or -1 with a message in msg. */
static int take_lock(lua_State *L, const void *e, const char *path, dev_t *dev, ino_t *ino,
                     char *msg, size_t n) {
  struct stat st;
  lockent *l = NULL;
  int fd = -1, ok, exists = 0;
  if (stat(path, &st) == 0) {
    exists = 1;
    if (!S_ISREG(st.st_mode)) {
      snprintf(msg, n, "the state path %s is %s: --state names a database file (created when "
               "missing)", path, file_kind(st.st_mode));
      return -1;
    }
  } else if (errno != ENOENT) {
    snprintf(msg, n, "cannot use the state file %s: %s", path, strerror(errno));
    return -1;
  }
  uv_once(&locks_once, locks_init);
  uv_mutex_lock(&locks_mu);
  /* A file this process has locked is never opened again here: closing a second descriptor
   * of it would drop SQLite's POSIX locks on it. */
  if (exists) l = find_lock(st.st_dev, st.st_ino);
  if (!l) {
    /* O_NONBLOCK: a FIFO put there after the stat must not block the open */
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0600);
    if (fd < 0 || fstat(fd, &st) != 0) {
      int err = errno;
      uv_mutex_unlock(&locks_mu);
      if (fd >= 0) close(fd);
      snprintf(msg, n, "cannot open the state file %s for writing: %s%s", path, strerror(err),
               err == EROFS || err == EACCES || err == EPERM
                 ? " (the state file and its directory must be writable: the directory holds "
                   "SQLite's -wal and -shm files)" : "");
      return -1;
    }
    if (!S_ISREG(st.st_mode)) {
      uv_mutex_unlock(&locks_mu);
      close(fd);
      snprintf(msg, n, "the state path %s is %s: --state names a database file", path,
               file_kind(st.st_mode));
      return -1;
    }
    /* the path was renamed onto a file this process holds between the stat and the open:
     * keep that descriptor open rather than drop SQLite's locks by closing it */
    if ((l = find_lock(st.st_dev, st.st_ino)) != NULL) fd = -1;
  }
  if (!l) {
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = WRITER_LOCK_BYTE;
    fl.l_len = 1;
    if (fcntl(fd, F_OFD_SETLK, &fl) != 0) {
      int err = errno;
      uv_mutex_unlock(&locks_mu);
      close(fd);   /* no SQLite connection of this process has this file: it is not in locks */
      if (err == EAGAIN || err == EACCES)
        snprintf(msg, n, "the state file %s is in use by another recwatch process (it holds the "
                 "writer lock of this file, whatever path names it); one writer per state "
                 "file: stop it or use another --state", path);
      else
        snprintf(msg, n, "cannot lock the state file %s: %s", path, strerror(err));
      return -1;
    }
    if (!(l = calloc(1, sizeof *l))) {
      uv_mutex_unlock(&locks_mu);
      close(fd);
      snprintf(msg, n, "out of memory");
      return -1;
    }
    l->dev = st.st_dev;
    l->ino = st.st_ino;
    l->fd = fd;
    l->next = locks;
    locks = l;
  }
  ok = l->owner == NULL || l->owner == e;
  if (ok) l->owner = e;
  *dev = l->dev;
  *ino = l->ino;
  uv_mutex_unlock(&locks_mu);
  if (!ok) {
    snprintf(msg, n, "the state file %s is already in use by another engine in this process; "
             "one writer per state file", path);
    return -1;
  }
  /* the engine's Lua state ends with the engine: its __gc hands the lock back */
  if (lua_getfield(L, LUA_REGISTRYINDEX, "rec.store.lockguard") == LUA_TNIL) {
    lua_pop(L, 1);
    lua_newuserdatauv(L, 1, 0);
    lua_newtable(L);
    lua_pushlightuserdata(L, (void *)e);
    lua_pushcclosure(L, l_release_locks, 1);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    lua_setfield(L, LUA_REGISTRYINDEX, "rec.store.lockguard");
  } else {
    lua_pop(L, 1);
  }
  return 0;
}

/* ---- what is in the file ---- */

#define APP_ID 0x52435754       /* "RCWT": PRAGMA application_id of a recwatch state file */
#define SCHEMA_VERSION 1        /* PRAGMA user_version: the schema above */

/* Reads one integer (a PRAGMA). SQLITE_OK or the error code. */
static int read_int(sqlite3 *db, const char *sql, sqlite3_int64 *out) {
  sqlite3_stmt *st;
  int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
  if (rc != SQLITE_OK) return rc;
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    *out = sqlite3_column_int64(st, 0);
    rc = SQLITE_OK;
  }
  sqlite3_finalize(st);
  return rc;
}

/* Checks, before anything is written to it, that the file is a recwatch state file or an
 * empty one. SQLITE_OK, SQLITE_MISMATCH with the reason in msg, or an SQLite error code. */
static int check_identity(sqlite3 *db, const char *path, char *msg, size_t n) {
  static const char *const kv_cols[] = {"key", "value", "updated_at", NULL};
  static const char *const ob_cols[] = {"id", "dest", "payload", "created_at", "attempts",
                                        "next_at", "last_error", "delivered_at", NULL};
  static const char *const tables[2] = {"kv", "outbox"};
  const char *const *cols[2] = {kv_cols, ob_cols};
  sqlite3_int64 app = 0, ver = 0;
  sqlite3_stmt *st;
  char others[300] = "";
  int rc, i, ours = 0, theirs = 0;
  if ((rc = read_int(db, "PRAGMA application_id", &app)) != SQLITE_OK) return rc;
  if ((rc = read_int(db, "PRAGMA user_version", &ver)) != SQLITE_OK) return rc;
  if (app != 0 && app != APP_ID) {
    snprintf(msg, n, "%s is another program's SQLite database (application_id 0x%llx), not a "
             "recwatch state file: point --state at another path, or move it away", path,
             (unsigned long long)app);
    return SQLITE_MISMATCH;
  }
  if (ver > SCHEMA_VERSION) {
    snprintf(msg, n, "%s was written by a newer recwatch (state schema %lld; this one knows "
             "%d): run that version, or restore the backup taken before the upgrade", path,
             (long long)ver, SCHEMA_VERSION);
    return SQLITE_MISMATCH;
  }
  rc = sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type = 'table' AND "
                          "name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name", -1, &st, NULL);
  if (rc != SQLITE_OK) return rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *name = (const char *)sqlite3_column_text(st, 0);
    if (name && (strcmp(name, "kv") == 0 || strcmp(name, "outbox") == 0)) {
      ours++;
    } else if (name) {
      size_t k = strlen(others);
      if (theirs++ < 8 && k + 4 < sizeof others)
        snprintf(others + k, sizeof others - k, "%s%.60s", k ? ", " : "", name);
    }
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return rc;
  if (!ours && theirs) {
    snprintf(msg, n, "%s is an SQLite database of another schema (tables: %s%s), not a "
             "recwatch state file: point --state at another path, or move it away", path, others,
             theirs > 8 ? ", ..." : "");
    return SQLITE_MISMATCH;
  }
  for (i = 0; i < 2; i++) {   /* a table of ours must have every column the statements use */
    const char *const *c;
    char sql[96];
    int seen = 0;
    snprintf(sql, sizeof sql, "SELECT name FROM pragma_table_info('%s')", tables[i]);
    for (c = cols[i]; *c; c++) {
      int found = 0;
      if ((rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL)) != SQLITE_OK) return rc;
      while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        seen = 1;
        if (name && strcmp(name, *c) == 0) found = 1;
      }
      sqlite3_finalize(st);
      if (rc != SQLITE_DONE) return rc;
      if (!seen) break;   /* the table is not there: created with the schema */
      if (!found) {
        snprintf(msg, n, "%s has a table %s without the column %s: another schema, not a "
                 "recwatch state file: point --state at another path, or move it away", path,
                 tables[i], *c);
        return SQLITE_MISMATCH;
      }
    }
  }
  return SQLITE_OK;
}

/* What a failed SQLite step at open means for the person running recwatch. */
static void explain(char *msg, size_t n, const char *path, sqlite3 *db, int rc, const char *what) {
  const char *sm = db ? sqlite3_errmsg(db) : "out of memory";
  switch (rc & 0xff) {
  case SQLITE_NOTADB:
    snprintf(msg, n, "%s is not a recwatch state file: not an SQLite database (%s); point --state "
             "at another path, or move it away", path, sm);
    break;
  case SQLITE_CORRUPT:
    snprintf(msg, n, "the state file %s is damaged (%s): restore it from a backup, or move it "
             "away to start afresh", path, sm);
    break;
  case SQLITE_BUSY:
  case SQLITE_LOCKED:
    snprintf(msg, n, "the state file %s stayed locked by another program for %d s (%s)", path,
             BUSY_MS / 1000, sm);
    break;
  default:
    snprintf(msg, n, "cannot %s the state file %s: %s", what, path, sm);
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

/* store.open([path]) -> db. path defaults to the engine's state file (--state or
 * rec.configure{state=}); without one the state lives in memory for this run only. The same
 * file gives the same connection, whatever path names it, so watchers and the outbox share
 * transactions. */
static int l_open(lua_State *L) {
  const char *path = luaL_optstring(L, 1, NULL);
  store_db *d;
  shared_t *s;
  char *errmsg = NULL, key[64], msg[2600];
  engine_t *e;
  int i, rc;
  sqlite3_stmt *st;
  sqlite3_int64 pending = 0;
  dev_t ldev = 0;
  ino_t lino = 0;
  lua_getfield(L, LUA_REGISTRYINDEX, "rec.engine");
  e = lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (!path && e && engine_config(e)->state_path && engine_config(e)->state_path[0])
    path = engine_config(e)->state_path;
  if (path && strcmp(path, ":memory:") == 0) path = NULL;
  snprintf(key, sizeof key, ":memory:");
  if (path) {
    if (take_lock(L, e, path, &ldev, &lino, msg, sizeof msg)) return state_file_error(L, e, msg);
    snprintf(key, sizeof key, "%llu:%llu", (unsigned long long)ldev, (unsigned long long)lino);
  }
  luaL_getsubtable(L, LUA_REGISTRYINDEX, DBS_KEY);
  if (lua_getfield(L, -1, key) == LUA_TUSERDATA) return 1;
  lua_pop(L, 1);
  d = lua_newuserdatauv(L, sizeof *d, 0);
  memset(d, 0, sizeof *d);
  luaL_setmetatable(L, DB_MT);
  if (!(s = calloc(1, sizeof *s))) return luaL_error(L, "out of memory");
  s->cache_ref = LUA_NOREF;
  s->outbox_seen = -1;
  snprintf(s->key, sizeof s->key, "%s", key);
  s->dev = ldev;
  s->ino = lino;
  d->s = s;
  msg[0] = 0;
  if (path && !(s->path = strdup(path))) return luaL_error(L, "out of memory");
  if ((rc = sqlite3_open_v2(path ? path : ":memory:", &s->db,
                            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                            NULL)) != SQLITE_OK) {
    explain(msg, sizeof msg, path ? path : key, s->db, rc, "open");
    goto fail;
  }
  sqlite3_busy_timeout(s->db, BUSY_MS);
  /* what is in the file is checked before anything is written to it */
  if ((rc = check_identity(s->db, path ? path : key, msg, sizeof msg)) != SQLITE_OK) {
    if (rc != SQLITE_MISMATCH) explain(msg, sizeof msg, path ? path : key, s->db, rc, "read");
    goto fail;
  }
  if ((rc = sqlite3_exec(s->db,
                         "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; "
                         /* replaced values (an old last_error) do not linger in free pages */
                         "PRAGMA secure_delete=ON;",
                         NULL, NULL, &errmsg)) != SQLITE_OK ||
      (rc = sqlite3_exec(s->db, schema, NULL, NULL, &errmsg)) != SQLITE_OK) {
    explain(msg, sizeof msg, path ? path : key, s->db, rc, "set up");
    sqlite3_free(errmsg);
    goto fail;
  }
  {  /* stamp it as ours (once: a header write only when a value differs) */
    sqlite3_int64 app = 0, ver = 0;
    char sql[96];
    if ((rc = read_int(s->db, "PRAGMA application_id", &app)) == SQLITE_OK &&
        (rc = read_int(s->db, "PRAGMA user_version", &ver)) == SQLITE_OK &&
        (app != APP_ID || ver != SCHEMA_VERSION)) {
      snprintf(sql, sizeof sql, "PRAGMA application_id=%d; PRAGMA user_version=%d;", APP_ID,
               SCHEMA_VERSION);
      rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    }
    if (rc != SQLITE_OK) {
      explain(msg, sizeof msg, path ? path : key, s->db, rc, "set up");
      goto fail;
    }
  }
  for (i = 0; i < S_NSTMT; i++)
    if ((rc = sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i],
                                 NULL)) != SQLITE_OK) {
      explain(msg, sizeof msg, path ? path : key, s->db, rc, "prepare a statement on");
      goto fail;
    }
  /* the kv cache: read once here, then kept by the commits */
  lua_newtable(L);
  st = stmt(s, S_KEYS);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    lua_pushlstring(L, (const char *)sqlite3_column_text(st, 0), (size_t)sqlite3_column_bytes(st, 0));
    lua_pushlstring(L, (const char *)sqlite3_column_text(st, 1), (size_t)sqlite3_column_bytes(st, 1));
    lua_rawset(L, -3);
  }
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) {
    lua_pop(L, 1);
    explain(msg, sizeof msg, path ? path : key, s->db, rc, "read");
    goto fail;
  }
  /* the backlog a previous run left: recwatch_outbox_pending says so from the start */
  st = stmt(s, S_COUNT_PENDING);
  if ((rc = sqlite3_step(st)) == SQLITE_ROW) pending = sqlite3_column_int64(st, 0);
  sqlite3_reset(st);
  if (rc != SQLITE_ROW) {
    lua_pop(L, 1);
    explain(msg, sizeof msg, path ? path : key, s->db, rc, "read");
    goto fail;
  }
  s->cache_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  s->e = e;
  s->L = e ? engine_lua(e) : L;
  if (!s->L) s->L = L;
  if (!e) {
    snprintf(msg, sizeof msg, "no engine");
    goto fail;
  }
  uv_mutex_init(&s->mu);
  uv_cond_init(&s->cv);
  uv_cond_init(&s->done_cv);
  uv_async_init(engine_loop(e), &s->async, on_async);
  s->async.data = s;
  s->async_inited = 1;
  uv_unref((uv_handle_t *)&s->async);
  if (uv_thread_create(&s->thread, store_main, s) != 0) {
    uv_mutex_destroy(&s->mu);
    uv_cond_destroy(&s->cv);
    uv_cond_destroy(&s->done_cv);
    snprintf(msg, sizeof msg, "cannot start the store thread for %s", path ? path : key);
    goto fail;
  }
  s->started = 1;
  outbox_seen(s, pending);
  lua_pushvalue(L, -1);
  lua_setfield(L, -3, key);
  return 1;
fail:
  d->s = NULL;
  shared_close(s, L);
  if (!path) return luaL_error(L, "rec.store: %s", msg);
  return state_file_error(L, e, msg);
}

int luaopen_rec_store(lua_State *L) {
  static const luaL_Reg methods[] = {
    {"get", l_get}, {"set", l_set}, {"keys", l_keys}, {"enqueue", l_enqueue},
    {"pending", l_pending}, {"delivered", l_delivered}, {"attempt_failed", l_attempt_failed},
    {"counts", l_counts}, {"prune", l_prune}, {"transaction", l_transaction},
    {"path", l_path}, {"close", l_close}, {NULL, NULL}};
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
