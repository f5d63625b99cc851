/* test_ratelimit: bookings are FIFO and spaced by w/n; a request leaves only when the window
 * of actual departures (and the pending ones) allows it, so late timers neither break the
 * server's window nor slow the pace for good; 429s widen the window, successes narrow it. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "ratelimit.h"

#define EPS 1e-9

static void test_reserve_spacing(void **state) {
  rl_bucket b;
  double iv = (1 + RL_GUARD) / 10;
  (void)state;
  rl_init(&b, 10);
  assert_int_equal(b.window_n, 10);
  assert_true(fabs(b.span - 1.0) < EPS && fabs(b.w - (1 + RL_GUARD)) < EPS);
  assert_true(rl_reserve(&b, 5.0) < EPS);
  assert_true(fabs(rl_reserve(&b, 5.0) - iv) < EPS);
  assert_true(fabs(rl_reserve(&b, 5.0) - 2 * iv) < EPS);
  /* idle for long: no burst credit, the next one goes at once */
  assert_true(rl_reserve(&b, 100.0) < EPS);
  assert_true(rl_reserve(&b, 100.0) > iv - EPS);
}

static void test_unlimited(void **state) {
  rl_bucket b;
  int i;
  (void)state;
  rl_init(&b, 0);
  assert_true(rl_reserve(&b, 1) == 0 && rl_reserve(&b, 1) == 0);
  assert_true(rl_commit(&b, 1) == 0 && rl_commit(&b, 1) == 0);
  for (i = 0; i < 1000; i++) assert_int_equal(rl_leave(&b, 1.0), 0);
  assert_int_equal(rl_throttled(&b, 1, 1), 0);
}

/* A small event loop: `total` requests all booked at t=0, each timer firing `late(i)` after
 * its due time, leaving `setup` after its commit. Returns the departure times in order. */
static uint64_t rng = 88172645463325252ull;
static double uniform(void) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return (double)(rng >> 11) / 9007199254740992.0;
}

#define MAXREQ 2000
static int drive(rl_bucket *b, int total, double max_late, double setup, double stall_at,
                 double stall, double *dep) {
  double due[MAXREQ];
  int i, ndep = 0, refused = 0;
  for (i = 0; i < total; i++) due[i] = rl_reserve(b, 0.0);
  /* requests are handled in due order; each one's commit loop runs to its departure before
   * the next one's timer (timers fire in order in the engine) */
  for (i = 0; i < total; i++) {
    double now = due[i] + uniform() * max_late, w;
    if (stall > 0 && now >= stall_at && now < stall_at + stall) now = stall_at + stall;
    while ((w = rl_commit(b, now)) > 0) now += w + uniform() * max_late;
    if (rl_leave(b, now + setup) < 0) refused++;
    else dep[ndep++] = now + setup;
  }
  assert_int_equal(refused, 0);
  return ndep;
}

/* every n+1 consecutive departures span at least the window (less RL_EARLY's 1 ms) */
static double tightest(const double *dep, int nd, int n) {
  double m = 1e9;
  int i;
  for (i = n; i < nd; i++)
    if (dep[i] - dep[i - n] < m) m = dep[i] - dep[i - n];
  return m;
}

static void test_paces_at_the_rate_within_the_window(void **state) {
  static double dep[MAXREQ];
  rl_bucket b;
  int nd;
  double rate;
  (void)state;
  /* timers up to 2 ms late, 0.5 ms of connection: >= 97% of the limit, window kept */
  rl_init(&b, 10);
  nd = drive(&b, 600, 0.002, 0.0005, 0, 0, dep);
  rate = (nd - 1) / (dep[nd - 1] - dep[0]);
  print_message("rate %.3f/s, tightest 11 departures %.4f s\n", rate, tightest(dep, nd, 10));
  assert_true(rate >= 9.7 && rate <= 10.0);
  assert_true(tightest(dep, nd, 10) >= 1 + RL_GUARD - 0.0011);
  /* timers up to 40 ms late (a busy host): the window is kept, and lateness does not add
   * up (each late one catches up on its booking): still >= 95% */
  rl_init(&b, 10);
  nd = drive(&b, 600, 0.040, 0.002, 0, 0, dep);
  rate = (nd - 1) / (dep[nd - 1] - dep[0]);
  print_message("busy: rate %.3f/s, tightest %.4f s\n", rate, tightest(dep, nd, 10));
  assert_true(rate >= 9.5 && rate <= 10.0);
  assert_true(tightest(dep, nd, 10) >= 1 + RL_GUARD - 0.0011);
}

