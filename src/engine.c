/* engine: the loop and the Lua state; tasks are coroutines pinned while alive, resumed only
 * here (from libuv callbacks or the ready queue); signals, rec.exit and teardown. */
#define _GNU_SOURCE  /* sem_clockwait: the guard thread sleeps on the monotonic clock */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <lauxlib.h>
#include <lualib.h>
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

double engine_random(engine_t *e) { return (double)(engine__rng_next(&e->rng) >> 11) / 9007199254740992.0; }

void engine_timer_init(engine_t *e, rtimer_t *t, rtimer_cb cb, void *data) {
  rtimer_init(e->clock, t, cb, data);
}

void engine_hold(engine_t *e) { e->holds++; }
void engine_release(engine_t *e) { if (e->holds > 0) e->holds--; }


/* ---- coroutines a script makes ----
 * Task threads carry no hook (the busy monitor watches them), so a coroutine made from one
 * would inherit none: these give it engine__guard_hook's count hook, as every thread had before.
 * coroutine.create is small enough to be ours; coroutine.wrap is Lua's own, called while
 * the calling thread carries the hook its new thread inherits. The original wrap is kept in
 * the registry, not as an upvalue debug.getupvalue would hand out. */
static const char wrap_key = 0;

static int l_co_create(lua_State *L) {
  lua_State *co;
  luaL_checktype(L, 1, LUA_TFUNCTION);
  co = lua_newthread(L);
  lua_sethook(co, engine__guard_hook, LUA_MASKCOUNT, BUSY_CHECK_EVERY);
  lua_pushvalue(L, 1);
  lua_xmove(L, co, 1);
  return 1;
}

static int l_co_wrap(lua_State *L) {
  lua_Hook h = lua_gethook(L);
  int mask = lua_gethookmask(L), count = lua_gethookcount(L), st;
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_settop(L, 1);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &wrap_key);
  lua_insert(L, 1);
  lua_sethook(L, engine__guard_hook, LUA_MASKCOUNT, BUSY_CHECK_EVERY);
  st = lua_pcall(L, 1, 1, 0);  /* only memory can fail */
  lua_sethook(L, h, mask, count);
  if (engine__sig_count > 0) lua_sethook(L, engine__guard_hook, LUA_MASKCOUNT, 1);  /* one that came meanwhile */
  return st == LUA_OK ? 1 : lua_error(L);
}

/* os.exit(code, true) closes the state from inside a task, then exits: nothing may point at
 * its threads any more (the guard thread's signal would set a hook on freed memory). */
static const char exit_key = 0;

static int call_named(lua_State *L, const char *name);

static int l_os_exit(lua_State *L) {
  engine_t *e = engine_of(L);
  int code = lua_isboolean(L, 1) ? !lua_toboolean(L, 1) : (int)(luaL_optinteger(L, 1, 0) & 0xff);
  if (e && !e->owns_loop) {
    /* an engine on a shared loop (`recwatch test`) does not own the process: os.exit ends
     * this engine only, as rec.exit does, and its status is the result (p:exited()) */
    return engine_lua_exit(e, L, code);
  }
  if (e && code == 0 && (code = engine__expect_errors(e, 0)) != 0) {  /* os.exit(0) after a task error */
    lua_pushinteger(L, code);
    lua_replace(L, 1);
  }
  lua_rawgetp(L, LUA_REGISTRYINDEX, &exit_key);
  lua_insert(L, 1);
  if (lua_toboolean(L, 3)) {  /* it will close the state */
    engine__running_L = NULL;
    engine__busy_since = 0;
  }
  return call_named(L, "exit");
}

static void hook_script_coroutines(lua_State *L) {
  lua_getglobal(L, "os");
  lua_getfield(L, -1, "exit");
  lua_rawsetp(L, LUA_REGISTRYINDEX, &exit_key);
  lua_pushcfunction(L, l_os_exit);
  lua_setfield(L, -2, "exit");
  lua_pop(L, 1);
  lua_getglobal(L, "coroutine");
  lua_pushcfunction(L, l_co_create);
  lua_setfield(L, -2, "create");
  lua_getfield(L, -1, "wrap");
  lua_rawsetp(L, LUA_REGISTRYINDEX, &wrap_key);
  lua_pushcfunction(L, l_co_wrap);
  lua_setfield(L, -2, "wrap");
  lua_pop(L, 1);
}

