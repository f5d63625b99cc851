/* test_rclock: the engine clock's timer heap fires in deadline order (FIFO among equals),
 * never early in real time; in virtual time it jumps only while every source is idle and a
 * referenced timer is armed, and a parked request does not count as busy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "rclock.h"

typedef struct rec_t {
  rtimer_t t;
  int id;
  double fired_at;
} rec_t;

static int order[64], norder;
static rclock_t *clk;

static void on_fire(rtimer_t *t) {
  rec_t *r = t->data;
  r->fired_at = rclock_now(t->clock);
  order[norder++] = r->id;
}

static void run_to_end(uv_loop_t *loop) {
  uv_run(loop, UV_RUN_DEFAULT);
}

static void close_loop(uv_loop_t *loop, rclock_t *c) {
  rclock_free(c);
  uv_run(loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(loop), 0);
}

static void test_virtual_order_and_jumps(void **state) {
  uv_loop_t loop;
  rec_t r[6];
  static const double at[6] = {30, 10, 20, 10, 0, 3600};
  int i;
  (void)state;
  uv_loop_init(&loop);
  clk = rclock_new(&loop, 1, 1700000000);
  norder = 0;
  for (i = 0; i < 6; i++) {
    rtimer_init(clk, &r[i].t, on_fire, &r[i]);
    r[i].id = i;
    rtimer_start(&r[i].t, at[i]);
  }
  rtimer_stop(&r[2].t);                   /* a stopped timer never fires */
  assert_false(rtimer_active(&r[2].t));
  run_to_end(&loop);
  assert_int_equal(norder, 5);
  assert_int_equal(order[0], 4);          /* 0 s */
  assert_int_equal(order[1], 1);          /* 10 s, started before id 3 */
  assert_int_equal(order[2], 3);
  assert_int_equal(order[3], 0);
  assert_int_equal(order[4], 5);
  assert_true(r[5].fired_at == 3600);
  assert_true(rclock_now(clk) == 3600);
  assert_true(rclock_time(clk) == 1700003600);
  assert_true(rclock_jumps(clk) == 3);    /* to 10, 30 and 3600 s (0 s needs no jump) */
  close_loop(&loop, clk);
}

static int busy_flag;
static int busy(void *ud) {
  (void)ud;
  return busy_flag;
}

static void unbusy(uv_timer_t *h) {
  busy_flag = 0;
  uv_close((uv_handle_t *)h, NULL);
}

static void test_busy_source_holds_time(void **state) {
  uv_loop_t loop;
  uv_timer_t real;
  rec_t a;
  (void)state;
  uv_loop_init(&loop);
  clk = rclock_new(&loop, 1, 0);
  norder = 0;
  busy_flag = 1;
  rclock_add_source(clk, busy, NULL);
  rtimer_init(clk, &a.t, on_fire, &a);
  a.id = 7;
  rtimer_start(&a.t, 100);
  uv_timer_init(&loop, &real);            /* "a transfer" that ends after 20 real ms */
  uv_timer_start(&real, unbusy, 20, 0);
  run_to_end(&loop);
  assert_int_equal(norder, 1);
  assert_true(a.fired_at == 100);
  /* parked requests: the source asks the clock */
  rclock_park(clk, 8080, 40000);
  assert_true(rclock_is_parked(clk, 8080, 40000));
  assert_false(rclock_is_parked(clk, 8080, 40001));
  rclock_unpark(clk, 8080, 40000);
  assert_false(rclock_is_parked(clk, 8080, 40000));
  rclock_remove_source(clk, NULL);
  close_loop(&loop, clk);
}

static void test_unref_timers_do_not_move_time(void **state) {
  uv_loop_t loop;
  rec_t a, b;
  (void)state;
  uv_loop_init(&loop);
  clk = rclock_new(&loop, 1, 0);
  norder = 0;
  rtimer_init(clk, &a.t, on_fire, &a);
  rtimer_init(clk, &b.t, on_fire, &b);
  a.id = 1;
  b.id = 2;
  rtimer_unref(&b.t);
  rtimer_start(&b.t, 5);                  /* like --until: only fires if time gets there */
  rtimer_start(&a.t, 10);
  run_to_end(&loop);
  assert_int_equal(norder, 2);            /* a kept the loop alive past 5 s */
  assert_int_equal(order[0], 2);
  rtimer_start(&b.t, 5);                  /* alone, it does not keep the loop alive */
  run_to_end(&loop);
  assert_int_equal(norder, 2);
  assert_true(rclock_now(clk) == 10);
  rtimer_stop(&b.t);
  close_loop(&loop, clk);
}

static void test_real_never_early(void **state) {
  uv_loop_t loop;
  rec_t r[3];
  int i;
  double t0;
  (void)state;
  uv_loop_init(&loop);
  clk = rclock_new(&loop, 0, 0);
  norder = 0;
  t0 = rclock_now(clk);
  for (i = 0; i < 3; i++) {
    rtimer_init(clk, &r[i].t, on_fire, &r[i]);
    r[i].id = i;
    rtimer_start(&r[i].t, 0.03 - 0.01 * i);
  }
  run_to_end(&loop);
  assert_int_equal(norder, 3);
  assert_int_equal(order[0], 2);
  assert_int_equal(order[2], 0);
  for (i = 0; i < 3; i++) assert_true(r[i].fired_at - t0 >= 0.03 - 0.01 * i);
  assert_false(rclock_is_virtual(clk));
  close_loop(&loop, clk);
}

static rec_t chain[3];
static void on_chain(rtimer_t *t) {
  rec_t *r = t->data;
  on_fire(t);
  if (r->id < 2) rtimer_start(&chain[r->id + 1].t, 0);  /* due now: runs in the next batch */
}

static void test_rearm_from_callback(void **state) {
  uv_loop_t loop;
  int i;
  (void)state;
  uv_loop_init(&loop);
  clk = rclock_new(&loop, 1, 0);
  norder = 0;
  for (i = 0; i < 3; i++) {
    rtimer_init(clk, &chain[i].t, on_chain, &chain[i]);
    chain[i].id = i;
  }
  rtimer_start(&chain[0].t, 42);
  run_to_end(&loop);
  assert_int_equal(norder, 3);
  assert_true(chain[2].fired_at == 42);
  close_loop(&loop, clk);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_virtual_order_and_jumps),
    cmocka_unit_test(test_busy_source_holds_time),
    cmocka_unit_test(test_unref_timers_do_not_move_time),
    cmocka_unit_test(test_real_never_early),
    cmocka_unit_test(test_rearm_from_callback),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
