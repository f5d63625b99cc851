/* retry: backoff delays per class of failure; jitter only lengthens a delay, so "after 3 s"
 * is never sooner than 3 s; a server's Retry-After is honoured when it is longer. */
#include <string.h>
#include "retry.h"

static int set_table(double *t, const double *d, int n) {
  if (n > RETRY_MAX_DELAYS) n = RETRY_MAX_DELAYS;
  if (n < 0) n = 0;
  if (n > 0) memmove(t, d, (size_t)n * sizeof *d);  /* d may be t itself */
  return n;
}

static void set_policy(retry_policy *p, const double *failover, int nf, const double *again,
                       int na) {
  static const double control[] = {3, 6, 9};
  memset(p, 0, sizeof *p);
  p->retries = 3;
  p->ndelays = set_table(p->delays, failover, nf);
  p->nagain = set_table(p->again, again, na);
  p->ncontrol = set_table(p->control, control, 3);
  p->jitter = 0.2;
  p->max_delay = 60;
}

void retry_policy_agora(retry_policy *p) {
  static const double failover[] = {1, 3, 6}, again[] = {3, 6};
  set_policy(p, failover, 3, again, 2);
}

void retry_policy_qingcloud(retry_policy *p) {
  static const double failover[] = {1, 2, 4};
  set_policy(p, failover, 3, failover, 3);  /* QingCloud has no 206: the same table */
}

void retry_policy_set_all(retry_policy *p, const double *delays, int n) {
  p->ndelays = set_table(p->delays, delays, n);
  p->nagain = set_table(p->again, delays, n);
  p->ncontrol = set_table(p->control, delays, n);
}

double retry_delay(const retry_policy *p, retry_class cls, int n, double retry_after, double r) {
  const double *t = cls == RETRY_AGAIN ? p->again : cls == RETRY_CONTROL ? p->control : p->delays;
  int nt = cls == RETRY_AGAIN ? p->nagain : cls == RETRY_CONTROL ? p->ncontrol : p->ndelays;
  double d;
  int i = n - 1;
  if (nt <= 0) return retry_after > 0 ? retry_after : 0;
  if (i < 0) i = 0;
  if (i >= nt) i = nt - 1;
  if (r < 0) r = 0;
  d = t[i] * (1.0 + p->jitter * r);
  if (retry_after > d) d = retry_after;
  if (p->max_delay > 0 && d > p->max_delay) d = p->max_delay;
  return d < 0 ? 0 : d;
}
