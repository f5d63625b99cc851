/* retry: the backoff policy for retryable failures: one table of delays per class of
 * failure, jitter that only adds, Retry-After. */
#ifndef REC_RETRY_H
#define REC_RETRY_H

#define RETRY_MAX_DELAYS 8

/* What failed decides the table. */
typedef enum {
  RETRY_FAILOVER,  /* a query got no reply (transport) or a 5xx: the next host (Agora) */
  RETRY_AGAIN,     /* Agora's 206 (code 65, "request not completed"): the same request */
  RETRY_CONTROL,   /* a 5xx on a control call (start, stop, update: a later issue) */
  RETRY_NCLASS
} retry_class;

typedef struct retry_policy {
  int retries;                      /* retries after the first attempt */
  double delays[RETRY_MAX_DELAYS];  /* RETRY_FAILOVER: seconds before retry 1, 2, ...; the
                                     * last repeats */
  int ndelays;
  double again[RETRY_MAX_DELAYS];   /* RETRY_AGAIN */
  int nagain;
  double control[RETRY_MAX_DELAYS]; /* RETRY_CONTROL */
  int ncontrol;
  double jitter;                    /* 0.2: up to 20% more, never less */
  double max_delay;                 /* cap, also on Retry-After */
} retry_policy;

/* Agora: failover 1 s, 3 s, 6 s (its documented practice); 206/65 after 3 s, then 6 s;
 * control 5xx 3, 6, 9 s. QingCloud: 1, 2, 4 s for a query; control 3, 6, 9 s. */
void retry_policy_agora(retry_policy *p);
void retry_policy_qingcloud(retry_policy *p);
/* One table for every class (a script's retry_delays); n in 1..RETRY_MAX_DELAYS. */
void retry_policy_set_all(retry_policy *p, const double *delays, int n);
/* Seconds to wait before retry number n (1-based) of class cls: the table's entry plus up to
 * jitter of it; retry_after (seconds, 0 = none) from the server wins when longer; r is a
 * uniform random number in [0,1). */
double retry_delay(const retry_policy *p, retry_class cls, int n, double retry_after, double r);

#endif
