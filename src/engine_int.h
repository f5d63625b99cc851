/* engine_int.h: what the engine's own files share (engine.c, engine_task.c, engine_guard.c,
 * engine_lua.c, engine_reload.c): the engine and task structs, and the names one of them
 * defines for another (prefix engine__). Nothing outside the engine includes it; the public
 * face is engine.h. The files call each other in one direction only (docs/design.md):
 * engine.c -> engine_reload.c -> engine_lua.c -> engine_task.c -> engine_guard.c. */
#ifndef REC_ENGINE_INT_H
#define REC_ENGINE_INT_H
#include <signal.h>
#include <stdint.h>
#include <lauxlib.h>
#include "config.h"
#include "engine.h"
#include "http.h"
#include "rclock.h"

#define TASK_MT "rec.task"
#define BUSY_CHECK_EVERY 1000000  /* VM instructions between two looks at the clock */
#define CALLBACK_BOUND_NS 1000000000ull /* __tostring of an error object: one second */

enum { T_NEW, T_READY, T_RUNNING, T_WAITING, T_DONE };

typedef struct waitnode {
  pending_t base;
  task_t *waiter, *target;
  struct waitnode *next;
} waitnode;

struct task {
  engine_t *e;
  lua_State *co;
  unsigned id;
  int state, cancelled, is_main, ok;
  int busy_killed;              /* max_busy tripped: the hook yielded it to be ended */
  int ready_nargs;
  int self_ref;                 /* pins the handle (and so the thread) while alive */
  pending_t *pending;
  task_t *next_ready;
  task_t *prev_live, *next_live;
  waitnode *waiters;
};

typedef struct tracked_timer {
  void *timer;
  void (*stop)(void *timer);
  struct tracked_timer *next;
} tracked_timer;

struct engine {
  uv_loop_t own_loop;
  uv_loop_t *loop;               /* &own_loop, or a test runner's shared loop */
  rclock_t *clock;               /* own, or shared with the simulator and other engines */
  int owns_loop, owns_clock, with_signals, closing_handles;
  double t0;                     /* rclock_now when the engine started: engine_now's zero */
  uint64_t rng;                  /* the engine's seeded generator (jitter, math.random) */
  int holds;                     /* work outside the loop in progress (store jobs) */
  rtimer_t until;                /* engine_set_until */
  char warnbuf[1024];            /* a Lua warning being assembled */
  size_t warnlen;
  lua_State *L;
  int gc_pause;                  /* the collector's current pause (tune_gc) */
  int gc_user;                   /* the script chose the collector's mode or pacing */
  unsigned gc_ticks;             /* resumes, to look at the heap now and then */
  http_client_t *http;
  config_t cfg;
  uv_idle_t idle;
  uv_async_t wake;               /* from the signal handler and __gc: see on_wake */
  uv_timer_t deadline;
  task_t *ready_head, *ready_tail;
  int nready;
  task_t *live;
  task_t *current;
  tracked_timer *timers;
  unsigned next_id;
  int exit_code, main_failed, config_failed, stopping, exiting, halted, signals;
  int busy_kills;                /* tasks ended by max_busy */
  unsigned script_errors;        /* failed tasks, and errors a library caught (note_error) */
  uint64_t resumed_at;           /* uv_hrtime() when the running task was resumed */
  uint64_t max_busy_ns;          /* how long a task may run without waiting; 0 = no limit */
  double max_busy_cap;           /* engine_cap_max_busy; 0 = none */
  uint64_t stop_at;              /* uv_hrtime() of the stop request, 0 before */
  int fin_pending;               /* script finalizers queued (FINQ_KEY), no task runs them yet */
  int tearing_down;              /* lua_close is running: finalizers run at once */
  uint64_t fin_deadline;         /* uv_hrtime() the teardown's finalizers must end by */
  /* reload: the script to run again, and who to tell about the new state */
  const char *script;
  int script_argc, reload_pending;
  char **script_argv;
  void (*on_state)(engine_t *e, lua_State *L, void *ud);
  void *on_state_ud;
  int reload_verdict;            /* the reloaded script's main task has not run yet */
  char *reload_src;              /* the validated source the reload runs (not the file again) */
  size_t reload_len;
  void (*on_reloaded)(engine_t *e, int ok, void *ud);
  void *on_reloaded_ud;
  const engine_hooks *hooks;     /* what setup installed (engine_options.hooks) */
};

