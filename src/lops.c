/* lops: the Lua side of ops: rec.metrics (script metrics) and rec.health (what watchers
 * report for /status and /healthz). Glue only: the registry is metrics.c, the watcher
 * registry ops.c. */
#include <lauxlib.h>
#include <math.h>
#include <string.h>
#include "engine.h"
#include "lalerts.h"
#include "lrestart.h"
#include "lops.h"
#include "metrics.h"
#include "ops.h"

#define METRIC_MT "rec.metric"

typedef struct lmetric {
  metric_t *m;
} lmetric;

/* Script names may not take the runtime's own prefixes. */
static int reserved(const char *name) {
  return strncmp(name, "recwatch_", 9) == 0 || strncmp(name, "process_", 8) == 0;
}

/* rec.metrics.counter/gauge/histogram(name, help, labels [, buckets]) */
static int new_metric(lua_State *L, metric_type type) {
  const char *name = luaL_checkstring(L, 1), *help = luaL_optstring(L, 2, "");
  const char *labels[METRICS_MAX_LABELS];
  double buckets[METRICS_MAX_BUCKETS];
  int nlabels = 0, nb = 0, i;
  char err[256];
  lmetric *lm;
  metric_t *m;
  lua_settop(L, 4);  /* label names pushed below stay above the arguments */
  if (reserved(name))
    return luaL_error(L, "rec.metrics: '%s': the recwatch_ and process_ prefixes are the "
                      "runtime's", name);
  if (type == METRIC_COUNTER &&
      (strlen(name) < 6 || strcmp(name + strlen(name) - 6, "_total") != 0))
    return luaL_error(L, "rec.metrics.counter: '%s': a counter's name ends in _total", name);
  if (!lua_isnoneornil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    nlabels = (int)luaL_len(L, 3);
    if (nlabels > METRICS_MAX_LABELS)
      return luaL_error(L, "rec.metrics: '%s': at most %d labels", name, METRICS_MAX_LABELS);
    for (i = 0; i < nlabels; i++) {
      lua_rawgeti(L, 3, i + 1);
      if (lua_type(L, -1) != LUA_TSTRING)
        return luaL_error(L, "rec.metrics: '%s': label names are strings", name);
      labels[i] = lua_tostring(L, -1);  /* stays on the stack */
    }
  }
  if (type == METRIC_HISTOGRAM && !lua_isnoneornil(L, 4)) {
    luaL_checktype(L, 4, LUA_TTABLE);
    nb = (int)luaL_len(L, 4);
    if (nb < 1 || nb > METRICS_MAX_BUCKETS)
      return luaL_error(L, "rec.metrics.histogram: '%s': 1..%d buckets", name,
                        METRICS_MAX_BUCKETS);
    for (i = 0; i < nb; i++) {
      lua_rawgeti(L, 4, i + 1);
      if (!lua_isnumber(L, -1))
        return luaL_error(L, "rec.metrics.histogram: '%s': buckets are numbers", name);
      buckets[i] = lua_tonumber(L, -1);
      lua_pop(L, 1);
    }
  }
  m = metrics_register(type, name, help, nlabels, labels, nb ? buckets : NULL, nb, err,
                       sizeof err);
  if (!m) return luaL_error(L, "rec.metrics: %s", err);
  lm = lua_newuserdatauv(L, sizeof *lm, 0);
  lm->m = m;
  luaL_setmetatable(L, METRIC_MT);
  return 1;
}

static int l_counter(lua_State *L) { return new_metric(L, METRIC_COUNTER); }
static int l_gauge(lua_State *L) { return new_metric(L, METRIC_GAUGE); }
static int l_histogram(lua_State *L) { return new_metric(L, METRIC_HISTOGRAM); }

/* m:inc([n] [, labels]) m:set(v [, labels]) m:observe(v [, labels]); labels = {name=value}.
 * Every label must be given; an unknown one is an error. */
