/* setup: wires the house: an engine, the `rec` module in each of its Lua states (lrec.c),
 * rec.configure's listen/stuck_after onto the service side (ops.c), and --listen's listener.
 * The engine reaches the layers above it only through the hooks installed here. */
#ifndef REC_SETUP_H
#define REC_SETUP_H
#include <stddef.h>
#include <stdint.h>
#include "engine.h"
#include "process.h"

/* The hooks every engine of recwatch gets (engine_options.hooks); setup_engine installs them. */
extern const engine_hooks setup_hooks;

/* What setup_engine makes: engine_options' fields (setup_hooks is always installed), and the
 * listener to attach. */
typedef struct setup_options {
  uv_loop_t *loop;      /* NULL: the engine's own */
  rclock_t *clock;      /* NULL: the engine's own (real, or virtual with virtual_time) */
  int virtual_time;
  uint64_t seed;        /* 0: random */
  int signals;          /* 1: SIGINT/SIGTERM stop the engine */
  rec_process *process; /* what owns the listener (needed with listen) */
  const char *listen;   /* --listen's address: the listener starts with the engine; NULL: none
                           (only main.c asks: the test runner's engines have no listener) */
} setup_options;

/* The one place that wires an engine: creates it with setup_hooks (so the `rec` module is
 * opened into its Lua state, and into every state a reload or a validation makes), then
 * starts the listener when so->listen says so. NULL with the reason in err (the listener's
 * prefixed "--listen: "); nothing is left running then. */
engine_t *setup_engine(const setup_options *so, char *err, size_t errlen);

/* --events-listen: the NCS receiver of e (events.c), owned by e's current Lua state (its
 * store at the engine's state path), listening on addr. Called again for each Lua state a
 * reload makes (main.c). 0, or -1 with the reason in err. */
int setup_events(engine_t *e, lua_State *L, const char *addr, char *err, size_t errlen);

/* A standalone engine with the `rec` module: its own loop, a real clock, SIGINT/SIGTERM
 * handled, no listener (setup_engine with signals = 1). */
/* Points the receiver's URL and secret, whenever they change, at sim's NCS events sender (the
 * in-process simulator of `run --sim` or of a `recwatch test` case); NULL: at nothing. */
struct sim;
void setup_sim_events(struct sim *sim);

engine_t *engine_new(char *err, size_t errlen);
#endif
