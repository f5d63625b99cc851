/* admin: the admin routes of the listener (/admin/...), and their handoff to the main loop.
 * The listener thread checks a request (a token from a file, a loopback listener, a body cap,
 * a queue cap) and queues it; the main loop takes it (uv_async) and hands it to the dispatch
 * function installed by the script API (ladmin.c: a Lua task of rec.notify's handler); the
 * reply comes back through the queue to the listener thread, which answers the deferred
 * request, or 504 after ADMIN_TIMEOUT_MS. One per process, like the listener. */
#ifndef REC_ADMIN_H
#define REC_ADMIN_H
#include <stddef.h>
#include <uv.h>
#include "httpd.h"

#define ADMIN_MAX_BODY 8192    /* bytes of a request body */
#define ADMIN_MAX_QUEUED 32    /* requests queued or being handled */
#define ADMIN_TIMEOUT_MS 10000 /* the script's answer, real time */

/* Reads the token from path (its first line, trailing spaces cut; at least 16 bytes):
 * the admin routes answer from now on. remote = 1 lets them answer on a listener that is
 * not loopback. path NULL: off again. 0, or -1 with a reason in err (the token is never
 * in it). */
int admin_configure(const char *path, int remote, char *err, size_t errlen);
/* The listener's host (ops_listen): whether it is a loopback address. */
void admin_set_listen_host(const char *host);

/* Listener thread: a request whose path starts with /admin (resumed: the deferred one). */
int admin_is_route(const httpd_conn *c);
void admin_serve(httpd_conn *c, int resumed);
/* Listener thread: the connection closes (httpd's on_close): its request is abandoned. */
void admin_conn_closed(httpd_conn *c);

/* Main loop. A request as the dispatch function sees it (valid until admin_reply). */
typedef struct admin_request {
  unsigned long id;
  const char *method, *path, *body;
  size_t bodylen;
} admin_request;
/* Called on the main loop for each request; it must call admin_reply(id, ...) once, now or
 * later. Installed by the script API; NULL: 503. */
typedef void (*admin_dispatch_fn)(const admin_request *r, void *ud);
void admin_set_dispatch(admin_dispatch_fn fn, void *ud);
/* The answer to request id (a JSON body): 0, or -1 when it is not waiting any more (its
 * client went away, it timed out, or it was answered already). */
int admin_reply(unsigned long id, int status, const char *body, size_t len);
/* ops_attach / ops_shutdown: the main loop's side (an unref'd uv_async on loop). */
void admin_attach(uv_loop_t *loop);
void admin_detach(void);

#endif
