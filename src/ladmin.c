/* ladmin: rec.admin, the script's side of the listener's admin routes (admin.c). rec.notify
 * registers the handler (rec.admin.serve); each request the listener hands over runs it as
 * a task of its own in the running Lua state, and the task answers with rec.admin.reply.
 * Glue only. */
#include <lauxlib.h>
#include "admin.h"
#include "engine.h"
#include "lrec_int.h"

#define HANDLER_KEY "rec.admin.handler"

/* Protected part of a dispatch: handler(req) as a new task. Upvalue-free; the request is
 * lightuserdata 1. */
static int spawn_handler(lua_State *L) {
  const admin_request *r = lua_touserdata(L, 1);
  engine_t *e = engine_from_lua(L);
  if (lua_getfield(L, LUA_REGISTRYINDEX, HANDLER_KEY) != LUA_TFUNCTION) {
    lua_pushboolean(L, 0);
    return 1;
  }
  lua_createtable(L, 0, 4);
  lua_pushinteger(L, (lua_Integer)r->id);
  lua_setfield(L, -2, "id");
  lua_pushstring(L, r->method);
  lua_setfield(L, -2, "method");
  lua_pushstring(L, r->path);
  lua_setfield(L, -2, "path");
  lua_pushlstring(L, r->body, r->bodylen);
  lua_setfield(L, -2, "body");
  engine_spawn(e, L, 1);
  lua_pushboolean(L, 1);
  return 1;
}

/* admin.c's dispatch function, on the main loop: the state the engine runs now (a reload's
 * new one has its own handler, or none). */
static void dispatch(const admin_request *r, void *ud) {
  engine_t *e = ud;
  lua_State *L = engine_lua(e);
  int top;
  static const char none[] = "{\"error\":\"no admin handler: the script does not load "
                             "rec.notify, where silences live\"}\n";
  static const char stopping[] = "{\"error\":\"recwatch is stopping or reloading; try "
                                 "again\"}\n";
  if (!L || engine_stopping(e) || engine_reloading(e)) {
    admin_reply(r->id, 503, stopping, sizeof stopping - 1);
    return;
  }
  top = lua_gettop(L);
  lua_pushcfunction(L, spawn_handler);
  lua_pushlightuserdata(L, (void *)r);
  if (lua_pcall(L, 1, 1, 0) != LUA_OK || !lua_toboolean(L, -1))
    admin_reply(r->id, 503, none, sizeof none - 1);
  lua_settop(L, top);
}

/* rec.admin.serve(fn): fn(req) handles every admin request from now on, in a task of its
 * own; req = { id, method, path, body }; it answers with rec.admin.reply(req.id, ...). */
static int l_serve(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_pushvalue(L, 1);
  lua_setfield(L, LUA_REGISTRYINDEX, HANDLER_KEY);
  admin_set_dispatch(dispatch, engine_from_lua(L));
  return 0;
}

/* rec.admin.reply(id, status, body): true, or false when the request is not waiting any
 * more (its client went away or it timed out). */
static int l_reply(lua_State *L) {
  lua_Integer id = luaL_checkinteger(L, 1);
  lua_Integer status = luaL_checkinteger(L, 2);
  size_t n;
  const char *body = luaL_checklstring(L, 3, &n);
  luaL_argcheck(L, status >= 100 && status <= 599, 2, "an HTTP status");
  lua_pushboolean(L, id > 0 && admin_reply((unsigned long)id, (int)status, body, n) == 0);
  return 1;
}

void ladmin_open(lua_State *L) {
  static const luaL_Reg funcs[] = {{"serve", l_serve}, {"reply", l_reply}, {NULL, NULL}};
  luaL_newlib(L, funcs);
  lua_setfield(L, -2, "admin");
}
