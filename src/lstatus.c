/* lstatus: rec.qingcloud and rec.agora as status tables: .status[code] is the status name,
 * .failed[code] is true for the statuses that mean a failed recording. */
#include <lauxlib.h>
#include "agora.h"
#include "lrec_int.h"
#include "qingcloud.h"

static void push_status_table(lua_State *L, const char *(*name)(long), int (*failure)(long)) {
  long code;
  lua_newtable(L);
  lua_newtable(L);
  for (code = 0; code < 100; code++) {
    const char *n = name(code);
    if (!n) continue;
    lua_pushstring(L, n);
    lua_rawseti(L, -2, code);
  }
  lua_setfield(L, -2, "status");
  if (failure) {
    lua_newtable(L);
    for (code = 0; code < 100; code++)
      if (name(code) && failure(code)) {
        lua_pushboolean(L, 1);
        lua_rawseti(L, -2, code);
      }
    lua_setfield(L, -2, "failed");
  }
}

static int agora_failed(long code) { return code == 20; }

void lstatus_open(lua_State *L) {
  push_status_table(L, qc_status_name, qc_status_is_failure);
  lua_setfield(L, -2, "qingcloud");
  push_status_table(L, agora_status_name, agora_failed);
  lua_setfield(L, -2, "agora");
}
