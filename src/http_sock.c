/* http_sock: curl's sockets, each with one uv_poll_t for its whole life, created and closed
 * by curl's open and close socket callbacks (uv_close before the descriptor is closed), found
 * by descriptor; and curl's CURLMOPT_SOCKETFUNCTION, which starts and stops their polling.
 * A ready socket calls the client's on_poll (http.c), which drives curl. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include "http_int.h"

static void on_poll_close(uv_handle_t *h) { free(h->data); }

static int track_fd(http_client_t *c, sock_ctx *ctx) {
  int fd = (int)ctx->fd;
  if (fd < 0) return -1;
  if (fd >= c->nbyfd) {
    int n = c->nbyfd ? c->nbyfd : 64;
    sock_ctx **nb;
    while (n <= fd) n *= 2;
    nb = realloc(c->byfd, (size_t)n * sizeof *nb);
    if (!nb) return -1;
    memset(nb + c->nbyfd, 0, (size_t)(n - c->nbyfd) * sizeof *nb);
    c->byfd = nb;
    c->nbyfd = n;
  }
  c->byfd[fd] = ctx;
  return 0;
}

static void drop_ctx(http_client_t *c, sock_ctx *ctx);

static sock_ctx *new_ctx(http_client_t *c, curl_socket_t fd, int foreign) {
  sock_ctx *ctx;
  if (fd >= 0 && fd < c->nbyfd && c->byfd[fd]) drop_ctx(c, c->byfd[fd]);  /* stale */
  if (!(ctx = calloc(1, sizeof *ctx))) return NULL;
  ctx->fd = fd;
  ctx->client = c;
  ctx->foreign = foreign;
  if (uv_poll_init_socket(c->loop, &ctx->poll, fd) != 0) {
    free(ctx);
    return NULL;
  }
  ctx->poll.data = ctx;
  if (track_fd(c, ctx) != 0) {
    uv_close((uv_handle_t *)&ctx->poll, on_poll_close);
    return NULL;
  }
  return ctx;
}

static void drop_ctx(http_client_t *c, sock_ctx *ctx) {
  c->byfd[ctx->fd] = NULL;
  uv_close((uv_handle_t *)&ctx->poll, on_poll_close);  /* leaves epoll now */
}

curl_socket_t http__on_open_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *a) {
  http_client_t *c = ud;
  curl_socket_t fd;
  (void)purpose;
  fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
  if (fd == CURL_SOCKET_BAD) return fd;
  if (!new_ctx(c, fd, 0)) {
    close(fd);
    return CURL_SOCKET_BAD;
  }
  return fd;
}

int http__on_close_socket(void *ud, curl_socket_t fd) {
  http_client_t *c = ud;
  if (fd >= 0 && fd < c->nbyfd && c->byfd[fd]) drop_ctx(c, c->byfd[fd]);
  return close(fd);
}

int http__on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp) {
  http_client_t *c = userp;
  sock_ctx *ctx = (s >= 0 && s < c->nbyfd) ? c->byfd[s] : NULL;
  int events = 0;
  (void)easy, (void)socketp;
  if (what == CURL_POLL_REMOVE) {
    if (ctx) {
      ctx->wanted = 0;
      if (ctx->foreign) drop_ctx(c, ctx);  /* curl closes it itself, not through us */
      else uv_unref((uv_handle_t *)&ctx->poll);  /* an idle connection keeps nothing alive */
      /* else the handle keeps watching: libuv's uv_poll_start and uv_poll_stop each cost
       * epoll_ctl calls, and the next request on this connection usually wants the same
       * events; a wake-up while idle stops it (on_poll) */
    }
    return 0;
  }
  if (!ctx && !(ctx = new_ctx(c, s, 1))) return -1;
  if (what & CURL_POLL_IN) events |= UV_READABLE;
  if (what & CURL_POLL_OUT) events |= UV_WRITABLE;
  ctx->wanted = events;
  uv_ref((uv_handle_t *)&ctx->poll);
  if (events != ctx->events) {
    uv_poll_start(&ctx->poll, events, c->on_poll);
    ctx->events = events;
  }
  return 0;
}

void http__drop_sockets(http_client_t *c) {
  int i;
  if (!c->byfd) return;
  for (i = 0; i < c->nbyfd; i++)
    if (c->byfd[i]) drop_ctx(c, c->byfd[i]);
  free(c->byfd);
  c->byfd = NULL;
}
