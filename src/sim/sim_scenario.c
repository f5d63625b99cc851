/* sim_scenario: loads a scenario (a Lua file returning a table, or the built-in default)
 * with its own lua_State at start-up, converts it into C structs and precomputes every
 * reply body that depends only on a timeline step. Lua is never touched after this. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "suggest.h"
#include "crypto.h"
#include "sim_control.h"
#include "sim_events.h"
#include "sim_int.h"

#define DEFAULT_AG_ID "sim-agora-customer"
#define DEFAULT_AG_SECRET "sim-agora-secret-0123456789"
#define DEFAULT_QC_ID "SIMQCACCESSKEY000001"
#define DEFAULT_QC_SECRET "sim-qingcloud-secret-0123456789"
#define MAX_LIST 100000

const char *const sim_fault_names[SIM_F_COUNT] = {
    "delay", "500_html", "agora_206", "agora_504", "drop",
    "malformed_json", "truncated", "huge", "429", "agora_404", "agora_502", "hold", "hold_drop",
    "duplicate", "mis_sign"};

int sim_step_at(const sim_step *steps, size_t n, double t) {
  int i, found = -1;
  for (i = 0; i < (int)n; i++) {
    if (steps[i].t <= t) found = i;
    else break;
  }
  return found;
}

/* ---------------------------------------------------------------- Lua -> C helpers */

static char *xstrdup(lua_State *L, const char *s) {
  char *p = strdup(s);
  if (!p) luaL_error(L, "out of memory");
  return p;
}

static void *xcalloc(lua_State *L, size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size);
  if (!p) luaL_error(L, "out of memory");
  return p;
}

/* Every key of the table at idx must be one of allowed (catches typos in scenarios). */
static void check_keys(lua_State *L, int idx, const char *path, const char *const *allowed) {
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    const char *k;
    int i, ok = 0;
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "%s: unexpected non-string key", path);
    k = lua_tostring(L, -1);
    for (i = 0; allowed[i]; i++)
      if (strcmp(k, allowed[i]) == 0) ok = 1;
    if (!ok) {
      char hint[96];
      suggest_hint(hint, sizeof hint, k, allowed);
      luaL_error(L, "%s: unknown field '%s'%s", path, k, hint);
    }
  }
}

static int get_field(lua_State *L, int idx, const char *key) {
  lua_getfield(L, idx, key);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return 0;
  }
  return 1;
}

static char *opt_str(lua_State *L, int idx, const char *key, const char *path, const char *def) {
  char *out;
  if (!get_field(L, idx, key)) return def ? xstrdup(L, def) : NULL;
  if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER)
    luaL_error(L, "%s.%s: expected a string", path, key);
  out = xstrdup(L, lua_tostring(L, -1));
  lua_pop(L, 1);
  return out;
}

#define SCEN_MAX_SECONDS 1e9  /* any time in a scenario: about 31 years */

static double opt_num(lua_State *L, int idx, const char *key, const char *path, double def) {
  double v;
  if (!get_field(L, idx, key)) return def;
  if (lua_type(L, -1) != LUA_TNUMBER) luaL_error(L, "%s.%s: expected a number", path, key);
  v = lua_tonumber(L, -1);
  lua_pop(L, 1);
  /* seconds (or a probability): beyond this a conversion to time_t or ms would overflow */
  if (!(v >= -SCEN_MAX_SECONDS && v <= SCEN_MAX_SECONDS))
    luaL_error(L, "%s.%s: expected a number of seconds within +-1e9", path, key);
  return v;
}

static long long opt_int(lua_State *L, int idx, const char *key, const char *path, long long def) {
  lua_Integer v;
  int isint = 0;
  if (!get_field(L, idx, key)) return def;
  v = lua_tointegerx(L, -1, &isint);
  if (lua_type(L, -1) != LUA_TNUMBER || !isint)
    luaL_error(L, "%s.%s: expected an integer", path, key);
  lua_pop(L, 1);
  return (long long)v;
}

static int opt_bool(lua_State *L, int idx, const char *key, const char *path, int def) {
  int v;
  if (!get_field(L, idx, key)) return def;
  if (lua_type(L, -1) != LUA_TBOOLEAN) luaL_error(L, "%s.%s: expected a boolean", path, key);
  v = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}

/* Pushes t[key] when it is a table and returns its absolute index; 0 (nothing pushed) if nil. */
static int opt_table(lua_State *L, int idx, const char *key, const char *path) {
  if (!get_field(L, idx, key)) return 0;
  if (!lua_istable(L, -1)) luaL_error(L, "%s.%s: expected a table", path, key);
  return lua_gettop(L);
}

static size_t list_len(lua_State *L, int idx, const char *path) {
  lua_Integer n = luaL_len(L, idx);
  if (n < 0 || n > MAX_LIST) luaL_error(L, "%s: too many entries", path);
  return (size_t)n;
}

/* timeline = {{t, status}, ...} (t non-decreasing, >= 0), or status = N meaning {{0, N}}. */
static void read_timeline(lua_State *L, int idx, const char *path, sim_step **steps, size_t *n) {
  int tl = opt_table(L, idx, "timeline", path);
  size_t i, len;
  if (!tl) {
    long long st = opt_int(L, idx, "status", path, -1);
    if (st < 0) luaL_error(L, "%s: needs a timeline or a status", path);
    *steps = xcalloc(L, 1, sizeof **steps);
    (*steps)[0].t = 0;
    (*steps)[0].status = (int)st;
    *n = 1;
    return;
  }
  if (get_field(L, idx, "status")) luaL_error(L, "%s: give either timeline or status", path);
  len = list_len(L, tl, path);
  if (len == 0) luaL_error(L, "%s.timeline: empty", path);
  *steps = xcalloc(L, len, sizeof **steps);
  for (i = 0; i < len; i++) {
    int isint = 0;
    lua_Integer st;
    lua_geti(L, tl, (lua_Integer)i + 1);
    if (!lua_istable(L, -1) || luaL_len(L, -1) != 2)
      luaL_error(L, "%s.timeline[%d]: expected {seconds, status}", path, (int)i + 1);
    lua_geti(L, -1, 1);
    lua_geti(L, -2, 2);
    st = lua_tointegerx(L, -1, &isint);
    if (lua_type(L, -2) != LUA_TNUMBER || !(lua_tonumber(L, -2) >= 0) ||
        lua_tonumber(L, -2) > SCEN_MAX_SECONDS || !isint || st < 0 ||
        st > 1000000)
      luaL_error(L, "%s.timeline[%d]: expected {seconds (0..1e9), integer status}", path, (int)i + 1);
    (*steps)[i].t = lua_tonumber(L, -2);
    (*steps)[i].status = (int)st;
    if (i > 0 && (*steps)[i].t < (*steps)[i - 1].t)
      luaL_error(L, "%s.timeline[%d]: times must not decrease", path, (int)i + 1);
    *n = i + 1;
    lua_pop(L, 3);
  }
  lua_pop(L, 1);
}

