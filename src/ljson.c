/* ljson: rec.json.encode, a lua-cjson compatible encoder that keeps arrays arrays (see
 * ljson.h for the differences). Never raises while it holds memory: errors are collected,
 * the buffer freed, and only then raised. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include "ljson.h"
#include "lnorm.h"

#define LJSON_MAX_DEPTH 1000   /* lua-cjson's encode_max_depth */
#define LJSON_SPARSE_RATIO 2   /* lua-cjson's encode_sparse_array defaults */
#define LJSON_SPARSE_SAFE 10

typedef struct jbuf {
  char *p;
  size_t len, cap;
  int oom;
  char err[160];
} jbuf;

static void jb_add(jbuf *b, const char *s, size_t n) {
  if (b->oom) return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    char *p;
    while (cap < b->len + n + 1) cap *= 2;
    p = realloc(b->p, cap);
    if (!p) {
      b->oom = 1;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
}

static void jb_adds(jbuf *b, const char *s) { jb_add(b, s, strlen(s)); }

static int jb_fail(jbuf *b, const char *msg, const char *arg) {
  snprintf(b->err, sizeof b->err, msg, arg);
  return -1;
}

static void enc_string(jbuf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  size_t i, run = 0;
  jb_add(b, "\"", 1);
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    const char *esc = NULL;
    char u[7];
    switch (c) {
    case '"': esc = "\\\""; break;
    case '\\': esc = "\\\\"; break;
    case '\b': esc = "\\b"; break;
    case '\f': esc = "\\f"; break;
    case '\n': esc = "\\n"; break;
    case '\r': esc = "\\r"; break;
    case '\t': esc = "\\t"; break;
    default:
      if (c < 0x20 || c == 0x7f) {
        memcpy(u, "\\u00", 4);
        u[4] = hex[c >> 4];
        u[5] = hex[c & 15];
        u[6] = '\0';
        esc = u;
      }
    }
    if (!esc) continue;
    jb_add(b, s + run, i - run);
    jb_adds(b, esc);
    run = i + 1;
  }
  jb_add(b, s + run, n - run);
  jb_add(b, "\"", 1);
}

static int enc_number(lua_State *L, int idx, jbuf *b) {
  char num[40];
  if (lua_isinteger(L, idx)) {
    snprintf(num, sizeof num, "%lld", (long long)lua_tointeger(L, idx));
  } else {
    double d = (double)lua_tonumber(L, idx);
    if (isnan(d) || isinf(d)) return jb_fail(b, "Cannot serialise %s: must not be NaN or Inf", "number");
    snprintf(num, sizeof num, "%.14g", d);
  }
  jb_adds(b, num);
  return 0;
}

/* cjson's lua_array_length: the largest key when every key is an integer >= 1 (holes are
 * written as null), -1 for an object, -2 for an excessively sparse array. */
static lua_Integer array_length(lua_State *L, int idx) {
  lua_Integer max = 0, items = 0;
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    lua_pop(L, 1);
    if (lua_type(L, -1) == LUA_TNUMBER) {
      lua_Integer k;
      int isint = lua_isinteger(L, -1);
      double d = (double)lua_tonumber(L, -1);
      if (!isint && (d != floor(d) || d < 1)) {
        lua_pop(L, 1);
        return -1;
      }
      k = isint ? lua_tointeger(L, -1) : (lua_Integer)d;
      if (k < 1) {
        lua_pop(L, 1);
        return -1;
      }
      if (k > max) max = k;
      items++;
      continue;
    }
    lua_pop(L, 1);
    return -1;
  }
  if (max > items * LJSON_SPARSE_RATIO && max > LJSON_SPARSE_SAFE) return -2;
  return max;
}

static int enc_value(lua_State *L, int idx, jbuf *b, int depth);

static int enc_table(lua_State *L, int idx, jbuf *b, int depth) {
  lua_Integer n, i;
  int first = 1;
  if (depth > LJSON_MAX_DEPTH || !lua_checkstack(L, 6)) {
    snprintf(b->err, sizeof b->err, "Cannot serialise, excessive nesting (%d)", depth);
    return -1;
  }
  n = array_length(L, idx);
  if (n == -2) return jb_fail(b, "Cannot serialise %s: excessively sparse array", "table");
  if (n > 0 || (n == 0 && lnorm_is_marked_array(L, idx))) {
    jb_add(b, "[", 1);
    for (i = 1; i <= n; i++) {
      int rc;
      if (i > 1) jb_add(b, ",", 1);
      lua_rawgeti(L, idx, i);
      rc = enc_value(L, lua_gettop(L), b, depth);
      lua_pop(L, 1);
      if (rc != 0) return rc;
    }
    jb_add(b, "]", 1);
    return 0;
  }
  jb_add(b, "{", 1);
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    int kt = lua_type(L, -2), rc;
    if (!first) jb_add(b, ",", 1);
    first = 0;
    if (kt == LUA_TSTRING) {
      size_t len;
      const char *k = lua_tolstring(L, -2, &len);
      enc_string(b, k, len);
    } else if (kt == LUA_TNUMBER) {
      jb_add(b, "\"", 1);
      if (enc_number(L, -2, b) != 0) {
        lua_pop(L, 2);
        return -1;
      }
      jb_add(b, "\"", 1);
    } else {
      jb_fail(b, "Cannot serialise %s: table key must be a number or string", lua_typename(L, kt));
      lua_pop(L, 2);
      return -1;
    }
    jb_add(b, ":", 1);
    rc = enc_value(L, lua_gettop(L), b, depth);
    lua_pop(L, 1);
    if (rc != 0) {
      lua_pop(L, 1);
      return rc;
    }
  }
  jb_add(b, "}", 1);
  return 0;
}

static int enc_value(lua_State *L, int idx, jbuf *b, int depth) {
  switch (lua_type(L, idx)) {
  case LUA_TSTRING: {
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    enc_string(b, s, len);
    return 0;
  }
  case LUA_TNUMBER: return enc_number(L, idx, b);
  case LUA_TBOOLEAN: jb_adds(b, lua_toboolean(L, idx) ? "true" : "false"); return 0;
  case LUA_TNIL: jb_adds(b, "null"); return 0;
  case LUA_TTABLE: return enc_table(L, idx, b, depth + 1);
  case LUA_TLIGHTUSERDATA:
    if (!lua_touserdata(L, idx)) {  /* cjson.null / rec.json.null */
      jb_adds(b, "null");
      return 0;
    }
    /* fall through */
  default:
    return jb_fail(b, "Cannot serialise %s: type not supported", lua_typename(L, lua_type(L, idx)));
  }
}

int ljson_encode(lua_State *L) {
  jbuf b;
  int rc;
  memset(&b, 0, sizeof b);
  luaL_checkany(L, 1);
  lua_settop(L, 1);
  rc = enc_value(L, 1, &b, 0);
  if (rc == 0 && !b.oom) {
    lua_pushlstring(L, b.p ? b.p : "", b.len);
    free(b.p);
    return 1;
  }
  free(b.p);
  if (b.oom) return luaL_error(L, "Cannot serialise: out of memory");
  lua_pushstring(L, b.err);
  return lua_error(L);
}

int ljson_array(lua_State *L) {
  if (lua_isnoneornil(L, 1)) {
    lua_settop(L, 0);
    lua_newtable(L);
  } else {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
  }
  lnorm_push_array_mt(L);
  lua_setmetatable(L, 1);
  return 1;
}
