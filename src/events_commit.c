/* events_commit: the receiver's committer thread (see events.c): everything queued, up to
 * EVENTS_BATCH, as one write set through the store interface (STORE_EVENT_ADD: a noticeId
 * the store holds changes nothing, a duplicate); then the answers to the listener's loop and
 * the new events and injects to the main loop, both by uv_async. Also the items both threads
 * pass, and the counters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "events_int.h"

static const char *const result_names[R_N] = {"accepted", "duplicate", "bad_signature",
                                             "malformed", "too_large", "forbidden",
                                             "unavailable"};

const char *events__result_name(int result) { return result_names[result]; }

double events__now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void events__count(events_rx *rx, int result) {
  const char *v[2] = {"agora", events__result_name(result)};
  uv_mutex_lock(&rx->mu);
  rx->counts[result]++;
  uv_mutex_unlock(&rx->mu);
  if (rx->total) metrics_add(rx->total, v, 1, NULL, 0);
  if (result >= R_BAD_SIGNATURE) uv_async_send(&rx->mwake);   /* the main loop logs it */
}

void events__item_free(item *it) {
  if (!it) return;
  free(it->id);
  free(it->body);
  free(it);
}

void events_ev_free(events_ev *ev) {
  if (!ev) return;
  free(ev->id);
  free(ev->body);
  free(ev);
}

char *events__dupn(const char *s, size_t n) {
  char *d = malloc(n + 1);
  if (!d) return NULL;
  memcpy(d, s, n);
  d[n] = 0;
  return d;
}

/* Under mu: queues it for the committer. -1 when the queue is full. */
int events__submit_locked(events_rx *rx, item *it) {
  if (it->kind == STORE_EVENT_ADD && rx->nq >= EVENTS_MAX_QUEUED) return -1;
  it->next = NULL;
  *rx->qtail = it;
  rx->qtail = &it->next;
  rx->nq++;
  uv_cond_signal(&rx->cond);
  return 0;
}

item *events__item_new(int kind, const char *id, const char *body, size_t n, double when) {
  item *it = calloc(1, sizeof *it);
  if (!it || !(it->id = strdup(id)) || (body && !(it->body = events__dupn(body, n)))) {
    events__item_free(it);
    return NULL;
  }
  it->kind = kind;
  it->n = n;
  it->when = when;
  it->event_type = -1;
  return it;
}

static void remember_session(events_rx *rx, const item *it) {
  int i, at = -1;
  if (!it->sid[0]) return;
  for (i = 0; i < rx->nsessions; i++)
    if (strcmp(rx->sessions[i].sid, it->sid) == 0) at = i;
  if (at < 0) {
    if (rx->nsessions < MAX_SESSIONS) at = rx->nsessions++;
    else {   /* the oldest goes */
      at = 0;
      for (i = 1; i < rx->nsessions; i++)
        if (rx->sessions[i].received < rx->sessions[at].received) at = i;
    }
  }
  snprintf(rx->sessions[at].sid, sizeof rx->sessions[at].sid, "%s", it->sid);
  snprintf(rx->sessions[at].cname, sizeof rx->sessions[at].cname, "%s", it->cname);
  snprintf(rx->sessions[at].notice_id, sizeof rx->sessions[at].notice_id, "%s", it->id);
  rx->sessions[at].event_type = it->event_type;
  rx->sessions[at].received = it->when;
}

/* ---- the noticeIds handed out (a shared store) ---- */

static unsigned bucket(const char *id) {
  unsigned h = 2166136261u;
  for (; *id; id++) h = (h ^ (unsigned char)*id) * 16777619u;
  return h % SEEN_BUCKETS;
}

int events__seen(events_rx *rx, const char *id, double now) {
  seen_ent *e, **pp;
  unsigned b;
  if (!rx->seen_qt) rx->seen_qt = &rx->seen_qh;
  while ((e = rx->seen_qh) && e->at < now - SEEN_KEEP) {   /* the oldest go first */
    for (pp = &rx->seen_tab[bucket(e->id)]; *pp && *pp != e; pp = &(*pp)->hnext) {}
    if (*pp) *pp = e->hnext;
    rx->seen_qh = e->qnext;
    if (!rx->seen_qh) rx->seen_qt = &rx->seen_qh;
    rx->nseen--;
    free(e);
  }
  b = bucket(id);
  for (e = rx->seen_tab[b]; e; e = e->hnext)
    if (strcmp(e->id, id) == 0) return 1;
  if (!(e = malloc(sizeof *e + strlen(id) + 1))) return 0;   /* handed out again: at least once */
  strcpy(e->id, id);
  e->at = now;
  e->qnext = NULL;
  e->hnext = rx->seen_tab[b];
  rx->seen_tab[b] = e;
  *rx->seen_qt = e;
  rx->seen_qt = &e->qnext;
  rx->nseen++;
  return 0;
}