static int update(lua_State *L, int op) {
  lmetric *lm = luaL_checkudata(L, 1, METRIC_MT);
  metric_t *m = lm->m;
  const char *values[METRICS_MAX_LABELS];
  int n = metrics_nlabels(m), i, lidx = 3, known = 0;
  double v;
  char err[256];
  if (op == 0 && lua_istable(L, 2)) {
    v = 1;
    lidx = 2;
  } else {
    v = op == 0 ? luaL_optnumber(L, 2, 1) : luaL_checknumber(L, 2);
  }
  if (n > 0) luaL_checktype(L, lidx, LUA_TTABLE);
  for (i = 0; i < n; i++) {
    lua_getfield(L, lidx, metrics_label(m, i));
    if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER)
      return luaL_error(L, "label '%s' needs a string value", metrics_label(m, i));
    values[i] = lua_tostring(L, -1);  /* stays on the stack */
  }
  if (n > 0) {
    lua_pushnil(L);
    while (lua_next(L, lidx)) {
      lua_pop(L, 1);
      known++;
    }
    if (known != n) return luaL_error(L, "labels: exactly %d expected, got %d", n, known);
  }
  if ((op == 0 ? metrics_add(m, values, v, err, sizeof err)
       : op == 1 ? metrics_set(m, values, v, err, sizeof err)
                 : metrics_observe(m, values, v, err, sizeof err)) != 0)
    return luaL_error(L, "%s", err);
  return 0;
}

static int l_inc(lua_State *L) { return update(L, 0); }
static int l_set(lua_State *L) { return update(L, 1); }
static int l_observe(lua_State *L) { return update(L, 2); }

static int l_dec(lua_State *L) {
  lmetric *lm = luaL_checkudata(L, 1, METRIC_MT);
  if (metrics_type(lm->m) != METRIC_GAUGE) return luaL_error(L, "only a gauge goes down");
  lua_settop(L, 3);
  if (lua_istable(L, 2)) {
    lua_settop(L, 2);
    lua_pushnumber(L, -1);
    lua_insert(L, 2);
  } else {
    lua_pushnumber(L, -luaL_optnumber(L, 2, 1));
    lua_replace(L, 2);
  }
  return update(L, 0);
}

/* rec.metrics.text(): the /metrics page as it would be served now */
static int l_text(lua_State *L) {
  sbuf b = {0};
  metrics_render(&b);
  lua_pushlstring(L, b.p ? b.p : "", b.len);
  sbuf_free(&b);
  return 1;
}

/* ---- rec.health ---- */

static const char *opt_str(lua_State *L, const char *k) {
  int t = lua_getfield(L, 2, k);
  if (t == LUA_TNIL) return NULL;
  return luaL_tolstring(L, -1, NULL);  /* stays on the stack */
}

static double opt_num(lua_State *L, const char *k) {
  double v = 0;
  if (lua_getfield(L, 2, k) != LUA_TNIL) v = luaL_checknumber(L, -1);
  lua_pop(L, 1);
  return v;
}

/* rec.health.report(key, { provider=, ok=true|false (nil: just registered), status=,
 *   error=, next_poll= (rec.time() of the next poll), stale_after= (seconds), state=,
 *   stale=true|false (reported stale, whatever state says; nil: keep) }) */
static int l_report(lua_State *L) {
  const char *key = luaL_checkstring(L, 1);
  ops_report r;
  memset(&r, 0, sizeof r);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_getfield(L, 2, "ok");
  r.ok = lua_isnil(L, -1) ? -1 : lua_toboolean(L, -1);
  lua_pop(L, 1);
  r.provider = opt_str(L, "provider");
  r.status = opt_str(L, "status");
  r.error = opt_str(L, "error");
  r.state = opt_str(L, "state");
  r.next_poll = opt_num(L, "next_poll");
  r.stale_after = opt_num(L, "stale_after");
  lua_getfield(L, 2, "stale");  /* stale apart from state: auth_failed hides it there */
  r.stale = lua_isnil(L, -1) ? -1 : lua_toboolean(L, -1);
  lua_pop(L, 1);
  if (r.state && strcmp(r.state, "ok") && strcmp(r.state, "stale") && strcmp(r.state, "error") &&
      strcmp(r.state, "auth_failed"))
    return luaL_error(L, "rec.health.report: state is ok, stale, error or auth_failed");
  ops_report_watcher(engine_from_lua(L), key, &r);
  return 0;
}

