/* lconfig: rec.configure: every setting checked (an error names it and marks the run as
 * failing on its configuration), then applied to config.c, http.c, log.c and, through the
 * engine's hooks, to the listener; in a validation's scratch state only checked. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include "config.h"
#include "engine.h"
#include "events.h"
#include "http.h"
#include "lnorm.h"
#include "log.h"
#include "lrec_int.h"
#include "suggest.h"
#include <arpa/inet.h>

/* rec.configure in a validation's scratch state (engine_check_script): every setting is
 * checked as usual, none is applied. */
static int cfg_validating(lua_State *L) {
  int v = lua_getfield(L, LUA_REGISTRYINDEX, ENGINE_VALIDATE_KEY) != LUA_TNIL;
  lua_pop(L, 1);
  return v;
}

/* Raises "rec.configure: ..." and marks the run as failing on its configuration (exit 2). */
static int cfg_error(lua_State *L, const char *fmt, ...) {
  va_list ap;
  if (!cfg_validating(L)) engine_config_failed(engine_from_lua(L));
  lua_pushstring(L, "rec.configure: ");
  va_start(ap, fmt);
  lua_pushvfstring(L, fmt, ap);
  va_end(ap);
  lua_concat(L, 2);
  return lua_error(L);
}

static void check_keys(lua_State *L, int idx, const char *section, const char *const *allowed) {
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    int i, ok = 0;
    if (lua_type(L, -2) == LUA_TSTRING)
      for (i = 0; allowed[i]; i++)
        if (strcmp(allowed[i], lua_tostring(L, -2)) == 0) ok = 1;
    if (!ok) {
      char hint[96] = "";
      lua_pop(L, 1);
      if (lua_type(L, -1) == LUA_TSTRING) suggest_hint(hint, sizeof hint, lua_tostring(L, -1), allowed);
      cfg_error(L, "unknown setting '%s' in %s%s", luaL_tolstring(L, -1, NULL), section, hint);
    }
    lua_pop(L, 1);
  }
}

/* 1 and *out set when section.key is a number, 0 when absent; raises for any other value. */
static int cfg_number(lua_State *L, int idx, const char *section, const char *key, double *out) {
  int r = lrec_opt_number_field(L, idx, key, out);
  if (r < 0) cfg_error(L, "%s.%s must be a number", section, key);
  return r > 0;
}

/* section.key as a string (numbers converted; the value stays pushed, see
 * lrec_opt_string_field), NULL when absent; any other type is a configuration error naming
 * the setting. */
static const char *cfg_string(lua_State *L, int idx, const char *section, const char *key) {
  int ty = lua_getfield(L, idx, key);
  if (ty == LUA_TSTRING || ty == LUA_TNUMBER) {
    size_t n;
    const char *s = lua_tolstring(L, -1, &n);
    if (strlen(s) != n) cfg_error(L, "%s.%s must not contain a NUL byte", section, key);
    return s;
  }
  if (ty != LUA_TNIL) cfg_error(L, "%s.%s must be a string, got %s", section, key, luaL_typename(L, -1));
  return NULL;
}

/* Pushes config[name]; returns 1 when it is a table, 0 when absent; raises otherwise. */
static int cfg_section(lua_State *L, const char *name) {
  int ty = lua_getfield(L, 1, name);
  if (ty == LUA_TTABLE) return 1;
  if (ty != LUA_TNIL) cfg_error(L, "%s must be a table, got %s", name, luaL_typename(L, -1));
  return 0;
}

static int is_http_url(const char *s) {
  return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;
}

/* Reads section.fallback_urls (an array of http(s) URLs) into fb; returns how many. Leaves
 * the value (table or nil) on the stack: the strings in fb live as long as it does. */
static size_t cfg_fallbacks(lua_State *L, int idx, const char *section, const char **fb,
                            size_t max) {
  size_t i, len;
  if (lua_getfield(L, idx, "fallback_urls") == LUA_TNIL) return 0;
  if (!lua_istable(L, -1)) cfg_error(L, "%s.fallback_urls must be a list of URLs", section);
  len = lua_rawlen(L, -1);
  if (len > max) cfg_error(L, "%s.fallback_urls has %d entries; at most %d", section, (int)len, (int)max);
  for (i = 1; i <= len; i++) {
    if (lua_rawgeti(L, -1, (lua_Integer)i) != LUA_TSTRING || !is_http_url(lua_tostring(L, -1)))
      cfg_error(L, "%s.fallback_urls[%d] must be an http:// or https:// URL", section, (int)i);
    fb[i - 1] = lua_tostring(L, -1);
    lua_pop(L, 1);  /* still referenced by the table, which stays on the stack */
  }
  return len;
}