void events__seen_free(events_rx *rx) {
  seen_ent *e;
  while ((e = rx->seen_qh)) {
    rx->seen_qh = e->qnext;
    free(e);
  }
  memset(rx->seen_tab, 0, sizeof rx->seen_tab);
  rx->seen_qt = &rx->seen_qh;
  rx->nseen = 0;
}

/* recwatch_notifications_waiting: committed, not taken by the script yet. */
void events__publish_waiting(events_rx *rx) {
  const char *v[1] = {"agora"};
  long n;
  uv_mutex_lock(&rx->mu);
  n = rx->nready;
  uv_mutex_unlock(&rx->mu);
  if (rx->waiting_g) metrics_set(rx->waiting_g, v, (double)n, NULL, 0);
}

/* One write set for the batch; each item gets its result. */
static void commit_batch(events_rx *rx, item *batch, int n) {
  store_writeset ws;
  store_result r;
  int *changed = calloc((size_t)n + 1, sizeof *changed), i = 0, failed = 0;
  item *it;
  memset(&ws, 0, sizeof ws);
  memset(&r, 0, sizeof r);
  for (it = batch; it; it = it->next) {
    const char *s[3] = {it->id, it->kind == STORE_EVENT_ADD ? it->body : NULL, NULL};
    size_t ln[3] = {strlen(it->id), it->kind == STORE_EVENT_ADD ? it->n : 0, 0};
    if (store_ws_add(&ws, it->kind, it->when, s, ln) != 0) failed = 1;
  }
  ws.changed = changed;
  if (!changed || failed) {
    snprintf(r.err, sizeof r.err, "out of memory");
  } else {
    rx->be->commit(rx->conn, &ws, &r);
  }
  for (it = batch; it; it = it->next, i++) {
    if (!r.ok) {
      it->result = -1;
      snprintf(it->err, sizeof it->err, "%s", r.err);
    } else {
      it->result = changed[i] > 0 ? R_ACCEPTED : R_DUPLICATE;
    }
  }
  if (!r.ok) {
    uv_mutex_lock(&rx->mu);
    snprintf(rx->store_err, sizeof rx->store_err, "%s", r.err);
    uv_mutex_unlock(&rx->mu);
  }
  store_ws_clear(&ws);
  free(changed);
}

/* After the commit: answers to the listener, new events and injects to the main loop. */
static void hand_out(events_rx *rx, item *batch) {
  int to_listener = 0, to_main = 0;
  double newest = 0;
  item *it, *next;
  for (it = batch; it; it = next) {
    next = it->next;
    if (it->kind == STORE_EVENT_ADD && it->result == R_ACCEPTED) {
      events_ev *ev = calloc(1, sizeof *ev);
      if (rx->poll_every > 0) events__seen(rx, it->id, events__now());   /* not again by a poll */
      if (ev && (ev->id = strdup(it->id)) && (ev->body = events__dupn(it->body, it->n))) {
        ev->n = it->n;
        ev->received = it->when;
        uv_mutex_lock(&rx->mu);
        *rx->rtail = ev;
        rx->rtail = &ev->next;
        rx->nready++;
        remember_session(rx, it);
        uv_mutex_unlock(&rx->mu);
        to_main = 1;
      } else {
        events_ev_free(ev);   /* still durable: delivered after a restart */
      }
      if (it->when > newest) newest = it->when;
    }
    if (it->kind == STORE_EVENT_ADD && it->from_http) {
      events__count(rx, it->result == R_ACCEPTED ? R_ACCEPTED : it->result == R_DUPLICATE ? R_DUPLICATE
                                                                                 : R_UNAVAILABLE);
      uv_mutex_lock(&rx->mu);
      it->next = rx->answers;
      rx->answers = it;
      uv_mutex_unlock(&rx->mu);
      to_listener = 1;
    } else if (it->fn) {
      uv_mutex_lock(&rx->mu);
      it->next = NULL;
      *rx->atail = it;
      rx->atail = &it->next;
      uv_mutex_unlock(&rx->mu);
      to_main = 1;
    } else {
      events__item_free(it);   /* a done mark */
    }
  }
  if (newest > 0 && rx->newest) {
    const char *v[1] = {"agora"};
    metrics_set(rx->newest, v, newest, NULL, 0);
  }
  events__publish_waiting(rx);
  if (to_main) uv_async_send(&rx->mwake);
  if (to_listener) uv_async_send(&rx->lwake);
}