static void read_agora(lua_State *L, int root, sim_scenario *sc) {
  static const char *const keys[] = {"customer_id", "customer_secret", "customers", "rate_limit",
                                     "linger", NULL};
  static const char *const ckeys[] = {"customer_id", "customer_secret", "rate_limit", NULL};
  int t = opt_table(L, root, "agora", "scenario"), cs;
  size_t i, n;
  char path[64];
  sc->rate_limit = 10;
  sc->linger = 5;
  if (!t) {
    sc->ag = xcalloc(L, 1, sizeof *sc->ag);
    sc->nag = 1;
    sc->ag[0].id = xstrdup(L, DEFAULT_AG_ID);
    sc->ag[0].secret = xstrdup(L, DEFAULT_AG_SECRET);
    sc->ag[0].rate_limit = sc->rate_limit;
    return;
  }
  check_keys(L, t, "agora", keys);
  sc->rate_limit = (int)opt_int(L, t, "rate_limit", "agora", 10);
  if (sc->rate_limit < 0 || sc->rate_limit > 100000) luaL_error(L, "agora.rate_limit: out of range");
  sc->linger = opt_num(L, t, "linger", "agora", 5);
  if (sc->linger < 0) luaL_error(L, "agora.linger: must be >= 0");
  cs = opt_table(L, t, "customers", "agora");
  n = cs ? list_len(L, cs, "agora.customers") : 0;
  sc->ag = xcalloc(L, n + 1, sizeof *sc->ag);
  /* an entry is counted before its strings are read, so a failing read (a raised error)
   * leaves every string already copied where the scenario's cleanup frees it */
  sc->nag = 1;
  sc->ag[0].id = opt_str(L, t, "customer_id", "agora", DEFAULT_AG_ID);
  sc->ag[0].secret = opt_str(L, t, "customer_secret", "agora", DEFAULT_AG_SECRET);
  sc->ag[0].rate_limit = sc->rate_limit;
  for (i = 0; i < n; i++) {
    snprintf(path, sizeof path, "agora.customers[%d]", (int)i + 1);
    lua_geti(L, cs, (lua_Integer)i + 1);
    if (!lua_istable(L, -1)) luaL_error(L, "%s: expected a table", path);
    check_keys(L, lua_gettop(L), path, ckeys);
    sc->nag++;
    sc->ag[sc->nag - 1].id = opt_str(L, lua_gettop(L), "customer_id", path, NULL);
    sc->ag[sc->nag - 1].secret = opt_str(L, lua_gettop(L), "customer_secret", path, NULL);
    sc->ag[sc->nag - 1].rate_limit = (int)opt_int(L, lua_gettop(L), "rate_limit", path, sc->rate_limit);
    if (sc->ag[sc->nag - 1].rate_limit < 0 || sc->ag[sc->nag - 1].rate_limit > 100000)
      luaL_error(L, "%s.rate_limit: out of range", path);
    if (!sc->ag[sc->nag - 1].id || !sc->ag[sc->nag - 1].secret)
      luaL_error(L, "%s: needs customer_id and customer_secret", path);
    lua_pop(L, 1);
  }
  if (cs) lua_pop(L, 1);
  lua_pop(L, 1);
}

static void read_qingcloud(lua_State *L, int root, sim_scenario *sc) {
  static const char *const keys[] = {"access_key_id", "secret_access_key", "keys", "time_window",
                                     "same_day", NULL};
  static const char *const kkeys[] = {"access_key_id", "secret_access_key", NULL};
  int t = opt_table(L, root, "qingcloud", "scenario"), ks;
  size_t i, n;
  char path[64];
  sc->qc_window = 900;
  if (!t) {
    sc->qc = xcalloc(L, 1, sizeof *sc->qc);
    sc->nqc = 1;
    sc->qc[0].id = xstrdup(L, DEFAULT_QC_ID);
    sc->qc[0].secret = xstrdup(L, DEFAULT_QC_SECRET);
    return;
  }
  check_keys(L, t, "qingcloud", keys);
  sc->qc_window = opt_num(L, t, "time_window", "qingcloud", 900);
  sc->qc_same_day = opt_bool(L, t, "same_day", "qingcloud", 0);
  ks = opt_table(L, t, "keys", "qingcloud");
  n = ks ? list_len(L, ks, "qingcloud.keys") : 0;
  sc->qc = xcalloc(L, n + 1, sizeof *sc->qc);
  sc->nqc = 1;  /* counted first: see read_agora */
  sc->qc[0].id = opt_str(L, t, "access_key_id", "qingcloud", DEFAULT_QC_ID);
  sc->qc[0].secret = opt_str(L, t, "secret_access_key", "qingcloud", DEFAULT_QC_SECRET);
  for (i = 0; i < n; i++) {
    snprintf(path, sizeof path, "qingcloud.keys[%d]", (int)i + 1);
    lua_geti(L, ks, (lua_Integer)i + 1);
    if (!lua_istable(L, -1)) luaL_error(L, "%s: expected a table", path);
    check_keys(L, lua_gettop(L), path, kkeys);
    sc->nqc++;
    sc->qc[sc->nqc - 1].id = opt_str(L, lua_gettop(L), "access_key_id", path, NULL);
    sc->qc[sc->nqc - 1].secret = opt_str(L, lua_gettop(L), "secret_access_key", path, NULL);
    if (!sc->qc[sc->nqc - 1].id || !sc->qc[sc->nqc - 1].secret)
      luaL_error(L, "%s: needs access_key_id and secret_access_key", path);
    lua_pop(L, 1);
  }
  if (ks) lua_pop(L, 1);
  lua_pop(L, 1);
}

