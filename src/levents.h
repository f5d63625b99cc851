/* levents: rec.events (next, done, inject): the committed NCS events (events.c) as Lua
 * tables; see levents.c. Opened by lrec.c like every room (lrec_int.h). */
#ifndef REC_LEVENTS_H
#define REC_LEVENTS_H
#include <lua.h>

/* The registry key holding the Lua state's events anchor (its __gc closes the receiver
 * owned by this state). */
#define LEVENTS_ANCHOR_KEY "rec.events.anchor"
#endif
