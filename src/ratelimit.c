/* ratelimit: pacing against a sliding window. Bookings are handed out strictly in call
 * order (FIFO: retries share the budget of first attempts), spaced by w / window_n; a
 * booked request leaves when its window of actual departures allows it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "ratelimit.h"

/* A commit this close to its time goes at once (timers have millisecond grain). */
#define RL_EARLY 0.001

static void set_window(rl_bucket *b, double w) {
  double cap = b->span * RL_MAX_WIDEN;
  if (w < b->w0) w = b->w0;
  if (w > cap) w = cap;
  b->w = w;
  b->interval = b->window_n > 0 ? w / b->window_n : w;
}

static void set_rate(rl_bucket *b, double rate) {
  b->rate = rate > 0 ? rate : 0;
  b->window_n = 0;
  if (rate >= 1 && rate <= RL_RING) b->window_n = (int)floor(rate);
  if (rate <= 0) {
    b->span = b->w0 = b->w = b->interval = 0;
    return;
  }
  b->span = (b->window_n > 0 ? b->window_n : 1) / rate;
  b->w0 = b->span * (1 + RL_GUARD);
  set_window(b, b->w0);
}

void rl_init(rl_bucket *b, double rate_per_second) {
  memset(b, 0, sizeof *b);
  b->last = b->widened_at = -1e300;
  b->rtt_floor = -1;
  set_rate(b, rate_per_second);
}

static int by_time(const void *x, const void *y) {
  double a = ((const rl_stamp *)x)->t, c = ((const rl_stamp *)y)->t;
  return a < c ? -1 : a > c;
}

void rl_set_rate(rl_bucket *b, double rate_per_second) {
  double widen = b->w0 > 0 ? b->w / b->w0 : 1;
  int n = b->nsent;
  qsort(b->sent, (size_t)n, sizeof b->sent[0], by_time);
  set_rate(b, rate_per_second);
  if (b->w0 > 0) set_window(b, b->w0 * widen);  /* a widening is kept, in proportion */
  /* the latest stamps fill the new ring */
  b->nsent = n < b->window_n ? n : b->window_n;
  memmove(b->sent, b->sent + (n - b->nsent), (size_t)b->nsent * sizeof b->sent[0]);
}

double rl_reserve(rl_bucket *b, double now) {
  double slot;
  if (b->rate <= 0) return 0;
  slot = b->tat > now ? b->tat : now;
  b->tat = slot + b->interval;
  return slot - now;
}

double rl_commit(rl_bucket *b, double now) {
  double at;
  int n = b->window_n, need;
  if (b->rate <= 0) return 0;
  /* smoothing only: after a stall, the late ones go half an interval apart */
  at = b->last + b->interval / 2;
  if (n > 0) {
    /* this one, the pending ones and the departures still in the window: at most n */
    need = b->nsent + b->pending + 1 - n;  /* departures that must have left the window */
    if (need > b->nsent) {
      /* n requests are committed and not yet out: wait for them */
      if (at < now + b->interval) at = now + b->interval;
    } else if (need > 0) {
      /* the need-th oldest stamp must be a window old */
      rl_stamp tmp[RL_RING];
      double t;
      memcpy(tmp, b->sent, (size_t)b->nsent * sizeof tmp[0]);
      qsort(tmp, (size_t)b->nsent, sizeof tmp[0], by_time);
      t = tmp[need - 1].t + b->w;
      if (t > at) at = t;
    }
  } else if (b->last + b->interval > at) {
    at = b->last + b->interval;  /* no ring: plain spacing */
  }
  if (at - now > RL_EARLY) return at - now;
  b->last = now;
  b->pending++;
  if (b->tat < now) b->tat = now;  /* the next booking is at least one interval after */
  return 0;
}

long rl_leave(rl_bucket *b, double now) {
  int n = b->window_n, i, in = 0, oldest = 0;
  double edge = now - (b->w - (b->w - b->span) / 2);
  long id;
  if (b->pending > 0) b->pending--;
  if (b->rate <= 0 || n <= 0) return 0;
  for (i = 0; i < b->nsent; i++) {
    if (b->sent[i].t > edge) in++;
    if (b->sent[i].t < b->sent[oldest].t) oldest = i;
  }
  if (in >= n) return -1;
  id = (long)(b->next_id++ & 0x7fffffffu);
  if (b->nsent < n) oldest = b->nsent++;
  b->sent[oldest].t = now;
  b->sent[oldest].id = (unsigned)id;
  return id;
}

void rl_arrived(rl_bucket *b, long id, double left, double now) {
  double rtt = now - left, late;
  int i;
  if (b->rate <= 0 || b->window_n <= 0 || id < 0 || rtt < 0) return;
  if (b->rtt_floor < 0 || rtt < b->rtt_floor) b->rtt_floor = rtt;
  late = now - b->rtt_floor;
  /* the floor rises slowly (a route that got longer), at most 1 ms per reply, so a stall
   * hardly moves it */
  b->rtt_floor += (rtt - b->rtt_floor) / 64 < 0.001 ? (rtt - b->rtt_floor) / 64 : 0.001;
  for (i = 0; i < b->nsent; i++)
    if (b->sent[i].id == (unsigned)id) {
      if (late > b->sent[i].t) b->sent[i].t = late;
      return;
    }
}

void rl_abandon(rl_bucket *b) {
  if (b->pending > 0) b->pending--;
}

int rl_throttled(rl_bucket *b, double now, double departed) {
  double more;
  /* one widening per window: until the departures paced by the last one fill a window,
   * a 429 still tells of the old pace (or of one burst of arrivals, a server stall) */
  if (b->rate <= 0 || departed < b->widened_at + b->w) return 0;
  more = (b->w - b->w0) / 2;
  if (more < RL_STEP * b->span) more = RL_STEP * b->span;
  set_window(b, b->w + more);
  b->widened_at = now;
  b->throttled++;
  return 1;
}

void rl_accepted(rl_bucket *b) {
  if (b->rate <= 0 || b->w <= b->w0) return;
  set_window(b, b->w - RL_STEP * b->span / RL_NARROW_N);
}
