/* qingcloud: QingCloud RTC cloud-recording query: parameter validation, the signed GET URL,
 * typed interpretation of replies and the status-name table. No Lua, no I/O. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "qcsign.h"
#include "qingcloud.h"

#define QC_EXCERPT 200

typedef struct qc_status_entry {
  long code;
  const char *name;
  int failure;
} qc_status_entry;

/* The QingCloud document "查询录制": 录制状态说明. */
static const qc_status_entry qc_statuses[] = {
  {0, "None", 0},
  {1, "Start", 0},
  {2, "Recording", 0},
  {3, "Recorded", 0},
  {4, "Stopping", 0},
  {5, "AutoStopping", 0},
  {6, "MergingSingleMedia", 0},
  {7, "SingleMediaMerged", 0},
  {8, "PushingToQingstor", 0},
  {9, "PushedToQingstor", 0},
  {10, "Stopped", 0},
  {11, "RepairingMedia", 0},
  {30, "RecordProcessCored", 0},  /* a crash under repair: 31 or 32 follows (rec.watch) */
  {31, "RecordProcessCoredRepairSuccess", 0},
  {32, "RecordProcessCoredRepairFailed", 1},
  {50, "RepairMediaFailed", 1},
  {51, "MergeSingleMediaFailed", 1},
  {52, "PushToQingstorFailed", 1},
  {53, "StopRecordProcessFailed", 1},
};

static const qc_status_entry *qc_status_find(long status) {
  size_t i;
  for (i = 0; i < sizeof qc_statuses / sizeof qc_statuses[0]; i++)
    if (qc_statuses[i].code == status) return &qc_statuses[i];
  return NULL;
}

const char *qc_status_name(long status) {
  const qc_status_entry *s = qc_status_find(status);
  return s ? s->name : NULL;
}

int qc_status_is_failure(long status) {
  const qc_status_entry *s = qc_status_find(status);
  return s ? s->failure : 0;
}

/* ---- validation ---- */

static int qc_empty(const char *s) { return !s || !*s; }

/* The window actually sent: both hours always; a missing one takes the default that keeps
 * the window widest (from_hour 24, to_hour 0). The service's own defaults (from 3, to 5)
 * break its own rule to_hour <= from_hour, so recwatch never leaves them to it. */
void qc_effective_hours(const qc_query_params *p, long *from, long *to) {
  *from = (p->given & QC_HAS_FROM) ? p->from_hour : QC_DEFAULT_FROM_HOUR;
  *to = (p->given & QC_HAS_TO) ? p->to_hour : QC_DEFAULT_TO_HOUR;
}

static int qc_check_hours(const qc_query_params *p, rec_err *e) {
  long from, to;
  qc_effective_hours(p, &from, &to);
  if (from < 0 || from > 24) {
    rec_err_set(e, REC_E_INVALID_ARGUMENT, 0,
                "qingcloud: from_hour=%ld is out of range: use 0..24 (hours before now)", from);
    return -1;
  }
  if (to < 0 || to > 24) {
    rec_err_set(e, REC_E_INVALID_ARGUMENT, 0,
                "qingcloud: to_hour=%ld is out of range: use 0..24 (hours before now)", to);
    return -1;
  }
  if (from < to) {
    rec_err_set(e, REC_E_INVALID_ARGUMENT, 0,
                "qingcloud: from_hour=%ld is less than to_hour=%ld: the window runs from "
                "from_hour hours ago to to_hour hours ago, so 0 <= to_hour <= from_hour <= 24",
                from, to);
    return -1;
  }
  return 0;
}

static int qc_check_paging(const qc_query_params *p, rec_err *e) {
  if ((p->given & QC_HAS_OFFSET) && p->offset < 0) {
    rec_err_set(e, REC_E_INVALID_ARGUMENT, 0,
                "qingcloud: offset=%ld is negative: use 0 or more", p->offset);
    return -1;
  }
  if ((p->given & QC_HAS_LIMIT) && (p->limit < 1 || p->limit > 100)) {
    rec_err_set(e, REC_E_INVALID_ARGUMENT, 0,
                "qingcloud: limit=%ld is out of range: use 1..100 and page with offset",
                p->limit);
    return -1;
  }
  return 0;
}

