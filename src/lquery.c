/* lquery: the provider queries rec.query_qingcloud and rec.query_agora: their parameters
 * checked into a call_args, then one query through call.c while the task waits. */
#include <math.h>
#include <string.h>
#include <lauxlib.h>
#include "call.h"
#include "engine.h"
#include "lrec_int.h"
#include "rerr.h"
#include "suggest.h"

static int opt_int_param(lua_State *L, const char *k, long *out, unsigned bit, unsigned *given,
                         rec_err *err) {
  int ty = lua_getfield(L, 1, k), isint = 0;
  lua_Integer v = lua_tointegerx(L, -1, &isint);
  lua_pop(L, 1);
  if (ty == LUA_TNIL) return 0;
  if (!isint) {
    rec_err_set(err, REC_E_INVALID_ARGUMENT, 0, "'%s' must be a whole number", k);
    return -1;
  }
  *out = (long)v;
  *given |= bit;
  return 0;
}

/* Like lrec_opt_string_field for a query parameter of the table at 1; the value stays pushed
 * (a converted number lives only there) until the binding returns. */
static int str_param(lua_State *L, const char *k, const char **out, rec_err *err) {
  int ty = lua_getfield(L, 1, k);
  if (ty == LUA_TSTRING || ty == LUA_TNUMBER) {
    size_t n;
    *out = lua_tolstring(L, -1, &n);
    if (strlen(*out) != n) {  /* C would silently cut the value at the NUL */
      rec_err_set(err, REC_E_INVALID_ARGUMENT, 0, "'%s' must not contain a NUL byte", k);
      return -1;
    }
  }
  if (ty != LUA_TNIL && ty != LUA_TSTRING && ty != LUA_TNUMBER) {
    rec_err_set(err, REC_E_INVALID_ARGUMENT, 0, "'%s' must be a string", k);
    return -1;
  }
  return 0;
}

static int common_call_params(lua_State *L, call_args *a, rec_err *err) {
  double v;
  int r;
  a->retries = -1;
  if ((r = lrec_opt_number_field(L, 1, "retries", &v)) != 0) {
    if (r < 0 || v < 0 || v > 20) {
      rec_err_set(err, REC_E_INVALID_ARGUMENT, 0, "'retries' must be a number 0..20");
      return -1;
    }
    a->retries = (int)v;
  }
  if ((r = lrec_opt_number_field(L, 1, "timeout", &v)) != 0) {
    if (r < 0 || v <= 0) {
      rec_err_set(err, REC_E_INVALID_ARGUMENT, 0, "'timeout' must be a number of seconds > 0");
      return -1;
    }
    a->timeout = v;
  }
  if (lua_getfield(L, 1, "retry_delays") != LUA_TNIL) {
    size_t i, len = lua_istable(L, -1) ? lua_rawlen(L, -1) : 0;
    if (len < 1 || len > RETRY_MAX_DELAYS) {
      rec_err_set(err, REC_E_INVALID_ARGUMENT, 0,
                  "'retry_delays' must be a list of 1 to %d delays in seconds", RETRY_MAX_DELAYS);
      return -1;
    }
    for (i = 1; i <= len; i++) {
      int isnum = 0;
      lua_rawgeti(L, -1, (lua_Integer)i);
      v = lua_tonumberx(L, -1, &isnum);
      lua_pop(L, 1);
      if (!isnum || isnan(v) || v < 0) {
        rec_err_set(err, REC_E_INVALID_ARGUMENT, 0, "'retry_delays[%zu]' must be seconds >= 0", i);
        return -1;
      }
      a->delays[i - 1] = v;
    }
    a->ndelays = (int)len;
  }
  lua_pop(L, 1);
  return 0;
}

static const char *const agora_params[] = {"appid", "resourceid", "sid", "mode", "timeout",
                                           "retries", "retry_delays", "urgent", "account", NULL};
static const char *const qc_params[] = {"app_id", "channel", "from_hour", "to_hour", "offset",
                                        "limit", "timeout", "retries", "retry_delays", "account",
                                        NULL};

/* A key of the parameter table at 1 that the query does not know (a typo such as 'timout'
 * would otherwise be ignored and the default used): invalid_argument, naming it. */