static void prune(events_rx *rx) {
  store_writeset ws;
  store_result r;
  memset(&ws, 0, sizeof ws);
  memset(&r, 0, sizeof r);
  if (store_ws_add(&ws, STORE_EVENT_PRUNE, events__now() - EVENTS_DEDUP_WINDOW,
                   (const char *const[3]){NULL, NULL, NULL}, (const size_t[3]){0, 0, 0}) == 0)
    rx->be->commit(rx->conn, &ws, &r);
  store_ws_clear(&ws);
}

/* A shared store's event read again (poll): handed out unless it was already. */
static void polled_one(void *arg, const char *id, const char *body, size_t n, double received) {
  events_rx *rx = arg;
  events_ev *ev;
  if (events__seen(rx, id, events__now())) return;
  if (!(ev = calloc(1, sizeof *ev)) || !(ev->id = strdup(id)) ||
      !(ev->body = events__dupn(body, n))) {
    events_ev_free(ev);
    return;
  }
  ev->n = n;
  ev->received = received;
  uv_mutex_lock(&rx->mu);
  *rx->rtail = ev;
  rx->rtail = &ev->next;
  rx->nready++;
  uv_mutex_unlock(&rx->mu);
}

/* Every poll_every s on a store shared by a fleet: the events other members received (and
 * those this one did not hand out yet), to the main loop like the ones received here. */
static void poll_shared(events_rx *rx) {
  char err[512];
  long before, after;
  int wanted;
  rx->last_poll = events__now();
  uv_mutex_lock(&rx->mu);
  before = rx->nready;
  wanted = rx->wanted;
  uv_mutex_unlock(&rx->mu);
  if (!wanted) return;   /* nobody here takes events now: read from the cursor later */
  if (rx->be->load_events(rx->conn, polled_one, rx, err, sizeof err) != 0) return;
  uv_mutex_lock(&rx->mu);   /* (a failure: the store's outage is loud on its own) */
  after = rx->nready;
  uv_mutex_unlock(&rx->mu);
  if (after != before) {
    events__publish_waiting(rx);
    uv_async_send(&rx->mwake);
  }
}

void events__committer_main(void *arg) {
  events_rx *rx = arg;
  double last_prune = 0, wait = PRUNE_EVERY;
  if (rx->poll_every > 0 && rx->poll_every < wait) wait = rx->poll_every;
  for (;;) {
    item *batch, **cut;
    int n = 0;
    uv_mutex_lock(&rx->mu);
    while (!rx->q && !rx->stopping) {
      if (uv_cond_timedwait(&rx->cond, &rx->mu, (uint64_t)(wait * 1e9)) == UV_ETIMEDOUT)
        break;
    }
    if (!rx->q && rx->stopping) {
      uv_mutex_unlock(&rx->mu);
      return;
    }
    batch = rx->q;
    for (cut = &rx->q; *cut && n < EVENTS_BATCH; cut = &(*cut)->next) n++;
    rx->q = *cut;
    *cut = NULL;
    if (!rx->q) rx->qtail = &rx->q;
    rx->nq -= n;
    uv_mutex_unlock(&rx->mu);
    if (batch) {
      commit_batch(rx, batch, n);
      hand_out(rx, batch);
    }
    if (rx->poll_every > 0 && events__now() - rx->last_poll >= rx->poll_every) poll_shared(rx);
    if (events__now() - last_prune >= PRUNE_EVERY) {
      prune(rx);
      last_prune = events__now();
    }
  }
}
