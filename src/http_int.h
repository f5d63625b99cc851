/* http_int: what the rooms of the HTTP client share, for them alone (http.c: the client,
 * its per-host queue, transfers and the curl/libuv driver; http_url.c: parsed URLs;
 * http_reply.c: a transfer's reply and its typed error; http_sock.c: curl's sockets and their
 * poll handles; http_check.c, the text checks, needs only http.h). Names shared among them
 * carry `http__`. Helpers every request runs are static inline here, so splitting the rooms
 * added no call to the per-request path. */
#ifndef REC_HTTP_INT_H
#define REC_HTTP_INT_H
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <curl/curl.h>
#include "http.h"
#include "rclock.h"

typedef struct host_q host_q;
typedef struct hdr_list hdr_list;
typedef struct url_ent url_ent;
typedef struct xfer xfer;

struct http_client {
  uv_loop_t *loop;
  CURLM *multi;                  /* NULL until the first request */
  uv_timer_t *timer;             /* curl's timeout; freed in its close callback */
  http_client_options opt;
  char *ca_file;
  unsigned ca_gen;               /* bumped when ca_file changes: kept handles set it again */
  int active;                    /* running + queued */
  http_req_t *reqs;              /* running or queued, for http_client_free */
  http_req_t *spare;             /* finished requests, for reuse */
  xfer *pool_reset;              /* idle transfers of generic requests: reset before use */
  xfer *pool_keep;               /* idle transfers of provider GETs: options kept */
  http_req_t *failed;            /* ended before reaching curl: reported from qtimer */
  uv_timer_t *qtimer;            /* the earliest deadline of a waiting request */
  uint64_t qdeadline;            /* when qtimer fires (loop ms), valid while it is active */
  int npool, nspare;
  int nxfers;                    /* easy handles held: bound to a request, or in a pool */
  int no_proxy_env;              /* no proxy variable set when the first request started */
  rclock_t *clock;               /* virtual time: request timeouts are engine timers */
  host_q *hosts;
  hdr_list *hdrs;                /* cached header lists for provider GETs */
  int nhdrs;
  struct sock_ctx **byfd;        /* poll handle of each socket curl opened, by descriptor */
  int nbyfd;
  url_ent **urls;                /* parsed URLs of requests with cache_url, by hash */
  url_ent *url_lru;              /* most recently used first */
  int nurls;
  uv_poll_cb on_poll;            /* what a socket's poll handle calls: http.c's on_poll */
};

/* Idle transfers (easy handles with their buffers) and finished requests kept for reuse:
 * creating and destroying a curl easy handle per request costs more than keeping it. */
#define POOL_MAX 256
/* Reply buffers larger than this are not kept in the pool. */
#define POOL_KEEP_BUFFER (64 * 1024)
/* Cached header lists: one per provider and credential in practice. */
#define HDR_CACHE_MAX 16
/* Parsed URLs kept for requests that send the same URL again and again (cache_url). */
#define URL_CACHE_MAX 512
#define URL_BUCKETS 1024

enum { LEAVE_OK = 0, LEAVE_REFUSED, LEAVE_RESEND };

/* A request as its caller sees it, from http_send to its callback or http_cancel. */
struct http_req {
  http_client_t *client;
  http_req_t *prev, *next;       /* in client->reqs, or client->spare */
  http_req_t *qnext;             /* in its host's waiting queue, or client->failed */
  host_q *host;
  xfer *x;                       /* its transfer: a generic request's from http_send on, a
                                  * provider GET's only once it is handed to curl */
  url_ent *url;                  /* the parsed URL it uses (CURLOPT_CURLU), or NULL */
  char *url_copy;                /* a waiting provider GET's unparsed URL */
  struct curl_slist *list;       /* a provider GET's header list (cached or own_headers) */
  struct curl_slist *own_headers;  /* built for this request */
  http_done_cb cb;
  void *ud;
  int (*on_leave)(void *ud, int resend);
  size_t max_reply;
  int queued, failed, keep, started;
  CURLcode fail_rc;              /* why a failed request ended */
  double timeout;
  uint64_t queued_at;            /* loop ms when it entered the waiting queue */
  rtimer_t vtimeout;             /* the request's timeout on a virtual clock */
  char method[HTTP_MAX_METHOD + 1];
};

/* A curl easy handle with its reply buffers: bound to one request while that request is in
 * curl (or, for a generic request, configured and waiting), else idle in a pool. A waiting
 * provider GET holds none, so at the default connection limit only as many handles as
 * connections are in use, and the one reused is the one that just finished (warm in cache). */
struct xfer {
  xfer *next;                    /* in a pool */
  http_req_t *req;               /* the request it carries, NULL when idle */
  CURL *easy;
  char *body;
  size_t body_len, body_cap;
  char *hdrs;
  size_t hdrs_len, hdrs_cap;
  int too_big, hdr_too_big, leaves, left_how, keep;
  /* options last set on a kept handle, to skip setting them again */
  unsigned set_ca_gen;
  long set_timeout_ms, set_connect_ms;
  size_t set_max_reply;
  char errbuf[CURL_ERROR_SIZE];
};

