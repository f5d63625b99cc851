/* ljson: the JSON encoder behind rec.json.encode (and rec.http's json= bodies, and
 * `recwatch query` output). It writes what lua-cjson 2.1.0 writes, with three deliberate
 * differences: a table marked as an array (lnorm_push_array_mt; every array of a provider
 * reply is) is written as [...], [] when empty (cjson writes an empty table as {}); '/' is
 * not escaped (cjson writes \/); Lua integers are written exactly (cjson rounds them to 14
 * significant digits). Floats use cjson's %.14g, and its errors for NaN/Inf, functions,
 * odd keys, excessively sparse arrays and nesting deeper than 1000. */
#ifndef REC_LJSON_H
#define REC_LJSON_H
#include <lua.h>

/* lua_CFunction: encode(value) -> string; raises with cjson's messages. */
int ljson_encode(lua_State *L);
/* lua_CFunction: array([t]) -> t marked as a JSON array (a new empty one without t). */
int ljson_array(lua_State *L);

#endif
