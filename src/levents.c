/* levents: rec.events: next([timeout]) hands out the committed events (events.c) one at a
 * time as tables, waiting like rec.sleep (cancellable, on the engine's clock); done(ev) marks
 * one processed; inject(tbl) sends a table through the same durable path without HTTP (for
 * tests). The state's anchor (a userdata in the registry) closes the receiver this Lua state
 * owns when the state closes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include "engine.h"
#include "config.h"
#include "events.h"
#include "ljson.h"
#include "lnorm.h"
#include "lrec_int.h"
#include "levents.h"
#include "rerr.h"

#define ANCHOR_MT "rec.events.anchor"

typedef struct waiter {
  pending_t base;
  rtimer_t timer;
  int timed;
  task_t *t;
  struct anchor *a;
  struct waiter *prev, *next;
} waiter;

typedef struct anchor {
  engine_t *e;
  lua_State *main;
  waiter *head, *tail;
} anchor;

static anchor *get_anchor(lua_State *L) {
  anchor *a;
  lua_getfield(L, LUA_REGISTRYINDEX, LEVENTS_ANCHOR_KEY);
  a = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return a;
}

/* The receiver of this engine, made (without a listener) when there is none yet. */
static events_rx *receiver(lua_State *L, const char *what) {
  engine_t *e = engine_from_lua(L);
  char err[512];
  events_rx *rx = events_for(e, 1, engine_config(e)->state_path, err, sizeof err);
  if (!rx) luaL_error(L, "%s: the event store: %s", what, err);
  if (!events_owner(rx)) {   /* made here: this state's anchor closes it */
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
    events_set_owner(rx, lua_tothread(L, -1));
    lua_pop(L, 1);
  }
  return rx;
}

/* ---- an event as a table ---- */

/* Pushes the contract's table for a committed event (body: the raw NCS JSON). */
static void push_event(lua_State *L, const events_ev *ev) {
  int body, payload, out;
  lua_createtable(L, 0, 12);
  out = lua_gettop(L);
  lua_pushstring(L, ev->id);
  lua_setfield(L, out, "notice_id");
  lua_pushliteral(L, "agora");
  lua_setfield(L, out, "provider");
  lua_pushinteger(L, (lua_Integer)floor(ev->received));
  lua_setfield(L, out, "received");
  if (!lnorm_decode(L, ev->body, ev->n) || !lua_istable(L, -1)) {
    lua_settop(L, out);
    return;
  }
  body = lua_gettop(L);
  if (lua_getfield(L, body, "eventType") == LUA_TNUMBER && lua_isinteger(L, -1))
    lua_setfield(L, out, "event_type");
  else lua_pop(L, 1);
  if (lua_getfield(L, body, "notifyMs") == LUA_TNUMBER && lua_isinteger(L, -1))
    lua_setfield(L, out, "notify_ms");
  else lua_pop(L, 1);
  if (lua_getfield(L, body, "payload") != LUA_TTABLE) {
    lua_settop(L, out);
    return;
  }
  payload = lua_gettop(L);
  if (lua_getfield(L, payload, "cname") == LUA_TSTRING) lua_setfield(L, out, "cname");
  else lua_pop(L, 1);
  if (lua_getfield(L, payload, "sid") == LUA_TSTRING) lua_setfield(L, out, "sid");
  else lua_pop(L, 1);
  switch (lua_getfield(L, payload, "uid")) {   /* a string or a number on the wire */
  case LUA_TSTRING: lua_setfield(L, out, "uid"); break;
  case LUA_TNUMBER:
    if (lua_isinteger(L, -1)) lua_pushfstring(L, "%I", (LUAI_UACINT)lua_tointeger(L, -1));
    else lua_pushstring(L, lua_tostring(L, -1));
    lua_setfield(L, out, "uid");
    lua_pop(L, 1);
    break;
  default: lua_pop(L, 1);
  }
  if (lua_getfield(L, payload, "sequence") == LUA_TNUMBER && lua_isinteger(L, -1))
    lua_setfield(L, out, "sequence");
  else lua_pop(L, 1);
  if (lua_getfield(L, payload, "sendts") == LUA_TNUMBER && lua_isinteger(L, -1))
    lua_setfield(L, out, "sendts");
  else lua_pop(L, 1);
  if (lua_getfield(L, payload, "details") == LUA_TTABLE) lua_setfield(L, out, "details");
  else {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_setfield(L, out, "details");
  }
  lua_settop(L, out);
}

/* ---- rec.events.next ---- */

