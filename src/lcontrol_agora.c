/* lcontrol_agora: the Lua room of Agora's control calls, rec.agora.acquire, start, query,
 * update, update_layout and stop, and rec.features.urgent. Reads one table per call into an
 * agctl_req (agora_ctl.c checks it), registers the clientRequest's credentials as secrets,
 * encodes the clientRequest once, and makes the call through call.c. */
#include <stdio.h>
#include <string.h>
#include <lauxlib.h>
#include "agora_ctl.h"
#include "call.h"
#include "engine.h"
#include "log.h"
#include "lrec_int.h"
#include "rerr.h"

/* A stop waits for the upload (expected within 20 s, Agora's stop reference): its attempt
 * timeout, unless the script gives one. */
#define STOP_TIMEOUT 30.0

/* The parameters each call takes, besides timeout and retries. */
static const char *const params[AGCTL_NCALLS][8] = {
  [AGCTL_ACQUIRE] = {"appid", "cname", "uid", "clientRequest", NULL},
  [AGCTL_START] = {"appid", "cname", "uid", "resourceid", "mode", "clientRequest", NULL},
  [AGCTL_QUERY] = {"appid", "resourceid", "sid", "mode", NULL},
  [AGCTL_UPDATE] = {"appid", "cname", "uid", "resourceid", "sid", "mode", "clientRequest", NULL},
  [AGCTL_UPDATE_LAYOUT] = {"appid", "cname", "uid", "resourceid", "sid", "mode", "clientRequest",
                           NULL},
  [AGCTL_STOP] = {"appid", "cname", "uid", "resourceid", "sid", "mode", "clientRequest", NULL},
};

static int known(agctl_call c, const char *k, size_t n) {
  int i;
  if (strlen(k) != n) return 0;
  if (strcmp(k, "timeout") == 0 || strcmp(k, "retries") == 0 || strcmp(k, "account") == 0)
    return 1;
  for (i = 0; params[c][i]; i++)
    if (strcmp(k, params[c][i]) == 0) return 1;
  return 0;
}

static int unknown_key(lua_State *L, agctl_call c, rec_err *err) {
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    size_t n = 0;
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &n) : NULL;
    lua_pop(L, 1);
    if (!k || !known(c, k, n)) {
      rec_err_set(err, REC_E_INVALID_ARGUMENT, 0, "rec.agora.%s: unknown parameter '%.64s'",
                  agctl_call_name(c), k && strlen(k) == n ? k : "(not a name)");
      lua_pop(L, 1);
      return -1;
    }
  }
  return 0;
}

/* t[k] of the table at idx as a string (stays pushed); a number is refused, so uid stays a
 * quoted integer as Agora documents it. */
static int str_field(lua_State *L, int idx, const char *k, const char **out, agctl_call c,
                     rec_err *err) {
  size_t n;
  int ty = lua_getfield(L, idx, k);
  *out = NULL;
  if (ty == LUA_TNIL) return 0;
  if (ty != LUA_TSTRING) {
    rec_err_set(err, REC_E_INVALID_ARGUMENT, 0, "rec.agora.%s: '%s' must be a string%s",
                agctl_call_name(c), k, strcmp(k, "uid") == 0 ? " (a quoted integer)" : "");
    return -1;
  }
  *out = lua_tolstring(L, -1, &n);
  if (strlen(*out) != n) {
    rec_err_set(err, REC_E_INVALID_ARGUMENT, 0, "rec.agora.%s: '%s' must not contain a NUL byte",
                agctl_call_name(c), k);
    return -1;
  }
  return 0;
}

/* Integer field of the table at idx: *has when present, *ok when a whole number. */
static void int_fact(lua_State *L, int idx, const char *k, int *has, int *ok, long *v) {
  int isint = 0;
  lua_Integer x;
  *has = lua_getfield(L, idx, k) != LUA_TNIL;
  x = lua_tointegerx(L, -1, &isint);
  *ok = isint && lua_type(L, -1) == LUA_TNUMBER;
  *v = *ok ? (long)x : 0;
  lua_pop(L, 1);
}

