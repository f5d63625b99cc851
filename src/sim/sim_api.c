/* sim_api: what the simulated services answer — routes, Agora Basic auth and rate limit,
 * QingCloud signature check (recomputed with qcsign), parameter validation, pagination and
 * the documented reply bodies (precomputed per timeline step in sim_scenario.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "crypto.h"
#include "sim_control.h"
#include "sim_srv.h"

static const char qc_path[] = "/v1/cloudRecord";

static int seg_eq(const char *a, size_t n, const char *lit) {
  return strlen(lit) == n && memcmp(a, lit, n) == 0;
}

/* /v1/apps/{appid}/cloud_recording/resourceid/{rid}/sid/{sid}/mode/{mode}/query */
static int route_agora(const char *p, size_t n, sim_api_req *r) {
  const char *seg[12];
  size_t len[12], k = 0, i = 1, start = 1;
  if (n < 1 || p[0] != '/') return -1;
  for (i = 1; i <= n; i++) {
    if (i == n || p[i] == '/') {
      if (k == 12 || i == start) return -1;  /* too many or empty segment */
      seg[k] = p + start;
      len[k++] = i - start;
      start = i + 1;
    }
  }
  if (k != 11 || !seg_eq(seg[0], len[0], "v1") || !seg_eq(seg[1], len[1], "apps") ||
      !seg_eq(seg[3], len[3], "cloud_recording") || !seg_eq(seg[4], len[4], "resourceid") ||
      !seg_eq(seg[6], len[6], "sid") || !seg_eq(seg[8], len[8], "mode") ||
      !seg_eq(seg[10], len[10], "query"))
    return -1;
  r->appid = seg[2];
  r->appid_len = len[2];
  r->rid = seg[5];
  r->rid_len = len[5];
  r->sid = seg[7];
  r->sid_len = len[7];
  r->mode = seg[9];
  r->mode_len = len[9];
  return 0;
}

int sim_api_route(sim_conn *c, sim_api_req *req) {
  if (c->pathlen == sizeof qc_path - 1 && memcmp(c->path, qc_path, c->pathlen) == 0) {
    req->provider = SIM_P_QC;
    return 0;
  }
  if (route_agora(c->path, c->pathlen, req) == 0) {
    req->provider = SIM_P_AGORA;
    return 0;
  }
  return -1;
}

/* ---------------------------------------------------------------- Agora */

static int agora_auth(sim_api_req *r) {
  sim_conn *c = r->c;
  sim_scenario *sc = SIM_OF(c)->sc;
  const char *v = c->auth.p, *end;
  size_t i;
  if (!c->has_auth) return r->cred = -2, 0;
  r->cred = -1;
  if (!v) return 0;
  end = v + c->auth.len;
  while (v < end && (*v == ' ' || *v == '\t')) v++;
  if (end - v < 6 || strncasecmp(v, "basic ", 6) != 0) return 0;
  v += 6;
  while (v < end && *v == ' ') v++;
  while (end > v && (end[-1] == ' ' || end[-1] == '\t')) end--;
  for (i = 0; i < sc->nag; i++) {
    size_t bl = strlen(sc->ag[i].b64);
    if ((size_t)(end - v) == bl && crypto_equal(v, sc->ag[i].b64, bl)) {
      r->cred = (int)i;
      return 1;
    }
  }
  return 0;
}

/* A strict limit: a sliding one-second window over the arrival times (c->t, seconds on the
 * engine clock, not rounded) of the customer's accepted requests, no burst: a request is
 * refused when rate_limit accepted ones arrived less than one second before it. */
static int rate_ok(double now, sim_ag_cred *cr) {
  int n = cr->rate_limit;
  if (n <= 0) return 1;
  if (cr->count < (size_t)n) {
    cr->ring[(cr->head + cr->count) % (size_t)n] = now;
    cr->count++;
    return 1;
  }
  if (now - cr->ring[cr->head] < 1.0) return 0;
  cr->ring[cr->head] = now;
  cr->head = (cr->head + 1) % (size_t)n;
  return 1;
}

static const char worker_404[] = "{\"code\":404,\"reason\":\"failed to find worker\"}";

