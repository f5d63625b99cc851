/* agora: Agora Cloud Recording query: parameter validation, the query URL, Basic auth, host
 * failover order, typed interpretation of replies and the status-name table. No Lua, no I/O. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "http.h"
#include "agora.h"
#include "crypto.h"

#define AGORA_EXCERPT 200

const char *const agora_default_hosts[] = {
  "https://api.sd-rtn.com",
  "https://api.agora.io",
  "https://api-us-west-1.sd-rtn.com",
  "https://api-us-east-1.sd-rtn.com",
  "https://api-ap-southeast-1.sd-rtn.com",
  "https://api-ap-northeast-1.sd-rtn.com",
  "https://api-eu-west-1.sd-rtn.com",
  "https://api-eu-central-1.sd-rtn.com",
  "https://api-cn-east-1.sd-rtn.com",
  "https://api-cn-north-1.sd-rtn.com",
  "https://api-us-west-1.agora.io",
  "https://api-us-east-1.agora.io",
  "https://api-ap-southeast-1.agora.io",
  "https://api-ap-northeast-1.agora.io",
  "https://api-eu-west-1.agora.io",
  "https://api-eu-central-1.agora.io",
  "https://api-cn-east-1.agora.io",
  "https://api-cn-north-1.agora.io",
};
const size_t agora_default_hosts_count =
    sizeof agora_default_hosts / sizeof agora_default_hosts[0];

typedef struct agora_status_entry {
  long code;
  const char *name;
} agora_status_entry;

/* Agora's query reference: serverResponse.status. */
static const agora_status_entry agora_statuses[] = {
  {0, "not_started"},   {1, "initialized"},  {2, "starting"},
  {3, "partially_started"}, {4, "all_started"}, {5, "in_progress"},
  {6, "stop_requested"}, {7, "all_stopped"}, {8, "exited"},
  {20, "exited_abnormally"},
};

const char *agora_status_name(long status) {
  size_t i;
  for (i = 0; i < sizeof agora_statuses / sizeof agora_statuses[0]; i++)
    if (agora_statuses[i].code == status) return agora_statuses[i].name;
  return NULL;
}

/* ---- validation ---- */

static const char *agora_segment_problem(const char *s) {
  const unsigned char *c;
  if (!s || !*s) return "is required (a non-empty string)";
  /* a dot segment would be removed from the path (RFC 3986), requesting another resource */
  if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0) return "must not be \".\" or \"..\"";
  for (c = (const unsigned char *)s; *c; c++) {
    if (*c == '/') return "must not contain '/'";
    if (*c < 0x20 || *c == 0x7f) return "must not contain control characters";
  }
  return NULL;
}

static int agora_check_segment(const char *name, const char *value, rec_err *e) {
  const char *problem = agora_segment_problem(value);
  if (!problem) return 0;
  rec_err_set(e, REC_E_INVALID_ARGUMENT, 0, "agora: %s %s", name, problem);
  return -1;
}

static int agora_mode_ok(const char *mode) {
  return !mode || strcmp(mode, "individual") == 0 || strcmp(mode, "mix") == 0 ||
         strcmp(mode, "web") == 0;
}

int agora_validate_query(const agora_query_params *p, rec_err *e) {
  char shown[40];
  if (!p) {
    rec_err_set(e, REC_E_INVALID_ARGUMENT, 0, "agora: no query parameters");
    return -1;
  }
  if (agora_check_segment("appid", p->appid, e) != 0 ||
      agora_check_segment("resourceid", p->resourceid, e) != 0 ||
      agora_check_segment("sid", p->sid, e) != 0)
    return -1;
  if (agora_mode_ok(p->mode)) return 0;
  rec_excerpt(shown, sizeof shown, p->mode, strlen(p->mode));
  rec_err_set(e, REC_E_INVALID_ARGUMENT, 0,
              "agora: mode \"%s\" is not supported: use \"individual\", \"mix\" or \"web\"",
              shown);
  return -1;
}

/* ---- URL, auth, failover ---- */