#define FINQ_KEY "rec.finq"
static unsigned fin_cut_total;            /* finalizers ended by their bound at teardown */

/* ---- the script's finalizers ----
 * Lua runs __gc with hooks off, inside whatever allocation triggered the collection: an
 * endless loop there would freeze everything, and nothing could stop it. So setmetatable
 * wraps a Lua __gc in gc_proxy, which only queues (function, object); a task then runs the
 * queue under max_busy like any code. During teardown they run at once (call_finalizer
 * says what bounds that). */
static void call_finalizer(lua_State *L, engine_t *e);

static int gc_proxy(lua_State *L) {
  engine_t *e = engine_of(L);
  int n;
  if (!e || e->tearing_down) {
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, 1);
    call_finalizer(L, e);
    return 0;
  }
  if (lua_getfield(L, LUA_REGISTRYINDEX, FINQ_KEY) != LUA_TTABLE) {
    lua_pop(L, 1);
    return 0;
  }
  n = (int)lua_rawlen(L, -1);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_rawseti(L, -2, n + 1);
  lua_pushvalue(L, 1);  /* the object lives on until its finalizer has run */
  lua_rawseti(L, -2, n + 2);
  lua_pop(L, 1);
  if (!e->fin_pending) {
    e->fin_pending = 1;
    uv_async_send(&e->wake);
  }
  return 0;
}

/* setmetatable(t, mt): as Lua's, with mt.__gc (a Lua function) wrapped by gc_proxy first. */
static int l_setmetatable(lua_State *L) {
  if (lua_type(L, 2) == LUA_TTABLE) {  /* raw, as Lua itself looks the field up */
    lua_pushliteral(L, "__gc");
    if (lua_rawget(L, 2) == LUA_TFUNCTION && !lua_iscfunction(L, -1)) {
      lua_pushcclosure(L, gc_proxy, 1);
      lua_pushliteral(L, "__gc");
      lua_insert(L, -2);
      lua_rawset(L, 2);
    } else {
      lua_pop(L, 1);
    }
  }
  lua_settop(L, 2);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, 2, 1);
  return 1;
}

static void install_gc_queue(lua_State *L) {
  lua_newtable(L);
  lua_setfield(L, LUA_REGISTRYINDEX, FINQ_KEY);
  lua_getglobal(L, "setmetatable");
  lua_pushcclosure(L, l_setmetatable, 1);
  lua_setglobal(L, "setmetatable");
}

/* At teardown (engine_free, a reload's swap) no task runs the finalizers, and Lua runs those
 * of lua_close with hooks off on the thread that closes. In a process of its own the
 * shutdown watchdog (8 s) and a second signal bound that. An engine on a shared loop (`recwatch
 * test`) must not end the process: there each finalizer runs on a fresh thread of its own
 * (Lua 5.4 keeps allowhook per thread), with engine__guard_hook's count hook and a deadline shared by
 * the whole teardown: max_busy (2 s under `recwatch test`), else 1 s. One that runs past it
 * is ended, logged and counted (engine_finalizers_cut). Pops the function and the object on
 * top of L. */
static void call_finalizer(lua_State *L, engine_t *e) {
  lua_State *th, *prev = engine__running_L;
  uint64_t prev_deadline = engine__bound_deadline;
  const char *prev_msg = engine__bound_msg;
  int st;
  if (!e || !e->tearing_down || e->owns_loop) {  /* in a task, max_busy covers it */
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
      log_warn("a finalizer (__gc) failed: %s",
               lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "(not a string)");
      lua_pop(L, 1);
    }
    return;
  }
  if (!e->fin_deadline)
    e->fin_deadline = uv_hrtime() + (e->max_busy_ns ? e->max_busy_ns : CALLBACK_BOUND_NS);
  th = lua_newthread(L);
  lua_insert(L, -3);
  lua_xmove(L, th, 2);
  lua_sethook(th, engine__guard_hook, LUA_MASKCOUNT, 1000);
  engine__bound_deadline = e->fin_deadline;
  engine__bound_msg = "a finalizer (__gc) still ran when the script's teardown ran out of time "
              "(max_busy)";
  engine__running_L = th;
  st = lua_pcall(th, 1, 0, 0);
  engine__running_L = prev;
  engine__bound_deadline = prev_deadline;
  engine__bound_msg = prev_msg;
  if (st != LUA_OK) {
    const char *why = lua_type(th, -1) == LUA_TSTRING ? lua_tostring(th, -1) : "(not a string)";
    if (strstr(why, "teardown ran out of time")) fin_cut_total++;
    log_warn("a finalizer (__gc) failed: %s", why);
  }
  lua_pop(L, 1);  /* the thread */
}