static void agora_answer(sim_api_req *r) {
  sim_conn *c = r->c;
  sim_t *s = SIM_OF(c);
  sim_scenario *sc = s->sc;
  double now = c->t;
  if (r->cred == -2) {
    sim_reply_json(c, 401, "{\"message\":\"Unauthorized\"}");
    return;
  }
  if (r->cred < 0) {
    sim_reply_json(c, 401, "{\"message\":\"Invalid authentication credentials\"}");
    return;
  }
  if (!rate_ok(now, &sc->ag[r->cred])) {
    sim_reply_json(c, 429, "{\"message\":\"API rate limit exceeded\"}");
    return;
  }
  if (r->ctl) {  /* acquire, start, update, updateLayout, stop: sim_control.c */
    sim_ctl_agora(r);
    return;
  }
  if (!sim_field_eq(r->mode, r->mode_len, "mix") && !sim_field_eq(r->mode, r->mode_len, "individual") &&
      !sim_field_eq(r->mode, r->mode_len, "web")) {
    sim_reply_json(c, 400, "{\"code\":2,\"reason\":\"invalid parameter\"}");
    return;
  }
  do {  /* one hash lookup, not a scan of every recording */
    sim_ag_rec *rec = sim_rec_find(sc, r->appid, r->appid_len, r->rid, r->rid_len, r->sid,
                                   r->sid_len, r->mode, r->mode_len);
    size_t j;
    int k;
    if (!rec) break;
    k = sim_step_at(rec->steps, rec->nsteps, now);
    if (k < 0 || (rec->gone_at >= 0 && now >= rec->gone_at)) break;
    for (j = 0; j <= (size_t)k; j++) {  /* ended (8/20): answers for `linger` seconds more */
      int st = rec->steps[j].status;
      if (st == 8 || st == 20) {
        if (now >= rec->steps[j].t + rec->linger) k = -1;
        break;
      }
    }
    if (k < 0) break;
    sim_reply(c, 200, "application/json", rec->body[k], rec->bodylen[k]);
    return;
  } while (0);
  if (sim_ctl_agora_query(r)) return;  /* a session a start began */
  sim_reply_json(c, 404, worker_404);
}

/* ---------------------------------------------------------------- QingCloud */

