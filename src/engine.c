/* engine: the engine object and its loop: make it (engine_new_opts), run it (engine_run, with
 * a reload's swap between runs), its status and accessors, the loop's wake-ups (signals,
 * queued finalizers), teardown. Its rooms: tasks (engine_task.c), the Lua state
 * (engine_lua.c), validation and reload (engine_reload.c), the busy guard and signals
 * (engine_guard.c); engine_int.h is what they share. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"
#include "engine_int.h"
#include "http.h"
#include "log.h"
#include "rclock.h"

/* ---- small helpers ---- */

lua_State *engine_lua(engine_t *e) { return e->L; }
uv_loop_t *engine_loop(engine_t *e) { return e->loop; }
rclock_t *engine_clock(engine_t *e) { return e->clock; }
http_client_t *engine_http(engine_t *e) { return e->http; }
config_t *engine_config(engine_t *e) { return &e->cfg; }
int engine_stopping(engine_t *e) { return e->stopping || e->exiting; }
void engine_config_failed(engine_t *e) { e->config_failed = 1; }
double engine_now(engine_t *e) { return rclock_now(e->clock) - e->t0; }

double engine_time(engine_t *e) { return rclock_time(e->clock); }

int engine_is_virtual(engine_t *e) { return rclock_is_virtual(e->clock); }

double engine_random(engine_t *e) {
  return (double)(engine__rng_next(&e->rng) >> 11) / 9007199254740992.0;
}

void engine_timer_init(engine_t *e, rtimer_t *t, rtimer_cb cb, void *data) {
  rtimer_init(e->clock, t, cb, data);
}

void engine_hold(engine_t *e) { e->holds++; }
void engine_release(engine_t *e) { if (e->holds > 0) e->holds--; }

/* The loop side of a signal, and of finalizers queued by __gc. */
static void on_wake(uv_async_t *h) {
  engine_t *e = h->data;
  if (engine__sig_count > 0 && !e->signals) {
    e->signals = 1;
    engine_stop(e, engine__sig_first == SIGINT ? "SIGINT" : "SIGTERM");
  }
  if (e->fin_pending && !e->exiting) {
    e->fin_pending = 0;
    lua_pushcfunction(e->L, engine__run_finalizers);
    engine_spawn(e, e->L, 0);
    lua_pop(e->L, 1);
  }
}

/* ---- life of the engine ---- */

/* Virtual time: time jumps only while this engine has nothing ready, no store job and no
 * request in flight (a request the simulator parked on a virtual timer counts as waiting). */
static int engine_busy(void *ud) {
  engine_t *e = ud;
  if (e->exiting) return e->http && http_busy(e->http) > 0;  /* its ready tasks never run */
  /* queued finalizers are work too: the task that runs them is spawned on the next turn */
  return e->nready > 0 || e->fin_pending || e->holds > 0 || (e->http && http_busy(e->http) > 0);
}

static void on_until(rtimer_t *t) {
  engine_t *e = t->data;
  log_info("virtual time limit reached (%g s)", engine_now(e));
  engine_stop(e, "--until");
}

void engine_set_until(engine_t *e, double seconds) {
  rtimer_unref(&e->until);
  rtimer_start_at(&e->until, e->t0 + seconds);
}

static const engine_hooks no_hooks;

const engine_hooks *engine_get_hooks(engine_t *e) { return e->hooks; }

engine_t *engine_new_opts(const engine_options *o, char *err, size_t errlen) {
  engine_t *e = calloc(1, sizeof *e);
  engine_options none;
  if (!o) {
    memset(&none, 0, sizeof none);
    none.signals = 1;
    o = &none;
  }
  if (!e) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  e->hooks = o->hooks ? o->hooks : &no_hooks;
  e->owns_loop = o->loop == NULL;
  e->loop = o->loop ? o->loop : &e->own_loop;
  if (e->owns_loop && uv_loop_init(e->loop) != 0) {
    snprintf(err, errlen, "cannot start the event loop");
    free(e);
    return NULL;
  }
  e->owns_clock = o->clock == NULL;
  e->clock = o->clock ? o->clock : rclock_new(e->loop, o->virtual_time, 0);
  if (!e->clock) {
    snprintf(err, errlen, "out of memory");
    if (e->owns_loop) uv_loop_close(e->loop);
    free(e);
    return NULL;
  }
  rtimer_init(e->clock, &e->until, on_until, e);
  e->t0 = rclock_now(e->clock);
  uv_idle_init(e->loop, &e->idle);
  e->idle.data = e;
  uv_timer_init(e->loop, &e->deadline);
  e->deadline.data = e;
  uv_unref((uv_handle_t *)&e->deadline);
  e->closing_handles = 2;
  e->rng = o->seed ? o->seed : (uv_hrtime() ^ ((uint64_t)uv_os_getpid() << 32) ^ (uintptr_t)e);
  if (!e->rng) e->rng = 1;
  e->max_busy_ns = 30ull * 1000000000u;
  engine__start_guard_thread();
  e->http = http_client_new(e->loop, NULL);
  if (e->http) http_client_set_clock(e->http, e->clock);
  e->L = lua_newstate(engine__alloc, e);
  if (!e->http || !e->L) {
    snprintf(err, errlen, "cannot start HTTP or Lua");
    engine_free(e);
    return NULL;
  }
  rclock_add_source(e->clock, engine_busy, e);
  if (e->owns_clock) log_set_clock(rclock_time_cb, e->clock);
  config_init(&e->cfg);
  engine__setup_lua(e);
  uv_async_init(e->loop, &e->wake, on_wake);  /* finalizers queued by __gc; signals */
  e->wake.data = e;
  uv_unref((uv_handle_t *)&e->wake);
  e->closing_handles += 1;
  e->with_signals = o->signals;
  if (e->with_signals) engine__signals_take(e);  /* the process's engine, not a test case's */
  engine__open_api(e, e->L);
  return e;
}

