/* lstore: durable state for workflows, the Lua module `rec.store` on SQLite. Owns the state
 * database: a key/value table (the watchers' last seen statuses) and the alert outbox (rows
 * written in the same transaction as the status change that caused them, deleted from the
 * pending set only once delivered). One connection per path, shared by every require.
 *
 * Durability: WAL journal with synchronous=FULL, so a committed transaction survives kill -9
 * (NORMAL would already) and a power loss too; writes are tiny and rare (a status change). */
#include <lauxlib.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"
#include "engine.h"
#include "log.h"

#define DB_MT "rec.store.db"
#define DBS_KEY "rec.store.dbs"

enum {
  S_GET, S_SET, S_DEL, S_KEYS, S_ENQ, S_PENDING, S_DELIVERED, S_FAILED, S_COUNT_PENDING,
  S_COUNT_DONE, S_PRUNE, S_BEGIN, S_COMMIT, S_ROLLBACK, S_NSTMT
};

static const char *const stmt_sql[S_NSTMT] = {
  "SELECT value FROM kv WHERE key = ?1",
  "INSERT INTO kv(key, value, updated_at) VALUES (?1, ?2, ?3) "
  "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
  "DELETE FROM kv WHERE key = ?1",
  "SELECT key, value FROM kv WHERE substr(key, 1, length(?1)) = ?1 ORDER BY key",
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

typedef struct store_db {
  sqlite3 *db;
  sqlite3_stmt *st[S_NSTMT];
  int in_tx;
  char *path;
} store_db;

static double wall_now(lua_State *L) {
  engine_t *e;
  lua_getfield(L, LUA_REGISTRYINDEX, "rec.engine");
  e = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return e ? engine_time(e) : 0;
}

static void db_close(store_db *d) {
  int i;
  for (i = 0; i < S_NSTMT; i++) {
    sqlite3_finalize(d->st[i]);
    d->st[i] = NULL;
  }
  if (d->db) sqlite3_close(d->db);
  d->db = NULL;
  free(d->path);
  d->path = NULL;
}

static store_db *check_db(lua_State *L) {
  store_db *d = luaL_checkudata(L, 1, DB_MT);
  if (!d->db) luaL_error(L, "rec.store: the database is closed");
  return d;
}

/* A failed statement is a broken state file or a full disk: an exception, not a value,
 * so a watcher never silently carries on without its state. */
static int db_fail(lua_State *L, store_db *d, const char *what) {
  return luaL_error(L, "rec.store: %s: %s (%s)", what, sqlite3_errmsg(d->db),
                    d->path ? d->path : ":memory:");
}

static sqlite3_stmt *stmt(store_db *d, int which) {
  sqlite3_stmt *s = d->st[which];
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  return s;
}

static void bind_lua_string(lua_State *L, sqlite3_stmt *s, int col, int idx) {
  size_t n;
  const char *v = luaL_checklstring(L, idx, &n);
  sqlite3_bind_text(s, col, v, (int)n, SQLITE_TRANSIENT);
}

static int step_done(lua_State *L, store_db *d, sqlite3_stmt *s, const char *what) {
  int rc = sqlite3_step(s);
  sqlite3_reset(s);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) return db_fail(L, d, what);
  return sqlite3_changes(d->db);
}

static void push_col(lua_State *L, sqlite3_stmt *s, int col) {
  switch (sqlite3_column_type(s, col)) {
  case SQLITE_INTEGER: lua_pushinteger(L, (lua_Integer)sqlite3_column_int64(s, col)); break;
  case SQLITE_FLOAT: lua_pushnumber(L, sqlite3_column_double(s, col)); break;
  case SQLITE_NULL: lua_pushnil(L); break;
  default:
    lua_pushlstring(L, (const char *)sqlite3_column_text(s, col), (size_t)sqlite3_column_bytes(s, col));
  }
}

/* db:get(key) -> value string or nil */
static int l_get(lua_State *L) {
  store_db *d = check_db(L);
  sqlite3_stmt *s = stmt(d, S_GET);
  int rc;
  bind_lua_string(L, s, 1, 2);
  rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) push_col(L, s, 0);
  else if (rc == SQLITE_DONE) lua_pushnil(L);
  sqlite3_reset(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return db_fail(L, d, "get");
  return 1;
}

