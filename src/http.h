/* http: non-blocking HTTP(S) through libcurl's multi interface driven by libuv: connection
 * reuse, per-request timeouts, a reply size cap, cancellation, typed errors. */
#ifndef REC_HTTP_H
#define REC_HTTP_H
#include <stddef.h>
#include <uv.h>
#include "rerr.h"

typedef struct http_client http_client_t;
struct rclock;
typedef struct http_req http_req_t;

#define HTTP_DEFAULT_MAX_REPLY (8u * 1024u * 1024u)

typedef struct http_request {
  const char *method;            /* GET when NULL */
  const char *url;
  const char *const *headers;    /* "Name: value" strings, NULL-terminated; may be NULL */
  const char *body;              /* copied; may be NULL */
  size_t body_len;
  double timeout;                /* seconds, whole transfer; <= 0 means 10 */
  size_t max_reply;              /* bytes; 0 means the client's default */
} http_request;

typedef struct http_response {
  long status;
  const char *body;              /* NUL-terminated, body_len bytes */
  size_t body_len;
  const char *headers;           /* raw header block of the final response */
  size_t headers_len;
  double retry_after;            /* seconds from Retry-After (delta form), 0 when absent */
} http_response;

/* Called once per request that was not cancelled: res on success (any HTTP status), err on a
 * transport failure. Both are valid only during the call. */
typedef void (*http_done_cb)(void *ud, const http_response *res, const rec_err *err);

typedef struct http_client_options {
  size_t max_reply;              /* default HTTP_DEFAULT_MAX_REPLY */
  const char *ca_file;           /* extra CA bundle for https, or NULL for the system's */
  long max_host_connections;     /* default 64 */
} http_client_options;

/* curl's process-wide set-up: once in main() (and in tests) before any client. */
int http_global_init(void);
void http_global_cleanup(void);
http_client_t *http_client_new(uv_loop_t *loop, const http_client_options *opt);
/* The engine clock; on a virtual one, request timeouts are engine timers. */
void http_client_set_clock(http_client_t *c, struct rclock *clock);
/* Requests in flight that are not parked on a virtual timer by the in-process simulator. */
int http_busy(http_client_t *c);
void http_client_set_options(http_client_t *c, const http_client_options *opt);
/* Cancels every request still in flight (no callbacks) and frees the client once its
 * handles are closed (run the loop afterwards). */
void http_client_free(http_client_t *c);
/* Starts a request; returns NULL with err set when it cannot even start (bad URL...). */
http_req_t *http_send(http_client_t *c, const http_request *r, http_done_cb cb, void *ud,
                      rec_err *err);
/* Aborts a request in flight; its callback is never called. */
void http_cancel(http_req_t *req);
/* Number of requests in flight. */
int http_active(http_client_t *c);
/* Copies url without its query string and userinfo into out (for logs and messages). */
void http_url_for_log(const char *url, char *out, size_t outlen);

#endif
