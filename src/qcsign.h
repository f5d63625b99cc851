/* qcsign: QingCloud RTC request signing (HmacSHA256, signature_version 1), shared by the
 * client (qingcloud.c) and the simulator, which recomputes it to check requests. */
#ifndef REC_QCSIGN_H
#define REC_QCSIGN_H
#include <stddef.h>
#include <time.h>

typedef struct qc_param {
  const char *key;
  const char *value;
} qc_param;

/* Python's urllib.parse.quote(s) with safe='/': keeps A-Za-z0-9 _.-~ and '/', escapes
 * every other byte as %XX (uppercase). Returns a malloc'd string. */
char *qc_quote(const char *s);
/* Same, but also escapes '/': for putting a value (the signature) into a URL query. */
char *qc_quote_all(const char *s);
/* Every parameter except "signature", sorted by key (then value), quote(k)=quote(v) joined
 * by '&'. Returns a malloc'd string. */
char *qc_canonical_query(const qc_param *params, size_t n);
/* METHOD \n PATH/ \n CANONICAL \n MD5HEX(body); a NULL body signs the four bytes "null". */
char *qc_string_to_sign(const char *method, const char *path, const char *canonical,
                        const char *body, size_t bodylen);
/* base64(HMAC-SHA256(secret, string_to_sign)) for the request; malloc'd. */
char *qc_signature(const char *secret, const char *method, const char *path,
                   const qc_param *params, size_t n, const char *body, size_t bodylen);
/* UTC "2021-10-15T06:44:58Z" into out (at least 21 bytes). */
void qc_format_timestamp(time_t t, char out[21]);
/* Parses that format; returns 0 and sets *t, or -1. */
int qc_parse_timestamp(const char *s, time_t *t);

#endif
