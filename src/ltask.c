/* ltask: tasks and time in `rec`: rec.sleep, rec.every (timers of class "rec.timer"),
 * rec.event (class "rec.event"), rec.spawn, rec.now, rec.time, rec.cancelled, rec.exit; and the
 * guard that keeps coroutine.resume/close off a task's thread. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include "engine.h"
#include "log.h"
#include "lrec_int.h"
#include "rerr.h"

#define EVERY_MT "rec.timer"
/* A limit of a number from scripts, checked before any cast (docs/api.md lists them). */
#define REC_MAX_INTERVAL 31536000.0          /* rec.every: a year */

/* ---- rec.sleep ---- */

typedef struct sleep_op {
  pending_t base;
  rtimer_t timer;
  task_t *t;
} sleep_op;

static void sleep_cancel(pending_t *p) {
  sleep_op *op = (sleep_op *)p;
  rtimer_stop(&op->timer);
  free(op);
}

static void on_sleep_done(rtimer_t *h) {
  sleep_op *op = h->data;
  task_t *t = op->t;
  engine_detach(t, &op->base);
  free(op);
  lua_pushboolean(task_thread(t), 1);
  engine_complete(t, 1);
}

static int l_sleep(lua_State *L) {
  double s = luaL_checknumber(L, 1);
  task_t *t = engine_check_wait(L, "rec.sleep");
  sleep_op *op;
  if (isnan(s) || s < 0) return luaL_argerror(L, 1, "seconds must be >= 0");
  if (task_cancelled(t)) return engine_yield_now(t, engine_push_cancelled(L, "rec.sleep"));
  if (s == 0) {
    lua_pushboolean(L, 1);
    return engine_yield_now(t, 1);  /* lets every other ready task run */
  }
  op = malloc(sizeof *op);
  if (!op) return luaL_error(L, "out of memory");
  op->base.cancel = sleep_cancel;
  op->t = t;
  engine_timer_init(task_engine(t), &op->timer, on_sleep_done, op);
  rtimer_start(&op->timer, s);
  engine_wait(t, &op->base, "rec.sleep");
  return engine_suspend(t);
}

/* ---- rec.every ---- */

typedef struct every_timer {
  rtimer_t timer;
  int on;             /* 1 until stopped */
  engine_t *e;
  lua_State *L;
  int fn_ref, self_ref;
  int running_ref;    /* handle of the task of the last tick, or LUA_NOREF */
  double interval;
} every_timer;

static void every_stop(void *p) {
  every_timer *et = p;
  if (!et->on) return;
  rtimer_stop(&et->timer);
  et->on = 0;
  luaL_unref(et->L, LUA_REGISTRYINDEX, et->fn_ref);
  luaL_unref(et->L, LUA_REGISTRYINDEX, et->running_ref);
  luaL_unref(et->L, LUA_REGISTRYINDEX, et->self_ref);  /* collectable from now on */
  et->fn_ref = et->running_ref = et->self_ref = LUA_NOREF;
}

static int tick_still_running(every_timer *et) {
  task_t *t;
  if (et->running_ref == LUA_NOREF) return 0;
  lua_rawgeti(et->L, LUA_REGISTRYINDEX, et->running_ref);
  t = lua_touserdata(et->L, -1);
  lua_pop(et->L, 1);
  return t && !task_done(t);
}

