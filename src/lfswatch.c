/* lfswatch: rec.fs, files watched for changes through libuv's uv_fs_event (inotify, kqueue,
 * ...), never a timer loop. rec.fs.watch(path) -> a watcher (class "rec.fs.watcher") whose
 * :wait([timeout]) returns true once the file changed since the last wait. The watch is on the
 * file's directory, filtered by the file's name: an editor that saves by writing a new file
 * and renaming it over the old one (a new inode) is seen like a write in place, and a file
 * that does not exist yet is seen when it appears. Also the figures of the watch sets that
 * rec.watch.set (lua/rec/watch/_sets.lua) reads through it: its counter of refused sources and
 * its gauge of sessions, under the runtime's recwatch_ prefix, which scripts cannot use. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include "engine.h"
#include "lfswatch.h"
#include "lrec_int.h"
#include "metrics.h"
#include "rerr.h"

#define FSW_MT "rec.fs.watcher"
#define FSW_MAX_PATH 4096

typedef struct fsw fsw;

/* The one task waiting on a watcher. */
typedef struct fsw_waiter {
  pending_t base;
  task_t *t;
  rtimer_t timer; /* the wait's timeout, when armed */
  fsw *w;
} fsw_waiter;

/* Lives in malloc'd memory, not in the userdata: libuv still owns the handle until its close
 * callback, which may run after the Lua state is gone (a shared loop, a reload). */
struct fsw {
  uv_fs_event_t h;
  engine_t *e;
  char *dir, *base;  /* the directory watched; the file's name in it */
  const char *dirbase; /* the directory's own name (in dir): what its own events carry */
  int changed;       /* an event came since the last wait returned */
  int closed;
  int err;           /* the last libuv error the watch reported (0: none) */
  double events;     /* events for this file so far */
  fsw_waiter *waiter;
};

typedef struct lfsw {
  fsw *w;
} lfsw;

static void on_closed(uv_handle_t *h) {
  fsw *w = h->data;
  free(w->dir);
  free(w->base);
  free(w);
}

/* Unlinks and frees the waiter (its timer stopped; the task is not touched). An unwaited
 * watch keeps nothing alive: the engine ends when only it is left. */
static void waiter_release(fsw_waiter *wt) {
  if (wt->w) {
    wt->w->waiter = NULL;
    if (!wt->w->closed) uv_unref((uv_handle_t *)&wt->w->h);
  }
  rtimer_stop(&wt->timer);
  free(wt);
}

static void waiter_cancel(pending_t *p) { waiter_release((fsw_waiter *)p); }

static void wake(fsw *w) {
  fsw_waiter *wt = w->waiter;
  task_t *t;
  if (!wt) return;
  t = wt->t;
  w->changed = 0;
  engine_detach(t, &wt->base);
  waiter_release(wt);
  lua_pushboolean(task_thread(t), 1);
  engine_complete(t, 1);
}

static void on_event(uv_fs_event_t *h, const char *filename, int events, int status) {
  fsw *w = h->data;
  (void)events;
  if (w->closed) return;
  if (status < 0) {
    w->err = status;  /* info() reports it; a re-read tells whether the file is there */
  } else if (filename && strcmp(filename, w->base) != 0) {
    /* the directory itself deleted or moved (the kernel names it by its own name): the watch
     * is dead, and saying nothing would leave every later edit unseen. Anything else is
     * another file in the same directory. */
    if (!(events & UV_RENAME) || strcmp(filename, w->dirbase) != 0) return;
    w->err = UV_ENOENT;
  }
  w->events++;
  w->changed = 1;
  wake(w);
}

static void on_timeout(rtimer_t *h) {
  fsw_waiter *wt = h->data;
  task_t *t = wt->t;
  rec_err err;
  rec_err_set(&err, REC_E_TIMEOUT, 0, "fs watcher:wait timed out");
  err.retryable = 0;
  engine_detach(t, &wt->base);
  waiter_release(wt);
  lua_pushnil(task_thread(t));
  engine_push_err(task_thread(t), &err);
  engine_complete(t, 2);
}

static void fsw_close(fsw *w) {
  if (!w || w->closed) return;
  w->closed = 1;
  if (w->waiter) {  /* the waiting task is resumed as if its wait were cancelled */
    fsw_waiter *wt = w->waiter;
    task_t *t = wt->t;
    engine_detach(t, &wt->base);
    waiter_release(wt);
    engine_push_cancelled(task_thread(t), "fs watcher:wait (closed)");
    engine_complete(t, 2);
  }
  uv_fs_event_stop(&w->h);
  uv_close((uv_handle_t *)&w->h, on_closed);
}

