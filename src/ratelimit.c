/* ratelimit: GCRA pacing. Slots are handed out strictly in call order, so waiters are FIFO
 * and retries share the same budget as first attempts. */
#include "ratelimit.h"

void rl_init(rl_bucket *b, double rate_per_second) {
  b->interval = rate_per_second > 0 ? RL_MARGIN / rate_per_second : 0;
  b->tat = 0;
  b->last = -1e300;
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