static void unlink_waiter(waiter *w) {
  anchor *a = w->a;
  if (w->prev) w->prev->next = w->next;
  else a->head = w->next;
  if (w->next) w->next->prev = w->prev;
  else a->tail = w->prev;
  w->prev = w->next = NULL;
}

static void keep_alive(anchor *a) {
  events_rx *rx = events_for(a->e, 0, NULL, NULL, 0);
  int untimed = 0;
  waiter *w;
  for (w = a->head; w; w = w->next) untimed |= !w->timed;
  if (rx) {
    events_keep_alive(rx, untimed);
    events_wanted(rx, a->head != NULL);
  }
}

static void waiter_cancel(pending_t *p) {
  waiter *w = (waiter *)p;
  rtimer_stop(&w->timer);
  unlink_waiter(w);
  keep_alive(w->a);
  free(w);
}

static void on_timeout(rtimer_t *h) {
  waiter *w = h->data;
  task_t *t = w->t;
  anchor *a = w->a;
  engine_detach(t, &w->base);
  unlink_waiter(w);
  free(w);
  keep_alive(a);
  lua_pushnil(task_thread(t));
  engine_complete(t, 1);
}

static void on_arrival(void *ud) {
  anchor *a = ud;
  events_rx *rx = events_for(a->e, 0, NULL, NULL, 0);
  while (rx && a->head) {
    waiter *w = a->head;
    task_t *t = w->t;
    events_ev *ev = events_take(rx);
    if (!ev) break;
    engine_detach(t, &w->base);
    rtimer_stop(&w->timer);
    unlink_waiter(w);
    free(w);
    push_event(task_thread(t), ev);
    events_ev_free(ev);
    engine_complete(t, 1);
  }
  keep_alive(a);
}

static int l_next(lua_State *L) {
  double timeout = luaL_optnumber(L, 1, -1);
  task_t *t = engine_check_wait(L, "rec.events.next");
  anchor *a = get_anchor(L);
  events_rx *rx = receiver(L, "rec.events.next");
  events_ev *ev;
  waiter *w;
  if (lua_gettop(L) >= 1 && !lua_isnil(L, 1) && (isnan(timeout) || timeout < 0))
    return luaL_argerror(L, 1, "timeout must be a number of seconds >= 0");
  if (task_cancelled(t)) return engine_yield_now(t, engine_push_cancelled(L, "rec.events.next"));
  events_on_arrival(rx, on_arrival, a);
  if (!a->head && (ev = events_take(rx)) != NULL) {   /* first come, first served */
    push_event(L, ev);
    events_ev_free(ev);
    return 1;
  }
  if (timeout == 0) {
    lua_pushnil(L);
    return 1;
  }
  if (!(w = calloc(1, sizeof *w))) return luaL_error(L, "out of memory");
  w->base.cancel = waiter_cancel;
  w->t = t;
  w->a = a;
  w->timed = timeout > 0;
  engine_timer_init(a->e, &w->timer, on_timeout, w);
  if (w->timed) rtimer_start(&w->timer, timeout);
  w->prev = a->tail;
  if (a->tail) a->tail->next = w;
  else a->head = w;
  a->tail = w;
  keep_alive(a);
  engine_wait(t, &w->base, "rec.events.next");
  return engine_suspend(t);
}

/* ---- rec.events.done ---- */

static int l_done(lua_State *L) {
  const char *id;
  events_rx *rx;
  if (lua_type(L, 1) == LUA_TTABLE) lua_getfield(L, 1, "notice_id");
  else lua_pushvalue(L, 1);
  id = lua_tostring(L, -1);
  if (lua_type(L, -1) != LUA_TSTRING || !*id)
    return luaL_argerror(L, 1, "an event (a table with notice_id) or its notice_id");
  rx = receiver(L, "rec.events.done");
  if (events_done(rx, id) != 0) return luaL_error(L, "out of memory");
  lua_pushboolean(L, 1);
  return 1;
}

/* rec.events.shared() -> true when the event store is shared by a fleet: every member is
 * handed every event, and marks done only those its watchers took. */
static int l_shared(lua_State *L) {
  lua_pushboolean(L, events_shared(receiver(L, "rec.events.shared")));
  return 1;
}

/* ---- rec.events.inject ---- */

typedef struct inject_op {
  pending_t base;
  task_t *t;
  int gone;
} inject_op;

static void inject_cancel(pending_t *p) {
  ((inject_op *)p)->gone = 1;   /* the commit goes on; its answer is dropped */
}

