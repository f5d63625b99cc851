/* sim_events: the simulator sends Agora NCS events. Each recording's timeline becomes a list
 * of events (recorder started, status updates, file infos, uploads, recorder leave, error,
 * session exit; extra ones from the scenario's `agora_ncs.events`); each falls due on the
 * engine clock and is POSTed, signed, through the HTTP client (libcurl) to the target, and
 * resent on a non-200 as Agora documents (at most 3 resends, same noticeId, new notifyMs). */
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "crypto.h"
#include "http.h"
#include "log.h"
#include "sim_events.h"
#include "sim_srv.h"

#define NCS_MAX_RESENDS 3          /* Agora: "at most 3 retries" */
#define NCS_QUEUE_CAP 10000        /* deliveries waiting, delayed or in flight */
#define NCS_MAX_EXTRA 100000
#define NCS_DETAILS_DEPTH 8
#define NCS_BODY_MAX 65536
#define NCS_DETAILS_MAX 60000      /* leaves room for the rest of the body */

/* ---------------------------------------------------------------- configuration */

typedef struct ncs_extra {
  size_t rec;        /* index of the recording named by sid */
  double at;
  int type;
  char *details;     /* JSON object text */
} ncs_extra;

typedef struct sim_ncs_config {
  char *url, *secret, *uid;
  double delays[NCS_MAX_RESENDS];
  int resends;
  double timeout;
  double progress_every;  /* seconds between uploading_progress (33) events; 0 = none */
  int timeline;           /* events from the recordings' timelines (default on) */
  long queue_cap;
  ncs_extra *extra;
  size_t nextra;
  sbuf tmp;               /* details being converted (freed with the config on an error) */
} sim_ncs_config;

static const struct {
  int type;
  const char *name;
} msg_names[] = {
    {1, "cloud_recording_error"}, {2, "cloud_recording_warning"},
    {3, "cloud_recording_status_update"}, {4, "cloud_recording_file_infos"},
    {11, "session_exit"}, {12, "session_failover"}, {30, "uploader_started"},
    {31, "uploaded"}, {32, "backuped"}, {33, "uploading_progress"},
    {40, "recorder_started"}, {41, "recorder_leave"}, {42, "recorder_slice_start"},
    {43, "recorder_audio_stream_state_changed"}, {44, "recorder_video_stream_state_changed"},
    {45, "recorder_snapshot_file"}};

static const char *msg_name(int type) {
  size_t i;
  for (i = 0; i < sizeof msg_names / sizeof msg_names[0]; i++)
    if (msg_names[i].type == type) return msg_names[i].name;
  return NULL;
}

/* JSON of the Lua value at idx (strings, numbers, booleans, tables: arrays when keyed 1..n,
 * else objects with sorted string keys, so bodies are the same on every run). */
static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void lua_to_json(lua_State *L, int idx, sbuf *b, int depth, const char *path) {
  int t = lua_type(L, idx);
  idx = lua_absindex(L, idx);
  if (t == LUA_TSTRING) {
    size_t n;
    const char *s = lua_tolstring(L, idx, &n);
    sbuf_add_json_str(b, s, n);
  } else if (t == LUA_TBOOLEAN) {
    sbuf_adds(b, lua_toboolean(L, idx) ? "true" : "false");
  } else if (t == LUA_TNUMBER) {
    if (lua_isinteger(L, idx)) sbuf_addf(b, "%lld", (long long)lua_tointeger(L, idx));
    else {
      double v = lua_tonumber(L, idx);
      if (!(v >= -1e15 && v <= 1e15)) luaL_error(L, "%s: a number out of range", path);
      sbuf_addf(b, "%.17g", v);
    }
  } else if (t == LUA_TTABLE) {
    lua_Integer n = luaL_len(L, idx), i;
    size_t nkeys = 0, k;
    if (depth >= NCS_DETAILS_DEPTH) luaL_error(L, "%s: nested too deep", path);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
      lua_pop(L, 1);
      nkeys++;
    }
    if (n > 0 && (size_t)n == nkeys) {
      sbuf_add(b, "[", 1);
      for (i = 1; i <= n; i++) {
        if (i > 1) sbuf_add(b, ",", 1);
        lua_geti(L, idx, i);
        lua_to_json(L, -1, b, depth + 1, path);
        lua_pop(L, 1);
      }
      sbuf_add(b, "]", 1);
      return;
    }
    {
      /* the keys, sorted, live in a Lua table (no C allocation to lose on an error) */
      const char **keys;
      lua_createtable(L, (int)(nkeys < 1000000 ? nkeys : 0), 0);
      k = 0;
      lua_pushnil(L);
      while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "%s: keys must be strings", path);
        lua_pushvalue(L, -1);
        lua_rawseti(L, -3, (lua_Integer)++k);
      }
      keys = lua_newuserdatauv(L, (nkeys ? nkeys : 1) * sizeof *keys, 0);
      for (k = 0; k < nkeys; k++) {
        lua_rawgeti(L, -2, (lua_Integer)k + 1);
        keys[k] = lua_tostring(L, -1);
        lua_pop(L, 1);  /* still anchored in the key table */
      }
      qsort(keys, nkeys, sizeof *keys, cmp_str);
      sbuf_add(b, "{", 1);
      for (k = 0; k < nkeys; k++) {
        if (k) sbuf_add(b, ",", 1);
        sbuf_add_json_str(b, keys[k], strlen(keys[k]));
        sbuf_add(b, ":", 1);
        lua_getfield(L, idx, keys[k]);
        lua_to_json(L, -1, b, depth + 1, path);
        lua_pop(L, 1);
      }
      sbuf_add(b, "}", 1);
      lua_pop(L, 2);
    }
  } else {
    luaL_error(L, "%s: expected strings, numbers, booleans and tables", path);
  }
}

