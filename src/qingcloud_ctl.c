/* qingcloud_ctl: QingCloud's control calls as plain data: the checks of the start and stop
 * pages' fields, the JSON body, the URL signed over those exact bytes, and the reading of a
 * reply ("code" is the string "success"; no error body is documented, so the HTTP status
 * types a failure). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "qcsign.h"
#include "qingcloud_ctl.h"
#include "sbuf.h"

#define QCCTL_EXCERPT 200

typedef struct qcctl_option {
  const char *name;
  long max;
} qcctl_option;

/* The start page's optional integers: each 0..max (defaults 0, mixed_video_audio 2). */
static const qcctl_option options[QCCTL_NOPTS] = {
  [QCCTL_IS_AUDIO_ONLY] = {"isAudioOnly", 1},
  [QCCTL_IS_VIDEO_ONLY] = {"isVideoOnly", 1},
  [QCCTL_MIXED_VIDEO_AUDIO] = {"mixed_video_audio", 2},
  [QCCTL_LAYOUT_MODE] = {"layout_mode", 2},
  [QCCTL_STREAM_TYPE] = {"stream_type", 1},
  [QCCTL_IS_MIXING_ENABLED] = {"is_mixing_enabled", 1},
};

const char *qcctl_call_name(qcctl_call c) {
  static const char *const names[QCCTL_NCALLS] = {"start", "stop", "query"};
  return (unsigned)c < QCCTL_NCALLS ? names[c] : "?";
}

const char *qcctl_method(qcctl_call c) {
  return c == QCCTL_START ? "POST" : c == QCCTL_STOP ? "PATCH" : "GET";
}

const char *qcctl_option_name(int i) {
  return i >= 0 && i < QCCTL_NOPTS ? options[i].name : NULL;
}

long qcctl_option_max(int i) { return i >= 0 && i < QCCTL_NOPTS ? options[i].max : -1; }

/* ---- checks ---- */

static int bad(rec_err *e, qcctl_call c, const char *field, const char *rule) {
  rec_err_set(e, REC_E_INVALID_ARGUMENT, 0, "rec.qingcloud.%s: %s %s", qcctl_call_name(c),
              field, rule);
  e->retryable = 0;
  return -1;
}

static int empty(const char *s) { return !s || !*s; }

int qcctl_validate(const qcctl_req *r, rec_err *e) {
  int i;
  if (!r || (unsigned)r->call >= QCCTL_NCALLS) {
    rec_err_set(e, REC_E_INVALID_ARGUMENT, 0, "qingcloud: no such control call");
    return -1;
  }
  if (r->call == QCCTL_QUERY) {
    if (qc_validate_query(&r->query, e) == 0) return 0;
    e->retryable = 0;
    return -1;
  }
  if (empty(r->app_id)) return bad(e, r->call, "app_id", "is required (a non-empty string)");
  if (empty(r->project_id))
    return bad(e, r->call, "project_id", "is required (a non-empty string)");
  if (empty(r->channel)) return bad(e, r->call, "channel", "is required (a non-empty string)");
  if (r->call == QCCTL_STOP) {
    if (r->sign_key || r->given)
      return bad(e, r->call, r->sign_key ? "sign_key" : "a start option",
                 "is not a stop parameter (stop takes app_id, project_id and channel)");
    return 0;
  }
  if (empty(r->sign_key))
    return bad(e, r->call, "sign_key", "is required (the project's key, a non-empty string)");
  for (i = 0; i < QCCTL_NOPTS; i++) {
    char rule[48];
    if (!(r->given & (1u << i))) continue;
    if (r->opt[i] >= 0 && r->opt[i] <= options[i].max) continue;
    snprintf(rule, sizeof rule, "must be an integer 0..%ld", options[i].max);
    return bad(e, r->call, options[i].name, rule);
  }
  if ((r->given & (1u << QCCTL_IS_AUDIO_ONLY)) && (r->given & (1u << QCCTL_IS_VIDEO_ONLY)) &&
      r->opt[QCCTL_IS_AUDIO_ONLY] == 1 && r->opt[QCCTL_IS_VIDEO_ONLY] == 1)
    return bad(e, r->call, "isAudioOnly and isVideoOnly", "cannot both be 1");
  return 0;
}

/* ---- body and URL ---- */

static void add_str(sbuf *b, const char *key, const char *v, int first) {
  sbuf_adds(b, first ? "{\"" : ",\"");
  sbuf_adds(b, key);
  sbuf_adds(b, "\":");
  sbuf_add_json_str(b, v, strlen(v));
}

char *qcctl_build_body(const qcctl_req *r, size_t *len, rec_err *e) {
  sbuf b = {0};
  size_t want;
  int i;
  *len = 0;
  if (qcctl_validate(r, e) != 0 || r->call == QCCTL_QUERY) return NULL;
  add_str(&b, "app_id", r->app_id, 1);
  add_str(&b, "project_id", r->project_id, 0);
  add_str(&b, "channel", r->channel, 0);
  if (r->call == QCCTL_START) {
    add_str(&b, "sign_key", r->sign_key, 0);
    for (i = 0; i < QCCTL_NOPTS; i++)
      if (r->given & (1u << i)) sbuf_addf(&b, ",\"%s\":%ld", options[i].name, r->opt[i]);
  }
  sbuf_adds(&b, "}");
  /* sbuf drops a piece on OOM: the length proves every byte is there */
  want = strlen(r->app_id) + strlen(r->project_id) + strlen(r->channel);
  if (!b.p || b.len < want + 2 || sbuf_reserve(&b, 1) != 0 || b.p[b.len - 1] != '}') {
    sbuf_free(&b);
    rec_err_set(e, REC_E_PROTOCOL, 0, "qingcloud: out of memory building the request body");
    return NULL;
  }
  b.p[b.len] = '\0';
  *len = b.len;
  return b.p;
}

