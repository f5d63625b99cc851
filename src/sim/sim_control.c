/* sim_control: the control calls of both services as the reference documents them, with
 * their state: Agora resource ids (5 minutes, one session), sessions (7, 53, the
 * concurrency limit, maxIdleTime, stop's uploadingStatus or 49/435/404), QingCloud tasks
 * (start, a channel's stop, the auto stop), and the billed-task count. Request bodies are
 * decoded with jdec in a small lua_State of their own; nothing secret is kept. */
#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "jdec.h"
#include "sim_control.h"

#define CTL_MAX 100000  /* resource ids, sessions or QingCloud tasks one simulator keeps */

typedef struct ctl_chan {      /* control.channels[i]: one channel's story */
  char *name;
  double (*pub)[2];            /* publishing intervals [from, to), sorted by from */
  size_t npub;
  int pub_set;                 /* 0: someone publishes all the time */
  sim_step *steps;             /* a started Agora session's timeline, from its start */
  size_t nsteps;
  char *uploading;             /* stop's uploadingStatus */
  double (*tl)[2];             /* the timeline's pairs while they are read (freed after; held
                                  here so an error raised meanwhile leaks nothing) */
} ctl_chan;

typedef struct ag_res {
  char *appid, *rid, *cname, *uid;
  double t;
  long ses;                    /* the session it served, -1 none */
} ag_res;

typedef struct ag_ses {
  char *appid, *rid, *sid, *cname, *uid, *mode;
  double t0, t_stop;           /* t_stop: INFINITY until stopped */
  double max_idle;             /* 0: never idle (web) */
  const ctl_chan *ch;
} ag_ses;

typedef struct qc_run {
  char *app_id, *project_id, *channel, *ak;
  long long id;
  int is_mix;
  double t0, t_stop;
  const ctl_chan *ch;
} qc_run;

struct sim_ctl {
  double resource_ttl, qc_idle_stop, qc_upload_lag;
  long concurrency;
  ctl_chan *chans;
  size_t nchans;
  ag_res *res;
  size_t nres, capres;
  ag_ses *ses;
  size_t nses, capses;
  qc_run *qc;
  size_t nqc, capqc;
  long billed_agora, billed_qc;
  lua_State *J;                /* request bodies, decoded by jdec */
  sbuf out;
};

static const sim_step default_steps[] = {{0, 1}, {1, 4}, {2, 5}};

/* The step a timeline is at, t seconds after its start (-1 before the first). Its own
 * copy of sim_step_at: sim_scenario.c calls this file, so this one does not call back. */
static int step_at(const sim_step *steps, size_t n, double t) {
  int i, found = -1;
  for (i = 0; i < (int)n && steps[i].t <= t; i++) found = i;
  return found;
}

/* ---------------------------------------------------------------- scenario */

static int num_field(lua_State *L, int t, const char *k, const char *path, double lo, double hi,
                     double *out) {
  double v;
  if (lua_getfield(L, t, k) == LUA_TNIL) {
    lua_pop(L, 1);
    return 0;
  }
  if (lua_type(L, -1) != LUA_TNUMBER) luaL_error(L, "%s.%s: expected a number", path, k);
  v = lua_tonumber(L, -1);
  if (!(v >= lo && v <= hi)) luaL_error(L, "%s.%s: expected %g..%g", path, k, lo, hi);
  lua_pop(L, 1);
  *out = v;
  return 1;
}

static void only_keys(lua_State *L, int t, const char *path, const char *const *keys) {
  lua_pushnil(L);
  while (lua_next(L, t)) {
    const char *k;
    int i, ok = 0;
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "%s: unexpected non-string key", path);
    k = lua_tostring(L, -1);
    for (i = 0; keys[i]; i++) ok |= strcmp(k, keys[i]) == 0;
    if (!ok) luaL_error(L, "%s: unknown field '%s'", path, k);
  }
}

static char *dup_or_raise(lua_State *L, const char *s) {
  char *p = strdup(s);
  if (!p) luaL_error(L, "out of memory");
  return p;
}

static int cmp_pub(const void *a, const void *b) {
  const double *x = a, *y = b;
  return x[0] < y[0] ? -1 : x[0] > y[0];
}

/* {{a, b}, ...} pairs of numbers within +-1e9 into *out (n pairs); a list of {t, status}
 * with steps = 1. */
