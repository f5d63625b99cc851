/* retry: the backoff policy for retryable failures (delays, jitter, Retry-After). */
#ifndef REC_RETRY_H
#define REC_RETRY_H

#define RETRY_MAX_DELAYS 8

typedef struct retry_policy {
  int retries;                      /* retries after the first attempt */
  double delays[RETRY_MAX_DELAYS];  /* seconds before retry 1, 2, ...; the last repeats */
  int ndelays;
  double jitter;                    /* 0.2 = +/-20% */
  double max_delay;                 /* cap, also on Retry-After */
} retry_policy;

/* Agora's documented practice (1 s, 3 s, 6 s) and a QingCloud default (1, 2, 4). */
void retry_policy_agora(retry_policy *p);
void retry_policy_qingcloud(retry_policy *p);
/* Seconds to wait before retry number n (1-based); retry_after (seconds, 0 = none) from the
 * server wins when longer; r is a uniform random number in [0,1). */
double retry_delay(const retry_policy *p, int n, double retry_after, double r);

#endif