static void cfg_retry_delays(lua_State *L, int idx, provider_conf *p, int apply) {
  size_t i, len;
  retry_policy scratch = p->retry, *rp = apply ? &p->retry : &scratch;
  if (lua_getfield(L, idx, "retry_delays") != LUA_TNIL) {
    if (!lua_istable(L, -1)) cfg_error(L, "%s.retry_delays must be a list of seconds", p->name);
    len = lua_rawlen(L, -1);
    if (len < 1 || len > RETRY_MAX_DELAYS)
      cfg_error(L, "%s.retry_delays needs 1 to %d delays", p->name, RETRY_MAX_DELAYS);
    for (i = 1; i <= len; i++) {
      int isnum = 0;
      double d;
      lua_rawgeti(L, -1, (lua_Integer)i);
      d = lua_tonumberx(L, -1, &isnum);
      if (!isnum || isnan(d) || d < 0)
        cfg_error(L, "%s.retry_delays[%d] must be a number of seconds >= 0", p->name, (int)i);
      rp->delays[i - 1] = d;
      lua_pop(L, 1);
    }
    retry_policy_set_all(rp, rp->delays, (int)len);  /* every class */
  }
  lua_pop(L, 1);
}

/* ---- accounts (issue 24): several credentials of one provider, each with its own pacer ---- */

#define MAX_ACCOUNTS 10000
#define MAX_ACCOUNT_ID 128

/* An account id names a fleet unit ("agora:<id>") and prefixes state keys ("<unit>/..."):
 * printable, no space and no '/'. */
static int account_id_ok(const char *s, size_t n) {
  size_t i;
  if (n == 0 || n > MAX_ACCOUNT_ID) return 0;
  for (i = 0; i < n; i++)
    if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 127 || s[i] == '/') return 0;
  return 1;
}

/* Checks the entry on top (section.accounts[i]); *id and *secret point into it. */
static void cfg_account(lua_State *L, provider_conf *p, size_t i, const char *idk,
                        const char *secretk, const char **id, const char **secret, double *rate) {
  const char *keys[] = {idk, secretk, "rate", NULL};
  char where[64];
  int e = lua_gettop(L);
  size_t n = 0;
  snprintf(where, sizeof where, "%s.accounts[%d]", p->name, (int)i);
  if (!lua_istable(L, e)) cfg_error(L, "%s must be a table {%s=, %s=, rate=}", where, idk, secretk);
  check_keys(L, e, where, keys);
  if (lua_getfield(L, e, idk) != LUA_TSTRING || (*id = lua_tolstring(L, -1, &n), !account_id_ok(*id, n)))
    cfg_error(L, "%s.%s must be a string of 1..%d printable characters, no space or '/'", where,
              idk, MAX_ACCOUNT_ID);
  lua_pop(L, 1);  /* the entry keeps it */
  *secret = NULL;
  if (lua_getfield(L, e, secretk) == LUA_TSTRING) *secret = lua_tolstring(L, -1, &n);
  else if (!lua_isnil(L, -1)) cfg_error(L, "%s.%s must be a string", where, secretk);
  lua_pop(L, 1);
  if (*secret && (n == 0 || strlen(*secret) != n))
    cfg_error(L, "%s.%s must be a non-empty string without NUL bytes", where, secretk);
  if (!*secret) {  /* only the simulator's own customers go without a secret */
    provider_account *a = config_account(p, *id);
    if (!a || !a->locked) cfg_error(L, "%s needs %s", where, secretk);
  }
  *rate = -1;
  if (cfg_number(L, e, where, "rate", rate) && !(*rate >= 0))
    cfg_error(L, "%s.rate must be >= 0 (requests per second, 0 = unlimited)", where);
}

