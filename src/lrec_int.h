/* lrec_int: what the rooms of the Lua module `rec` share among themselves (lrec.c ties them
 * together): each room's open function. Not for files outside the module. */
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

/* Each open function adds its part to the `rec` table on top of the stack and leaves it there. */

/* lsearch.c: puts the searcher of the modules of lua/ built into the binary second in
 * package.searchers: after preload, before the file system. */
void lsearch_open(lua_State *L);
/* llog.c: rec.log (and string.format kept in the registry as "rec.format" for it). */
void llog_open(lua_State *L);
/* lutil.c: rec.secret, rec.excerpt, rec.safe_id, rec.json (and its encoder in the registry
 * as "rec.json.encode", which rec.http's json= uses), rec.crypto, rec.qingcloud, rec.agora. */
void lutil_open(lua_State *L);
/* ltask.c: rec.spawn, sleep, every, now, cancelled, time, exit, event; the classes
 * "rec.timer" and "rec.event"; the coroutine.resume/close guard. */
void ltask_open(lua_State *L);
/* lhttp.c: rec.http. */
void lhttp_open(lua_State *L);
/* lquery.c: rec.query_qingcloud, rec.query_agora. */
void lquery_open(lua_State *L);
/* lconfig.c: rec.configure. */
void lconfig_open(lua_State *L);
#endif
