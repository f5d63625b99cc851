/* lnorm: JSON decoding with lua-cjson and normalisation of decoded replies on a Lua stack
 * (whole numbers as integers, numbers/booleans sent as strings coerced, status names). */
#ifndef REC_LNORM_H
#define REC_LNORM_H
#include <stddef.h>
#include <lua.h>
#include "provider.h"

/* Decodes body as JSON; on success pushes the value and returns 1; on malformed JSON pushes
 * nothing and returns 0. Never raises. Whole numbers come out as Lua integers. */
int lnorm_decode(lua_State *L, const char *body, size_t len);
/* Pushes this lua_State's lua-cjson module (created once and cached in the registry; strict:
 * no NaN/Infinity/hex numbers) and returns 1, or pushes nothing and returns 0. For rec.json,
 * so scripts and replies share one instance and its cjson.null. (Added by the provider layer.) */
int lnorm_cjson(lua_State *L);
/* Recursively replaces float values that are whole numbers (|x| < 2^53) by integers. */
void lnorm_integers(lua_State *L, int idx);
/* Fills f from the decoded value at idx (any type). Strings point into L's values and stay
 * valid while that value is on the stack. */
void lnorm_facts(lua_State *L, int idx, reply_facts *f);
/* Normalises a decoded QingCloud query reply in place: integer fields, and status_name on
 * every recinfo. */
void lnorm_qingcloud(lua_State *L, int idx);
/* Normalises a decoded Agora query reply in place: integer and boolean fields throughout
 * serverResponse (fileList entries, extensionServiceState payloads), and lifts status and
 * status_name to the top level of the reply. */
void lnorm_agora(lua_State *L, int idx);

#endif
