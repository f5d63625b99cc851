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
/* Checks a decoded QingCloud query reply against the schema (schema.c) and normalises it in
 * place: documented coercions ("52" -> 52), recinfos marked as an array (null -> []), optional
 * nulls removed, status_name, created_ts/updated_ts (created/updated read in the configured
 * zone, see lnorm_qc_utc_offset). 0 on success; -1 with e set (kind protocol, quoting the
 * field and the type it had) when the reply breaks the contract. status: the HTTP status. */
int lnorm_qingcloud(lua_State *L, int idx, long status, rec_err *e);
/* The same for an Agora query reply: every array under serverResponse marked, coercions,
 * and status/status_name lifted to the top level. */
int lnorm_agora(lua_State *L, int idx, long status, rec_err *e);
/* Which provider's reply (lnorm_reply.h) */
#define LNORM_AGORA 0
#define LNORM_QINGCLOUD 1
/* The value on top of the stack against the scalar field f (string, integer, boolean): 1 when
 * it has the documented type, 2 when a documented coercion applies (the coerced value is
 * pushed above it), 0 when it breaks the contract. May raise (memory). */
struct sch_field;
int lnorm_coerce(lua_State *L, const struct sch_field *f);
/* Strict decimal integer: optional '-', digits only, fits lua_Integer. */
int lnorm_parse_int(const char *s, lua_Integer *out);
/* Checks/normalises the table at idx against any schema node (tests, fuzzers). */
struct sch_node;
int lnorm_check(lua_State *L, int idx, const struct sch_node *node, const char *label, rec_err *e);
/* Pushes the metatable that marks a table as a JSON array (rec.json.encode prints such a table
 * as [...], [] when empty). One per lua_State. */
void lnorm_push_array_mt(lua_State *L);
/* 1 when the value at idx is a table marked as a JSON array. */
int lnorm_is_marked_array(lua_State *L, int idx);
/* Reads "YYYY-MM-DD HH:MM:SS" as local time offset seconds east of UTC; 1 and *out (Unix
 * seconds) on success, 0 when s is not exactly that shape. */
int lnorm_parse_local_time(const char *s, long offset, long long *out);
/* The zone QingCloud's created/updated are read in: seconds east of UTC, from the registry
 * field LNORM_QC_OFFSET_KEY (rec.configure{qingcloud={utc_offset=H}}), default UTC+8. */
#define LNORM_QC_UTC_OFFSET (8L * 3600)
#define LNORM_QC_OFFSET_KEY "rec.qingcloud.utc_offset"
long lnorm_qc_utc_offset(lua_State *L);

#endif
