/* llog: rec.log.debug/info/warn/error: a message formatted as string.format does, with
 * optional structured fields, written through log.c with the running task's id. */
#include <math.h>
#include <string.h>
#include <lauxlib.h>
#include "engine.h"
#include "log.h"
#include "lrec_int.h"

static unsigned current_task_id(lua_State *L) {
  task_t *t = engine_task_of(L);
  return t ? task_id(t) : 0;
}

#define LOG_MAX_FIELDS 32

/* rec.log.info(fmt, ... [, fields]): a plain table (no metatable) as the last argument
 * holds structured fields (strings, numbers, booleans), written in key order. */
static int log_fields_from(lua_State *L, int idx, log_field *f, int max) {
  int n = 0, i, j;
  lua_pushnil(L);
  while (n < max && lua_next(L, idx)) {
    int vt = lua_type(L, -1);
    if (lua_type(L, -2) == LUA_TSTRING &&
        (vt == LUA_TSTRING || vt == LUA_TNUMBER || vt == LUA_TBOOLEAN)) {
      f[n].key = lua_tostring(L, -2);
      if (vt == LUA_TBOOLEAN) f[n].value = lua_toboolean(L, -1) ? "true" : "false";
      else f[n].value = lua_tostring(L, -1);  /* a number is converted in place: safe */
      f[n].raw = vt != LUA_TSTRING && (vt == LUA_TBOOLEAN || isfinite(lua_tonumber(L, -1)));
      n++;
    }
    lua_pop(L, 1);
  }
  if (n == max) lua_pop(L, 1);  /* stopped early: the last key is still pushed */
  for (i = 1; i < n; i++)  /* few fields: insertion sort by key */
    for (j = i; j > 0 && strcmp(f[j - 1].key, f[j].key) > 0; j--) {
      log_field tmp = f[j];
      f[j] = f[j - 1];
      f[j - 1] = tmp;
    }
  return n;
}

/* A table with a metatable (an error object, a class) is a value to format, not fields. */
static int has_metatable(lua_State *L, int idx) {
  if (!lua_getmetatable(L, idx)) return 0;
  lua_pop(L, 1);
  return 1;
}

static int log_at(lua_State *L, log_level level) {
  int n = lua_gettop(L), nf = 0, base = 1;
  log_field fields[LOG_MAX_FIELDS];
  if (!log_enabled(level)) return 0;
  if (n > 1 && lua_istable(L, n) && !has_metatable(L, n)) {
    /* the table goes to the bottom, so the field strings live until the write */
    lua_insert(L, 1);
    n--;
    base = 2;
    nf = log_fields_from(L, 1, fields, LOG_MAX_FIELDS);
  }
  if (n > 1) {
    lua_getfield(L, LUA_REGISTRYINDEX, "rec.format");
    lua_insert(L, base);
    lua_call(L, n, 1);
  } else {
    luaL_tolstring(L, base, NULL);
  }
  log_write_fields(level, current_task_id(L), lua_tostring(L, -1), fields, nf);
  return 0;
}

static int l_log_debug(lua_State *L) { return log_at(L, LOG_DEBUG); }
static int l_log_info(lua_State *L) { return log_at(L, LOG_INFO); }
static int l_log_warn(lua_State *L) { return log_at(L, LOG_WARN); }
static int l_log_error(lua_State *L) { return log_at(L, LOG_ERROR); }

void llog_open(lua_State *L) {
  static const luaL_Reg logf[] = {
    {"debug", l_log_debug}, {"info", l_log_info}, {"warn", l_log_warn},
    {"error", l_log_error}, {NULL, NULL}};
  lua_getglobal(L, "string");
  lua_getfield(L, -1, "format");
  lua_setfield(L, LUA_REGISTRYINDEX, "rec.format");
  lua_pop(L, 1);
  luaL_newlib(L, logf);
  lua_setfield(L, -2, "log");
}
