/* lnorm: decodes reply bodies with lua-cjson and normalises them on the Lua stack (whole
 * numbers as integers, numbers/booleans sent as strings coerced, status names). Never raises:
 * every entry point runs its work under lua_pcall and uses raw table access only. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <lua.h>
#include <lauxlib.h>
#include "lua-cjson.h"
#include "agora.h"
#include "lnorm.h"
#include "qingcloud.h"

#define LNORM_MAX_DEPTH 1000  /* lua-cjson's own default decode depth */

static const char lnorm_cjson_key = 'c';  /* registry key (by address) of our cjson */

/* ---- small helpers (all run inside a protected call) ---- */

static int lnorm_whole(lua_Number d, lua_Integer *out) {
  if (!isfinite(d) || d != floor(d) || fabs(d) >= 9007199254740992.0) return 0;
  *out = (lua_Integer)d;
  return 1;
}

/* Strict decimal integer: optional '-', digits only, fits lua_Integer. */
static int lnorm_parse_int(const char *s, lua_Integer *out) {
  const char *p = s;
  char *end = NULL;
  long long v;
  if (*p == '-') p++;
  if (*p < '0' || *p > '9') return 0;
  for (; *p; p++)
    if (*p < '0' || *p > '9') return 0;
  errno = 0;
  v = strtoll(s, &end, 10);
  if (errno != 0 || !end || *end) return 0;
  *out = (lua_Integer)v;
  return 1;
}

static int lnorm_is_array(lua_State *L, int idx) {
  int array;
  if (lua_type(L, idx) != LUA_TTABLE) return 0;
  idx = lua_absindex(L, idx);
  lua_pushnil(L);
  if (lua_next(L, idx) == 0) return 1;  /* empty: both {} and [] */
  lua_pop(L, 2);
  array = lua_rawgeti(L, idx, 1) != LUA_TNIL;
  lua_pop(L, 1);
  return array;
}

static int lnorm_is_object(lua_State *L, int idx) {
  int object;
  if (lua_type(L, idx) != LUA_TTABLE) return 0;
  object = lua_rawgeti(L, idx, 1) == LUA_TNIL;
  lua_pop(L, 1);
  return object;
}

/* t[key] (raw) for the table at tidx; pushes the value and returns its type. */
static int lnorm_rawget(lua_State *L, int tidx, const char *key) {
  tidx = lua_absindex(L, tidx);
  lua_pushstring(L, key);
  return lua_rawget(L, tidx);
}

/* t[key] = value on top (raw), popping the value. */
static void lnorm_rawset(lua_State *L, int tidx, const char *key) {
  tidx = lua_absindex(L, tidx);
  lua_pushstring(L, key);
  lua_insert(L, -2);
  lua_rawset(L, tidx);
}

/* ---- whole numbers ---- */

static void lnorm_walk(lua_State *L, int tidx, int depth, int seen);

static void lnorm_fix_value(lua_State *L, int tidx, int depth, int seen) {
  lua_Integer i;
  /* stack: key value */
  if (lua_type(L, -1) == LUA_TNUMBER && !lua_isinteger(L, -1) &&
      lnorm_whole(lua_tonumber(L, -1), &i)) {
    lua_pushvalue(L, -2);
    lua_pushinteger(L, i);
    lua_rawset(L, tidx);
  } else if (lua_type(L, -1) == LUA_TTABLE) {
    lnorm_walk(L, lua_gettop(L), depth + 1, seen);
  }
}

/* seen: index of a table of visited tables (cycles in script-made tables), or 0 for a tree
 * fresh from the decoder, which cannot have cycles. */
static void lnorm_walk(lua_State *L, int tidx, int depth, int seen) {
  if (depth > LNORM_MAX_DEPTH || !lua_checkstack(L, 8)) return;
  if (seen) {
    lua_pushvalue(L, tidx);
    if (lua_rawget(L, seen) != LUA_TNIL) {
      lua_pop(L, 1);
      return;
    }
    lua_pop(L, 1);
    lua_pushvalue(L, tidx);
    lua_pushboolean(L, 1);
    lua_rawset(L, seen);
  }
  lua_pushnil(L);
  while (lua_next(L, tidx) != 0) {
    lnorm_fix_value(L, tidx, depth, seen);
    lua_pop(L, 1);
  }
}