unsigned engine_finalizers_cut(void) { return fin_cut_total; }

/* Runs every queued finalizer (a task's body, or directly at teardown); a failing or
 * endless one (max_busy, or the teardown's bound) is logged and the next one runs. */
int engine__run_finalizers(lua_State *L) {
  engine_t *e = engine_of(L);
  int i, n;
  for (;;) {
    if (lua_getfield(L, LUA_REGISTRYINDEX, FINQ_KEY) != LUA_TTABLE) return 0;
    n = (int)lua_rawlen(L, -1);
    if (n == 0) return 0;
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, FINQ_KEY);
    for (i = 1; i + 1 <= n; i += 2) {
      lua_rawgeti(L, -1, i);
      lua_rawgeti(L, -2, i + 1);
      if (e && e->current) engine__busy_since = e->resumed_at = uv_hrtime();  /* each its own max_busy */
      call_finalizer(L, e);
    }
    lua_pop(L, 1);
  }
}

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

static void warnf(void *ud, const char *msg, int tocont) {
  engine_t *e = ud;
  if (e->warnlen == 0 && !tocont && msg[0] == '@') return;  /* control message */
  e->warnlen += (size_t)snprintf(e->warnbuf + e->warnlen, sizeof e->warnbuf - e->warnlen, "%s", msg);
  if (e->warnlen >= sizeof e->warnbuf) e->warnlen = sizeof e->warnbuf - 1;
  if (!tocont) {
    log_warn("lua warning: %s", e->warnbuf);
    e->warnlen = 0;
  }
}

void *engine__alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  (void)ud;
  (void)osize;
  if (nsize == 0) {
    free(ptr);
    return NULL;
  }
  return realloc(ptr, nsize);
}

int engine__panic(lua_State *L) {
  const char *msg = lua_tostring(L, -1);
  log_error("unprotected error in Lua: %s", msg ? msg : "(not a string)");
  return 0;  /* then abort() */
}

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

/* Calls the original library function at 1 with the arguments above it. Called from here
 * it has no name of its own ("bad argument #1 to '?'"): its error gets the script's name
 * for it back. */
static int call_named(lua_State *L, const char *name) {
  if (lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0) != LUA_OK) {
    if (lua_type(L, -1) == LUA_TSTRING) {
      char to[48];
      snprintf(to, sizeof to, "to '%s'", name);
      luaL_gsub(L, lua_tostring(L, -1), "to '?'", to);
    }
    return lua_error(L);
  }
  return lua_gettop(L);
}