char *qcctl_build_url(const char *base_url, const qcctl_req *r, const char *access_key_id,
                      const char *secret, time_t now, const char *body, size_t len,
                      rec_err *e) {
  qc_param params[4];
  char ts[21], *canonical, *sig, *qsig = NULL, *url = NULL;
  const char *base;
  size_t blen, cap;
  if (r && r->call == QCCTL_QUERY)
    return qc_build_query_url(base_url, &r->query, access_key_id, secret, now, e);
  if (!r || (unsigned)r->call >= QCCTL_NCALLS) {  /* the body was checked when built */
    rec_err_set(e, REC_E_INVALID_ARGUMENT, 0, "qingcloud: no such control call");
    return NULL;
  }
  if (empty(access_key_id) || empty(secret)) {
    rec_err_set(e, REC_E_AUTH, 0,
                "qingcloud: no credentials: set QINGCLOUD_ACCESS_KEY_ID and "
                "QINGCLOUD_SECRET_ACCESS_KEY, or access_key_id and secret_access_key in "
                "rec.configure{qingcloud={...}}");
    e->retryable = 0;
    return NULL;
  }
  if (!body) {
    rec_err_set(e, REC_E_INVALID_ARGUMENT, 0, "rec.qingcloud.%s: no body to sign",
                qcctl_call_name(r->call));
    return NULL;
  }
  qc_format_timestamp(now, ts);
  params[0] = (qc_param){"access_key_id", access_key_id};
  params[1] = (qc_param){"signature_method", "HmacSHA256"};
  params[2] = (qc_param){"signature_version", "1"};
  params[3] = (qc_param){"time_stamp", ts};
  canonical = qc_canonical_query(params, 4);
  sig = qc_signature(secret, qcctl_method(r->call), QC_QUERY_PATH, params, 4, body, len);
  if (sig) qsig = qc_quote_all(sig);
  base = empty(base_url) ? QC_DEFAULT_BASE : base_url;
  blen = strlen(base);
  while (blen > 0 && base[blen - 1] == '/') blen--;
  if (canonical && qsig) {
    cap = blen + strlen(QC_QUERY_PATH) + strlen(canonical) + strlen(qsig) + 16;
    if ((url = malloc(cap)))
      snprintf(url, cap, "%.*s%s?%s&signature=%s", (int)blen, base, QC_QUERY_PATH, canonical,
               qsig);
  }
  free(canonical);
  free(sig);
  free(qsig);
  if (!url) rec_err_set(e, REC_E_PROTOCOL, 0, "qingcloud: out of memory building the URL");
  return url;
}

/* ---- replies ---- */

int qcctl_interpret(qcctl_call c, long st, const char *body, size_t len, const reply_facts *f,
                    rec_err *e) {
  static const reply_facts none;
  reply_facts g;
  char msg[sizeof e->message];
  if (!f) f = &none;
  if (c == QCCTL_QUERY) return qc_interpret(st, body, len, f, e);
  if (st >= 200 && st < 300 && f->is_object && f->code_str && strcmp(f->code_str, "success") == 0)
    return 0;  /* the schema checks the fields */
  /* the query's reading of a failure (by status; the body only quoted), with recinfos
   * out of the picture: a start or stop has none */
  g = *f;
  g.has_recinfos = 1;
  if (qc_interpret(st, body, len, &g, e) == 0) {  /* unreachable: success returned above */
    rec_err_set(e, REC_E_PROTOCOL, (int)st, "rec.qingcloud.%s: unexpected reply (HTTP %ld)",
                qcctl_call_name(c), st);
    return -1;
  }
  if (e->kind == REC_E_INVALID_ARGUMENT) {  /* the query's advice names its own fields */
    char ex[QCCTL_EXCERPT + 8];
    rec_reply_excerpt(ex, sizeof ex, QCCTL_EXCERPT, body, len);
    snprintf(msg, sizeof msg,
             "HTTP %ld, refused (not retried): check app_id, project_id and channel%s; reply: %s",
             st, c == QCCTL_START ? ", sign_key and the options, that recording is enabled "
                                    "for the app, storage configured and a user in the channel"
                                  : "", ex);
  } else {
    memcpy(msg, e->message, sizeof msg);
  }
  snprintf(e->message, sizeof e->message, "rec.qingcloud.%s: %.480s", qcctl_call_name(c), msg);
  return -1;
}

const sch_node *qcctl_reply_schema(qcctl_call c) {
  switch (c) {
  case QCCTL_START: return &sch_qingcloud_start_reply;
  case QCCTL_STOP: return &sch_qingcloud_stop_reply;
  case QCCTL_QUERY: return &sch_qingcloud_reply;
  default: return NULL;
  }
}
