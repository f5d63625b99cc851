/* events: the NCS receiver (see events.h): the object, and the main loop's side (taking the
 * committed events, done marks, injects, /status, closing). Three threads meet in the
 * receiver on purpose, each in a file of its own (events_int.h holds what they share):
 * - the listener thread (events_listen.c: own uv_loop, httpd.c) checks a delivery
 *   (events_ncs.c), queues it for the committer and pauses its connection; it never waits
 *   and never touches Lua;
 * - the committer thread (events_commit.c) takes everything queued (up to EVENTS_BATCH) and
 *   commits it as one write set through the store interface (STORE_EVENT_ADD: a noticeId
 *   the store holds is a duplicate), so a burst costs one fsync per batch, not per event; it
 *   hands the answers back to the listener's loop (uv_async) and the new events to the main
 *   loop (uv_async);
 * - the main loop takes the committed events (events_take, for rec.events.next) and queues
 *   their "done" marks back to the committer.
 * An answer 200 is sent only after the commit that holds its event: a crash after it loses
 * nothing. Nothing is logged from the two threads (the log is the main loop's): they count,
 * and the main loop logs what they counted. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include "events_int.h"
#include "log.h"

static events_rx *all_rx;   /* one per engine; main loop only */
static void update_ref(events_rx *rx);
static void (*target_hook)(void *ud, const char *url, const char *secret);
static void *target_ud;

void events_set_target_hook(void (*fn)(void *ud, const char *url, const char *secret),
                            void *ud) {
  target_hook = fn;
  target_ud = ud;
}

static void tell_target(events_rx *rx) {
  if (target_hook && rx->listening) target_hook(target_ud, rx->url, rx->secret);
}

void events_set_owner(events_rx *rx, const void *owner) { rx->owner = owner; }

const void *events_owner(const events_rx *rx) { return rx->owner; }

int events_listen(events_rx *rx, const char *addr, char *err, size_t n) {
  int was = rx->listening;
  if (events__listen_start(rx, addr, err, n) != 0) return -1;
  if (!was) {
    log_write(LOG_INFO, 0, "events: receiving Agora notifications on %s", rx->url);
    tell_target(rx);
  }
  return 0;
}

const char *events_url(events_rx *rx) { return rx && rx->listening ? rx->url : NULL; }

static void log_counts(events_rx *rx) {
  long delta[R_N];
  char serr[512];
  int i;
  uv_mutex_lock(&rx->mu);
  for (i = 0; i < R_N; i++) {
    delta[i] = rx->counts[i] - rx->logged[i];
    rx->logged[i] = rx->counts[i];
  }
  snprintf(serr, sizeof serr, "%s", rx->store_err);
  rx->store_err[0] = 0;
  uv_mutex_unlock(&rx->mu);
  for (i = R_BAD_SIGNATURE; i < R_N; i++)
    if (delta[i] > 0)
      log_write(LOG_WARN, 0, "events: %ld notification(s) refused since the last report: %s",
                delta[i], events__result_name(i));
  if (serr[0]) log_write(LOG_ERROR, 0, "events: an event could not be stored (answered 503, "
                         "Agora sends it again): %s", serr);
}

static void on_mwake(uv_async_t *a) {
  events_rx *rx = a->data;
  item *it, *next;
  long n;
  int any;
  uv_mutex_lock(&rx->mu);
  it = rx->arrived;
  rx->arrived = NULL;
  rx->atail = &rx->arrived;
  any = rx->ready != NULL;
  uv_mutex_unlock(&rx->mu);
  for (; it; it = next) {
    next = it->next;
    it->fn(it->ud, it->result == R_ACCEPTED ? 0 : it->result == R_DUPLICATE ? 1 : -1, it->err);
    if (rx->holds > 0) {
      rx->holds--;
      engine_release(rx->e);
    }
    events__item_free(it);
  }
  update_ref(rx);
  log_counts(rx);
  if (any && rx->on_arrival) rx->on_arrival(rx->arrival_ud);
  uv_mutex_lock(&rx->mu);
  n = rx->nready;
  uv_mutex_unlock(&rx->mu);
  if (n >= EVENTS_WARN_READY && !rx->warned_ready) {
    rx->warned_ready = 1;   /* once per backlog: said again after it has drained */
    log_write(LOG_WARN, 0, "events: %ld events committed and not taken by the script "
              "(rec.events.next): they are kept in memory until it does", n);
  } else if (n < EVENTS_WARN_READY / 2) {
    rx->warned_ready = 0;
  }
}

