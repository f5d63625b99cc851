/* rclock: the engine clock. Monotonic and wall-clock seconds, real or virtual, and one heap of
 * timers: driven by a single uv_timer in real mode, by jumps in virtual mode (time moves to
 * the next deadline only when every registered source of work is idle). */
#ifndef REC_RCLOCK_H
#define REC_RCLOCK_H
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct rclock rclock_t;
typedef struct rtimer rtimer_t;
typedef void (*rtimer_cb)(rtimer_t *t);

/* A timer lives inside its owner's struct: no allocation, no close callback. Initialise it
 * with rtimer_init, then start/stop it any number of times; stop it before freeing it. */
struct rtimer {
  rclock_t *clock;
  rtimer_cb cb;
  void *data;        /* the owner's, untouched by the clock */
  double due;        /* rclock_now seconds */
  uint64_t seq;      /* FIFO order between timers due at the same time */
  size_t slot;       /* heap position + 1; 0 when not armed */
  int unref;         /* 1: an armed timer does not keep the loop alive */
};

/* virtual_time: 0 real, 1 virtual (starting at wall-clock second `wall_start`, or at the
 * current wall-clock second when wall_start <= 0). NULL when out of memory. */
rclock_t *rclock_new(uv_loop_t *loop, int virtual_time, double wall_start);
/* Closes the clock's handles (run the loop afterwards); armed timers are forgotten. */
void rclock_free(rclock_t *c);
int rclock_is_virtual(const rclock_t *c);
/* Monotonic seconds since the clock was made (virtual: since it started, jumps included). */
double rclock_now(const rclock_t *c);
/* Wall-clock Unix seconds (virtual: the start plus rclock_now). */
double rclock_time(const rclock_t *c);
/* Same as rclock_time, for callbacks taking a void * (log timestamps). */
double rclock_time_cb(void *clock);

/* Virtual time only jumps while every source says it is idle. busy() returns nonzero while
 * its owner has work that takes no virtual time (a ready task, a request in flight, a store
 * job). Sources are checked before each jump. */
typedef int (*rclock_busy_fn)(void *ud);
int rclock_add_source(rclock_t *c, rclock_busy_fn busy, void *ud);
void rclock_remove_source(rclock_t *c, void *ud);
/* A request the in-process simulator holds on a virtual timer (delay faults) is waiting, not
 * in flight: the simulator parks it by its TCP ports, the HTTP client asks. */
void rclock_park(rclock_t *c, int server_port, int client_port);
void rclock_unpark(rclock_t *c, int server_port, int client_port);
int rclock_is_parked(const rclock_t *c, int server_port, int client_port);
size_t rclock_parked_count(const rclock_t *c);
/* Virtual mode: how many jumps so far (for tests and benchmarks). */
uint64_t rclock_jumps(const rclock_t *c);

void rtimer_init(rclock_t *c, rtimer_t *t, rtimer_cb cb, void *data);
/* (Re)arms t to fire once after `seconds` (>= 0; huge values are capped). */
void rtimer_start(rtimer_t *t, double seconds);
/* Arms t at an absolute rclock_now time (a repeating timer without drift). */
void rtimer_start_at(rtimer_t *t, double due);
void rtimer_stop(rtimer_t *t);
int rtimer_active(const rtimer_t *t);
/* The timer no longer keeps the loop alive (the simulator's timers, deadlines). */
void rtimer_unref(rtimer_t *t);

#endif