/* In virtual time os.time() and os.date() without a time follow the engine clock too. */
static int l_os_time(lua_State *L) {
  engine_t *e = lua_touserdata(L, lua_upvalueindex(2));
  if (lua_isnoneornil(L, 1)) {
    lua_pushinteger(L, (lua_Integer)engine__time(e));
    return 1;
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  return call_named(L, "time");
}

static int l_os_date(lua_State *L) {
  engine_t *e = lua_touserdata(L, lua_upvalueindex(2));
  int n = lua_gettop(L);
  if (n < 2 || lua_isnil(L, 2)) {
    if (n == 0) lua_pushstring(L, "%c");
    lua_settop(L, 1);
    lua_pushinteger(L, (lua_Integer)engine__time(e));
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  return call_named(L, "date");
}

static void virtual_os(lua_State *L, engine_t *e) {
  lua_getglobal(L, "os");
  lua_getfield(L, -1, "time");
  lua_pushlightuserdata(L, e);
  lua_pushcclosure(L, l_os_time, 2);
  lua_setfield(L, -2, "time");
  lua_getfield(L, -1, "date");
  lua_pushlightuserdata(L, e);
  lua_pushcclosure(L, l_os_date, 2);
  lua_setfield(L, -2, "date");
  lua_pop(L, 1);
}

/* collectgarbage, wrapped: a script that picks the collector's mode or pacing keeps it
 * (tune_gc stands aside from then on). Upvalues: Lua's collectgarbage, the engine. */
static int l_collectgarbage(lua_State *L) {
  static const char *const sets[] = {"incremental", "generational", "setpause", "setstepmul"};
  const char *opt = lua_type(L, 1) == LUA_TSTRING ? lua_tostring(L, 1) : NULL;
  size_t i;
  for (i = 0; opt && i < sizeof sets / sizeof sets[0]; i++)
    if (strcmp(opt, sets[i]) == 0) ((engine_t *)lua_touserdata(L, lua_upvalueindex(2)))->gc_user = 1;
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  return call_named(L, "collectgarbage");
}

/* What every Lua state of the engine gets before rec is opened in it (engine_new and a
 * reload's fresh state). */
/* registry["rec.note_error"](): a library that catches a script's error and only logs it
 * (watch.lua's callbacks) counts it here, as a failed task counts (see engine__expect_errors). */
static int l_note_error(lua_State *L) {
  engine_t *e = engine_of(L);
  if (e) e->script_errors++;
  return 0;
}

void engine__setup_lua(engine_t *e) {
  lua_atpanic(e->L, engine__panic);
  lua_setwarnf(e->L, warnf, e);
  *(task_t **)lua_getextraspace(e->L) = NULL;
  luaL_openlibs(e->L);
  hook_script_coroutines(e->L);
  /* The collector's pacing: see tune_gc. */
  e->gc_pause = GC_PAUSE_SMALL;
  e->gc_user = 0;
  lua_gc(e->L, LUA_GCINC, GC_PAUSE_SMALL, GC_STEPMUL_SMALL, 0);
  lua_getglobal(e->L, "collectgarbage");
  lua_pushlightuserdata(e->L, e);
  lua_pushcclosure(e->L, l_collectgarbage, 2);
  lua_setglobal(e->L, "collectgarbage");
  lua_getglobal(e->L, "math");  /* math.random draws from the engine's seed */
  lua_getfield(e->L, -1, "randomseed");
  lua_pushinteger(e->L, (lua_Integer)(engine__rng_next(&e->rng) >> 1));
  lua_call(e->L, 1, 0);
  lua_pop(e->L, 1);
  if (rclock_is_virtual(e->clock)) virtual_os(e->L, e);
  engine__register_task_mt(e->L);
  engine__remember_cfnames(e->L);
  install_gc_queue(e->L);
  lua_pushcfunction(e->L, l_note_error);
  lua_setfield(e->L, LUA_REGISTRYINDEX, "rec.note_error");
}

/* The key engine_from_lua reads (lstore.c reads it too). */
#define ENGINE_LUA_KEY "rec.engine"
static const engine_hooks no_hooks;

/* Opens the script API into L, a new Lua state of e, through the hook setup installed. */
void engine__open_api(engine_t *e, lua_State *L) {
  lua_pushlightuserdata(L, e);
  lua_setfield(L, LUA_REGISTRYINDEX, ENGINE_LUA_KEY);
  if (e->hooks->open_api) e->hooks->open_api(L, e);
}

engine_t *engine_from_lua(lua_State *L) {
  engine_t *e;
  lua_getfield(L, LUA_REGISTRYINDEX, ENGINE_LUA_KEY);
  e = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return e;
}

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

static int load_module_main(lua_State *L) {
  lua_getglobal(L, "require");
  lua_pushvalue(L, 1);
  lua_call(L, 1, 1);
  return 1;
}

int engine_check_file(engine_t *e, const char *path, char *err, size_t errlen) {
  if (luaL_loadfilex(e->L, path, "t") != LUA_OK) {
    snprintf(err, errlen, "%s", lua_tostring(e->L, -1));
    lua_pop(e->L, 1);
    return -1;
  }
  lua_pop(e->L, 1);
  return 0;
}

/* The global `arg`: the script's path at 0, its arguments from 1 (the main state and the
 * validation's scratch state alike). */
void engine__set_arg(lua_State *L, const char *path, int argc, char **argv) {
  int i;
  lua_createtable(L, argc, 1);
  lua_pushstring(L, path);
  lua_rawseti(L, -2, 0);
  for (i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i + 1);
  }
  lua_setglobal(L, "arg");
}

/* engine_load_main; with src != NULL the script's source is src (a reload runs what it
 * validated), not the file. */
int engine__load_main(engine_t *e, const char *path, const char *module, const char *src,
                     size_t srclen, int argc, char **argv, char *err, size_t errlen) {
  lua_State *L = e->L;
  int i;
  task_t *t;
  engine__set_arg(L, path, argc, argv);
  if (module) {
    lua_pushcfunction(L, load_module_main);
    lua_pushstring(L, module);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
      snprintf(err, errlen, "%s", lua_tostring(L, -1));
      lua_pop(L, 1);
      return 2;
    }
  } else if ((src ? engine__load_source(L, path, src, srclen) : luaL_loadfilex(L, path, "t")) != LUA_OK) {
    snprintf(err, errlen, "%s", lua_tostring(L, -1));
    lua_pop(L, 1);
    return 2;
  } else {
    e->script = path;  /* argv strings live as long as the process */
    e->script_argc = argc;
    e->script_argv = argv;
  }
  for (i = 0; i < argc; i++) lua_pushstring(L, argv[i]);
  t = engine_spawn(e, L, argc);
  t->is_main = 1;
  lua_pop(L, 1);
  return 0;
}