static void test_a_stall_is_caught_up_without_a_burst(void **state) {
  static double dep[MAXREQ];
  rl_bucket b;
  int nd, i;
  (void)state;
  /* the process stops for 400 ms at t=10 s: after it, 4-5 late ones go half an interval
   * apart, never n+1 within the window, and the pace is not lost for good */
  rl_init(&b, 10);
  nd = drive(&b, 300, 0.001, 0, 10.0, 0.4, dep);
  assert_true(tightest(dep, nd, 10) >= 1 + RL_GUARD - 0.0011);
  for (i = 1; i < nd; i++) assert_true(dep[i] - dep[i - 1] >= b.interval / 2 - 0.0011);
  assert_true(dep[nd - 1] - dep[0] < 299 * b.interval + 0.4 + 0.3);
}

/* Committed but not yet departed requests count: with 10 in the window, the 11th waits
 * for the oldest departure's window, the 12th (one pending) for the second's. */
static void test_pending_requests_count(void **state) {
  rl_bucket b;
  int i;
  double w;
  (void)state;
  rl_init(&b, 10);
  for (i = 0; i < 10; i++) {
    assert_true(rl_commit(&b, i * 0.1) == 0);
    assert_true(rl_leave(&b, i * 0.1) >= 0);
  }
  w = rl_commit(&b, 1.0);
  assert_true(fabs(w - RL_GUARD) < 1e-6);
  assert_true(rl_commit(&b, 1.0 + RL_GUARD) == 0);  /* pending now */
  w = rl_commit(&b, 1.1);
  assert_true(fabs(w - RL_GUARD) < 1e-6);  /* 0.1 + w: the pending one took the oldest */
  rl_abandon(&b);                          /* it never left */
  assert_true(rl_commit(&b, 1.1) == 0);
  /* a departure out of turn (inside the window less half the guard) is refused */
  rl_init(&b, 2);
  assert_true(rl_leave(&b, 0.0) >= 0);
  assert_true(rl_leave(&b, 0.5) >= 0);
  assert_true(rl_leave(&b, 1.0) == -1);
  assert_true(rl_leave(&b, 1.0 + RL_GUARD) >= 0);
}

static void test_429_widens_once_per_round_and_narrows_slowly(void **state) {
  rl_bucket b;
  int i;
  double w1;
  (void)state;
  rl_init(&b, 10);
  assert_int_equal(rl_throttled(&b, 5.0, 4.9), 1);
  w1 = b.w;
  /* a lone 429: by the guard again, at least RL_STEP of the window */
  assert_true(fabs(w1 - fmax((1 + RL_GUARD) * (1 + RL_GUARD), 1 + RL_GUARD + RL_STEP)) < 1e-9);
  assert_true(fabs(b.interval - w1 / 10) < 1e-9);
  /* requests that left before the widening, or less than a window after it, answer 429
   * too: no second widening */
  assert_int_equal(rl_throttled(&b, 5.1, 4.95), 0);
  assert_int_equal(rl_throttled(&b, 6.0, 5.9), 0);
  assert_true(b.w == w1);
  /* one sent a window after it: widens again, by at least half of what was added so far */
  assert_int_equal(rl_throttled(&b, 6.5, 6.1), 1);
  assert_true(b.w >= w1 + RL_STEP - 1e-9);
  /* lone 429s, one per round: each adds the guard (2%) */
  w1 = b.w;
  for (i = 0; i < 12; i++) rl_throttled(&b, 10.0 + 3 * i, 10.0 + 3 * i);
  assert_true(fabs(b.w - w1 * pow(1 + RL_GUARD, 12)) < 1e-6);
  /* half the replies since the last widening were 429s: the server takes half our pace,
   * so the window doubles at once (with the guard) */
  rl_init(&b, 10);
  rl_throttled(&b, 1, 1);
  for (i = 0; i < 9; i++) {
    rl_accepted(&b);
    assert_int_equal(rl_throttled(&b, 1.5, 1.5), 0);  /* counted, within the window */
  }
  w1 = b.w;
  assert_int_equal(rl_throttled(&b, 3, 3), 1);
  assert_true(fabs(b.w - w1 * (1 + RL_GUARD) / (1 - 10.0 / 19)) < 1e-6);  /* 10 of 19 */
  /* only 429s: at most 10 times per round, and never past RL_MAX_WIDEN windows */
  rl_init(&b, 10);
  for (i = 0; i < 20; i++) rl_throttled(&b, 0.5, 0.5);  /* the first widens by the step */
  w1 = b.w;
  assert_int_equal(rl_throttled(&b, 3, 3), 1);
  assert_true(fabs(b.w - w1 * (1 + RL_GUARD) * 10) < 1e-6);
  for (i = 0; i < 20; i++) rl_throttled(&b, 3.5, 3.5);
  assert_int_equal(rl_throttled(&b, 100, 100), 1);
  assert_true(fabs(b.w - RL_MAX_WIDEN) < 1e-9);
  /* narrowing: one step of the window takes RL_NARROW_N accepted replies */
  rl_init(&b, 10);
  rl_throttled(&b, 1, 1);
  w1 = b.w;
  for (i = 0; i < RL_NARROW_N / 2; i++) rl_accepted(&b);
  assert_true(fabs(b.w - (w1 - RL_STEP / 2)) < 1e-6);
  for (i = 0; i < 2 * RL_NARROW_N; i++) rl_accepted(&b);
  assert_true(fabs(b.w - (1 + RL_GUARD)) < 1e-12);  /* never below the floor */
}

