/* floor: the libcurl-alone floor for the poll storm. C concurrent easy handles, each reused
 * (keep-alive), driven by curl_multi_perform + curl_multi_poll; N Agora queries in all with
 * Basic auth; no JSON tree: the status is read by finding "status": in the body (strstr).
 * usage: floor N C [curlu]   (AGORA_API_BASE, AGORA_CUSTOMER_ID, AGORA_CUSTOMER_SECRET from env)
 * With "curlu" the 16 query URLs are parsed once (curl_url_set) and handed to libcurl as
 * CURLOPT_CURLU, as recwatch does, instead of a URL string libcurl parses for every transfer:
 * the floor for a libcurl program that knows that trick.
 * Prints: RESULT contender=floor n= ok= status5= errors= r429= wall=
 * Build: cc -O2 -o floor floor.c -lcurl */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>

typedef struct slot {
  CURL *easy;
  char url[512];
  char body[4096];
  size_t len;
} slot;

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud) {
  slot *s = ud;
  size_t n = size * nmemb;
  if (s->len + n >= sizeof s->body) n = sizeof s->body - 1 - s->len;
  memcpy(s->body + s->len, data, n);
  s->len += n;
  s->body[s->len] = '\0';
  return size * nmemb;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 100000, c = argc > 2 ? atol(argv[2]) : 256;
  const char *base = getenv("AGORA_API_BASE"), *id = getenv("AGORA_CUSTOMER_ID"),
             *secret = getenv("AGORA_CUSTOMER_SECRET");
  long issued = 0, ok = 0, st5 = 0, errs = 0, r429 = 0, i;
  int running = 1, use_curlu;
  CURLU *uhs[16] = {NULL};
  char userpwd[256];
  struct curl_slist *hdrs = NULL;
  CURLM *m;
  slot *slots;
  double t0;
  if (!base || !id || !secret || n <= 0 || c <= 0) {
    fprintf(stderr, "usage: floor N C (with AGORA_API_BASE, AGORA_CUSTOMER_ID/SECRET set)\n");
    return 2;
  }
  if (c > n) c = n;
  use_curlu = argc > 3 && strcmp(argv[3], "curlu") == 0;
  curl_global_init(CURL_GLOBAL_DEFAULT);
  m = curl_multi_init();
  curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, c);
  curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, c);
  snprintf(userpwd, sizeof userpwd, "%s:%s", id, secret);
  hdrs = curl_slist_append(hdrs, "Accept: application/json");
  slots = calloc((size_t)c, sizeof *slots);
  for (i = 0; use_curlu && i < 16; i++) {
    char u[512];
    snprintf(u, sizeof u,
             "%s/v1/apps/bench-app/cloud_recording/resourceid/res-%ld/sid/sid-%ld/mode/mix/query",
             base, i, i);
    if (!(uhs[i] = curl_url()) || curl_url_set(uhs[i], CURLUPART_URL, u, 0) != CURLUE_OK) return 2;
  }
  t0 = now();
  for (i = 0; i < c; i++) {
    slot *s = &slots[i];
    s->easy = curl_easy_init();
    curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
    curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(s->easy, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(s->easy, CURLOPT_USERPWD, userpwd);
    curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(s->easy, CURLOPT_TIMEOUT, 30L);
    long q = issued++ % 16;
    snprintf(s->url, sizeof s->url,
             "%s/v1/apps/bench-app/cloud_recording/resourceid/res-%ld/sid/sid-%ld/mode/mix/query",
             base, q, q);
    if (use_curlu) curl_easy_setopt(s->easy, CURLOPT_CURLU, uhs[q]);
    else curl_easy_setopt(s->easy, CURLOPT_URL, s->url);
    curl_multi_add_handle(m, s->easy);
  }
  while (running) {
    CURLMsg *msg;
    int left;
    curl_multi_perform(m, &running);
    while ((msg = curl_multi_info_read(m, &left)) != NULL) {
      slot *s;
      long code = 0;
      const char *p;
      if (msg->msg != CURLMSG_DONE) continue;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
      curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
      if (msg->data.result == CURLE_OK && code == 200) {
        ok++;
        if ((p = strstr(s->body, "\"status\":")) != NULL && atol(p + 9) == 5) st5++;
      } else {
        errs++;
        if (code == 429) r429++;
      }
      curl_multi_remove_handle(m, s->easy);
      s->len = 0;
      s->body[0] = '\0';
      if (issued < n) {
        long q = issued++ % 16;
        snprintf(s->url, sizeof s->url,
                 "%s/v1/apps/bench-app/cloud_recording/resourceid/res-%ld/sid/sid-%ld/mode/mix/query",
                 base, q, q);
        if (use_curlu) curl_easy_setopt(s->easy, CURLOPT_CURLU, uhs[q]);
        else curl_easy_setopt(s->easy, CURLOPT_URL, s->url);
        curl_multi_add_handle(m, s->easy);
        running = 1;
      }
    }
    if (running) curl_multi_poll(m, NULL, 0, 1000, NULL);
  }
  printf("RESULT contender=floor n=%ld ok=%ld status5=%ld errors=%ld r429=%ld wall=%.3f\n", n, ok,
         st5, errs, r429, now() - t0);
  for (i = 0; i < c; i++) curl_easy_cleanup(slots[i].easy);
  for (i = 0; i < 16; i++) curl_url_cleanup(uhs[i]);
  free(slots);
  curl_slist_free_all(hdrs);
  curl_multi_cleanup(m);
  curl_global_cleanup();
  return errs ? 1 : 0;
}
