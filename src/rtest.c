/* rtest: `recwatch test`. A case is one loop, one virtual clock and one in-process simulator
 * shared by the case's own engine (running the case function as its main task) and one
 * engine per script the case starts. Time jumps when all of them wait (rclock.c). */
#define _GNU_SOURCE 1
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "config.h"
#include "log.h"
#include "lrec.h"
#include "rtest.h"
#include "setup.h"

#define CASE_KEY "rec.test.case"
#define PROC_MT "rec.test.process"
#define MAX_BUSY 2.0        /* seconds a task may run without waiting under `recwatch test` */
#define KEEP_LOG_LINES 100000

void rtest_attach_sim(engine_t *e, sim_t *s) {
  sim_info info;
  config_t *cfg = engine_config(e);
  sim_get_info(s, &info);
  config_set_hosts(&cfg->agora, info.base_url, NULL, 0);
  config_set_hosts(&cfg->qc, info.base_url, NULL, 0);
  config_set_credential(&cfg->agora, info.agora_customer_id, info.agora_customer_secret);
  config_set_credential(&cfg->qc, info.qc_access_key_id, info.qc_secret_access_key);
  cfg->agora.locked = cfg->qc.locked = 1;
  {  /* each of the scenario's customers and keys is an account (issue 24) */
    const char *id, *secret;
    size_t i;
    int lim;
    for (i = 0; sim_agora_customer(s, i, &id, &secret, &lim); i++)  /* paced at its limit */
      config_set_account(&cfg->agora, id, secret, lim > 0 ? lim : cfg->agora.rate, 1);
    for (i = 0; sim_qingcloud_key(s, i, &id, &secret); i++)
      config_set_account(&cfg->qc, id, secret, -1, 1);
  }
  lrec_set_sim(engine_lua(e), info.base_url);
}

/* ---- one case ---- */

typedef struct proc {
  engine_t *e;     /* NULL once killed */
  int killed;
  char name[64];   /* the script's file name, for messages */
  unsigned errors, expected;  /* task errors (kept at p:kill()), and opts.task_errors */
  int status;      /* at p:kill(): what it was before (-1 running) */
} proc;

typedef struct tcase {
  uv_loop_t loop;
  rclock_t *clock;
  engine_t *runner;
  sim_t *sim;
  uv_timer_t watchdog;
  uv_check_t ended;        /* notices a case function that ended without reporting */
  const char *file;
  char test_dir[1024];
  char dir[1024];          /* scratch directory */
  char reqlog[1100];
  uint64_t seed;
  unsigned case_errors;    /* t:task_errors(n): the case's own tasks that fail on purpose */
  int verbose, timed_out;
  double timeout;
  proc **procs;
  size_t nprocs;
  log_state *log;
  char **lines;
  size_t nlines, caplines;
  /* outcome */
  int reported, ok, load_failed;
  char *message;
  char **names;            /* list mode */
  size_t nnames;
} tcase;

static tcase *get_case(lua_State *L) {
  tcase *c;
  lua_getfield(L, LUA_REGISTRYINDEX, CASE_KEY);
  c = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return c;
}

static int case_tee(void *ud, log_level level, unsigned task, const char *line) {
  tcase *c = ud;
  static const char *const names[] = {"debug", "info", "warn", "error"};
  char *copy;
  size_t n;
  if (c->nlines < KEEP_LOG_LINES) {
    if (c->nlines == c->caplines) {
      size_t ncap = c->caplines ? 2 * c->caplines : 256;
      char **g = realloc(c->lines, ncap * sizeof *g);
      if (!g) return c->verbose;
      c->lines = g;
      c->caplines = ncap;
    }
    n = strlen(line) + 32;
    if ((copy = malloc(n)) != NULL) {
      if (task) snprintf(copy, n, "%s [task %u] %s", names[level], task, line);
      else snprintf(copy, n, "%s %s", names[level], line);
      c->lines[c->nlines++] = copy;
    }
  }
  return c->verbose;
}

