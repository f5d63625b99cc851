/* ratelimit: pacing token buckets (GCRA) keyed by provider and credential; callers reserve
 * the next free slot in FIFO order and wait until it comes. Pure arithmetic on a clock. */
#ifndef REC_RATELIMIT_H
#define REC_RATELIMIT_H

typedef struct rl_bucket {
  double interval;  /* seconds between two requests */
  double tat;       /* theoretical arrival time of the next free slot */
  double last;      /* when the last request was (or is committed to be) sent */
} rl_bucket;

/* Safety margin: requests are spaced by RL_MARGIN/rate, i.e. 98% of the allowed rate, so
 * jitter never lets N+1 requests land in one second of the server's window. */
#define RL_MARGIN 1.02

/* rate <= 0 means unlimited. */
void rl_init(rl_bucket *b, double rate_per_second);
/* Books the next slot for a caller arriving at now; returns how long it must wait (>= 0). */
double rl_reserve(rl_bucket *b, double now);
/* Called when a reserved slot comes, just before sending: commits the send to
 * max(now, last send + interval) and returns how long to wait still (>= 0). A slot whose
 * timer fired late (the process was descheduled) would otherwise be sent together with the
 * ones after it, and N+1 sends could land within one second of the server's window. */
double rl_commit(rl_bucket *b, double now);

#endif