static void on_every(rtimer_t *h) {
  every_timer *et = h->data;
  lua_State *L = et->L;
  if (engine_stopping(et->e)) return;
  rtimer_start(h, et->interval);  /* from now, as a repeating uv_timer did */
  if (tick_still_running(et)) {
    log_debug("rec.every: the previous run is still going; skipping this tick");
    return;
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, et->fn_ref);
  engine_spawn(et->e, L, 0);
  luaL_unref(L, LUA_REGISTRYINDEX, et->running_ref);
  et->running_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

static every_timer *check_every(lua_State *L) { return luaL_checkudata(L, 1, EVERY_MT); }

static int l_every_stop(lua_State *L) {
  every_timer *et = check_every(L);
  if (et->on && et->running_ref != LUA_NOREF) {
    /* a tick spawned at the same instant but not started yet does not run after stop() */
    task_t *t;
    lua_rawgeti(et->L, LUA_REGISTRYINDEX, et->running_ref);
    t = lua_touserdata(et->L, -1);
    lua_pop(et->L, 1);
    if (t && !task_started(t)) engine_cancel(t);
  }
  if (et->on) engine_untrack_timer(et->e, et);
  every_stop(et);
  return 0;
}

static int l_every(lua_State *L) {
  engine_t *e = engine_from_lua(L);
  double s = luaL_checknumber(L, 1);
  every_timer *et;
  luaL_checktype(L, 2, LUA_TFUNCTION);
  if (!(s > 0 && s <= REC_MAX_INTERVAL))  /* NaN and math.huge too: no overflowing cast */
    return luaL_argerror(L, 1, "seconds must be > 0 and at most 31536000 (a year)");
  et = lua_newuserdatauv(L, sizeof *et, 0);
  memset(et, 0, sizeof *et);
  et->fn_ref = et->self_ref = et->running_ref = LUA_NOREF;
  luaL_setmetatable(L, EVERY_MT);
  et->e = e;
  et->L = engine_lua(e);
  lua_pushvalue(L, 2);
  et->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushvalue(L, -1);
  et->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);  /* runs until stopped, handle kept or not */
  if (s > 1e9) s = 1e9;
  et->interval = s;
  et->on = 1;
  engine_timer_init(e, &et->timer, on_every, et);
  rtimer_start(&et->timer, s);
  engine_track_timer(e, et, every_stop);
  return 1;
}

/* ---- rec.event: a flag tasks can wait on; set() wakes every waiter ---- */

#define EVENT_MT "rec.event"

typedef struct event_waiter {
  pending_t base;
  task_t *t;
  rtimer_t timer;                    /* the wait's timeout, when armed */
  struct event_waiter **prev, *next; /* in the event's list */
} event_waiter;

typedef struct event {
  int is_set;
  event_waiter *waiters;
} event;

/* Unlinks and frees a waiter (its timer is closed, the task is not touched). */
static void waiter_release(event_waiter *w) {
  *w->prev = w->next;
  if (w->next) w->next->prev = w->prev;
  rtimer_stop(&w->timer);
  free(w);
}

static void waiter_cancel(pending_t *p) { waiter_release((event_waiter *)p); }

static void on_event_timeout(rtimer_t *h) {
  event_waiter *w = h->data;
  task_t *t = w->t;
  rec_err err;
  rec_err_set(&err, REC_E_TIMEOUT, 0, "event:wait timed out");
  err.retryable = 0;
  engine_detach(t, &w->base);
  waiter_release(w);
  lua_pushnil(task_thread(t));
  engine_push_err(task_thread(t), &err);
  engine_complete(t, 2);
}

static event *check_event(lua_State *L) { return luaL_checkudata(L, 1, EVENT_MT); }

static int l_event_set(lua_State *L) {
  event *ev = check_event(L);
  event_waiter *list = ev->waiters;
  ev->is_set = 1;
  ev->waiters = NULL;  /* take them all first: a woken task may wait again at once */
  if (list) list->prev = &list;
  while (list) {
    event_waiter *w = list;
    task_t *t = w->t;
    engine_detach(t, &w->base);
    waiter_release(w);
    lua_pushboolean(task_thread(t), 1);
    engine_complete(t, 1);
  }
  return 0;
}

static int l_event_clear(lua_State *L) {
  check_event(L)->is_set = 0;
  return 0;
}

static int l_event_is_set(lua_State *L) {
  lua_pushboolean(L, check_event(L)->is_set);
  return 1;
}