int qc_validate_query(const qc_query_params *p, rec_err *e) {
  if (!p) {
    rec_err_set(e, REC_E_INVALID_ARGUMENT, 0, "qingcloud: no query parameters");
    return -1;
  }
  if (qc_empty(p->app_id)) {
    rec_err_set(e, REC_E_INVALID_ARGUMENT, 0,
                "qingcloud: app_id is required: pass the application ID as a non-empty string");
    return -1;
  }
  if (qc_empty(p->channel)) {
    rec_err_set(e, REC_E_INVALID_ARGUMENT, 0,
                "qingcloud: channel is required: pass the channel name as a non-empty string");
    return -1;
  }
  if (qc_check_hours(p, e) != 0) return -1;
  return qc_check_paging(p, e);
}

/* ---- URL ---- */

/* Storage for the formatted numbers and timestamp the qc_param array points into. */
typedef struct qc_numbers {
  char from[24], to[24], offset[24], limit[24], ts[21];
} qc_numbers;

static size_t qc_collect_params(const qc_query_params *p, const char *akid, qc_numbers *nb,
                                qc_param *out) {
  size_t n = 0;
  out[n++] = (qc_param){"app_id", p->app_id};
  out[n++] = (qc_param){"channel", p->channel};
  long from, to;
  qc_effective_hours(p, &from, &to);
  snprintf(nb->from, sizeof nb->from, "%ld", from);
  out[n++] = (qc_param){"from_hour", nb->from};
  snprintf(nb->to, sizeof nb->to, "%ld", to);
  out[n++] = (qc_param){"to_hour", nb->to};
  if (p->given & QC_HAS_OFFSET) {
    snprintf(nb->offset, sizeof nb->offset, "%ld", p->offset);
    out[n++] = (qc_param){"offset", nb->offset};
  }
  if (p->given & QC_HAS_LIMIT) {
    snprintf(nb->limit, sizeof nb->limit, "%ld", p->limit);
    out[n++] = (qc_param){"limit", nb->limit};
  }
  out[n++] = (qc_param){"access_key_id", akid};
  out[n++] = (qc_param){"signature_method", "HmacSHA256"};
  out[n++] = (qc_param){"signature_version", "1"};
  out[n++] = (qc_param){"time_stamp", nb->ts};
  return n;
}

static char *qc_join_url(const char *base, const char *canonical, const char *sig) {
  size_t blen = strlen(base), cap;
  char *url;
  while (blen > 0 && base[blen - 1] == '/') blen--;
  cap = blen + strlen(QC_QUERY_PATH) + strlen(canonical) + strlen(sig) + 16;
  url = malloc(cap);
  if (url)
    snprintf(url, cap, "%.*s%s?%s&signature=%s", (int)blen, base, QC_QUERY_PATH, canonical,
             sig);
  return url;
}

char *qc_build_query_url(const char *base_url, const qc_query_params *p,
                         const char *access_key_id, const char *secret, time_t now,
                         rec_err *e) {
  qc_param params[12];
  qc_numbers nb;
  size_t n;
  char *canonical, *sig, *qsig = NULL, *url = NULL;
  if (qc_validate_query(p, e) != 0) return NULL;
  if (qc_empty(access_key_id) || qc_empty(secret)) {
    rec_err_set(e, REC_E_AUTH, 0,
                "qingcloud: no credentials: set QINGCLOUD_ACCESS_KEY_ID and "
                "QINGCLOUD_SECRET_ACCESS_KEY, or access_key_id and secret_access_key in "
                "rec.configure{qingcloud={...}}");
    return NULL;
  }
  qc_format_timestamp(now, nb.ts);
  n = qc_collect_params(p, access_key_id, &nb, params);
  canonical = qc_canonical_query(params, n);
  sig = qc_signature(secret, "GET", QC_QUERY_PATH, params, n, NULL, 0);
  if (sig) qsig = qc_quote_all(sig);
  if (canonical && qsig) url = qc_join_url(qc_empty(base_url) ? QC_DEFAULT_BASE : base_url,
                                           canonical, qsig);
  free(canonical);
  free(sig);
  free(qsig);
  if (!url) rec_err_set(e, REC_E_PROTOCOL, 0, "qingcloud: out of memory building the URL");
  return url;
}

