/* lcontrol_qingcloud: the Lua room of QingCloud's control calls, rec.qingcloud.start, stop
 * and query (added to the rec.qingcloud table that lstatus.c creates). Reads one table per
 * call into a qcctl_req (qingcloud_ctl.c checks it), registers sign_key as a secret, and
 * makes the call through call.c on the QingCloud pacer. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <lauxlib.h>
#include "call.h"
#include "engine.h"
#include "log.h"
#include "lrec_int.h"
#include "qingcloud_ctl.h"
#include "rerr.h"

/* The parameters each call takes, besides timeout and retries (the start options come from
 * qcctl_option_name). */
static const char *const params[QCCTL_NCALLS][8] = {
  [QCCTL_START] = {"app_id", "project_id", "channel", "sign_key", NULL},
  [QCCTL_STOP] = {"app_id", "project_id", "channel", NULL},
  [QCCTL_QUERY] = {"app_id", "channel", "from_hour", "to_hour", "offset", "limit", NULL},
};

static int option_index(const char *k) {
  int i;
  for (i = 0; qcctl_option_name(i); i++)
    if (strcmp(k, qcctl_option_name(i)) == 0) return i;
  return -1;
}

static int known(qcctl_call c, const char *k, size_t n) {
  int i;
  if (strlen(k) != n) return 0;
  if (strcmp(k, "timeout") == 0 || strcmp(k, "retries") == 0 || strcmp(k, "account") == 0)
    return 1;
  if (c == QCCTL_START && option_index(k) >= 0) return 1;
  for (i = 0; params[c][i]; i++)
    if (strcmp(k, params[c][i]) == 0) return 1;
  return 0;
}

static int unknown_key(lua_State *L, qcctl_call c, rec_err *err) {
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    size_t n = 0;
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &n) : NULL;
    lua_pop(L, 1);
    if (!k || !known(c, k, n)) {
      rec_err_set(err, REC_E_INVALID_ARGUMENT, 0, "rec.qingcloud.%s: unknown parameter '%.64s'%s",
                  qcctl_call_name(c), k && strlen(k) == n ? k : "(not a name)",
                  c == QCCTL_STOP && k && strcmp(k, "task_id") == 0
                      ? " (stop has no task id: it stops the channel's recording)"
                      : "");
      lua_pop(L, 1);
      return -1;
    }
  }
  return 0;
}

/* t[k] as a string (stays pushed); another type is refused, never converted. */
static int str_field(lua_State *L, const char *k, const char **out, qcctl_call c, rec_err *err) {
  size_t n;
  int ty = lua_getfield(L, 1, k);
  *out = NULL;
  if (ty == LUA_TNIL) return 0;
  if (ty != LUA_TSTRING) {
    rec_err_set(err, REC_E_INVALID_ARGUMENT, 0, "rec.qingcloud.%s: '%s' must be a string",
                qcctl_call_name(c), k);
    return -1;
  }
  *out = lua_tolstring(L, -1, &n);
  if (strlen(*out) != n) {
    rec_err_set(err, REC_E_INVALID_ARGUMENT, 0,
                "rec.qingcloud.%s: '%s' must not contain a NUL byte", qcctl_call_name(c), k);
    return -1;
  }
  return 0;
}

/* t[k] as a whole number: 0 absent, 1 read, -1 with err set. */
static int int_field(lua_State *L, const char *k, long *out, qcctl_call c, rec_err *err) {
  int isint = 0, ty = lua_getfield(L, 1, k);
  lua_Integer v = lua_tointegerx(L, -1, &isint);
  lua_pop(L, 1);
  if (ty == LUA_TNIL) return 0;
  if (ty != LUA_TNUMBER || !isint || v < -2147483647 || v > 2147483647) {
    rec_err_set(err, REC_E_INVALID_ARGUMENT, 0, "rec.qingcloud.%s: '%s' must be a whole number",
                qcctl_call_name(c), k);
    return -1;
  }
  *out = (long)v;
  return 1;
}

static int number_opt(lua_State *L, const char *k, double lo, double hi, double *out,
                      qcctl_call c, rec_err *err) {
  int r = lrec_opt_number_field(L, 1, k, out);
  if (r == 0) return 0;
  if (r < 0 || *out < lo || *out > hi) {
    rec_err_set(err, REC_E_INVALID_ARGUMENT, 0, "rec.qingcloud.%s: '%s' must be a number %g..%g",
                qcctl_call_name(c), k, lo, hi);
    return -1;
  }
  return 1;
}

