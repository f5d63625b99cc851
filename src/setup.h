/* setup: wires the house: an engine, the `rec` module in each of its Lua states (lrec.c),
 * and rec.configure's listen/stuck_after onto the service side (ops.c). The engine reaches
 * the layers above it only through the hooks installed here. */
#ifndef REC_SETUP_H
#define REC_SETUP_H
#include <stddef.h>
#include "engine.h"

/* The hooks every engine of recwatch gets (engine_options.hooks): main.c, the test runner. */
extern const engine_hooks setup_hooks;
/* A standalone engine with the `rec` module: its own loop, a real clock, SIGINT/SIGTERM
 * handled, setup_hooks. */
engine_t *engine_new(char *err, size_t errlen);
#endif