struct host_q {
  host_q *next;
  int running;                   /* handed to curl */
  http_req_t *head, *tail;       /* waiting */
  char key[];                    /* scheme://host:port as written, lower case */
};

struct hdr_list {
  hdr_list *next;
  struct curl_slist *list;
  int n;
};

/* A URL parsed once (curl_url_set) and handed to libcurl as CURLOPT_CURLU: libcurl then skips
 * parsing the URL string and writing it back out for every request (~20k instructions per
 * request in curl 7.88, measured in docs/performance.md). */
struct url_ent {
  url_ent *next;                 /* hash chain */
  url_ent *lru_prev, *lru_next;
  CURLU *uh;
  int users;                     /* requests that have it set now: not evicted meanwhile */
  unsigned hash;
  char url[];
};

typedef struct sock_ctx {
  uv_poll_t poll;
  curl_socket_t fd;
  http_client_t *client;
  int foreign;                   /* not opened through our callback (resolver pipe...) */
  int events;                    /* what the poll handle watches now (UV_READABLE...) */
  int wanted;                    /* what curl asked for; 0 after its REMOVE */
} sock_ctx;

/* ---- parsed URLs (http_url.c; the per-request part inline) ---- */

static inline unsigned http__url_hash(const char *s) {
  unsigned h = 2166136261u;  /* FNV-1a */
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
  return h;
}

static inline void http__url_lru_unlink(http_client_t *c, url_ent *u) {
  if (u->lru_prev) u->lru_prev->lru_next = u->lru_next;
  else c->url_lru = u->lru_next;
  if (u->lru_next) u->lru_next->lru_prev = u->lru_prev;
  u->lru_prev = u->lru_next = NULL;
}

static inline void http__url_lru_front(http_client_t *c, url_ent *u) {
  u->lru_next = c->url_lru;
  if (c->url_lru) c->url_lru->lru_prev = u;
  c->url_lru = u;
}

/* The parsed form of url if it is kept (now the most recently used), else NULL. */
static inline url_ent *http__url_find(http_client_t *c, const char *url) {
  unsigned h;
  url_ent *u;
  if (!c->urls) return NULL;
  h = http__url_hash(url);
  for (u = c->urls[h % URL_BUCKETS]; u; u = u->next)
    if (u->hash == h && strcmp(u->url, url) == 0) {
      if (c->url_lru != u) {
        http__url_lru_unlink(c, u);
        http__url_lru_front(c, u);
      }
      return u;
    }
  return NULL;
}

/* The request no longer uses its parsed URL (its handle, if any, forgets it too). */
static inline void http__url_release(http_req_t *req) {
  if (!req->url) return;
  if (req->x) curl_easy_setopt(req->x->easy, CURLOPT_CURLU, NULL);
  req->url->users--;
  req->url = NULL;
}

/* Parses url (already checked, not kept yet) and keeps it; NULL when it cannot be (then the
 * request sets CURLOPT_URL and libcurl reports what is wrong with it). */
url_ent *http__url_add(http_client_t *c, const char *url);
/* Frees every parsed URL (no handle uses them any more). */
void http__url_clear(http_client_t *c);

/* ---- a transfer's reply (http_reply.c) ---- */

/* curl's CURLOPT_WRITEFUNCTION, HEADERFUNCTION and PREREQFUNCTION (data: the xfer). */
size_t http__on_body(char *data, size_t size, size_t nmemb, void *ud);
size_t http__on_header(char *data, size_t size, size_t nmemb, void *ud);
int http__on_prereq(void *ud, char *ip, char *lip, int port, int lport);
/* The typed error of a request that ended with rc (never CURLE_OK). */
void http__transport_error(http_req_t *req, CURLcode rc, rec_err *err);

/* The delay of a Retry-After header (delta seconds) in a reply's header block, 0 when absent. */
static inline double http__retry_after(const char *hdrs) {
  const char *p = hdrs;
  while (p && *p) {
    if (strncasecmp(p, "retry-after:", 12) == 0) {
      char *end;
      double v = strtod(p + 12, &end);
      return (end != p + 12 && v > 0) ? v : 0;
    }
    p = strchr(p, '\n');
    if (p) p++;
  }
  return 0;
}

/* ---- curl's sockets (http_sock.c) ---- */

/* curl's CURLOPT_OPENSOCKETFUNCTION and CLOSESOCKETFUNCTION (data: the client), and its
 * CURLMOPT_SOCKETFUNCTION: one poll handle per socket for the socket's whole life. */
curl_socket_t http__on_open_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *a);
int http__on_close_socket(void *ud, curl_socket_t fd);
int http__on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp);
/* Closes the poll handle of every socket still known (the client is being freed). */
void http__drop_sockets(http_client_t *c);

#endif