/* ---- reply interpretation ---- */

/* The kind follows the HTTP status: the document documents no error replies, so no wording in a
 * body decides anything. A 2xx whose code is not "success" is an error the service reported
 * without a status: server (not retried: nothing says repeating it helps). */
static rec_errkind qc_kind_for(long st, const reply_facts *f) {
  if (st == 400) return REC_E_INVALID_ARGUMENT;
  if (st == 401 || st == 403) return REC_E_AUTH;
  if (st == 404) return REC_E_PROTOCOL;
  if (st == 429) return REC_E_RATE_LIMITED;
  if (st >= 500) return REC_E_SERVER;
  if (st >= 200 && st < 300 && f->is_object && f->code_str && strcmp(f->code_str, "success") != 0)
    return REC_E_SERVER;
  return REC_E_PROTOCOL;
}

static const char *qc_advice(rec_errkind kind, long st) {
  switch (kind) {
  case REC_E_AUTH:
    return "authentication failed: check access_key_id and secret_access_key, and that the "
           "clock is right (time_stamp is valid 15 minutes)";
  case REC_E_RATE_LIMITED: return "rate limited: lower qingcloud.rate and retry later";
  case REC_E_SERVER:
    return st >= 200 && st < 300 ? "the service reported a failure in a 2xx reply"
                                 : "server error: retry later";
  case REC_E_INVALID_ARGUMENT:
    return "request rejected: check app_id, channel, from_hour/to_hour, offset and limit";
  default:
    return st == 404 ? "wrong URL (check base_url)" : "unexpected reply";
  }
}

static void qc_fill_code(const reply_facts *f, rec_err *e) {
  if (f->code_str && strcmp(f->code_str, "success") != 0) {
    e->has_code = 1;
    snprintf(e->code_str, sizeof e->code_str, "%s", f->code_str);
  }
  if (f->has_code_num) {
    e->has_code = 1;
    e->code = f->code_num;
  }
}

static void qc_fail(long st, const char *ex, const reply_facts *f, rec_err *e) {
  rec_errkind kind = qc_kind_for(st, f);
  int not_retried = st >= 200 && st < 300 && kind == REC_E_SERVER;
  if (!f->is_json) {
    rec_err_set(e, kind, (int)st, "qingcloud: reply is not JSON (HTTP %ld): %s", st, ex);
  } else if (f->is_object && f->code_str && strcmp(f->code_str, "success") != 0) {
    char code[40];
    rec_excerpt(code, sizeof code, f->code_str, strlen(f->code_str));
    rec_err_set(e, kind, (int)st, "qingcloud: code \"%s\" (HTTP %ld): %s; reply: %s", code, st,
                qc_advice(kind, st), ex);
  } else if (st >= 200 && st < 300 && f->is_object && f->code_str) {
    rec_err_set(e, kind, (int)st,
                "qingcloud: reply has code \"success\" but no recinfos list (HTTP %ld): %s", st,
                ex);
  } else if (st >= 200 && st < 300) {
    rec_err_set(e, kind, (int)st,
                "qingcloud: reply is not the documented object with \"code\" (HTTP %ld): %s", st,
                ex);
  } else {
    rec_err_set(e, kind, (int)st, "qingcloud: HTTP %ld %s; reply: %s", st, qc_advice(kind, st),
                ex);
  }
  if (not_retried) e->retryable = 0;
  qc_fill_code(f, e);
}

int qc_interpret(long http_status, const char *body, size_t len, const reply_facts *f,
                 rec_err *e) {
  static const reply_facts none;
  char ex[QC_EXCERPT + 8];
  if (!f) f = &none;
  if (http_status >= 200 && http_status < 300 && f->is_object && f->code_str &&
      strcmp(f->code_str, "success") == 0 && f->has_recinfos)
    return 0;
  rec_reply_excerpt(ex, sizeof ex, QC_EXCERPT, body, len);
  qc_fail(http_status, ex, f, e);
  return -1;
}
