/* agora_ctl: Agora's control calls as plain data: the checks of each call's documented
 * fields, the URL and JSON body, and the reading of a reply into a result, a special
 * outcome (already started, already stopped, nothing recorded) or a typed error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agora.h"
#include "agora_ctl.h"
#include "http.h"
#include "sbuf.h"

#define AGCTL_EXCERPT 200

typedef struct agctl_spec {
  const char *name;      /* in messages: "rec.agora.<name>" */
  const char *verb;      /* the path's last segment */
  int needs_rid, needs_sid, needs_body;
} agctl_spec;

/* One row per call (reference: the paths under /v1/apps/{appid}/cloud_recording). */
static const agctl_spec specs[AGCTL_NCALLS] = {
  [AGCTL_ACQUIRE] = {"acquire", "acquire", 0, 0, 1},
  [AGCTL_START] = {"start", "start", 1, 0, 1},
  [AGCTL_QUERY] = {"query", "query", 1, 1, 0},
  [AGCTL_UPDATE] = {"update", "update", 1, 1, 1},
  [AGCTL_UPDATE_LAYOUT] = {"update_layout", "updateLayout", 1, 1, 1},
  [AGCTL_STOP] = {"stop", "stop", 1, 1, 1},
};

const char *agctl_call_name(agctl_call c) {
  return c < AGCTL_NCALLS ? specs[c].name : "?";
}

const char *agctl_method(agctl_call c) { return c == AGCTL_QUERY ? "GET" : "POST"; }

const char *agctl_outcome_name(agctl_outcome o) {
  static const char *const names[] = {"ok", "already_started", "conflict_running",
                                      "already_stopped", "nothing_recorded"};
  return (unsigned)o < sizeof names / sizeof names[0] ? names[o] : "?";
}

/* ---- checks ---- */

static int bad(rec_err *e, const agctl_req *r, const char *fmt, const char *what) {
  char msg[256];
  snprintf(msg, sizeof msg, fmt, what);
  rec_err_set(e, REC_E_INVALID_ARGUMENT, 0, "rec.agora.%s: %s", agctl_call_name(r->call), msg);
  e->retryable = 0;
  return -1;
}

static int segment_ok(const char *s) {
  const unsigned char *c;
  if (!s || !*s || strcmp(s, ".") == 0 || strcmp(s, "..") == 0) return 0;
  for (c = (const unsigned char *)s; *c; c++)
    if (*c == '/' || *c < 0x20 || *c == 0x7f) return 0;
  return 1;
}

/* A quoted integer 1..2^32-1 in decimal, no sign, no leading zero. */
static int uid_ok(const char *s) {
  unsigned long long v = 0;
  const char *c;
  if (!s || !*s || *s == '0' || strlen(s) > 10) return 0;
  for (c = s; *c; c++) {
    if (*c < '0' || *c > '9') return 0;
    v = v * 10 + (unsigned)(*c - '0');
  }
  return v >= 1 && v <= 4294967295ull;
}

static int mode_ok(const char *m) {
  return m && (strcmp(m, "individual") == 0 || strcmp(m, "mix") == 0 || strcmp(m, "web") == 0);
}

/* Storage vendors of the start reference. */
static int vendor_ok(long v) {
  static const long vendors[] = {1, 2, 3, 5, 6, 7, 8, 11};
  size_t i;
  for (i = 0; i < sizeof vendors / sizeof vendors[0]; i++)
    if (vendors[i] == v) return 1;
  return 0;
}

static int check_acquire(const agctl_req *r, rec_err *e) {
  const agctl_client *c = &r->client;
  if (c->has_scene && (!c->scene_ok || c->scene < 0 || c->scene > 1))
    return bad(e, r, "%s must be 0 (real-time) or 1 (web page); 2 was removed by Agora",
               "clientRequest.scene");
  if (c->has_expire && (!c->expire_ok || c->expire < 1 || c->expire > 720))
    return bad(e, r, "%s must be a whole number of hours 1..720",
               "clientRequest.resourceExpiredHour");
  return 0;
}