char *agora_build_query_url(const char *base_url, const agora_query_params *p, rec_err *e) {
  /* one buffer: each segment percent-encoded in place (at most 3 bytes per byte) */
  const char *base, *mode = p->mode ? p->mode : "mix";
  size_t blen, cap;
  char *url, *o, *end;
  if (agora_validate_query(p, e) != 0) return NULL;
  base = (base_url && *base_url) ? base_url : agora_default_hosts[0];
  blen = strlen(base);
  while (blen > 0 && base[blen - 1] == '/') blen--;
  cap = blen + 3 * (strlen(p->appid) + strlen(p->resourceid) + strlen(p->sid) + strlen(mode)) +
        64;
  if (!(url = malloc(cap))) {
    rec_err_set(e, REC_E_PROTOCOL, 0, "agora: out of memory building the URL");
    return NULL;
  }
  end = url + cap;
  memcpy(url, base, blen);
  o = url + blen;
#define PUT(lit) (memcpy(o, lit, sizeof lit - 1), o += sizeof lit - 1)
  PUT("/v1/apps/");
  if (http_put_segment(&o, end, p->appid, "appid", e) != 0) goto bad;
  PUT("/cloud_recording/resourceid/");
  if (http_put_segment(&o, end, p->resourceid, "resourceid", e) != 0) goto bad;
  PUT("/sid/");
  if (http_put_segment(&o, end, p->sid, "sid", e) != 0) goto bad;
  PUT("/mode/");
  if (http_put_segment(&o, end, mode, "mode", e) != 0) goto bad;
  PUT("/query");
#undef PUT
  *o = '\0';
  return url;
bad:
  free(url);
  return NULL;
}

char *agora_basic_auth(const char *customer_id, const char *customer_secret) {
  size_t n;
  char *plain, *b64, *out = NULL;
  if (!customer_id || !customer_secret) return NULL;
  n = strlen(customer_id) + strlen(customer_secret) + 2;
  plain = malloc(n);
  if (!plain) return NULL;
  snprintf(plain, n, "%s:%s", customer_id, customer_secret);
  b64 = crypto_base64(plain, n - 1);
  if (b64) {
    size_t m = strlen(b64) + 7;
    out = malloc(m);
    if (out) snprintf(out, m, "Basic %s", b64);
  }
  memset(plain, 0, n);
  free(plain);
  free(b64);
  return out;
}

const char *agora_host_for_attempt(const char *const *hosts, size_t n_hosts, int attempt) {
  size_t i;
  if (!hosts || n_hosts == 0) return NULL;
  i = attempt <= 2 ? 0 : (size_t)(attempt - 2);
  return hosts[i < n_hosts ? i : n_hosts - 1];
}

/* ---- reply interpretation ---- */

static int agora_says(const reply_facts *f, const char *phrase) {
  return (f->reason && strstr(f->reason, phrase)) || (f->message && strstr(f->message, phrase));
}

/* The reply's own words (reason, message) for a message, sanitised. */
static void agora_words(const reply_facts *f, const char *ex, char *out, size_t cap) {
  const char *w = f->reason ? f->reason : f->message ? f->message : NULL;
  if (!w) w = ex;  /* an excerpt is already printable; cut to cap either way */
  rec_excerpt(out, cap, w, strlen(w));
}

/* The document: a query outside a session (never started, or ended) is a 404. A JSON object
 * from the API (code/reason, e.g. {"code":404,"reason":"failed to find worker"}) is that
 * answer: not_found. The gateway's documented route miss ({"message":"no Route matched with
 * those values"}) and anything that is not such an object (an HTML page from a proxy, an
 * empty body) mean a wrong URL: protocol, so a bad base_url never looks like a normal end. */
