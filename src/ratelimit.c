/* ratelimit: GCRA pacing. Slots are handed out strictly in call order, so waiters are FIFO
 * and retries share the same budget as first attempts. */
#include "ratelimit.h"

void rl_init(rl_bucket *b, double rate_per_second) {
  b->interval = rate_per_second > 0 ? RL_MARGIN / rate_per_second : 0;
  b->tat = 0;
}

double rl_reserve(rl_bucket *b, double now) {
  double slot;
  if (b->interval <= 0) return 0;
  slot = b->tat > now ? b->tat : now;
  b->tat = slot + b->interval;
  return slot - now;
}
