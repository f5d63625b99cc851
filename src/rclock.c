/* rclock: one clock and one timer heap per engine (or per test case, shared by its engines
 * and its simulator). Real mode: a single uv_timer fires at the earliest deadline. Virtual
 * mode: a uv_prepare handle, run before the loop would block, moves time to the earliest
 * deadline when no source has work in progress, and fires what is due. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "rclock.h"

#define MAX_WAIT 1e9               /* seconds: "for ever" without overflowing */
#define JUMPS_PER_TURN 4096        /* then one loop turn (signals, I/O) before going on */

typedef struct source {
  rclock_busy_fn busy;
  void *ud;
} source;

typedef struct parked {
  int server_port, client_port;
} parked;

struct rclock {
  uv_loop_t *loop;
  uv_timer_t drv;     /* real: fires at the earliest deadline; virtual: keeps the loop alive */
  uv_prepare_t prep;  /* virtual: the jumps */
  uv_idle_t kick;     /* virtual: one more turn without blocking (jump budget used up) */
  int virt, open_handles, freeing;
  uint64_t t0;        /* uv_hrtime at start (real) */
  double vnow;        /* virtual seconds */
  double wall0;       /* wall clock at start (virtual) */
  rtimer_t **heap;
  size_t n, cap;
  size_t nref;        /* armed timers that keep the loop alive */
  uint64_t seq, jumps;
  double armed_due;   /* real: what drv is set for (NAN: stopped) */
  source *src;
  size_t nsrc, capsrc;
  parked *pk;
  size_t npk, cappk;
};

static double real_wall(void) {
  uv_timeval64_t tv;
  uv_gettimeofday(&tv);
  return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

int rclock_is_virtual(const rclock_t *c) { return c->virt; }

double rclock_now(const rclock_t *c) {
  if (c->virt) return c->vnow;
  return (double)(uv_hrtime() - c->t0) / 1e9;
}

double rclock_time(const rclock_t *c) {
  if (c->virt) return c->wall0 + c->vnow;
  return real_wall();
}

double rclock_time_cb(void *clock) { return rclock_time(clock); }

uint64_t rclock_jumps(const rclock_t *c) { return c->jumps; }

/* ---- the heap: earliest due first, then the order of starting ---- */

static int before(const rtimer_t *a, const rtimer_t *b) {
  return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static void put(rclock_t *c, size_t i, rtimer_t *t) {
  c->heap[i] = t;
  t->slot = i + 1;
}

static void sift_up(rclock_t *c, size_t i) {
  rtimer_t *t = c->heap[i];
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!before(t, c->heap[p])) break;
    put(c, i, c->heap[p]);
    i = p;
  }
  put(c, i, t);
}

static void sift_down(rclock_t *c, size_t i) {
  rtimer_t *t = c->heap[i];
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    const rtimer_t *best = t;
    if (l < c->n && before(c->heap[l], best)) m = l, best = c->heap[l];
    if (r < c->n && before(c->heap[r], best)) m = r;
    if (m == i) break;
    put(c, i, c->heap[m]);
    i = m;
  }
  put(c, i, t);
}

static void heap_remove(rclock_t *c, rtimer_t *t) {
  size_t i = t->slot - 1;
  rtimer_t *last = c->heap[--c->n];
  t->slot = 0;
  if (!t->unref) c->nref--;
  if (last == t) return;
  put(c, i, last);
  if (i > 0 && before(last, c->heap[(i - 1) / 2])) sift_up(c, i);
  else sift_down(c, i);
}

/* ---- driving ---- */

static void on_drv(uv_timer_t *h);
static void on_kick(uv_idle_t *h) { (void)h; }

/* Real mode: drv fires at the earliest deadline (never early: the loop's cached time is
 * refreshed and the delay rounded up). Both modes: drv holds the loop while a referenced
 * timer is armed. */
