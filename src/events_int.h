/* events_int: what the receiver's three files share (events.c: the object and the main
 * loop's side; events_listen.c: the listener thread; events_commit.c: the committer thread
 * and the items both threads pass). Nothing outside events*.c includes it. */
#ifndef REC_EVENTS_INT_H
#define REC_EVENTS_INT_H
#include <stddef.h>
#include <sys/socket.h>
#include <uv.h>
#include "events.h"
#include "events_ncs.h"
#include "httpd.h"
#include "metrics.h"
#include "store.h"

#define MAX_ALLOW 256
#define MAX_SESSIONS 1024   /* /status keeps the last event of this many sessions */
#define PRUNE_EVERY 600.0   /* seconds between two prunes of the de-duplication window */
#define SEEN_KEEP 300.0     /* a shared store: noticeIds handed out are remembered this long */
#define SEEN_BUCKETS 4096

/* A noticeId handed out to the main loop (a shared store reads recent events again). */
typedef struct seen_ent {
  struct seen_ent *hnext, *qnext;
  double at;
  char id[];
} seen_ent;

enum { R_ACCEPTED, R_DUPLICATE, R_BAD_SIGNATURE, R_MALFORMED, R_TOO_LARGE, R_FORBIDDEN,
       R_UNAVAILABLE, R_N };
typedef struct item {
  struct item *next;
  int kind;                 /* STORE_EVENT_ADD or STORE_EVENT_DONE */
  char *id, *body;
  size_t n;
  double when;
  int result;               /* R_ACCEPTED, R_DUPLICATE, or -1: the commit failed */
  char sid[NCS_MAX_FIELD + 1], cname[NCS_MAX_FIELD + 1];
  long long event_type;
  httpd_conn *conn;         /* from the listener (NULL once its connection closed) */
  int from_http;
  void (*fn)(void *ud, int result, const char *err);   /* from events_inject */
  void *ud;
  char err[512];
} item;

typedef struct session {
  char sid[NCS_MAX_FIELD + 1], cname[NCS_MAX_FIELD + 1], notice_id[NCS_MAX_ID + 1];
  long long event_type;
  double received;
} session;

struct events_rx {
  engine_t *e;
  uv_mutex_t mu;            /* everything below that two threads share */
  uv_cond_t cond;
  item *q, **qtail;         /* to the committer */
  long nq;
  item *answers;            /* committed, for the listener's loop */
  item *arrived, **atail;   /* committed, for the main loop (injects' callbacks, new events) */
  events_ev *ready, **rtail;   /* committed new events not taken yet */
  long nready;              /* how many; past EVENTS_WARN_READY the main loop warns */
  int warned_ready;
  int stopping;
  char secret[1025];
  size_t secretn;
  struct sockaddr_storage allow[MAX_ALLOW];
  int nallow;
  long counts[R_N], logged[R_N];   /* counted by the threads; logged by the main loop */
  char store_err[512];      /* the last commit failure, for the main loop to log */
  session sessions[MAX_SESSIONS];
  int nsessions;
  /* the store (committer thread after the start) */
  const store_backend *be;
  store_conn *conn;
  uv_thread_t committer;
  int committer_on;
  /* the listener */
  int listening;
  char addr[128], url[160];
  uv_thread_t lthread;
  uv_loop_t lloop;
  uv_async_t lwake;         /* answers are ready, or stop */
  httpd_t *srv;
  /* the main loop */
  uv_async_t mwake;
  void (*on_arrival)(void *ud);
  void *arrival_ud;
  int holds;                /* engine_hold for injects in flight */
  int waiting;              /* a task waits for an event without a timeout */
  metric_t *total, *newest, *waiting_g;
  const void *owner;
  events_rx *next_rx;
  /* a store shared by a fleet (poll_every > 0: every member reads every event): the
   * committer thread reads it again every poll_every s; seen: the noticeIds handed out to the
   * main loop in the last SEEN_KEEP s (committer thread, and the loop before it starts) */
  double poll_every, last_poll;
  int wanted;               /* under mu: a task waits in rec.events.next (events_wanted) */
  seen_ent *seen_tab[SEEN_BUCKETS], *seen_qh, **seen_qt;
  long nseen;
};

/* events_commit.c */
double events__now(void);   /* wall-clock Unix seconds (the threads have no engine clock) */
const char *events__result_name(int result);
/* Counts a result (the threads' counters and recwatch_notifications_total); a refusal wakes
 * the main loop, which logs it. */
void events__count(events_rx *rx, int result);
item *events__item_new(int kind, const char *id, const char *body, size_t n, double when);
void events__item_free(item *it);
char *events__dupn(const char *s, size_t n);
/* Under rx->mu: queues it for the committer. -1 when the queue is full. */
int events__submit_locked(events_rx *rx, item *it);
void events__publish_waiting(events_rx *rx);
void events__committer_main(void *arg);
/* 1 when id was handed out in the last SEEN_KEEP s; else remembers it and 0. */
int events__seen(events_rx *rx, const char *id, double now);
void events__seen_free(events_rx *rx);

/* events_listen.c */
/* Binds addr and starts the listener thread (nothing when it listens there already). */
int events__listen_start(events_rx *rx, const char *addr, char *err, size_t n);
#endif
