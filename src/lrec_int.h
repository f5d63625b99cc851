/* lrec_int: what the rooms of the Lua module `rec` share among themselves (lrec.c ties them
 * together): each room's open function, a limit, and small helpers kept static inline so that
 * no per-request path calls across files. Not for files outside the module. */
#ifndef REC_LREC_INT_H
#define REC_LREC_INT_H
#include <math.h>
#include <lauxlib.h>

/* Limits of numbers from scripts, checked before any cast (docs/api.md lists them). */
#define REC_MAX_REPLY_LIMIT 1073741824.0     /* max_reply: 1 GiB */

/* Table field helpers: a wrong type is the script's bug, so they raise. */

/* t[k] as a string (a number is converted), or NULL when absent. The value stays pushed on
 * the stack: a converted number exists nowhere else, so the pointer lives as long as that
 * slot, i.e. until the binding returns. Callers must not rely on the stack top after it. */
static inline const char *lrec_opt_string_field(lua_State *L, int idx, const char *k,
                                                const char *what) {
  int ty = lua_getfield(L, idx, k);
  if (ty == LUA_TSTRING || ty == LUA_TNUMBER) {
    /* a NUL inside is refused by the caller's check with the real length (http_check_*),
     * as a typed invalid_argument */
    return lua_tostring(L, -1);
  }
  if (ty != LUA_TNIL) luaL_error(L, "%s: '%s' must be a string, got %s", what, k, luaL_typename(L, -1));
  return NULL;
}

static inline int lrec_opt_number_field(lua_State *L, int idx, const char *k, double *out) {
  int ty = lua_getfield(L, idx, k), isnum = 0;
  double v = lua_tonumberx(L, -1, &isnum);
  lua_pop(L, 1);
  if (ty == LUA_TNIL) return 0;
  if (!isnum || isnan(v)) return -1;
  *out = v;
  return 1;
}

/* A metatable named mt whose __index holds methods. */
static inline void lrec_new_class(lua_State *L, const char *mt, const luaL_Reg *methods) {
  luaL_newmetatable(L, mt);
  lua_newtable(L);
  luaL_setfuncs(L, methods, 0);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}

/* The rooms, in the order lrec_open opens them. Each adds its part to the `rec` table on top
 * of the stack and leaves the table there. */
void lconfig_open(lua_State *L);  /* rec.configure */
void lquery_open(lua_State *L);   /* rec.query_qingcloud, rec.query_agora */
/* rec.spawn, sleep, every, now, cancelled, time, exit, event; the classes "rec.timer" and
 * "rec.event"; the guard that keeps coroutine.resume/close off a task's thread */
void ltask_open(lua_State *L);
void lhttp_open(lua_State *L);    /* rec.http */
/* rec.log; string.format in the registry as "rec.format", which rec.log formats with */
void llog_open(lua_State *L);
void lutil_open(lua_State *L);     /* rec.secret, excerpt, safe_id */
/* rec.json (its encoder in the registry as "rec.json.encode", which rec.http's json= uses) */
void ljsonlib_open(lua_State *L);
void lcrypto_open(lua_State *L);   /* rec.crypto */
void lstatus_open(lua_State *L);   /* rec.qingcloud, rec.agora: status names, failed statuses */
void ladmin_open(lua_State *L);   /* rec.admin: the listener's admin routes */
/* rec.agora.acquire, start, query, update, update_layout, stop; rec.features.urgent */
void lcontrol_agora_open(lua_State *L);
void lcontrol_qingcloud_open(lua_State *L);  /* rec.qingcloud.start, stop, query */
/* lfswatch.h: lfswatch_open (rec.fs), opened after lops_open */
void levents_open(lua_State *L);  /* rec.events: next, done, inject (levents.c) */

/* lsearch.c: puts the searcher of the modules of lua/ built into the binary second in
 * package.searchers: after preload, before the file system. Touches no `rec` table. */
void lsearch_open(lua_State *L);
#endif