/* The status of a run that would end with 0: rec.watch registers "rec.exit_check" (a
 * function of `stopping`) so stale watchers or failing callbacks make it non-zero. */
static int exit_check(engine_t *e) {
  lua_State *L = e->L;
  int code = 0;
  if (lua_getfield(L, LUA_REGISTRYINDEX, "rec.exit_check") == LUA_TFUNCTION) {
    lua_pushboolean(L, e->stopping);
    if (lua_pcall(L, 1, 1, 0) == LUA_OK) {
      if (lua_isinteger(L, -1)) code = (int)(lua_tointeger(L, -1) & 0xff);
    } else {
      log_error("exit check failed: %s", lua_tostring(L, -1));
    }
  }
  lua_pop(L, 1);
  return code;
}

int engine_run(engine_t *e) {
  task_t *t;
  int n = 0;
  uv_run(e->loop, UV_RUN_DEFAULT);
  while (e->reload_pending && !e->exiting) {
    uv_run(e->loop, UV_RUN_NOWAIT);  /* a stop signal that came meanwhile cancels the reload */
    if (!e->reload_pending || e->exiting) break;
    if (engine__swap_state(e) != 0) return 2;
    uv_run(e->loop, UV_RUN_DEFAULT);
  }
  if (e->exiting) return engine__expect_errors(e, e->exit_code);  /* rec.exit(0) too */
  if (e->main_failed) return e->config_failed ? 2 : 1;
  for (t = e->live; t; t = t->next_live) n++;
  if (n > 0 && !e->stopping) {
    /* nothing can wake them: waiting on an event nobody sets, or on each other */
    log_error("%d task(s) still waiting with nothing left that could wake them (a deadlock: "
              "an event never set, or tasks waiting on each other)", n);
    return 1;
  }
  if (e->stopping) log_info("stopped");
  return engine__expect_errors(e, exit_check(e));
}

int engine_busy_kills(engine_t *e) { return e->busy_kills; }
int engine_exit_called(engine_t *e) { return e->exiting && !e->halted; }
unsigned engine_script_errors(engine_t *e) { return e->script_errors; }

int engine_status(engine_t *e) {
  if (e->halted) return e->main_failed ? 1 : 0;  /* like a process the deadline stopped */
  if (e->exiting) return e->exit_code;
  if (e->live || e->timers) return -1;
  if (e->main_failed) return e->config_failed ? 2 : 1;
  return 0;
}

static void close_any(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

static void on_engine_handle_closed(uv_handle_t *h) {
  engine_t *e = h->data;
  if (--e->closing_handles == 0) free(e);
}

void engine_free(engine_t *e) {
  task_t *t;
  if (!e) return;
  engine__stop_timers(e);
  for (t = e->live; t; t = t->next_live) {
    if (t->pending && t->pending != &engine__frozen) t->pending->cancel(t->pending);
    t->pending = NULL;
  }
  if (e->http) http_client_free(e->http);
  e->http = NULL;
  config_free(&e->cfg);
  free(e->reload_src);
  e->reload_src = NULL;
  /* the script's finalizers still queued, and those lua_close runs, run here at once; the
   * watchdog ends a teardown that hangs in one of them */
  e->tearing_down = 1;
  e->fin_deadline = 0;
  if (e->with_signals) engine__wd_arm(4);
  if (e->L) {
    lua_pushcfunction(e->L, engine__run_finalizers);
    if (lua_pcall(e->L, 0, 0, 0) != LUA_OK) lua_pop(e->L, 1);
  }
  if (e->L) lua_close(e->L);  /* __gc of handles may close their timers */
  e->L = NULL;
  if (e->with_signals) engine__signals_release(e);
  if (e->clock) {
    rtimer_stop(&e->until);
    rclock_remove_source(e->clock, e);
    if (e->owns_clock) {
      log_set_clock(NULL, NULL);
      rclock_free(e->clock);
    }
  }
  if (!e->owns_loop) {  /* a shared loop: close our handles; the last one frees e */
    uv_close((uv_handle_t *)&e->idle, on_engine_handle_closed);
    uv_close((uv_handle_t *)&e->deadline, on_engine_handle_closed);
    uv_close((uv_handle_t *)&e->wake, on_engine_handle_closed);
    return;
  }
  uv_walk(e->loop, close_any, NULL);
  uv_run(e->loop, UV_RUN_DEFAULT);
  uv_loop_close(e->loop);
  free(e);
}