static int start_sim(tcase *c, const char *scenario, char *err, size_t errlen) {
  sim_options so;
  memset(&so, 0, sizeof so);
  so.host = "127.0.0.1";
  so.scenario_path = scenario;
  so.embedded = 1;
  so.clock = c->clock;
  so.log_requests_path = c->reqlog;
  c->sim = sim_start(&c->loop, &so, err, errlen);
  return c->sim ? 0 : -1;
}

static int t_scenario(lua_State *L) {
  tcase *c = get_case(L);
  const char *path = luaL_checkstring(L, 1);
  char err[512];
  if (c->sim) {
    lua_pushnil(L);
    lua_pushstring(L, "the simulator is already running: call t:scenario before t:start");
    return 2;
  }
  if (start_sim(c, path, err, sizeof err) != 0) {
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

static int t_resolve(lua_State *L) {
  tcase *c = get_case(L);
  const char *p = luaL_checkstring(L, 1);
  struct stat st;
  if (p[0] != '/' && c->test_dir[0]) {
    lua_pushfstring(L, "%s/%s", c->test_dir, p);
    if (stat(lua_tostring(L, -1), &st) == 0) return 1;
    lua_pop(L, 1);
  }
  lua_pushstring(L, p);
  return 1;
}

static int t_tmpdir(lua_State *L) {
  lua_pushstring(L, get_case(L)->dir);
  return 1;
}

static int t_request_log(lua_State *L) {
  lua_pushstring(L, get_case(L)->reqlog);
  return 1;
}

/* os.getenv in a script under test: only what the case passed in opts.env. */
static int l_getenv(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  lua_getfield(L, lua_upvalueindex(1), name);
  if (!lua_isstring(L, -1)) lua_pushnil(L);
  return 1;
}

static int t_start(lua_State *L) {
  tcase *c = get_case(L);
  const char *script = luaL_checkstring(L, 1);
  const char *state = luaL_optstring(L, 3, NULL);
  char err[1024];
  setup_options so;
  engine_t *e;
  lua_State *PL;
  proc *p, **grown;
  char **argv;
  int argc, i, rc;
  lua_Integer expected = luaL_optinteger(L, 5, 0);
  luaL_checktype(L, 2, LUA_TTABLE);
  luaL_checktype(L, 4, LUA_TTABLE);
  luaL_argcheck(L, expected >= 0 && expected <= 1000000, 5, "task_errors is a count >= 0");
  argc = (int)lua_rawlen(L, 2);
  for (i = 0; i < argc; i++) {  /* before anything is allocated: a bad one raises */
    if (lua_rawgeti(L, 2, i + 1) != LUA_TSTRING) luaL_error(L, "t:start: argument %d is not a string", i + 1);
    lua_pop(L, 1);
  }
  if (!c->sim && start_sim(c, NULL, err, sizeof err) != 0) {
    lua_pushnil(L);
    lua_pushfstring(L, "cannot start the simulator: %s", err);
    return 2;
  }
  memset(&so, 0, sizeof so);
  so.loop = &c->loop;
  so.clock = c->clock;
  so.seed = c->seed * 1000003u + c->nprocs + 1;
  if (!(e = setup_engine(&so, err, sizeof err))) return luaL_error(L, "%s", err);
  engine_set_max_busy(e, MAX_BUSY);
  engine_cap_max_busy(e, c->timeout);  /* rec.configure{max_busy = 0} cannot hang the runner */
  if (state) engine_config(e)->state_path = strdup(state);
  rtest_attach_sim(e, c->sim);
  setup_sim_events(c->sim);  /* a process's receiver gets the case's simulator's events */
  PL = engine_lua(e);
  lua_getglobal(PL, "os");
  lua_newtable(PL);
  lua_pushnil(L);
  while (lua_next(L, 4)) {
    if (lua_type(L, -2) == LUA_TSTRING && lua_isstring(L, -1)) {
      lua_pushstring(PL, lua_tostring(L, -2));
      lua_pushstring(PL, lua_tostring(L, -1));
      lua_rawset(PL, -3);
    }
    lua_pop(L, 1);
  }
  lua_pushcclosure(PL, l_getenv, 1);
  lua_setfield(PL, -2, "getenv");
  lua_pop(PL, 1);
  argv = calloc((size_t)argc + 1, sizeof *argv);
  p = calloc(1, sizeof *p);
  grown = realloc(c->procs, (c->nprocs + 1) * sizeof *grown);
  if (!argv || !p || !grown) {
    free(argv);
    free(p);
    if (grown) c->procs = grown;
    engine_free(e);
    return luaL_error(L, "out of memory");
  }
  c->procs = grown;
  for (i = 0; i < argc; i++) {
    lua_rawgeti(L, 2, i + 1);
    argv[i] = (char *)lua_tostring(L, -1);  /* checked above; stays referenced by the table */
    lua_pop(L, 1);
  }
  rc = engine_load_main(e, script, NULL, argc, argv, err, sizeof err);
  free(argv);
  if (rc != 0) {
    free(p);
    engine_free(e);
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
  }
  p->e = e;
  p->expected = (unsigned)expected;
  {
    const char *base = strrchr(script, '/');
    snprintf(p->name, sizeof p->name, "%s", base ? base + 1 : script);
  }
  c->procs[c->nprocs++] = p;
  lua_pushlightuserdata(L, p);
  return 1;
}

static proc *check_proc(lua_State *L) {
  tcase *c = get_case(L);
  proc *p = lua_touserdata(L, 1);
  size_t i;
  for (i = 0; i < c->nprocs; i++)
    if (c->procs[i] == p) return p;
  luaL_argerror(L, 1, "not a process of this case");
  return NULL;
}

static int t_kill(lua_State *L) {
  proc *p = check_proc(L);
  if (p->e) {
    p->errors = engine_script_errors(p->e);
    p->status = engine_status(p->e);
    engine_free(p->e);  /* tasks gone, nothing flushed; SQLite keeps what was committed */
    p->e = NULL;
    p->killed = 1;
  }
  return 0;
}

static int t_stop(lua_State *L) {
  proc *p = check_proc(L);
  if (p->e) engine_stop(p->e, "SIGTERM");
  return 0;
}

static int t_exited(lua_State *L) {
  proc *p = check_proc(L);
  int st = p->e ? engine_status(p->e) : 137;
  if (st < 0) lua_pushnil(L);
  else lua_pushinteger(L, st);
  return 1;
}

/* t:advance's last step: waits until every engine of the case waits at the current time (a
 * virtual timer due now fires only when nothing is in progress). */
typedef struct settle_op {
  pending_t base;
  rtimer_t timer;
  task_t *t;
} settle_op;

static void settle_cancel(pending_t *p) {
  settle_op *op = (settle_op *)p;
  rtimer_stop(&op->timer);
  free(op);
}

static void on_settled(rtimer_t *tm) {
  settle_op *op = tm->data;
  task_t *t = op->t;
  engine_detach(t, &op->base);
  free(op);
  engine_complete(t, 0);
}

static int t_settle(lua_State *L) {
  task_t *t = engine_check_wait(L, "t:advance");
  settle_op *op = calloc(1, sizeof *op);
  if (!op) return luaL_error(L, "out of memory");
  op->base.cancel = settle_cancel;
  op->t = t;
  engine_timer_init(task_engine(t), &op->timer, on_settled, op);
  rtimer_start(&op->timer, 0);
  engine_wait(t, &op->base, "t:advance");
  return engine_suspend(t);
}

static int t_task_errors(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  luaL_argcheck(L, n >= 0 && n <= 1000000, 1, "a count >= 0");
  get_case(L)->case_errors = (unsigned)n;
  return 0;
}

static int t_webhooks(lua_State *L) {
  tcase *c = get_case(L);
  size_t i, len;
  const char *b;
  lua_newtable(L);
  for (i = 0; c->sim && (b = sim_webhook(c->sim, i, &len)) != NULL; i++) {
    lua_pushlstring(L, b, len);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

static int t_logs(lua_State *L) {
  tcase *c = get_case(L);
  size_t i;
  lua_createtable(L, (int)c->nlines, 0);
  for (i = 0; i < c->nlines; i++) {
    lua_pushstring(L, c->lines[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

static void finish(tcase *c, int ok, const char *msg) {
  if (c->reported) return;
  c->reported = 1;
  c->ok = ok;
  c->message = msg ? strdup(msg) : NULL;
  uv_stop(&c->loop);
}

static int t_report(lua_State *L) {
  finish(get_case(L), lua_toboolean(L, 1), luaL_optstring(L, 2, NULL));
  return 0;
}

static int t_load_error(lua_State *L) {
  tcase *c = get_case(L);
  c->load_failed = 1;
  finish(c, 0, luaL_optstring(L, 1, "cannot load"));
  return 0;
}

static int t_list(lua_State *L) {
  tcase *c = get_case(L);
  size_t i, n = lua_rawlen(L, 1);
  c->names = calloc(n + 1, sizeof *c->names);
  for (i = 0; c->names && i < n; i++) {
    lua_rawgeti(L, 1, (lua_Integer)i + 1);
    c->names[i] = strdup(luaL_optstring(L, -1, "?"));
    lua_pop(L, 1);
  }
  c->nnames = c->names ? n : 0;
  finish(c, 1, NULL);
  return 0;
}

static int open_native(lua_State *L) {
  static const luaL_Reg f[] = {
    {"scenario", t_scenario}, {"resolve", t_resolve}, {"tmpdir", t_tmpdir},
    {"request_log", t_request_log}, {"start", t_start}, {"kill", t_kill}, {"stop", t_stop},
    {"exited", t_exited}, {"settle", t_settle}, {"webhooks", t_webhooks}, {"logs", t_logs},
    {"task_errors", t_task_errors}, {"report", t_report}, {"load_error", t_load_error}, {"list", t_list}, {NULL, NULL}};
  luaL_newlib(L, f);
  return 1;
}

static void on_watchdog(uv_timer_t *h) {
  tcase *c = h->data;
  char msg[160];
  c->timed_out = 1;
  snprintf(msg, sizeof msg, "the case ran for more than %g s of real time (stuck? see --timeout)",
           c->timeout);
  finish(c, 0, msg);
}

/* Why the case's engine ended without reporting: os.exit in the case, max_busy, or else. */
static void finish_unreported(tcase *c) {
  char msg[200];
  if (engine_exit_called(c->runner))
    snprintf(msg, sizeof msg, "the case called os.exit(%d): a case ends by returning (a script "
             "started with t:start may exit: p:exited())", engine_status(c->runner));
  else if (engine_busy_kills(c->runner))
    snprintf(msg, sizeof msg, "the case ran for more than 2 s without waiting (an endless loop?)");
  else
    snprintf(msg, sizeof msg, "the case ended without reporting (see the log)");
  finish(c, 0, msg);
}

/* The case's task was ended from outside (os.exit, max_busy) and so never reported. */
static void on_check(uv_check_t *h) {
  tcase *c = h->data;
  if (c->reported || !c->runner || engine_status(c->runner) < 0) return;
  finish_unreported(c);
}

/* A case that passed, but something of it ran without waiting past its bound. */
static void fail_after(tcase *c, const char *msg) {
  if (c->load_failed || !c->ok) return;
  c->ok = 0;
  free(c->message);
  c->message = strdup(msg);
}

/* A failed task or callback is only a log line in a service; in a test it fails the case,
 * unless the case declared that many (t:task_errors, opts.task_errors). A script that
 * exited non-zero shows its failure in p:exited() already, as RECWATCH_EXPECT_TASK_ERRORS
 * leaves a non-zero status alone. */
static void check_errors(tcase *c, const char *who, unsigned got, unsigned want, int status) {
  char msg[300];
  if (got == want || status > 0) return;
  snprintf(msg, sizeof msg, "%s: %u task(s) or callback(s) failed, %u expected (an assert in a "
           "task, a rec.every tick or a watcher callback; see the log). If on purpose: %s",
           who, got, want, strcmp(who, "the case") == 0 ? "t:task_errors(n)"
                                                       : "t:start(script, args, { task_errors = n })");
  fail_after(c, msg);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  remove(path);
  return 0;
}

static void close_any(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

/* Runs case `index` of file (0: list the cases into c->names). Fills the outcome in c. */
static void run_case(tcase *c, const char *file, int index) {
  char err[1024], idx[16];
  char *argv[3];
  setup_options so;
  log_state *prev;
  const char *slash = strrchr(file, '/');
  size_t i;
  unsigned cut0 = engine_finalizers_cut();
  c->file = file;
  if (slash) snprintf(c->test_dir, sizeof c->test_dir, "%.*s", (int)(slash - file), file);
  else snprintf(c->test_dir, sizeof c->test_dir, ".");
  snprintf(c->dir, sizeof c->dir, "%s/recwatch-test-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (!mkdtemp(c->dir)) {
    finish(c, 0, "cannot make a scratch directory");
    c->load_failed = 1;
    return;
  }
  snprintf(c->reqlog, sizeof c->reqlog, "%s/requests.jsonl", c->dir);
  {
    log_level lv = log_get_level();
    int json = log_get_json();
    c->log = log_state_new();
    prev = log_state_use(c->log);
    log_set_level(lv);  /* the command line's --log-level and --log-format */
    log_set_json(json);
  }
  log_set_tee(case_tee, c);
  uv_loop_init(&c->loop);
  c->clock = rclock_new(&c->loop, 1, 0);
  log_set_clock(rclock_time_cb, c->clock);
  memset(&so, 0, sizeof so);
  so.loop = &c->loop;
  so.clock = c->clock;
  so.seed = c->seed;
  c->runner = setup_engine(&so, err, sizeof err);
  if (!c->runner) {
    finish(c, 0, err);
    c->load_failed = 1;
  } else {
    lua_State *L = engine_lua(c->runner);
    engine_set_max_busy(c->runner, MAX_BUSY);
    engine_cap_max_busy(c->runner, c->timeout);
    lua_pushlightuserdata(L, c);
    lua_setfield(L, LUA_REGISTRYINDEX, CASE_KEY);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, open_native);
    lua_setfield(L, -2, "rec.test.native");
    lua_pop(L, 1);
    snprintf(idx, sizeof idx, "%d", index);
    argv[0] = (char *)file;
    argv[1] = index ? "run" : "list";
    argv[2] = idx;
    if (engine_load_main(c->runner, file, "rec._testrun", 3, argv, err, sizeof err) != 0) {
      finish(c, 0, err);
      c->load_failed = 1;
    } else {
      uv_timer_init(&c->loop, &c->watchdog);
      c->watchdog.data = c;
      uv_timer_start(&c->watchdog, on_watchdog, (uint64_t)(c->timeout * 1000), 0);
      uv_unref((uv_handle_t *)&c->watchdog);
      uv_check_init(&c->loop, &c->ended);
      c->ended.data = c;
      uv_check_start(&c->ended, on_check);
      uv_unref((uv_handle_t *)&c->ended);
      uv_run(&c->loop, UV_RUN_DEFAULT);
      uv_timer_stop(&c->watchdog);
      uv_check_stop(&c->ended);
      if (!c->reported && engine_status(c->runner) >= 0)
        finish_unreported(c);
      else if (!c->reported)
        finish(c, 0, "the case waits on something nothing can wake (an event never set?)");
      if (engine_busy_kills(c->runner))  /* e.g. a finalizer (__gc) the case left behind */
        fail_after(c, "something in the case ran without waiting for longer than max_busy "
                      "(an endless loop, or an endless __gc?): see the log");
    }
  }
  if (c->runner && !c->load_failed && c->names == NULL)
    check_errors(c, "the case", engine_script_errors(c->runner), c->case_errors, 0);
  for (i = 0; i < c->nprocs; i++) {
    proc *p = c->procs[i];
    if (p->e && engine_busy_kills(p->e))
      fail_after(c, "a script under test ran without waiting for longer than max_busy "
                    "(an endless loop?): see its log");
    if (p->e) {
      p->errors = engine_script_errors(p->e);
      p->status = engine_status(p->e);
    }
    check_errors(c, p->name, p->errors, p->expected, p->status);
    if (c->procs[i]->e) engine_free(c->procs[i]->e);
    free(c->procs[i]);
  }
  free(c->procs);
  c->procs = NULL;
  c->nprocs = 0;
  setup_sim_events(NULL);
  if (c->sim) sim_free(c->sim);
  if (c->runner) engine_free(c->runner);
  if (engine_finalizers_cut() != cut0)  /* counted by the teardowns above */
    fail_after(c, "a finalizer (__gc) was still running when the case's teardown ran out of "
                  "time (max_busy): an endless __gc? see the log");
  rclock_free(c->clock);
  uv_walk(&c->loop, close_any, NULL);
  uv_run(&c->loop, UV_RUN_DEFAULT);
  uv_loop_close(&c->loop);
  log_state_use(prev);
  log_state_free(c->log);
  nftw(c->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void case_clear(tcase *c) {
  size_t i;
  for (i = 0; i < c->nlines; i++) free(c->lines[i]);
  free(c->lines);
  for (i = 0; i < c->nnames; i++) free(c->names[i]);
  free(c->names);
  free(c->message);
}

/* ---- files, TAP, JUnit ---- */

typedef struct result {
  char *file, *name, *message;
  int ok;
  double seconds;
} result;

static int ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds path (a file, or the *_test.lua files of a directory, sorted). -1 when missing. */
static int add_path(const char *path, char ***files, size_t *n) {
  struct stat st;
  if (stat(path, &st) != 0) return -1;
  if (S_ISDIR(st.st_mode)) {
    DIR *d = opendir(path);
    struct dirent *de;
    size_t first = *n;
    if (!d) return -1;
    while ((de = readdir(d)) != NULL) {
      char *full;
      if (!ends_with(de->d_name, "_test.lua")) continue;
      char **grown;
      size_t plen = strlen(path);
      if (asprintf(&full, plen && path[plen - 1] == '/' ? "%s%s" : "%s/%s", path, de->d_name) < 0)
        continue;
      if (!(grown = realloc(*files, (*n + 1) * sizeof **files))) {
        free(full);
        closedir(d);
        return -1;
      }
      *files = grown;
      (*files)[(*n)++] = full;
    }
    closedir(d);
    qsort(*files + first, *n - first, sizeof **files, cmp_str);
    return 0;
  }
  {
    char **grown = realloc(*files, (*n + 1) * sizeof **files);
    char *copy = strdup(path);
    if (!grown || !copy) {
      if (grown) *files = grown;
      free(copy);
      return -1;
    }
    *files = grown;
    (*files)[(*n)++] = copy;
  }
  return 0;
}

static void xml_escape(FILE *f, const char *s) {
  for (; s && *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '<') fputs("&lt;", f);
    else if (ch == '>') fputs("&gt;", f);
    else if (ch == '&') fputs("&amp;", f);
    else if (ch == '"') fputs("&quot;", f);
    else if (ch < 0x20 && ch != '\n' && ch != '\t') fprintf(f, "&#%d;", ch);
    else fputc(ch, f);
  }
}

static int write_junit(const char *path, result *r, size_t n, double total) {
  FILE *f = fopen(path, "w");
  size_t i, j, fails = 0;
  if (!f) return -1;
  for (i = 0; i < n; i++) fails += !r[i].ok;
  fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
  fprintf(f, "<testsuites name=\"recwatch test\" tests=\"%zu\" failures=\"%zu\" time=\"%.3f\">\n",
          n, fails, total);
  for (i = 0; i < n; i = j) {
    size_t cnt = 0, fl = 0;
    double t = 0;
    for (j = i; j < n && strcmp(r[j].file, r[i].file) == 0; j++) {
      cnt++;
      fl += !r[j].ok;
      t += r[j].seconds;
    }
    fputs("  <testsuite name=\"", f);
    xml_escape(f, r[i].file);
    fprintf(f, "\" tests=\"%zu\" failures=\"%zu\" time=\"%.3f\">\n", cnt, fl, t);
    for (; i < j; i++) {
      fputs("    <testcase classname=\"", f);
      xml_escape(f, r[i].file);
      fputs("\" name=\"", f);
      xml_escape(f, r[i].name);
      fprintf(f, "\" time=\"%.3f\"", r[i].seconds);
      if (r[i].ok) {
        fputs("/>\n", f);
      } else {
        const char *m = r[i].message ? r[i].message : "failed";
        const char *nl = strchr(m, '\n');
        fputs(">\n      <failure message=\"", f);
        if (nl) {
          char *first = strndup(m, (size_t)(nl - m));
          xml_escape(f, first);
          free(first);
        } else {
          xml_escape(f, m);
        }
        fputs("\">", f);
        xml_escape(f, m);
        fputs("</failure>\n    </testcase>\n", f);
      }
    }
    fputs("  </testsuite>\n", f);
  }
  fputs("</testsuites>\n", f);
  return fclose(f) == 0 ? 0 : -1;
}

static void tap_comment(const char *prefix, const char *text) {
  const char *p = text;
  while (p && *p) {
    const char *nl = strchr(p, '\n');
    int len = nl ? (int)(nl - p) : (int)strlen(p);
    printf("%s%.*s\n", prefix, len, p);
    p = nl ? nl + 1 : NULL;
  }
}

static const char test_usage[] =
  "usage: recwatch test [--junit FILE] [--seed N] [--timeout SECONDS] [-v] [FILE|DIR]...\n"
  "  runs rec.test files (every *_test.lua of a DIR; . when none is given); TAP on stdout\n"
  "  --junit FILE      also write a JUnit XML report\n"
  "  --seed N          the seed of the engines' random generators (default 1)\n"
  "  --timeout SECONDS real time a case may take (default 60)\n"
  "  -v                print the scripts' logs (else shown for failed cases only)\n"
  "exit status: 0 all passed, 1 a case failed, 2 usage or load error\n";

/* Real seconds, for the report's durations only (a case's own time is virtual). */
static double wall_seconds(void) { return (double)uv_hrtime() / 1e9; }

int rtest_command(int argc, char **argv) {
  const char *junit = NULL;
  char **files = NULL;
  size_t nfiles = 0, i, j, nres = 0, total = 0, failed = 0;
  uint64_t seed = 1;
  double timeout = 60, t_all0 = wall_seconds();
  int verbose = 0, status = 0, k;
  result *res = NULL;
  size_t *counts;
  char ***names;
  for (k = 1; k < argc; k++) {
    const char *a = argv[k];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      fputs(test_usage, stdout);
      return 0;
    } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
      verbose = 1;
    } else if (!strcmp(a, "--junit") || !strcmp(a, "--seed") || !strcmp(a, "--timeout")) {
      char *end = NULL;
      double v;
      if (k + 1 >= argc) {
        fprintf(stderr, "recwatch test: %s needs a value\n%s", a, test_usage);
        return 2;
      }
      if (!strcmp(a, "--junit")) {
        junit = argv[++k];
        continue;
      }
      v = strtod(argv[k + 1], &end);
      if (!end || *end || !(v > 0) || v > 1e9) {
        fprintf(stderr, "recwatch test: bad value '%s' for %s\n", argv[k + 1], a);
        return 2;
      }
      if (!strcmp(a, "--seed")) seed = (uint64_t)v;
      else timeout = v;
      k++;
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "recwatch test: unknown option '%s'\n%s", a, test_usage);
      return 2;
    } else if (add_path(a, &files, &nfiles) != 0) {
      fprintf(stderr, "recwatch test: %s: %s\n", a, strerror(errno ? errno : ENOENT));
      status = 2;
    }
  }
  if (status == 0 && nfiles == 0 && add_path(".", &files, &nfiles) != 0) status = 2;
  if (status == 0 && nfiles == 0) {
    fprintf(stderr, "recwatch test: no *_test.lua files found\n");
    status = 2;
  }
  counts = calloc(nfiles + 1, sizeof *counts);
  names = calloc(nfiles + 1, sizeof *names);
  /* list every file's cases first: TAP announces the plan, and a file that does not load
   * is a load error before anything runs */
  for (i = 0; status == 0 && i < nfiles; i++) {
    tcase c;
    memset(&c, 0, sizeof c);
    c.seed = seed;
    c.timeout = timeout;
    run_case(&c, files[i], 0);
    if (c.load_failed || !c.ok) {
      fprintf(stderr, "recwatch test: %s\n", c.message ? c.message : files[i]);
      status = 2;
    } else if (c.nnames == 0) {
      fprintf(stderr, "recwatch test: %s has no T.case\n", files[i]);
      status = 2;
    }
    counts[i] = c.nnames;
    total += c.nnames;
    names[i] = c.names;  /* kept for the report */
    c.names = NULL;
    c.nnames = 0;
    case_clear(&c);
  }
  if (status == 0) {
    res = calloc(total + 1, sizeof *res);
    printf("TAP version 13\n1..%zu\n", total);
    fflush(stdout);
    for (i = 0; i < nfiles; i++) {
      printf("# %s\n", files[i]);
      for (j = 1; j <= counts[i]; j++) {
        tcase c;
        double t0 = wall_seconds();
        const char *name = names[i][j - 1];
        memset(&c, 0, sizeof c);
        c.seed = seed + j;
        c.timeout = timeout;
        c.verbose = verbose;
        run_case(&c, files[i], (int)j);
        res[nres].file = files[i];
        res[nres].seconds = wall_seconds() - t0;
        res[nres].ok = c.ok && !c.load_failed;
        res[nres].message = c.message ? strdup(c.message) : NULL;
        res[nres].name = strdup(name);
        nres++;
        if (!c.ok) {
          size_t from = c.nlines > 30 ? c.nlines - 30 : 0, q;
          failed++;
          printf("not ok %zu - %s\n", nres, name);
          tap_comment("#   ", c.message ? c.message : "failed");
          if (!verbose && c.nlines) {
            printf("#   last log lines:\n");
            for (q = from; q < c.nlines; q++) tap_comment("#     ", c.lines[q]);
          }
        } else {
          printf("ok %zu - %s\n", nres, name);
        }
        fflush(stdout);
        case_clear(&c);
      }
    }
    if (junit && write_junit(junit, res, nres, wall_seconds() - t_all0) != 0) {
      fprintf(stderr, "recwatch test: cannot write %s\n", junit);
      status = 2;
    }
    if (status == 0) status = failed ? 1 : 0;
    printf("# %zu case(s), %zu failed, %.2f s\n", nres, failed, wall_seconds() - t_all0);
  }
  for (i = 0; i < nres; i++) {
    free(res[i].name);
    free(res[i].message);
  }
  free(res);
  for (i = 0; i < nfiles; i++) {
    for (j = 0; names[i] && j < counts[i]; j++) free(names[i][j]);
    free(names[i]);
  }
  free(names);
  free(counts);
  for (i = 0; i < nfiles; i++) free(files[i]);
  free(files);
  return status;
}