/* A non-empty string field; registered as a secret when secret is set. */
static int str_fact(lua_State *L, int idx, const char *k, int secret) {
  size_t n = 0;
  const char *s = lua_getfield(L, idx, k) == LUA_TSTRING ? lua_tolstring(L, -1, &n) : NULL;
  int ok = s && n > 0 && strlen(s) == n;
  if (ok && secret) log_add_secret(s);
  lua_pop(L, 1);
  return ok;
}

/* Pushes t[k] when it is a table (returns 1), else pushes nothing (returns 0). */
static int sub_table(lua_State *L, int idx, const char *k) {
  if (lua_getfield(L, idx, k) == LUA_TTABLE) return 1;
  lua_pop(L, 1);
  return 0;
}

static void storage_facts(lua_State *L, int cr, agctl_client *c) {
  int st;
  if (!sub_table(L, cr, "storageConfig")) return;
  st = lua_gettop(L);
  c->has_storage = 1;
  int_fact(L, st, "vendor", &c->has_vendor, &c->vendor_ok, &c->vendor);
  int_fact(L, st, "region", &c->has_region, &c->region_ok, &c->region);
  c->bucket_ok = str_fact(L, st, "bucket", 0);
  c->access_key_ok = str_fact(L, st, "accessKey", 1);
  c->secret_key_ok = str_fact(L, st, "secretKey", 1);
  (void)str_fact(L, st, "stsToken", 1);
  lua_pop(L, 1);
}