static void test_new_rate_keeps_history(void **state) {
  rl_bucket b;
  int i;
  (void)state;
  rl_init(&b, 10);
  for (i = 0; i < 10; i++) {
    rl_reserve(&b, 0);
    assert_true(rl_commit(&b, i * 0.1) == 0);
    assert_true(rl_leave(&b, i * 0.1) >= 0);
  }
  assert_true(rl_commit(&b, 1.05) == 0);  /* pending across the change */
  rl_set_rate(&b, 5);
  assert_int_equal(b.window_n, 5);
  assert_int_equal(b.nsent, 5);
  assert_int_equal(b.pending, 1);
  assert_true(b.tat > 1.0);
  /* 5 per second: the 5 newest departures (0.5 .. 0.9) and the pending one: wait until
   * the second of them (0.6) is a window old */
  assert_true(fabs(rl_commit(&b, 1.1) - (0.6 + 1 + RL_GUARD - 1.1)) < 1e-6);
  rl_set_rate(&b, 0);
  assert_true(rl_commit(&b, 1.1) == 0);
}

/* A server stalled for 300 ms stamps the requests that came meanwhile all at once; their
 * late replies move their stamps, so the requests a window later wait for them (instead of
 * meeting the burst and getting 429s). Unhurried replies move nothing. */
static void test_slow_replies_move_stamps(void **state) {
  rl_bucket b;
  long id[40];
  int i;
  double w;
  (void)state;
  rl_init(&b, 10);
  for (i = 0; i < 10; i++) {
    assert_true(rl_commit(&b, i * 0.102) == 0);
    id[i] = rl_leave(&b, i * 0.102);
    assert_true(id[i] >= 0);
    /* replies: 1 ms round trips, except 5..7, answered together when the server woke at
     * 0.80 (it stalled from 0.50) */
    rl_arrived(&b, id[i], i * 0.102, i >= 5 && i <= 7 ? 0.801 : i * 0.102 + 0.001);
  }
  /* the 11th waits for the 1st (a window after 0), the 16th for the 6th: not 0.51 + w but
   * the server's 0.80 + w, less the guard (which allows for one late arrival) */
  w = rl_commit(&b, 1.0);
  assert_true(fabs(1.0 + w - (0 + 1 + RL_GUARD)) < 1e-6);
  for (i = 0; i < 5; i++) {
    assert_true(rl_commit(&b, i * 0.102 + 1 + RL_GUARD) == 0);
    assert_true(rl_leave(&b, i * 0.102 + 1 + RL_GUARD) >= 0);
  }
  /* (the floor rose by at most 1 ms per slow reply) */
  w = rl_commit(&b, 5 * 0.102 + 1 + RL_GUARD);
  assert_true(fabs(5 * 0.102 + 1 + RL_GUARD + w - (0.8 + 1)) < 0.0025);
  /* an unknown id, a missing reply, a negative round trip: nothing happens */
  rl_arrived(&b, -1, 0, 1);
  rl_arrived(&b, 123456, 0, 100);
  rl_arrived(&b, id[9], 5, 1);
  /* a reply late by less than the guard moves nothing */
  rl_arrived(&b, id[8], 8 * 0.102, 8 * 0.102 + 0.001 + RL_GUARD * 0.9);
  assert_true(rl_commit(&b, 5 * 0.102 + 1 + RL_GUARD) == w);
}

/* The priority lane: 40 routine requests queued at t=0 (4 s of queue at 10/s), and an urgent
 * one at t=1.5 every 0.7 s after. Each urgent one leaves within about one interval of its
 * asking, well ahead of the routine ones booked before it; every request leaves, and no
 * window of the server's span ever holds more than the limit (the pacing guarantee holds). */