/* The engine of a Lua state: it made the state with itself as the allocator's ud. */
static inline engine_t *engine_of(lua_State *L) {
  void *ud = NULL;
  lua_getallocf(L, &ud);
  return ud;
}

/* engine_task_of, inlined where the engine's own hot paths and hooks call it. */
static inline task_t *engine__task_of(lua_State *L) { return *(task_t **)lua_getextraspace(L); }

/* engine_time, for the engine's own files (os.time in virtual time). */
static inline double engine__time(engine_t *e) { return rclock_time(e->clock); }

static inline uint64_t engine__rng_next(uint64_t *x) {  /* xorshift64* */
  *x ^= *x >> 12;
  *x ^= *x << 25;
  *x ^= *x >> 27;
  return *x * 0x2545F4914F6CDD1DULL;
}

/* The collector's pacing: tune_gc (engine_task.c) after engine__setup_lua set it up. */
#define GC_PAUSE_SMALL 150
#define GC_STEPMUL_SMALL 100  /* Lua's default */
#define GC_PAUSE_LARGE 120
#define GC_STEPMUL_LARGE 400
#define GC_LARGE_KB (12 * 1024)
#define GC_SMALL_KB (6 * 1024)

/* ---- engine_guard.c: process-wide, read by the loop's thread and written from signal
 * handlers and the guard thread ---- */
extern volatile sig_atomic_t engine__sig_count, engine__sig_first;
extern lua_State *volatile engine__running_L;      /* the Lua thread executing now, NULL in C */
extern volatile uint64_t engine__bound_deadline;   /* of the bounded call running, 0 = none */
extern const char *volatile engine__bound_msg;     /* the error that ends it */
extern volatile uint64_t engine__busy_since;       /* uv_hrtime() the outermost resume began */
extern volatile uint64_t engine__busy_limit;       /* its engine's max_busy_ns, 0 = no limit */
extern int engine__wd_started;                     /* the guard thread runs */
void engine__guard_hook(lua_State *L, lua_Debug *ar);
void engine__push_busy_message(lua_State *L, engine_t *e);
void engine__wd_arm(int reason);
const char *engine__safe_tostring(lua_State *L, int idx);
void engine__start_guard_thread(void);
void engine__signals_take(engine_t *e);     /* e takes SIGINT/SIGTERM (engine_new_opts) */
void engine__signals_release(engine_t *e);  /* e's teardown finished (engine_free) */

/* ---- engine_task.c ---- */
extern pending_t engine__frozen;  /* what a task waits on after rec.exit: nothing */
void engine__register_task_mt(lua_State *L);
void engine__remember_cfnames(lua_State *L);
void engine__stop_timers(engine_t *e);

/* ---- engine_lua.c ---- */
void *engine__alloc(void *ud, void *ptr, size_t osize, size_t nsize);
int engine__panic(lua_State *L);
void engine__setup_lua(engine_t *e);
void engine__open_api(engine_t *e, lua_State *L);
int engine__run_finalizers(lua_State *L);
void engine__set_arg(lua_State *L, const char *path, int argc, char **argv);
int engine__load_source(lua_State *L, const char *path, const char *src, size_t len);
int engine__load_main(engine_t *e, const char *path, const char *module, const char *src,
                      size_t srclen, int argc, char **argv, char *err, size_t errlen);
int engine__expect_errors(engine_t *e, int code);

/* ---- engine_reload.c ---- */
int engine__swap_state(engine_t *e);

#endif