/* section.accounts: every entry checked, then (apply) the set replaced: accounts no longer
 * named are unlisted (a call naming one is refused), the others added or updated in place. */
static void configure_accounts(lua_State *L, int idx, provider_conf *p, const char *idk,
                               const char *secretk, int apply) {
  size_t i, j, n;
  int t;
  if (lua_getfield(L, idx, "accounts") == LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  t = lua_gettop(L);
  if (!lua_istable(L, t)) cfg_error(L, "%s.accounts must be a list of tables", p->name);
  n = lua_rawlen(L, t);
  if (n > MAX_ACCOUNTS) cfg_error(L, "%s.accounts has %d entries; at most %d", p->name, (int)n, MAX_ACCOUNTS);
  for (i = 1; i <= n; i++) {
    const char *id, *secret;
    double rate;
    lua_rawgeti(L, t, (lua_Integer)i);
    cfg_account(L, p, i, idk, secretk, &id, &secret, &rate);
    for (j = 1; j < i; j++) {  /* a duplicate would share, or split, one server-side limit */
      lua_rawgeti(L, t, (lua_Integer)j);
      lua_getfield(L, -1, idk);
      if (strcmp(lua_tostring(L, -1), id) == 0)
        cfg_error(L, "%s.accounts[%d] repeats the account of accounts[%d]", p->name, (int)i, (int)j);
      lua_pop(L, 2);
    }
    lua_pop(L, 1);
  }
  if (apply) {
    config_unlist_accounts(p);
    for (i = 1; i <= n; i++) {
      const char *id, *secret;
      double rate;
      lua_rawgeti(L, t, (lua_Integer)i);
      cfg_account(L, p, i, idk, secretk, &id, &secret, &rate);
      if (!config_set_account(p, id, secret, rate, 0)) cfg_error(L, "%s.accounts: out of memory", p->name);
      lua_pop(L, 1);
    }
  }
  lua_settop(L, t - 1);
}

static void configure_provider(lua_State *L, int idx, provider_conf *p, const char *idk,
                               const char *secretk, int has_failover, int apply) {
  const char *allowed[] = {"base_url", "rate", "timeout", "retries", "retry_delays", "accounts", idk,
                           secretk, has_failover ? "fallback_urls" : "utc_offset",
                           has_failover ? "ncs_secret" : NULL, has_failover ? "ncs_allow" : NULL, NULL};
  const char *base, *id, *secret, *fb[16];
  size_t nfb;
  double v = 0;
  idx = lua_absindex(L, idx);
  check_keys(L, idx, p->name, allowed);
  id = cfg_string(L, idx, p->name, idk);
  secret = cfg_string(L, idx, p->name, secretk);
  base = cfg_string(L, idx, p->name, "base_url");
  if (base && !is_http_url(base))
    cfg_error(L, "%s.base_url must start with http:// or https:// (got '%s')", p->name, base);
  nfb = has_failover ? cfg_fallbacks(L, idx, p->name, fb, 16) : 0;
  if (nfb > 0 && !base) cfg_error(L, "%s.fallback_urls needs a base_url to fail over from", p->name);
  if (!p->locked && apply) {
    config_set_credential(p, id, secret);
    if (base) config_set_hosts(p, base, fb, nfb);
  }
  if (has_failover) lua_pop(L, 1);  /* the fallback_urls table (or nil) */
  if (cfg_number(L, idx, p->name, "rate", &v)) {
    if (v < 0) cfg_error(L, "%s.rate must be >= 0 (requests per second, 0 = unlimited)", p->name);
    if (apply) config_set_rate(p, v);
  }
  if (cfg_number(L, idx, p->name, "timeout", &v)) {
    if (v <= 0) cfg_error(L, "%s.timeout must be a number of seconds > 0", p->name);
    if (apply) p->timeout = v;
  }
  if (cfg_number(L, idx, p->name, "retries", &v)) {
    if (v < 0 || v > 20 || v != (int)v) cfg_error(L, "%s.retries must be a whole number 0..20", p->name);
    if (apply) p->retry.retries = (int)v;
  }
  cfg_retry_delays(L, idx, p, apply);
  if (!has_failover && cfg_number(L, idx, p->name, "utc_offset", &v)) {
    /* QingCloud's created/updated carry no zone: read them as UTC+utc_offset hours */
    if (v < -14 || v > 14 || v * 4 != (double)(long)(v * 4))
      cfg_error(L, "%s.utc_offset must be hours east of UTC, -14..14 in quarter hours", p->name);
    lua_pushinteger(L, (lua_Integer)(v * 3600));
    lua_setfield(L, LUA_REGISTRYINDEX, LNORM_QC_OFFSET_KEY);
  }
  configure_accounts(L, idx, p, idk, secretk, apply);
}

/* ---- the NCS receiver (events.c): agora.ncs_secret, agora.ncs_allow, events_listen ---- */

#define EV_SECRET_KEY "rec.events.secret"
#define EV_ALLOW_KEY "rec.events.allow"

/* Gives the receiver what this state configured: the secret and the allow-list. */
static void events_apply(lua_State *L, events_rx *rx) {
  const char *addrs[256];
  char err[128];
  int i, n = 0;
  lua_getfield(L, LUA_REGISTRYINDEX, EV_SECRET_KEY);
  events_set_secret(rx, lua_tostring(L, -1));
  lua_pop(L, 1);
  if (lua_getfield(L, LUA_REGISTRYINDEX, EV_ALLOW_KEY) == LUA_TTABLE) {
    n = (int)lua_rawlen(L, -1);
    for (i = 0; i < n && i < 256; i++) {
      lua_rawgeti(L, -1, i + 1);
      addrs[i] = lua_tostring(L, -1);   /* kept alive by the registry's table */
      lua_pop(L, 1);
    }
  }
  events_set_allow(rx, addrs, n < 256 ? n : 256, err, sizeof err);
  lua_pop(L, 1);
}

/* agora.ncs_secret and agora.ncs_allow (the section's table at idx). */
static void configure_ncs(lua_State *L, int idx, int apply) {
  const char *secret = cfg_string(L, idx, "agora", "ncs_secret");
  engine_t *e = engine_from_lua(L);
  events_rx *rx = events_for(e, 0, NULL, NULL, 0);
  int ty;
  if (secret && !*secret) cfg_error(L, "agora.ncs_secret must not be empty");
  if (secret && apply) {
    log_add_secret(secret);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, EV_SECRET_KEY);
  }
  lua_pop(L, 1);
  ty = lua_getfield(L, idx, "ncs_allow");
  if (ty != LUA_TNIL) {
    size_t i, n;
    unsigned char buf[16];
    if (ty != LUA_TTABLE) cfg_error(L, "agora.ncs_allow must be a list of IP addresses");
    n = lua_rawlen(L, -1);
    if (n > 256) cfg_error(L, "agora.ncs_allow has %d addresses; at most 256", (int)n);
    for (i = 1; i <= n; i++) {
      const char *a;
      if (lua_rawgeti(L, -1, (lua_Integer)i) != LUA_TSTRING ||
          (inet_pton(AF_INET, (a = lua_tostring(L, -1)), buf) != 1 &&
           inet_pton(AF_INET6, a, buf) != 1))
        cfg_error(L, "agora.ncs_allow[%d] must be an IPv4 or IPv6 address", (int)i);
      lua_pop(L, 1);
    }
    if (apply) {
      lua_pushvalue(L, -1);
      lua_setfield(L, LUA_REGISTRYINDEX, EV_ALLOW_KEY);
    }
  }
  lua_pop(L, 1);
  if (apply && rx) events_apply(L, rx);
}