static void load_one(void *arg, const char *id, const char *body, size_t n, double received) {
  events_rx *rx = arg;
  events_ev *ev;
  if (rx->poll_every > 0 && id && events__seen(rx, id, events__now())) return;
  ev = calloc(1, sizeof *ev);
  if (!ev || !(ev->id = strdup(id ? id : "")) || !(ev->body = events__dupn(body ? body : "", n))) {
    events_ev_free(ev);
    return;
  }
  ev->n = n;
  ev->received = received;
  *rx->rtail = ev;
  rx->rtail = &ev->next;
  rx->nready++;
}

static void free_rx(uv_handle_t *h) {
  events_rx *rx = h->data;
  events_ev *ev;
  while ((ev = rx->ready)) {
    rx->ready = ev->next;
    events_ev_free(ev);
  }
  events__seen_free(rx);
  uv_mutex_destroy(&rx->mu);
  uv_cond_destroy(&rx->cond);
  free(rx);
}

events_rx *events_for(engine_t *e, int create, const char *state_path, char *err, size_t n) {
  static const char *const labels[2] = {"provider", "result"};
  events_rx *rx;
  for (rx = all_rx; rx; rx = rx->next_rx)
    if (rx->e == e) return rx;
  if (!create) return NULL;
  if (!(rx = calloc(1, sizeof *rx))) {
    snprintf(err, n, "out of memory");
    return NULL;
  }
  rx->e = e;
  rx->qtail = &rx->q;
  rx->atail = &rx->arrived;
  rx->rtail = &rx->ready;
  rx->be = store_backend_for(state_path);
  rx->seen_qt = &rx->seen_qh;
  rx->poll_every = store_events_poll_every(state_path);
  if (!rx->be->load_events ||
      !(rx->conn = rx->be->open(state_path, NULL, err, n)) ||
      rx->be->load_events(rx->conn, load_one, rx, err, n) != 0) {
    if (!rx->be->load_events) snprintf(err, n, "the store %s keeps no events", rx->be->name);
    if (rx->conn) rx->be->close(rx->conn);
    events__seen_free(rx);
    while (rx->ready) {
      events_ev *ev = rx->ready;
      rx->ready = ev->next;
      events_ev_free(ev);
    }
    free(rx);
    return NULL;
  }
  rx->total = metrics_register(METRIC_COUNTER, "recwatch_notifications_total",
                               "Provider notifications received, by result", 2, labels, NULL, 0,
                               NULL, 0);
  rx->newest = metrics_register(METRIC_GAUGE, "recwatch_notifications_newest_timestamp_seconds",
                                "When the newest accepted notification was received (Unix s): "
                                "its age is time() minus this", 1, labels, NULL, 0, NULL, 0);
  rx->waiting_g = metrics_register(METRIC_GAUGE, "recwatch_notifications_waiting",
                                   "Notifications committed and not taken by the script yet",
                                   1, labels, NULL, 0, NULL, 0);
  uv_mutex_init(&rx->mu);
  uv_cond_init(&rx->cond);
  uv_async_init(engine_loop(e), &rx->mwake, on_mwake);
  rx->mwake.data = rx;
  uv_unref((uv_handle_t *)&rx->mwake);
  if (uv_thread_create(&rx->committer, events__committer_main, rx) != 0) {
    snprintf(err, n, "cannot start the events committer thread");
    rx->be->close(rx->conn);
    rx->conn = NULL;
    uv_close((uv_handle_t *)&rx->mwake, free_rx);
    return NULL;
  }
  rx->committer_on = 1;
  events__publish_waiting(rx);   /* the backlog from before a restart */
  rx->next_rx = all_rx;
  all_rx = rx;
  if (rx->ready) uv_async_send(&rx->mwake);   /* events from before a restart */
  return rx;
}