static fsw *check_fsw(lua_State *L) {
  lfsw *u = luaL_checkudata(L, 1, FSW_MT);
  if (!u->w) luaL_error(L, "rec.fs watcher: used after close()");
  return u->w;
}

/* rec.fs.watch(path) -> watcher, or nil, err (invalid_argument: a path that is empty, too
 * long, holds a NUL or ends in '/'; not_found: its directory cannot be watched). */
static int l_watch(lua_State *L) {
  size_t n, cut;
  const char *path = luaL_checklstring(L, 1, &n);
  engine_t *e = engine_from_lua(L);
  rec_err err;
  lfsw *u;
  fsw *w;
  int rc;
  if (n == 0 || n > FSW_MAX_PATH || strlen(path) != n || path[n - 1] == '/') {
    rec_err_set(&err, REC_E_INVALID_ARGUMENT, 0,
                "rec.fs.watch: a file path of 1..4096 bytes, no NUL, not ending in '/'");
    return engine_return_err(L, &err);
  }
  w = calloc(1, sizeof *w);
  if (!w) return luaL_error(L, "out of memory");
  for (cut = n; cut > 0 && path[cut - 1] != '/'; cut--) {}
  w->base = strdup(path + cut);
  if (cut == 0) w->dir = strdup(".");
  else if (cut == 1) w->dir = strdup("/");
  else if ((w->dir = malloc(cut)) != NULL) {
    memcpy(w->dir, path, cut - 1);
    w->dir[cut - 1] = '\0';
  }
  if (!w->base || !w->dir) {
    free(w->base);
    free(w->dir);
    free(w);
    return luaL_error(L, "out of memory");
  }
  {
    const char *d = w->dir, *slash = strrchr(d, '/');
    w->dirbase = slash && slash[1] ? slash + 1 : d;
  }
  w->e = e;
  if ((rc = uv_fs_event_init(engine_loop(e), &w->h)) != 0) {
    free(w->base);
    free(w->dir);
    free(w);
    rec_err_set(&err, REC_E_NETWORK, 0, "rec.fs.watch: cannot make a watch: %s", uv_strerror(rc));
    return engine_return_err(L, &err);
  }
  w->h.data = w;
  if ((rc = uv_fs_event_start(&w->h, on_event, w->dir, 0)) != 0) {
    w->closed = 1;
    uv_close((uv_handle_t *)&w->h, on_closed);
    rec_err_set(&err, rc == UV_ENOENT ? REC_E_NOT_FOUND : REC_E_INVALID_ARGUMENT, 0,
                "rec.fs.watch: cannot watch the directory of the file: %s", uv_strerror(rc));
    return engine_return_err(L, &err);
  }
  uv_unref((uv_handle_t *)&w->h);  /* only a waiting task keeps the loop alive */
  u = lua_newuserdatauv(L, sizeof *u, 0);
  u->w = w;
  luaL_setmetatable(L, FSW_MT);
  return 1;
}

/* watcher:wait([timeout]) -> true (the file changed since the last wait returned), or nil,
 * err: timeout (a virtual timeout under virtual time), cancelled (the task was cancelled or
 * the watcher closed). One task at a time may wait on a watcher. */
static int l_wait(lua_State *L) {
  fsw *w = check_fsw(L);
  double timeout = luaL_optnumber(L, 2, -1);
  task_t *t = engine_check_wait(L, "fs watcher:wait");
  fsw_waiter *wt;
  if (task_cancelled(t)) return engine_yield_now(t, engine_push_cancelled(L, "fs watcher:wait"));
  if (w->changed) {
    w->changed = 0;
    lua_pushboolean(L, 1);
    return 1;
  }
  if (w->waiter) return luaL_error(L, "fs watcher:wait: another task already waits on it");
  wt = calloc(1, sizeof *wt);
  if (!wt) return luaL_error(L, "out of memory");
  wt->base.cancel = waiter_cancel;
  wt->t = t;
  wt->w = w;
  w->waiter = wt;
  uv_ref((uv_handle_t *)&w->h);
  engine_timer_init(task_engine(t), &wt->timer, on_timeout, wt);
  if (isnan(timeout)) timeout = -1;
  if (timeout > 1e9) timeout = 1e9;
  if (timeout >= 0) rtimer_start(&wt->timer, timeout);
  engine_wait(t, &wt->base, "fs watcher:wait");
  return engine_suspend(t);
}

