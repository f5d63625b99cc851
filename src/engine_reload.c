/* engine_reload: validating a script in a scratch state up to its first side effect
 * (`recwatch check`, and a reload before the old script stops), and the reload itself:
 * stop the tasks, then swap the old Lua state for a fresh one running the validated source. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include <lualib.h>
#include "engine_int.h"
#include "log.h"

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
