/* fuzz_http_check: the URL checks the runtime has: http_url_for_log (the shortened URL of
 * messages: never the password, query or fragment) and the provider query validation and
 * URL building (Agora path segments, QingCloud query). Input: NUL-separated fields
 * url, appid, resourceid, sid, mode, app_id, channel. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "agora.h"
#include "http.h"
#include "qingcloud.h"
#include "rerr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *buf = malloc(size + 1), *f[7] = {0}, out[256], *url, *p;
  size_t i, nf = 0;
  rec_err err;
  if (!buf) return 0;
  memcpy(buf, data, size);
  buf[size] = '\0';
  f[nf++] = buf;
  for (i = 0; i < size && nf < 7; i++)
    if (buf[i] == '\0') f[nf++] = buf + i + 1;
  http_url_for_log(f[0], out, sizeof out);
  if (strnlen(out, sizeof out) >= sizeof out || strpbrk(out, "?#")) abort();
  if (nf >= 4) {
    agora_query_params q = {f[1], f[2], f[3], nf >= 5 && *f[4] ? f[4] : NULL};
    url = agora_build_query_url(nf >= 6 ? f[5] : NULL, &q, &err);  /* any base: no crash */
    free(url);
    url = agora_build_query_url("http://127.0.0.1:1", &q, &err);
    if (url) {  /* every id is one path segment: never a dot segment, never raw syntax */
      p = strstr(url, "/v1/apps/");
      if (!p || strstr(p, "/./") || strstr(p, "/../") || strpbrk(p, " \r\n\t?#")) abort();
      free(url);
    } else if (err.kind != REC_E_INVALID_ARGUMENT) {
      abort();
    }
  }
  if (nf >= 7) {
    qc_query_params q;
    memset(&q, 0, sizeof q);
    q.app_id = f[5];
    q.channel = f[6];
    url = qc_build_query_url("http://127.0.0.1:1", &q, "AKID", "secret", 1700000000, &err);
    if (url) {
      if (strpbrk(url, " \r\n\t")) abort();
      free(url);
    }
  }
  free(buf);
  return 0;
}