static int check_storage(const agctl_req *r, rec_err *e) {
  const agctl_client *c = &r->client;
  if (!c->has_storage)
    return bad(e, r, "%s is required (vendor, region, bucket, accessKey, secretKey)",
               "clientRequest.storageConfig");
  if (!c->has_vendor || !c->vendor_ok || !vendor_ok(c->vendor))
    return bad(e, r, "%s must be one of 1, 2, 3, 5, 6, 7, 8, 11 (Agora's storage vendors)",
               "clientRequest.storageConfig.vendor");
  if (!c->has_region || !c->region_ok || c->region < 0)
    return bad(e, r, "%s must be a whole number >= 0 (the vendor's region code)",
               "clientRequest.storageConfig.region");
  if (!c->bucket_ok) return bad(e, r, "%s must be a non-empty string", "clientRequest.storageConfig.bucket");
  if (!c->access_key_ok)
    return bad(e, r, "%s must be a non-empty string", "clientRequest.storageConfig.accessKey");
  if (!c->secret_key_ok)
    return bad(e, r, "%s must be a non-empty string", "clientRequest.storageConfig.secretKey");
  return 0;
}

static int check_start(const agctl_req *r, rec_err *e) {
  const agctl_client *c = &r->client;
  if (!c->present) return bad(e, r, "%s is required (a table)", "clientRequest");
  if (check_storage(r, e) != 0) return -1;
  if (strcmp(r->mode, "web") != 0) {
    if (!c->has_recording)
      return bad(e, r, "%s is required in individual and mix mode", "clientRequest.recordingConfig");
    if (!c->has_channel_type || !c->channel_type_ok || c->channel_type < 0 || c->channel_type > 1)
      return bad(e, r, "%s must be 0 (communication) or 1 (live broadcast)",
                 "clientRequest.recordingConfig.channelType");
  }
  if (c->has_avfile) {
    if (!c->avfile_ok || c->avfile_other)
      return bad(e, r, "%s must be a list of \"hls\" and \"mp4\"",
                 "clientRequest.recordingFileConfig.avFileType");
    if (!c->avfile_hls)
      return bad(e, r, "%s must include \"hls\" (MP4 needs [\"hls\",\"mp4\"]; [\"mp4\"] alone is refused)",
                 "clientRequest.recordingFileConfig.avFileType");
  }
  return 0;
}

int agctl_validate(const agctl_req *r, rec_err *e) {
  const agctl_spec *s;
  if (!r || r->call >= AGCTL_NCALLS) {
    rec_err_set(e, REC_E_INVALID_ARGUMENT, 0, "agora: no such control call");
    return -1;
  }
  s = &specs[r->call];
  if (!segment_ok(r->appid)) return bad(e, r, "%s is required (a non-empty string without '/')", "appid");
  if (s->needs_rid && !segment_ok(r->resourceid))
    return bad(e, r, "%s is required (a non-empty string without '/')", "resourceid");
  if (s->needs_sid && !segment_ok(r->sid))
    return bad(e, r, "%s is required (a non-empty string without '/')", "sid");
  if (r->call != AGCTL_ACQUIRE && !mode_ok(r->mode))
    return bad(e, r, "%s must be \"individual\", \"mix\" or \"web\"", "mode");
  if (r->call == AGCTL_UPDATE_LAYOUT && strcmp(r->mode, "mix") != 0)
    return bad(e, r, "%s must be \"mix\": updateLayout exists in mix mode only", "mode");
  if (!s->needs_body) return 0;
  /* the channel name: Agora refuses 64 bytes and more (code 1013) */
  if (!r->cname || !*r->cname || strlen(r->cname) >= 64)
    return bad(e, r, "%s is required: a string of 1 to 63 bytes", "cname");
  if (!uid_ok(r->uid))
    return bad(e, r, "%s must be a quoted integer 1..4294967295, e.g. \"527841\" (not 0)", "uid");
  if (r->call == AGCTL_ACQUIRE) return check_acquire(r, e);
  if (r->call == AGCTL_START) return check_start(r, e);
  if ((r->call == AGCTL_UPDATE || r->call == AGCTL_UPDATE_LAYOUT) && !r->client.present)
    return bad(e, r, "%s is required (a table)", "clientRequest");
  return 0;
}