void events_set_secret(events_rx *rx, const char *secret) {
  size_t n = secret ? strlen(secret) : 0;
  if (n >= sizeof rx->secret) n = sizeof rx->secret - 1;
  uv_mutex_lock(&rx->mu);
  memcpy(rx->secret, secret ? secret : "", n);
  rx->secret[n] = 0;
  rx->secretn = n;
  uv_mutex_unlock(&rx->mu);
  tell_target(rx);
}

int events_set_allow(events_rx *rx, const char *const *addrs, int n, char *err, size_t errn) {
  struct sockaddr_storage tmp[MAX_ALLOW];
  int i;
  if (n > MAX_ALLOW) {
    snprintf(err, errn, "at most %d addresses", MAX_ALLOW);
    return -1;
  }
  memset(tmp, 0, sizeof tmp);
  for (i = 0; i < n; i++) {
    if (inet_pton(AF_INET, addrs[i], &((struct sockaddr_in *)&tmp[i])->sin_addr) == 1)
      tmp[i].ss_family = AF_INET;
    else if (inet_pton(AF_INET6, addrs[i], &((struct sockaddr_in6 *)&tmp[i])->sin6_addr) == 1)
      tmp[i].ss_family = AF_INET6;
    else {
      snprintf(err, errn, "'%.60s' is not an IPv4 or IPv6 address", addrs[i]);
      return -1;
    }
  }
  uv_mutex_lock(&rx->mu);
  memcpy(rx->allow, tmp, sizeof tmp);
  rx->nallow = n;
  uv_mutex_unlock(&rx->mu);
  return 0;
}

int events_shared(const events_rx *rx) { return rx && rx->poll_every > 0; }

void events_on_arrival(events_rx *rx, void (*fn)(void *ud), void *ud) {
  rx->on_arrival = fn;
  rx->arrival_ud = ud;
}

events_ev *events_take(events_rx *rx) {
  events_ev *ev;
  uv_mutex_lock(&rx->mu);
  ev = rx->ready;
  if (ev) {
    rx->ready = ev->next;
    if (!rx->ready) rx->rtail = &rx->ready;
    ev->next = NULL;
    rx->nready--;
  }
  uv_mutex_unlock(&rx->mu);
  if (ev) events__publish_waiting(rx);
  return ev;
}

int events_done(events_rx *rx, const char *id) {
  item *it = events__item_new(STORE_EVENT_DONE, id, NULL, 0, events__now());
  if (!it) return -1;
  uv_mutex_lock(&rx->mu);
  events__submit_locked(rx, it);
  uv_mutex_unlock(&rx->mu);
  return 0;
}

int events_inject(events_rx *rx, const char *id, const char *body, size_t n, double received,
                  void (*fn)(void *ud, int result, const char *err), void *ud) {
  ncs_notice nn;
  item *it = events__item_new(STORE_EVENT_ADD, id, body, n, received);
  int rc;
  if (!it) return -1;
  if (ncs_parse(body, n, &nn) == NCS_OK) {
    it->event_type = nn.event_type;
    snprintf(it->sid, sizeof it->sid, "%s", nn.sid);
    snprintf(it->cname, sizeof it->cname, "%s", nn.cname);
  }
  it->fn = fn;
  it->ud = ud;
  uv_mutex_lock(&rx->mu);
  rc = events__submit_locked(rx, it);
  uv_mutex_unlock(&rx->mu);
  if (rc != 0) {
    events__item_free(it);
    return -1;
  }
  rx->holds++;
  engine_hold(rx->e);
  update_ref(rx);
  return 0;
}

/* The main loop's handle keeps the process alive while an inject is in flight or a task
 * waits without a timeout; else an idle receiver never holds a finished script. */
