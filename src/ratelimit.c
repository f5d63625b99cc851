/* ratelimit: pacing against a sliding window. Bookings are handed out in call order (FIFO:
 * retries share the budget of first attempts; urgent requests in their own lane ahead), spaced by w / window_n; a
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

/* The j-th most recent departure (1-based) counting the pending ones as the most recent:
 * NAN when it is not known (pending, or older than the stamps kept), else its stamp.
 * srt holds the stamps in ascending order. */
static double recent(const rl_bucket *b, const rl_stamp *srt, int j, int *pending) {
  j -= b->pending;
  *pending = j <= 0;
  if (j <= 0 || j > b->nsent) return NAN;
  return srt[b->nsent - j].t;
}

static double commit_window(rl_bucket *b, double now);

double rl_commit(rl_bucket *b, double now) {
  /* the routine path's only cost of the priority lane: one compare */
  if (b->urgent_waiting > 0) return b->interval > RL_EARLY ? b->interval : RL_EARLY;
  return commit_window(b, now);
}

double rl_reserve_urgent(rl_bucket *b, double now) {
  double slot;
  if (b->rate <= 0) return 0;
  slot = b->utat > now ? b->utat : now;
  b->utat = slot + b->interval;
  /* the routine bookings made from now on come after this one */
  b->tat = (b->tat > now ? b->tat : now) + b->interval;
  return slot - now;
}

double rl_commit_urgent(rl_bucket *b, double now, int *waiting) {
  double w;
  if (*waiting) {
    b->urgent_waiting--;
    *waiting = 0;
  }
  w = commit_window(b, now);
  if (w > 0) {
    b->urgent_waiting++;
    *waiting = 1;
  }
  return w;
}

void rl_urgent_cancel(rl_bucket *b, int *waiting) {
  if (!*waiting) return;
  *waiting = 0;
  if (b->urgent_waiting > 0) b->urgent_waiting--;
}

static double commit_window(rl_bucket *b, double now) {
  double at;
  int n = b->window_n;
  if (b->rate <= 0) return 0;
  /* smoothing only: after a stall, the late ones go half an interval apart */
  at = b->last + b->interval / 2;
  if (n > 0) {
    rl_stamp srt[RL_RING];
    double t;
    int m, wait_pending;
    memcpy(srt, b->sent, (size_t)b->nsent * sizeof srt[0]);
    qsort(srt, (size_t)b->nsent, sizeof srt[0], by_time);
    /* this one, the pending ones and the departures still in the window: at most n */
    t = recent(b, srt, n, &wait_pending);
    if (wait_pending) {
      if (at < now + b->interval) at = now + b->interval;  /* n still on their way */
    } else if (!isnan(t) && t + b->w > at) {
      at = t + b->w;
    }
    /* widened past the guard (the server is stricter than configured): its own window,
     * w0 for about n w0 / w requests, must hold too, or a catch-up could put more than
     * that within one second while n per w still holds */
    m = (int)ceil(n * b->w0 / b->w - 1e-9);
    if (m < n) {
      t = recent(b, srt, m < 1 ? 1 : m, &wait_pending);
      if (wait_pending) {
        if (at < now + b->interval) at = now + b->interval;
      } else if (!isnan(t) && t + b->w0 > at) {
        at = t + b->w0;
      }
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
  /* it arrived at most (rtt - rtt_floor) after an unhurried one would have; the guard
   * (w0 - span) already allows that much for the request a window before any other, so
   * only the excess moves the stamp: a reply a few ms slow (a busy client) costs nothing */
  late = now - b->rtt_floor - (b->w0 - b->span);
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
  double f, w;
  if (b->rate <= 0) return 0;
  b->refused++;
  /* one widening per window: until the departures paced by the last one fill a window,
   * a 429 still tells of the old pace (or of one burst of arrivals, a server stall) */
  if (departed < b->widened_at + b->w) return 0;
  /* the share refused since the last widening: the server took (1 - f) of our pace, so
   * its limit is about that (a server stricter than configured is matched at once); a
   * lone 429 among many (jitter) widens by the step */
  f = (double)b->refused / (double)(b->refused + b->accepted);
  if (b->refused + b->accepted < (b->window_n > 1 ? b->window_n : 2)) f = 0;  /* too few */
  if (f > 0.9) f = 0.9;
  w = b->w * (1 + RL_GUARD) / (1 - f);
  if (w < b->w + RL_STEP * b->span) w = b->w + RL_STEP * b->span;
  set_window(b, w);
  b->widened_at = now;
  b->refused = b->accepted = 0;
  b->throttled++;
  return 1;
}

void rl_accepted(rl_bucket *b) {
  if (b->rate <= 0) return;
  b->accepted++;
  if (b->w <= b->w0) return;
  set_window(b, b->w - RL_STEP * b->span / RL_NARROW_N);
}
