/* lalerts: the silence gauges that rec.notify's silences (lua/rec/_silence.lua) keep:
 * recwatch_silences_active and recwatch_alerts_held (/status shows both under "alerts").
 * One internal function on rec.metrics, for the runtime's own Lua modules only (scripts may
 * not name recwatch_ metrics); results per destination go through rec.metrics.alert_result:
 *   rec.metrics._silences(active, held)             sets recwatch_silences_active and
 *                                                   recwatch_alerts_held
 * The families are built-ins (metrics.c), so no script cap keeps them off the page. */
#include <lauxlib.h>
#include <string.h>
#include "lalerts.h"
#include "metrics.h"

/* rec.metrics._silences(active, held): silences in force, alerts they hold */
static int l_silences(lua_State *L) {
  metrics_set1(metrics_builtin()->silences_active, NULL, luaL_checknumber(L, 1));
  metrics_set1(metrics_builtin()->alerts_held, NULL, luaL_checknumber(L, 2));
  return 0;
}

void lalerts_open(lua_State *L) {
  lua_pushcfunction(L, l_silences);
  lua_setfield(L, -2, "_silences");
}