static int l_event_wait(lua_State *L) {
  event *ev = check_event(L);
  double timeout = luaL_optnumber(L, 2, -1);
  task_t *t = engine_check_wait(L, "event:wait");
  event_waiter *w;
  if (task_cancelled(t)) return engine_yield_now(t, engine_push_cancelled(L, "event:wait"));
  if (ev->is_set) {
    lua_pushboolean(L, 1);
    return 1;
  }
  w = calloc(1, sizeof *w);
  if (!w) return luaL_error(L, "out of memory");
  w->base.cancel = waiter_cancel;
  w->t = t;
  engine_timer_init(task_engine(t), &w->timer, on_event_timeout, w);
  w->next = ev->waiters;
  if (w->next) w->next->prev = &w->next;
  w->prev = &ev->waiters;
  ev->waiters = w;
  if (isnan(timeout)) timeout = -1;
  if (timeout > 1e9) timeout = 1e9;  /* math.huge: as good as for ever, no overflow */
  if (timeout >= 0) rtimer_start(&w->timer, timeout);
  engine_wait(t, &w->base, "event:wait");
  return engine_suspend(t);
}

static int l_event(lua_State *L) {
  event *ev = lua_newuserdatauv(L, sizeof *ev, 0);
  memset(ev, 0, sizeof *ev);
  luaL_setmetatable(L, EVENT_MT);
  return 1;
}

/* ---- rec.spawn, time, exit ---- */

static int l_spawn(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  engine_spawn(engine_from_lua(L), L, lua_gettop(L) - 1);
  return 1;
}

static int l_now(lua_State *L) {
  lua_pushnumber(L, engine_now(engine_from_lua(L)));
  return 1;
}

/* rec.cancelled(): true when the running task has been cancelled (stop, reload, handle
 * cancel): its waits return nil, cancelled, and it should not record anything it did not
 * finish. false outside a task. */
static int l_cancelled(lua_State *L) {
  task_t *t = engine_task_of(L);
  lua_pushboolean(L, t && task_cancelled(t));
  return 1;
}

static int l_time(lua_State *L) {
  lua_pushnumber(L, engine_time(engine_from_lua(L)));
  return 1;
}

static int l_exit(lua_State *L) {
  lua_Integer code = luaL_optinteger(L, 1, 0);
  return engine_lua_exit(engine_from_lua(L), L, (int)(code & 0xff));
}

/* coroutine.resume / coroutine.close must not touch a task's own thread (reachable through
 * coroutine.running()): only the engine drives tasks. The originals are kept in the registry
 * under private keys, not as upvalues debug.getupvalue could hand out. Upvalue 1: the key. */
static const char guard_keys[2] = {0, 0};
static const char *const guard_names[2] = {"resume", "close"};

static int l_coroutine_guard(lua_State *L) {
  const char *key = lua_touserdata(L, lua_upvalueindex(1));
  if (lua_type(L, 1) == LUA_TTHREAD && engine_task_of(lua_tothread(L, 1)))
    return luaL_error(L, "coroutine.%s: that thread is a task's; only the engine runs tasks "
                      "(use t:wait() or t:cancel() on the task's handle)",
                      guard_names[key - guard_keys]);
  lua_rawgetp(L, LUA_REGISTRYINDEX, key);
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  return lua_gettop(L);
}

static void guard_coroutines(lua_State *L) {
  size_t i;
  lua_getglobal(L, "coroutine");
  for (i = 0; i < 2; i++) {
    lua_getfield(L, -1, guard_names[i]);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &guard_keys[i]);
    lua_pushlightuserdata(L, (void *)&guard_keys[i]);
    lua_pushcclosure(L, l_coroutine_guard, 1);
    lua_setfield(L, -2, guard_names[i]);
  }
  lua_pop(L, 1);
}

void ltask_open(lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"spawn", l_spawn}, {"sleep", l_sleep}, {"every", l_every}, {"now", l_now},
    {"cancelled", l_cancelled}, {"time", l_time}, {"exit", l_exit}, {"event", l_event},
    {NULL, NULL}};
  static const luaL_Reg everym[] = {{"stop", l_every_stop}, {NULL, NULL}};
  static const luaL_Reg eventm[] = {
    {"set", l_event_set}, {"clear", l_event_clear}, {"is_set", l_event_is_set},
    {"wait", l_event_wait}, {NULL, NULL}};
  lrec_new_class(L, EVERY_MT, everym);
  lrec_new_class(L, EVENT_MT, eventm);
  luaL_setfuncs(L, funcs, 0);
  guard_coroutines(L);
}
