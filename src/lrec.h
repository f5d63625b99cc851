/* lrec: the Lua module `rec` (see lrec.c): what the layers that wire an engine need of it. */
#ifndef REC_LREC_H
#define REC_LREC_H
#include <lua.h>
#include "engine.h"

/* Opens `rec` (with rec.metrics, rec.health, the `rec.store` preload and the embedded
 * modules' searcher) into a Lua state of engine e: an engine_hooks.open_api (setup.c). */
int lrec_open(lua_State *L, engine_t *e);
/* `run --sim`: rec.sim = { base_url = ..., webhook_url = ... } in the state's `rec`. */
void lrec_set_sim(lua_State *L, const char *base_url);
#endif
