/* jdec: a one-pass JSON decoder for provider replies. It builds the Lua value straight from
 * the reply bytes, with whole numbers pushed as integers and every table presized, and gives
 * exactly what lnorm_decode (lua-cjson, then the whole-number pass) gives for every input:
 * the same value, or the same refusal. lua-cjson stays for rec.json and the simulator. */
#ifndef REC_JDEC_H
#define REC_JDEC_H
#include <stddef.h>
#include <lua.h>

/* Same contract as lnorm_decode: on success pushes the value and returns 1; on malformed
 * JSON (or a NUL byte, or nesting deeper than lua-cjson's 1000) pushes nothing and returns 0.
 * Never raises. null is lua-cjson's null (a NULL light userdata). */
int jdec_decode(lua_State *L, const char *body, size_t len);

#endif