static int unknown_param(lua_State *L, const char *what, const char *const *allowed,
                         rec_err *err) {
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    size_t n = 0;
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &n) : NULL;
    int i, ok = 0;
    /* with its length: "timeout\0x" is not 'timeout' (lua_getfield would not find it) */
    for (i = 0; k && !ok && allowed[i]; i++)
      ok = k[0] == allowed[i][0] && n == strlen(allowed[i]) && memcmp(k, allowed[i], n) == 0;
    lua_pop(L, 1);
    if (!ok) {
      char hint[96] = "";
      if (k && strlen(k) == n) suggest_hint(hint, sizeof hint, k, allowed);
      if (k)
        rec_err_set(err, REC_E_INVALID_ARGUMENT, 0, "%s: unknown parameter '%.64s'%s%s", what, k,
                    strlen(k) == n ? "" : " (with a NUL byte)", hint);
      else
        rec_err_set(err, REC_E_INVALID_ARGUMENT, 0,
                    "%s: a key that is not a parameter name (a %s); parameters are named", what,
                    luaL_typename(L, -1));
      lua_pop(L, 1);
      return -1;
    }
  }
  return 0;
}

static int begin_query(lua_State *L, const call_args *a, const char *what) {
  return call_start(L, engine_check_wait(L, what), a, what);
}

static int l_query_qingcloud(lua_State *L) {
  call_args a;
  rec_err err;
  memset(&a, 0, sizeof a);
  a.provider = CALL_QINGCLOUD;
  if (!lua_istable(L, 1)) {
    rec_err_set(&err, REC_E_INVALID_ARGUMENT, 0, "rec.query_qingcloud takes a table {app_id=, channel=, ...}");
    return engine_return_err(L, &err);
  }
  if (str_param(L, "app_id", &a.qc.app_id, &err) || str_param(L, "channel", &a.qc.channel, &err) ||
      opt_int_param(L, "from_hour", &a.qc.from_hour, QC_HAS_FROM, &a.qc.given, &err) ||
      opt_int_param(L, "to_hour", &a.qc.to_hour, QC_HAS_TO, &a.qc.given, &err) ||
      opt_int_param(L, "offset", &a.qc.offset, QC_HAS_OFFSET, &a.qc.given, &err) ||
      opt_int_param(L, "limit", &a.qc.limit, QC_HAS_LIMIT, &a.qc.given, &err) ||
      common_call_params(L, &a, &err) ||
      unknown_param(L, "rec.query_qingcloud", qc_params, &err) ||
      call_account_param(L, 1, &a, "rec.query_qingcloud", &err))
    return engine_return_err(L, &err);
  return begin_query(L, &a, "rec.query_qingcloud");
}

static int l_query_agora(lua_State *L) {
  call_args a;
  rec_err err;
  memset(&a, 0, sizeof a);
  a.provider = CALL_AGORA;
  if (!lua_istable(L, 1)) {
    rec_err_set(&err, REC_E_INVALID_ARGUMENT, 0, "rec.query_agora takes a table {appid=, resourceid=, sid=, mode=}");
    return engine_return_err(L, &err);
  }
  if (str_param(L, "appid", &a.agora.appid, &err) ||
      str_param(L, "resourceid", &a.agora.resourceid, &err) ||
      str_param(L, "sid", &a.agora.sid, &err) || str_param(L, "mode", &a.agora.mode, &err) ||
      common_call_params(L, &a, &err) || unknown_param(L, "rec.query_agora", agora_params, &err) ||
      call_account_param(L, 1, &a, "rec.query_agora", &err))
    return engine_return_err(L, &err);
  /* urgent = true: the pacer's priority lane, ahead of routine queued queries */
  if (lua_getfield(L, 1, "urgent") != LUA_TNIL && !lua_isboolean(L, -1)) {
    rec_err_set(&err, REC_E_INVALID_ARGUMENT, 0, "rec.query_agora: 'urgent' must be a boolean");
    return engine_return_err(L, &err);
  }
  a.urgent = lua_toboolean(L, -1);
  return begin_query(L, &a, "rec.query_agora");
}

void lquery_open(lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"query_qingcloud", l_query_qingcloud}, {"query_agora", l_query_agora}, {NULL, NULL}};
  luaL_setfuncs(L, funcs, 0);
  luaL_getsubtable(L, -1, "features");
  lua_pushboolean(L, 1);
  lua_setfield(L, -2, "accounts");  /* account = "<id>" on every provider call */
  lua_pop(L, 1);
}
