/* qingcloud: QingCloud RTC cloud-recording queries: validation, signed URL, reply
 * interpretation and status names. Plain C; knows nothing of Lua or the loop. */
#ifndef REC_QINGCLOUD_H
#define REC_QINGCLOUD_H
#include <time.h>
#include "provider.h"

#define QC_DEFAULT_BASE "https://rtc.api.qingcloud.com"
#define QC_QUERY_PATH "/v1/cloudRecord"

/* Which optional parameters the script gave (only those are sent). */
enum { QC_HAS_FROM = 1, QC_HAS_TO = 2, QC_HAS_OFFSET = 4, QC_HAS_LIMIT = 8 };

typedef struct qc_query_params {
  const char *app_id;   /* required */
  const char *channel;  /* required */
  long from_hour, to_hour, offset, limit;
  unsigned given;       /* QC_HAS_* bits */
} qc_query_params;

/* 0 when valid; else fills e (kind invalid_argument, message names the parameter). Rules:
 * app_id and channel non-empty; 0 <= to_hour <= from_hour <= 24 when both given, each in
 * 0..24 when given alone (the window is at most 24 hours); offset >= 0; 1 <= limit <= 100. */
int qc_validate_query(const qc_query_params *p, rec_err *e);
/* Full signed URL: base_url + "/v1/cloudRecord?" + canonical query + "&signature=" +
 * percent-encoded signature, with access_key_id, signature_method=HmacSHA256,
 * signature_version=1 and time_stamp (UTC, from now). malloc'd; NULL with e set on failure. */
char *qc_build_query_url(const char *base_url, const qc_query_params *p,
                         const char *access_key_id, const char *secret, time_t now,
                         rec_err *e);
/* 0 when the reply is a success ({"code":"success",...}); else fills e with the typed error:
 * 401/403 or an auth-looking code -> auth; 404 -> protocol (wrong URL); 429 -> rate_limited;
 * 5xx -> server (retryable); 400 or a non-"success" code -> by code (invalid_argument for
 * parameter errors, auth for signature/access-key errors, else server); not JSON, or JSON
 * without the documented fields -> protocol with the first bytes of the body. The raw body
 * (an excerpt) is kept in the message since the error shape is undocumented. */
int qc_interpret(long http_status, const char *body, size_t len, const reply_facts *f,
                 rec_err *e);
/* "PushToQingstorFailed" for 52; NULL for an unknown code. */
const char *qc_status_name(long status);
/* 1 for the failure statuses 30, 32, 50, 51, 52, 53. */
int qc_status_is_failure(long status);
/* Field names (NULL-terminated) of a recinfo and of the reply that are whole numbers, even
 * when a reply carries them as strings. */
extern const char *const qc_integer_fields[];

#endif
