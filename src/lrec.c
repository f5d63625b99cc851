/* lrec: the Lua module `rec`, tied together from its rooms (lrec_int.h): lconfig.c
 * (rec.configure), lquery.c (the provider queries), ltask.c (tasks and time), lhttp.c
 * (rec.http), llog.c (rec.log), lutil.c (safe ids),
 * ljsonlib.c, lcrypto.c, lstatus.c (rec.json, rec.crypto, status tables), lops.c
 * (rec.metrics, rec.health), ladmin.c (rec.admin), lfswatch.c (rec.fs), lcontrol_agora.c
 * (rec.agora.acquire .. stop, rec.features.urgent), lcontrol_qingcloud.c
 * (rec.qingcloud.start, stop, query), lstore.c (rec.store, preloaded) and
 * lsearch.c (the embedded modules). Glue only: Lua values into C requests, C results into
 * Lua values. */
#include <lauxlib.h>
#include "lfswatch.h"
#include "lops.h"
#include "lrec.h"
#include "lrec_int.h"
#include "lstore.h"

/* `run --sim`: rec.sim = { base_url = ..., webhook_url = ... } so scripts and tests can reach
 * the simulator and its webhook sink. */
void lrec_set_sim(lua_State *L, const char *base_url) {
  lua_getglobal(L, "rec");
  lua_createtable(L, 0, 2);
  lua_pushstring(L, base_url);
  lua_setfield(L, -2, "base_url");
  lua_pushfstring(L, "%s/_sim/webhook", base_url);
  lua_setfield(L, -2, "webhook_url");
  lua_setfield(L, -2, "sim");
  lua_pop(L, 1);
}

int lrec_open(lua_State *L, engine_t *e) {
  lua_newtable(L);  /* rec: each room adds its part */
  lconfig_open(L);
  lquery_open(L);
  ltask_open(L);
  lhttp_open(L);
  lua_pushstring(L, RECWATCH_VERSION);
  lua_setfield(L, -2, "version");
  llog_open(L);
  lutil_open(L);
  ljsonlib_open(L);
  lcrypto_open(L);
  lstatus_open(L);
  lcontrol_agora_open(L);  /* after lstatus: it adds the calls to rec.agora */
  lcontrol_qingcloud_open(L);  /* after lstatus: it adds the calls to rec.qingcloud */
  lops_open(L);
  ladmin_open(L);
  lfswatch_open(L);
  levents_open(L);
  lua_pushvalue(L, -1);
  lua_setglobal(L, "rec");
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "loaded");
  lua_pushvalue(L, -3);
  lua_setfield(L, -2, "rec");
  lua_pop(L, 3);
  lsearch_open(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_rec_store);
  lua_setfield(L, -2, "rec.store");
  lua_pop(L, 1);
  return 0;
}