static void rearm(rclock_t *c) {
  if (c->freeing) return;
  if (c->nref > 0) uv_ref((uv_handle_t *)&c->drv);
  else uv_unref((uv_handle_t *)&c->drv);
  if (c->virt) {
    if (c->n > 0 && !uv_is_active((uv_handle_t *)&c->drv))
      uv_timer_start(&c->drv, on_drv, 3600 * 1000, 3600 * 1000);
    else if (c->n == 0 && uv_is_active((uv_handle_t *)&c->drv))
      uv_timer_stop(&c->drv);
    return;
  }
  if (c->n == 0) {
    if (!isnan(c->armed_due)) uv_timer_stop(&c->drv);
    c->armed_due = NAN;
    return;
  }
  if (c->heap[0]->due != c->armed_due) {
    double wait = c->heap[0]->due - rclock_now(c);
    c->armed_due = c->heap[0]->due;
    if (wait < 0) wait = 0;
    uv_update_time(c->loop);
    uv_timer_start(&c->drv, on_drv, (uint64_t)ceil(wait * 1000), 0);
  }
}

/* Fires the timers due by now that were armed before this batch began: one armed by a
 * callback for "now" runs on the next batch, so a callback cannot starve the loop. */
static void fire_due(rclock_t *c) {
  uint64_t limit = c->seq;
  double now = rclock_now(c);
  while (c->n > 0 && !c->freeing) {
    rtimer_t *t = c->heap[0];
    if (t->due > now || t->seq >= limit) break;
    heap_remove(c, t);
    t->cb(t);
  }
}

static void on_drv(uv_timer_t *h) {
  rclock_t *c = h->data;
  if (c->virt) return;  /* virtual: only a keep-alive */
  c->armed_due = NAN;
  fire_due(c);
  rearm(c);
}

static int any_busy(rclock_t *c) {
  size_t i;
  for (i = 0; i < c->nsrc; i++)
    if (c->src[i].busy(c->src[i].ud)) return 1;
  return 0;
}

/* Virtual mode, before the loop would block: while nothing is in progress and a timer that
 * keeps the process alive is armed, jump to the earliest deadline and fire it. Timers that do
 * not keep it alive (the simulator's, --until) never move time on their own: with only them
 * left the run ends, as it would in real time. */
static void on_prepare(uv_prepare_t *h) {
  rclock_t *c = h->data;
  int budget = JUMPS_PER_TURN;
  while (c->nref > 0 && !c->freeing && !any_busy(c)) {
    if (budget-- == 0) {
      if (!uv_is_active((uv_handle_t *)&c->kick)) uv_idle_start(&c->kick, on_kick);
      return;
    }
    if (c->heap[0]->due > c->vnow) {
      c->vnow = c->heap[0]->due;
      c->jumps++;
    }
    fire_due(c);
    rearm(c);
  }
  if (!c->freeing && uv_is_active((uv_handle_t *)&c->kick)) uv_idle_stop(&c->kick);
}

rclock_t *rclock_new(uv_loop_t *loop, int virtual_time, double wall_start) {
  rclock_t *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->loop = loop;
  c->virt = virtual_time ? 1 : 0;
  c->t0 = uv_hrtime();
  c->wall0 = wall_start > 0 ? wall_start : floor(real_wall());
  c->armed_due = NAN;
  uv_timer_init(loop, &c->drv);
  c->drv.data = c;
  uv_unref((uv_handle_t *)&c->drv);
  uv_prepare_init(loop, &c->prep);
  c->prep.data = c;
  uv_idle_init(loop, &c->kick);
  c->kick.data = c;
  c->open_handles = 3;
  if (c->virt) {
    uv_prepare_start(&c->prep, on_prepare);
    uv_unref((uv_handle_t *)&c->prep);
  }
  return c;
}

static void on_closed(uv_handle_t *h) {
  rclock_t *c = h->data;
  if (--c->open_handles == 0) free(c);
}

