/* http_reply: what comes back for a transfer: the body and header callbacks that fill its
 * buffers (with the reply caps), the check run as the request leaves on its connection, and
 * the typed error of a transfer that failed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "http_int.h"
#include "log.h"

static int append(char **buf, size_t *len, size_t *cap, const char *data, size_t n) {
  if (*len + n + 1 > *cap) {
    size_t ncap = *cap ? *cap : 1024;
    char *nb;
    while (ncap < *len + n + 1) ncap *= 2;
    nb = realloc(*buf, ncap);
    if (!nb) return -1;
    *buf = nb;
    *cap = ncap;
  }
  memcpy(*buf + *len, data, n);
  *len += n;
  (*buf)[*len] = '\0';
  return 0;
}

size_t http__on_body(char *data, size_t size, size_t nmemb, void *ud) {
  xfer *x = ud;
  size_t n = size * nmemb;
  if (x->body_len + n > x->req->max_reply) {
    x->too_big = 1;
    return 0;  /* aborts the transfer with CURLE_WRITE_ERROR */
  }
  if (append(&x->body, &x->body_len, &x->body_cap, data, n) != 0) return 0;
  return n;
}

size_t http__on_header(char *data, size_t size, size_t nmemb, void *ud) {
  xfer *x = ud;
  size_t n = size * nmemb;
  if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) x->hdrs_len = 0;  /* keep the final one */
  if (x->hdrs_len + n > HTTP_MAX_REPLY_HEADERS) {
    x->hdr_too_big = 1;
    return 0;
  }
  if (append(&x->hdrs, &x->hdrs_len, &x->hdrs_cap, data, n) != 0) return 0;
  return n;
}

/* Runs inside curl each time the request is about to be sent on its connection: once, or
 * twice when curl resends it on a fresh connection because a reused one closed first. The
 * second send is refused: it would not have taken a pacing slot, and it would hide the
 * drop from the caller. */
int http__on_prereq(void *ud, char *ip, char *lip, int port, int lport) {
  xfer *x = ud;
  http_req_t *req = x->req;
  (void)ip, (void)lip, (void)port, (void)lport;
  if (++x->leaves > 1) {
    x->left_how = LEAVE_RESEND;
    if (req->on_leave) req->on_leave(req->ud, 1);
    return CURL_PREREQFUNC_ABORT;
  }
  if (req->on_leave && req->on_leave(req->ud, 0) != 0) {
    x->left_how = LEAVE_REFUSED;
    return CURL_PREREQFUNC_ABORT;
  }
  return CURL_PREREQFUNC_OK;
}

/* A request that never reached curl (timed out waiting, refused) has no transfer: its
 * error has no detail from curl. */
void http__transport_error(http_req_t *req, CURLcode rc, rec_err *err) {
  const xfer *x = req->x;
  const char *detail = x && x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc);
  int too_big = x && x->too_big, hdr_too_big = x && x->hdr_too_big;
  int left_how = x ? x->left_how : LEAVE_OK;
  char where[256];
  char *url = NULL;
  if (req->started) curl_easy_getinfo(x->easy, CURLINFO_EFFECTIVE_URL, &url);
  http_url_for_log(url ? url : req->host->key, where, sizeof where);  /* only for a message */
  /* libcurl 7.88 reports a reply header line over 100 KiB as CURLE_OUT_OF_MEMORY */
  if (hdr_too_big || rc == CURLE_OUT_OF_MEMORY || strstr(detail, "esponse headers")) {
    rec_err_set(err, REC_E_PROTOCOL, 0, "%s %s: reply headers too large (over %d KiB in all, "
                "or one line over 100 KiB)", req->method, where, HTTP_MAX_REPLY_HEADERS / 1024);
    err->retryable = 0;
    log_redact(err->message, sizeof err->message);
    return;
  }
  switch (rc) {
  case CURLE_OPERATION_TIMEDOUT:
    rec_err_set(err, REC_E_TIMEOUT, 0, "%s %s: timed out after %g s%s", req->method, where,
                req->timeout, req->started ? "" : " waiting for a free connection");
    break;
  case CURLE_ABORTED_BY_CALLBACK:
    if (left_how == LEAVE_RESEND)
      rec_err_set(err, REC_E_NETWORK, 0,
                  "%s %s: the server closed the connection without a reply", req->method,
                  where);
    else
      rec_err_set(err, REC_E_NETWORK, 0, "%s %s: not sent (pacing)", req->method, where);
    break;
  case CURLE_WRITE_ERROR:
  case CURLE_FILESIZE_EXCEEDED:
    if (too_big || rc == CURLE_FILESIZE_EXCEEDED) {
      rec_err_set(err, REC_E_PROTOCOL, 0, "%s %s: reply larger than %zu bytes (the cap)",
                  req->method, where, req->max_reply);
    } else {
      rec_err_set(err, REC_E_NETWORK, 0, "%s %s: %s", req->method, where, detail);
    }
    break;
  case CURLE_PARTIAL_FILE:
  case CURLE_BAD_CONTENT_ENCODING:
  case CURLE_HTTP2:
    rec_err_set(err, REC_E_PROTOCOL, 0, "%s %s: malformed reply: %s", req->method, where, detail);
    err->retryable = 1;  /* a cut-off reply is usually transient */
    break;
  case CURLE_WEIRD_SERVER_REPLY:
  case CURLE_UNSUPPORTED_PROTOCOL:  /* the URL was checked: this is "HTTP/0.9", not HTTP */
    rec_err_set(err, REC_E_PROTOCOL, 0, "%s %s: the reply is not HTTP: %s", req->method,
                where, detail);
    err->retryable = 0;
    break;
  case CURLE_URL_MALFORMAT:
    rec_err_set(err, REC_E_INVALID_ARGUMENT, 0, "%s %s: %s", req->method, where, detail);
    break;
  case CURLE_RECV_ERROR:
    if (strstr(detail, "hunk")) {  /* "... in chunked-encoding": a malformed body */
      rec_err_set(err, REC_E_PROTOCOL, 0, "%s %s: malformed reply: %s", req->method, where,
                  detail);
      err->retryable = 0;
      break;
    }
    /* fall through */
  default:  /* refused, reset, DNS, TLS, empty reply */
    rec_err_set(err, REC_E_NETWORK, 0, "%s %s: %s", req->method, where, detail);
    break;
  }
  log_redact(err->message, sizeof err->message);
}