static int lnorm_integers_k(lua_State *L) {
  lua_newtable(L);  /* 2: tables already visited (guards against cycles) */
  lnorm_walk(L, 1, 0, 2);
  return 0;
}

void lnorm_integers(lua_State *L, int idx) {
  lua_Integer i;
  if (!lua_checkstack(L, 3)) return;
  idx = lua_absindex(L, idx);
  if (lua_type(L, idx) == LUA_TNUMBER && !lua_isinteger(L, idx) &&
      lnorm_whole(lua_tonumber(L, idx), &i)) {
    lua_pushinteger(L, i);
    lua_replace(L, idx);
  } else if (lua_type(L, idx) == LUA_TTABLE) {
    lua_pushcfunction(L, lnorm_integers_k);
    lua_pushvalue(L, idx);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) lua_pop(L, 1);
  }
}

/* ---- decoding ---- */

/* Pushes our cjson module table, creating it once per lua_State. May raise. */
static void lnorm_push_cjson(lua_State *L) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &lnorm_cjson_key) == LUA_TTABLE) return;
  lua_pop(L, 1);
  lua_pushcfunction(L, luaopen_cjson);
  lua_call(L, 0, 1);
  if (lnorm_rawget(L, -1, "decode_invalid_numbers") == LUA_TFUNCTION) {
    lua_pushboolean(L, 0);  /* strict JSON: no NaN, Infinity or hex numbers */
    lua_call(L, 1, 0);
  } else {
    lua_pop(L, 1);
  }
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &lnorm_cjson_key);
}

/* Decodes and turns whole numbers into integers in one protected call. */
static int lnorm_decode_k(lua_State *L) {
  size_t len = (size_t)lua_tointeger(L, 2);
  const char *body = lua_touserdata(L, 1);
  lua_Integer i;
  lnorm_push_cjson(L);
  lnorm_rawget(L, -1, "decode");
  lua_pushlstring(L, body ? body : "", body ? len : 0);
  lua_call(L, 1, 1);
  if (lua_type(L, -1) == LUA_TTABLE) {
    lnorm_walk(L, lua_gettop(L), 0, 0);  /* a fresh tree: no cycles to guard against */
  } else if (lua_type(L, -1) == LUA_TNUMBER && !lua_isinteger(L, -1) &&
             lnorm_whole(lua_tonumber(L, -1), &i)) {
    lua_pushinteger(L, i);
    lua_replace(L, -2);
  }
  return 1;
}

static int lnorm_cjson_k(lua_State *L) {
  lnorm_push_cjson(L);
  return 1;
}

int lnorm_cjson(lua_State *L) {
  if (!lua_checkstack(L, 3)) return 0;
  lua_pushcfunction(L, lnorm_cjson_k);
  if (lua_pcall(L, 0, 1, 0) != LUA_OK) {
    lua_pop(L, 1);
    return 0;
  }
  return 1;
}

int lnorm_decode(lua_State *L, const char *body, size_t len) {
  /* lua-cjson stops at a NUL byte as if the text ended there; raw NUL is never valid JSON. */
  if ((body && memchr(body, '\0', len)) || !lua_checkstack(L, 4)) return 0;
  lua_pushcfunction(L, lnorm_decode_k);
  lua_pushlightuserdata(L, (void *)body);
  lua_pushinteger(L, (lua_Integer)len);
  if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
    lua_pop(L, 1);
    return 0;
  }
  return 1;
}

/* ---- facts ---- */

static void lnorm_facts_code(lua_State *L, int tidx, reply_facts *f) {
  int t = lnorm_rawget(L, tidx, "code");
  lua_Integer i;
  if (t == LUA_TSTRING) {
    f->code_str = lua_tostring(L, -1);
    if (lnorm_parse_int(f->code_str, &i)) f->has_code_num = 1, f->code_num = (long)i;
  } else if (t == LUA_TNUMBER) {
    if (lua_isinteger(L, -1))
      f->has_code_num = 1, f->code_num = (long)lua_tointeger(L, -1);
    else if (lnorm_whole(lua_tonumber(L, -1), &i))
      f->has_code_num = 1, f->code_num = (long)i;
  }
  lua_pop(L, 1);
}

