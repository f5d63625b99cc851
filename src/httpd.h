/* httpd: the one HTTP/1.1 server in the tree (libuv + http_parser): listener, keep-alive,
 * pipelining, back-pressure, size caps, deferred replies. The simulator (sim/) and the
 * metrics/health listener (ops.c) route requests on top of it. */
#ifndef REC_HTTPD_H
#define REC_HTTPD_H
#include <http_parser.h>
#include <stdint.h>
#include <uv.h>
#include "sbuf.h"

typedef struct httpd httpd_t;
typedef struct httpd_conn httpd_conn;

/* Called once per complete request, with c->path/c->query/c->body set; the handler queues
 * a reply (httpd_reply...) or defers it (httpd_defer), after which it is called again with
 * resumed = 1. A request whose URL cannot be parsed is answered 400 before the handler
 * sees it (c->status is 400 then: nothing more to send). */
typedef void (*httpd_handler)(httpd_conn *c, int resumed, void *ud);

typedef struct httpd_options {
  const char *host;    /* listen address, default "127.0.0.1" */
  int port;            /* 0 = ephemeral */
  int embedded;        /* 1: unref handles so the server never keeps the loop alive */
  const char *server;  /* Server: header value */
  httpd_handler handler;
  void *ud;
  /* Called when a connection closes (before it is freed), so the handler can stop what it
   * started for it and free c->app. May be NULL. */
  void (*on_close)(httpd_conn *c, void *ud);
  double idle_timeout;   /* seconds a connection may sit idle; 0 = 60 */
  double header_timeout; /* seconds a request may take to arrive whole; 0 = 10 */
  /* Up to HTTPD_KEEP request headers (besides Authorization) whose values the handler reads
   * in c->kept[i] (each capped at 256 bytes; c->has_kept[i] says it was sent). */
  const char *keep_headers[2];
  long max_conns;        /* open connections at most; 0 = from the descriptor limit */
  /* Called when the server itself refused a request it could not parse whole (400, 413 over
   * the body cap, 431 over the header cap), after queueing that answer. May be NULL. */
  void (*on_refused)(httpd_conn *c, int status, void *ud);
} httpd_options;
#define HTTPD_KEEP 2

struct httpd_conn {
  uv_tcp_t tcp;
  uv_timer_t timer;    /* httpd_defer */
  uv_timer_t guard;    /* idle and slow-request timeouts (real time) */
  uint64_t idle_since; /* uv_now when the connection last became idle */
  httpd_t *srv;
  httpd_conn *prev, *next;
  http_parser parser;
  int open_handles;
  unsigned closing : 1, close_after : 1, stop_parsing : 1, delaying : 1, reading : 1,
      peer_eof : 1, is_head : 1, http10 : 1, has_auth : 1, in_auth : 1,
      last_value : 1, in_message : 1;
  int writes;          /* uv_write requests in flight */
  int err_status;      /* 431/413 decided inside a parser callback */
  int status;          /* status of the reply being sent (for request logs); 0 = none */
  size_t head_bytes, body_bytes;
  sbuf url, auth, field, out;
  sbuf body;           /* the request body, capped at 64 KiB */
  sbuf kept[HTTPD_KEEP];         /* httpd_options.keep_headers' values */
  unsigned char has_kept[HTTPD_KEEP];
  signed char in_kept;           /* the header being read is kept[in_kept]; -1 none */
  char *in;            /* unparsed bytes kept while a deferred request waits */
  size_t in_len;
  const char *path, *query;
  size_t pathlen, querylen;
  double t;            /* for the handler: e.g. the arrival time of the request */
  void *app;           /* for the handler, per connection (freed in on_close) */
  int peer_port;       /* the client's port */
};

/* Binds and listens; NULL with a one-line reason in err on failure. */
httpd_t *httpd_start(uv_loop_t *loop, const httpd_options *o, char *err, size_t errlen);
int httpd_port(const httpd_t *s);
/* "http://HOST:PORT" (a wildcard address is shown as loopback). */
const char *httpd_base_url(const httpd_t *s);
void *httpd_ud(const httpd_conn *c);
/* Closes the listener and every connection; once every handle is closed (run the loop),
 * calls freed(ud) (may be NULL) and frees the server. */
void httpd_free(httpd_t *s, void (*freed)(void *ud), void *ud);
/* Serves one more client on an already connected stream socket fd (the server owns it
 * from now on): for the request-parsing fuzzer. 0 or -1. */
int httpd_adopt_fd(httpd_t *s, int fd);
/* Open connections, and how many idle ones were closed to make room for new clients. */
long httpd_nconns(const httpd_t *s);
long httpd_shed(const httpd_t *s);
/* Reply bytes queued and not yet taken by the kernel, over every connection (a shared
 * blob counted once, from its creation to its last reference). A connection has at most
 * one reply queued: the requests it pipelines behind it are not read until it is sent. */
size_t httpd_out_bytes(const httpd_t *s);

/* A reply body shared by several connections (the /metrics page of one scrape instant):
 * reference counted, freed with its last reference; used on the server's loop only.
 * httpd_blob_new takes data (malloc'd; freed at once when NULL is returned). */
typedef struct httpd_blob httpd_blob;
httpd_blob *httpd_blob_new(httpd_t *s, char *data, size_t len);
void httpd_blob_unref(httpd_blob *b);
size_t httpd_blob_len(const httpd_blob *b);
const char *httpd_blob_data(const httpd_blob *b);

/* Replies. content_length of httpd_head may differ from what follows (a truncation fault). */
void httpd_head(httpd_conn *c, int status, const char *ctype, size_t content_length);
void httpd_reply(httpd_conn *c, int status, const char *ctype, const void *body, size_t len);
/* The body is borrowed (must outlive the write): head now, body by reference, in order. */
void httpd_reply_borrowed(httpd_conn *c, int status, const char *ctype, const char *body,
                          size_t len);
/* The body is the blob's (a reference is held until the write is done). */
void httpd_reply_blob(httpd_conn *c, int status, const char *ctype, httpd_blob *b);
/* After the current reply the connection closes (no further request is parsed). */
void httpd_close_after(httpd_conn *c);
/* Answers later: reading stops, and the handler is called again (resumed = 1) after ms
 * (real time, on the server's loop). */
void httpd_defer(httpd_conn *c, uint64_t ms);
/* The same with the handler's own timer: httpd_pause now, httpd_resume when it fires. */
void httpd_pause(httpd_conn *c);
void httpd_resume(httpd_conn *c);
/* True when the path is exactly p. */
int httpd_path_is(const httpd_conn *c, const char *p);

#endif