static int hexval(char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

/* Percent-decodes src into dst (NUL-terminated); '+' stays '+'; bad escapes stay literal. */
static size_t pct_decode(char *dst, const char *src, size_t n) {
  size_t i, j = 0;
  for (i = 0; i < n; i++) {
    int h, l;
    if (src[i] == '%' && i + 2 < n && (h = hexval(src[i + 1])) >= 0 &&
        (l = hexval(src[i + 2])) >= 0) {
      dst[j++] = (char)(h * 16 + l);
      i += 2;
    } else {
      dst[j++] = src[i];
    }
  }
  dst[j++] = '\0';
  return j;
}

static void parse_query(sim_api_req *r) {
  sim_conn *c = r->c;
  sbuf *qb = &SIM_OF(c)->qbuf;
  const char *q = c->query, *end = q + c->querylen;
  size_t offs[SIM_MAX_PARAMS][2], i;
  qb->len = 0;
  r->nparams = 0;
  if (sbuf_reserve(qb, 2 * c->querylen + 16) != 0) return;
  while (q < end) {
    const char *amp = memchr(q, '&', (size_t)(end - q)), *pe, *eq;
    if (!amp) amp = end;
    pe = amp;
    if (pe > q) {
      if (r->nparams == SIM_MAX_PARAMS) {
        r->too_many = 1;
        break;
      }
      eq = memchr(q, '=', (size_t)(pe - q));
      offs[r->nparams][0] = qb->len;
      qb->len += pct_decode(qb->p + qb->len, q, (size_t)((eq ? eq : pe) - q));
      offs[r->nparams][1] = qb->len;
      if (eq) qb->len += pct_decode(qb->p + qb->len, eq + 1, (size_t)(pe - eq - 1));
      else qb->p[qb->len++] = '\0';
      r->nparams++;
    }
    q = amp + 1;
  }
  for (i = 0; i < r->nparams; i++) {
    r->params[i].key = qb->p + offs[i][0];
    r->params[i].value = qb->p + offs[i][1];
  }
}

static const char *param(sim_api_req *r, const char *key) {
  size_t i;
  for (i = 0; i < r->nparams; i++)
    if (strcmp(r->params[i].key, key) == 0) return r->params[i].value;
  return NULL;
}

static int qc_fail(sim_api_req *r, int status, const char *code, const char *msg) {
  r->auth_status = status;
  r->auth_code = code;
  snprintf(r->auth_msg, sizeof r->auth_msg, "%s", msg);
  return 0;
}

static int qc_auth(sim_api_req *r) {
  static const char *const need[] = {"access_key_id", "signature_method", "signature_version",
                                     "time_stamp", "signature"};
  sim_t *s = SIM_OF(r->c);
  sim_scenario *sc = s->sc;
  const char *ak, *sig, *ts;
  char msg[160];
  char *expect;
  time_t when, now;
  size_t i;
  int key = -1, ok;
  parse_query(r);
  if (r->too_many) return qc_fail(r, 400, "InvalidParameter", "too many parameters");
  for (i = 0; i < sizeof need / sizeof need[0]; i++) {
    if (!param(r, need[i])) {
      snprintf(msg, sizeof msg, "missing auth parameter: %s", need[i]);
      return qc_fail(r, 401, "MissingAuthParameter", msg);
    }
  }
  if (strcmp(param(r, "signature_method"), "HmacSHA256") != 0)
    return qc_fail(r, 401, "InvalidSignatureMethod", "signature_method must be HmacSHA256");
  if (strcmp(param(r, "signature_version"), "1") != 0)
    return qc_fail(r, 401, "InvalidSignatureVersion", "signature_version must be 1");
  ak = param(r, "access_key_id");
  for (i = 0; i < sc->nqc; i++)
    if (strcmp(sc->qc[i].id, ak) == 0) key = (int)i;
  if (key < 0) return qc_fail(r, 401, "AccessKeyNotFound", "access key not found");
  ts = param(r, "time_stamp");
  if (qc_parse_timestamp(ts, &when) != 0)
    return qc_fail(r, 401, "InvalidTimeStamp", "time_stamp must look like 2021-10-15T06:44:58Z");
  now = (time_t)rclock_time(s->clock);
  if ((double)(when > now ? when - now : now - when) > sc->qc_window)
    return qc_fail(r, 401, "RequestExpired", "time_stamp is more than 15 minutes from now");
  sig = param(r, "signature");
  /* a GET signs no body ("null"); a control call (POST, PATCH) the exact bytes it sent */
  expect = r->ctl ? qc_signature(sc->qc[key].secret,
                                 http_method_str((enum http_method)r->c->parser.method), qc_path,
                                 r->params, r->nparams, r->c->body.p ? r->c->body.p : "",
                                 r->c->body.len)
                  : qc_signature(sc->qc[key].secret, "GET", qc_path, r->params, r->nparams, NULL, 0);
  if (!expect) return qc_fail(r, 500, "InternalError", "out of memory");
  ok = strlen(expect) == strlen(sig) && crypto_equal(expect, sig, strlen(sig));
  free(expect);
  if (!ok) return qc_fail(r, 401, "SignatureNotMatch", "signature does not match");
  r->auth_status = 0;
  r->qc_key = key;
  return 1;
}

/* Optional integer parameter: 0 absent, 1 present (in *v), -1 not an integer. */
static int int_param(sim_api_req *r, const char *key, long *v) {
  const char *s = param(r, key);
  char *end;
  long x;
  if (!s) return 0;
  if (!*s || strlen(s) > 10) return -1;
  x = strtol(s, &end, 10);
  if (*end || (s[0] != '-' && (s[0] < '0' || s[0] > '9'))) return -1;
  *v = x;
  return 1;
}

static void qc_answer(sim_api_req *r) {
  sim_conn *c = r->c;
  sim_t *s = SIM_OF(c);
  sim_scenario *sc = s->sc;
  const char *app, *ch;
  long from = 0, to = 0, offset = 0, limit = 20;
  int has_from, has_to, has_off, has_lim;
  double now = c->t, lo, hi;
  long total = 0, first;
  size_t i, shown = 0;
  sbuf *b = &s->scratch;
  char msg[128];
  if (r->auth_status) {
    sim_qc_error(c, r->auth_status, r->auth_code, r->auth_msg);
    return;
  }
  if (r->ctl) {  /* start (POST), stop (PATCH): sim_control.c */
    sim_ctl_qc(r);
    return;
  }
  app = param(r, "app_id");
  ch = param(r, "channel");
  if (!app || !*app) { sim_qc_error(c, 400, "InvalidParameter", "app_id is required"); return; }
  if (!ch || !*ch) { sim_qc_error(c, 400, "InvalidParameter", "channel is required"); return; }
  has_from = int_param(r, "from_hour", &from);
  has_to = int_param(r, "to_hour", &to);
  has_off = int_param(r, "offset", &offset);
  has_lim = int_param(r, "limit", &limit);
  if (has_from < 0 || has_to < 0 || has_off < 0 || has_lim < 0) {
    snprintf(msg, sizeof msg, "%s must be an integer",
             has_from < 0 ? "from_hour" : has_to < 0 ? "to_hour" : has_off < 0 ? "offset" : "limit");
    { sim_qc_error(c, 400, "InvalidParameter", msg); return; }
  }
  if (limit < 1 || limit > 100)
    { sim_qc_error(c, 400, "InvalidParameter", "limit must be between 1 and 100"); return; }
  if (offset < 0) { sim_qc_error(c, 400, "InvalidParameter", "offset must be >= 0"); return; }
  /* The document's defaults, applied literally: from_hour 3, to_hour 5. They break the document's
   * own rule to_hour <= from_hour, so a client that leaves them out gets a 400 here and
   * finds out before production does. */
  if (!has_from) from = 3;
  if (!has_to) to = 5;
  if (from < 0 || from > 24)
    { sim_qc_error(c, 400, "InvalidParameter", "from_hour must be between 0 and 24"); return; }
  if (to < 0 || to > 24)
    { sim_qc_error(c, 400, "InvalidParameter", "to_hour must be between 0 and 24"); return; }
  if (to > from) {
    sim_qc_error(c, 400, "InvalidParameter",
             has_from && has_to ? "to_hour must not be greater than from_hour"
                                : "to_hour must not be greater than from_hour (defaults: "
                                  "from_hour 3, to_hour 5)");
    return;
  }
  lo = now - (double)from * 3600;
  hi = now - (double)to * 3600;
  if (sc->qc_same_day) {  /* "当天": not before today's midnight, UTC+8 */
    double wall = (double)sc->wall0 + now, midnight;
    midnight = wall - fmod(wall + 8 * 3600.0, 86400.0);
    if (midnight - (double)sc->wall0 > lo) lo = midnight - (double)sc->wall0;
  }

  b->len = 0;
  sbuf_addf(b, "{\"code\":\"success\",\"offset\":%ld,\"limit\":%ld,\"recinfos\":[", offset, limit);
  /* the channel's tasks only (an index), in scenario order */
  for (first = sim_channel_first(sc, app, ch), i = first < 0 ? 0 : (size_t)first + 1; i;
       i = sc->task_next[i - 1]) {
    sim_qc_task *k = &sc->tasks[i - 1];
    int st;
    st = sim_step_at(k->steps, k->nsteps, now);
    if (st < 0) continue;  /* not created yet */
    /* the hour window: created between from_hour and to_hour hours ago (at most 24 h) */
    if (k->created_t < lo || k->created_t > hi) continue;
    if (total >= offset && shown < (size_t)limit) {
      if (shown) sbuf_add(b, ",", 1);
      sbuf_add(b, k->json[st], k->jsonlen[st]);
      shown++;
    }
    total++;
  }
  sim_ctl_qc_list(s, app, ch, now, lo, hi, offset, limit, &total, &shown, b);  /* started ones */
  sbuf_addf(b, "],\"total_count\":%ld}", total);
  if (b->p) sim_reply(c, 200, "application/json", b->p, b->len);
}

/* ---------------------------------------------------------------- entry points */

int sim_api_auth(sim_api_req *req) {
  req->qc_key = -1;
  if (req->provider == SIM_P_AGORA) return agora_auth(req);
  return qc_auth(req);
}

const char *sim_api_account(const sim_api_req *req) {
  sim_scenario *sc = SIM_OF(req->c)->sc;
  if (req->provider == SIM_P_AGORA) return req->cred >= 0 ? sc->ag[req->cred].id : NULL;
  return req->qc_key >= 0 ? sc->qc[req->qc_key].id : NULL;
}

void sim_api_answer(sim_api_req *req) {
  if (req->provider == SIM_P_AGORA) agora_answer(req);
  else qc_answer(req);
}
