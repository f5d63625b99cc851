/* rerr: the typed error every remote call and validation returns (kinds of the Lua contract). */
#ifndef REC_RERR_H
#define REC_RERR_H

typedef enum {
  REC_OK = 0,
  REC_E_INVALID_ARGUMENT,
  REC_E_AUTH,
  REC_E_NOT_FOUND,
  REC_E_RATE_LIMITED,
  REC_E_TIMEOUT,
  REC_E_NETWORK,
  REC_E_SERVER,
  REC_E_PROTOCOL,
  REC_E_CANCELLED,
  REC_E_FENCED         /* this process may not act for the unit now (fence.h): nothing sent */
} rec_errkind;

typedef struct rec_err {
  rec_errkind kind;
  int status;          /* HTTP status, 0 when no reply was received */
  int has_code;        /* provider code present: numeric in code, or text in code_str */
  long code;
  char code_str[48];   /* non-empty when the provider code is a string */
  int retryable;
  int attempts;
  double retry_after;  /* seconds from a Retry-After header, 0 when absent */
  char message[512];
} rec_err;

const char *rec_errkind_name(rec_errkind kind);
/* Resets e and sets kind, status, retryable (from the kind) and a printf-style message. */
void rec_err_set(rec_err *e, rec_errkind kind, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Default retryability of a kind: timeout, network, server, rate_limited are retryable. */
int rec_errkind_retryable(rec_errkind kind);
/* Copies at most n bytes of body into out as a printable excerpt (control bytes as '.'). */
void rec_excerpt(char *out, size_t outlen, const char *body, size_t n);
/* A provider's reply in an error message: rec_excerpt of at most max bytes of body, with runs
 * of whitespace squeezed into one (pretty-printed JSON reads on one line); "(empty body)" when
 * there is none. qingcloud.c and agora.c share it. */
void rec_reply_excerpt(char *out, size_t cap, size_t max, const char *body, size_t len);

#endif
