/* engine_guard: what watches Lua from outside the loop: the busy guard (the monitor thread,
 * its SIGRTMIN+1 signal and the hook it sets), SIGINT/SIGTERM with the shutdown watchdog,
 * and the bound of a call outside any task.
 * Process-wide on purpose: signal handlers and the guard thread see only globals, so the
 * state here is one per process (one guard thread, one engine that takes the signals), not
 * one per engine. Everything else of the engine is per engine. */
#define _GNU_SOURCE  /* sem_clockwait: the guard thread sleeps on the monotonic clock */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <lauxlib.h>
#include "engine_int.h"
#include "log.h"

/* ---- what runs outside the loop's control: signals, the watchdog, bounded calls ----
 * A task stuck in a loop never returns to the loop, so a uv_signal would never be read.
 * The sigaction handler instead sets a hook on the Lua thread that is running (the way
 * lua.c stops a script on ^C), wakes the loop, and arms a watchdog thread that ends the
 * process SHUTDOWN_HARD_S seconds later whatever happens; a second signal exits at once. */
#define SHUTDOWN_HARD_S 8          /* the watchdog: seconds after the stop request */

volatile sig_atomic_t engine__sig_count, engine__sig_first;
static volatile sig_atomic_t wd_reason, wd_gen, wd_armed_gen, wd_posted;
static volatile sig_atomic_t wd_arms;    /* armings so far: the guard thread arms on a change */
lua_State *volatile engine__running_L;   /* the Lua thread executing now, NULL in C */
volatile uint64_t engine__bound_deadline;  /* of the bounded call running, 0 = none */
const char *volatile engine__bound_msg;    /* the error that ends it */
static sem_t wd_sem;
int engine__wd_started;
static engine_t *volatile sig_engine;     /* the engine that takes SIGINT/SIGTERM */

/* ---- max_busy without a hook on every instruction ----
 * A count hook makes Lua 5.4 call luaG_traceexec before every VM instruction, whatever the
 * count: script code ran 2.1x slower with one on every task's thread. So task threads carry
 * no hook. task_resume publishes when the outermost resume began (engine__busy_since) and
 * its limit; a monitor thread looks every tick and, once a resume has run past its limit,
 * signals the loop's thread, whose handler sets a hook with a count of 1 on the running Lua
 * thread (what lua.c does on ^C, and what on_os_signal does). engine__guard_hook then decides
 * as before, on the exact clock. Coroutines a script makes (rare: tasks replace them) keep a
 * count hook of their own, since the monitor only knows the task's thread. */
volatile uint64_t engine__busy_since;      /* uv_hrtime() the outermost resume began, 0 = none */
volatile uint64_t engine__busy_limit;      /* its engine's max_busy_ns, 0 = no limit */
static pthread_t busy_thread;             /* the loop's thread, where Lua runs */
static int busy_signal(void) { return SIGRTMIN + 1; }

static int tostring_k(lua_State *L) {
  luaL_tolstring(L, 1, NULL);
  return 1;
}

/* Pushes a printable form of the value at idx, never raising (a bad __tostring too) and
 * never hanging: a script's __tostring runs on a thread of its own whose hook ends it after
 * CALLBACK_BOUND_NS (the main state has no hook, and no task's max_busy covers it). */
const char *engine__safe_tostring(lua_State *L, int idx) {
  lua_State *th, *prev = engine__running_L;
  uint64_t prev_deadline = engine__bound_deadline;
  const char *prev_msg = engine__bound_msg;
  int ok;
  idx = lua_absindex(L, idx);
  th = lua_newthread(L);
  lua_sethook(th, engine__guard_hook, LUA_MASKCOUNT, 1000);
  lua_pushcfunction(th, tostring_k);
  lua_pushvalue(L, idx);
  lua_xmove(L, th, 1);
  engine__bound_deadline = uv_hrtime() + CALLBACK_BOUND_NS;
  engine__bound_msg = "a callback outside any task ran for more than 1 s";
  engine__running_L = th;
  ok = lua_pcall(th, 1, 1, 0) == LUA_OK && lua_isstring(th, -1);
  engine__running_L = prev;
  engine__bound_deadline = prev_deadline;
  engine__bound_msg = prev_msg;
  if (ok) {
    lua_xmove(th, L, 1);
  } else {
    const char *why = lua_isstring(th, -1) ? lua_tostring(th, -1) : "";
    lua_pushfstring(L, "(error object is a %s value%s%s)", luaL_typename(L, idx),
                    strstr(why, "ran for more than") ? "; its __tostring " : "",
                    strstr(why, "ran for more than") ? "did not finish within 1 s" : "");
  }
  lua_remove(L, -2);  /* the thread */
  return lua_tostring(L, -1);
}