/* events_listen: the receiver of this engine (made now, its store at the state path) listens
 * on addr; rec.sim.events_url says where when there is a simulator. */
static void configure_events_listen(lua_State *L, const char *addr, int apply) {
  engine_t *e = engine_from_lua(L);
  char err[512];
  events_rx *rx;
  if (events_check_addr(addr, err, sizeof err) != 0) cfg_error(L, "%s", err);
  if (!apply) return;
  if (!(rx = events_for(e, 1, engine_config(e)->state_path, err, sizeof err)))
    cfg_error(L, "events_listen: the event store: %s", err);
  if (!events_owner(rx)) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
    events_set_owner(rx, lua_tothread(L, -1));
    lua_pop(L, 1);
  }
  events_apply(L, rx);
  if (events_listen(rx, addr, err, sizeof err) != 0) cfg_error(L, "%s", err);
  lua_getglobal(L, "rec");
  if (lua_istable(L, -1) && lua_getfield(L, -1, "sim") == LUA_TTABLE) {
    lua_pushstring(L, events_url(rx));
    lua_setfield(L, -2, "events_url");
  }
  lua_settop(L, 1);
}

static int l_configure(lua_State *L) {
  static const char *const top[] = {"agora", "qingcloud", "http", "state", "log_level",
                                    "max_busy", "listen", "stuck_after", "events_listen",
                                    NULL};
  static const char *const httpk[] = {"max_reply", "ca_file", "max_connections", NULL};
  engine_t *e = engine_from_lua(L);
  config_t *cfg = engine_config(e);
  const char *s;
  double busy = 0;
  int base, apply = !cfg_validating(L);  /* validating: the same checks, nothing applied */
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  check_keys(L, 1, "rec.configure{}", top);
  if (cfg_section(L, "agora")) {
    configure_provider(L, 2, &cfg->agora, "customer_id", "customer_secret", 1, apply);
    configure_ncs(L, 2, apply);
  }
  lua_settop(L, 1);  /* sections leave their string values pushed */
  if (cfg_section(L, "qingcloud"))
    configure_provider(L, 2, &cfg->qc, "access_key_id", "secret_access_key", 0, apply);
  lua_settop(L, 1);
  if (cfg_section(L, "http")) {
    http_client_options o;
    double v;
    memset(&o, 0, sizeof o);
    base = lua_gettop(L);
    check_keys(L, base, "http", httpk);
    if (cfg_number(L, base, "http", "max_reply", &v)) {
      if (!(v >= 1024 && v <= REC_MAX_REPLY_LIMIT))  /* checked before the cast to size_t */
        cfg_error(L, "http.max_reply must be at least 1024 bytes and at most 1073741824 (1 GiB)");
      o.max_reply = (size_t)v;
    }
    if (cfg_number(L, base, "http", "max_connections", &v)) {
      if (v < 1 || v > 10000) cfg_error(L, "http.max_connections must be 1..10000");
      o.max_host_connections = (long)v;
    }
    o.ca_file = cfg_string(L, base, "http", "ca_file");
    if (apply) http_client_set_options(engine_http(e), &o);
  }
  lua_settop(L, 1);
  if ((s = cfg_string(L, 1, "rec.configure{}", "state")) != NULL && apply) {
    free(cfg->state_path);
    cfg->state_path = strdup(s);
  }
  if (cfg_number(L, 1, "rec.configure{}", "max_busy", &busy)) {
    if (busy < 0) cfg_error(L, "max_busy must be a number of seconds >= 0 (0 = no limit)");
    if (apply) engine_set_max_busy(e, busy);
  }
  if ((s = cfg_string(L, 1, "rec.configure{}", "log_level")) != NULL) {
    int lv = log_parse_level(s);
    if (lv < 0) return cfg_error(L, "log_level must be debug, info, warn or error");
    if (apply) log_set_level((log_level)lv);
  }
  if (cfg_number(L, 1, "rec.configure{}", "stuck_after", &busy)) {
    if (!(busy >= 1)) cfg_error(L, "stuck_after must be a number of seconds >= 1");
    if (apply && engine_get_hooks(e)->stuck_after) engine_get_hooks(e)->stuck_after(busy);
  }
  if ((s = cfg_string(L, 1, "rec.configure{}", "listen")) != NULL) {
    char err[256];
    int (*listen)(const char *, int, char *, size_t) = engine_get_hooks(e)->listen;
    if (!listen) return cfg_error(L, "listen: this engine has no listener");
    if (listen(s, apply, err, sizeof err) != 0) return cfg_error(L, "%s", err);
  }
  lua_settop(L, 1);
  if ((s = cfg_string(L, 1, "rec.configure{}", "events_listen")) != NULL)
    configure_events_listen(L, s, apply);
  lua_pushboolean(L, 1);
  return 1;
}

void lconfig_open(lua_State *L) {
  lua_pushcfunction(L, l_configure);
  lua_setfield(L, -2, "configure");
}