static void on_injected(void *ud, int result, const char *err) {
  inject_op *op = ud;
  task_t *t = op->t;
  lua_State *T;
  if (op->gone) {
    free(op);
    return;
  }
  engine_detach(t, &op->base);
  free(op);
  T = task_thread(t);
  if (result < 0) {
    lua_pushnil(T);
    lua_pushfstring(T, "rec.events.inject: the event store: %s", err);
  } else {
    lua_pushstring(T, result == 0 ? "accepted" : "duplicate");
    lua_pushnil(T);
  }
  engine_complete(t, 2);
}

static void set_from(lua_State *L, int src, int dst, const char *from, const char *to) {
  lua_getfield(L, src, from);
  lua_setfield(L, dst, to);
}

/* The NCS wire body for the contract's table at index 1 (pushed as a string). */
static int wire_body(lua_State *L) {
  int wire, payload;
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_createtable(L, 0, 5);
  wire = lua_gettop(L);
  set_from(L, 1, wire, "notice_id", "noticeId");
  lua_pushinteger(L, 3);
  lua_setfield(L, wire, "productId");
  set_from(L, 1, wire, "event_type", "eventType");
  set_from(L, 1, wire, "notify_ms", "notifyMs");
  lua_createtable(L, 0, 7);
  payload = lua_gettop(L);
  set_from(L, 1, payload, "cname", "cname");
  set_from(L, 1, payload, "uid", "uid");
  set_from(L, 1, payload, "sid", "sid");
  set_from(L, 1, payload, "sequence", "sequence");
  set_from(L, 1, payload, "sendts", "sendts");
  set_from(L, 1, payload, "details", "details");
  lua_setfield(L, wire, "payload");
  lua_pushcfunction(L, ljson_encode);
  lua_pushvalue(L, wire);
  lua_call(L, 1, 1);
  return 1;
}

static int l_inject(lua_State *L) {
  task_t *t = engine_check_wait(L, "rec.events.inject");
  engine_t *e = engine_from_lua(L);
  events_rx *rx;
  const char *id, *body;
  size_t n;
  inject_op *op;
  double received;
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  if (lua_getfield(L, 1, "notice_id") != LUA_TSTRING || !*(id = lua_tostring(L, -1)))
    return luaL_argerror(L, 1, "notice_id (a non-empty string) is required");
  if (lua_getfield(L, 1, "event_type") != LUA_TNUMBER || !lua_isinteger(L, -1))
    return luaL_argerror(L, 1, "event_type (an integer) is required");
  lua_pop(L, 1);
  lua_pushcfunction(L, wire_body);
  lua_pushvalue(L, 1);
  if (lua_pcall(L, 1, 1, 0) != LUA_OK)
    return luaL_error(L, "rec.events.inject: %s", lua_tostring(L, -1));
  body = lua_tolstring(L, -1, &n);
  received = engine_time(e);
  if (lua_getfield(L, 1, "received") == LUA_TNUMBER) received = lua_tonumber(L, -1);
  lua_pop(L, 1);
  rx = receiver(L, "rec.events.inject");
  if (task_cancelled(t)) return engine_yield_now(t, engine_push_cancelled(L, "rec.events.inject"));
  if (!(op = calloc(1, sizeof *op))) return luaL_error(L, "out of memory");
  op->base.cancel = inject_cancel;
  op->t = t;
  if (events_inject(rx, id, body, n, received, on_injected, op) != 0) {
    free(op);
    lua_pushnil(L);
    lua_pushliteral(L, "rec.events.inject: too many events waiting for the store");
    return 2;
  }
  engine_wait(t, &op->base, "rec.events.inject");
  return engine_suspend(t);
}

/* ---- the anchor ---- */

static int anchor_gc(lua_State *L) {
  anchor *a = lua_touserdata(L, 1);   /* at lua_close the registry's metatable may be gone */
  events_rx *rx = a && a->e ? events_for(a->e, 0, NULL, NULL, 0) : NULL;
  if (rx && events_owner(rx) == a->main) events_close(rx);
  a->e = NULL;
  return 0;
}

void levents_open(lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"next", l_next}, {"done", l_done}, {"inject", l_inject},
    {"shared", l_shared}, {NULL, NULL}};
  anchor *a = lua_newuserdatauv(L, sizeof *a, 0);
  memset(a, 0, sizeof *a);
  a->e = engine_from_lua(L);
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
  a->main = lua_tothread(L, -1);
  lua_pop(L, 1);
  if (luaL_newmetatable(L, ANCHOR_MT)) {
    lua_pushcfunction(L, anchor_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  lua_setfield(L, LUA_REGISTRYINDEX, LEVENTS_ANCHOR_KEY);
  lua_createtable(L, 0, 3);
  luaL_setfuncs(L, funcs, 0);
  lua_setfield(L, -2, "events");
}