static const char *lnorm_facts_string(lua_State *L, int tidx, const char *key) {
  const char *s = NULL;
  if (lnorm_rawget(L, tidx, key) == LUA_TSTRING) s = lua_tostring(L, -1);
  lua_pop(L, 1);  /* still referenced by the table */
  return s;
}

static int lnorm_facts_k(lua_State *L) {
  reply_facts *f = lua_touserdata(L, 2);
  if (!lnorm_is_object(L, 1)) return 0;
  f->is_object = 1;
  lnorm_facts_code(L, 1, f);
  f->message = lnorm_facts_string(L, 1, "message");
  f->reason = lnorm_facts_string(L, 1, "reason");
  lnorm_rawget(L, 1, "serverResponse");
  f->has_server_response = lnorm_is_object(L, -1);
  lua_pop(L, 1);
  /* An empty list sent as null counts as a list; lnorm_qingcloud turns it into {}. */
  lnorm_rawget(L, 1, "recinfos");
  f->has_recinfos = lnorm_is_array(L, -1) ||
                    (lua_type(L, -1) == LUA_TLIGHTUSERDATA && !lua_touserdata(L, -1));
  lua_pop(L, 1);
  return 0;
}

void lnorm_facts(lua_State *L, int idx, reply_facts *f) {
  memset(f, 0, sizeof *f);
  if (lua_isnoneornil(L, idx) || !lua_checkstack(L, 4)) return;
  f->is_json = 1;
  idx = lua_absindex(L, idx);
  if (lua_type(L, idx) != LUA_TTABLE) return;
  lua_pushcfunction(L, lnorm_facts_k);
  lua_pushvalue(L, idx);
  lua_pushlightuserdata(L, f);
  if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
    lua_pop(L, 1);
    memset(f, 0, sizeof *f);
    f->is_json = 1;
  }
}

/* ---- field coercion ---- */

/* The value on top (of field key in table tidx) as an integer; pops it. */
static void lnorm_coerce_int(lua_State *L, int tidx, const char *key) {
  lua_Integer i;
  int ok = 0;
  if (lua_type(L, -1) == LUA_TSTRING) ok = lnorm_parse_int(lua_tostring(L, -1), &i);
  else if (lua_type(L, -1) == LUA_TNUMBER && !lua_isinteger(L, -1))
    ok = lnorm_whole(lua_tonumber(L, -1), &i);
  lua_pop(L, 1);
  if (!ok) return;
  lua_pushinteger(L, i);
  lnorm_rawset(L, tidx, key);
}

static void lnorm_coerce_bool(lua_State *L, int tidx, const char *key) {
  int b = -1;
  if (lua_type(L, -1) == LUA_TSTRING) {
    const char *s = lua_tostring(L, -1);
    b = strcmp(s, "true") == 0 ? 1 : strcmp(s, "false") == 0 ? 0 : -1;
  }
  lua_pop(L, 1);
  if (b < 0) return;
  lua_pushboolean(L, b);
  lnorm_rawset(L, tidx, key);
}

/* Coerces the named fields of the table at tidx (when it is a table). */
static void lnorm_coerce(lua_State *L, int tidx, const char *const *ints,
                         const char *const *bools) {
  size_t i;
  if (lua_type(L, tidx) != LUA_TTABLE) return;
  tidx = lua_absindex(L, tidx);
  for (i = 0; ints && ints[i]; i++) {
    lnorm_rawget(L, tidx, ints[i]);
    lnorm_coerce_int(L, tidx, ints[i]);
  }
  for (i = 0; bools && bools[i]; i++) {
    lnorm_rawget(L, tidx, bools[i]);
    lnorm_coerce_bool(L, tidx, bools[i]);
  }
}

/* Calls fn on every table element of the array-ish table at tidx (when it is a table). */
static void lnorm_each(lua_State *L, int tidx, void (*fn)(lua_State *, int)) {
  if (lua_type(L, tidx) != LUA_TTABLE) return;
  tidx = lua_absindex(L, tidx);
  lua_pushnil(L);
  while (lua_next(L, tidx) != 0) {
    if (lua_type(L, -2) == LUA_TNUMBER && lua_type(L, -1) == LUA_TTABLE)
      fn(L, lua_gettop(L));
    lua_pop(L, 1);
  }
}

