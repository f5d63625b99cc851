/* qingcloud_ctl: QingCloud RTC control calls (start: POST /v1/cloudRecord, stop: PATCH, and
 * the documented view-record query as a control-family call): their checks, the JSON body,
 * the URL signed over the exact body bytes sent, and what a reply means. Plain C; no Lua,
 * no I/O. */
#ifndef REC_QINGCLOUD_CTL_H
#define REC_QINGCLOUD_CTL_H
#include <stddef.h>
#include <time.h>
#include "provider.h"
#include "qingcloud.h"
#include "schema.h"

typedef enum { QCCTL_START, QCCTL_STOP, QCCTL_QUERY, QCCTL_NCALLS } qcctl_call;

/* Start's optional integer fields (the start page's table), in body order. */
enum {
  QCCTL_IS_AUDIO_ONLY,
  QCCTL_IS_VIDEO_ONLY,
  QCCTL_MIXED_VIDEO_AUDIO,
  QCCTL_LAYOUT_MODE,
  QCCTL_STREAM_TYPE,
  QCCTL_IS_MIXING_ENABLED,
  QCCTL_NOPTS
};

typedef struct qcctl_req {
  qcctl_call call;
  const char *app_id, *project_id, *channel;  /* start, stop */
  const char *sign_key;                       /* start only: a secret, sent in the body */
  long opt[QCCTL_NOPTS];                      /* start: the options given */
  unsigned given;                             /* bit i: opt[i] was given */
  qc_query_params query;                      /* QCCTL_QUERY */
} qcctl_req;

/* "start", "stop", "query". */
const char *qcctl_call_name(qcctl_call c);
/* "POST" (start), "PATCH" (stop), "GET" (query). */
const char *qcctl_method(qcctl_call c);
/* "isAudioOnly", ...: the documented name of option i; NULL past the last. */
const char *qcctl_option_name(int i);
/* The largest documented value of option i (each is 0..max). */
long qcctl_option_max(int i);

/* Every documented check: 0, or -1 with e an invalid_argument naming the field (never its
 * value, so sign_key cannot leak through a message). */
int qcctl_validate(const qcctl_req *r, rec_err *e);
/* The JSON body, keys in a fixed order: {"app_id":..,"project_id":..,"channel":..
 * [,"sign_key":..][,"isAudioOnly":0,...]}. NULL for the query (a GET, no body). malloc'd;
 * *len set. */
char *qcctl_build_body(const qcctl_req *r, size_t *len, rec_err *e);
/* base + "/v1/cloudRecord?" + the canonical signature parameters + "&signature=..": signed
 * over method, path, query and the MD5 of body[0..len) (the bytes that will be sent, from
 * qcctl_build_body, which checked the request). For the query, qc_build_query_url.
 * malloc'd; NULL with e set. */
char *qcctl_build_url(const char *base_url, const qcctl_req *r, const char *access_key_id,
                      const char *secret, time_t now, const char *body, size_t len,
                      rec_err *e);

/* The reply to call c: 0 for a 2xx object whose code is the string "success" (the schema
 * then checks the rest), else -1 with e typed by HTTP status as for the query (no error body
 * is documented): 400 invalid_argument, 401/403 auth, 404 protocol, 429 rate_limited, 5xx
 * server (retryable), a 2xx with another code server (not retried), else protocol. */
int qcctl_interpret(qcctl_call c, long status, const char *body, size_t len,
                    const reply_facts *f, rec_err *e);

/* The 200 body's contract for call c (schema.c). */
const sch_node *qcctl_reply_schema(qcctl_call c);

#endif
