/* engine_lua: the engine's Lua state: allocator, panic and warnings; what every state gets
 * before `rec` is opened in it (coroutine and os.exit wrappers, the finalizer queue, virtual
 * os.time/os.date, collectgarbage, the registry entries); loading the script as the main task;
 * counting and judging the script's errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include <lualib.h>
#include "engine_int.h"
#include "log.h"

/* ---- the state: allocator, panic, warnings ---- */

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
  if (engine__sig_count > 0)  /* one that came meanwhile */
    lua_sethook(L, engine__guard_hook, LUA_MASKCOUNT, 1);
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
  /* os.exit(0) after a task error */
  if (e && code == 0 && (code = engine__expect_errors(e, 0)) != 0) {
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
 * (Lua 5.4 keeps allowhook per thread), with engine__guard_hook's count hook and a deadline
 * shared by the whole teardown: max_busy (2 s under `recwatch test`), else 1 s. One that runs
 * past it is ended, logged and counted (engine_finalizers_cut). Pops the function and the
 * object on top of L. */
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
      if (e && e->current)  /* each its own max_busy */
        engine__busy_since = e->resumed_at = uv_hrtime();
      call_finalizer(L, e);
    }
    lua_pop(L, 1);
  }
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

/* ---- loading the script ---- */

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
  } else if ((src ? engine__load_source(L, path, src, srclen)
                  : luaL_loadfilex(L, path, "t")) != LUA_OK) {
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
