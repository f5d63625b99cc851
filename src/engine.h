/* engine: one uv_loop_t and one lua_State; tasks (coroutines) with what they wait on, the
 * ready queue, timers for rec.every, signals and shutdown. The only place that resumes. */
#ifndef REC_ENGINE_H
#define REC_ENGINE_H
#include <lua.h>
#include <uv.h>
#include "rclock.h"
#include "rerr.h"

typedef struct engine engine_t;
typedef struct task task_t;
struct http_client;
struct config;

/* What a waiting task is blocked on. cancel() stops the operation and releases it without
 * touching the task; the engine then resumes the task with (nil, cancelled). */
typedef struct pending {
  void (*cancel)(struct pending *p);
} pending_t;

/* What the engine calls back into the layers above it. Setup installs them (setup.c, used
 * by main.c and the test runner); the engine knows nothing of the `rec` API or of the
 * listener, and calls no name of a higher file. Each runs once per Lua state or per
 * rec.configure, never per request. A NULL member is not called. */
typedef struct engine_hooks {
  /* Opens the script API into a new Lua state of e: at engine_new_opts, in the scratch state
   * of a validation (check, reload), in a reload's new state. engine_from_lua(L) already
   * answers e. */
  int (*open_api)(lua_State *L, engine_t *e);
  /* rec.configure{ listen = addr }: starts the listener (apply 1), or only checks that it
   * could (apply 0: a validation). 0, or -1 with the reason in err. */
  int (*listen)(const char *addr, int apply, char *err, size_t errlen);
  /* rec.configure{ stuck_after = seconds } */
  void (*stuck_after)(double seconds);
} engine_hooks;

typedef struct engine_options {
  uv_loop_t *loop;      /* NULL: the engine's own; else shared (engine_run is not used then) */
  rclock_t *clock;      /* NULL: the engine's own (real, or virtual with virtual_time) */
  int virtual_time;     /* for the engine's own clock */
  uint64_t seed;        /* the engine's random generator (retry jitter, math.random); 0: random */
  int signals;          /* 1: SIGINT/SIGTERM stop the engine */
  const engine_hooks *hooks;  /* NULL: none (a bare engine, without the `rec` module) */
} engine_options;
/* NULL options: its own loop, a real clock, SIGINT/SIGTERM handled, no hooks. (A standalone
 * engine with the `rec` module is setup.h's engine_new.) */
engine_t *engine_new_opts(const engine_options *o, char *err, size_t errlen);
/* The hooks the engine was made with (never NULL; members may be). */
const engine_hooks *engine_get_hooks(engine_t *e);
/* The engine a Lua state belongs to: its main state, a reload's, a validation's scratch
 * state (registry["rec.engine"], set before engine_hooks.open_api runs). */
engine_t *engine_from_lua(lua_State *L);
/* Tears everything down (pending operations, HTTP, handles, the Lua state). */
void engine_free(engine_t *e);
lua_State *engine_lua(engine_t *e);
uv_loop_t *engine_loop(engine_t *e);
struct http_client *engine_http(engine_t *e);
struct config *engine_config(engine_t *e);
/* The engine's clock: every time read in C goes through these two. engine_now: monotonic
 * seconds since the engine started; engine_time: wall-clock Unix seconds. Both move with the
 * virtual clock in virtual time. */
double engine_now(engine_t *e);
double engine_time(engine_t *e);
int engine_is_virtual(engine_t *e);
rclock_t *engine_clock(engine_t *e);
/* Engine timers: an rtimer_t lives in the caller's struct; start it with rtimer_start(t, s)
 * or rtimer_start_at(t, engine_clock now + s), stop it with rtimer_stop (rclock.h). Its
 * callback runs from the loop, in real or virtual time alike. */
void engine_timer_init(engine_t *e, rtimer_t *t, rtimer_cb cb, void *data);
/* Uniform in [0, 1) from the engine's seeded generator: the same seed, the same run. */
double engine_random(engine_t *e);
/* Work done outside the loop (a store job on a thread) is in progress: virtual time does not
 * jump until the matching engine_release. */
void engine_hold(engine_t *e);
void engine_release(engine_t *e);
/* Stops the engine (like SIGTERM) when its clock reaches `seconds` after its start. */
void engine_set_until(engine_t *e, double seconds);
/* -1 while tasks or rec.every timers are alive; else the exit status a process would have. */
int engine_status(engine_t *e);
/* How many tasks max_busy ended (a test runner fails the case on any). */
int engine_busy_kills(engine_t *e);

/* Loads the script file (or the embedded module, when module is not NULL: its chunk returns
 * a function called with the args) as the main task with args (arg table and ...). Returns 0, or 2 with
 * a message in err when the file cannot be loaded (syntax error: "file:line: message"). */
int engine_load_main(engine_t *e, const char *path, const char *module, int argc,
                     char **argv, char *err, size_t errlen);
/* Compiles the file without running it: 0, or -1 with "file:line: message" in err. */
int engine_check_file(engine_t *e, const char *path, char *err, size_t errlen);
/* Validates a script without side effects (`recwatch check`, and a reload before the old
 * script stops): it compiles, and its top level runs in a scratch Lua state until it ends
 * or reaches its first side effect (starting a task, waiting, a query, the state file, a
 * metric, writing a file, exiting), with rec.configure checking its table without applying
 * it. 0, or -1 with "file:line: message" in err (a syntax error, a bad rec.configure, an
 * error raised before the first side effect, 100 million instructions or 64 MiB without
 * reaching either end). The engine_on_new_state hook sees the scratch state too. */
int engine_check_script(engine_t *e, const char *path, int argc, char **argv, char *err,
                        size_t errlen);