/* A task that runs too long without waiting (an endless loop) blocks every other task and
 * even SIGTERM, which is handled on the loop: it gets an error instead. */
void engine__push_busy_message(lua_State *L, engine_t *e) {
  char msg[160];
  if (e->stop_at && !(e->max_busy_ns && uv_hrtime() - e->resumed_at > e->max_busy_ns))
    snprintf(msg, sizeof msg, "task %u was still running 1 s after the stop request, without "
             "waiting (an endless loop?): ended", e->current->id);
  else
    snprintf(msg, sizeof msg, "task %u ran for more than %g s without waiting (an endless "
             "loop?); rec.configure{max_busy=...} sets the limit", e->current->id,
             (double)e->max_busy_ns / 1e9);
  luaL_where(L, 0);  /* the script's file:line where it was running */
  lua_pushstring(L, msg);
  lua_concat(L, 2);
}

/* Arms the watchdog once (async-signal-safe): the process ends SHUTDOWN_HARD_S from now
 * unless the engine is freed first. */
void engine__wd_arm(int reason) {
  if (!wd_reason) wd_reason = reason;
  if (engine__wd_started && !wd_posted) {
    wd_posted = 1;
    wd_armed_gen = wd_gen;
    wd_arms++;
    sem_post(&wd_sem);  /* the semaphore only wakes the guard thread (see guard_main) */
  }
}

/* The hook a thread carries when nothing is due: a task's thread none (unless a stop was
 * requested), a script's coroutine or a bounded call a count hook. */
static void base_hook(lua_State *L, engine_t *e) {
  task_t *t = engine__task_of(L);
  if (t && t->co == L && !(e && e->stop_at) && engine__wd_started) lua_sethook(L, NULL, 0, 0);
  else lua_sethook(L, engine__guard_hook, LUA_MASKCOUNT, BUSY_CHECK_EVERY);
  /* a signal that came while we looked: its count-1 hook must not be lost to ours */
  if (engine__sig_count > 0 && e && !e->signals)
    lua_sethook(L, engine__guard_hook, LUA_MASKCOUNT, 1);
}

/* The hook of script coroutines and bounded calls, and of task threads when the busy
 * monitor or a signal set it: max_busy, the second after a stop request, a signal the loop
 * has not seen yet, the bound of a callback. */
