/* lrec_int: what the rooms of the Lua module `rec` share among themselves (lrec.c ties them
 * together): each room's open function. Not for files outside the module. */
#ifndef REC_LREC_INT_H
#define REC_LREC_INT_H
#include <lauxlib.h>

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
#endif
