/* ratelimit: GCRA pacing. Slots are handed out strictly in call order, so waiters are FIFO
 * and retries share the same budget as first attempts. */
#include <math.h>
#include "ratelimit.h"

void rl_init(rl_bucket *b, double rate_per_second) {
  b->interval = rate_per_second > 0 ? RL_MARGIN / rate_per_second : 0;
  b->tat = 0;
  b->last = -1e300;
  b->window_n = 0;
  if (rate_per_second >= 1 && rate_per_second <= RL_RING) b->window_n = (int)floor(rate_per_second);
  b->nsent = b->head = 0;
}

double rl_reserve(rl_bucket *b, double now) {
  double slot;
  if (b->interval <= 0) return 0;
  slot = b->tat > now ? b->tat : now;
  b->tat = slot + b->interval;
  return slot - now;
}

double rl_commit(rl_bucket *b, double now) {
  double at;
  if (b->interval <= 0) return 0;
  at = b->last + b->interval > now ? b->last + b->interval : now;
  b->last = at;
  if (b->tat < at + b->interval) b->tat = at + b->interval;  /* later bookings follow */
  return at - now;
}

int rl_leave(rl_bucket *b, double now) {
  int n = b->window_n;
  if (b->interval <= 0 || n <= 0) return 0;
  if (b->nsent == n) {
    /* the window_n-th departure before this one: at least the nominal span less
     * RL_LEAVE_SLACK, so the rest of the margin is left for jitter in arrival times */
    double span = n * b->interval - RL_LEAVE_SLACK;
    if (now - b->sent[b->head] < span) return -1;
    b->sent[b->head] = now;
    b->head = (b->head + 1) % n;
  } else {
    b->sent[(b->head + b->nsent) % n] = now;
    b->nsent++;
  }
  return 0;
}
