/* luasame: deep comparison of two Lua values, for the differential tests of the reply
 * decoders (tests/unit/test_jdec.c) and the fuzzer that holds the one-pass path to the
 * general one (tests/fuzz/fuzz_reply.c). Header only: static functions. */
#ifndef REC_TEST_LUASAME_H
#define REC_TEST_LUASAME_H
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <lua.h>
#include <lauxlib.h>
#include "lnorm.h"
#include "provider.h"

static char why[512];

static int same(lua_State *L, int a, int b, int depth);

static long nkeys(lua_State *L, int t) {
  long n = 0;
  lua_pushnil(L);
  while (lua_next(L, t) != 0) {
    lua_pop(L, 1);
    n++;
  }
  return n;
}

/* Every key of table a is in b with the same value. */
static int same_keys(lua_State *L, int a, int b, int depth) {
  lua_pushnil(L);
  while (lua_next(L, a) != 0) {
    int ok;
    lua_pushvalue(L, -2);
    lua_rawget(L, b);
    ok = same(L, lua_gettop(L) - 1, lua_gettop(L), depth + 1);
    lua_pop(L, 2);
    if (!ok) {
      lua_pop(L, 1);
      return 0;
    }
  }
  return 1;
}

static int same(lua_State *L, int a, int b, int depth) {
  int t = lua_type(L, a);
  a = lua_absindex(L, a);
  b = lua_absindex(L, b);
  luaL_checkstack(L, 8, NULL);
  if (t != lua_type(L, b)) {
    snprintf(why, sizeof why, "types %s vs %s at depth %d", lua_typename(L, t),
             lua_typename(L, lua_type(L, b)), depth);
    return 0;
  }
  switch (t) {
  case LUA_TNIL: return 1;
  case LUA_TBOOLEAN: return lua_toboolean(L, a) == lua_toboolean(L, b);
  case LUA_TLIGHTUSERDATA: return lua_touserdata(L, a) == lua_touserdata(L, b);
  case LUA_TSTRING: {
    size_t la, lb;
    const char *sa = lua_tolstring(L, a, &la), *sb = lua_tolstring(L, b, &lb);
    if (la == lb && memcmp(sa, sb, la) == 0) return 1;
    snprintf(why, sizeof why, "strings differ at depth %d", depth);
    return 0;
  }
  case LUA_TNUMBER: {
    double x, y;
    if (lua_isinteger(L, a) != lua_isinteger(L, b)) {
      snprintf(why, sizeof why, "integer vs float at depth %d (%.17g / %.17g)", depth,
               (double)lua_tonumber(L, a), (double)lua_tonumber(L, b));
      return 0;
    }
    if (lua_isinteger(L, a)) {
      if (lua_tointeger(L, a) == lua_tointeger(L, b)) return 1;
      snprintf(why, sizeof why, "integers %lld vs %lld", (long long)lua_tointeger(L, a),
               (long long)lua_tointeger(L, b));
      return 0;
    }
    x = (double)lua_tonumber(L, a);
    y = (double)lua_tonumber(L, b);
    if ((isnan(x) && isnan(y)) || (x == y && signbit(x) == signbit(y))) return 1;
    snprintf(why, sizeof why, "floats %.17g vs %.17g", x, y);
    return 0;
  }
  case LUA_TTABLE: {
    int ma = lnorm_is_marked_array(L, a), mb = lnorm_is_marked_array(L, b);
    if (ma != mb) {
      snprintf(why, sizeof why, "array mark %d vs %d at depth %d", ma, mb, depth);
      return 0;
    }
    if (lua_rawlen(L, a) != lua_rawlen(L, b)) {
      snprintf(why, sizeof why, "lengths differ at depth %d", depth);
      return 0;
    }
    if (nkeys(L, a) != nkeys(L, b)) {
      snprintf(why, sizeof why, "key counts differ at depth %d", depth);
      return 0;
    }
    return same_keys(L, a, b, depth);
  }
  default:
    snprintf(why, sizeof why, "unexpected type %s", lua_typename(L, t));
    return 0;
  }
}

static int same_facts(const reply_facts *a, const reply_facts *b) {
  if (a->is_json != b->is_json || a->is_object != b->is_object ||
      a->has_code_num != b->has_code_num || a->code_num != b->code_num ||
      a->has_server_response != b->has_server_response || a->has_recinfos != b->has_recinfos)
    return 0;
#define SAME_STR(x, y) ((!(x) && !(y)) || ((x) && (y) && strcmp((x), (y)) == 0))
  return SAME_STR(a->code_str, b->code_str) && SAME_STR(a->message, b->message) &&
         SAME_STR(a->reason, b->reason);
}

#endif
