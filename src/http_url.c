/* http_url: parsed URLs kept for requests that send the same URL again and again
 * (cache_url): a hash table by URL and a least-recently-used list, up to URL_CACHE_MAX.
 * Finding one and letting it go (every request) are inline in http_int.h. */
#include <stdlib.h>
#include <string.h>
#include "http_int.h"

static void url_free(http_client_t *c, url_ent *u) {
  url_ent **pp = &c->urls[u->hash % URL_BUCKETS];
  while (*pp != u) pp = &(*pp)->next;
  *pp = u->next;
  http__url_lru_unlink(c, u);
  curl_url_cleanup(u->uh);
  free(u);
  c->nurls--;
}

url_ent *http__url_add(http_client_t *c, const char *url) {
  unsigned h = http__url_hash(url);
  url_ent *u;
  size_t len;
  if (!c->urls && !(c->urls = calloc(URL_BUCKETS, sizeof *c->urls))) return NULL;
  if (c->nurls >= URL_CACHE_MAX) {  /* evict the least recently used one not in use */
    url_ent *old = c->url_lru;
    while (old && old->lru_next) old = old->lru_next;
    while (old && old->users) old = old->lru_prev;
    if (!old) return NULL;
    url_free(c, old);
  }
  len = strlen(url);
  if (!(u = calloc(1, sizeof *u + len + 1))) return NULL;
  memcpy(u->url, url, len + 1);
  u->hash = h;
  if (!(u->uh = curl_url()) || curl_url_set(u->uh, CURLUPART_URL, url, 0) != CURLUE_OK) {
    curl_url_cleanup(u->uh);
    free(u);
    return NULL;
  }
  u->next = c->urls[h % URL_BUCKETS];
  c->urls[h % URL_BUCKETS] = u;
  http__url_lru_front(c, u);
  c->nurls++;
  return u;
}

void http__url_clear(http_client_t *c) {
  while (c->url_lru) url_free(c, c->url_lru);
  free(c->urls);
  c->urls = NULL;
}