static void read_tasks(lua_State *L, int root, sim_scenario *sc) {
  static const char *const keys[] = {
      "app_id", "channel", "id", "project_id", "pid", "host", "size", "is_mix", "url_prefix",
      "files", "acc_key_id", "rec_bucket", "rec_zone", "rec_path", "created", "created_at",
      "timeline", "status", NULL};
  int t = opt_table(L, root, "qingcloud_tasks", "scenario");
  size_t i, n;
  char path[64];
  if (!t) return;
  n = list_len(L, t, "qingcloud_tasks");
  sc->tasks = xcalloc(L, n, sizeof *sc->tasks);
  for (i = 0; i < n; i++) {
    sim_qc_task *k = &sc->tasks[i];
    int e;
    snprintf(path, sizeof path, "qingcloud_tasks[%d]", (int)i + 1);
    lua_geti(L, t, (lua_Integer)i + 1);
    if (!lua_istable(L, -1)) luaL_error(L, "%s: expected a table", path);
    e = lua_gettop(L);
    sc->ntasks = i + 1;
    check_keys(L, e, path, keys);
    k->app_id = opt_str(L, e, "app_id", path, NULL);
    k->channel = opt_str(L, e, "channel", path, NULL);
    if (!k->app_id || !k->channel) luaL_error(L, "%s: needs app_id and channel", path);
    k->id = opt_int(L, e, "id", path, (long long)(i + 1));
    k->project_id = opt_str(L, e, "project_id", path, "sim-project");
    k->pid = opt_int(L, e, "pid", path, 10000 + (long long)i);
    k->host = opt_str(L, e, "host", path, "rtc-rec-gw-sim");
    k->size = opt_int(L, e, "size", path, 0);
    k->is_mix = (int)opt_int(L, e, "is_mix", path, 1);
    k->url_prefix = opt_str(L, e, "url_prefix", path, "");
    k->files = opt_str(L, e, "files", path, "");
    k->acc_key_id = opt_str(L, e, "acc_key_id", path, sc->qc[0].id);
    k->rec_bucket = opt_str(L, e, "rec_bucket", path, "sim-bucket");
    k->rec_zone = opt_str(L, e, "rec_zone", path, "pek3b");
    k->rec_path = opt_str(L, e, "rec_path", path, "CloudRecordMedia/");
    k->created_fixed = opt_str(L, e, "created", path, NULL);
    read_timeline(L, e, path, &k->steps, &k->nsteps);
    k->created_t = opt_num(L, e, "created_at", path, k->steps[0].t);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

static void read_files(lua_State *L, int e, const char *path, sim_ag_rec *r) {
  static const char *const fkeys[] = {"fileName", "trackType", "uid", "mixedAllUser",
                                      "isPlayable", "sliceStartTime", NULL};
  int f = opt_table(L, e, "files", path);
  size_t i, n;
  char fpath[96];
  if (!f) return;
  n = list_len(L, f, path);
  r->files = xcalloc(L, n, sizeof *r->files);
  for (i = 0; i < n; i++) {
    sim_ag_file *x = &r->files[i];
    int fe;
    snprintf(fpath, sizeof fpath, "%s.files[%d]", path, (int)i + 1);
    lua_geti(L, f, (lua_Integer)i + 1);
    if (!lua_istable(L, -1)) luaL_error(L, "%s: expected a table", fpath);
    fe = lua_gettop(L);
    r->nfiles = i + 1;
    check_keys(L, fe, fpath, fkeys);
    x->file_name = opt_str(L, fe, "fileName", fpath, "recording.m3u8");
    x->track_type = opt_str(L, fe, "trackType", fpath, "audio_and_video");
    x->uid = opt_str(L, fe, "uid", fpath, "0");
    x->mixed_all_user = opt_bool(L, fe, "mixedAllUser", fpath, 1);
    x->is_playable = opt_bool(L, fe, "isPlayable", fpath, 1);
    x->slice_start_time = opt_int(L, fe, "sliceStartTime", fpath, 0);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

/* list = { {ka = "...", kb = "..."}, ... } into pairs. */
static void read_pairs(lua_State *L, int idx, const char *key, const char *path, const char *ka,
                       const char *kb, sim_pair **out, size_t *n) {
  const char *keys[3];
  int t = opt_table(L, idx, key, path);
  size_t i, len;
  char p[128];
  keys[0] = ka;
  keys[1] = kb;
  keys[2] = NULL;
  if (!t) return;
  len = list_len(L, t, path);
  *out = xcalloc(L, len, sizeof **out);
  for (i = 0; i < len; i++) {
    snprintf(p, sizeof p, "%s.%s[%d]", path, key, (int)i + 1);
    lua_geti(L, t, (lua_Integer)i + 1);
    if (!lua_istable(L, -1)) luaL_error(L, "%s: expected a table", p);
    check_keys(L, lua_gettop(L), p, keys);
    *n = i + 1;  /* freed with the scenario even when the next line raises */
    (*out)[i].a = opt_str(L, lua_gettop(L), ka, p, "");
    (*out)[i].b = opt_str(L, lua_gettop(L), kb, p, "");
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

/* The optional reply parts: top-level code, subServiceStatus, Aliyun VOD, RTMP push. */
static void read_extras(lua_State *L, int e, const char *path, sim_ag_rec *r) {
  static const char *const vkeys[] = {"state", "videoInfo", NULL};
  static const char *const okeys[] = {"outputs", NULL};
  char p[96];
  int t;
  if (get_field(L, e, "code")) {
    lua_pop(L, 1);
    r->has_code = 1;
    r->code = opt_int(L, e, "code", path, 0);
  }
  r->sub_status = opt_str(L, e, "subServiceStatus", path, NULL);
  if ((t = opt_table(L, e, "aliyun_vod", path))) {
    snprintf(p, sizeof p, "%s.aliyun_vod", path);
    check_keys(L, t, p, vkeys);
    r->has_vod = 1;
    r->vod_state = opt_str(L, t, "state", p, "inProgress");
    read_pairs(L, t, "videoInfo", p, "fileName", "videoId", &r->videos, &r->nvideos);
    lua_pop(L, 1);
  }
  if ((t = opt_table(L, e, "rtmp_publish", path))) {
    snprintf(p, sizeof p, "%s.rtmp_publish", path);
    check_keys(L, t, p, okeys);
    r->has_rtmp = 1;
    read_pairs(L, t, "outputs", p, "rtmpUrl", "status", &r->outputs, &r->noutputs);
    lua_pop(L, 1);
  }
}

static void read_recordings(lua_State *L, int root, sim_scenario *sc) {
  static const char *const keys[] = {
      "appid", "resourceid", "sid", "mode", "channel", "fileListMode", "fileList", "files",
      "old_style", "sliceStartTime", "gone_at", "linger", "timeline", "status", "code",
      "subServiceStatus", "aliyun_vod", "rtmp_publish", NULL};
  int t = opt_table(L, root, "agora_recordings", "scenario");
  size_t i, n;
  char path[64];
  if (!t) return;
  n = list_len(L, t, "agora_recordings");
  sc->recs = xcalloc(L, n, sizeof *sc->recs);
  for (i = 0; i < n; i++) {
    sim_ag_rec *r = &sc->recs[i];
    char *flm;
    int e;
    snprintf(path, sizeof path, "agora_recordings[%d]", (int)i + 1);
    lua_geti(L, t, (lua_Integer)i + 1);
    if (!lua_istable(L, -1)) luaL_error(L, "%s: expected a table", path);
    e = lua_gettop(L);
    sc->nrecs = i + 1;
    check_keys(L, e, path, keys);
    r->appid = opt_str(L, e, "appid", path, NULL);
    r->resourceid = opt_str(L, e, "resourceid", path, NULL);
    r->sid = opt_str(L, e, "sid", path, NULL);
    if (!r->appid || !r->resourceid || !r->sid)
      luaL_error(L, "%s: needs appid, resourceid and sid", path);
    r->mode = opt_str(L, e, "mode", path, "mix");
    if (strcmp(r->mode, "mix") && strcmp(r->mode, "individual") && strcmp(r->mode, "web"))
      luaL_error(L, "%s.mode: expected individual, mix or web", path);
    r->mode_web = strcmp(r->mode, "web") == 0;
    r->channel = opt_str(L, e, "channel", path, "demo");
    flm = opt_str(L, e, "fileListMode", path, "json");
    r->list_json = strcmp(flm, "json") == 0;
    if (!r->list_json && strcmp(flm, "string") != 0) {
      free(flm);
      luaL_error(L, "%s.fileListMode: expected json or string", path);
    }
    free(flm);
    if (!r->list_json && strcmp(r->mode, "individual") == 0)
      luaL_error(L, "%s.fileListMode: individual mode always lists files as JSON (Agora's documentation)", path);
    r->file_list_string = opt_str(L, e, "fileList", path, NULL);
    read_extras(L, e, path, r);
    read_files(L, e, path, r);
    r->old_style = opt_bool(L, e, "old_style", path, 0);
    r->slice_start_time = opt_int(L, e, "sliceStartTime", path, 0);
    r->gone_at = opt_num(L, e, "gone_at", path, -1);
    r->linger = opt_num(L, e, "linger", path, sc->linger);
    read_timeline(L, e, path, &r->steps, &r->nsteps);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

static void read_faults(lua_State *L, int root, sim_scenario *sc) {
  static const char *const keys[] = {"provider", "kind", "nth", "every", "probability", "ms",
                                     "bytes", "times", "after", "before", "seconds", "match",
                                     "method", NULL};
  int t = opt_table(L, root, "faults", "scenario");
  size_t i, n;
  char path[64];
  if (!t) return;
  n = list_len(L, t, "faults");
  sc->faults = xcalloc(L, n, sizeof *sc->faults);
  for (i = 0; i < n; i++) {
    sim_fault *f = &sc->faults[i];
    char *s;
    int e, k, nth;
    snprintf(path, sizeof path, "faults[%d]", (int)i + 1);
    lua_geti(L, t, (lua_Integer)i + 1);
    if (!lua_istable(L, -1)) luaL_error(L, "%s: expected a table", path);
    e = lua_gettop(L);
    sc->nfaults = i + 1;
    check_keys(L, e, path, keys);
    s = opt_str(L, e, "provider", path, "any");
    f->provider = !strcmp(s, "agora") ? SIM_P_AGORA : !strcmp(s, "qingcloud") ? SIM_P_QC
                  : !strcmp(s, "webhook") ? SIM_P_WEBHOOK : !strcmp(s, "ncs") ? SIM_P_NCS
                  : !strcmp(s, "any") ? SIM_P_ANY : -1;
    free(s);
    if (f->provider < 0)
      luaL_error(L, "%s.provider: expected agora, qingcloud, webhook, ncs or any", path);
    s = opt_str(L, e, "kind", path, NULL);
    if (!s) luaL_error(L, "%s: needs a kind", path);
    f->kind = SIM_F_COUNT;
    for (k = 0; k < SIM_F_COUNT; k++)
      if (strcmp(s, sim_fault_names[k]) == 0) f->kind = (sim_fault_kind)k;
    free(s);
    if (f->kind == SIM_F_COUNT)
      luaL_error(L, "%s.kind: expected one of delay, 500_html, agora_206, agora_504, drop, "
                 "malformed_json, truncated, huge, 429, agora_404, agora_502, hold, hold_drop, "
                 "duplicate, mis_sign", path);
    if ((f->provider == SIM_P_NCS) != (f->kind == SIM_F_DUPLICATE || f->kind == SIM_F_MIS_SIGN ||
                                        (f->provider == SIM_P_NCS && (f->kind == SIM_F_DROP ||
                                                                      f->kind == SIM_F_DELAY))))
      luaL_error(L, "%s: provider ncs takes the kinds drop, delay, duplicate and mis_sign; "
                 "duplicate and mis_sign are for ncs only", path);
    if (get_field(L, e, "nth")) {
      if (lua_isinteger(L, -1)) {
        f->nth = xcalloc(L, 1, sizeof *f->nth);
        f->nth[0] = (long)lua_tointeger(L, -1);
        f->nnth = 1;
      } else if (lua_istable(L, -1)) {
        size_t j, m = list_len(L, lua_gettop(L), path);
        f->nth = xcalloc(L, m, sizeof *f->nth);
        nth = lua_gettop(L);
        for (j = 0; j < m; j++) {
          lua_geti(L, nth, (lua_Integer)j + 1);
          if (!lua_isinteger(L, -1)) luaL_error(L, "%s.nth: expected integers", path);
          f->nth[j] = (long)lua_tointeger(L, -1);
          f->nnth = j + 1;
          lua_pop(L, 1);
        }
      } else {
        luaL_error(L, "%s.nth: expected an integer or a list of integers", path);
      }
      lua_pop(L, 1);
    }
    f->every = (long)opt_int(L, e, "every", path, 0);
    f->probability = opt_num(L, e, "probability", path, -1);
    if (f->every < 0) luaL_error(L, "%s.every: must be >= 1", path);
    if (get_field(L, e, "probability")) {
      lua_pop(L, 1);
      if (f->probability < 0 || f->probability > 1)
        luaL_error(L, "%s.probability: expected 0..1", path);
    }
    f->delay_ms = (long)opt_int(L, e, "ms", path, 1000);
    if (f->delay_ms < 0 || f->delay_ms > 3600000) luaL_error(L, "%s.ms: out of range", path);
    {
      long long b = opt_int(L, e, "bytes", path, 20LL * 1024 * 1024);
      if (b < 64 || b > 1024LL * 1024 * 1024) luaL_error(L, "%s.bytes: expected 64..1 GiB", path);
      f->bytes = (size_t)b;
    }
    f->times = (long)opt_int(L, e, "times", path, 0);
    f->after = opt_num(L, e, "after", path, 0);
    f->before = opt_num(L, e, "before", path, -1);
    if (get_field(L, e, "seconds")) {  /* a window of so many seconds from `after` */
      double secs;
      lua_pop(L, 1);
      if (get_field(L, e, "before")) luaL_error(L, "%s: give before or seconds, not both", path);
      secs = opt_num(L, e, "seconds", path, 0);
      if (secs < 0) luaL_error(L, "%s.seconds: must be >= 0", path);
      f->before = f->after + secs;
    }
    f->match = opt_str(L, e, "match", path, NULL);
    f->method = opt_str(L, e, "method", path, NULL);
    if ((f->kind == SIM_F_HOLD || f->kind == SIM_F_HOLD_DROP) && f->provider == SIM_P_WEBHOOK)
      luaL_error(L, "%s.kind: hold and hold_drop are for provider requests, not the webhook sink", path);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

typedef struct load_ctx {
  sim_scenario *sc;
} load_ctx;

static int l_convert(lua_State *L) {
  static const char *const keys[] = {"agora", "qingcloud", "qingcloud_tasks", "agora_recordings",
                                     "faults", "seed", "control", "agora_ncs", NULL};
  load_ctx *ctx = lua_touserdata(L, 2);
  sim_scenario *sc = ctx->sc;
  if (!lua_istable(L, 1)) return luaL_error(L, "the scenario must return a table");
  check_keys(L, 1, "scenario", keys);
  sc->seed = (uint64_t)opt_int(L, 1, "seed", "scenario", 1);
  read_agora(L, 1, sc);
  read_qingcloud(L, 1, sc);
  read_tasks(L, 1, sc);
  read_recordings(L, 1, sc);
  read_faults(L, 1, sc);
  sim_ctl_read(L, 1, sc);
  sim_events_read_config(L, 1, sc);  /* after the recordings: its events name their sids */
  return 0;
}

/* ---------------------------------------------------------------- precomputation */

/* "2021-11-18 14:56:43" in China Standard Time (UTC+8), like the documented sample. */
static void fmt_cst(time_t t, char out[24]) {
  struct tm tm;
  time_t x = t + 8 * 3600;
  gmtime_r(&x, &tm);
  strftime(out, 24, "%Y-%m-%d %H:%M:%S", &tm);
}

static void json_kv_str(sbuf *b, const char *k, const char *v, int comma) {
  if (comma) sbuf_add(b, ",", 1);
  sbuf_add_json_str(b, k, strlen(k));
  sbuf_add(b, ":", 1);
  sbuf_add_json_str(b, v, strlen(v));
}

static int build_task(sim_qc_task *k, time_t wall0) {
  size_t i;
  char created[24], updated[24];
  k->json = calloc(k->nsteps, sizeof *k->json);
  k->jsonlen = calloc(k->nsteps, sizeof *k->jsonlen);
  if (!k->json || !k->jsonlen) return -1;
  if (k->created_fixed) snprintf(created, sizeof created, "%s", k->created_fixed);
  else fmt_cst(wall0 + (time_t)k->created_t, created);
  for (i = 0; i < k->nsteps; i++) {
    sbuf b = {0};
    fmt_cst(wall0 + (time_t)k->steps[i].t, updated);
    sbuf_addf(&b, "{\"id\":%lld", k->id);
    json_kv_str(&b, "project_id", k->project_id, 1);
    json_kv_str(&b, "app_id", k->app_id, 1);
    json_kv_str(&b, "channel", k->channel, 1);
    sbuf_addf(&b, ",\"pid\":%lld", k->pid);
    json_kv_str(&b, "host", k->host, 1);
    sbuf_addf(&b, ",\"status\":%d,\"size\":%lld,\"is_mix\":%d", k->steps[i].status, k->size,
              k->is_mix);
    json_kv_str(&b, "url_prefix", k->url_prefix, 1);
    json_kv_str(&b, "files", k->files, 1);
    json_kv_str(&b, "acc_key_id", k->acc_key_id, 1);
    json_kv_str(&b, "rec_bucket", k->rec_bucket, 1);
    json_kv_str(&b, "rec_zone", k->rec_zone, 1);
    json_kv_str(&b, "rec_path", k->rec_path, 1);
    json_kv_str(&b, "created", created, 1);
    json_kv_str(&b, "updated", i == 0 ? created : updated, 1);
    sbuf_add(&b, "}", 1);
    if (!b.p) return -1;
    k->json[i] = b.p;
    k->jsonlen[i] = b.len;
  }
  return 0;
}

/* A number, or the same number as a string in old_style replies. */
static void num_val(sbuf *b, long long v, int old) {
  if (old) sbuf_addf(b, "\"%lld\"", v);
  else sbuf_addf(b, "%lld", v);
}

static void bool_val(sbuf *b, int v, int old) {
  if (old) sbuf_adds(b, v ? "\"true\"" : "\"false\"");
  else sbuf_adds(b, v ? "true" : "false");
}

static void rec_file_list(sbuf *b, sim_ag_rec *r, int web) {
  size_t i;
  sbuf_add(b, "[", 1);
  for (i = 0; i < r->nfiles; i++) {
    sim_ag_file *f = &r->files[i];
    long long sst = f->slice_start_time ? f->slice_start_time : r->slice_start_time;
    if (i) sbuf_add(b, ",", 1);
    sbuf_add(b, "{", 1);
    json_kv_str(b, "fileName", f->file_name, 0);
    if (!web) {
      json_kv_str(b, "trackType", f->track_type, 1);
      json_kv_str(b, "uid", f->uid, 1);
      sbuf_adds(b, ",\"mixedAllUser\":");
      bool_val(b, f->mixed_all_user, r->old_style);
      sbuf_adds(b, ",\"isPlayable\":");
      bool_val(b, f->is_playable, r->old_style);
    }
    sbuf_adds(b, ",\"sliceStartTime\":");
    num_val(b, sst, r->old_style);
    sbuf_add(b, "}", 1);
  }
  sbuf_add(b, "]", 1);
}

static void pair_list(sbuf *b, const sim_pair *p, size_t n, const char *ka, const char *kb) {
  size_t i;
  sbuf_add(b, "[", 1);
  for (i = 0; i < n; i++) {
    sbuf_adds(b, i ? ",{" : "{");
    json_kv_str(b, ka, p[i].a, 0);
    json_kv_str(b, kb, p[i].b, 1);
    sbuf_add(b, "}", 1);
  }
  sbuf_add(b, "]", 1);
}

/* The aliyun_vod_service and rtmp_publish_service entries of extensionServiceState;
 * comma: entries were written before. */
static void rec_extensions(sbuf *b, const sim_ag_rec *r, int comma) {
  if (r->has_vod) {
    if (comma) sbuf_add(b, ",", 1);
    sbuf_adds(b, "{\"payload\":{");
    json_kv_str(b, "state", r->vod_state, 0);
    sbuf_adds(b, ",\"videoInfo\":");
    pair_list(b, r->videos, r->nvideos, "fileName", "videoId");
    sbuf_adds(b, "},\"serviceName\":\"aliyun_vod_service\"}");
    comma = 1;
  }
  if (r->has_rtmp) {
    if (comma) sbuf_add(b, ",", 1);
    sbuf_adds(b, "{\"payload\":{\"outputs\":");
    pair_list(b, r->outputs, r->noutputs, "rtmpUrl", "status");
    sbuf_adds(b, "},\"serviceName\":\"rtmp_publish_service\"}");
  }
}

static int build_rec(sim_ag_rec *r, time_t wall0) {
  size_t i;
  if (!r->slice_start_time)
    r->slice_start_time = (long long)wall0 * 1000 + (long long)(r->steps[0].t * 1000);
  if (!r->nfiles && !r->mode_web) {
    int mix = strcmp(r->mode, "mix") == 0;
    char name[512];
    r->files = calloc(1, sizeof *r->files);
    if (!r->files) return -1;
    r->nfiles = 1;
    snprintf(name, sizeof name, "%s_%s.m3u8", r->sid, r->channel);
    r->files[0].file_name = strdup(name);
    r->files[0].track_type = strdup("audio_and_video");
    r->files[0].uid = strdup(mix ? "0" : "1001");
    r->files[0].mixed_all_user = mix;
    r->files[0].is_playable = 1;
    if (!r->files[0].file_name || !r->files[0].track_type || !r->files[0].uid) return -1;
  }
  if (!r->file_list_string) {
    char name[512];
    snprintf(name, sizeof name, "%s_%s.m3u8", r->sid, r->channel);
    r->file_list_string = strdup(name);
    if (!r->file_list_string) return -1;
  }
  r->body = calloc(r->nsteps, sizeof *r->body);
  r->bodylen = calloc(r->nsteps, sizeof *r->bodylen);
  if (!r->body || !r->bodylen) return -1;
  for (i = 0; i < r->nsteps; i++) {
    sbuf b = {0};
    int st = r->steps[i].status;
    sbuf_add(&b, "{", 1);
    if (r->has_code) {
      sbuf_adds(&b, "\"code\":");
      num_val(&b, r->code, r->old_style);
      sbuf_add(&b, ",", 1);
    }
    json_kv_str(&b, "resourceId", r->resourceid, 0);
    json_kv_str(&b, "sid", r->sid, 1);
    sbuf_adds(&b, ",\"serverResponse\":{");
    if (r->mode_web) {
      const char *state = st <= 3 ? "init" : st <= 7 ? "inProgress" : "exit";
      sbuf_adds(&b, "\"extensionServiceState\":[{\"payload\":{\"fileList\":");
      rec_file_list(&b, r, 1);
      sbuf_adds(&b, ",\"onhold\":");
      bool_val(&b, 0, r->old_style);
      sbuf_addf(&b, ",\"state\":\"%s\"},\"serviceName\":\"web_recorder_service\"}", state);
      rec_extensions(&b, r, 1);
      sbuf_adds(&b, "],\"status\":");
      num_val(&b, st, r->old_style);
    } else {
      sbuf_addf(&b, "\"fileListMode\":\"%s\",\"fileList\":", r->list_json ? "json" : "string");
      if (r->list_json) rec_file_list(&b, r, 0);
      else sbuf_add_json_str(&b, r->file_list_string, strlen(r->file_list_string));
      sbuf_adds(&b, ",\"status\":");
      num_val(&b, st, r->old_style);
      sbuf_adds(&b, ",\"sliceStartTime\":");
      num_val(&b, r->slice_start_time, r->old_style);
      if (r->sub_status) {
        sbuf_adds(&b, ",\"subServiceStatus\":{");
        json_kv_str(&b, "recordingService", r->sub_status, 0);
        sbuf_add(&b, "}", 1);
      }
      if (r->has_vod || r->has_rtmp) {
        sbuf_adds(&b, ",\"extensionServiceState\":[");
        rec_extensions(&b, r, 0);
        sbuf_add(&b, "]", 1);
      }
    }
    sbuf_adds(&b, "}}");
    if (!b.p) return -1;
    r->body[i] = b.p;
    r->bodylen[i] = b.len;
  }
  return 0;
}

/* A valid JSON document of exactly n bytes (n >= 64) that looks like a reply. */
static char *build_huge(size_t n) {
  static const char head[] = "{\"code\":\"success\",\"padding\":[";
  static const char item[] = "\"sim-padding-0123456789abcdefghijklmnopqrstuvwxyz\",";
  size_t hl = sizeof head - 1, il = sizeof item - 1, pos;
  char *p = malloc(n + 1);
  if (!p) return NULL;
  memcpy(p, head, hl);
  pos = hl;
  while (pos + il + 8 <= n) {
    memcpy(p + pos, item, il);
    pos += il;
  }
  /* the last element: a string filling the rest, then "]}" */
  p[pos++] = '"';
  while (pos < n - 3) p[pos++] = 'x';
  p[pos++] = '"';
  p[pos++] = ']';
  p[pos++] = '}';
  p[n] = '\0';
  return p;
}

static int precompute(sim_scenario *sc, time_t wall0) {
  size_t i;
  for (i = 0; i < sc->nag; i++) {
    sbuf b = {0};
    sbuf_addf(&b, "%s:%s", sc->ag[i].id, sc->ag[i].secret);
    if (!b.p) return -1;
    sc->ag[i].b64 = crypto_base64(b.p, b.len);
    sbuf_free(&b);
    if (!sc->ag[i].b64) return -1;
    if (sc->ag[i].rate_limit > 0) {
      sc->ag[i].ring = calloc((size_t)sc->ag[i].rate_limit, sizeof *sc->ag[i].ring);
      if (!sc->ag[i].ring) return -1;
    }
  }
  for (i = 0; i < sc->ntasks; i++)
    if (build_task(&sc->tasks[i], wall0) != 0) return -1;
  for (i = 0; i < sc->nrecs; i++)
    if (build_rec(&sc->recs[i], wall0) != 0) return -1;
  if (sim_rec_index(sc) != 0) return -1;
  for (i = 0; i < sc->nfaults; i++) {
    sim_fault *f = &sc->faults[i];
    f->rng = (sc->seed + 1) * 0x9E3779B97F4A7C15ULL ^ ((uint64_t)(i + 1) * 0xBF58476D1CE4E5B9ULL);
    if (!f->rng) f->rng = 1;
    if (f->kind == SIM_F_HUGE && !(f->huge_body = build_huge(f->bytes))) return -1;
  }
  return 0;
}

/* A scenario is a description, not a program: it runs in a small sandbox (base library
 * without dofile/loadfile/load of binary chunks, string, table, math, utf8, and os.getenv/
 * time/clock/date), with at most SCEN_MAX_STEPS VM instructions and SCEN_MAX_MEM bytes, so a
 * bad file fails with a message instead of hanging or eating the machine. */
#define SCEN_MAX_STEPS 50000000L
#define SCEN_MAX_MEM (256u * 1024u * 1024u)
#define SCEN_HOOK_EVERY 10000

typedef struct scen_alloc {
  size_t used;
} scen_alloc;

static void *scen_realloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  scen_alloc *a = ud;
  if (!ptr) osize = 0;
  if (nsize == 0) {
    free(ptr);
    a->used -= osize;
    return NULL;
  }
  if (nsize > osize && a->used - osize + nsize > SCEN_MAX_MEM) return NULL;
  ptr = realloc(ptr, nsize);
  if (ptr) a->used = a->used - osize + nsize;
  return ptr;
}

static void scen_hook(lua_State *L, lua_Debug *ar) {
  long *steps = *(long **)lua_getextraspace(L);
  (void)ar;
  if ((*steps += SCEN_HOOK_EVERY) > SCEN_MAX_STEPS)
    luaL_error(L, "the scenario runs too long (more than %d million instructions)",
               (int)(SCEN_MAX_STEPS / 1000000));
}

static void scen_sandbox(lua_State *L) {
  static const luaL_Reg libs[] = {{LUA_GNAME, luaopen_base}, {LUA_STRLIBNAME, luaopen_string},
                                  {LUA_TABLIBNAME, luaopen_table}, {LUA_MATHLIBNAME, luaopen_math},
                                  {LUA_UTF8LIBNAME, luaopen_utf8}, {LUA_OSLIBNAME, luaopen_os}};
  static const char *const base_drop[] = {"dofile", "loadfile", "load", "collectgarbage", NULL};
  static const char *const os_keep[] = {"getenv", "time", "clock", "date", NULL};
  size_t i;
  for (i = 0; i < sizeof libs / sizeof libs[0]; i++) {
    luaL_requiref(L, libs[i].name, libs[i].func, 1);
    lua_pop(L, 1);
  }
  for (i = 0; base_drop[i]; i++) {
    lua_pushnil(L);
    lua_setglobal(L, base_drop[i]);
  }
  lua_getglobal(L, LUA_OSLIBNAME);
  lua_newtable(L);
  for (i = 0; os_keep[i]; i++) {
    lua_getfield(L, -2, os_keep[i]);
    lua_setfield(L, -2, os_keep[i]);
  }
  lua_setglobal(L, LUA_OSLIBNAME);
  lua_pop(L, 1);
}

static sim_scenario *scenario_load(const char *path, const char *buf, size_t len,
                                   time_t wall0, char *err, size_t errlen) {
  scen_alloc alloc = {0};
  long steps = 0;
  lua_State *L = lua_newstate(scen_realloc, &alloc);
  sim_scenario *sc = calloc(1, sizeof *sc);
  load_ctx ctx;
  int rc;
  if (!L || !sc) {
    snprintf(err, errlen, "out of memory");
    if (L) lua_close(L);
    free(sc);
    return NULL;
  }
  *(long **)lua_getextraspace(L) = &steps;
  lua_sethook(L, scen_hook, LUA_MASKCOUNT, SCEN_HOOK_EVERY);
  scen_sandbox(L);
  if (buf) rc = luaL_loadbufferx(L, buf, len, path ? path : "=scenario", "t");
  else if (path) rc = luaL_loadfilex(L, path, "t");  /* text only: bytecode is not checked */
  else rc = luaL_loadbuffer(L, sim_default_scenario_lua, strlen(sim_default_scenario_lua),
                            "=default-scenario");
  if (rc == LUA_OK) rc = lua_pcall(L, 0, 1, 0);
  if (rc == LUA_OK) {
    ctx.sc = sc;
    lua_pushcfunction(L, l_convert);
    lua_insert(L, -2);
    lua_pushlightuserdata(L, &ctx);
    rc = lua_pcall(L, 2, 0, 0);
  }
  if (rc != LUA_OK) {
    const char *m = lua_tostring(L, -1);
    snprintf(err, errlen, "scenario %s: %s", path ? path : "(default)", m ? m : "error");
    lua_close(L);
    sim_scenario_free(sc);
    return NULL;
  }
  lua_close(L);
  sc->wall0 = wall0;
  if (precompute(sc, wall0) != 0) {
    snprintf(err, errlen, "scenario: out of memory");
    sim_scenario_free(sc);
    return NULL;
  }
  return sc;
}

sim_scenario *sim_scenario_load(const char *path, time_t wall0, char *err, size_t errlen) {
  return scenario_load(path, NULL, 0, wall0, err, errlen);
}

sim_scenario *sim_scenario_load_buffer(const char *buf, size_t len, time_t wall0, char *err,
                                       size_t errlen) {
  return scenario_load("=scenario", buf ? buf : "", len, wall0, err, errlen);
}

void sim_scenario_free(sim_scenario *sc) {
  size_t i, j;
  if (!sc) return;
  for (i = 0; i < sc->nag; i++) {
    free(sc->ag[i].id);
    free(sc->ag[i].secret);
    free(sc->ag[i].b64);
    free(sc->ag[i].ring);
  }
  free(sc->ag);
  for (i = 0; i < sc->nqc; i++) {
    free(sc->qc[i].id);
    free(sc->qc[i].secret);
  }
  free(sc->qc);
  for (i = 0; i < sc->ntasks; i++) {
    sim_qc_task *k = &sc->tasks[i];
    free(k->app_id); free(k->channel); free(k->project_id); free(k->host);
    free(k->url_prefix); free(k->files); free(k->acc_key_id); free(k->rec_bucket);
    free(k->rec_zone); free(k->rec_path); free(k->created_fixed);
    if (k->json)
      for (j = 0; j < k->nsteps; j++) free(k->json[j]);
    free(k->json);
    free(k->jsonlen);
    free(k->steps);
  }
  free(sc->tasks);
  for (i = 0; i < sc->nrecs; i++) {
    sim_ag_rec *r = &sc->recs[i];
    free(r->appid); free(r->resourceid); free(r->sid); free(r->mode); free(r->channel);
    free(r->file_list_string);
    free(r->sub_status);
    free(r->vod_state);
    for (j = 0; j < r->nvideos; j++) {
      free(r->videos[j].a);
      free(r->videos[j].b);
    }
    free(r->videos);
    for (j = 0; j < r->noutputs; j++) {
      free(r->outputs[j].a);
      free(r->outputs[j].b);
    }
    free(r->outputs);
    for (j = 0; j < r->nfiles; j++) {
      free(r->files[j].file_name);
      free(r->files[j].track_type);
      free(r->files[j].uid);
    }
    free(r->files);
    if (r->body)
      for (j = 0; j < r->nsteps; j++) free(r->body[j]);
    free(r->body);
    free(r->bodylen);
    free(r->steps);
  }
  free(sc->recs);
  free(sc->rec_slots);
  free(sc->ch_slots);
  free(sc->task_next);
  for (i = 0; i < sc->nfaults; i++) {
    free(sc->faults[i].nth);
    free(sc->faults[i].match);
    free(sc->faults[i].method);
    free(sc->faults[i].huge_body);
  }
  free(sc->faults);
  sim_ctl_free(sc->ctl);
  sim_events_free_config(sc);
  free(sc);
}