static void avfile_facts(lua_State *L, int cr, agctl_client *c) {
  lua_Integer i, n;
  if (!sub_table(L, cr, "recordingFileConfig")) return;
  if (lua_getfield(L, -1, "avFileType") != LUA_TNIL) {
    c->has_avfile = 1;
    c->avfile_ok = lua_istable(L, -1);
    n = c->avfile_ok ? (lua_Integer)lua_rawlen(L, -1) : 0;
    if (n == 0) c->avfile_ok = 0;
    for (i = 1; i <= n; i++) {
      const char *s = lua_rawgeti(L, -1, i) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
      if (s && strcmp(s, "hls") == 0) c->avfile_hls = 1;
      else if (s && strcmp(s, "mp4") == 0) c->avfile_mp4 = 1;
      else c->avfile_other = 1;
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 2);
}

/* What the checks need from clientRequest (at cr), and its credentials as secrets. */
static void client_facts(lua_State *L, int cr, agctl_client *c) {
  c->present = 1;
  int_fact(L, cr, "scene", &c->has_scene, &c->scene_ok, &c->scene);
  int_fact(L, cr, "resourceExpiredHour", &c->has_expire, &c->expire_ok, &c->expire);
  (void)str_fact(L, cr, "token", 1);
  storage_facts(L, cr, c);
  if (sub_table(L, cr, "recordingConfig")) {
    c->has_recording = 1;
    int_fact(L, lua_gettop(L), "channelType", &c->has_channel_type, &c->channel_type_ok,
             &c->channel_type);
    lua_pop(L, 1);
  }
  avfile_facts(L, cr, c);
}

/* Encodes clientRequest (at cr) with rec.json.encode; the text stays pushed. */
static int encode_client(lua_State *L, int cr, agctl_call c, const char **out, rec_err *err) {
  lua_getfield(L, LUA_REGISTRYINDEX, "rec.json.encode");
  lua_pushvalue(L, cr);
  if (lua_pcall(L, 1, 1, 0) != LUA_OK || !lua_isstring(L, -1)) {
    rec_err_set(err, REC_E_INVALID_ARGUMENT, 0,
                "rec.agora.%s: clientRequest cannot be sent as JSON: %.200s", agctl_call_name(c),
                lua_isstring(L, -1) ? lua_tostring(L, -1) : "not encodable");
    log_redact(err->message, sizeof err->message);
    return -1;
  }
  *out = lua_tostring(L, -1);
  return 0;
}

static int number_opt(lua_State *L, const char *k, double lo, double hi, double *out,
                      agctl_call c, rec_err *err) {
  int r = lrec_opt_number_field(L, 1, k, out);
  if (r == 0) return 0;
  if (r < 0 || *out < lo || *out > hi) {
    rec_err_set(err, REC_E_INVALID_ARGUMENT, 0, "rec.agora.%s: '%s' must be a number %g..%g",
                agctl_call_name(c), k, lo, hi);
    return -1;
  }
  return 1;
}

static int read_args(lua_State *L, agctl_call c, call_args *a, rec_err *err) {
  agctl_req *r = &a->ctl;
  double v;
  int cr;
  r->call = c;
  a->provider = CALL_AGORA_CTL;
  a->urgent = 1;
  a->retries = -1;
  if (!lua_istable(L, 1)) {
    rec_err_set(err, REC_E_INVALID_ARGUMENT, 0, "rec.agora.%s takes one table of parameters",
                agctl_call_name(c));
    return -1;
  }
  if (unknown_key(L, c, err) || str_field(L, 1, "appid", &r->appid, c, err) ||
      str_field(L, 1, "cname", &r->cname, c, err) || str_field(L, 1, "uid", &r->uid, c, err) ||
      str_field(L, 1, "resourceid", &r->resourceid, c, err) ||
      str_field(L, 1, "sid", &r->sid, c, err) || str_field(L, 1, "mode", &r->mode, c, err))
    return -1;
  {
    char what[48];
    snprintf(what, sizeof what, "rec.agora.%s", agctl_call_name(c));
    if (call_account_param(L, 1, a, what, err)) return -1;
  }
  if (c == AGCTL_UPDATE_LAYOUT && !r->mode) r->mode = "mix";
  if (number_opt(L, "retries", 0, 20, &v, c, err) < 0) return -1;
  if (lrec_opt_number_field(L, 1, "retries", &v) > 0) a->retries = (int)v;
  if (number_opt(L, "timeout", 0.001, 600, &v, c, err) < 0) return -1;
  a->timeout = lrec_opt_number_field(L, 1, "timeout", &v) > 0 ? v
               : c == AGCTL_STOP                               ? STOP_TIMEOUT
                                                               : 0;
  lua_getfield(L, 1, "clientRequest");
  cr = lua_gettop(L);
  if (lua_istable(L, cr)) {
    client_facts(L, cr, &r->client);
    if (encode_client(L, cr, c, &r->client_json, err) != 0) return -1;
  } else if (!lua_isnil(L, cr)) {
    rec_err_set(err, REC_E_INVALID_ARGUMENT, 0, "rec.agora.%s: 'clientRequest' must be a table",
                agctl_call_name(c));
    return -1;
  }
  return 0;
}

static int l_control(lua_State *L) {
  agctl_call c = (agctl_call)lua_tointeger(L, lua_upvalueindex(1));
  char what[48];
  call_args a;
  rec_err err;
  task_t *t;
  memset(&a, 0, sizeof a);
  snprintf(what, sizeof what, "rec.agora.%s", agctl_call_name(c));
  t = engine_check_wait(L, what);
  if (read_args(L, c, &a, &err) != 0) return engine_return_err(L, &err);
  return call_start(L, t, &a, what);
}

void lcontrol_agora_open(lua_State *L) {
  static const char *const names[AGCTL_NCALLS] = {"acquire", "start", "query", "update",
                                                  "update_layout", "stop"};
  int i;
  luaL_getsubtable(L, -1, "agora");
  for (i = 0; i < AGCTL_NCALLS; i++) {
    lua_pushinteger(L, i);
    lua_pushcclosure(L, l_control, 1);
    lua_setfield(L, -2, names[i]);
  }
  lua_pop(L, 1);
  /* what this build can do, for scripts that run on several versions */
  luaL_getsubtable(L, -1, "features");
  lua_pushboolean(L, 1);
  lua_setfield(L, -2, "urgent");
  lua_pushboolean(L, 1);
  lua_setfield(L, -2, "agora_control");
  lua_pop(L, 1);
}
