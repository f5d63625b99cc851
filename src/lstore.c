/* lstore: durable state for workflows (SQLite): placeholder, replaced by the real module. */
#include <lauxlib.h>
int luaopen_rec_store(lua_State *L);
int luaopen_rec_store(lua_State *L) { return luaL_error(L, "rec.store is not built yet"); }