static char *cfg_str(lua_State *L, int idx, const char *key, const char *def) {
  char *p;
  lua_getfield(L, idx, key);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    if (!def) return NULL;
    if (!(p = strdup(def))) luaL_error(L, "out of memory");
    return p;
  }
  if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "agora_ncs.%s: expected a string", key);
  if (!(p = strdup(lua_tostring(L, -1)))) luaL_error(L, "out of memory");
  lua_pop(L, 1);
  return p;
}

static double cfg_num(lua_State *L, int idx, const char *key, double def, double lo, double hi,
                      const char *what) {
  double v;
  lua_getfield(L, idx, key);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return def;
  }
  if (lua_type(L, -1) != LUA_TNUMBER) luaL_error(L, "%s: expected a number", what);
  v = lua_tonumber(L, -1);
  lua_pop(L, 1);
  if (!(v >= lo && v <= hi)) {
    char range[64];
    snprintf(range, sizeof range, "%g..%g", lo, hi);  /* lua_pushfstring has no %g */
    luaL_error(L, "%s: expected %s", what, range);
  }
  return v;
}

static void check_cfg_keys(lua_State *L, int idx, const char *path, const char *const *allowed) {
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    int i, ok = 0;
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "%s: unexpected non-string key", path);
    for (i = 0; allowed[i]; i++)
      if (strcmp(lua_tostring(L, -1), allowed[i]) == 0) ok = 1;
    if (!ok) luaL_error(L, "%s: unknown field '%s'", path, lua_tostring(L, -1));
  }
}

static void read_extra(lua_State *L, int idx, sim_scenario *sc, sim_ncs_config *cfg) {
  static const char *const keys[] = {"sid", "at", "type", "details", NULL};
  lua_Integer n = luaL_len(L, idx), i;
  if (n < 0 || n > NCS_MAX_EXTRA) luaL_error(L, "agora_ncs.events: too many entries");
  cfg->extra = calloc(n ? (size_t)n : 1, sizeof *cfg->extra);
  if (!cfg->extra) luaL_error(L, "out of memory");
  for (i = 1; i <= n; i++) {
    ncs_extra *x = &cfg->extra[i - 1];
    char path[64];
    const char *sid;
    sbuf *b = &cfg->tmp;
    size_t r;
    int e;
    snprintf(path, sizeof path, "agora_ncs.events[%d]", (int)i);
    lua_geti(L, idx, i);
    if (!lua_istable(L, -1)) luaL_error(L, "%s: expected a table", path);
    e = lua_gettop(L);
    check_cfg_keys(L, e, path, keys);
    lua_getfield(L, e, "sid");
    if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "%s.sid: expected a string", path);
    sid = lua_tostring(L, -1);
    for (r = 0; r < sc->nrecs && strcmp(sc->recs[r].sid, sid) != 0; r++) {}
    if (r == sc->nrecs) luaL_error(L, "%s.sid: no recording in agora_recordings has this sid", path);
    lua_pop(L, 1);
    x->rec = r;
    x->at = cfg_num(L, e, "at", 0, 0, 1e9, "agora_ncs.events[].at");
    x->type = (int)cfg_num(L, e, "type", -1, 1, 100000, "agora_ncs.events[].type");
    lua_getfield(L, e, "type");
    if (!lua_isinteger(L, -1)) luaL_error(L, "%s.type: expected an integer event type", path);
    lua_pop(L, 1);
    lua_getfield(L, e, "details");
    if (!lua_isnil(L, -1) && !lua_istable(L, -1))
      luaL_error(L, "%s.details: expected a table", path);
    /* details as JSON; msgName from the type unless given */
    {
      int has_name = 0;
      if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "msgName");
        has_name = !lua_isnil(L, -1);
        lua_pop(L, 1);
      } else {
        lua_pop(L, 1);
        lua_newtable(L);
      }
      if (!has_name && msg_name(x->type)) {
        lua_pushstring(L, msg_name(x->type));
        lua_setfield(L, -2, "msgName");
      }
      b->len = 0;
      lua_to_json(L, -1, b, 0, path);
    }
    if (!b->p || b->len == 0 || b->p[0] != '{')
      luaL_error(L, "%s.details: expected a table of named fields", path);
    if (b->len > NCS_DETAILS_MAX)  /* the body must fit a receiver's cap (httpd: 64 KiB) */
      luaL_error(L, "%s.details: over %d bytes as JSON", path, NCS_DETAILS_MAX);
    if (!(x->details = malloc(b->len + 1))) luaL_error(L, "out of memory");
    memcpy(x->details, b->p, b->len);
    x->details[b->len] = '\0';
    cfg->nextra = (size_t)i;
    lua_pop(L, 2);
  }
}