/* The registry key that puts rec.configure in validate-only mode (set in the scratch state). */
#define ENGINE_VALIDATE_KEY "rec.validate_only"
/* Runs the loop until every task has finished and no timer is pending, rec.exit, or a
 * signal. Returns the exit status: 0 done, 1 the main task failed, or rec.exit's code. */
int engine_run(engine_t *e);
/* Cancels every task's pending call and stops rec.every timers; used by signals. */
void engine_stop(engine_t *e, const char *why);
/* Stop now with this status (the first call wins). */
void engine_exit(engine_t *e, int code);
/* rec.exit from the thread L: stops the engine and never returns to the script: the task is
 * suspended for good, or unwound with an error where Lua cannot yield. */
int engine_lua_exit(engine_t *e, lua_State *L, int code);
/* First thing an operation's completion does: t no longer waits on p (its memory may be
 * freed before engine_complete runs). Does nothing if t waits on something else. */
void engine_detach(task_t *t, pending_t *p);
int engine_stopping(engine_t *e);
/* How long a task may run without waiting before it gets an error (default 30 s; 0 = no
 * limit, and no hook, for tasks started afterwards). Checked every million VM instructions
 * by a count hook (no measurable cost on a pure-Lua loop). */
void engine_set_max_busy(engine_t *e, double seconds);
/* The most max_busy may be, whatever the script sets (0 included): a test runner's bound. */
void engine_cap_max_busy(engine_t *e, double seconds);
/* Finalizers (__gc) ended by their bound at a teardown so far, in this process. */
unsigned engine_finalizers_cut(void);
/* The script called rec.exit or (on a shared loop, where it ends the engine only) os.exit. */
int engine_exit_called(engine_t *e);
/* Tasks that failed, and errors a library caught in the script's callbacks (watch.lua):
 * what RECWATCH_EXPECT_TASK_ERRORS and `recwatch test` check. */
unsigned engine_script_errors(engine_t *e);
/* rec.configure found a bad setting: a failing main task then exits 2, not 1. */
void engine_config_failed(engine_t *e);

/* ---- reload (SIGHUP, see ops.c) ---- */
/* Validates the script file (engine_check_script); when it passes, stops the tasks
 * (their pending calls are cancelled, as for SIGTERM) and, once they have ended (at most
 * 1 s), runs it as the main task in a fresh Lua state: same loop, HTTP client, settings,
 * state file and secret list, running the source it validated. 0, or -1 with the validation
 * error in err (nothing changed). */
int engine_reload(engine_t *e, char *err, size_t errlen);
/* 1 from a reload's start until its verdict (engine_on_reloaded): a SIGHUP then waits. */
int engine_reloading(engine_t *e);
/* Called with every Lua state made by a reload, before its script runs. */
void engine_on_new_state(engine_t *e, void (*fn)(engine_t *e, lua_State *L, void *ud),
                         void *ud);
/* Called once after a reload, when the new script's main task has run for the first time:
 * ok = 1 when it reached its first wait or its end, 0 when it raised (the old script's tasks
 * are gone by then, so a script that fails at start-up ends the run: status 1). */
void engine_on_reloaded(engine_t *e, void (*fn)(engine_t *e, int ok, void *ud), void *ud);
/* Live tasks now. */
unsigned engine_task_count(engine_t *e);

/* Tasks. The task struct lives in a Lua full userdata (the script's handle). */
/* Spawns fn (at index idx of L) with nargs arguments above it; pushes the handle on L. */
task_t *engine_spawn(engine_t *e, lua_State *L, int nargs);
/* The task running on thread L, or NULL when L is not a task's own thread. */
task_t *engine_task_of(lua_State *L);
unsigned task_id(task_t *t);
engine_t *task_engine(task_t *t);
lua_State *task_thread(task_t *t);
int task_cancelled(task_t *t);
int task_done(task_t *t);
int task_started(task_t *t);
/* t:cancel(): a task that has not started ends at once (running nothing); a waiting one is
 * resumed with a cancelled error. 0 when it had already finished. */
int engine_cancel(task_t *t);

/* Called by a binding about to wait: records p as what t waits on. The binding then returns
 * lua_yield(L, 0). Raises a Lua error (naming `what`) when L cannot yield here. */
void engine_wait(task_t *t, pending_t *p, const char *what);
/* Checks that the binding `what` may wait on L; raises a clear error otherwise. Returns the
 * task. Call it before starting any operation. */
task_t *engine_check_wait(lua_State *L, const char *what);
/* The binding's return: `return engine_suspend(t);` after engine_wait. Yields the task; when
 * the operation already completed synchronously, its values are handed back at once. */
int engine_suspend(task_t *t);
/* The operation t waited on has completed and pushed nres values on task_thread(t): resumes
 * t (now, or from the ready queue when called while a task is running). */
void engine_complete(task_t *t, int nres);
/* Yields t with nres values already pushed and resumes it from the ready queue: for calls
 * that finish at once (sleep(0), a call in a cancelled task). Returns lua_yield's value. */
int engine_yield_now(task_t *t, int nres);
/* Pushes a typed error as the Lua error table (kind, message, status, code, retryable,
 * attempts) with __tostring. */
void engine_push_err(lua_State *L, const rec_err *err);
/* Pushes (nil, err) on L and returns 2: a binding's `return engine_return_err(L, &err);`. */
int engine_return_err(lua_State *L, const rec_err *err);
/* Pushes (nil, cancelled error) on L. Returns 2. */
int engine_push_cancelled(lua_State *L, const char *what);
/* Registers a handle of rec.every so shutdown stops it. */
void engine_track_timer(engine_t *e, void *timer, void (*stop)(void *timer));
void engine_untrack_timer(engine_t *e, void *timer);

#endif