/* db:set(key, value) ; db:set(key, nil) deletes */
static int l_set(lua_State *L) {
  store_db *d = check_db(L);
  sqlite3_stmt *s;
  luaL_checkstring(L, 2);
  if (lua_isnoneornil(L, 3)) {
    s = stmt(d, S_DEL);
    bind_lua_string(L, s, 1, 2);
    step_done(L, d, s, "set");
  } else {
    s = stmt(d, S_SET);
    bind_lua_string(L, s, 1, 2);
    bind_lua_string(L, s, 2, 3);
    sqlite3_bind_double(s, 3, wall_now(L));
    step_done(L, d, s, "set");
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* db:keys(prefix) -> { [key] = value, ... } for every key starting with prefix */
static int l_keys(lua_State *L) {
  store_db *d = check_db(L);
  sqlite3_stmt *s = stmt(d, S_KEYS);
  int rc;
  bind_lua_string(L, s, 1, 2);
  lua_newtable(L);
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    push_col(L, s, 0);
    push_col(L, s, 1);
    lua_settable(L, -3);
  }
  sqlite3_reset(s);
  if (rc != SQLITE_DONE) return db_fail(L, d, "keys");
  return 1;
}

/* db:enqueue(id, dest, payload) -> true when added, false when (id, dest) was already there */
static int l_enqueue(lua_State *L) {
  store_db *d = check_db(L);
  sqlite3_stmt *s = stmt(d, S_ENQ);
  bind_lua_string(L, s, 1, 2);
  bind_lua_string(L, s, 2, 3);
  bind_lua_string(L, s, 3, 4);
  sqlite3_bind_double(s, 4, wall_now(L));
  lua_pushboolean(L, step_done(L, d, s, "enqueue") > 0);
  return 1;
}

/* db:pending(limit [, now]) -> list of {id, dest, payload, attempts, created_at, next_at,
 * last_error} due at `now` (default: the engine's wall clock), oldest first */
static int l_pending(lua_State *L) {
  static const char *const cols[] = {"id", "dest", "payload", "attempts", "created_at",
                                     "next_at", "last_error"};
  store_db *d = check_db(L);
  lua_Integer limit = luaL_optinteger(L, 2, 100);
  double now = luaL_opt(L, luaL_checknumber, 3, wall_now(L));
  sqlite3_stmt *s = stmt(d, S_PENDING);
  int rc, i;
  lua_Integer n = 0;
  sqlite3_bind_double(s, 1, now);
  sqlite3_bind_int64(s, 2, limit);
  lua_newtable(L);
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    lua_createtable(L, 0, 7);
    for (i = 0; i < 7; i++) {
      push_col(L, s, i);
      lua_setfield(L, -2, cols[i]);
    }
    lua_rawseti(L, -2, ++n);
  }
  sqlite3_reset(s);
  if (rc != SQLITE_DONE) return db_fail(L, d, "pending");
  return 1;
}

/* db:delivered(id, dest) -> true when the row was pending */
static int l_delivered(lua_State *L) {
  store_db *d = check_db(L);
  sqlite3_stmt *s = stmt(d, S_DELIVERED);
  bind_lua_string(L, s, 1, 2);
  bind_lua_string(L, s, 2, 3);
  sqlite3_bind_double(s, 3, wall_now(L));
  lua_pushboolean(L, step_done(L, d, s, "delivered") > 0);
  return 1;
}

/* db:attempt_failed(id, dest, next_at [, error_message]) */
static int l_attempt_failed(lua_State *L) {
  store_db *d = check_db(L);
  sqlite3_stmt *s = stmt(d, S_FAILED);
  bind_lua_string(L, s, 1, 2);
  bind_lua_string(L, s, 2, 3);
  sqlite3_bind_double(s, 3, luaL_checknumber(L, 4));
  if (lua_isstring(L, 5)) {  /* an error text may echo a URL or a request: redacted whole */
    size_t n;
    const char *msg = lua_tolstring(L, 5, &n);
    char *clean = log_redact_dup(msg, n, &n);
    if (clean) sqlite3_bind_text(s, 4, clean, (int)(n > 4000 ? 4000 : n), SQLITE_TRANSIENT);
    else sqlite3_bind_text(s, 4, "[REDACTED]", -1, SQLITE_STATIC);
    free(clean);
  }
  lua_pushboolean(L, step_done(L, d, s, "attempt_failed") > 0);
  return 1;
}

/* db:counts() -> pending, delivered */
static int l_counts(lua_State *L) {
  store_db *d = check_db(L);
  int which[2] = {S_COUNT_PENDING, S_COUNT_DONE}, i;
  for (i = 0; i < 2; i++) {
    sqlite3_stmt *s = stmt(d, which[i]);
    if (sqlite3_step(s) != SQLITE_ROW) {
      sqlite3_reset(s);
      return db_fail(L, d, "counts");
    }
    lua_pushinteger(L, (lua_Integer)sqlite3_column_int64(s, 0));
    sqlite3_reset(s);
  }
  return 2;
}

/* db:prune(seconds): forget delivered alerts older than that */
static int l_prune(lua_State *L) {
  store_db *d = check_db(L);
  sqlite3_stmt *s = stmt(d, S_PRUNE);
  sqlite3_bind_double(s, 1, wall_now(L) - luaL_checknumber(L, 2));
  lua_pushinteger(L, step_done(L, d, s, "prune"));
  return 1;
}

/* db:transaction(fn, ...) -> true, results... | false, error. fn runs inside BEGIN IMMEDIATE
 * ... COMMIT; an error in fn rolls back. fn cannot wait (no HTTP, no sleep): a transaction
 * never spans a yield, so no other task's writes can slip into it. */