#define PRIO_N 60
typedef struct prio_req {
  double due, asked, left;
  int urgent, waiting, done;
} prio_req;

static void test_urgent_goes_ahead_within_the_rate(void **state) {
  rl_bucket b;
  prio_req q[PRIO_N];
  double deps[PRIO_N];
  int i, n = 0, ndep = 0, nurgent = 0;
  (void)state;
  rl_init(&b, 10);
  for (i = 0; i < 40; i++, n++) {
    memset(&q[n], 0, sizeof q[n]);
    q[n].due = rl_reserve(&b, 0.0);
  }
  for (i = 0; i < PRIO_N - 40; i++, n++) {
    memset(&q[n], 0, sizeof q[n]);
    q[n].urgent = 1;
    q[n].asked = 1.5 + 0.7 * i;
    q[n].due = -1;  /* books when it asks */
  }
  for (;;) {
    int k = -1;
    double now, w;
    /* the next event: an urgent one asking, or a booked slot coming (timers in due order) */
    for (i = 0; i < n; i++) {
      double at = q[i].done ? 1e300 : q[i].due < 0 ? q[i].asked : q[i].due;
      if (at < 1e300 && (k < 0 || at < (q[k].due < 0 ? q[k].asked : q[k].due))) k = i;
    }
    if (k < 0) break;
    if (q[k].due < 0) {
      q[k].due = q[k].asked + rl_reserve_urgent(&b, q[k].asked);
      continue;
    }
    now = q[k].due;
    w = q[k].urgent ? rl_commit_urgent(&b, now, &q[k].waiting) : rl_commit(&b, now);
    if (w > 0) {
      q[k].due = now + w;
      continue;
    }
    assert_true(rl_leave(&b, now) >= 0);
    q[k].left = now;
    q[k].done = 1;
    deps[ndep++] = now;
  }
  assert_int_equal(ndep, PRIO_N);
  assert_int_equal(b.urgent_waiting, 0);
  for (i = 0; i < n; i++) {
    if (!q[i].urgent) continue;
    nurgent++;
    /* at most an interval and the window's rounding after asking, never behind the queue */
    if (q[i].left - q[i].asked > 0.25)
      fail_msg("urgent %d asked at %.3f left at %.3f", i, q[i].asked, q[i].left);
  }
  assert_int_equal(nurgent, PRIO_N - 40);
  /* the routine ones booked before the first urgent one asked still wait behind it */
  assert_true(q[39].left > q[40].left);
  /* no span of 1 s holds more than 10 departures */
  for (i = 0; i + 10 < ndep; i++) {
    double lo = deps[i], hi = deps[i];
    int j;
    for (j = i; j <= i + 10; j++) {
      if (deps[j] < lo) lo = deps[j];
      if (deps[j] > hi) hi = deps[j];
    }
    if (hi - lo < 1.0) fail_msg("11 departures within %.4f s", hi - lo);
  }
}

static void test_urgent_cancel_frees_the_lane(void **state) {
  rl_bucket b;
  int waiting = 0, i;
  (void)state;
  rl_init(&b, 10);
  for (i = 0; i < 10; i++) {  /* a full window */
    assert_true(rl_commit(&b, 0.0 + 0.11 * i) == 0);
    assert_true(rl_leave(&b, 0.0 + 0.11 * i) >= 0);
  }
  assert_true(rl_commit_urgent(&b, 1.0, &waiting) > 0);
  assert_int_equal(waiting, 1);
  /* a routine commit steps aside while the urgent one waits */
  assert_true(rl_commit(&b, 1.05) > 0);
  rl_urgent_cancel(&b, &waiting);
  assert_int_equal(waiting, 0);
  assert_int_equal(b.urgent_waiting, 0);
  rl_urgent_cancel(&b, &waiting);  /* twice is harmless */
  assert_int_equal(b.urgent_waiting, 0);
  assert_true(rl_commit(&b, 2.0) == 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_reserve_spacing),
    cmocka_unit_test(test_urgent_goes_ahead_within_the_rate),
    cmocka_unit_test(test_urgent_cancel_frees_the_lane),
    cmocka_unit_test(test_unlimited),
    cmocka_unit_test(test_paces_at_the_rate_within_the_window),
    cmocka_unit_test(test_a_stall_is_caught_up_without_a_burst),
    cmocka_unit_test(test_pending_requests_count),
    cmocka_unit_test(test_429_widens_once_per_round_and_narrows_slowly),
    cmocka_unit_test(test_new_rate_keeps_history),
    cmocka_unit_test(test_slow_replies_move_stamps),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