/* ---- URL and body ---- */

char *agctl_build_url(const char *base_url, const agctl_req *r, rec_err *e) {
  const agctl_spec *s;
  const char *base;
  size_t blen, cap;
  char *url, *o, *end;
  if (agctl_validate(r, e) != 0) return NULL;
  s = &specs[r->call];
  base = (base_url && *base_url) ? base_url : agora_default_hosts[0];
  blen = strlen(base);
  while (blen > 0 && base[blen - 1] == '/') blen--;
  cap = blen + 3 * (strlen(r->appid) + (r->resourceid ? strlen(r->resourceid) : 0) +
                    (r->sid ? strlen(r->sid) : 0) + (r->mode ? strlen(r->mode) : 0)) + 96;
  if (!(url = malloc(cap))) {
    rec_err_set(e, REC_E_PROTOCOL, 0, "agora: out of memory building the URL");
    return NULL;
  }
  end = url + cap;
  memcpy(url, base, blen);
  o = url + blen;
#define PUT(lit) (memcpy(o, lit, strlen(lit)), o += strlen(lit))
  PUT("/v1/apps/");
  if (http_put_segment(&o, end, r->appid, "appid", e) != 0) goto fail;
  PUT("/cloud_recording/");
  if (s->needs_rid) {
    PUT("resourceid/");
    if (http_put_segment(&o, end, r->resourceid, "resourceid", e) != 0) goto fail;
    PUT("/");
  }
  if (s->needs_sid) {
    PUT("sid/");
    if (http_put_segment(&o, end, r->sid, "sid", e) != 0) goto fail;
    PUT("/");
  }
  if (r->call != AGCTL_ACQUIRE) {
    PUT("mode/");
    if (http_put_segment(&o, end, r->mode, "mode", e) != 0) goto fail;
    PUT("/");
  }
  PUT(s->verb);
#undef PUT
  *o = '\0';
  return url;
fail:
  free(url);
  return NULL;
}

char *agctl_build_body(const agctl_req *r, size_t *len, rec_err *e) {
  sbuf b = {0};
  *len = 0;
  if (agctl_validate(r, e) != 0 || !specs[r->call].needs_body) return NULL;
  sbuf_adds(&b, "{\"cname\":");
  sbuf_add_json_str(&b, r->cname, strlen(r->cname));
  sbuf_adds(&b, ",\"uid\":");
  sbuf_add_json_str(&b, r->uid, strlen(r->uid));
  sbuf_adds(&b, ",\"clientRequest\":");
  sbuf_adds(&b, r->client_json && *r->client_json ? r->client_json : "{}");
  sbuf_adds(&b, "}");
  if (!b.p || sbuf_reserve(&b, 1) != 0) {
    sbuf_free(&b);
    rec_err_set(e, REC_E_PROTOCOL, 0, "agora: out of memory building the request body");
    return NULL;
  }
  b.p[b.len] = '\0';
  *len = b.len;
  return b.p;
}

/* ---- replies ---- */

static long code_of(const reply_facts *f) { return f && f->has_code_num ? f->code_num : -1; }

/* The documented special outcomes: replies that are not failures of the call. */
static int special_outcome(agctl_call c, long st, const reply_facts *f, agctl_outcome *out) {
  long code = code_of(f);
  if (c == AGCTL_START && st == 201 && code == 7) *out = AGCTL_ALREADY_STARTED;
  else if (c == AGCTL_START && st == 400 && code == 53) *out = AGCTL_CONFLICT_RUNNING;
  else if (c == AGCTL_STOP && st == 400 && code == 49) *out = AGCTL_ALREADY_STOPPED;
  else if (c == AGCTL_STOP && st == 206 && code == 435) *out = AGCTL_NOTHING_RECORDED;
  else if (c == AGCTL_STOP && st == 404 && f && f->is_object && (f->has_code_num || f->reason) &&
           !((f->reason && strstr(f->reason, "no Route matched")) ||
             (f->message && strstr(f->message, "no Route matched"))))
    *out = AGCTL_ALREADY_STOPPED;
  else return 0;
  return 1;
}

