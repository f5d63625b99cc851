/* jdec: a one-pass JSON decoder for provider replies. It builds the Lua value straight from
 * the reply bytes, with whole numbers pushed as integers and every table presized, and gives
 * exactly what lnorm_decode (lua-cjson, then the whole-number pass) gives for every input:
 * the same value, or the same refusal. lua-cjson stays for rec.json and the simulator.
 *
 * In schema mode (jdec_reply) it also does, in the same pass, what lnorm_facts and the
 * provider pass (lnorm_agora / lnorm_qingcloud) would do afterwards: schema keys are pushed
 * from strings interned once per lua_State, every documented field is checked (and coerced)
 * as it is read, schema arrays are marked, derived fields are added before each table is
 * created (so it is created at its final size), and the facts are taken on the way. */
#ifndef REC_JDEC_H
#define REC_JDEC_H
#include <stddef.h>
#include <lua.h>
#include "provider.h"
#include "schema.h"

/* Same contract as lnorm_decode: on success pushes the value and returns 1; on malformed
 * JSON (or a NUL byte, or nesting deeper than lua-cjson's 1000) pushes nothing and returns 0.
 * Never raises. null is lua-cjson's null (a NULL light userdata). */
int jdec_decode(lua_State *L, const char *body, size_t len);

/* What schema mode needs from the normaliser. */
typedef struct jdec_schema {
  const sch_node *root;
  /* Called when an object described by node n has been read, before its table is created:
   * pos[i] is the stack index of the (checked) value of n->fields[i], 0 when absent. It may
   * push (key, value) pairs for derived fields (keys with jdec_push_key(L, names, n, f)) and
   * returns how many it pushed (at most 4), or -1 to send the reply down the general path. */
  int (*derive)(lua_State *L, const sch_node *n, const int *pos, int names, void *ud);
  void *ud;
} jdec_schema;

/* Schema mode, for a reply that keeps the contract: pushes the normalised value, fills f and
 * returns 1, exactly as jdec_decode + lnorm_facts + the provider pass would. Returns 0 and
 * pushes nothing for anything else (malformed JSON, a top level that is not an object, a
 * field of the wrong type or missing, a null where one is required, a duplicate or escaped
 * key in a documented object, a derived field sent by the server, more than 63 members in a
 * documented object): the caller then takes the general path, which gives the exact error.
 * Never raises. */
int jdec_reply(lua_State *L, const char *body, size_t len, const jdec_schema *s,
               reply_facts *f);

/* Pushes the name of field f of node n, interned once per lua_State and kept in the node's
 * array of names at stack index names (the one derive hooks are given). */
void jdec_push_key(lua_State *L, int names, const sch_node *n, const sch_field *f);

#endif