void rclock_free(rclock_t *c) {
  size_t i;
  if (!c || c->freeing) return;
  c->freeing = 1;
  for (i = 0; i < c->n; i++) c->heap[i]->slot = 0;
  free(c->heap);
  free(c->src);
  free(c->pk);
  c->heap = NULL;
  c->n = c->cap = 0;
  uv_close((uv_handle_t *)&c->drv, on_closed);
  uv_close((uv_handle_t *)&c->prep, on_closed);
  uv_close((uv_handle_t *)&c->kick, on_closed);
}

/* ---- sources and parked requests ---- */

int rclock_add_source(rclock_t *c, rclock_busy_fn busy, void *ud) {
  if (c->nsrc == c->capsrc) {
    size_t ncap = c->capsrc ? 2 * c->capsrc : 4;
    source *g = realloc(c->src, ncap * sizeof *g);
    if (!g) return -1;
    c->src = g;
    c->capsrc = ncap;
  }
  c->src[c->nsrc].busy = busy;
  c->src[c->nsrc].ud = ud;
  c->nsrc++;
  return 0;
}

void rclock_remove_source(rclock_t *c, void *ud) {
  size_t i;
  for (i = 0; i < c->nsrc; i++)
    if (c->src[i].ud == ud) {
      c->src[i] = c->src[--c->nsrc];
      return;
    }
}

void rclock_park(rclock_t *c, int server_port, int client_port) {
  if (c->npk == c->cappk) {
    size_t ncap = c->cappk ? 2 * c->cappk : 8;
    parked *g = realloc(c->pk, ncap * sizeof *g);
    if (!g) return;  /* then it counts as in flight: time waits for it, nothing breaks */
    c->pk = g;
    c->cappk = ncap;
  }
  c->pk[c->npk].server_port = server_port;
  c->pk[c->npk].client_port = client_port;
  c->npk++;
}

void rclock_unpark(rclock_t *c, int server_port, int client_port) {
  size_t i;
  for (i = 0; i < c->npk; i++)
    if (c->pk[i].server_port == server_port && c->pk[i].client_port == client_port) {
      c->pk[i] = c->pk[--c->npk];
      return;
    }
}

size_t rclock_parked_count(const rclock_t *c) { return c->npk; }

int rclock_is_parked(const rclock_t *c, int server_port, int client_port) {
  size_t i;
  for (i = 0; i < c->npk; i++)
    if (c->pk[i].server_port == server_port && c->pk[i].client_port == client_port) return 1;
  return 0;
}

/* ---- timers ---- */

void rtimer_init(rclock_t *c, rtimer_t *t, rtimer_cb cb, void *data) {
  memset(t, 0, sizeof *t);
  t->clock = c;
  t->cb = cb;
  t->data = data;
}

void rtimer_start_at(rtimer_t *t, double due) {
  rclock_t *c = t->clock;
  if (c->freeing) return;
  if (t->slot) heap_remove(c, t);
  if (c->n == c->cap) {
    size_t ncap = c->cap ? 2 * c->cap : 64;
    rtimer_t **g = realloc(c->heap, ncap * sizeof *g);
    if (!g) abort();  /* a timer that silently never fires would hang a task for ever */
    c->heap = g;
    c->cap = ncap;
  }
  if (isnan(due)) due = rclock_now(c);
  t->due = due;
  t->seq = c->seq++;
  if (!t->unref) c->nref++;
  c->heap[c->n] = t;
  t->slot = ++c->n;
  sift_up(c, c->n - 1);
  rearm(c);
}

void rtimer_start(rtimer_t *t, double seconds) {
  if (!(seconds > 0)) seconds = 0;  /* NaN too */
  if (seconds > MAX_WAIT) seconds = MAX_WAIT;
  rtimer_start_at(t, rclock_now(t->clock) + seconds);
}

void rtimer_stop(rtimer_t *t) {
  if (!t->slot || t->clock->freeing) return;
  heap_remove(t->clock, t);
  rearm(t->clock);
}

int rtimer_active(const rtimer_t *t) { return t->slot != 0; }

void rtimer_unref(rtimer_t *t) {
  if (t->unref) return;
  t->unref = 1;
  if (t->slot) {
    t->clock->nref--;
    rearm(t->clock);
  }
}