static void keep_code(const reply_facts *f, rec_err *e) {
  if (f->has_code_num) {
    e->has_code = 1;
    e->code = f->code_num;
  }
  if (f->code_str) {
    e->has_code = 1;
    snprintf(e->code_str, sizeof e->code_str, "%s", f->code_str);
  }
}

int agctl_interpret(agctl_call c, long st, const char *body, size_t len, const reply_facts *f,
                    agctl_outcome *out, rec_err *e) {
  static const reply_facts none;
  char ex[AGCTL_EXCERPT + 8];
  long code;
  if (!f) f = &none;
  code = code_of(f);
  *out = AGCTL_OK;
  if (special_outcome(c, st, f, out)) return 0;
  if (st == 200 && f->is_object) return 0;  /* the schema checks the fields */
  rec_reply_excerpt(ex, sizeof ex, AGCTL_EXCERPT, body, len);
  if (c == AGCTL_QUERY || st == 401 || st == 403 || st == 429 || st == 206 || st >= 500 ||
      (st == 404 && c != AGCTL_STOP)) {
    /* the query's own reading: auth, not_found, rate limit, 206/5xx retryable */
    if (agora_interpret(st, body, len, f, e) == 0) return 0;
    if (c == AGCTL_ACQUIRE && st == 206) e->retryable = 0;  /* acquire has no code 65 */
    if (c != AGCTL_QUERY && e->kind != REC_E_RATE_LIMITED) {
      char msg[sizeof e->message];
      memcpy(msg, e->message, sizeof msg);
      snprintf(e->message, sizeof e->message, "rec.agora.%s: %.480s", agctl_call_name(c), msg);
    }
    return -1;
  }
  if (st == 400 && code == 406) {
    rec_err_set(e, REC_E_SERVER, 400,
                "rec.agora.%s: 400 code 406 vendor_over_load: the concurrency limit is reached "
                "(check for recording tasks that were never stopped)", agctl_call_name(c));
    e->retryable = 0;
  } else if (st == 404) {  /* stop: not an API answer (a route miss, HTML, empty) */
    rec_err_set(e, REC_E_PROTOCOL, 404,
                "rec.agora.%s: 404 that is not the API's answer (wrong URL or method? check "
                "base_url): %s", agctl_call_name(c), ex);
  } else if (!f->is_json) {
    rec_err_set(e, REC_E_PROTOCOL, (int)st, "rec.agora.%s: reply is not JSON (HTTP %ld): %s",
                agctl_call_name(c), st, ex);
  } else if (st >= 400 && st < 500) {
    rec_err_set(e, REC_E_INVALID_ARGUMENT, (int)st,
                "rec.agora.%s: %ld refused (not retried): %s", agctl_call_name(c), st, ex);
    e->retryable = 0;
  } else {
    rec_err_set(e, REC_E_PROTOCOL, (int)st, "rec.agora.%s: unexpected reply (HTTP %ld): %s",
                agctl_call_name(c), st, ex);
  }
  keep_code(f, e);
  return -1;
}

int agctl_again_class(const rec_err *e) { return e->status == 206; }

const sch_node *agctl_reply_schema(agctl_call c) {
  switch (c) {
  case AGCTL_ACQUIRE: return &sch_agora_acquire_reply;
  case AGCTL_START: return &sch_agora_start_reply;
  case AGCTL_QUERY: return &sch_agora_reply;
  case AGCTL_UPDATE:
  case AGCTL_UPDATE_LAYOUT: return &sch_agora_update_reply;
  case AGCTL_STOP: return &sch_agora_stop_reply;
  default: return NULL;
  }
}