void engine__guard_hook(lua_State *L, lua_Debug *ar) {
  engine_t *e = engine_of(L);
  task_t *t;
  (void)ar;
  if (engine__sig_count > 0 && e && !e->signals) {
    /* set by the signal handler with a count of 1: give the loop a turn to see it */
    lua_sethook(L, engine__guard_hook, LUA_MASKCOUNT, BUSY_CHECK_EVERY);
    t = engine__task_of(L);
    if (t && t == e->current && t->co == L && lua_isyieldable(L)) {
      lua_yield(L, 0);  /* requeued as a bare yield; it goes on after the loop's turn */
      return;
    }
    /* cannot yield here (a callback outside any task, a C boundary, a plain coroutine):
     * an error is the only way back to the loop */
    luaL_error(L, "interrupted by %s", engine__sig_first == SIGINT ? "SIGINT" : "SIGTERM");
    return;
  }
  if (engine__bound_deadline && !engine__task_of(L) && uv_hrtime() > engine__bound_deadline) {
    luaL_error(L, "%s", engine__bound_msg ? engine__bound_msg : "a bounded call ran out of time");
    return;
  }
  if (!e || !e->current) {
    if (lua_gethookcount(L) == 1) base_hook(L, e);
    return;
  }
  if (!(e->max_busy_ns && uv_hrtime() - e->resumed_at > e->max_busy_ns) &&
      !(e->stop_at && uv_hrtime() - e->stop_at > 1000000000ull)) {
    /* neither max_busy nor the 1 s after a stop request is over (the monitor's signal came
     * as another resume began): back to the usual hook, not one call per instruction */
    if (lua_gethookcount(L) == 1) base_hook(L, e);
    return;
  }
  t = engine__task_of(L);
  if (t == e->current && lua_isyieldable(L)) {
    /* yield out of the loop: no pcall in the script can catch this; the engine ends it */
    t->busy_killed = 1;
    e->busy_kills++;
    lua_yield(L, 0);
    return;
  }
  e->busy_kills++;
  /* a plain coroutine or a C boundary: an error is what is left, and again at every
   * instruction of this thread (a pcall loop around it cannot keep it going); the task
   * itself is ended at its next instruction (a resume or pcall that catches the error
   * keeps it no longer) */
  lua_sethook(L, engine__guard_hook, LUA_MASKCOUNT, 1);
  if (e->current->co && e->current->co != L)
    lua_sethook(e->current->co, engine__guard_hook, LUA_MASKCOUNT, 1);
  engine__push_busy_message(L, e);
  lua_error(L);
}

void engine_cap_max_busy(engine_t *e, double seconds) {
  e->max_busy_cap = seconds > 0 ? seconds : 0;
  if (e->max_busy_cap > 0) engine_set_max_busy(e, e->max_busy_ns ? (double)e->max_busy_ns / 1e9 : 0);
}

void engine_set_max_busy(engine_t *e, double seconds) {
  uint64_t old = e->max_busy_ns;
  /* a test runner's bound (its --timeout): no script lifts it, not even with 0 */
  if (e->max_busy_cap > 0 && (!(seconds > 0) || seconds > e->max_busy_cap)) seconds = e->max_busy_cap;
  if (seconds > 1e9) seconds = 1e9;  /* math.huge: as good as no limit, and no overflow */
  e->max_busy_ns = seconds > 0 ? (uint64_t)(seconds * 1e9) : 0;
  if (e->current) engine__busy_limit = e->max_busy_ns;  /* set from inside a task: it counts now */
  /* a shorter limit: the guard thread's tick follows at once, not after its current sleep
   * (rec.configure runs in a task, so engine__busy_limit already holds it) */
  if (engine__wd_started && e->max_busy_ns && (!old || e->max_busy_ns < old)) sem_post(&wd_sem);
}

static void on_os_signal(int signum) {
  engine_t *e = sig_engine;
  lua_State *run = engine__running_L;
  int saved = errno;
  if (++engine__sig_count > 1) {
    static const char msg[] = "recwatch: second signal: exiting now\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    _exit(128 + signum);
  }
  engine__sig_first = signum;
  /* a running task gives the loop a turn (the hook yields it) so the stop is handled */
  if (run) lua_sethook(run, engine__guard_hook, LUA_MASKCOUNT, 1);
  if (e) uv_async_send(&e->wake);
  engine__wd_arm(signum == SIGINT ? 1 : 2);
  errno = saved;
}

/* The loop's thread: a resume has run past its limit (the monitor checked); hook the Lua
 * thread that is running so engine__guard_hook looks at once. Async-signal-safe, as
 * on_os_signal. */
static void on_busy_signal(int signum) {
  lua_State *run = engine__running_L;
  int saved = errno;
  (void)signum;
  if (run && engine__busy_since) lua_sethook(run, engine__guard_hook, LUA_MASKCOUNT, 1);
  errno = saved;
}

