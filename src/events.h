/* events: the NCS receiver. POST /agora/ncs on a listener of its own (own thread and
 * uv_loop, httpd.c), checked by events_ncs.c, made durable by a committer thread that writes
 * many events per transaction through the store interface (store.h: STORE_EVENT_ADD, de-dup
 * on noticeId), answered 200 only after the commit; the main loop takes the committed events
 * (events_take) and marks them processed (events_done). No Lua here: levents.c is the room.
 * One receiver per engine (events_for). */
#ifndef REC_EVENTS_H
#define REC_EVENTS_H
#include <stddef.h>
#include <uv.h>
#include "engine.h"

#define EVENTS_PATH "/agora/ncs"
#define EVENTS_MAX_QUEUED 20000     /* events waiting for their commit: more are answered 503 */
#define EVENTS_BATCH 512            /* events per transaction at most */
#define EVENTS_MAX_CONNS 1024       /* open connections on the receiver */
#define EVENTS_WARN_READY 10000    /* committed events not taken: a warning */
#define EVENTS_DEDUP_WINDOW (6 * 3600.0)    /* processed noticeIds kept for de-duplication */

typedef struct events_rx events_rx;

/* One committed event, in arrival order. */
typedef struct events_ev {
  struct events_ev *next;
  char *id, *body;
  size_t n;
  double received;   /* wall-clock Unix seconds (the receiver's clock) */
} events_ev;

/* The receiver of engine e (NULL: none yet; create = 1 makes one, its store opened at
 * state_path, NULL = in memory). NULL with err when the store cannot be opened. */
events_rx *events_for(engine_t *e, int create, const char *state_path, char *err, size_t n);
/* Starts listening on addr ("PORT", "HOST:PORT", "[V6]:PORT"): the thread and its server.
 * A receiver listens once: a second call with the same address does nothing, another
 * address is an error. 0, or -1 with err. */
int events_listen(events_rx *rx, const char *addr, char *err, size_t n);
/* Parses addr only (a validation). 0, or -1 with err. */
int events_check_addr(const char *addr, char *err, size_t n);
/* "http://HOST:PORT/agora/ncs", or NULL when not listening. */
const char *events_url(events_rx *rx);
/* The NCS secret (copied; NULL clears it: every delivery is then refused 401). */
void events_set_secret(events_rx *rx, const char *secret);
/* The allow-list: addresses (IPv4/IPv6 text) that may post; NULL/0 = anyone. -1 with err
 * on an address that does not parse. */
int events_set_allow(events_rx *rx, const char *const *addrs, int n, char *err, size_t errn);
/* 1 when the event store is shared by a fleet (PostgreSQL): every member is handed every
 * event (its own and those other members received, read again every r), so a member marks
 * done only what its watchers took. */
int events_shared(const events_rx *rx);
/* Called on the main loop when committed events are waiting (events_take). */
void events_on_arrival(events_rx *rx, void (*fn)(void *ud), void *ud);
/* The next committed event not handed out yet, or NULL. The caller frees it. */
events_ev *events_take(events_rx *rx);
void events_ev_free(events_ev *ev);
/* Marks id processed (queued to the committer; not delivered after a restart once
 * committed). 0, or -1 out of memory. */
int events_done(events_rx *rx, const char *id);
/* The durable path without HTTP (rec.events.inject): fn(ud, result) on the main loop once
 * committed (result: 0 accepted, 1 duplicate, -1 failed: err). The engine is held meanwhile
 * (virtual time waits). 0, or -1 out of memory. */
int events_inject(events_rx *rx, const char *id, const char *body, size_t n, double received,
                  void (*fn)(void *ud, int result, const char *err), void *ud);
/* 1 while a task waits in rec.events.next (timed or not): a store shared by a fleet is read
 * again only meanwhile (a member with no watcher heaps up no one's events; the cursor keeps
 * its place until it is read again). */
void events_wanted(events_rx *rx, int on);
/* 1: keep the main loop alive (a task waits for an event). */
void events_keep_alive(events_rx *rx, int on);
/* The last event seen per session (sid), as a JSON object for /status; malloc'd. */
char *events_status_json(events_rx *rx);
/* The Lua state (its main thread) whose closing closes the receiver (levents.c's anchor):
 * the one whose rec.configure, or --events-listen for it, started it. */
void events_set_owner(events_rx *rx, const void *owner);
const void *events_owner(const events_rx *rx);
/* Called on the main loop with the receiver's URL and secret whenever either changes (the
 * in-process simulator posts its events there). One per process; NULL: none. */
void events_set_target_hook(void (*fn)(void *ud, const char *url, const char *secret),
                            void *ud);
/* Stops the listener and the committer (events in flight are committed and answered
 * first), closes the store; frees once the main loop has closed its handle. */
void events_close(events_rx *rx);
#endif
