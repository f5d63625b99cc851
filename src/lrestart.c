/* lrestart: the restart figures of watch.agora's restart policy (lua/rec/watch/_restart.lua):
 * recwatch_restarts_total{result}, recwatch_restart_circuit_open and
 * recwatch_restart_started_tasks_total{appid}. Internal functions on rec.metrics, for the
 * runtime's own Lua modules only (scripts may not name recwatch_ metrics):
 *   rec.metrics._restart(result)        counts one restart result
 *   rec.metrics._restart_circuit(open)  sets the circuit gauge (true: 1)
 *   rec.metrics._restart_started(appid) counts one task a restart started (billed)
 * The families are built-ins (metrics.c), so no script cap keeps them off the page. */
#include <lauxlib.h>
#include "lrestart.h"
#include "metrics.h"

static int l_restart(lua_State *L) {
  metrics_inc1(metrics_builtin()->restarts, luaL_checkstring(L, 1), 1);
  return 0;
}

static int l_circuit(lua_State *L) {
  metrics_set1(metrics_builtin()->restart_circuit_open, NULL, lua_toboolean(L, 1) ? 1 : 0);
  return 0;
}

static int l_started(lua_State *L) {
  metrics_inc1(metrics_builtin()->started_tasks, luaL_checkstring(L, 1), 1);
  return 0;
}

void lrestart_open(lua_State *L) {
  static const luaL_Reg f[] = {
    {"_restart", l_restart}, {"_restart_circuit", l_circuit}, {"_restart_started", l_started},
    {NULL, NULL}};
  luaL_setfuncs(L, f, 0);
}
