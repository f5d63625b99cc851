/* ratelimit: pacing for one provider credential against a strict server (a sliding window
 * over arrival times, no burst). Callers book slots in FIFO order (urgent ones in a lane of
 * their own, ahead of the routine queue), and a booked request
 * leaves only once the window of its actual departures allows it; a 429 widens the window
 * and successes narrow it again slowly. Pure arithmetic on a clock. */
#ifndef REC_RATELIMIT_H
#define REC_RATELIMIT_H

/* Departure times remembered for the window: rates up to this many per second. Above it,
 * requests are only spaced (no window). */
#define RL_RING 256

/* The guard: n departures (n = floor(rate)) must span the server's window (n/rate, 1 s for
 * a whole rate) plus RL_GUARD of it, 20 ms at 10/s: 98% of the limit. It is spent on what
 * moves an arrival against its departure stamp: on this 2-core VM the spread of (arrival
 * at the simulator - departure stamp) was at most 4.7 ms with 7 builds running, 8.8 ms
 * with 2 busy loops more, 12.6 ms with 6 (docs/performance.md). Timer lateness (up to
 * ~140 ms under load) is not spent here: a late timer only delays a departure, and the
 * window is counted on actual departures, so a late one never pushes others closer. */
#define RL_GUARD 0.02
/* A 429 widens the window at most once per window (429s to requests that left less than a
 * window after the last widening tell of the old pace, or of one burst of stamps from a
 * stalled server): by RL_STEP of the server's window, or, when the server refused a share
 * f of the replies since the last widening, to w (1 + RL_GUARD) / (1 - f), which matches a
 * server stricter than configured at once. Every other reply narrows the window by
 * RL_STEP / RL_NARROW_N: a widening is spent over ~1,000 requests, so a jitter that needs
 * it costs about one 429 per 1,000. */
#define RL_STEP 0.02
#define RL_NARROW_N 1000
/* The guard never grows past this many windows (a server 16 times stricter than told). */
#define RL_MAX_WIDEN 16.0

typedef struct rl_stamp {
  double t;     /* when the server saw it, at the latest we can tell */
  unsigned id;  /* the departure's number, for rl_arrived */
} rl_stamp;

typedef struct rl_bucket {
  double rate;      /* configured requests per second; 0: unlimited */
  double span;      /* the server's window for window_n requests: window_n / rate */
  double w0, w;     /* window our window_n departures must span: floor, current */
  double interval;  /* spacing of bookings: w / window_n (w0 / rate without a ring) */
  double tat;       /* the next free booking */
  double last;      /* the last commit (departures are kept at least interval/2 apart) */
  double widened_at;  /* the last widening: 429s to requests sent before it are old news */
  int window_n;     /* requests the server allows per window; 0: no ring */
  int pending;      /* committed and not yet departed */
  int nsent;        /* stamps kept: the window_n latest (by stamp) */
  unsigned next_id; /* the next departure's id */
  double rtt_floor; /* the round trip of an unhurried request (a slow-rising minimum); <0: none */
  long throttled;   /* widenings so far */
  long refused, accepted;  /* replies since the last widening: 429s, others */
  double utat;      /* the next free urgent booking */
  int urgent_waiting;  /* urgent requests whose slot came but the window was full */
  rl_stamp sent[RL_RING];
} rl_bucket;

/* rate <= 0 means unlimited. */
void rl_init(rl_bucket *b, double rate_per_second);
/* A new rate for a bucket in use: keeps its bookings, its departures and pending ones, so
 * a reconfiguration never lets a burst through. */
void rl_set_rate(rl_bucket *b, double rate_per_second);
/* Books the next slot for a caller arriving at now; returns how long it must wait (>= 0). */
double rl_reserve(rl_bucket *b, double now);
/* The priority lane: an urgent request (a control call, a query marked urgent) books the
 * next urgent slot (urgent ones are FIFO among themselves), ahead of every routine booking
 * still queued; the routine queue moves back by one interval, so the booked rate stays the
 * same. Returns the wait (>= 0). The window still decides every departure (rl_commit). */
double rl_reserve_urgent(rl_bucket *b, double now);
/* rl_commit for an urgent request. *waiting (0 on the first call) is kept by the caller:
 * while an urgent request waits for the window, routine commits step aside (rl_commit
 * returns a wait), so the next free place in the window is the urgent one's. */
double rl_commit_urgent(rl_bucket *b, double now, int *waiting);
/* An urgent request that was waiting (*waiting set) will not ask again (cancelled). */
void rl_urgent_cancel(rl_bucket *b, int *waiting);
/* Called when a booked slot comes: returns 0 when the request may be sent now (it is then
 * pending until rl_leave or rl_abandon), or how long to wait before asking again: until
 * the window of departures (counting the pending ones) lets one more in. */
double rl_commit(rl_bucket *b, double now);
/* Called when the request actually leaves (libcurl's pre-request callback: after the
 * connection is ready). Stamps the departure and returns its id (>= 0), or returns -1 when
 * window_n stamps already lie within the window less half the guard (a request that went
 * out of turn): the caller then books a new slot instead of sending. Either way it is no
 * longer pending. */
long rl_leave(rl_bucket *b, double now);
/* The reply to departure id came at now, after leaving at left: a reply that took longer
 * than an unhurried one (rtt_floor) tells that the server may have seen the request late (it
 * was stalled, or the request waited on the way), by up to rtt - rtt_floor; the guard covers
 * that much, so the stamp moves to now - rtt_floor - guard when that is later. A
 * stalled server stamps a burst of arrivals at once, and a window later every request
 * paced by departures alone would meet that burst and get a 429 (an echo). */
void rl_arrived(rl_bucket *b, long id, double left, double now);
/* A committed request that will not leave (it failed before departure, or was cancelled). */
void rl_abandon(rl_bucket *b);
/* The server answered 429 to a request that left at departed: widens the window (returns
 * 1), unless it left less than a window after the last widening (returns 0). */
int rl_throttled(rl_bucket *b, double now, double departed);
/* The server answered something else: the window narrows a little, down to its floor. */
void rl_accepted(rl_bucket *b);

#endif