static int read_query(lua_State *L, qc_query_params *q, rec_err *err) {
  static const struct { const char *k; unsigned bit; size_t off; } ints[] = {
    {"from_hour", QC_HAS_FROM, offsetof(qc_query_params, from_hour)},
    {"to_hour", QC_HAS_TO, offsetof(qc_query_params, to_hour)},
    {"offset", QC_HAS_OFFSET, offsetof(qc_query_params, offset)},
    {"limit", QC_HAS_LIMIT, offsetof(qc_query_params, limit)},
  };
  size_t i;
  if (str_field(L, "app_id", &q->app_id, QCCTL_QUERY, err) ||
      str_field(L, "channel", &q->channel, QCCTL_QUERY, err))
    return -1;
  for (i = 0; i < sizeof ints / sizeof ints[0]; i++) {
    int r = int_field(L, ints[i].k, (long *)((char *)q + ints[i].off), QCCTL_QUERY, err);
    if (r < 0) return -1;
    if (r > 0) q->given |= ints[i].bit;
  }
  return 0;
}

static int read_args(lua_State *L, qcctl_call c, call_args *a, rec_err *err) {
  qcctl_req *r = &a->qctl;
  double v;
  int i;
  r->call = c;
  a->provider = CALL_QC_CTL;
  a->urgent = 1;
  a->retries = -1;
  if (!lua_istable(L, 1)) {
    rec_err_set(err, REC_E_INVALID_ARGUMENT, 0, "rec.qingcloud.%s takes one table of parameters",
                qcctl_call_name(c));
    return -1;
  }
  /* the key first: registered before any check can fail, so no message can carry it */
  if (lua_getfield(L, 1, "sign_key") == LUA_TSTRING) log_add_secret(lua_tostring(L, -1));
  lua_pop(L, 1);
  if (unknown_key(L, c, err)) return -1;
  {
    char what[48];
    snprintf(what, sizeof what, "rec.qingcloud.%s", qcctl_call_name(c));
    if (call_account_param(L, 1, a, what, err)) return -1;
  }
  if (number_opt(L, "retries", 0, 20, &v, c, err) < 0) return -1;
  if (lrec_opt_number_field(L, 1, "retries", &v) > 0) a->retries = (int)v;
  if (number_opt(L, "timeout", 0.001, 600, &v, c, err) < 0) return -1;
  if (lrec_opt_number_field(L, 1, "timeout", &v) > 0) a->timeout = v;
  if (c == QCCTL_QUERY) return read_query(L, &r->query, err);
  if (str_field(L, "app_id", &r->app_id, c, err) ||
      str_field(L, "project_id", &r->project_id, c, err) ||
      str_field(L, "channel", &r->channel, c, err))
    return -1;
  if (c == QCCTL_STOP) return 0;
  if (str_field(L, "sign_key", &r->sign_key, c, err)) return -1;
  for (i = 0; qcctl_option_name(i); i++) {
    int got = int_field(L, qcctl_option_name(i), &r->opt[i], c, err);
    if (got < 0) return -1;
    if (got > 0) r->given |= 1u << i;
  }
  return 0;
}

static int l_control(lua_State *L) {
  qcctl_call c = (qcctl_call)lua_tointeger(L, lua_upvalueindex(1));
  char what[48];
  call_args a;
  rec_err err;
  task_t *t;
  memset(&a, 0, sizeof a);
  snprintf(what, sizeof what, "rec.qingcloud.%s", qcctl_call_name(c));
  t = engine_check_wait(L, what);
  if (read_args(L, c, &a, &err) != 0) return engine_return_err(L, &err);
  return call_start(L, t, &a, what);
}

void lcontrol_qingcloud_open(lua_State *L) {
  int i;
  luaL_getsubtable(L, -1, "qingcloud");
  for (i = 0; i < QCCTL_NCALLS; i++) {
    lua_pushinteger(L, i);
    lua_pushcclosure(L, l_control, 1);
    lua_setfield(L, -2, qcctl_call_name((qcctl_call)i));
  }
  lua_pop(L, 1);
  luaL_getsubtable(L, -1, "features");
  lua_pushboolean(L, 1);
  lua_setfield(L, -2, "qingcloud_control");
  lua_pop(L, 1);
}
