/* lstore: the Lua module `rec.store` (see lstore.c). */
#ifndef REC_LSTORE_H
#define REC_LSTORE_H
#include <lua.h>

/* lua_CFunction: the `rec.store` module table (lrec_open puts it in package.preload). */
int luaopen_rec_store(lua_State *L);
#endif
