/* ljsonlib: rec.json: decode through lnorm.c (lua-cjson, whole numbers as integers), encode
 * through ljson.c (arrays stay arrays), rec.json.array and rec.json.null. */
#include <lauxlib.h>
#include "ljson.h"
#include "lnorm.h"
#include "lrec_int.h"

/* ---- rec.json ---- */

static int l_json_decode(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  if (lnorm_decode(L, s, len)) return 1;
  lua_pushnil(L);
  lua_pushstring(L, "malformed JSON");
  return 2;
}

static int l_json_encode(lua_State *L) {
  lua_settop(L, 1);
  lua_getfield(L, LUA_REGISTRYINDEX, "rec.json.encode");
  lua_insert(L, 1);
  if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
  }
  return 1;
}

void ljsonlib_open(lua_State *L) {
  static const luaL_Reg jsonf[] = {{"encode", l_json_encode}, {"decode", l_json_decode},
                                   {"array", ljson_array}, {NULL, NULL}};
  luaL_newlib(L, jsonf);
  lnorm_cjson(L);  /* the instance reply decoding uses: one cjson.null for everything */
  lua_pushcfunction(L, ljson_encode);  /* arrays stay arrays, see ljson.h */
  lua_setfield(L, LUA_REGISTRYINDEX, "rec.json.encode");
  lua_getfield(L, -1, "null");
  lua_setfield(L, -3, "null");
  lua_pop(L, 1);
  lua_setfield(L, -2, "json");
}