/* ---- QingCloud ---- */

static void lnorm_qc_recinfo(lua_State *L, int ridx) {
  const char *name;
  lnorm_coerce(L, ridx, qc_integer_fields, NULL);
  lnorm_rawget(L, ridx, "status");
  name = lua_isinteger(L, -1) ? qc_status_name((long)lua_tointeger(L, -1)) : NULL;
  lua_pop(L, 1);
  if (!name) return;
  lua_pushstring(L, name);
  lnorm_rawset(L, ridx, "status_name");
}

static int lnorm_qingcloud_k(lua_State *L) {
  static const char *const top[] = {"offset", "limit", "total_count", NULL};
  lnorm_coerce(L, 1, top, NULL);
  lnorm_rawget(L, 1, "recinfos");
  if (lua_type(L, -1) == LUA_TLIGHTUSERDATA && !lua_touserdata(L, -1)) {
    lua_newtable(L);  /* null: an empty list */
    lnorm_rawset(L, 1, "recinfos");
  } else {
    lnorm_each(L, -1, lnorm_qc_recinfo);
  }
  return 0;
}

static void lnorm_protected(lua_State *L, int idx, lua_CFunction fn) {
  if (!lua_checkstack(L, 3) || lua_type(L, idx) != LUA_TTABLE) return;
  idx = lua_absindex(L, idx);
  lua_pushcfunction(L, fn);
  lua_pushvalue(L, idx);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) lua_pop(L, 1);
}

void lnorm_qingcloud(lua_State *L, int idx) { lnorm_protected(L, idx, lnorm_qingcloud_k); }

/* ---- Agora ---- */

static void lnorm_agora_file(lua_State *L, int fidx) {
  lua_Integer uid = 0;
  int whole = 0;
  lnorm_coerce(L, fidx, agora_integer_fields, agora_boolean_fields);
  if (lnorm_rawget(L, fidx, "uid") == LUA_TNUMBER)  /* documented as a String */
    whole = lua_isinteger(L, -1) ? (uid = lua_tointeger(L, -1), 1)
                                 : lnorm_whole(lua_tonumber(L, -1), &uid);
  lua_pop(L, 1);
  if (!whole) return;
  lua_pushfstring(L, "%I", (LUAI_UACINT)uid);
  lnorm_rawset(L, fidx, "uid");
}

/* Normalises table t and the entries of its fileList when that is an array. */
static void lnorm_agora_node(lua_State *L, int tidx) {
  lnorm_coerce(L, tidx, agora_integer_fields, agora_boolean_fields);
  lnorm_rawget(L, tidx, "fileList");
  lnorm_each(L, -1, lnorm_agora_file);  /* a string fileList stays a string */
  lua_pop(L, 1);
}

static void lnorm_agora_service(lua_State *L, int sidx) {
  lnorm_rawget(L, sidx, "payload");
  if (lua_type(L, -1) == LUA_TTABLE) lnorm_agora_node(L, lua_gettop(L));
  lua_pop(L, 1);
}

static void lnorm_agora_status(lua_State *L, int sridx) {
  const char *name;
  lua_Integer st;
  if (lnorm_rawget(L, sridx, "status") != LUA_TNUMBER || !lua_isinteger(L, -1)) {
    lua_pop(L, 1);
    return;
  }
  st = lua_tointeger(L, -1);
  lnorm_rawset(L, 1, "status");
  name = agora_status_name((long)st);
  if (!name) return;
  lua_pushstring(L, name);
  lnorm_rawset(L, 1, "status_name");
}

static int lnorm_agora_k(lua_State *L) {
  static const char *const top[] = {"code", NULL};
  int sr;
  lnorm_coerce(L, 1, top, NULL);
  lnorm_rawget(L, 1, "serverResponse");
  if (lua_type(L, -1) != LUA_TTABLE) return 0;
  sr = lua_gettop(L);
  lnorm_agora_node(L, sr);
  lnorm_rawget(L, sr, "extensionServiceState");
  lnorm_each(L, -1, lnorm_agora_service);
  lua_pop(L, 1);
  lnorm_agora_status(L, sr);
  return 0;
}

void lnorm_agora(lua_State *L, int idx) { lnorm_protected(L, idx, lnorm_agora_k); }
