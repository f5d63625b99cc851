/* http: non-blocking HTTP(S) through libcurl's multi interface driven by libuv: connection
 * reuse, our own per-host waiting queue, per-request timeouts, a reply size cap,
 * cancellation, typed errors, and the checks that keep caller text out of protocol syntax. */
#ifndef REC_HTTP_H
#define REC_HTTP_H
#include <stddef.h>
#include <uv.h>
#include "rerr.h"

typedef struct http_client http_client_t;
struct rclock;
typedef struct http_req http_req_t;

#define HTTP_DEFAULT_MAX_REPLY (8u * 1024u * 1024u)
/* Request limits (documented in docs/api.md): one header line "Name: value" up to 8 KiB (the
 * usual server limit per line), up to 100 headers, a URL up to 8 KiB, a method up to 15
 * bytes. Anything over is refused (invalid_argument), never cut. */
#define HTTP_MAX_HEADER_LINE 8192
#define HTTP_MAX_HEADERS 100
#define HTTP_MAX_URL 8192
#define HTTP_MAX_METHOD 15
/* Reply limits: the header block of a reply up to 256 KiB (libcurl itself refuses one line
 * over 100 KiB); more is a `protocol` error. */
#define HTTP_MAX_REPLY_HEADERS (256 * 1024)
/* Idle connections older than this are not reused: below the servers' keep-alive timeouts
 * (nginx 75 s, the simulator 60 s), so a poll every 120 s always opens a fresh connection
 * instead of racing the server's close. */
#define HTTP_MAX_CONN_AGE 30

typedef struct http_request {
  const char *method;            /* GET when NULL */
  const char *url;
  const char *const *headers;    /* "Name: value" strings, NULL-terminated; may be NULL */
  const char *body;              /* copied; may be NULL */
  size_t body_len;
  double timeout;                /* seconds, whole transfer; <= 0 means 10 */
  size_t max_reply;              /* bytes; 0 means the client's default */
  /* A provider GET: the easy handle keeps its options between requests (no reset) and the
   * header list is built once per distinct set of lines and kept. No body, no method. */
  int reuse;
  /* With reuse: the same URL is sent again and again (an Agora query, not a signed QingCloud
   * one): it is parsed once and kept (up to 512 URLs, least recently used dropped first). */
  int cache_url;
  /* Called (from inside libcurl: no curl calls, no Lua) when the request is about to leave
   * on its connection. resend is 1 when libcurl is about to send it a second time (a reused
   * connection closed before any reply): the request is then aborted whatever this returns.
   * Returning nonzero aborts the request; either way the done callback gets a `network`
   * error. May be NULL. */
  int (*on_leave)(void *ud, int resend);
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

/* libcurl (and OpenSSL under it) is initialised by the first request, so a script that
 * makes none, `recwatch check` and `--version` never pay for it (about 2.3M instructions).
 * http_global_init does nothing more than mark the process as a user of libcurl (the engine
 * runs on one thread); http_global_cleanup releases libcurl if a request initialised it. */
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
/* Starts a request (or queues it behind the host's connection limit); returns NULL with err
 * set when it cannot even start (bad URL, CR/LF in a header...). */
http_req_t *http_send(http_client_t *c, const http_request *r, http_done_cb cb, void *ud,
                      rec_err *err);
/* Aborts a request in flight or queued; its callback is never called. */
void http_cancel(http_req_t *req);
/* Number of requests in flight or queued. */
int http_active(http_client_t *c);
/* Number of curl easy handles the client holds, in use or idle. A provider GET (reuse)
 * waiting for a connection holds none: it gets one when it is handed to curl. */
int http_handles(http_client_t *c);
/* Copies url without its query string and userinfo into out (for logs and messages). */
void http_url_for_log(const char *url, char *out, size_t outlen);

/* Checks for text that would otherwise become protocol syntax. Each returns 0, or -1 with
 * err set (invalid_argument, naming the problem, never quoting the value). Lengths are byte
 * counts, so a NUL inside is seen and refused. */
/* A method: 1..15 token characters (RFC 9110: letters, digits, !#$%&'*+-.^_`|~). */
int http_check_method(const char *m, size_t len, rec_err *err);
/* A header name (token characters) and value (no CR, LF, NUL or other control byte except
 * tab), the line "name: value" at most HTTP_MAX_HEADER_LINE bytes. */
int http_check_header(const char *name, size_t nlen, const char *value, size_t vlen,
                      rec_err *err);
/* A whole "Name: value" line. */
int http_check_header_line(const char *line, size_t len, rec_err *err);
/* An http:// or https:// URL with no control bytes, spaces or NUL, at most HTTP_MAX_URL. */
int http_check_url(const char *url, size_t len, rec_err *err);
/* Appends s percent-encoded as one path segment at *p (RFC 3986 unreserved bytes stay) and
 * advances *p; "." and ".." are encoded too, so no dot segment is ever removed. Returns -1
 * (err set, invalid_argument) when s is empty or it does not fit before end (room for the
 * NUL is kept). */
int http_put_segment(char **p, char *end, const char *s, const char *what, rec_err *err);

#endif
