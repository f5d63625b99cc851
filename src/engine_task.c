/* engine_task: tasks (coroutines pinned while alive) and the ready queue; resume and finish,
 * the only place that resumes a task; waits, cancellation, engine_stop and rec.exit; the task
 * handle a script holds (wait/cancel/status); rec.every's timers; the typed error values. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include "engine_int.h"
#include "log.h"

#define ERR_MT "rec.error"

pending_t engine__frozen = {NULL};

unsigned task_id(task_t *t) { return t->id; }
engine_t *task_engine(task_t *t) { return t->e; }
lua_State *task_thread(task_t *t) { return t->co; }
int task_done(task_t *t) { return t->state == T_DONE; }
int task_cancelled(task_t *t) { return t->cancelled || t->e->stopping; }
task_t *engine_task_of(lua_State *L) { return engine__task_of(L); }

/* ---- typed errors as Lua values ---- */

static int err_tostring(lua_State *L) {
  lua_getfield(L, 1, "kind");
  lua_getfield(L, 1, "message");
  lua_pushfstring(L, "%s: %s", luaL_optstring(L, -2, "error"), luaL_optstring(L, -1, ""));
  return 1;
}

void engine_push_err(lua_State *L, const rec_err *err) {
  lua_createtable(L, 0, 8);
  lua_pushstring(L, rec_errkind_name(err->kind));
  lua_setfield(L, -2, "kind");
  lua_pushstring(L, err->message);
  lua_setfield(L, -2, "message");
  if (err->status) {
    lua_pushinteger(L, err->status);
    lua_setfield(L, -2, "status");
  }
  if (err->has_code) {
    if (err->code_str[0]) lua_pushstring(L, err->code_str);
    else lua_pushinteger(L, err->code);
    lua_setfield(L, -2, "code");
  }
  lua_pushboolean(L, err->retryable);
  lua_setfield(L, -2, "retryable");
  lua_pushinteger(L, err->attempts);
  lua_setfield(L, -2, "attempts");
  if (err->retry_after > 0) {
    lua_pushnumber(L, err->retry_after);
    lua_setfield(L, -2, "retry_after");
  }
  if (luaL_newmetatable(L, ERR_MT)) {
    lua_pushcfunction(L, err_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushstring(L, "rec.error");
    lua_setfield(L, -2, "__name");
  }
  lua_setmetatable(L, -2);
}

int engine_return_err(lua_State *L, const rec_err *err) {
  lua_pushnil(L);
  engine_push_err(L, err);
  return 2;
}

int engine_push_cancelled(lua_State *L, const char *what) {
  rec_err err;
  rec_err_set(&err, REC_E_CANCELLED, 0, "%s was cancelled", what ? what : "the call");
  return engine_return_err(L, &err);
}

/* ---- the ready queue ---- */

static void on_idle(uv_idle_t *h);

static void enqueue(task_t *t, int nargs) {
  engine_t *e = t->e;
  t->state = T_READY;
  t->ready_nargs = nargs;
  t->next_ready = NULL;
  if (e->ready_tail) e->ready_tail->next_ready = t;
  else e->ready_head = t;
  e->ready_tail = t;
  e->nready++;
  if (!uv_is_active((uv_handle_t *)&e->idle)) uv_idle_start(&e->idle, on_idle);
}

static void task_resume(task_t *t, int nargs);

static void ready_remove(task_t *t) {
  engine_t *e = t->e;
  task_t **pp, *prev = NULL;
  for (pp = &e->ready_head; *pp; prev = *pp, pp = &(*pp)->next_ready)
    if (*pp == t) {
      *pp = t->next_ready;
      if (e->ready_tail == t) e->ready_tail = prev;
      t->next_ready = NULL;
      e->nready--;
      return;
    }
}

static task_t *ready_pop(engine_t *e) {
  task_t *t = e->ready_head;
  if (!t) return NULL;
  e->ready_head = t->next_ready;
  if (!e->ready_head) e->ready_tail = NULL;
  t->next_ready = NULL;
  e->nready--;
  return t;
}

/* Runs the tasks that were ready when it started; what gets queued meanwhile runs next time
 * round. Tasks are popped one at a time, so one that is finished and unlinked while others
 * run (cancelled before it started) is never touched again. */
static void on_idle(uv_idle_t *h) {
  engine_t *e = h->data;
  int n = e->nready;
  task_t *t;
  while (n-- > 0 && !e->exiting && (t = ready_pop(e)) != NULL)
    if (t->state == T_READY || t->state == T_NEW) task_resume(t, t->ready_nargs);
  if (!e->ready_head || e->exiting) uv_idle_stop(&e->idle);
}

/* ---- task lifecycle ---- */

static void live_unlink(task_t *t) {
  if (t->prev_live) t->prev_live->next_live = t->next_live;
  else t->e->live = t->next_live;
  if (t->next_live) t->next_live->prev_live = t->prev_live;
  t->prev_live = t->next_live = NULL;
}

/* Wakes every task waiting on t with (true, results...) or (false, err). */
static void wake_waiters(task_t *t, lua_State *L, int results_idx) {
  while (t->waiters) {
    waitnode *w = t->waiters;
    lua_State *co = w->waiter->co;
    int i, n;
    t->waiters = w->next;
    w->waiter->pending = NULL;
    lua_getfield(L, results_idx, "n");
    n = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    lua_checkstack(co, n + 2);
    lua_pushboolean(co, t->ok);
    for (i = 1; i <= n; i++) {
      lua_rawgeti(L, results_idx, i);
      lua_xmove(L, co, 1);
    }
    enqueue(w->waiter, n + 1);
    free(w);
  }
}

/* Runs a failed task's pending __close handlers (lua_resetthread) as a resume of its own:
 * published to the busy monitor and the signal handler, so an endless handler is ended by
 * max_busy or by SIGTERM like any task code (the thread cannot yield there: an error). */
static void close_guarded(task_t *t) {
  engine_t *e = t->e;
  task_t *prev = e->current;
  lua_State *prev_running = engine__running_L;
  uint64_t prev_since = engine__busy_since, prev_at = e->resumed_at;
  int kills;
  e->current = t;
  engine__running_L = t->co;
  e->resumed_at = uv_hrtime();
  engine__busy_limit = e->max_busy_ns;
  engine__busy_since = e->resumed_at;
  kills = e->busy_kills;
  if (engine__sig_count > 0 && !e->signals)
    lua_sethook(t->co, engine__guard_hook, LUA_MASKCOUNT, 1);
  lua_resetthread(t->co);
  if (e->busy_kills != kills)  /* the task's own error is logged by the caller: this one too */
    log_write(LOG_ERROR, t->id, "a __close handler ran for more than %g s without waiting "
              "(an endless loop?): ended", (double)e->max_busy_ns / 1e9);
  engine__running_L = prev_running;
  engine__busy_since = prev_since;
  e->resumed_at = prev_at;
  e->current = prev;
}

/* The task ended: its results (ok) or error, the top nres values of from, are packed for
 * t:wait() and handed to the tasks waiting on it. */
static void task_finish(task_t *t, int ok, lua_State *from, int nres) {
  engine_t *e = t->e;
  lua_State *L = e->L;
  int i, top = lua_gettop(L) - (from == L ? nres : 0);
  if (t->pending && t->pending != &engine__frozen)  /* never left armed */
    t->pending->cancel(t->pending);
  t->state = T_DONE;
  t->ok = ok;
  t->pending = NULL;
  lua_rawgeti(L, LUA_REGISTRYINDEX, t->self_ref);  /* the handle */
  lua_createtable(L, nres, 1);
  lua_checkstack(L, nres + 4);
  if (from != L) lua_xmove(from, L, nres);
  else lua_rotate(L, -(nres + 2), -nres);  /* values above the handle and the table */
  for (i = nres; i >= 1; i--) lua_rawseti(L, -(i + 1), i);
  lua_pushinteger(L, nres);
  lua_setfield(L, -2, "n");
  wake_waiters(t, L, lua_gettop(L));
  lua_setiuservalue(L, -2, 2);
  if (!ok) close_guarded(t);  /* closes pending to-be-closed variables */
  lua_pushnil(L);
  lua_setiuservalue(L, -2, 1);      /* the thread is garbage now */
  t->co = NULL;
  live_unlink(t);
  luaL_unref(L, LUA_REGISTRYINDEX, t->self_ref);
  t->self_ref = LUA_NOREF;
  lua_settop(L, top);
}

static void task_failed(task_t *t) {
  engine_t *e = t->e;
  lua_State *L = e->L;
  const char *msg;
  lua_xmove(t->co, L, 1);  /* the error object; nothing is called on the dead thread */
  if (e->exiting) {  /* unwound by rec.exit (or failing while the process exits): quiet */
    task_finish(t, 0, L, 1);
    return;
  }
  msg = engine__safe_tostring(L, -1);
  luaL_traceback(L, t->co, msg, 0);
  log_write(LOG_ERROR, t->id, "task failed: %s", lua_tostring(L, -1));
  lua_pop(L, 2);
  e->script_errors++;
  if (t->is_main) e->main_failed = 1;
  task_finish(t, 0, L, 1);
}

/* The collector starts a cycle when the heap reaches pause% of what survived the last one
 * (Lua's default is 200%). While the heap is small, 150%: the headroom is a few MB at most
 * and costs little. Once it is large (10,000 watchers hold ~14 MB), 150% would mean 7 MB of
 * garbage on top, so the pause drops to 120% with bigger steps (stepmul 400): 10,000 watchers
 * peak at ~31 MB instead of ~36 MB for +2.3% instructions, and a poll storm with a small heap
 * keeps 150% (120% would cost it +1.2%). The heap is looked at every 1,024 resumes, with a
 * gap between the two thresholds so it does not flap. Figures: docs/performance.md. */
static void tune_gc(engine_t *e) {
  int kb;
  if (e->gc_user) return;  /* the script set the collector itself: its setting stands */
  kb = lua_gc(e->L, LUA_GCCOUNT, 0);
  if (e->gc_pause == GC_PAUSE_SMALL && kb > GC_LARGE_KB) {
    e->gc_pause = GC_PAUSE_LARGE;
    lua_gc(e->L, LUA_GCINC, GC_PAUSE_LARGE, GC_STEPMUL_LARGE, 0);
  } else if (e->gc_pause == GC_PAUSE_LARGE && kb < GC_SMALL_KB) {
    e->gc_pause = GC_PAUSE_SMALL;
    lua_gc(e->L, LUA_GCINC, GC_PAUSE_SMALL, GC_STEPMUL_SMALL, 0);
  }
}

static void task_resume(task_t *t, int nargs) {
  engine_t *e = t->e;
  task_t *prev = e->current;
  int nres = 0, st, failed;
  if ((++e->gc_ticks & 1023) == 0) tune_gc(e);
  t->state = T_RUNNING;
  lua_State *prev_running = engine__running_L;
  e->current = t;
  if (!prev) {
    e->resumed_at = uv_hrtime();
    engine__busy_limit = e->max_busy_ns;
    engine__busy_since = e->resumed_at;  /* the monitor's view: see guard_main */
  }
  engine__running_L = t->co;
  if (engine__sig_count > 0 && !e->signals)  /* a signal came before any Lua ran: look at once */
    lua_sethook(t->co, engine__guard_hook, LUA_MASKCOUNT, 1);
  st = lua_resume(t->co, e->L, nargs, &nres);
  engine__running_L = prev_running;
  if (!prev) engine__busy_since = 0;
  e->current = prev;
  failed = (st == LUA_YIELD && t->busy_killed) || (st != LUA_YIELD && st != LUA_OK);
  if (st == LUA_YIELD && t->busy_killed) {
    lua_pop(t->co, nres);
    e->current = t;  /* for the message's task id */
    engine__push_busy_message(t->co, e);
    e->current = prev;
    t->pending = NULL;
    task_failed(t);
  } else if (st == LUA_YIELD) {
    if (t->state == T_READY) {
      t->ready_nargs = nres;  /* engine_yield_now: hand the values back next time */
    } else {
      lua_pop(t->co, nres);
      if (t->state == T_RUNNING) enqueue(t, 0);  /* a bare coroutine.yield() */
    }
  } else if (st == LUA_OK) {
    task_finish(t, 1, t->co, nres);
  } else {
    task_failed(t);
  }
  if (t->is_main && e->reload_verdict) {  /* after task_failed logged why */
    e->reload_verdict = 0;
    if (e->on_reloaded) e->on_reloaded(e, !failed, e->on_reloaded_ud);
  }
}

void engine_on_reloaded(engine_t *e, void (*fn)(engine_t *e, int ok, void *ud), void *ud) {
  e->on_reloaded = fn;
  e->on_reloaded_ud = ud;
}

void engine_complete(task_t *t, int nres) {
  t->pending = NULL;
  if (t->e->exiting) return;
  if (t->e->current) enqueue(t, nres);
  else task_resume(t, nres);
}

int engine_suspend(task_t *t) {
  if (t->state == T_READY) return lua_yield(t->co, t->ready_nargs);
  return lua_yield(t->co, 0);
}

int engine_yield_now(task_t *t, int nres) {
  enqueue(t, nres);
  return lua_yield(t->co, nres);
}

/* ---- waiting ---- */

#define CFNAMES_KEY "rec.cfnames"

/* Known C functions that cannot be yielded across, by value, for naming them even when
 * they were called through pcall (where Lua has no name for them). */
void engine__remember_cfnames(lua_State *L) {
  static const char *const names[][2] = {
    {"table", "sort"}, {"string", "gsub"}, {"_G", "require"}, {"_G", "load"},
    {"_G", "dofile"}, {"string", "format"}, {"table", "concat"}, {"_G", "tostring"}};
  size_t i;
  lua_newtable(L);
  for (i = 0; i < sizeof names / sizeof names[0]; i++) {
    lua_getglobal(L, names[i][0]);
    if (lua_getfield(L, -1, names[i][1]) == LUA_TFUNCTION) {
      if (strcmp(names[i][0], "_G") == 0) lua_pushstring(L, names[i][1]);
      else lua_pushfstring(L, "%s.%s", names[i][0], names[i][1]);
      lua_rawset(L, -4);
    } else {
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  lua_setfield(L, LUA_REGISTRYINDEX, CFNAMES_KEY);
}

static void name_blocker(lua_State *L, char *out, size_t n) {
  lua_Debug ar;
  int level;
  snprintf(out, n, "a C function or metamethod");
  for (level = 1; lua_getstack(L, level, &ar); level++) {
    if (!lua_getinfo(L, "Snf", &ar)) break;
    if (ar.what && strcmp(ar.what, "C") == 0) {
      lua_getfield(L, LUA_REGISTRYINDEX, CFNAMES_KEY);
      lua_pushvalue(L, -2);
      if (lua_rawget(L, -2) == LUA_TSTRING) snprintf(out, n, "%s", lua_tostring(L, -1));
      else if (ar.name) snprintf(out, n, "%s", ar.name);
      lua_pop(L, 4);
      return;
    }
    lua_pop(L, 1);
  }
}

task_t *engine_check_wait(lua_State *L, const char *what) {
  task_t *t = engine__task_of(L);
  char blocker[64];
  if (t && t->e->exiting)  /* after rec.exit nothing waits: unwind (again) */
    luaL_error(L, "rec.exit(%d): the script is stopping", t->e->exit_code);
  if (!t) {
    luaL_error(L, "%s waits, so it must run in a task (the main chunk, rec.spawn or rec.every), "
               "not inside coroutine.create/wrap", what);
  }
  if (!lua_isyieldable(L)) {
    name_blocker(L, blocker, sizeof blocker);
    luaL_error(L, "%s cannot wait inside '%s': Lua cannot yield across it (require, table.sort "
               "comparators, string.gsub callbacks, __gc); move the call out of it",
               what, blocker);
  }
  return t;
}

void engine_wait(task_t *t, pending_t *p, const char *what) {
  (void)what;
  /* normally NULL here; only a task resumed behind the engine's back could still hold an
   * operation, and that one must not complete later into a task that moved on */
  if (t->pending && t->pending != p && t->pending != &engine__frozen)
    t->pending->cancel(t->pending);
  t->pending = p;
  t->state = T_WAITING;
}

/* ---- cancellation ---- */

/* why completes "the pending call was cancelled (...)". */
static void cancel_task(task_t *t, const char *why) {
  pending_t *p = t->pending;
  rec_err err;
  t->cancelled = 1;
  if (t->state != T_WAITING || !p || p == &engine__frozen) return;
  t->pending = NULL;
  p->cancel(p);
  rec_err_set(&err, REC_E_CANCELLED, 0, "the pending call was cancelled (%s)", why);
  lua_checkstack(t->co, 3);
  lua_pushnil(t->co);
  engine_push_err(t->co, &err);
  enqueue(t, 2);
}

static void waitnode_cancel(pending_t *p) {
  waitnode *w = (waitnode *)p, **pp;
  for (pp = &w->target->waiters; *pp; pp = &(*pp)->next)
    if (*pp == w) {
      *pp = w->next;
      break;
    }
  free(w);
}

/* ---- the task handle in Lua ---- */

static task_t *check_task(lua_State *L) { return luaL_checkudata(L, 1, TASK_MT); }

static int task_push_results(lua_State *L, task_t *t) {
  int i, n;
  lua_getiuservalue(L, 1, 2);
  lua_getfield(L, -1, "n");
  n = (int)lua_tointeger(L, -1);
  lua_pop(L, 1);
  luaL_checkstack(L, n + 1, "too many results");
  lua_pushboolean(L, t->ok);
  for (i = 1; i <= n; i++) lua_rawgeti(L, -2 - (i - 1), i);
  return n + 1;
}

static int l_task_wait(lua_State *L) {
  task_t *t = check_task(L), *self;
  waitnode *w;
  if (t->state == T_DONE) return task_push_results(L, t);
  self = engine_check_wait(L, "task:wait");
  if (self == t) return luaL_error(L, "task:wait: a task cannot wait for itself");
  if (task_cancelled(self)) return engine_yield_now(self, engine_push_cancelled(L, "task:wait"));
  w = calloc(1, sizeof *w);
  if (!w) return luaL_error(L, "out of memory");
  w->base.cancel = waitnode_cancel;
  w->waiter = self;
  w->target = t;
  w->next = t->waiters;
  t->waiters = w;
  engine_wait(self, &w->base, "task:wait");
  return engine_suspend(self);
}

int engine_cancel(task_t *t) {
  if (t->state == T_DONE) return 0;
  if (t->state == T_NEW) {
    /* never started: it ends now with a cancelled error and runs nothing */
    rec_err err;
    rec_err_set(&err, REC_E_CANCELLED, 0, "task %u was cancelled before it started", t->id);
    ready_remove(t);
    lua_settop(t->co, 0);
    engine_push_err(t->co, &err);
    t->cancelled = 1;
    task_finish(t, 0, t->co, 1);
  } else {
    cancel_task(t, "task:cancel");
  }
  return 1;
}

int task_started(task_t *t) { return t->state != T_NEW; }

static int l_task_cancel(lua_State *L) {
  lua_pushboolean(L, engine_cancel(check_task(L)));
  return 1;
}

static int l_task_status(lua_State *L) {
  static const char *const names[] = {"ready", "ready", "running", "waiting", "done"};
  task_t *t = check_task(L);
  lua_pushstring(L, names[t->state]);
  return 1;
}

static int l_task_id(lua_State *L) {
  lua_pushinteger(L, check_task(L)->id);
  return 1;
}

static int l_task_tostring(lua_State *L) {
  task_t *t = check_task(L);
  lua_pushfstring(L, "task %d", (int)t->id);
  return 1;
}

void engine__register_task_mt(lua_State *L) {
  static const luaL_Reg methods[] = {
    {"wait", l_task_wait}, {"cancel", l_task_cancel}, {"status", l_task_status},
    {"id", l_task_id}, {NULL, NULL}};
  luaL_newmetatable(L, TASK_MT);
  luaL_newlib(L, methods);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, l_task_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pop(L, 1);
}

task_t *engine_spawn(engine_t *e, lua_State *L, int nargs) {
  int base = lua_gettop(L) - nargs;  /* the function */
  task_t *t = lua_newuserdatauv(L, sizeof *t, 2);
  lua_State *co;
  memset(t, 0, sizeof *t);
  t->e = e;
  t->id = ++e->next_id;
  t->self_ref = LUA_NOREF;
  luaL_setmetatable(L, TASK_MT);
  co = lua_newthread(L);
  lua_setiuservalue(L, -2, 1);
  *(task_t **)lua_getextraspace(co) = t;
  /* no hook: the busy monitor watches tasks (a new thread inherits its creator's hook);
   * without the guard thread (it could not start), the count hook as before */
  if (e->stop_at || !engine__wd_started)
    lua_sethook(co, engine__guard_hook, LUA_MASKCOUNT, BUSY_CHECK_EVERY);
  else lua_sethook(co, NULL, 0, 0);
  t->co = co;
  lua_rotate(L, base, 1);            /* handle below the function and its arguments */
  lua_xmove(L, co, nargs + 1);
  lua_pushvalue(L, -1);
  t->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  t->next_live = e->live;
  if (e->live) e->live->prev_live = t;
  e->live = t;
  enqueue(t, nargs);
  t->state = T_NEW;
  return t;
}

/* ---- timers of rec.every, stop, rec.exit ---- */

void engine_track_timer(engine_t *e, void *timer, void (*stop)(void *timer)) {
  tracked_timer *tt = malloc(sizeof *tt);
  if (!tt) return;
  tt->timer = timer;
  tt->stop = stop;
  tt->next = e->timers;
  e->timers = tt;
}

void engine_untrack_timer(engine_t *e, void *timer) {
  tracked_timer **pp;
  for (pp = &e->timers; *pp; pp = &(*pp)->next)
    if ((*pp)->timer == timer) {
      tracked_timer *tt = *pp;
      *pp = tt->next;
      free(tt);
      return;
    }
}

void engine__stop_timers(engine_t *e) {
  while (e->timers) {
    tracked_timer *tt = e->timers;
    e->timers = tt->next;
    tt->stop(tt->timer);
    free(tt);
  }
}

/* Ends the run now: the engine's own loop stops; on a shared loop (a test runner's process)
 * the engine is marked as exited and its owner frees it. */
static void halt(engine_t *e) {
  if (e->owns_loop) uv_stop(e->loop);
  else if (!e->exiting) e->exiting = e->halted = 1;
}

static void on_deadline(uv_timer_t *h) {
  engine_t *e = h->data;
  log_warn("tasks still running 1 s after the stop request; exiting anyway");
  halt(e);
}

void engine_stop(engine_t *e, const char *why) {
  task_t *t;
  if (e->stopping && e->reload_pending && strcmp(why, "reload") != 0) {
    e->reload_pending = 0;  /* a stop request during a reload wins: no new script */
    log_info("stopping (%s) instead of reloading", why);
  }
  if (e->stopping) return;
  e->stopping = 1;
  e->stop_at = uv_hrtime();
  log_info("stopping (%s): cancelling pending calls", why);
  engine__stop_timers(e);
  for (t = e->live; t; t = t->next_live) {
    cancel_task(t, why);  /* e.g. "SIGTERM" */
    /* a task that never waits again is ended 1 s from now even without max_busy */
    if (t->co) lua_sethook(t->co, engine__guard_hook, LUA_MASKCOUNT, BUSY_CHECK_EVERY);
  }
  uv_timer_start(&e->deadline, on_deadline, 1000, 0);
  /* "the stop request", unless a signal said which; a reload goes on in a fresh state */
  if (e->with_signals && !e->reload_pending) engine__wd_arm(3);
}

void engine_exit(engine_t *e, int code) {
  if (e->exiting) return;  /* the first rec.exit decides the status */
  e->exit_code = code;
  e->exiting = 1;
  engine__stop_timers(e);
  if (e->owns_loop) uv_stop(e->loop);
}

int engine_lua_exit(engine_t *e, lua_State *L, int code) {
  task_t *t = engine__task_of(L);
  engine_exit(e, code);
  if (t && lua_isyieldable(L)) {  /* suspend the task for good */
    engine_wait(t, &engine__frozen, "rec.exit");
    return lua_yield(L, 0);
  }
  /* inside a C function Lua cannot yield across (or a plain coroutine): unwind instead, so
   * nothing after rec.exit runs; the engine ends the task quietly. A pcall that catches it
   * gets this message, and the next waiting call unwinds again. */
  return luaL_error(L, "rec.exit(%d): the script is stopping", e->exit_code);
}

void engine_detach(task_t *t, pending_t *p) {
  if (t->pending == p) t->pending = NULL;
}

unsigned engine_task_count(engine_t *e) {
  task_t *t;
  unsigned n = 0;
  for (t = e->live; t; t = t->next_live) n++;
  return n;
}
