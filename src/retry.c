/* retry: backoff delays with jitter; a server's Retry-After is honoured when it is longer. */
#include "retry.h"

static void set_delays(retry_policy *p, double a, double b, double c) {
  p->retries = 3;
  p->delays[0] = a;
  p->delays[1] = b;
  p->delays[2] = c;
  p->ndelays = 3;
  p->jitter = 0.2;
  p->max_delay = 60;
}

void retry_policy_agora(retry_policy *p) { set_delays(p, 1, 3, 6); }
void retry_policy_qingcloud(retry_policy *p) { set_delays(p, 1, 2, 4); }

double retry_delay(const retry_policy *p, int n, double retry_after, double r) {
  double d;
  int i = n - 1;
  if (p->ndelays <= 0) return retry_after > 0 ? retry_after : 0;
  if (i < 0) i = 0;
  if (i >= p->ndelays) i = p->ndelays - 1;
  d = p->delays[i] * (1.0 + p->jitter * (2.0 * r - 1.0));
  if (retry_after > d) d = retry_after;
  if (p->max_delay > 0 && d > p->max_delay) d = p->max_delay;
  return d < 0 ? 0 : d;
}