static void read_pairs(lua_State *L, int t, const char *path, double (**out)[2], size_t *n) {
  lua_Integer len = luaL_len(L, t), i;
  if (len < 0 || len > CTL_MAX) luaL_error(L, "%s: too many entries", path);
  *out = calloc((size_t)len + 1, sizeof **out);
  if (!*out) luaL_error(L, "out of memory");
  for (i = 1; i <= len; i++) {
    int k;
    if (lua_geti(L, t, i) != LUA_TTABLE) luaL_error(L, "%s[%d]: expected {from, to}", path, (int)i);
    for (k = 0; k < 2; k++) {
      lua_geti(L, -1, k + 1);
      if (lua_type(L, -1) != LUA_TNUMBER) luaL_error(L, "%s[%d]: expected two numbers", path, (int)i);
      (*out)[i - 1][k] = lua_tonumber(L, -1);
      if (!((*out)[i - 1][k] >= -1e9 && (*out)[i - 1][k] <= 1e9))
        luaL_error(L, "%s[%d]: a time within +-1e9 seconds", path, (int)i);
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
    *n = (size_t)i;
  }
}

static void read_chan(lua_State *L, int t, const char *path, ctl_chan *c) {
  static const char *const keys[] = {"channel", "publish", "timeline", "uploading", NULL};
  size_t i;
  only_keys(L, t, path, keys);
  if (lua_getfield(L, t, "channel") != LUA_TSTRING) luaL_error(L, "%s.channel: expected a string", path);
  c->name = dup_or_raise(L, lua_tostring(L, -1));
  lua_pop(L, 1);
  if (lua_getfield(L, t, "publish") != LUA_TNIL) {
    char p[96];
    if (!lua_istable(L, -1)) luaL_error(L, "%s.publish: expected a list of {from, to}", path);
    snprintf(p, sizeof p, "%s.publish", path);
    c->pub_set = 1;
    read_pairs(L, lua_gettop(L), p, &c->pub, &c->npub);
    for (i = 0; i < c->npub; i++)
      if (c->pub[i][1] < c->pub[i][0]) luaL_error(L, "%s[%d]: to before from", p, (int)i + 1);
    qsort(c->pub, c->npub, sizeof *c->pub, cmp_pub);
  }
  lua_pop(L, 1);
  if (lua_getfield(L, t, "timeline") != LUA_TNIL) {
    char p[96];
    size_t n = 0;
    if (!lua_istable(L, -1)) luaL_error(L, "%s.timeline: expected {{seconds, status}, ...}", path);
    snprintf(p, sizeof p, "%s.timeline", path);
    read_pairs(L, lua_gettop(L), p, &c->tl, &n);
    c->steps = calloc(n + 1, sizeof *c->steps);
    if (!c->steps) luaL_error(L, "out of memory");
    for (i = 0; i < n; i++) {
      c->steps[i].t = c->tl[i][0];
      c->steps[i].status = (int)c->tl[i][1];
    }
    c->nsteps = n;
    free(c->tl);
    c->tl = NULL;
    for (i = 0; i < n; i++)
      if (c->steps[i].t < 0 || (i && c->steps[i].t < c->steps[i - 1].t) ||
          c->steps[i].status < 0 || c->steps[i].status > 100)
        luaL_error(L, "%s[%d]: times >= 0 and non-decreasing, statuses 0..100", p, (int)i + 1);
    if (!n) luaL_error(L, "%s: needs at least one step", p);
  }
  lua_pop(L, 1);
  if (lua_getfield(L, t, "uploading") != LUA_TNIL) {
    const char *u = lua_tostring(L, -1);
    if (lua_type(L, -1) != LUA_TSTRING ||
        (strcmp(u, "uploaded") && strcmp(u, "backuped") && strcmp(u, "unknown")))
      luaL_error(L, "%s.uploading: expected uploaded, backuped or unknown", path);
    c->uploading = dup_or_raise(L, u);
  }
  lua_pop(L, 1);
}

void sim_ctl_read(lua_State *L, int root, sim_scenario *sc) {
  static const char *const keys[] = {"resource_ttl", "concurrency", "qc_idle_stop",
                                     "qc_upload_lag", "channels", NULL};
  sim_ctl *x = calloc(1, sizeof *x);
  double v;
  int t;
  if (!x) luaL_error(L, "out of memory");
  sc->ctl = x;  /* attached first: a raised error leaves it where sim_scenario_free finds it */
  x->resource_ttl = 300;
  x->concurrency = 50;
  x->qc_idle_stop = 360;
  x->qc_upload_lag = 600;
  if (lua_getfield(L, root, "control") == LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  if (!lua_istable(L, -1)) luaL_error(L, "control: expected a table");
  t = lua_gettop(L);
  only_keys(L, t, "control", keys);
  num_field(L, t, "resource_ttl", "control", 0, 1e9, &x->resource_ttl);
  if (num_field(L, t, "concurrency", "control", 0, 1e6, &v)) x->concurrency = (long)v;
  num_field(L, t, "qc_idle_stop", "control", 0, 1e9, &x->qc_idle_stop);
  num_field(L, t, "qc_upload_lag", "control", 0, 1e9, &x->qc_upload_lag);
  if (lua_getfield(L, t, "channels") != LUA_TNIL) {
    int cs = lua_gettop(L);
    lua_Integer n = luaL_len(L, cs), i;
    if (!lua_istable(L, cs)) luaL_error(L, "control.channels: expected a list");
    if (n < 0 || n > CTL_MAX) luaL_error(L, "control.channels: too many entries");
    x->chans = calloc((size_t)n + 1, sizeof *x->chans);
    if (!x->chans) luaL_error(L, "out of memory");
    for (i = 1; i <= n; i++) {
      char path[48];
      snprintf(path, sizeof path, "control.channels[%d]", (int)i);
      if (lua_geti(L, cs, i) != LUA_TTABLE) luaL_error(L, "%s: expected a table", path);
      x->nchans = (size_t)i;
      read_chan(L, lua_gettop(L), path, &x->chans[i - 1]);
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 2);
}

static void free_strs(char **p, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) free(p[i]);
}

void sim_ctl_free(sim_ctl *x) {
  size_t i;
  if (!x) return;
  for (i = 0; i < x->nchans; i++) {
    free(x->chans[i].name);
    free(x->chans[i].pub);
    free(x->chans[i].steps);
    free(x->chans[i].uploading);
    free(x->chans[i].tl);
  }
  free(x->chans);
  for (i = 0; i < x->nres; i++) free_strs(&x->res[i].appid, 4);
  free(x->res);
  for (i = 0; i < x->nses; i++) free_strs(&x->ses[i].appid, 6);
  free(x->ses);
  for (i = 0; i < x->nqc; i++) free_strs(&x->qc[i].app_id, 4);
  free(x->qc);
  if (x->J) lua_close(x->J);
  sbuf_free(&x->out);
  free(x);
}

/* ---------------------------------------------------------------- who publishes when */

static const ctl_chan *chan_find(const sim_ctl *x, const char *name) {
  size_t i;
  for (i = 0; i < x->nchans; i++)
    if (strcmp(x->chans[i].name, name) == 0) return &x->chans[i];
  return NULL;
}

/* When a recorder started at `from` leaves for want of publishers: the first stretch of
 * `idle` seconds with nobody publishing. INFINITY when someone always publishes. */
static double idle_exit(const ctl_chan *ch, double from, double idle) {
  double g = from;
  size_t i;
  if (!ch || !ch->pub_set || idle <= 0) return INFINITY;
  for (i = 0; i < ch->npub; i++) {
    double a = ch->pub[i][0], b = ch->pub[i][1];
    if (b <= g) continue;
    if (a > g && a - g >= idle) return g + idle;
    g = b;
  }
  return g + idle;
}

static int published(const ctl_chan *ch, double t0, double t1) {
  size_t i;
  if (!ch || !ch->pub_set) return 1;
  for (i = 0; i < ch->npub; i++)
    if (ch->pub[i][0] < t1 && ch->pub[i][1] > t0 && ch->pub[i][1] > ch->pub[i][0]) return 1;
  return 0;
}

static int publishing_at(const ctl_chan *ch, double t) {
  size_t i;
  if (!ch || !ch->pub_set) return 1;
  for (i = 0; i < ch->npub; i++)
    if (ch->pub[i][0] <= t && t < ch->pub[i][1]) return 1;
  return 0;
}

/* ---------------------------------------------------------------- Agora sessions */

enum { END_NONE, END_STOP, END_IDLE, END_EXIT8, END_EXIT20 };

static const sim_step *ses_steps(const ag_ses *s, size_t *n) {
  if (s->ch && s->ch->steps) {
    *n = s->ch->nsteps;
    return s->ch->steps;
  }
  *n = sizeof default_steps / sizeof default_steps[0];
  return default_steps;
}

/* When the session ends (stop, idle, or its timeline reaching 8 or 20), and why. */
static double ses_end(const ag_ses *s, int *why) {
  size_t n, i;
  const sim_step *st = ses_steps(s, &n);
  double end = s->t_stop, e;
  *why = isinf(end) ? END_NONE : END_STOP;
  for (i = 0; i < n; i++)
    if (st[i].status == 8 || st[i].status == 20) {
      if (s->t0 + st[i].t < end) {
        end = s->t0 + st[i].t;
        *why = st[i].status == 8 ? END_EXIT8 : END_EXIT20;
      }
      break;
    }
  e = idle_exit(s->ch, s->t0, s->max_idle);
  if (e < end) {
    end = e;
    *why = END_IDLE;
  }
  return end;
}

static int ses_running(const ag_ses *s, double now) {
  int why;
  return now < ses_end(s, &why);
}

static long running_in_app(const sim_ctl *x, const char *appid, double now) {
  size_t i;
  long n = 0;
  for (i = 0; i < x->nses; i++)
    if (strcmp(x->ses[i].appid, appid) == 0 && ses_running(&x->ses[i], now)) n++;
  return n;
}

/* ---------------------------------------------------------------- requests */

static int seg_is(const char *a, size_t n, const char *lit) {
  return strlen(lit) == n && memcmp(a, lit, n) == 0;
}

int sim_ctl_route(sim_conn *c, sim_api_req *r) {
  const char *seg[12];
  size_t len[12], k = 0, i, start = 1;
  const char *p = c->path;
  size_t n = c->pathlen;
  int m = c->parser.method;
  if (httpd_path_is(c, "/v1/cloudRecord")) {
    if (m != HTTP_POST && m != HTTP_PATCH) return -1;
    r->provider = SIM_P_QC;
    r->ctl = m == HTTP_POST ? SIM_CTL_QC_START : SIM_CTL_QC_STOP;
    return 0;
  }
  if (m != HTTP_POST || n < 1 || p[0] != '/') return -1;
  for (i = 1; i <= n; i++) {
    if (i == n || p[i] == '/') {
      if (k == 12 || i == start) return -1;
      seg[k] = p + start;
      len[k++] = i - start;
      start = i + 1;
    }
  }
  if (k < 5 || !seg_is(seg[0], len[0], "v1") || !seg_is(seg[1], len[1], "apps") ||
      !seg_is(seg[3], len[3], "cloud_recording"))
    return -1;
  r->appid = seg[2];
  r->appid_len = len[2];
  if (k == 5 && seg_is(seg[4], len[4], "acquire")) {
    r->ctl = SIM_CTL_ACQUIRE;
  } else if (k == 9 && seg_is(seg[4], len[4], "resourceid") && seg_is(seg[6], len[6], "mode") &&
             seg_is(seg[8], len[8], "start")) {
    r->ctl = SIM_CTL_START;
    r->rid = seg[5], r->rid_len = len[5], r->mode = seg[7], r->mode_len = len[7];
  } else if (k == 11 && seg_is(seg[4], len[4], "resourceid") && seg_is(seg[6], len[6], "sid") &&
             seg_is(seg[8], len[8], "mode")) {
    if (seg_is(seg[10], len[10], "update")) r->ctl = SIM_CTL_UPDATE;
    else if (seg_is(seg[10], len[10], "updateLayout")) r->ctl = SIM_CTL_UPDATE_LAYOUT;
    else if (seg_is(seg[10], len[10], "stop")) r->ctl = SIM_CTL_STOP;
    else return -1;
    r->rid = seg[5], r->rid_len = len[5], r->sid = seg[7], r->sid_len = len[7];
    r->mode = seg[9], r->mode_len = len[9];
  } else {
    return -1;
  }
  r->provider = SIM_P_AGORA;
  return 0;
}

const char *sim_ctl_name(int ctl) {
  static const char *const names[] = {NULL, "acquire", "start", "update", "updateLayout",
                                      "stop", "qc_start", "qc_stop"};
  return ctl > 0 && ctl <= SIM_CTL_QC_STOP ? names[ctl] : NULL;
}

/* The request body as a JSON object at index 1 of x->J; 0 when it is not one. */
static int body_object(sim_ctl *x, sim_conn *c) {
  if (!x->J && !(x->J = luaL_newstate())) return 0;
  lua_settop(x->J, 0);
  if (!c->body.p || !jdec_decode(x->J, c->body.p, c->body.len)) return 0;
  return lua_istable(x->J, 1);
}

/* A string field of the table at t ("" counts as absent). */
static const char *jstr(lua_State *J, int t, const char *k) {
  const char *v = NULL;
  if (lua_getfield(J, t, k) == LUA_TSTRING && lua_rawlen(J, -1) > 0) v = lua_tostring(J, -1);
  lua_pop(J, 1);  /* the table keeps the string alive */
  return v;
}

/* An integer field: 0 absent, 1 present in *v, -1 not an integer within [lo, hi]. */
static int jint(lua_State *J, int t, const char *k, long long lo, long long hi, long long *v) {
  int type = lua_getfield(J, t, k), isint = 0, rc;
  lua_Integer n = lua_tointegerx(J, -1, &isint);
  rc = type == LUA_TNIL ? 0 : (type == LUA_TNUMBER && isint && n >= lo && n <= hi) ? 1 : -1;
  if (rc == 1) *v = (long long)n;
  lua_pop(J, 1);
  return rc;
}

/* Pushes the subtable t[k] and returns its index; 0 (nothing pushed) when absent or not one. */
static int jtab(lua_State *J, int t, const char *k) {
  if (lua_getfield(J, t, k) == LUA_TTABLE) return lua_gettop(J);
  lua_pop(J, 1);
  return 0;
}

static int uid_ok(const char *u) {  /* a quoted integer 1 .. 2^32-1 */
  size_t i, n = u ? strlen(u) : 0;
  if (n == 0 || n > 10 || u[0] == '0') return 0;
  for (i = 0; i < n; i++)
    if (u[i] < '0' || u[i] > '9') return 0;
  return strtoull(u, NULL, 10) <= 4294967295ULL;
}

static void ag_error(sim_conn *c, int status, int code, const char *reason) {
  sbuf *b = &SIM_OF(c)->scratch;
  b->len = 0;
  sbuf_addf(b, "{\"code\":%d,\"reason\":", code);
  sbuf_add_json_str(b, reason, strlen(reason));
  sbuf_adds(b, "}");
  if (b->p) sim_reply(c, status, "application/json", b->p, b->len);
}

static const char worker_404[] = "{\"code\":404,\"reason\":\"failed to find worker\"}";

static void kv(sbuf *b, const char *k, const char *v, int comma) {
  if (comma) sbuf_adds(b, ",");
  sbuf_add_json_str(b, k, strlen(k));
  sbuf_adds(b, ":");
  sbuf_add_json_str(b, v, strlen(v));
}

/* "cname", "uid", "resourceId", "sid" (when given) of a reply, without the braces. */
static void ids(sbuf *b, const char *cname, const char *uid, const char *rid, const char *sid) {
  kv(b, "cname", cname, 0);
  kv(b, "uid", uid, 1);
  kv(b, "resourceId", rid, 1);
  if (sid) kv(b, "sid", sid, 1);
}

static int grow(void **arr, size_t *cap, size_t n, size_t size) {
  void *g;
  size_t nc;
  if (n < *cap) return 0;
  if (n >= CTL_MAX) return -1;
  nc = *cap ? 2 * *cap : 16;
  if (!(g = realloc(*arr, nc * size))) return -1;
  *arr = g;
  *cap = nc;
  return 0;
}

/* The documented request fields every Agora control body carries: cname, uid (a quoted
 * integer), clientRequest (an object). Index of clientRequest, or 0 after answering 400. */
static int common_fields(sim_conn *c, lua_State *J, const char **cname, const char **uid) {
  int cr;
  *cname = jstr(J, 1, "cname");
  *uid = jstr(J, 1, "uid");
  if (!*cname || strlen(*cname) >= 64) return ag_error(c, 400, 2, "invalid parameter: cname"), 0;
  if (!uid_ok(*uid)) return ag_error(c, 400, 2, "invalid parameter: uid must be a quoted integer 1..4294967295"), 0;
  if (!(cr = jtab(J, 1, "clientRequest")))
    return ag_error(c, 400, 2, "invalid parameter: clientRequest is required"), 0;
  return cr;
}

static void acquire(sim_api_req *r, sim_ctl *x, lua_State *J, double now) {
  sim_conn *c = r->c;
  const char *cname, *uid;
  long long v;
  int cr = common_fields(c, J, &cname, &uid);
  ag_res *res;
  sbuf *b = &SIM_OF(c)->scratch;
  char rid[32];
  if (!cr) return;
  if (jint(J, cr, "scene", 0, 1, &v) < 0) return ag_error(c, 400, 2, "invalid parameter: scene");
  if (jint(J, cr, "resourceExpiredHour", 1, 720, &v) < 0)
    return ag_error(c, 400, 2, "invalid parameter: resourceExpiredHour");
  if (x->concurrency > 0 && running_in_app(x, r->appid, now) >= x->concurrency)
    return ag_error(c, 400, 406, "vendor_over_load");
  if (grow((void **)&x->res, &x->capres, x->nres, sizeof *x->res) != 0)
    return ag_error(c, 500, 500, "simulator: too many resource ids");
  res = &x->res[x->nres];
  memset(res, 0, sizeof *res);
  snprintf(rid, sizeof rid, "sim-rid-%zu", x->nres + 1);
  res->appid = strdup(r->appid);
  res->rid = strdup(rid);
  res->cname = strdup(cname);
  res->uid = strdup(uid);
  res->t = now;
  res->ses = -1;
  if (!res->appid || !res->rid || !res->cname || !res->uid) {
    free_strs(&res->appid, 4);
    return ag_error(c, 500, 500, "out of memory");
  }
  x->nres++;
  b->len = 0;
  sbuf_adds(b, "{");
  ids(b, cname, uid, rid, NULL);
  sbuf_adds(b, "}");
  if (b->p) sim_reply(c, 200, "application/json", b->p, b->len);
}

/* The documented start fields: storageConfig, recordingConfig (individual, mix),
 * avFileType. Returns the maxIdleTime, or -1 after answering 400. */
static double start_fields(sim_conn *c, lua_State *J, int cr, const char *mode) {
  static const char *const need[] = {"bucket", "accessKey", "secretKey"};
  long long v, idle = 30;
  int sc, rc, fc, i;
  if (!(sc = jtab(J, cr, "storageConfig")))
    return ag_error(c, 400, 2, "invalid parameter: storageConfig is required"), -1;
  if (jint(J, sc, "vendor", 1, 11, &v) != 1 || v == 4 || v == 9 || v == 10)
    return ag_error(c, 400, 2, "invalid parameter: storageConfig.vendor"), -1;
  if (jint(J, sc, "region", 0, 1000, &v) != 1)
    return ag_error(c, 400, 2, "invalid parameter: storageConfig.region"), -1;
  for (i = 0; i < 3; i++)
    if (!jstr(J, sc, need[i])) {
      char m[64];
      snprintf(m, sizeof m, "invalid parameter: storageConfig.%s", need[i]);
      return ag_error(c, 400, 2, m), -1;
    }
  if (strcmp(mode, "web") == 0) return 0;  /* the web recorder: no recordingConfig, no idle */
  if (!(rc = jtab(J, cr, "recordingConfig")))
    return ag_error(c, 400, 2, "invalid parameter: recordingConfig is required"), -1;
  if (jint(J, rc, "channelType", 0, 1, &v) != 1)
    return ag_error(c, 400, 2, "invalid parameter: recordingConfig.channelType"), -1;
  if (jint(J, rc, "maxIdleTime", 5, 2592000, &idle) < 0)
    return ag_error(c, 400, 2, "invalid parameter: recordingConfig.maxIdleTime (5..2592000)"), -1;
  if (strcmp(mode, "individual") == 0 && jint(J, rc, "subscribeUidGroup", 0, 1000, &v) != 1)
    return ag_error(c, 400, 2, "invalid parameter: recordingConfig.subscribeUidGroup"), -1;
  if ((fc = jtab(J, cr, "recordingFileConfig"))) {
    int at = jtab(J, fc, "avFileType"), hls = 0;
    if (!at && lua_getfield(J, fc, "avFileType") != LUA_TNIL)
      return ag_error(c, 400, 2, "invalid parameter: avFileType must be a list"), -1;
    lua_Integer k, n = at ? (lua_Integer)lua_rawlen(J, at) : 0;
    for (k = 1; k <= n; k++) {
      const char *s = lua_rawgeti(J, at, k) == LUA_TSTRING ? lua_tostring(J, -1) : "";
      if (strcmp(s, "hls") == 0) hls = 1;
      else if (strcmp(s, "mp4") != 0) hls = -100;
      lua_pop(J, 1);
    }
    if (at && hls != 1)
      return ag_error(c, 400, 2, "invalid parameter: avFileType must be [\"hls\"] or [\"hls\",\"mp4\"]"), -1;
  }
  return (double)idle;
}

static ag_res *res_find(sim_ctl *x, sim_api_req *r) {
  size_t i;
  for (i = 0; i < x->nres; i++)
    if (sim_field_eq(r->rid, r->rid_len, x->res[i].rid) &&
        sim_field_eq(r->appid, r->appid_len, x->res[i].appid))
      return &x->res[i];
  return NULL;
}

static void start(sim_api_req *r, sim_ctl *x, lua_State *J, double now) {
  sim_conn *c = r->c;
  sim_scenario *sc = SIM_OF(c)->sc;
  const char *cname, *uid;
  char mode[16], sid[32];
  int cr = common_fields(c, J, &cname, &uid);
  double idle;
  ag_res *res;
  ag_ses *s;
  size_t i;
  sbuf *b = &SIM_OF(c)->scratch;
  if (!cr) return;
  snprintf(mode, sizeof mode, "%.*s", (int)r->mode_len, r->mode);
  if ((idle = start_fields(c, J, cr, mode)) < 0) return;
  if (!(res = res_find(x, r))) return ag_error(c, 400, 2, "invalid parameter: unknown resourceId");
  if (strcmp(res->cname, cname) != 0 || strcmp(res->uid, uid) != 0)
    return ag_error(c, 400, 432, "parameters do not match the resource ID");
  if (res->ses >= 0) {  /* one session per resource id */
    if (ses_running(&x->ses[res->ses], now)) return ag_error(c, 201, 7, "already started");
    return ag_error(c, 400, 433, "resource expired: this resource ID served its session");
  }
  if (now - res->t >= x->resource_ttl) return ag_error(c, 400, 433, "resource expired");
  for (i = 0; i < x->nses; i++)
    if (strcmp(x->ses[i].appid, res->appid) == 0 && strcmp(x->ses[i].cname, cname) == 0 &&
        strcmp(x->ses[i].uid, uid) == 0 && ses_running(&x->ses[i], now))
      return ag_error(c, 400, 53, "task conflict");
  if (x->concurrency > 0 && running_in_app(x, res->appid, now) >= x->concurrency)
    return ag_error(c, 400, 406, "vendor_over_load");
  if (grow((void **)&x->ses, &x->capses, x->nses, sizeof *x->ses) != 0)
    return ag_error(c, 500, 500, "simulator: too many sessions");
  s = &x->ses[x->nses];
  memset(s, 0, sizeof *s);
  snprintf(sid, sizeof sid, "sim-sid-%zu", x->nses + 1);
  s->appid = strdup(res->appid);
  s->rid = strdup(res->rid);
  s->sid = strdup(sid);
  s->cname = strdup(cname);
  s->uid = strdup(uid);
  s->mode = strdup(mode);
  if (!s->appid || !s->rid || !s->sid || !s->cname || !s->uid || !s->mode) {
    free_strs(&s->appid, 6);
    return ag_error(c, 500, 500, "out of memory");
  }
  s->t0 = now;
  s->t_stop = INFINITY;
  s->max_idle = idle;
  s->ch = chan_find(x, cname);
  res->ses = (long)x->nses++;
  x->billed_agora++;
  (void)sc;
  b->len = 0;
  sbuf_adds(b, "{");
  ids(b, cname, uid, res->rid, sid);
  sbuf_adds(b, "}");
  if (b->p) sim_reply(c, 200, "application/json", b->p, b->len);
}

static ag_ses *ses_find(sim_ctl *x, sim_api_req *r) {
  size_t i;
  for (i = 0; i < x->nses; i++) {
    ag_ses *s = &x->ses[i];
    if (sim_field_eq(r->sid, r->sid_len, s->sid) && sim_field_eq(r->rid, r->rid_len, s->rid) &&
        sim_field_eq(r->appid, r->appid_len, s->appid) &&
        sim_field_eq(r->mode, r->mode_len, s->mode))
      return s;
  }
  return NULL;
}

static long long slice_ms(sim_t *s, const ag_ses *x) {
  return ((long long)s->wall0 + (long long)x->t0) * 1000 + (long long)(fmod(x->t0, 1) * 1000);
}

/* serverResponse's file list for the session (the documented shapes of each mode). */
static void file_list(sbuf *b, sim_t *st, const ag_ses *s) {
  char name[160];
  snprintf(name, sizeof name, "%s_%s.m3u8", s->sid, s->cname);
  if (strcmp(s->mode, "individual") == 0) {
    snprintf(name, sizeof name, "%s_%s__uid_s_%s__uid_e_av.m3u8", s->sid, s->cname, s->uid);
    sbuf_adds(b, "\"fileListMode\":\"json\",\"fileList\":[{");
    kv(b, "fileName", name, 0);
    sbuf_adds(b, ",\"trackType\":\"audio_and_video\"");
    kv(b, "uid", s->uid, 1);
    sbuf_addf(b, ",\"mixedAllUser\":false,\"isPlayable\":true,\"sliceStartTime\":%lld}]",
              slice_ms(st, s));
  } else {
    sbuf_adds(b, "\"fileListMode\":\"string\",");
    kv(b, "fileList", name, 0);
  }
}

/* Where an ended session stands at `now`: 1 ended and still answering (linger), 2 gone. */
static int ses_gone(const ag_ses *s, double now, double linger, int *why) {
  double end = ses_end(s, why);
  if (now < end) return 0;
  return now < end + linger ? 1 : 2;
}

int sim_ctl_agora_query(sim_api_req *r) {
  sim_conn *c = r->c;
  sim_t *st = SIM_OF(c);
  sim_ctl *x = st->sc->ctl;
  ag_ses *s = x ? ses_find(x, r) : NULL;
  sbuf *b = &st->scratch;
  double now = c->t;
  int why, status, k, ended;
  size_t n;
  const sim_step *steps;
  if (!s) return 0;
  ended = ses_gone(s, now, st->sc->linger, &why);
  if (ended == 2) {
    sim_reply_json(c, 404, worker_404);
    return 1;
  }
  steps = ses_steps(s, &n);
  k = step_at(steps, n, now - s->t0);
  status = k < 0 ? 0 : steps[k].status;
  if (ended) status = why == END_EXIT20 ? 20 : 8;
  b->len = 0;
  sbuf_adds(b, "{");
  ids(b, s->cname, s->uid, s->rid, s->sid);
  sbuf_adds(b, ",\"serverResponse\":{");
  if (strcmp(s->mode, "web") == 0) {
    sbuf_addf(b, "\"extensionServiceState\":[{\"payload\":{\"fileList\":[],\"onhold\":false,"
              "\"state\":\"%s\"},\"serviceName\":\"web_recorder_service\"}],\"status\":%d}}",
              status <= 3 ? "init" : status < 8 ? "inProgress" : "exit", status);
  } else {
    file_list(b, st, s);
    sbuf_addf(b, ",\"status\":%d,\"sliceStartTime\":%lld}}", status, slice_ms(st, s));
  }
  if (b->p) sim_reply(c, 200, "application/json", b->p, b->len);
  return 1;
}

/* update, updateLayout and stop: the session named in the path, with the acquire's cname
 * and uid. */
static void on_session(sim_api_req *r, sim_ctl *x, lua_State *J, double now) {
  sim_conn *c = r->c;
  sim_t *st = SIM_OF(c);
  const char *cname, *uid;
  int cr = common_fields(c, J, &cname, &uid), why, gone;
  ag_ses *s;
  sbuf *b = &st->scratch;
  if (!cr) return;
  if (r->ctl == SIM_CTL_UPDATE_LAYOUT && !sim_field_eq(r->mode, r->mode_len, "mix"))
    return ag_error(c, 400, 2, "invalid parameter: updateLayout is for mix mode");
  if (!(s = ses_find(x, r))) return sim_reply_json(c, 404, worker_404);
  if (strcmp(s->cname, cname) != 0 || strcmp(s->uid, uid) != 0)
    return ag_error(c, 400, 432, "parameters do not match the resource ID");
  gone = ses_gone(s, now, st->sc->linger, &why);
  if (gone == 2 || (gone && r->ctl != SIM_CTL_STOP)) return sim_reply_json(c, 404, worker_404);
  if (gone) return ag_error(c, 400, 49, "invalid operation");  /* stop while exiting/stopped */
  b->len = 0;
  if (r->ctl == SIM_CTL_STOP) {
    s->t_stop = now;
    if (!published(s->ch, s->t0, now)) return ag_error(c, 206, 435, "no recorded data");
    sbuf_adds(b, "{");
    ids(b, s->cname, s->uid, s->rid, s->sid);
    sbuf_adds(b, ",\"serverResponse\":{");
    if (strcmp(s->mode, "web") == 0) {
      sbuf_adds(b, "\"extensionServiceState\":[{\"payload\":{\"fileList\":[],");
      kv(b, "uploadingStatus", s->ch && s->ch->uploading ? s->ch->uploading : "uploaded", 0);
      sbuf_adds(b, "},\"serviceName\":\"web_recorder_service\"}]");
    } else {
      file_list(b, st, s);
      kv(b, "uploadingStatus", s->ch && s->ch->uploading ? s->ch->uploading : "uploaded", 1);
    }
    sbuf_adds(b, "}}");
  } else {
    sbuf_adds(b, "{");
    ids(b, s->cname, s->uid, s->rid, s->sid);
    sbuf_adds(b, "}");
  }
  if (b->p) sim_reply(c, 200, "application/json", b->p, b->len);
}

void sim_ctl_agora(sim_api_req *r) {
  sim_conn *c = r->c;
  sim_ctl *x = SIM_OF(c)->sc->ctl;
  char appid[256];
  if (r->ctl != SIM_CTL_ACQUIRE && !sim_field_eq(r->mode, r->mode_len, "mix") &&
      !sim_field_eq(r->mode, r->mode_len, "individual") && !sim_field_eq(r->mode, r->mode_len, "web"))
    return ag_error(c, 400, 2, "invalid parameter");
  if (!body_object(x, c)) return ag_error(c, 400, 2, "invalid parameter: the body must be a JSON object");
  if (r->appid_len >= sizeof appid) return ag_error(c, 400, 2, "invalid parameter: appid");
  snprintf(appid, sizeof appid, "%.*s", (int)r->appid_len, r->appid);
  r->appid = appid;  /* NUL-terminated from here on */
  switch (r->ctl) {
    case SIM_CTL_ACQUIRE: acquire(r, x, x->J, c->t); break;
    case SIM_CTL_START: start(r, x, x->J, c->t); break;
    default: on_session(r, x, x->J, c->t); break;
  }
  lua_settop(x->J, 0);
}

/* ---------------------------------------------------------------- QingCloud */

/* QingCloud's error body {"code","message"}: for the control calls and the queries (sim_api.c) */
void sim_qc_error(sim_conn *c, int status, const char *code, const char *msg) {
  sbuf *b = &SIM_OF(c)->scratch;
  b->len = 0;
  sbuf_adds(b, "{\"code\":");
  sbuf_add_json_str(b, code, strlen(code));
  sbuf_adds(b, ",\"message\":");
  sbuf_add_json_str(b, msg, strlen(msg));
  sbuf_adds(b, "}");
  if (b->p) sim_reply(c, status, "application/json", b->p, b->len);
}

/* When a task ends (stop, or the auto stop after qc_idle_stop seconds without a user) and
 * whether it was the auto stop. */
static double qc_end(const sim_ctl *x, const qc_run *q, int *autostop) {
  double a = idle_exit(q->ch, q->t0, x->qc_idle_stop);
  *autostop = a < q->t_stop;
  return *autostop ? a : q->t_stop;
}

/* Status at now: 1 Start, 2 Recording from 1 s; at the end 4 Stopping (5 AutoStopping),
 * 8 PushingToQingstor 1 s later, 10 Stopped after the upload lag. */
static int qc_status(const sim_ctl *x, const qc_run *q, double now) {
  int autostop;
  double end = qc_end(x, q, &autostop);
  if (now >= end + 1 + x->qc_upload_lag) return 10;
  if (now >= end + 1) return 8;
  if (now >= end) return autostop ? 5 : 4;
  return now >= q->t0 + 1 ? 2 : 1;
}

static void fmt_cst(time_t t, char out[24]) {
  struct tm tm;
  time_t v = t + 8 * 3600;
  gmtime_r(&v, &tm);
  strftime(out, 24, "%Y-%m-%d %H:%M:%S", &tm);
}

void sim_ctl_qc_list(sim_t *st, const char *app, const char *ch, double now, double lo,
                     double hi, long offset, long limit, long *total, size_t *shown, sbuf *b) {
  sim_ctl *x = st->sc->ctl;
  size_t i;
  if (!x) return;
  for (i = 0; i < x->nqc; i++) {
    qc_run *q = &x->qc[i];
    char created[24], updated[24];
    if (strcmp(q->app_id, app) || strcmp(q->channel, ch) || q->t0 < lo || q->t0 > hi) continue;
    if (*total >= offset && *shown < (size_t)limit) {
      if (*shown) sbuf_adds(b, ",");
      fmt_cst(st->wall0 + (time_t)q->t0, created);
      fmt_cst(st->wall0 + (time_t)now, updated);
      sbuf_addf(b, "{\"id\":%lld", q->id);
      kv(b, "project_id", q->project_id, 1);
      kv(b, "app_id", q->app_id, 1);
      kv(b, "channel", q->channel, 1);
      sbuf_addf(b, ",\"pid\":0,\"host\":\"rtc-rec-gw-sim-1\",\"status\":%d,\"size\":0,"
                "\"is_mix\":%d,\"url_prefix\":\"\",\"files\":\"\"", qc_status(x, q, now), q->is_mix);
      kv(b, "acc_key_id", q->ak, 1);
      sbuf_adds(b, ",\"rec_bucket\":\"sim-video-records\",\"rec_zone\":\"pek3b\","
                "\"rec_path\":\"CloudRecordMedia/\"");
      kv(b, "created", created, 1);
      kv(b, "updated", updated, 1);
      sbuf_adds(b, "}");
      (*shown)++;
    }
    (*total)++;
  }
}

static void qc_start(sim_api_req *r, sim_ctl *x, lua_State *J, double now) {
  static const char *const ints[] = {"isAudioOnly", "isVideoOnly", "mixed_video_audio",
                                     "layout_mode", "stream_type", "is_mixing_enabled"};
  static const long long hi[] = {1, 1, 2, 2, 1, 1};
  sim_conn *c = r->c;
  const char *app = jstr(J, 1, "app_id"), *proj = jstr(J, 1, "project_id"),
             *ch = jstr(J, 1, "channel"), *ak = NULL;
  long long v[6] = {0, 0, 2, 0, 0, 0};
  size_t i;
  qc_run *q;
  char msg[80];
  sbuf *b = &SIM_OF(c)->scratch;
  for (i = 0; i < r->nparams; i++)
    if (strcmp(r->params[i].key, "access_key_id") == 0) ak = r->params[i].value;
  if (!app || !proj || !ch || !jstr(J, 1, "sign_key")) {
    snprintf(msg, sizeof msg, "%s is required",
             !app ? "app_id" : !proj ? "project_id" : !ch ? "channel" : "sign_key");
    return sim_qc_error(c, 400, "InvalidParameter", msg);
  }
  for (i = 0; i < 6; i++)
    if (jint(J, 1, ints[i], 0, hi[i], &v[i]) < 0) {
      snprintf(msg, sizeof msg, "%s must be an integer 0..%lld", ints[i], hi[i]);
      return sim_qc_error(c, 400, "InvalidParameter", msg);
    }
  if (v[0] == 1 && v[1] == 1)
    return sim_qc_error(c, 400, "InvalidParameter", "isAudioOnly and isVideoOnly cannot both be 1");
  if (!publishing_at(chan_find(x, ch), now))
    return sim_qc_error(c, 400, "NoUserInChannel", "there is no user in the channel");
  if (grow((void **)&x->qc, &x->capqc, x->nqc, sizeof *x->qc) != 0)
    return sim_qc_error(c, 500, "InternalError", "simulator: too many tasks");
  q = &x->qc[x->nqc];
  memset(q, 0, sizeof *q);
  q->app_id = strdup(app);
  q->project_id = strdup(proj);
  q->channel = strdup(ch);
  q->ak = strdup(ak ? ak : "");
  if (!q->app_id || !q->project_id || !q->channel || !q->ak) {
    free_strs(&q->app_id, 4);
    return sim_qc_error(c, 500, "InternalError", "out of memory");
  }
  q->id = 1000 + (long long)x->nqc + 1;
  q->is_mix = (int)v[5];
  q->t0 = now;
  q->t_stop = INFINITY;
  q->ch = chan_find(x, ch);
  x->nqc++;
  x->billed_qc++;
  b->len = 0;
  sbuf_addf(b, "{\"code\":\"success\",\"task_id\":%lld}", q->id);
  if (b->p) sim_reply(c, 200, "application/json", b->p, b->len);
}

static void qc_stop(sim_api_req *r, sim_ctl *x, lua_State *J, double now) {
  sim_conn *c = r->c;
  const char *app = jstr(J, 1, "app_id"), *proj = jstr(J, 1, "project_id"),
             *ch = jstr(J, 1, "channel");
  size_t i;
  if (!app || !proj || !ch) {
    sim_qc_error(c, 400, "InvalidParameter",
             !app ? "app_id is required" : !proj ? "project_id is required" : "channel is required");
    return;
  }
  for (i = 0; i < x->nqc; i++) {  /* the channel's recording: every task still running */
    qc_run *q = &x->qc[i];
    int autostop;
    if (strcmp(q->app_id, app) || strcmp(q->project_id, proj) || strcmp(q->channel, ch)) continue;
    if (now < qc_end(x, q, &autostop)) q->t_stop = now;
  }
  sim_reply_json(c, 200, "{\"code\":\"success\",\"data\":\"success\"}");
}

void sim_ctl_qc(sim_api_req *r) {
  sim_conn *c = r->c;
  sim_ctl *x = SIM_OF(c)->sc->ctl;
  if (!body_object(x, c)) {
    sim_qc_error(c, 400, "InvalidParameter", "the body must be a JSON object");
  } else if (r->ctl == SIM_CTL_QC_START) {
    qc_start(r, x, x->J, c->t);
  } else {
    qc_stop(r, x, x->J, c->t);
  }
  if (x->J) lua_settop(x->J, 0);
}

/* ---------------------------------------------------------------- the bill */

long sim_ctl_billed(const sim_scenario *sc) {
  return sc->ctl ? sc->ctl->billed_agora + sc->ctl->billed_qc : 0;
}

int sim_ctl_page(sim_conn *c) {
  sim_t *st = SIM_OF(c);
  sim_ctl *x = st->sc->ctl;
  sbuf *b = &st->scratch;
  size_t i, j;
  long running = 0, qrunning = 0;
  if (!httpd_path_is(c, "/_sim/billed")) return 0;
  if (c->parser.method != HTTP_GET || !x) {
    sim_reply_json(c, 404, "{\"message\":\"no Route matched with those values\"}");
    return 1;
  }
  for (i = 0; i < x->nses; i++) running += ses_running(&x->ses[i], c->t);
  for (i = 0; i < x->nqc; i++) qrunning += qc_status(x, &x->qc[i], c->t) <= 2;
  b->len = 0;
  sbuf_addf(b, "{\"billed\":%ld,\"agora\":%ld,\"qingcloud\":%ld,\"agora_running\":%ld,"
            "\"qingcloud_running\":%ld,\"agora_apps\":{", x->billed_agora + x->billed_qc,
            x->billed_agora, x->billed_qc, running, qrunning);
  for (i = 0; i < x->nses; i++) {  /* started tasks per App ID, in order of first start */
    long n = 0;
    for (j = 0; j < i; j++)
      if (strcmp(x->ses[j].appid, x->ses[i].appid) == 0) break;
    if (j < i) continue;
    for (j = i; j < x->nses; j++) n += strcmp(x->ses[j].appid, x->ses[i].appid) == 0;
    if (b->len && b->p[b->len - 1] != '{') sbuf_adds(b, ",");
    sbuf_add_json_str(b, x->ses[i].appid, strlen(x->ses[i].appid));
    sbuf_addf(b, ":%ld", n);
  }
  sbuf_adds(b, "}}");
  if (b->p) sim_reply(c, 200, "application/json", b->p, b->len);
  return 1;
}