static void agora_fail_404(const reply_facts *f, const char *ex, rec_err *e) {
  char words[120];
  if (agora_says(f, "no Route matched")) {
    rec_err_set(e, REC_E_PROTOCOL, 404,
                "agora: 404 no Route matched with those values: wrong URL or method (check "
                "base_url)");
  } else if (f->is_object && (f->has_code_num || f->code_str || f->reason)) {
    agora_words(f, ex, words, sizeof words);
    rec_err_set(e, REC_E_NOT_FOUND, 404,
                "agora: 404 %s: the recording is not running (ended, failed to start, or in a "
                "failover window)",
                words);
  } else {
    agora_words(f, ex, words, sizeof words);
    rec_err_set(e, REC_E_PROTOCOL, 404,
                "agora: 404 %s: not the API's JSON answer (code/reason), so not a sign the "
                "recording ended: check base_url",
                words);
  }
}

static void agora_fail_auth(long st, const reply_facts *f, const char *ex, rec_err *e) {
  char words[120];
  agora_words(f, ex, words, sizeof words);
  rec_err_set(e, REC_E_AUTH, (int)st,
              "agora: %ld %s: check customer_id and customer_secret (AGORA_CUSTOMER_ID, "
              "AGORA_CUSTOMER_SECRET)",
              st, words);
}

static void agora_fail_server(long st, const reply_facts *f, const char *ex, rec_err *e) {
  long code = f->has_code_num ? f->code_num : -1;
  if (st == 206 && code == 65)
    rec_err_set(e, REC_E_SERVER, 206,
                "agora: 206 code 65 request not completed: transient, retry the query");
  else if (st == 504 && code == 62)
    rec_err_set(e, REC_E_SERVER, 504, "agora: 504 code 62 request timeout: retry the query");
  else if (!f->is_json)
    rec_err_set(e, REC_E_SERVER, (int)st, "agora: reply is not JSON (HTTP %ld): %s", st, ex);
  else if (st == 206)
    rec_err_set(e, REC_E_SERVER, 206, "agora: 206 request not completed: retry; reply: %s", ex);
  else
    rec_err_set(e, REC_E_SERVER, (int)st, "agora: server error (HTTP %ld): retry later; reply: %s",
                st, ex);
  e->retryable = 1;
}

static void agora_fail(long st, const reply_facts *f, const char *ex, rec_err *e) {
  char words[120];
  if (st == 401 || st == 403) {
    agora_fail_auth(st, f, ex, e);
  } else if (st == 404) {
    agora_fail_404(f, ex, e);
  } else if (st == 429) {
    rec_err_set(e, REC_E_RATE_LIMITED, 429,
                "agora: 429 API rate limit exceeded: more than 10 requests per second; lower "
                "agora.rate");
  } else if (st == 206 || st >= 500) {
    agora_fail_server(st, f, ex, e);
  } else if (!f->is_json) {
    rec_err_set(e, REC_E_PROTOCOL, (int)st, "agora: reply is not JSON (HTTP %ld): %s", st, ex);
  } else if (st == 400) {
    char code[32] = "";
    agora_words(f, ex, words, sizeof words);
    if (f->has_code_num) snprintf(code, sizeof code, " code %ld", f->code_num);
    rec_err_set(e, REC_E_INVALID_ARGUMENT, 400,
                "agora: 400%s %s: check appid, resourceid, sid and mode", code, words);
  } else if (st == 200) {
    rec_err_set(e, REC_E_PROTOCOL, 200, "agora: reply has no serverResponse (HTTP 200): %s", ex);
  } else {
    rec_err_set(e, REC_E_PROTOCOL, (int)st, "agora: unexpected reply (HTTP %ld): %s", st, ex);
  }
}

int agora_interpret(long http_status, const char *body, size_t len, const reply_facts *f,
                    rec_err *e) {
  static const reply_facts none;
  char ex[AGORA_EXCERPT + 8];
  if (!f) f = &none;
  if (http_status == 200 && f->is_object && f->has_server_response) return 0;
  rec_reply_excerpt(ex, sizeof ex, AGORA_EXCERPT, body, len);
  agora_fail(http_status, f, ex, e);
  if (f->has_code_num) {
    e->has_code = 1;
    e->code = f->code_num;
  }
  if (f->code_str) {
    e->has_code = 1;
    snprintf(e->code_str, sizeof e->code_str, "%s", f->code_str);
  }
  return -1;
}