/* watcher:info() -> { path, dir, events, changed, error }: error is set once the watch
 * reported a failure, or its directory was deleted or moved away (the watch is then dead:
 * close it and watch again). */
static int l_info(lua_State *L) {
  fsw *w = check_fsw(L);
  lua_createtable(L, 0, 5);
  lua_pushfstring(L, "%s%s%s", strcmp(w->dir, ".") ? w->dir : "",
                  strcmp(w->dir, ".") && strcmp(w->dir, "/") ? "/" : "", w->base);
  lua_setfield(L, -2, "path");
  lua_pushstring(L, w->dir);
  lua_setfield(L, -2, "dir");
  lua_pushnumber(L, w->events);
  lua_setfield(L, -2, "events");
  lua_pushboolean(L, w->changed);
  lua_setfield(L, -2, "changed");
  if (w->err) lua_pushstring(L, uv_strerror(w->err));
  else lua_pushnil(L);
  lua_setfield(L, -2, "error");
  return 1;
}

/* watcher:_fire(): a test hook, as if the file's directory reported a change now. */
static int l_fire(lua_State *L) {
  fsw *w = check_fsw(L);
  on_event(&w->h, w->base, UV_CHANGE, 0);
  return 0;
}

static int l_close(lua_State *L) {
  lfsw *u = luaL_checkudata(L, 1, FSW_MT);
  fsw_close(u->w);
  u->w = NULL;
  return 0;
}

/* ---- the watch sets' figures (rec.watch.set) ---- */

static int label_ok(const char *s, size_t n) {
  return n > 0 && n <= METRICS_MAX_VALUE_LEN && strlen(s) == n;
}

/* rec.fs._set_error(source, reason): counts one refused read of a watch set in
 * recwatch_watch_set_errors_total{source,reason}. reason: a lowercase word. */
static int l_set_error(lua_State *L) {
  static const char *labels[] = {"source", "reason"};
  size_t sl, rl, i;
  const char *s = luaL_checklstring(L, 1, &sl), *r = luaL_checklstring(L, 2, &rl);
  const char *values[2];
  char err[256];
  metric_t *m;
  if (!label_ok(s, sl)) return luaL_argerror(L, 1, "1..256 bytes");
  if (rl == 0 || rl > 32) return luaL_argerror(L, 2, "a lowercase word");
  for (i = 0; i < rl; i++)
    if (!((r[i] >= 'a' && r[i] <= 'z') || r[i] == '_')) return luaL_argerror(L, 2, "a lowercase word");
  m = metrics_register(METRIC_COUNTER, "recwatch_watch_set_errors_total",
                       "Reads of a watch set (file or URL) refused; the last good set was kept",
                       2, labels, NULL, 0, err, sizeof err);
  if (!m) return luaL_error(L, "rec.fs._set_error: %s", err);
  values[0] = s;
  values[1] = r;
  metrics_add(m, values, 1, err, sizeof err);  /* the cardinality cap: the log line stays */
  return 0;
}

/* rec.fs._set_size(source, n): recwatch_watch_set_sessions{source}, the sessions a watch set
 * holds now. */
static int l_set_size(lua_State *L) {
  static const char *labels[] = {"source"};
  size_t sl;
  const char *s = luaL_checklstring(L, 1, &sl);
  double v = luaL_checknumber(L, 2);
  char err[256];
  metric_t *m;
  if (!label_ok(s, sl)) return luaL_argerror(L, 1, "1..256 bytes");
  m = metrics_register(METRIC_GAUGE, "recwatch_watch_set_sessions",
                       "Sessions a watch set holds now", 1, labels, NULL, 0, err, sizeof err);
  if (!m) return luaL_error(L, "rec.fs._set_size: %s", err);
  metrics_set(m, &s, v, err, sizeof err);
  return 0;
}

void lfswatch_open(lua_State *L) {
  static const luaL_Reg f[] = {
    {"watch", l_watch}, {"_set_error", l_set_error}, {"_set_size", l_set_size}, {NULL, NULL}};
  static const luaL_Reg m[] = {
    {"wait", l_wait}, {"info", l_info}, {"close", l_close}, {"_fire", l_fire}, {NULL, NULL}};
  lrec_new_class(L, FSW_MT, m);
  luaL_getmetatable(L, FSW_MT);
  lua_pushcfunction(L, l_close);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  luaL_newlib(L, f);
  lua_setfield(L, -2, "fs");
}
