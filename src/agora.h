/* agora: Agora Cloud Recording queries: validation, URL and Basic auth, host failover order,
 * reply interpretation and status names. Plain C; knows nothing of Lua or the loop. */
#ifndef REC_AGORA_H
#define REC_AGORA_H
#include <stddef.h>
#include "provider.h"

typedef struct agora_query_params {
  const char *appid, *resourceid, *sid;  /* required, non-empty */
  const char *mode;                      /* individual | mix | web; NULL means mix */
} agora_query_params;

/* Documented hosts in failover order: the two main domains, then regional hosts. */
extern const char *const agora_default_hosts[];
extern const size_t agora_default_hosts_count;

int agora_validate_query(const agora_query_params *p, rec_err *e);
/* base_url + "/v1/apps/{appid}/cloud_recording/resourceid/{rid}/sid/{sid}/mode/{mode}/query",
 * each segment percent-escaped. malloc'd; NULL with e set. */
char *agora_build_query_url(const char *base_url, const agora_query_params *p, rec_err *e);
/* "Basic " + base64(id ":" secret), malloc'd. */
char *agora_basic_auth(const char *customer_id, const char *customer_secret);
/* Host to use for attempt n (1-based) given a failover list of len n_hosts: the same host
 * for attempts 1 and 2, then the next ones in order, staying on the last. */
const char *agora_host_for_attempt(const char *const *hosts, size_t n_hosts, int attempt);
/* 0 for a 200 with serverResponse; else fills e: 401 -> auth; 404 with a JSON object from
 * the API (code/reason, any reason) -> not_found (the recording is not running); the route
 * miss ("no Route matched") and a 404 that is not such an object (HTML, empty) -> protocol; 429 -> rate_limited; 206 with code 65 and 504 with code 62 -> server,
 * retryable; other 5xx -> server retryable; 400 -> invalid_argument (code kept); a body that
 * is not the documented JSON -> protocol with the first bytes of the body. */
int agora_interpret(long http_status, const char *body, size_t len, const reply_facts *f,
                    rec_err *e);
/* "in_progress" for 5, "exited_abnormally" for 20; NULL for an unknown code. */
const char *agora_status_name(long status);

#endif