/* rec.health.status(): the /status document (JSON text), built now, redacted */
static int l_status(lua_State *L) {
  sbuf b = {0};
  ops_status_json(engine_from_lua(L), &b);
  lua_pushlstring(L, b.p ? b.p : "{}", b.p ? b.len : 2);
  sbuf_free(&b);
  return 1;
}

/* rec.health.times(key) -> since, last_good|nil, last_good_wall|nil, was_stale: what the
 * registry kept of a watcher, across reloads (engine_now seconds; see ops_watcher_times),
 * or nothing when it does not know the key. */
static int l_times(lua_State *L) {
  ops_times t;
  if (!ops_watcher_times(luaL_checkstring(L, 1), &t)) return 0;
  lua_pushnumber(L, t.since);
  if (t.last_good >= 0) {
    lua_pushnumber(L, t.last_good);
    lua_pushnumber(L, t.last_good_wall);
  } else {
    lua_pushnil(L);
    lua_pushnil(L);
  }
  lua_pushboolean(L, t.was_stale);
  return 4;
}

static int l_forget(lua_State *L) {
  ops_forget_watcher(luaL_checkstring(L, 1));
  return 0;
}

/* rec.metrics.alert_result(destination, result): counts one alert in the runtime's
 * recwatch_alert_results_total (rec.notify's outbox; a script's own metrics cannot use the
 * recwatch_ prefix). result: a lowercase word (sent, failed, ...). */
static int l_alert_result(lua_State *L) {
  size_t dl, rl, i;
  const char *d = luaL_checklstring(L, 1, &dl), *r = luaL_checklstring(L, 2, &rl);
  if (dl == 0 || dl > METRICS_MAX_VALUE_LEN) return luaL_argerror(L, 1, "1..256 bytes");
  if (rl == 0 || rl > 32) return luaL_argerror(L, 2, "a lowercase word");
  for (i = 0; i < rl; i++)
    if (!((r[i] >= 'a' && r[i] <= 'z') || r[i] == '_')) return luaL_argerror(L, 2, "a lowercase word");
  metrics_inc2(metrics_builtin()->alert_results, d, r, 1);
  return 0;
}

void lops_open(lua_State *L) {
  static const luaL_Reg mf[] = {
    {"counter", l_counter}, {"gauge", l_gauge}, {"histogram", l_histogram},
    {"text", l_text}, {"alert_result", l_alert_result}, {NULL, NULL}};
  static const luaL_Reg mm[] = {
    {"inc", l_inc}, {"dec", l_dec}, {"set", l_set}, {"observe", l_observe}, {NULL, NULL}};
  static const luaL_Reg hf[] = {
    {"report", l_report}, {"forget", l_forget}, {"status", l_status}, {"times", l_times},
    {NULL, NULL}};
  if (luaL_newmetatable(L, METRIC_MT)) {
    luaL_newlib(L, mm);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  luaL_newlib(L, mf);
  lua_pushinteger(L, METRICS_MAX_SERIES);
  lua_setfield(L, -2, "max_series");
  lalerts_open(L);  /* rec.metrics._alert, ._silences: rec.notify's alert figures */
  lrestart_open(L); /* rec.metrics._restart*: watch.agora's restart figures */
  lua_setfield(L, -2, "metrics");
  luaL_newlib(L, hf);
  lua_setfield(L, -2, "health");
}
