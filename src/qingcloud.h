/* qingcloud: QingCloud RTC cloud-recording queries: validation, signed URL, reply
 * interpretation and status names. Plain C; knows nothing of Lua or the loop. */
#ifndef REC_QINGCLOUD_H
#define REC_QINGCLOUD_H
#include <time.h>
#include "provider.h"

#define QC_DEFAULT_BASE "https://rtc.api.qingcloud.com"
#define QC_QUERY_PATH "/v1/cloudRecord"

/* Which optional parameters the script gave. offset/limit are sent only when given; the hour
 * window is always sent, a missing hour taking the widest default below. */
enum { QC_HAS_FROM = 1, QC_HAS_TO = 2, QC_HAS_OFFSET = 4, QC_HAS_LIMIT = 8 };

typedef struct qc_query_params {
  const char *app_id;   /* required */
  const char *channel;  /* required */
  long from_hour, to_hour, offset, limit;
  unsigned given;       /* QC_HAS_* bits */
} qc_query_params;

#define QC_DEFAULT_FROM_HOUR 24L
#define QC_DEFAULT_TO_HOUR 0L
/* The from_hour/to_hour a query sends (given, or the defaults 24 and 0). */
void qc_effective_hours(const qc_query_params *p, long *from, long *to);
/* 0 when valid; else fills e (kind invalid_argument, message names the parameter). Rules:
 * app_id and channel non-empty; 0 <= to_hour <= from_hour <= 24 after the defaults (so
 * to_hour alone works with from_hour 24, from_hour alone with to_hour 0); offset >= 0;
 * 1 <= limit <= 100. */
int qc_validate_query(const qc_query_params *p, rec_err *e);
/* Full signed URL: base_url + "/v1/cloudRecord?" + canonical query + "&signature=" +
 * percent-encoded signature, with access_key_id, signature_method=HmacSHA256,
 * signature_version=1 and time_stamp (UTC, from now). malloc'd; NULL with e set on failure. */
char *qc_build_query_url(const char *base_url, const qc_query_params *p,
                         const char *access_key_id, const char *secret, time_t now,
                         rec_err *e);
/* 0 when the reply is a success ({"code":"success",...}); else fills e with the typed error,
 * by HTTP status only (no QingCloud error reply is documented): 400 -> invalid_argument;
 * 401/403 -> auth; 404 -> protocol (wrong URL); 429 -> rate_limited; 5xx -> server
 * (retryable); a 2xx whose code is not "success" -> server, not retried; anything else (not
 * JSON, no recinfos) -> protocol. A string code goes to e->code_str; the message quotes an
 * excerpt of the body, since the error shape is undocumented. */
int qc_interpret(long http_status, const char *body, size_t len, const reply_facts *f,
                 rec_err *e);
/* "PushToQingstorFailed" for 52; NULL for an unknown code. */
const char *qc_status_name(long status);
/* 1 for the failure statuses 30, 32, 50, 51, 52, 53. */
int qc_status_is_failure(long status);

#endif