/* The guard thread, one per process: the busy monitor and the shutdown watchdog.
 * - Every tick (a quarter of the limit, 20 ms to 1 s) it looks at the resume in progress
 *   and signals the loop's thread while one runs past its limit (see engine__busy_since).
 * - Armed (engine__wd_arm: sem_post, async-signal-safe), it ends the process SHUTDOWN_HARD_S
 *   later, unless the engine that armed it was freed first (wd_gen moved on).
 * One thread for both: starting a thread costs ~0.6 ms of a 15 ms start-up on a VM. */
static void *guard_main(void *arg) {
  static const char *const why[] = {"", "SIGINT", "SIGTERM", "the stop request",
                                    "the end of the script (finalizers still running)"};
  char msg[200];
  uint64_t fire_at = 0;          /* when the armed watchdog ends the process, 0 = unarmed */
  int gen = 0;                   /* the engine generation that armed it */
  sig_atomic_t arms = 0;         /* armings seen */
  (void)arg;
  for (;;) {
    uint64_t since = engine__busy_since, limit = engine__busy_limit, now = uv_hrtime(), tick, wake;
    struct timespec ts;
    if (since && limit && now > since && now - since > limit) pthread_kill(busy_thread, busy_signal());
    if (fire_at && now >= fire_at) {
      fire_at = 0;
      if (gen == wd_gen) {
        snprintf(msg, sizeof msg, "recwatch: still running %d s after %s (a task or a finalizer "
                 "that never waits?); exiting now\n", SHUTDOWN_HARD_S,
                 why[wd_reason >= 0 && wd_reason <= 4 ? wd_reason : 3]);
        if (write(2, msg, strlen(msg)) < 0) {}
        _exit(1);
      }
    }
    tick = limit ? limit / 4 : 1000000000ull;
    if (tick < 20000000ull) tick = 20000000ull;
    if (tick > 1000000000ull) tick = 1000000000ull;
    wake = now + tick;
    if (fire_at && fire_at < wake) wake = fire_at;
    ts.tv_sec = (time_t)(wake / 1000000000ull);  /* uv_hrtime is CLOCK_MONOTONIC */
    ts.tv_nsec = (long)(wake % 1000000000ull);
    /* woken early: an arming (a newer one wins), or a shorter limit (the next tick) */
    if (sem_clockwait(&wd_sem, CLOCK_MONOTONIC, &ts) == 0 && wd_arms != arms) {
      arms = wd_arms;
      gen = wd_armed_gen;
      fire_at = uv_hrtime() + (uint64_t)SHUTDOWN_HARD_S * 1000000000ull;
    }
  }
  return NULL;
}

/* Once per process, from the loop's thread (the first engine). */
void engine__start_guard_thread(void) {
  pthread_t th;
  pthread_attr_t a;
  sigset_t all, old;
  struct sigaction sa;
  static int tried;
  static const char no_guard[] =
      "cannot start the guard thread: no shutdown watchdog; max_busy by a count hook";
  if (engine__wd_started || tried) return;
  tried = 1;  /* once: a failure is said once, and tasks keep a count hook instead */
  if (sem_init(&wd_sem, 0, 0) != 0) {
    log_warn("%s", no_guard);
    return;
  }
  busy_thread = pthread_self();
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_busy_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(busy_signal(), &sa, NULL);
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);  /* signals go to the loop's thread, not this one */
  pthread_attr_init(&a);
  pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
  if (pthread_create(&th, &a, guard_main, NULL) == 0) engine__wd_started = 1;
  else log_warn("%s", no_guard);
  pthread_attr_destroy(&a);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void install_signals(int on) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on ? on_os_signal : SIG_DFL;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = on ? SA_RESTART : 0;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

/* e is the process's engine: SIGINT/SIGTERM stop it (see on_os_signal). */
void engine__signals_take(engine_t *e) {
  sig_engine = e;
  engine__sig_count = 0;
  wd_reason = 0;
  wd_posted = 0;
  wd_gen++;
  install_signals(1);
}

/* e's teardown finished: the watchdog is disarmed, and the signals are the default again. */
void engine__signals_release(engine_t *e) {
  wd_gen++;
  install_signals(0);
  if (sig_engine == e) sig_engine = NULL;
}
