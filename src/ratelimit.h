/* ratelimit: pacing token buckets (GCRA) keyed by provider and credential; callers reserve
 * the next free slot in FIFO order and wait until it comes, and a request is checked once
 * more at the moment it actually leaves. Pure arithmetic on a clock. */
#ifndef REC_RATELIMIT_H
#define REC_RATELIMIT_H

/* Leave times remembered for the check at departure: rates up to this many per second. */
#define RL_RING 256

typedef struct rl_bucket {
  double interval;  /* seconds between two requests */
  double tat;       /* theoretical arrival time of the next free slot */
  double last;      /* when the last request was (or is committed to be) sent */
  int window_n;     /* requests the server allows per second (floor(rate)); 0: no ring */
  int nsent, head;  /* the last window_n leave times, oldest at head */
  double sent[RL_RING];
} rl_bucket;

/* Margin for jitter: requests are spaced by RL_MARGIN/rate, i.e. 87% of the allowed rate,
 * so N requests span 1.15 s and 150 ms of each one-second window absorb jitter in when they
 * are sent (timers firing late, a connection's set-up) and when they arrive (the network,
 * the server's own scheduling). A busy 2-core host shows up to ~100 ms at the receiver. */
#define RL_MARGIN 1.15

/* How much earlier than its nominal span (window_n intervals after the window_n-th previous
 * departure) a request may leave: 50 ms. The other 100 ms of the margin stay for jitter in
 * arrival times. Departures are late by a connection's set-up (a TLS handshake, a busy
 * host), and a late one makes the next ones look early: a tighter check would refuse (and
 * re-pace) requests for that alone. */
#define RL_LEAVE_SLACK 0.05

/* rate <= 0 means unlimited. */
void rl_init(rl_bucket *b, double rate_per_second);
/* Books the next slot for a caller arriving at now; returns how long it must wait (>= 0). */
double rl_reserve(rl_bucket *b, double now);
/* Called when a reserved slot comes, just before sending: commits the send to
 * max(now, last send + interval) and returns how long to wait still (>= 0). A slot whose
 * timer fired late (the process was descheduled) would otherwise be sent together with the
 * ones after it, and N+1 sends could land within one second of the server's window. */
double rl_commit(rl_bucket *b, double now);
/* Called when the request actually leaves (libcurl's pre-request callback: after the
 * connection is ready, and after any wait in the connection queue). Returns 0 and records
 * the departure, or -1 when sending now would put window_n + 1 departures within
 * window_n * interval - RL_LEAVE_SLACK (1.10 s at the default margin): the caller then books
 * a new slot instead of sending. */
int rl_leave(rl_bucket *b, double now);

#endif
