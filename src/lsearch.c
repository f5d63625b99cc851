/* lsearch: the embedded modules' searcher: require "rec.watch" finds lua/rec/watch.lua inside
 * the binary (the table is embedded_lua.h's, built by cmake/embed.cmake). */
#include <stdio.h>
#include <string.h>
#include <lauxlib.h>
#include "embedded_lua.h"
#include "lrec_int.h"

static int embedded_searcher(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  const struct embedded_lua *m;
  for (m = embedded_lua; m->name; m++) {
    if (strcmp(m->name, name) == 0) {
      char chunk[256];
      snprintf(chunk, sizeof chunk, "@[recwatch]/lua/%s.lua", name);
      for (char *p = chunk + 16; *p; p++)
        if (*p == '.' && strcmp(p, ".lua") != 0) *p = '/';
      if (luaL_loadbuffer(L, m->src, m->len, chunk) != LUA_OK) return lua_error(L);
      lua_pushstring(L, chunk + 1);
      return 2;
    }
  }
  lua_pushfstring(L, "no module '%s' built into recwatch", name);
  return 1;
}

void lsearch_open(lua_State *L) {
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "searchers");
  lua_pushcfunction(L, embedded_searcher);
  /* second place: after preload, before the file system */
  lua_Integer n = (lua_Integer)lua_rawlen(L, -2);
  for (lua_Integer i = n; i >= 2; i--) {
    lua_rawgeti(L, -2, i);
    lua_rawseti(L, -3, i + 1);
  }
  lua_rawseti(L, -2, 2);
  lua_pop(L, 2);
}