static void update_ref(events_rx *rx) {
  if (rx->holds > 0 || rx->waiting) uv_ref((uv_handle_t *)&rx->mwake);
  else uv_unref((uv_handle_t *)&rx->mwake);
}

void events_wanted(events_rx *rx, int on) {
  uv_mutex_lock(&rx->mu);
  rx->wanted = on;
  uv_mutex_unlock(&rx->mu);
}

void events_keep_alive(events_rx *rx, int on) {
  rx->waiting = on;
  update_ref(rx);
}

static void json_str(char *out, size_t cap, size_t *at, const char *s) {
  char esc[4 * NCS_MAX_FIELD + 8];
  log_escape(esc, sizeof esc, s, strlen(s), 1);
  if (*at < cap) *at += (size_t)snprintf(out + *at, cap - *at, "\"%s\"", esc);
}

char *events_status_json(events_rx *rx) {
  size_t cap, at = 0;
  char *out;
  int i;
  uv_mutex_lock(&rx->mu);
  cap = 256 + 4 * sizeof rx->url + (size_t)rx->nsessions * (8 * NCS_MAX_FIELD + 200);
  if (!(out = malloc(cap))) {
    uv_mutex_unlock(&rx->mu);
    return NULL;
  }
  at += (size_t)snprintf(out, cap, "{\"url\":");
  json_str(out, cap, &at, rx->listening ? rx->url : "");
  at += (size_t)snprintf(out + at, cap - at, ",\"accepted\":%ld,\"duplicate\":%ld,\"refused\":%ld,"
                         "\"sessions\":{", rx->counts[R_ACCEPTED], rx->counts[R_DUPLICATE],
                         rx->counts[R_BAD_SIGNATURE] + rx->counts[R_MALFORMED] +
                         rx->counts[R_TOO_LARGE] + rx->counts[R_FORBIDDEN]);
  for (i = 0; i < rx->nsessions && at < cap; i++) {
    const session *s = &rx->sessions[i];
    if (i) out[at++] = ',';
    json_str(out, cap, &at, s->sid);
    if (at < cap) at += (size_t)snprintf(out + at, cap - at, ":{\"cname\":");
    json_str(out, cap, &at, s->cname);
    if (at < cap) at += (size_t)snprintf(out + at, cap - at, ",\"notice_id\":\"%s\",\"event_type\":%lld,"
                                         "\"received\":%.3f}", s->notice_id, s->event_type, s->received);
  }
  if (at < cap) snprintf(out + at, cap - at, "}}");
  uv_mutex_unlock(&rx->mu);
  return out;
}

void events_close(events_rx *rx) {
  events_rx **p;
  item *it, *next;
  if (!rx) return;
  for (p = &all_rx; *p; p = &(*p)->next_rx)
    if (*p == rx) {
      *p = rx->next_rx;
      break;
    }
  uv_mutex_lock(&rx->mu);
  rx->stopping = 1;
  uv_cond_signal(&rx->cond);
  uv_mutex_unlock(&rx->mu);
  if (rx->committer_on) uv_thread_join(&rx->committer);   /* what was queued is committed */
  if (rx->listening) {
    uv_mutex_lock(&rx->mu);
    rx->stopping = 2;
    uv_mutex_unlock(&rx->mu);
    uv_async_send(&rx->lwake);   /* the last answers, then the server closes */
    uv_thread_join(&rx->lthread);
    uv_loop_close(&rx->lloop);
    rx->listening = 0;
  }
  rx->be->close(rx->conn);
  rx->conn = NULL;
  uv_mutex_lock(&rx->mu);
  it = rx->arrived;
  rx->arrived = NULL;
  uv_mutex_unlock(&rx->mu);
  for (; it; it = next) {   /* injects whose task is going away: no callback */
    next = it->next;
    events__item_free(it);
  }
  while (rx->holds > 0) {
    rx->holds--;
    engine_release(rx->e);
  }
  memset(rx->secret, 0, sizeof rx->secret);
  rx->mwake.data = rx;
  uv_close((uv_handle_t *)&rx->mwake, free_rx);
}