void sim_events_read_config(lua_State *L, int root, sim_scenario *sc) {
  static const char *const keys[] = {"url", "secret", "uid", "retry_delays", "resends",
                                     "timeout", "progress_every", "timeline", "queue_cap",
                                     "events", NULL};
  sim_ncs_config *cfg;
  int t;
  lua_getfield(L, root, "agora_ncs");
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return;
  }
  if (!lua_istable(L, -1)) luaL_error(L, "scenario.agora_ncs: expected a table");
  t = lua_gettop(L);
  check_cfg_keys(L, t, "agora_ncs", keys);
  if (!(cfg = calloc(1, sizeof *cfg))) luaL_error(L, "out of memory");
  sc->ncs = cfg;  /* from here on freed with the scenario, whatever fails */
  cfg->delays[0] = 10;
  cfg->delays[1] = 30;
  cfg->delays[2] = 60;
  cfg->url = cfg_str(L, t, "url", NULL);
  cfg->secret = cfg_str(L, t, "secret", NULL);
  cfg->uid = cfg_str(L, t, "uid", "10001");
  if (cfg->url && (!cfg->secret || !cfg->secret[0]))
    luaL_error(L, "agora_ncs: a url needs a secret (the NCS secret events are signed with)");
  cfg->resends = (int)cfg_num(L, t, "resends", NCS_MAX_RESENDS, 0, NCS_MAX_RESENDS,
                              "agora_ncs.resends");
  lua_getfield(L, t, "retry_delays");
  if (!lua_isnil(L, -1)) {
    int i, d = lua_gettop(L);
    if (!lua_istable(L, d) || luaL_len(L, d) != NCS_MAX_RESENDS)
      luaL_error(L, "agora_ncs.retry_delays: expected 3 numbers of seconds");
    for (i = 0; i < NCS_MAX_RESENDS; i++) {
      lua_geti(L, d, i + 1);
      if (lua_type(L, -1) != LUA_TNUMBER || !(lua_tonumber(L, -1) >= 0.001) ||
          !(lua_tonumber(L, -1) <= 86400))
        luaL_error(L, "agora_ncs.retry_delays: expected seconds in 0.001..86400");
      cfg->delays[i] = lua_tonumber(L, -1);
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  cfg->timeout = cfg_num(L, t, "timeout", 10, 0.01, 600, "agora_ncs.timeout");
  cfg->progress_every = cfg_num(L, t, "progress_every", 0, 0, 86400, "agora_ncs.progress_every");
  if (cfg->progress_every > 0 && cfg->progress_every < 1)
    luaL_error(L, "agora_ncs.progress_every: expected 0 (none) or at least 1 second");
  lua_getfield(L, t, "timeline");
  if (!lua_isnil(L, -1) && !lua_isboolean(L, -1))
    luaL_error(L, "agora_ncs.timeline: expected a boolean");
  cfg->timeline = lua_isnil(L, -1) || lua_toboolean(L, -1);
  lua_pop(L, 1);
  cfg->queue_cap = (long)cfg_num(L, t, "queue_cap", NCS_QUEUE_CAP, 1, 1000000, "agora_ncs.queue_cap");
  lua_getfield(L, t, "events");
  if (!lua_isnil(L, -1)) {
    if (!lua_istable(L, -1)) luaL_error(L, "agora_ncs.events: expected a list");
    read_extra(L, lua_gettop(L), sc, cfg);
  }
  lua_pop(L, 2);
}

void sim_events_free_config(sim_scenario *sc) {
  sim_ncs_config *cfg = sc ? sc->ncs : NULL;
  size_t i;
  if (!cfg) return;
  free(cfg->url);
  if (cfg->secret) {
    memset(cfg->secret, 0, strlen(cfg->secret));
    free(cfg->secret);
  }
  free(cfg->uid);
  for (i = 0; i < cfg->nextra; i++) free(cfg->extra[i].details);
  free(cfg->extra);
  sbuf_free(&cfg->tmp);
  free(cfg);
  sc->ncs = NULL;
}

/* ---------------------------------------------------------------- the plan */

typedef struct plan_ev {
  double t;
  int type;
  size_t rec;
  char *details;     /* JSON object text, owned */
  size_t order;      /* stable sort */
} plan_ev;

struct sim_events_plan {
  sim_scenario *sc;
  plan_ev *ev;
  size_t n, cap;
  int oom;
  long *seq;         /* per recording, for sim_events_plan_get */
  sbuf payload;
};

static void plan_add(sim_events_plan *p, double t, int type, size_t rec, sbuf *details) {
  plan_ev *e;
  if (!details->p) p->oom = 1;
  if (p->oom) {
    sbuf_free(details);
    return;
  }
  if (p->n == p->cap) {
    size_t ncap = p->cap ? 2 * p->cap : 64;
    plan_ev *g = realloc(p->ev, ncap * sizeof *g);
    if (!g) {
      p->oom = 1;
      sbuf_free(details);
      return;
    }
    p->ev = g;
    p->cap = ncap;
  }
  e = &p->ev[p->n];
  e->t = t;
  e->type = type;
  e->rec = rec;
  e->details = details->p;
  e->order = p->n++;
  memset(details, 0, sizeof *details);
}

static long long wall_ms(const sim_scenario *sc, double t) {
  return (long long)sc->wall0 * 1000 + (long long)(t * 1000.0 + (t >= 0 ? 0.5 : -0.5));
}

static void first_file(const sim_ag_rec *r, const char **name) {
  *name = r->nfiles ? r->files[0].file_name : r->file_list_string ? r->file_list_string : "";
}

/* The events one recording's timeline makes (docs/simulator.md, "NCS events"). */
static void plan_recording(sim_events_plan *p, size_t ri) {
  const sim_ag_rec *r = &p->sc->recs[ri];
  int prev = -1, seen5 = 0, ended = 0;
  size_t i, f;
  const char *m3u8;
  first_file(r, &m3u8);
  for (i = 0; i < r->nsteps && !ended; i++) {
    double t = r->steps[i].t;
    int st = r->steps[i].status;
    sbuf d = {0};
    if (i == 0) {
      sbuf_addf(&d, "{\"msgName\":\"recorder_started\",\"startUtcMs\":%lld}", wall_ms(p->sc, t));
      plan_add(p, t, 40, ri, &d);
      sbuf_adds(&d, "{\"msgName\":\"uploader_started\",\"status\":0}");
      plan_add(p, t, 30, ri, &d);
    }
    if (st != prev) {
      sbuf_addf(&d, "{\"msgName\":\"cloud_recording_status_update\",\"status\":%d", st);
      if (!r->mode_web)
        sbuf_addf(&d, ",\"recordingMode\":%d", strcmp(r->mode, "individual") == 0 ? 0 : 1);
      sbuf_adds(&d, ",\"fileList\":");
      sbuf_add_json_str(&d, m3u8, strlen(m3u8));
      sbuf_adds(&d, "}");
      plan_add(p, t, 3, ri, &d);
    }
    if (st == 5 && !seen5) {
      seen5 = 1;
      sbuf_adds(&d, "{\"msgName\":\"cloud_recording_file_infos\",\"fileList\":");
      sbuf_add_json_str(&d, m3u8, strlen(m3u8));
      sbuf_adds(&d, "}");
      plan_add(p, t, 4, ri, &d);
    }
    if (st == 8) {
      sbuf_adds(&d, "{\"msgName\":\"recorder_leave\",\"leaveCode\":2}");
      plan_add(p, t, 41, ri, &d);
      sbuf_adds(&d, "{\"msgName\":\"uploaded\",\"status\":0,\"fileList\":[");
      for (f = 0; f < r->nfiles; f++) {
        const sim_ag_file *fl = &r->files[f];
        long long sst = fl->slice_start_time ? fl->slice_start_time : r->slice_start_time;
        if (f) sbuf_add(&d, ",", 1);
        sbuf_adds(&d, "{\"fileName\":");
        sbuf_add_json_str(&d, fl->file_name, strlen(fl->file_name));
        sbuf_addf(&d, ",\"sliceStartTime\":%lld}", sst);
      }
      sbuf_adds(&d, "]}");
      plan_add(p, t, 31, ri, &d);
      sbuf_adds(&d, "{\"msgName\":\"session_exit\",\"exitStatus\":0}");
      plan_add(p, t, 11, ri, &d);
      ended = 1;
    } else if (st == 20) {
      sbuf_adds(&d, "{\"msgName\":\"cloud_recording_error\",\"module\":2,\"errorLevel\":5,"
                    "\"errorCode\":50,\"errorMsg\":\"upload timeout\"}");
      plan_add(p, t, 1, ri, &d);
      sbuf_adds(&d, "{\"msgName\":\"session_exit\",\"exitStatus\":1}");
      plan_add(p, t, 11, ri, &d);
      ended = 1;
    }
    prev = st;
  }
}

static int cmp_plan(const void *a, const void *b) {
  const plan_ev *x = a, *y = b;
  if (x->t != y->t) return x->t < y->t ? -1 : 1;
  return x->order < y->order ? -1 : x->order > y->order ? 1 : 0;
}

sim_events_plan *sim_events_plan_new(sim_scenario *sc) {
  sim_events_plan *p = calloc(1, sizeof *p);
  sim_ncs_config *cfg = sc->ncs;
  size_t i;
  if (!p) return NULL;
  p->sc = sc;
  if (!cfg || cfg->timeline)
    for (i = 0; i < sc->nrecs; i++) plan_recording(p, i);
  for (i = 0; cfg && i < cfg->nextra; i++) {
    sbuf d = {0};
    sbuf_adds(&d, cfg->extra[i].details);
    plan_add(p, cfg->extra[i].at, cfg->extra[i].type, cfg->extra[i].rec, &d);
  }
  p->seq = calloc(sc->nrecs ? sc->nrecs : 1, sizeof *p->seq);
  if (p->oom || !p->seq) {
    sim_events_plan_free(p);
    return NULL;
  }
  if (p->n) qsort(p->ev, p->n, sizeof *p->ev, cmp_plan);
  return p;
}

void sim_events_plan_free(sim_events_plan *p) {
  size_t i;
  if (!p) return;
  for (i = 0; i < p->n; i++) free(p->ev[i].details);
  free(p->ev);
  free(p->seq);
  sbuf_free(&p->payload);
  free(p);
}

/* {"cname":..,"uid":..,"sid":..,"sequence":..,"sendts":..,"serviceType":0,"details":{..}} */
static void build_payload(sbuf *b, const sim_scenario *sc, size_t rec, long seq,
                          long long sendts, const char *details) {
  const sim_ag_rec *r = &sc->recs[rec];
  const char *uid = sc->ncs && sc->ncs->uid ? sc->ncs->uid : "10001";
  b->len = 0;
  sbuf_adds(b, "{\"cname\":");
  sbuf_add_json_str(b, r->channel, strlen(r->channel));
  sbuf_adds(b, ",\"uid\":");
  sbuf_add_json_str(b, uid, strlen(uid));
  sbuf_adds(b, ",\"sid\":");
  sbuf_add_json_str(b, r->sid, strlen(r->sid));
  sbuf_addf(b, ",\"sequence\":%ld,\"sendts\":%lld,\"serviceType\":0,\"details\":%s}", seq,
            sendts, details);
}

const char *sim_events_plan_get(sim_events_plan *p, size_t i, double *t, int *type) {
  plan_ev *e;
  if (!p || i >= p->n) return NULL;
  if (i == 0) memset(p->seq, 0, p->sc->nrecs * sizeof *p->seq);
  e = &p->ev[i];
  build_payload(&p->payload, p->sc, e->rec, p->seq[e->rec]++, wall_ms(p->sc, e->t), e->details);
  if (t) *t = e->t;
  if (type) *type = e->type;
  return p->payload.p;
}

size_t sim_events_body(char *out, size_t cap, const char *notice_id, int type,
                       long long notify_ms, const char *payload) {
  int n = snprintf(out, cap, "{\"noticeId\":\"%s\",\"productId\":3,\"eventType\":%d,"
                             "\"notifyMs\":%lld,\"payload\":%s}",
                   notice_id, type, notify_ms, payload);
  return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static void to_hex(const unsigned char *in, size_t n, char *out) {
  static const char digits[] = "0123456789abcdef";
  size_t i;
  for (i = 0; i < n; i++) {
    out[2 * i] = digits[in[i] >> 4];
    out[2 * i + 1] = digits[in[i] & 15];
  }
  out[2 * n] = '\0';
}

int sim_events_sign(const char *secret, const void *body, size_t len, char v1[41],
                    char v2[65]) {
  unsigned char m1[20], m2[32];
  size_t kl = strlen(secret);
  if (crypto_hmac_sha1(secret, kl, body, len, m1) != 0 ||
      crypto_hmac_sha256(secret, kl, body, len, m2) != 0)
    return -1;
  to_hex(m1, 20, v1);
  to_hex(m2, 32, v2);
  return 0;
}

/* ---------------------------------------------------------------- the sender */

typedef struct sim_events sim_events;

typedef struct dlv {  /* one event on its way: waiting, delayed, in flight or between resends */
  rtimer_t timer;
  sim_events *ev;
  http_req_t *req;
  char notice_id[40];
  int type, attempt, mis_sign;
  char *payload;
  struct dlv *prev, *next;
} dlv;

struct sim_events {
  sim_t *sim;
  sim_events_plan *plan;
  size_t next;           /* the plan's next event */
  long *seq;             /* per recording */
  rtimer_t due, progress;
  http_client_t *http;
  int source;            /* registered as a busy source of the clock */
  char *url, *secret;
  dlv *dlvs;
  long ndlv, numbered;   /* deliveries alive; events numbered so far (faults' nth) */
  int warned_cap;
  uint64_t rng;
  sbuf payload;
  sim_events_stats st;
};

static sim_ncs_config *cfg_of(sim_events *ev) { return ev->sim->sc->ncs; }

/* Sim seconds, as sim_now computes them (not called: sim.c calls this file, not back). */
static double sim_time(sim_events *ev) {
  return rclock_now(ev->sim->clock) - ev->sim->t0 + ev->sim->t_offset;
}

static void dlv_free(dlv *d) {
  sim_events *ev = d->ev;
  if (d->req) http_cancel(d->req);
  rtimer_stop(&d->timer);
  if (d->prev) d->prev->next = d->next;
  else ev->dlvs = d->next;
  if (d->next) d->next->prev = d->prev;
  ev->ndlv--;
  free(d->payload);
  free(d);
}

static void dlv_fire(rtimer_t *t);

static void on_done(void *ud, const http_response *res, const rec_err *err) {
  dlv *d = ud;
  sim_events *ev = d->ev;
  sim_ncs_config *cfg = cfg_of(ev);
  int resends = cfg ? cfg->resends : NCS_MAX_RESENDS;
  d->req = NULL;
  if (res && res->status == 200) {
    ev->st.delivered++;
    log_debug("sim: NCS event %s (type %d) delivered", d->notice_id, d->type);
    dlv_free(d);
    return;
  }
  if (d->attempt > resends) {
    ev->st.gave_up++;
    log_warn("sim: NCS event %s (type %d) not delivered after %d attempt(s) (last: %s)",
             d->notice_id, d->type, d->attempt, res ? "a non-200 answer" : "no answer");
    dlv_free(d);
    return;
  }
  ev->st.resent++;
  log_debug("sim: NCS event %s (type %d): %s%ld, resent in %g s", d->notice_id, d->type,
            res ? "HTTP " : "", res ? res->status : (long)(err ? err->kind : 0),
            cfg ? cfg->delays[d->attempt - 1] : 10.0);
  rtimer_start(&d->timer, cfg ? cfg->delays[d->attempt - 1] : 10.0);
}

static void dlv_fire(rtimer_t *t) {
  dlv *d = t->data;
  sim_events *ev = d->ev;
  sim_ncs_config *cfg = cfg_of(ev);
  char body[NCS_BODY_MAX], v1[41], v2[65], h1[64], h2[96];
  const char *headers[4];
  http_request r;
  rec_err err;
  size_t n;
  long long notify_ms = (long long)(rclock_time(ev->sim->clock) * 1000.0);
  if (!ev->url) {
    ev->st.no_target++;
    dlv_free(d);
    return;
  }
  n = sim_events_body(body, sizeof body, d->notice_id, d->type, notify_ms, d->payload);
  if (n == 0 || sim_events_sign(ev->secret, body, n, v1, v2) != 0) {
    log_warn("sim: NCS event %s (type %d) could not be built or signed", d->notice_id, d->type);
    dlv_free(d);
    return;
  }
  if (d->mis_sign) {  /* a wrong signature of the right shape: the last digit changed */
    v1[39] = v1[39] == '0' ? '1' : '0';
    v2[63] = v2[63] == '0' ? '1' : '0';
  }
  snprintf(h1, sizeof h1, "Agora-Signature: %s", v1);
  snprintf(h2, sizeof h2, "Agora-Signature-V2: %s", v2);
  headers[0] = "Content-Type: application/json";
  headers[1] = h1;
  headers[2] = h2;
  headers[3] = NULL;
  memset(&r, 0, sizeof r);
  r.method = "POST";
  r.url = ev->url;
  r.headers = headers;
  r.body = body;
  r.body_len = n;
  r.timeout = cfg ? cfg->timeout : 10;
  r.max_reply = 65536;
  d->attempt++;
  ev->st.attempts++;
  d->req = http_send(ev->http, &r, on_done, d, &err);
  if (!d->req) {
    log_warn("sim: NCS event %s (type %d) not sent: %s", d->notice_id, d->type, err.message);
    dlv_free(d);
  }
}

static void dlv_new(sim_events *ev, const char *notice_id, int type, const char *payload,
                    double delay, int mis_sign) {
  sim_ncs_config *cfg = cfg_of(ev);
  long cap = cfg ? cfg->queue_cap : NCS_QUEUE_CAP;
  dlv *d;
  if (ev->ndlv >= cap) {
    ev->st.over_cap++;
    if (!ev->warned_cap)
      log_warn("sim: NCS events queue full (%ld waiting or in flight): later events are not "
               "sent until it drains", cap);
    ev->warned_cap = 1;
    return;
  }
  if (!(d = calloc(1, sizeof *d)) || !(d->payload = strdup(payload))) {
    free(d);
    ev->st.over_cap++;
    return;
  }
  ev->warned_cap = 0;
  d->ev = ev;
  snprintf(d->notice_id, sizeof d->notice_id, "%s", notice_id);
  d->type = type;
  d->mis_sign = mis_sign;
  rtimer_init(ev->sim->clock, &d->timer, dlv_fire, d);
  if (ev->sim->embedded) rtimer_unref(&d->timer);
  d->next = ev->dlvs;
  if (ev->dlvs) ev->dlvs->prev = d;
  ev->dlvs = d;
  ev->ndlv++;
  rtimer_start(&d->timer, delay);
}

/* The first `ncs` fault that applies to the n-th event (payload: its JSON), or NULL. */
static sim_fault *pick_ncs_fault(sim_events *ev, long n, const char *payload) {
  sim_scenario *sc = ev->sim->sc;
  double now = sim_time(ev);
  size_t i;
  for (i = 0; i < sc->nfaults; i++) {
    sim_fault *f = &sc->faults[i];
    if (f->provider != SIM_P_NCS) continue;
    if (now < f->after || (f->before >= 0 && now >= f->before)) continue;
    if (f->times > 0 && f->fired >= f->times) continue;
    if (f->match && !strstr(payload, f->match)) continue;
    if (sim_fault_fires(f, n)) return f;
  }
  return NULL;
}

/* An event falls due: numbered, given its noticeId, sequence and sendts, then the faults. */
static void emit(sim_events *ev, double t, int type, size_t rec, const char *details) {
  sim_fault *f;
  char id[40];
  uint64_t a = sim_rng_next(&ev->rng), b = sim_rng_next(&ev->rng);
  long n = ++ev->numbered;
  ev->st.generated++;
  build_payload(&ev->payload, ev->sim->sc, rec, ev->seq[rec]++, wall_ms(ev->sim->sc, t), details);
  if (!ev->payload.p) return;
  /* a UUID-shaped id, unique per event (the counter), reproducible (the scenario's seed) */
  snprintf(id, sizeof id, "%08lx-%04x-4%03x-a%03x-%012llx", (unsigned long)(n & 0xffffffffL),
           (unsigned)(a & 0xffff), (unsigned)((a >> 16) & 0xfff), (unsigned)(b & 0xfff),
           (unsigned long long)((b >> 12) & 0xffffffffffffULL));
  f = pick_ncs_fault(ev, n, ev->payload.p);
  if (f && f->kind == SIM_F_DROP) {
    ev->st.dropped++;
    log_debug("sim: NCS event %s (type %d) dropped (fault)", id, type);
    return;
  }
  if (f && f->kind == SIM_F_DELAY) ev->st.delayed++;
  if (f && f->kind == SIM_F_MIS_SIGN) ev->st.mis_signed++;
  dlv_new(ev, id, type, ev->payload.p, f && f->kind == SIM_F_DELAY ? f->delay_ms / 1000.0 : 0,
          f && f->kind == SIM_F_MIS_SIGN);
  if (f && f->kind == SIM_F_DUPLICATE) {  /* the same event again: same noticeId */
    ev->st.duplicated++;
    dlv_new(ev, id, type, ev->payload.p, 0, 0);
  }
}

static void arm_due(sim_events *ev) {
  if (ev->next < ev->plan->n) {
    double at = ev->plan->ev[ev->next].t - sim_time(ev);
    rtimer_start(&ev->due, at > 0 ? at : 0);
  }
}

static void on_due(rtimer_t *t) {
  sim_events *ev = t->data;
  double now = sim_time(ev);
  while (ev->next < ev->plan->n && ev->plan->ev[ev->next].t <= now + 1e-9) {
    plan_ev *e = &ev->plan->ev[ev->next++];
    emit(ev, e->t, e->type, e->rec, e->details);
  }
  arm_due(ev);
}

/* uploading_progress (33) for every recording in progress (status 4 or 5), every
 * progress_every seconds; progress grows 1% a minute from the recording's first step. */
static void on_progress(rtimer_t *t) {
  sim_events *ev = t->data;
  sim_scenario *sc = ev->sim->sc;
  double now = sim_time(ev);
  size_t i;
  for (i = 0; i < sc->nrecs; i++) {
    sim_ag_rec *r = &sc->recs[i];
    size_t k = 0;
    char d[96];
    long p;
    while (k < r->nsteps && r->steps[k].t <= now) k++;  /* k - 1: the current step */
    if (k == 0 || (r->steps[k - 1].status != 4 && r->steps[k - 1].status != 5)) continue;
    p = (long)((now - r->steps[0].t) / 60.0 * 100.0);
    snprintf(d, sizeof d, "{\"msgName\":\"uploading_progress\",\"progress\":%ld}",
             p < 0 ? 0 : p > 10000 ? 10000 : p);
    emit(ev, now, 33, i, d);
  }
  rtimer_start(&ev->progress, cfg_of(ev)->progress_every);
}

static int events_busy(void *ud) {
  sim_events *ev = ud;
  return ev->http && http_busy(ev->http);
}

/* The first target: the HTTP client, the plan, the timers. Nothing of this exists in a
 * simulator nobody asked for events (no timer, so virtual time jumps as before). */
static int sender_init(sim_events *ev) {
  sim_t *sim = ev->sim;
  http_client_options ho;
  if (ev->http) return 0;
  if (!ev->plan && !(ev->plan = sim_events_plan_new(sim->sc))) return -1;
  if (!ev->seq && !(ev->seq = calloc(sim->sc->nrecs ? sim->sc->nrecs : 1, sizeof *ev->seq)))
    return -1;
  memset(&ho, 0, sizeof ho);
  ho.max_reply = 65536;
  ho.max_host_connections = 16;
  if (!(ev->http = http_client_new(sim->loop, &ho))) return -1;
  http_client_set_clock(ev->http, sim->clock);
  ev->source = rclock_add_source(sim->clock, events_busy, ev) == 0;
  return 0;
}

/* (Re)starts the timers: events that fell due before the target was set are sent now (a
 * receiver that starts a moment after the simulator misses nothing); those before the
 * simulator's own start (sim_options.start_at) happened before it and are never sent. */
static void schedule(sim_events *ev) {
  sim_ncs_config *cfg = cfg_of(ev);
  double start = ev->sim->t_offset;
  while (ev->next < ev->plan->n && ev->plan->ev[ev->next].t < start - 1e-9) {
    ev->seq[ev->plan->ev[ev->next].rec]++;
    ev->next++;
  }
  arm_due(ev);
  if (cfg && cfg->progress_every > 0 && !rtimer_active(&ev->progress))
    rtimer_start(&ev->progress, cfg->progress_every);
}

int sim_events_target(sim_t *sim, const char *url, const char *secret) {
  sim_events *ev = sim ? sim->events : NULL;
  char *u = NULL, *s = NULL;
  rec_err err;
  if (!ev) return -1;
  if (url) {
    size_t n;
    if (!secret || !secret[0]) return -1;
    n = strlen(sim->base_url) + strlen(url) + 1;
    if (!(u = malloc(n))) return -1;
    if (url[0] == '/') snprintf(u, n, "%s%s", sim->base_url, url);
    else snprintf(u, n, "%s", url);
    if (http_check_url(u, strlen(u), &err) != 0 || !(s = strdup(secret)) ||
        sender_init(ev) != 0) {
      free(u);
      free(s);
      return -1;
    }
    log_add_secret(s);
  }
  free(ev->url);
  if (ev->secret) {
    memset(ev->secret, 0, strlen(ev->secret));
    free(ev->secret);
  }
  ev->url = u;
  ev->secret = s;
  if (u) {
    schedule(ev);
  } else if (ev->http) {
    rtimer_stop(&ev->due);
    rtimer_stop(&ev->progress);
  }
  return 0;
}

void sim_events_get_stats(sim_t *sim, sim_events_stats *out) {
  memset(out, 0, sizeof *out);
  if (sim && sim->events) *out = sim->events->st;
}

int sim_events_start(sim_t *sim, char *err, size_t errlen) {
  sim_events *ev = calloc(1, sizeof *ev);
  sim_ncs_config *cfg = sim->sc->ncs;
  if (!ev) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  ev->sim = sim;
  ev->rng = sim->sc->seed * 0x9E3779B97F4A7C15ULL + 0x4E435345ULL;  /* "NCSE" */
  if (!ev->rng) ev->rng = 1;
  rtimer_init(sim->clock, &ev->due, on_due, ev);
  rtimer_init(sim->clock, &ev->progress, on_progress, ev);
  if (sim->embedded) {
    rtimer_unref(&ev->due);
    rtimer_unref(&ev->progress);
  }
  sim->events = ev;
  if (cfg && cfg->url && sim_events_target(sim, cfg->url, cfg->secret) != 0) {
    snprintf(err, errlen, "scenario agora_ncs.url: not an http(s) URL or a path on the "
             "simulator (or out of memory)");
    sim_events_stop(sim);
    return -1;
  }
  return 0;
}

void sim_events_stop(sim_t *sim) {
  sim_events *ev = sim ? sim->events : NULL;
  if (!ev) return;
  if (ev->st.generated)
    log_info("sim: NCS events: %ld due, %ld delivered, %ld resent, %ld given up, %ld dropped, "
             "%ld not sent (no target), %ld refused (queue full)", ev->st.generated,
             ev->st.delivered, ev->st.resent, ev->st.gave_up, ev->st.dropped, ev->st.no_target,
             ev->st.over_cap);
  while (ev->dlvs) dlv_free(ev->dlvs);
  rtimer_stop(&ev->due);
  rtimer_stop(&ev->progress);
  if (ev->source) rclock_remove_source(sim->clock, ev);
  if (ev->http) http_client_free(ev->http);
  free(ev->url);
  if (ev->secret) {
    memset(ev->secret, 0, strlen(ev->secret));
    free(ev->secret);
  }
  sim_events_plan_free(ev->plan);
  sbuf_free(&ev->payload);
  free(ev->seq);
  free(ev);
  sim->events = NULL;
}