int engine_load_main(engine_t *e, const char *path, const char *module, int argc,
                     char **argv, char *err, size_t errlen) {
  return engine__load_main(e, path, module, NULL, 0, argc, argv, err, errlen);
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

/* RECWATCH_EXPECT_TASK_ERRORS=N (the project's tests/lua/ set it; docs/testing.md): a run
 * that would end 0 ends 1 unless exactly N tasks failed or callbacks raised (a failed assert
 * in a task, a rec.every tick or a watcher callback is otherwise only a log line). */
int engine__expect_errors(engine_t *e, int code) {
  const char *v = getenv("RECWATCH_EXPECT_TASK_ERRORS");
  char *end = NULL;
  unsigned long want;
  if (code != 0 || !v || !*v) return code;
  want = strtoul(v, &end, 10);
  if (*end || want > 1000000) {
    log_error("RECWATCH_EXPECT_TASK_ERRORS=%s: not a count of errors", v);
    return 1;
  }
  if (e->script_errors == want) return 0;
  log_error("kind=task_errors %u task(s) or callback(s) failed, %lu expected "
            "(RECWATCH_EXPECT_TASK_ERRORS): exit status 1", e->script_errors, want);
  return 1;
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

/* ---- reload ---- */

void engine_on_new_state(engine_t *e, void (*fn)(engine_t *e, lua_State *L, void *ud),
                         void *ud) {
  e->on_state = fn;
  e->on_state_ud = ud;
}

/* ---- validation: a script's top level, run in a scratch state up to its first side effect ----
 * What a reload (and `recwatch check`) can know about a script before the running one stops:
 * it compiles, and its top level runs, in a scratch Lua state of its own, until it ends or
 * reaches the first call that would act on the world (start a task, wait, query, open the
 * state file, register a metric, write a file, exit). That call ends the run, as a success:
 * everything before it was checked. rec.configure validates its table there without applying
 * any of it (ENGINE_VALIDATE_KEY), so `rec.configure{ bogus_key = 1 }` is caught, as is an
 * error() or a missing module before the first side effect. Output (print, io.write,
 * rec.log) is swallowed; files may be read, not written. A top level that runs 100 million
 * instructions or 64 MiB without reaching either end fails the validation. */

#define V_MAX_INSTR 100000000L
#define V_HOOK_EVERY 10000
#define V_MAX_MEM ((size_t)64 << 20)

typedef struct vstate {
  size_t used;
  long instr;
  int stopped, runaway;
  char stop_at[96];
  lua_State *main;
} vstate;

static vstate *vstate_of(lua_State *L) {
  void *ud = NULL;
  lua_getallocf(L, &ud);
  return ud;
}

static void *v_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  vstate *v = ud;
  void *p;
  if (!ptr) osize = 0;
  if (nsize == 0) {
    free(ptr);
    v->used -= osize;
    return NULL;
  }
  if (nsize > osize && v->used + (nsize - osize) > V_MAX_MEM) return NULL;
  p = realloc(ptr, nsize);
  if (p) v->used = v->used - osize + nsize;
  return p;
}

/* After a stop (or the instruction budget), every instruction of every thread raises, so
 * no pcall in the script can carry on past it. */
static void v_hook(lua_State *L, lua_Debug *ar) {
  vstate *v = vstate_of(L);
  (void)ar;
  if (!v->stopped && !v->runaway && (v->instr += V_HOOK_EVERY) > V_MAX_INSTR) v->runaway = 1;
  if (v->stopped || v->runaway) {
    lua_sethook(L, v_hook, LUA_MASKCOUNT, 1);
    luaL_error(L, "validation ends here");
  }
}

static int v_stop(lua_State *L) {
  vstate *v = vstate_of(L);
  if (!v->stopped && !v->runaway) {
    v->stopped = 1;
    snprintf(v->stop_at, sizeof v->stop_at, "%s", lua_tostring(L, lua_upvalueindex(1)));
  }
  lua_sethook(L, v_hook, LUA_MASKCOUNT, 1);
  lua_sethook(v->main, v_hook, LUA_MASKCOUNT, 1);
  return luaL_error(L, "validation ends here");
}

static int v_mkstop(lua_State *L) {
  luaL_checkstring(L, 1);
  lua_settop(L, 1);
  lua_pushcclosure(L, v_stop, 1);
  return 1;
}

/* Replaces what acts on the world by v_stop closures, output by no-ops. */
static const char v_sandbox[] =
  "local mkstop = ...\n"
  "local function noop() end\n"
  "local keep = { configure = 1, version = 1, now = 1, time = 1, safe_id = 1, excerpt = 1,\n"
  "               json = 1, crypto = 1, qingcloud = 1, agora = 1, sim = 1 }\n"
  "for k, v in pairs(rec) do\n"
  "  if keep[k] then\n"
  "  elseif k == 'log' then for f in pairs(v) do v[f] = noop end\n"
  "  elseif k == 'secret' then rec[k] = noop\n"
  "  elseif type(v) == 'function' then rec[k] = mkstop('rec.' .. k)\n"
  "  elseif type(v) == 'table' then\n"
  "    for f, g in pairs(v) do\n"
  "      if type(g) == 'function' then v[f] = mkstop('rec.' .. k .. '.' .. f) end\n"
  "    end\n"
  "  end\n"
  "end\n"
  "package.preload['rec.store'] = function() return { open = mkstop('rec.store.open') } end\n"
  "local searchpath = package.searchpath\n"
  "for i = 4, 5 do  -- after preload, recwatch's own modules, Lua files: the C searchers\n"
  "  package.searchers[i] = function(name)\n"
  "    local base = i == 5 and name:match('^[^.]+') or name\n"
  "    if searchpath(base, package.cpath) then mkstop(\"require '\" .. name .. \"' (a C module)\")() end\n"
  "    return '\\n\\tno C module ' .. name\n"
  "  end\n"
  "end\n"
  "package.loadlib = mkstop('package.loadlib')\n"
  "for _, f in ipairs{ 'exit', 'execute', 'remove', 'rename', 'tmpname', 'setlocale' } do\n"
  "  os[f] = mkstop('os.' .. f)\n"
  "end\n"
  "print = noop\n"
  "local function file(name)\n"
  "  local f = {}\n"
  "  function f.write(self) return self end\n"
  "  f.flush, f.setvbuf = f.write, function() return true end\n"
  "  for _, m in ipairs{ 'read', 'lines', 'seek', 'close' } do f[m] = mkstop(name .. ':' .. m) end\n"
  "  return f\n"
  "end\n"
  "local real_open = io.open\n"
  "io.open = function(path, mode)\n"
  "  if mode == nil or (type(mode) == 'string' and mode:sub(1, 1) == 'r' and not mode:find('+', 1, true)) then\n"
  "    return real_open(path, mode)\n"
  "  end\n"
  "  mkstop('io.open for writing')()\n"
  "end\n"
  "io.stdout, io.stderr, io.stdin = file('io.stdout'), file('io.stderr'), file('io.stdin')\n"
  "local stdout = io.stdout\n"
  "io.write = function() return stdout end\n"
  "for _, f in ipairs{ 'read', 'popen', 'output', 'input', 'tmpfile', 'close' } do\n"
  "  io[f] = mkstop('io.' .. f)\n"
  "end\n"
  "debug.sethook = mkstop('debug.sethook')\n"
  "local smt, rawget = setmetatable, rawget\n"
  "setmetatable = function(t, mt)\n"
  "  if type(mt) == 'table' and rawget(mt, '__gc') ~= nil then mkstop('setmetatable with __gc')() end\n"
  "  return smt(t, mt)\n"
  "end\n";

/* 1 when msg starts with a position, "file:line: " (as error() and the compiler write it). */
static int has_position(const char *msg) {
  const char *c = strchr(msg, ':');
  size_t d;
  if (!c || c == msg || memchr(msg, '\n', (size_t)(c - msg))) return 0;
  d = strspn(c + 1, "0123456789");
  return d > 0 && c[1 + d] == ':';
}

/* An error raised from C (rec.configure's) gets the "file:line: " of the script's own frame
 * (the first Lua frame outside recwatch's embedded modules), so a validation error reads like
 * a syntax error. */
static int v_msgh(lua_State *L) {
  lua_Debug ar;
  int level;
  const char *msg = lua_tostring(L, 1);
  if (!msg) msg = luaL_typename(L, 1);  /* the script raised a non-string */
  if (!has_position(msg)) {
    for (level = 1; lua_getstack(L, level, &ar); level++) {
      if (!lua_getinfo(L, "Sl", &ar) || ar.currentline <= 0) continue;
      if (strncmp(ar.short_src, "[recwatch]", 10) == 0) continue;
      lua_pushfstring(L, "%s:%d: %s", ar.short_src, ar.currentline, msg);
      return 1;
    }
  }
  lua_pushstring(L, msg);
  return 1;
}

/* Reads path whole (at most 16 MiB): a malloc'd buffer and its length, or NULL with err. */
static char *read_script(const char *path, size_t *len, char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  char *buf = NULL;
  size_t n = 0, cap = 0;
  if (!f) {
    snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
    return NULL;
  }
  for (;;) {
    size_t r;
    if (n == cap) {
      char *nb;
      if (cap >= ((size_t)16 << 20)) {
        snprintf(err, errlen, "cannot read %s: larger than 16 MiB", path);
        goto fail;
      }
      cap = cap ? cap * 2 : 65536;
      if (!(nb = realloc(buf, cap + 1))) {
        snprintf(err, errlen, "cannot read %s: out of memory", path);
        goto fail;
      }
      buf = nb;
    }
    r = fread(buf + n, 1, cap - n, f);
    n += r;
    if (r == 0) break;
  }
  if (ferror(f)) {
    snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
    goto fail;
  }
  fclose(f);
  buf[n] = 0;
  *len = n;
  return buf;
fail:
  fclose(f);
  free(buf);
  return NULL;
}

/* Compiles a script's source the way luaL_loadfilex compiles its file: "@path" as the chunk
 * name, a UTF-8 byte-order mark and a first line starting with '#' skipped (its newline kept,
 * so line numbers stay), text only. */
int engine__load_source(lua_State *L, const char *path, const char *src, size_t len) {
  int st;
  if (len >= 3 && memcmp(src, "\xEF\xBB\xBF", 3) == 0) src += 3, len -= 3;
  if (len > 0 && src[0] == '#') {
    while (len > 0 && *src != '\n') src++, len--;
  }
  lua_pushfstring(L, "@%s", path);
  st = luaL_loadbufferx(L, src, len, lua_tostring(L, -1), "t");
  lua_remove(L, -2);
  return st;
}

static int validate_source(engine_t *e, const char *path, const char *src, size_t len,
                           int argc, char **argv, char *err, size_t errlen) {
  vstate v;
  lua_State *S;
  int i, st, rc = 0;
  memset(&v, 0, sizeof v);
  if (!(S = lua_newstate(v_alloc, &v))) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  v.main = S;
  lua_atpanic(S, engine__panic);
  *(task_t **)lua_getextraspace(S) = NULL;
  luaL_openlibs(S);
  engine__open_api(e, S);
  lua_pushboolean(S, 1);  /* before the hook: it can tell a scratch state from a real one */
  lua_setfield(S, LUA_REGISTRYINDEX, ENGINE_VALIDATE_KEY);
  if (e->on_state) e->on_state(e, S, e->on_state_ud);  /* rec.sim */
  if (luaL_loadbufferx(S, v_sandbox, sizeof v_sandbox - 1, "=[validation]", "t") != LUA_OK) {
    snprintf(err, errlen, "validation: %s", lua_tostring(S, -1));
    lua_close(S);
    return -1;
  }
  lua_pushcfunction(S, v_mkstop);
  if (lua_pcall(S, 1, 0, 0) != LUA_OK) {
    snprintf(err, errlen, "validation: %s", lua_tostring(S, -1));
    lua_close(S);
    return -1;
  }
  engine__set_arg(S, path, argc, argv);
  lua_pushcfunction(S, v_msgh);
  if (engine__load_source(S, path, src, len) != LUA_OK) {
    snprintf(err, errlen, "%s", lua_tostring(S, -1));
    lua_close(S);
    return -1;
  }
  for (i = 0; i < argc; i++) lua_pushstring(S, argv[i]);
  lua_sethook(S, v_hook, LUA_MASKCOUNT, V_HOOK_EVERY);
  st = lua_pcall(S, argc, 0, 1);
  if (v.runaway) {
    snprintf(err, errlen, "%s: its top level ran %ld million instructions without ending or "
             "reaching a side effect (an endless loop?)", path, V_MAX_INSTR / 1000000);
    rc = -1;
  } else if (st == LUA_ERRMEM && !v.stopped) {
    snprintf(err, errlen, "%s: its top level needed more than %d MiB", path,
             (int)(V_MAX_MEM >> 20));
    rc = -1;
  } else if (st != LUA_OK && !v.stopped) {
    const char *m = lua_tostring(S, -1);
    snprintf(err, errlen, "%s", m ? m : "(an error that is not a string)");
    rc = -1;
  } else if (v.stopped) {
    log_debug("validation of %s: checked up to its first side effect (%s)", path, v.stop_at);
  }
  lua_sethook(S, NULL, 0, 0);
  lua_close(S);
  return rc;
}

int engine_check_script(engine_t *e, const char *path, int argc, char **argv, char *err,
                        size_t errlen) {
  size_t len = 0;
  char *src = read_script(path, &len, err, errlen);
  int rc;
  if (!src) return -1;
  rc = validate_source(e, path, src, len, argc, argv, err, errlen);
  free(src);
  return rc;
}

int engine_reloading(engine_t *e) { return e->reload_pending || e->reload_verdict; }

int engine_reload(engine_t *e, char *err, size_t errlen) {
  size_t len = 0;
  char *src;
  if (!e->script) {
    snprintf(err, errlen, "only a script run with `recwatch run` can be reloaded");
    return -1;
  }
  if (e->stopping || e->exiting || e->reload_pending) {
    snprintf(err, errlen, "the script is already stopping or reloading");
    return -1;
  }
  if (!(src = read_script(e->script, &len, err, errlen))) return -1;
  if (len == 0) {  /* valid Lua that would end the service: a file caught while being written */
    snprintf(err, errlen, "%s is empty (still being written? write the new version to another "
             "file and rename it into place)", e->script);
    free(src);
    return -1;
  }
  if (validate_source(e, e->script, src, len, e->script_argc, e->script_argv, err, errlen)) {
    free(src);
    return -1;
  }
  free(e->reload_src);  /* what was validated is what runs, even if the file changes now */
  e->reload_src = src;
  e->reload_len = len;
  e->reload_pending = 1;
  engine_stop(e, "reload");
  return 0;
}

/* The old tasks have ended (or had 1 s to): drop the old state, start the script in a
 * fresh one. Store handles close with the old state, so the state file and its lock are
 * free for the new script; secrets stay registered (log.c keeps them). */
int engine__swap_state(engine_t *e) {
  char err[1024];
  task_t *t;
  e->reload_pending = 0;
  uv_timer_stop(&e->deadline);
  for (t = e->live; t; t = t->next_live) {
    if (t->pending && t->pending != &engine__frozen) t->pending->cancel(t->pending);
    t->pending = NULL;
  }
  if (e->live) log_warn("reload: %u task(s) had not ended; dropped", engine_task_count(e));
  e->live = NULL;
  e->ready_head = e->ready_tail = NULL;
  e->nready = 0;
  e->current = NULL;
  uv_idle_stop(&e->idle);
  e->tearing_down = 1;  /* the old state's finalizers run now, not queued into it */
  e->fin_deadline = 0;
  lua_pushcfunction(e->L, engine__run_finalizers);
  if (lua_pcall(e->L, 0, 0, 0) != LUA_OK) lua_pop(e->L, 1);
  lua_close(e->L);
  e->tearing_down = 0;
  e->stop_at = 0;
  e->fin_pending = 0;
  e->stopping = e->signals = e->main_failed = e->config_failed = 0;
  if (!(e->L = lua_newstate(engine__alloc, e))) {
    log_error("reload: out of memory");
    return -1;
  }
  engine__setup_lua(e);
  engine__open_api(e, e->L);
  if (e->on_state) e->on_state(e, e->L, e->on_state_ud);
  if (engine__load_main(e, e->script, NULL, e->reload_src, e->reload_len, e->script_argc,
                e->script_argv, err, sizeof err)) {
    log_error("reload: %s", err);
    return -1;
  }
  e->reload_verdict = 1;
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