static int l_transaction(lua_State *L) {
  store_db *d = check_db(L);
  int n = lua_gettop(L), i, rc;
  luaL_checktype(L, 2, LUA_TFUNCTION);
  if (d->in_tx) return luaL_error(L, "rec.store: transactions do not nest");
  step_done(L, d, stmt(d, S_BEGIN), "begin");
  d->in_tx = 1;
  lua_pushvalue(L, 2);
  lua_pushvalue(L, 1);
  for (i = 3; i <= n; i++) lua_pushvalue(L, i);
  rc = lua_pcall(L, n - 1, LUA_MULTRET, 0);
  d->in_tx = 0;
  if (!d->db) return luaL_error(L, "rec.store: the database was closed inside a transaction");
  if (rc == LUA_OK && sqlite3_step(stmt(d, S_COMMIT)) != SQLITE_DONE) {
    lua_settop(L, n);
    lua_pushfstring(L, "rec.store: commit: %s", sqlite3_errmsg(d->db));
    rc = LUA_ERRRUN;
  }
  sqlite3_reset(d->st[S_COMMIT]);
  if (rc != LUA_OK) {
    if (!sqlite3_get_autocommit(d->db)) {
      sqlite3_step(stmt(d, S_ROLLBACK));
      sqlite3_reset(d->st[S_ROLLBACK]);
    }
    lua_pushboolean(L, 0);
    lua_insert(L, -2);
    return 2;
  }
  lua_pushboolean(L, 1);
  lua_insert(L, n + 1);
  return lua_gettop(L) - n;
}

static int l_path(lua_State *L) {
  store_db *d = check_db(L);
  if (d->path) lua_pushstring(L, d->path);
  else lua_pushnil(L);
  return 1;
}

static int l_close(lua_State *L) {
  store_db *d = luaL_checkudata(L, 1, DB_MT);
  const char *key = d->path ? d->path : ":memory:";
  if (!d->db) return 0;
  if (lua_getfield(L, LUA_REGISTRYINDEX, DBS_KEY) == LUA_TTABLE) {
    lua_pushnil(L);
    lua_setfield(L, -2, key);
  }
  lua_pop(L, 1);
  db_close(d);
  return 0;
}

static int l_gc(lua_State *L) {
  db_close(luaL_checkudata(L, 1, DB_MT));
  return 0;
}

static int l_tostring(lua_State *L) {
  store_db *d = luaL_checkudata(L, 1, DB_MT);
  lua_pushfstring(L, "rec.store db (%s%s)", d->path ? d->path : ":memory:", d->db ? "" : ", closed");
  return 1;
}

/* store.open([path]) -> db. path defaults to the engine's state file (--state or
 * rec.configure{state=}); without one the state lives in memory for this run only. The same
 * path gives the same connection, so watchers and the outbox share transactions. */
static int l_open(lua_State *L) {
  const char *path = luaL_optstring(L, 1, NULL), *key;
  store_db *d;
  char *errmsg = NULL;
  int i;
  if (!path) {
    engine_t *e;
    lua_getfield(L, LUA_REGISTRYINDEX, "rec.engine");
    e = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (e && engine_config(e)->state_path && engine_config(e)->state_path[0])
      path = engine_config(e)->state_path;
  }
  if (path && strcmp(path, ":memory:") == 0) path = NULL;
  key = path ? path : ":memory:";
  luaL_getsubtable(L, LUA_REGISTRYINDEX, DBS_KEY);
  if (lua_getfield(L, -1, key) == LUA_TUSERDATA) return 1;
  lua_pop(L, 1);
  d = lua_newuserdatauv(L, sizeof *d, 0);
  memset(d, 0, sizeof *d);
  luaL_setmetatable(L, DB_MT);
  if (path && !(d->path = strdup(path))) return luaL_error(L, "out of memory");
  if (sqlite3_open_v2(path ? path : ":memory:", &d->db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
    lua_pushfstring(L, "rec.store: cannot open %s: %s", key,
                    d->db ? sqlite3_errmsg(d->db) : "out of memory");
    db_close(d);
    return lua_error(L);
  }
  sqlite3_busy_timeout(d->db, 5000);
  if (sqlite3_exec(d->db,
                   "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; "
                   /* replaced values (an old last_error) do not linger in free pages */
                   "PRAGMA secure_delete=ON;",
                   NULL, NULL, &errmsg) != SQLITE_OK ||
      sqlite3_exec(d->db, schema, NULL, NULL, &errmsg) != SQLITE_OK) {
    lua_pushfstring(L, "rec.store: cannot set up %s: %s", key, errmsg ? errmsg : "?");
    sqlite3_free(errmsg);
    db_close(d);
    return lua_error(L);
  }
  for (i = 0; i < S_NSTMT; i++)
    if (sqlite3_prepare_v3(d->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &d->st[i], NULL) !=
        SQLITE_OK) {
      lua_pushfstring(L, "rec.store: cannot prepare a statement on %s: %s", key, sqlite3_errmsg(d->db));
      db_close(d);
      return lua_error(L);
    }
  lua_pushvalue(L, -1);
  lua_setfield(L, -3, key);
  return 1;
}

int luaopen_rec_store(lua_State *L);
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
