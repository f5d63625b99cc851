/* lalerts: the runtime's alert figures that rec.notify's grouping and silences (lua/rec/_group.lua,
 * lua/rec/_silence.lua) keep: recwatch_alerts_total counts by result (silenced, grouped,
 * failed group messages) and the gauges recwatch_silences_active and recwatch_alerts_held
 * (/status shows both under "alerts"). Two internal functions on
 * rec.metrics, for the runtime's own Lua modules only (scripts may not name recwatch_ metrics):
 *   rec.metrics._alert(destination, result [, n])   counts n (1) alerts
 *   rec.metrics._silences(active, held)             sets recwatch_silences_active and
 *                                                   recwatch_alerts_held
 * The families are built-ins (metrics.c), so no script cap keeps them off the page. */
#include <lauxlib.h>
#include <string.h>
#include "lalerts.h"
#include "metrics.h"

/* recwatch_alerts_total has the label "state" (queued, delivered, failed) or, with the
 * destination, "destination" and "result": the values go where the names say. */
static int l_alert(lua_State *L) {
  const char *dest = luaL_checkstring(L, 1), *result = luaL_checkstring(L, 2);
  double n = luaL_optnumber(L, 3, 1);
  metric_t *m = metrics_builtin()->alerts;
  const char *values[METRICS_MAX_LABELS];
  int i, nl = metrics_nlabels(m);
  char err[128];
  if (n < 0 || n != n) return luaL_error(L, "rec.metrics._alert: a count is >= 0");
  for (i = 0; i < nl && i < METRICS_MAX_LABELS; i++) {
    const char *name = metrics_label(m, i);
    values[i] = strcmp(name, "destination") == 0 ? dest : result;
  }
  metrics_add(m, nl ? values : NULL, n, err, sizeof err);
  return 0;
}

/* rec.metrics._silences(active, held): silences in force, alerts they hold */
static int l_silences(lua_State *L) {
  metrics_set1(metrics_builtin()->silences_active, NULL, luaL_checknumber(L, 1));
  metrics_set1(metrics_builtin()->alerts_held, NULL, luaL_checknumber(L, 2));
  return 0;
}

void lalerts_open(lua_State *L) {
  lua_pushcfunction(L, l_alert);
  lua_setfield(L, -2, "_alert");
  lua_pushcfunction(L, l_silences);
  lua_setfield(L, -2, "_silences");
}
